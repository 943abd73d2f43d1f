import EVM
import Synchronization

/// A ``ChainStateStore`` in memory, gone with the process: for scratch work that needs no
/// durability, such as a replay's checkpoint and dedupe set (and tests). It behaves exactly like
/// the SQL stores (one conformance suite runs against all of them), without their cost per log.
public final class InMemoryChainStateStore: ChainStateStore, Sendable {
    struct Entry {
        /// The log as stored (its position moves when a re-included transaction lands elsewhere).
        var log: EthLog
        var deliverySeq: Int64
        var deliveredAcked = false
        var retracted = false
        var retractionSeq: Int64?
        var retractionAcked = false
    }

    struct Stream {
        var cursor: BlockRef?
        var blocks: [UInt64: Bytes32] = [:]
        var logs: [LogIdentity: Entry] = [:]
        /// The last event sequence number given out.
        var seq: Int64 = 0
    }

    private let streams = Mutex<[String: Stream]>([:])

    /// An empty store.
    public init() {}

    /// `body` on the state of `stream`, in place (no copy of its logs).
    private func withStream<T>(_ stream: String, _ body: (inout Stream) -> T) -> T {
        streams.withLock { streams in body(&streams[stream, default: Stream()]) }
    }

    public func loadState(stream: String) async throws -> ChainState? {
        streams.withLock { streams in
            guard let state = streams[stream], let cursor = state.cursor else { return nil }
            return ChainState(
                cursor: cursor,
                recentBlocks: state.blocks.sorted { $0.key < $1.key }.map {
                    BlockRef(number: $0.key, hash: $0.value)
                })
        }
    }

    public func apply(_ step: ChainStep, stream: String) async throws -> [ChainEvent] {
        withStream(stream) { state in
            var events: [ChainEvent] = []
            if let forget = step.forgetAbove {
                state.blocks = state.blocks.filter { $0.key <= forget }
            }
            for (identity, log) in step.logs {
                var stored = log
                stored.removed = false
                if state.logs[identity] != nil {
                    // Already delivered: delivered again only if it moved or was retracted.
                    let seq = state.seq + 1
                    let delivered = Self.move(&state.logs[identity]!, to: log, seq: seq)
                    if delivered {
                        state.seq = seq
                        events.append(.log(log, identity))
                    }
                    continue
                }
                state.seq += 1
                state.logs[identity] = Entry(log: stored, deliverySeq: state.seq)
                events.append(.log(log, identity))
            }
            for identity in step.retractions {
                guard var entry = state.logs[identity], !entry.retracted else { continue }
                state.seq += 1
                entry.retracted = true
                entry.retractionSeq = state.seq
                state.logs[identity] = entry
                events.append(.retracted(entry.log, identity))
            }
            for block in step.blocks { state.blocks[block.number] = block.hash }
            if let cursor = step.cursor { state.cursor = cursor }
            if let below = step.pruneBelow {
                state.logs = state.logs.filter { _, entry in
                    entry.log.blockNumber >= below || !entry.deliveredAcked
                        || (entry.retracted && !entry.retractionAcked)
                }
                state.blocks = state.blocks.filter { $0.key >= below }
            }
            return events
        }
    }

    /// Moves a stored log to `log`'s position. If it was retracted (it is canonical again) or its
    /// position changed (its transaction was re-included elsewhere), it is delivered anew with
    /// `seq`, at that position (returns true); at the same position, nothing changes.
    private static func move(_ entry: inout Entry, to log: EthLog, seq: Int64) -> Bool {
        let moved = !entry.log.isAtPosition(of: log)
        entry.log.blockNumber = log.blockNumber
        entry.log.blockHash = log.blockHash
        entry.log.transactionIndex = log.transactionIndex
        entry.log.logIndex = log.logIndex
        guard entry.retracted || moved else { return false }
        entry.retracted = false
        entry.retractionSeq = nil
        entry.retractionAcked = false
        entry.deliveredAcked = false
        entry.deliverySeq = seq
        return true
    }

    public func pendingEvents(stream: String) async throws -> [ChainEvent] {
        streams.withLock { streams in
            var pending: [(Int64, ChainEvent)] = []
            for (identity, entry) in streams[stream]?.logs ?? [:] {
                if !entry.deliveredAcked { pending.append((entry.deliverySeq, .log(entry.log, identity))) }
                if entry.retracted, !entry.retractionAcked, let seq = entry.retractionSeq {
                    pending.append((seq, .retracted(entry.log, identity)))
                }
            }
            return pending.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func acknowledge(_ events: [ChainEvent], stream: String) async throws {
        withStream(stream) { state in
            for event in events {
                switch event {
                case .log(let log, let identity):
                    // Only the delivery at the stored position: one superseded by a move is not it.
                    if state.logs[identity]?.log.isAtPosition(of: log) == true {
                        state.logs[identity]?.deliveredAcked = true
                    }
                case .retracted(_, let identity): state.logs[identity]?.retractionAcked = true
                }
            }
        }
    }

    public func liveIdentities(stream: String, aboveBlock: UInt64) async throws -> [LogIdentity: BlockRef] {
        streams.withLock { streams in
            var result: [LogIdentity: BlockRef] = [:]
            for (identity, entry) in streams[stream]?.logs ?? [:]
            where entry.log.blockNumber > aboveBlock && !entry.retracted {
                result[identity] = BlockRef(number: entry.log.blockNumber, hash: entry.log.blockHash)
            }
            return result
        }
    }

    public func deliveredCount(stream: String) async throws -> Int {
        streams.withLock { $0[stream]?.logs.count ?? 0 }
    }
}
