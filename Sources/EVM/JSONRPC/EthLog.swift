/// One Ethereum event log as a JSON-RPC node reports it (`eth_getLogs`, `eth_subscribe("logs")`).
///
/// Only mined logs are represented: a log without `blockNumber`, `blockHash`, `logIndex`,
/// `transactionHash` or `transactionIndex` (a pending log, where nodes send `null` or omit
/// them) is rejected by ``EthLogParser``, because copying a trade needs its exact on-chain position.
public struct EthLog: Hashable, Sendable {
    /// The contract that emitted the log.
    public var address: Address
    /// Zero to four topics; topic 0 is the event signature hash unless the event is anonymous.
    public var topics: [Bytes32]
    /// The ABI-encoded non-indexed parameters.
    public var data: [UInt8]
    /// The block that includes the log.
    public var blockNumber: UInt64
    /// The hash of that block.
    public var blockHash: Bytes32
    /// The transaction that emitted the log.
    public var transactionHash: Bytes32
    /// The transaction's position in its block.
    public var transactionIndex: UInt64
    /// The log's position in its block.
    public var logIndex: UInt64
    /// True when a reorg removed the log from the canonical chain (`false` when absent).
    public var removed: Bool

    /// Creates a log from its fields.
    public init(
        address: Address, topics: [Bytes32], data: [UInt8], blockNumber: UInt64, blockHash: Bytes32,
        transactionHash: Bytes32, transactionIndex: UInt64, logIndex: UInt64, removed: Bool = false
    ) {
        self.address = address
        self.topics = topics
        self.data = data
        self.blockNumber = blockNumber
        self.blockHash = blockHash
        self.transactionHash = transactionHash
        self.transactionIndex = transactionIndex
        self.logIndex = logIndex
        self.removed = removed
    }
}
