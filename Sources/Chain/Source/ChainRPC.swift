import EVM

/// What a node pushes on a live subscription.
public enum ChainNotification: Hashable, Sendable {
    /// A new head (`newHeads`).
    case head(BlockHeader)
    /// A log matching the subscription's filter; `removed` is true when a reorg dropped it.
    case log(EthLog)
}

/// A live `logs` + `newHeads` subscription on one connection.
public protocol ChainSubscription: Sendable {
    /// The next notification, or nil if none came within `timeout`. Throws when the connection or
    /// the subscription ended.
    func next(timeout: Duration) async throws -> ChainNotification?
    /// The next notification if it has arrived already, without waiting; nil if none has. The
    /// listener takes a block's logs that arrived together in one store step.
    func nextIfArrived() -> ChainNotification?
    /// Unsubscribes and releases the subscription.
    func cancel() async
}

/// Why a node call failed, as the listener needs to tell the cases apart.
public enum ChainRPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The node answered with a JSON-RPC error.
    case server(code: Int, message: String)
    /// The answer could not be understood.
    case malformed(String)
    /// No usable answer in time, or the connection is down.
    case unavailable(String)

    public var description: String {
        switch self {
        case .server(let code, let message): "node error \(code): \(message)"
        case .malformed(let m): "malformed node answer: \(m)"
        case .unavailable(let m): "node unavailable: \(m)"
        }
    }
}

/// The node calls the ``EventSource`` makes. Implemented over JSON-RPC (WebSocket for the
/// subscription, HTTP for queries) in production and by stand-ins in tests.
public protocol ChainRPC: Sendable {
    /// `eth_blockNumber`.
    func headNumber() async throws -> UInt64
    /// `eth_getBlockByNumber(number, false)`; nil when the node has no such block yet.
    func header(number: UInt64) async throws -> BlockHeader?
    /// `eth_getLogs` over `[from, to]`. Providers refuse ranges or result sizes over their limits
    /// in many dialects; the ``EventSource`` halves a range on any failure.
    func logs(_ filter: LogFilter, from: UInt64, to: UInt64) async throws -> [EthLog]
    /// `eth_getLogs` of the one block with this hash (EIP-234). Throws when the node does not
    /// have that block: the answer can only come from a node that has it.
    func logs(_ filter: LogFilter, blockHash: Bytes32) async throws -> [EthLog]
    /// `eth_subscribe("logs", filter)` and `eth_subscribe("newHeads")` on one connection.
    func subscribe(_ filter: LogFilter) async throws -> any ChainSubscription
}
