import EVM

/// An `eth_getLogs` / `eth_subscribe("logs")` filter, with geth's matching rules.
public struct LogFilter: Hashable, Sendable {
    /// Which blocks a query covers.
    public enum Range: Hashable, Sendable {
        /// `fromBlock` ... `toBlock`, both inclusive (each defaults to `latest`).
        case blocks(from: DevnetBlockTag, to: DevnetBlockTag)
        /// Exactly one block, by hash (`blockHash`).
        case blockHash(Bytes32)
    }

    /// The blocks to search; ignored by subscriptions, which see every new block.
    public var range: Range
    /// Emitting contracts; empty matches any address.
    public var addresses: [Address]
    /// Topic conditions by position: `nil` (or an empty array) matches anything, otherwise the
    /// log's topic at that position must be one of the values. A log with fewer topics than
    /// conditions never matches, even when the extra conditions are wildcards.
    public var topics: [[Bytes32]?]

    /// A filter; the defaults match every log of the latest block.
    public init(
        range: Range = .blocks(from: .latest, to: .latest), addresses: [Address] = [],
        topics: [[Bytes32]?] = []
    ) {
        self.range = range
        self.addresses = addresses
        self.topics = topics
    }

    /// Whether `log` satisfies the address and topic conditions (not the block range).
    public func matches(_ log: EthLog) -> Bool {
        if !addresses.isEmpty && !addresses.contains(log.address) { return false }
        if topics.count > log.topics.count { return false }
        for (i, condition) in topics.enumerated() {
            guard let condition, !condition.isEmpty else { continue }
            if !condition.contains(log.topics[i]) { return false }
        }
        return true
    }
}

/// Why a log query failed.
public enum LogQueryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `blockHash` names no canonical block.
    case unknownBlock(Bytes32)
    /// `fromBlock` is after `toBlock`.
    case invalidRange(from: UInt64, to: UInt64)
    /// The range spans more blocks than allowed.
    case rangeTooLarge(blocks: UInt64, limit: UInt64)
    /// More logs match than allowed.
    case tooManyResults(limit: Int)

    public var description: String {
        switch self {
        case .unknownBlock(let hash): "unknown block \(hash.hex)"
        case .invalidRange: "invalid block range params"
        case .rangeTooLarge(_, let limit): "block range is too large (maximum \(limit) blocks)"
        case .tooManyResults(let limit): "query returned more than \(limit) results"
        }
    }
}
