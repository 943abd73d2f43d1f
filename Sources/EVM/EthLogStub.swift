// TEMPORARY until the parser branch lands.
public struct EthLog: Hashable, Sendable {
    public var address: Address
    public var topics: [Bytes32]
    public var data: [UInt8]
    public var blockNumber: UInt64
    public var blockHash: Bytes32
    public var transactionHash: Bytes32
    public var transactionIndex: UInt64
    public var logIndex: UInt64
    public var removed: Bool
    public init(address: Address, topics: [Bytes32], data: [UInt8], blockNumber: UInt64, blockHash: Bytes32, transactionHash: Bytes32, transactionIndex: UInt64, logIndex: UInt64, removed: Bool = false) {
        self.address = address; self.topics = topics; self.data = data; self.blockNumber = blockNumber; self.blockHash = blockHash; self.transactionHash = transactionHash; self.transactionIndex = transactionIndex; self.logIndex = logIndex; self.removed = removed
    }
}
import Foundation
public enum EthLogParser {
    public struct Failure: Error, CustomStringConvertible { public var description: String }
    public static func parse(line: String) throws -> EthLog {
        guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { throw Failure(description: "not an object") }
        var log = obj
        if let params = obj["params"] as? [String: Any], let r = params["result"] as? [String: Any] { log = r }
        func s(_ k: String) throws -> String { guard let v = log[k] as? String else { throw Failure(description: "missing \(k)") }; return v }
        func q(_ k: String) throws -> UInt64 { guard let v = UInt64(try s(k).dropFirst(2), radix: 16) else { throw Failure(description: "bad \(k)") }; return v }
        return EthLog(address: try Address(try s("address")), topics: try (log["topics"] as? [String] ?? []).map { try Bytes32(hex: $0) }, data: try Hex.decode(try s("data")), blockNumber: try q("blockNumber"), blockHash: try Bytes32(hex: try s("blockHash")), transactionHash: try Bytes32(hex: try s("transactionHash")), transactionIndex: try q("transactionIndex"), logIndex: try q("logIndex"), removed: log["removed"] as? Bool ?? false)
    }
}
