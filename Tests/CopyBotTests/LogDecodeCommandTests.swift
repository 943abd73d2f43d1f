import CopyBot
import EVM
import Foundation
import Polymarket
import Testing

@Suite("copybot abi decode")
struct LogDecodeCommandTests {
    static let root = ServiceTestSupport.root

    static func registry() throws -> ExchangeRegistry { try ServiceTestSupport.registry() }

    /// The first fixture log of each kind, as JSON text.
    static func fixtureLines() throws -> (trade: String, matched: String) {
        let data = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/orderfilled_logs.json"))
        let cases =
            (try JSONSerialization.jsonObject(with: data) as! [String: Any])["cases"] as! [[String: Any]]
        func line(_ kind: String) throws -> String {
            let found = cases.first { ($0["expected"] as! [String: Any])["kind"] as! String == kind }!
            return String(data: try JSONSerialization.data(withJSONObject: found["log"]!), encoding: .utf8)!
        }
        return (try line("trade"), try line("ignored"))
    }

    @Test(
        "log objects and eth_subscription frames decode; bad lines report their number and decoding goes on")
    func mixedInput() throws {
        let command = LogDecodeCommand(registry: try Self.registry())
        let (trade, matched) = try Self.fixtureLines()
        let frame =
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0xabc\",\"result\":\(trade)}}"
        let input = [trade, "not json", "", frame, matched, "{\"address\":\"0x12\"}"]
        var output: [String] = []
        var errors: [String] = []
        let summary = command.run(lines: input, output: { output.append($0) }, errors: { errors.append($0) })
        #expect(summary == LogDecodeCommand.Summary(lines: 5, trades: 2, events: 1, errors: 2))
        #expect(output.count == 3)
        #expect(errors.count == 2)
        #expect(errors[0].hasPrefix("line 2: "))
        #expect(errors[1].hasPrefix("line 6: "))
        let first = try JSONSerialization.jsonObject(with: Data(output[0].utf8)) as! [String: Any]
        #expect(first["kind"] as? String == "trade")
        #expect(first["line"] as? Int == 1)
        for key in [
            "block", "tx", "log_index", "exchange", "wallet", "side", "token_id", "price", "shares", "usdc",
            "args",
        ] {
            #expect(first[key] != nil, "trade line has \(key)")
        }
        #expect(output[1].replacingOccurrences(of: "\"line\":4", with: "\"line\":1") == output[0])
        let third = try JSONSerialization.jsonObject(with: Data(output[2].utf8)) as! [String: Any]
        #expect(third["kind"] as? String == "event")
        #expect(third["event"] as? String == "OrdersMatched")
    }

    @Test("abi list and topics show every exchange, event and fill topic0")
    func listAndTopics() throws {
        let report = ABIReport(registry: try Self.registry())
        let list = report.list()
        for name in ["CTFExchangeV1", "NegRiskCTFExchangeV1", "CTFExchangeV2", "NegRiskCTFExchangeV2"] {
            #expect(list.contains(name))
        }
        #expect(
            list.contains(
                "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee  OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,bytes32)  [fills → trades]"
            ))
        #expect(list.contains("OrdersMatched(bytes32,address,uint256,uint256,uint256,uint256)"))
        let topics = report.topics().split(separator: "\n")
        #expect(topics.count == 2)
        #expect(
            topics.contains {
                $0.hasPrefix("0xd0a08e8c493f9c94f29311604c9de1b4e8c8d4c06bd0c789af57f2d65bfec0f6")
            })
    }

    @Test("the copybot binary writes trades to stdout, errors to stderr, and exits 1 after a bad line")
    func binary() throws {
        let executable = Bundle.main.bundleURL.appendingPathComponent("copybot")
        try #require(
            FileManager.default.isExecutableFile(atPath: executable.path),
            "built copybot at \(executable.path)")
        let (trade, _) = try Self.fixtureLines()
        let process = Process()
        process.executableURL = executable
        process.arguments = ["abi", "decode"]
        process.currentDirectoryURL = Self.root
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data((trade + "\n{\n" + trade + "\n").utf8))
        try stdin.fileHandleForWriting.close()
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(out.split(separator: "\n").count == 2)
        #expect(err.hasPrefix("error: line 2: "))
    }
}
