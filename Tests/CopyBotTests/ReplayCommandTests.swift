import Chain
import DevNode
import EVM
import Foundation
import Polymarket
import Testing

/// `copybot replay` over the devnet's history, as a user runs it: with `--format jsonl` one line
/// per fill of the wallets asked for, exactly the canonical ones, with the contract's keys; and the
/// paper summary on standard error.
@Suite("copybot replay", .serialized, .timeLimit(.minutes(3)))
struct ReplayCommandTests {
    static let wallets: [Address] = (1...2).map {
        Address(hi: 0x5E91_0000_0000_0000 | UInt64($0), mid: 4, lo: 4)
    }

    @Test("jsonl: exactly the canonical fills of the wallets asked for, each with the contract's keys")
    func jsonl() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: 300, every: .milliseconds(2), seed: 55, following: Self.wallets, share: 0.2)
        configuration.faults.reorgEvery = 40
        configuration.faults.reorgDepth = 1...6
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        try await devnet.run()
        let head = try #require(devnet.chain.block(tag: .latest))
        let filter = DevNode.LogFilter(
            range: .blocks(from: .number(startBlock), to: .number(head.number)),
            addresses: registry.contracts.map(\.address),
            topics: [registry.fillTopics, nil, Self.wallets.map(\.word)])
        let expected = Set(
            try devnet.chain.logs(filter: filter).map { "\($0.transactionHash.hex)/\($0.logIndex)" })

        let result = try await ServiceTestSupport.runCopybot(
            [
                "replay", "--from-block", "\(startBlock)", "--to-block", "\(head.number)", "--http-url",
                devnet.httpURL, "--format", "jsonl",
            ] + Self.wallets.flatMap { ["--wallet", $0.checksummed] }, environment: [:])
        await devnet.shutdown()
        #expect(result.status == 0, "\(result.output.suffix(500))")
        let lines = result.standardOutput.split(separator: "\n")
        var seen = Set<String>()
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            for key in [
                "block", "tx", "log_index", "exchange", "wallet", "side", "token_id", "price", "shares",
                "usdc",
            ] {
                #expect(object[key] != nil, "\(key) missing in \(line)")
            }
            #expect(["BUY", "SELL"].contains(object["side"] as? String ?? ""))
            #expect(Self.wallets.map(\.checksummed).contains(object["wallet"] as? String ?? ""))
            #expect((object["shares"] as? String)?.split(separator: ".").last?.count == 6)
            if let tx = object["tx"] as? String, let index = object["log_index"] as? Int {
                #expect(seen.insert("\(tx)/\(index)").inserted, "a fill listed twice")
            }
        }
        #expect(expected.count > 50, "enough fills (\(expected.count))")
        #expect(
            seen == expected,
            "missing \(expected.subtracting(seen).count), extra \(seen.subtracting(expected).count)")
        // The paper summary goes to standard error, after the lines.
        #expect(result.output.contains("replay: blocks \(startBlock)...\(head.number)"))
    }
}

/// `copybot replay` against a provider that refuses ranges in a dialect copybot has never seen and
/// answers 2% of its requests with 429, 503 or "header not found": it finishes, with exactly the
/// canonical fills; its time against the same replay without faults is printed (see
/// Benchmarks/README.md).
@Suite("copybot replay against a flaky provider", .serialized, .timeLimit(.minutes(10)))
struct ReplayFlakyProviderTests {
    @Test("20,000 blocks, 2% transient errors, a 1,000-block limit worded unfamiliarly: the canonical set")
    func flakyProvider() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: 20_000, every: .microseconds(50), seed: 91, following: ReplayCommandTests.wallets,
            share: 0.2)
        configuration.chain.fillsPerBlock = 1...3
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        try await devnet.run()
        let head = try #require(devnet.chain.block(tag: .latest))
        #expect(head.number - startBlock >= 19_999)
        let filter = DevNode.LogFilter(
            range: .blocks(from: .number(startBlock), to: .number(head.number)),
            addresses: registry.contracts.map(\.address),
            topics: [registry.fillTopics, nil, ReplayCommandTests.wallets.map(\.word)])
        let expected = Set(
            try devnet.chain.logs(filter: filter).map { "\($0.transactionHash.hex)/\($0.logIndex)" })
        let arguments =
            [
                "replay", "--from-block", "\(startBlock)", "--to-block", "\(head.number)", "--http-url",
                devnet.httpURL, "--format", "jsonl",
            ] + ReplayCommandTests.wallets.flatMap { ["--wallet", $0.checksummed] }

        func replay() async throws -> (seconds: Double, fills: Set<String>, status: Int32, output: String) {
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await ServiceTestSupport.runCopybot(arguments, environment: [:])
            let elapsed = clock.now - started
            var fills = Set<String>()
            for line in result.standardOutput.split(separator: "\n") {
                guard
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let tx = object["tx"] as? String, let index = object["log_index"] as? Int
                else { continue }
                #expect(fills.insert("\(tx)/\(index)").inserted, "a fill listed twice")
            }
            let seconds =
                Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return (seconds, fills, result.status, result.output)
        }

        let clean = try await replay()
        devnet.faults.update {
            $0.getLogsMaxRange = 1_000
            $0.rangeErrorDialect = .fixed(.unfamiliar)
            $0.transientErrorRate = 0.02
        }
        let flaky = try await replay()
        await devnet.shutdown()
        #expect(expected.count > 1_000, "enough fills (\(expected.count))")
        #expect(clean.status == 0, "\(clean.output.suffix(500))")
        #expect(flaky.status == 0, "\(flaky.output.suffix(500))")
        #expect(clean.fills == expected)
        #expect(
            flaky.fills == expected,
            "missing \(expected.subtracting(flaky.fills).count), extra \(flaky.fills.subtracting(expected).count)"
        )
        print(
            "replay-throughput: \(head.number - startBlock + 1) blocks, \(expected.count) fills; no faults \(String(format: "%.1f", clean.seconds)) s, flaky provider \(String(format: "%.1f", flaky.seconds)) s (ratio \(String(format: "%.2f", flaky.seconds / clean.seconds)))"
        )
    }
}
