import DevNode
import EVM
import Foundation
import Polymarket
import Synchronization

/// Paths into the repository, for tests that read its real configuration.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The registry built from `Config/contracts.polygon.yaml` and `abi/`.
    static func registry() throws -> ExchangeRegistry {
        try ExchangeRegistry.load(
            contractsFile: path("Config/contracts.polygon.yaml"), abiDirectory: path("abi"))
    }
}

/// Wallets the tests follow.
let followed: [Address] = (1...5).map { i in
    Address(hi: 0xF011_0000_0000_0000 | UInt64(i), mid: 0, lo: UInt32(i))
}

/// A chain with the real registry.
func makeChain(
    seed: UInt64 = 42, configure: (inout SimulatedChainConfiguration) -> Void = { _ in }
) throws
    -> SimulatedChain
{
    var configuration = SimulatedChainConfiguration(seed: seed, followedWallets: followed)
    configure(&configuration)
    return try SimulatedChain(registry: try Repository.registry(), configuration: configuration)
}

/// A connection that records every frame pushed to it.
final class RecordingConnection: DevnetConnection {
    private let frames = Mutex<[String]>([])

    func send(_ text: String) -> Bool {
        frames.withLock { $0.append(text) }
        return true
    }

    /// The frames so far.
    var all: [String] { frames.withLock { $0 } }

    /// Returns and forgets the frames so far.
    func take() -> [String] {
        frames.withLock { f in
            defer { f = [] }; return f
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

/// Parses a JSON object (or fails the test).
func object(_ text: String) throws -> [String: Any] {
    guard let value = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw TestFailure(description: "not a JSON object: \(text.prefix(200))")
    }
    return value
}

/// Parses a JSON array (or fails the test).
func array(_ text: String) throws -> [[String: Any]] {
    guard let value = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
        throw TestFailure(description: "not a JSON array of objects: \(text.prefix(200))")
    }
    return value
}

/// A request text.
func request(_ method: String, _ params: String = "[]", id: Int = 1) -> String {
    "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\",\"params\":\(params)}"
}

/// The `error.code` of a response, if it is an error.
func errorCode(_ response: String?) throws -> Int? {
    guard let response else { return nil }
    return (try object(response)["error"] as? [String: Any])?["code"] as? Int
}

/// The log JSON objects of an `eth_getLogs` response, parsed back into logs.
func parseLogs(_ response: String?) throws -> [EthLog] {
    let result = try object(response ?? "")["result"]
    guard let list = result as? [Any] else {
        throw TestFailure(description: "no result array in \(response ?? "nil")")
    }
    return try list.map { item in
        let data = try JSONSerialization.data(withJSONObject: item)
        return try EthLogParser.parse(line: String(decoding: data, as: UTF8.self))
    }
}

/// `"0x…"` of a 32-byte word, quoted, for filters.
func quoted(_ word: Bytes32) -> String { "\"\(word.hex)\"" }
