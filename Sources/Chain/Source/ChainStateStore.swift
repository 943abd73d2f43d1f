import EVM

/// What the listener delivers: each canonical log of the filter once, and a retraction for each
/// delivered log that a reorg dropped for good.
public enum ChainEvent: Hashable, Sendable {
    /// A log, the first time it is seen on the canonical chain; again when a reorg put its
    /// transaction back on the canonical chain after a retraction, or moved it to another position
    /// (block, log index) without one. A consumer recognises the identity and takes the position
    /// as the log's final one; a delivery is never repeated at the same position.
    case log(EthLog, LogIdentity)
    /// A delivered log whose transaction a reorg removed and no canonical block re-included.
    case retracted(EthLog, LogIdentity)

    /// The identity of the log the event is about.
    public var identity: LogIdentity {
        switch self {
        case .log(_, let id), .retracted(_, let id): id
        }
    }

    /// The log the event is about.
    public var log: EthLog {
        switch self {
        case .log(let log, _), .retracted(let log, _): log
        }
    }
}

/// The listener's durable state as loaded at start.
public struct ChainState: Hashable, Sendable {
    /// The last block whose logs are all recorded.
    public var cursor: BlockRef
    /// Hashes of recent canonical blocks (the reorg window), ascending by number.
    public var recentBlocks: [BlockRef]

    /// Creates a state.
    public init(cursor: BlockRef, recentBlocks: [BlockRef]) {
        self.cursor = cursor
        self.recentBlocks = recentBlocks
    }
}

/// One atomic step of the listener: everything in it is stored together or not at all.
public struct ChainStep: Sendable {
    /// Logs now canonical; those whose identity is already stored are not delivered again at the
    /// same position. One whose position changed (a transaction re-included in another block after
    /// a reorg) or that had been retracted is moved there and delivered again, at its new position.
    public var logs: [(identity: LogIdentity, log: EthLog)] = []
    /// Identities of stored logs that a reorg removed and the new branch does not hold.
    public var retractions: [LogIdentity] = []
    /// Canonical block hashes to remember (replacing any stored for the same numbers); blocks
    /// above `forgetAbove` are forgotten first.
    public var blocks: [BlockRef] = []
    /// Forget remembered blocks above this number (the fork point of a reorg).
    public var forgetAbove: UInt64? = nil
    /// The new cursor, if it moves.
    public var cursor: BlockRef? = nil
    /// Drop identities and block hashes of blocks below this number (outside the reorg window).
    public var pruneBelow: UInt64? = nil

    /// Creates an empty step.
    public init() {}
}

/// A delivery or retraction that is stored but not yet acknowledged by the consumer.
public struct PendingChainEvent: Hashable, Sendable {
    /// The event to hand to the consumer.
    public var event: ChainEvent

    /// Creates a pending event.
    public init(event: ChainEvent) { self.event = event }
}

/// The durable store behind the listener: its checkpoint, the recent block hashes and the inbox
/// of delivered log identities (the dedupe set, bounded by the reorg window).
///
/// Exactly-once works like an inbox: ``apply(_:stream:)`` stores new logs as pending events in the
/// same transaction that moves the cursor; the consumer acknowledges each event once its own
/// effect is durable; after a crash, ``pendingEvents(stream:)`` returns what was stored but not
/// acknowledged, so nothing is lost, and the identity keeps anything from being delivered twice at
/// one position (a log is delivered again only where a reorg moved it, or when it is back after a
/// retraction).
public protocol ChainStateStore: Sendable {
    /// The stored state of `stream`, or nil on first start.
    func loadState(stream: String) async throws -> ChainState?
    /// Applies `step` atomically. Returns the events it created (deliveries in the order of
    /// `step.logs`: new logs, moved ones and retracted ones back; then retractions of logs that had
    /// been delivered), already stored as pending.
    func apply(_ step: ChainStep, stream: String) async throws -> [ChainEvent]
    /// Events stored but not acknowledged, in chain order.
    func pendingEvents(stream: String) async throws -> [ChainEvent]
    /// Marks events as handled by the consumer. A log's delivery is acknowledged only at the
    /// position the store holds for it: a delivery superseded by a move (the log delivered again
    /// elsewhere) stays pending until its delivery at the new position is acknowledged.
    func acknowledge(_ events: [ChainEvent], stream: String) async throws
    /// Delivered, unretracted logs in blocks above `aboveBlock`, with the block each is in.
    func liveIdentities(stream: String, aboveBlock: UInt64) async throws -> [LogIdentity: BlockRef]
    /// How many log identities are stored as delivered (tests and status).
    func deliveredCount(stream: String) async throws -> Int
}

extension EthLog {
    /// Whether `other` is at this log's position: the same block (number and hash), transaction
    /// index and log index.
    public func isAtPosition(of other: EthLog) -> Bool {
        blockNumber == other.blockNumber && blockHash == other.blockHash
            && transactionIndex == other.transactionIndex && logIndex == other.logIndex
    }
}
