import EVM

/// A block by number and hash: the unit of the durable checkpoint and of fork detection.
public struct BlockRef: Hashable, Sendable, CustomStringConvertible {
    public var number: UInt64
    public var hash: Bytes32

    /// Creates a reference.
    public init(number: UInt64, hash: Bytes32) {
        self.number = number
        self.hash = hash
    }

    public var description: String { "#\(number) \(hash.hex.prefix(10))…" }
}

/// The header fields copybot reads from `newHeads` and `eth_getBlockByNumber`.
public struct BlockHeader: Hashable, Sendable {
    public var number: UInt64
    public var hash: Bytes32
    public var parentHash: Bytes32
    /// Seconds since 1970.
    public var timestamp: UInt64

    /// Creates a header.
    public init(number: UInt64, hash: Bytes32, parentHash: Bytes32, timestamp: UInt64) {
        self.number = number
        self.hash = hash
        self.parentHash = parentHash
        self.timestamp = timestamp
    }

    /// This block as a reference.
    public var ref: BlockRef { BlockRef(number: number, hash: hash) }
}

/// An `eth_getLogs` / `eth_subscribe("logs")` filter: contract addresses and positional topics,
/// each position a set of alternatives or nil for any.
public struct LogFilter: Hashable, Sendable {
    public var addresses: [Address]
    public var topics: [[Bytes32]?]

    /// Creates a filter.
    public init(addresses: [Address], topics: [[Bytes32]?]) {
        self.addresses = addresses
        self.topics = topics
    }

    /// Whether `log` passes the filter (what a node would do).
    public func matches(_ log: EthLog) -> Bool {
        if !addresses.isEmpty, !addresses.contains(log.address) { return false }
        for (i, alternatives) in topics.enumerated() {
            guard let alternatives, !alternatives.isEmpty else { continue }
            guard i < log.topics.count, alternatives.contains(log.topics[i]) else { return false }
        }
        return true
    }
}

/// The identity of a log that survives its transaction being re-included in another block.
///
/// A reorg can put the same transaction in a different block at a different `logIndex`, so
/// neither the block nor the log index may be part of the identity. What a re-included transaction
/// keeps is its hash and the content of its logs (address, topics, data) in order, so the identity
/// is keccak256(transactionHash ‖ address ‖ topics ‖ data ‖ occurrence), where `occurrence`
/// counts earlier logs of the same transaction with byte-identical content (0 almost always; it
/// keeps two identical fills of one order in one transaction apart).
public struct LogIdentity: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var hash: Bytes32

    /// Wraps a stored identity.
    public init(hash: Bytes32) { self.hash = hash }

    /// Computes the identity of `log`, the `occurrence`-th log with its content in its transaction.
    public init(log: EthLog, occurrence: Int) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 + 20 + 32 * log.topics.count + log.data.count + 8)
        bytes += log.transactionHash.bytes
        bytes += log.address.bytes
        for topic in log.topics { bytes += topic.bytes }
        bytes += log.data
        withUnsafeBytes(of: UInt64(occurrence).bigEndian) { bytes += $0 }
        hash = Keccak256.hash(bytes)
    }

    /// Identities for logs in chain order, counting identical content within a transaction.
    public static func identify(_ logs: [EthLog]) -> [LogIdentity] {
        var seen: [Bytes32: Int] = [:]
        return logs.map { log in
            let base = LogIdentity(log: log, occurrence: 0)
            let occurrence = seen[base.hash, default: 0]
            seen[base.hash] = occurrence + 1
            return occurrence == 0 ? base : LogIdentity(log: log, occurrence: occurrence)
        }
    }

    public var description: String { hash.hex }

    public static func < (lhs: LogIdentity, rhs: LogIdentity) -> Bool { lhs.hash < rhs.hash }
}
