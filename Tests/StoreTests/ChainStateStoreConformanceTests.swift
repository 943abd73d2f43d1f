import Chain
import EVM
import Foundation
import Testing

@testable import Store

// MARK: - Builders

/// A log of transaction `tx` in block `block` (hash from `fork`, so a reorg's block differs).
private func chainLog(
    tx: UInt64, block: UInt64, logIndex: UInt64 = 0, fork: UInt64 = 0, data: [UInt8] = [1, 2, 3]
) -> EthLog {
    EthLog(
        address: followed, topics: [Bytes32(1, 2, 3, 4), Bytes32(0, 0, 0, tx), Bytes32(.max, 0, .max, 0)],
        data: data, blockNumber: block, blockHash: blockHash(block, fork: fork),
        transactionHash: Bytes32(0xAA, 0, 0, tx), transactionIndex: tx % 7, logIndex: logIndex)
}

private func blockHash(_ number: UInt64, fork: UInt64 = 0) -> Bytes32 { Bytes32(0xB, fork, 0, number) }

private func block(_ number: UInt64, fork: UInt64 = 0) -> BlockRef {
    BlockRef(number: number, hash: blockHash(number, fork: fork))
}

private func logIdentity(_ log: EthLog) -> LogIdentity { LogIdentity(log: log, occurrence: 0) }

/// A step that delivers `logs` (each with its identity) and moves the cursor to `cursor`.
private func step(_ logs: [EthLog], cursor: BlockRef? = nil, blocks: [BlockRef] = []) -> ChainStep {
    var step = ChainStep()
    step.logs = logs.map { (logIdentity($0), $0) }
    step.cursor = cursor
    step.blocks = blocks
    return step
}

/// Opens stores of one kind on one database (an SQLite file, or a PostgreSQL schema), as a
/// process would after each restart, and closes them all at the end.
final class ChainStoreOpener {
    let kind: StoreKind
    let directory = TemporaryDirectory()
    var configuration: PostgresStoreConfiguration?
    var opened: [PostgresStore] = []
    var memory: InMemoryChainStateStore?

    init(kind: StoreKind) { self.kind = kind }

    /// Another store on the same database.
    func open() async throws -> any ChainStateStore {
        switch kind {
        case .memory:
            // One store for the whole test: reopening it is finding it as it was.
            if memory == nil { memory = InMemoryChainStateStore() }
            return memory!
        case .sqlite:
            return try SQLiteStore(path: directory.database)
        case .postgres:
            let configuration = try self.configuration ?? PostgresTestServer.freshConfiguration()
            self.configuration = configuration
            let store = try await PostgresStore(
                configuration: configuration, logger: PostgresTestServer.logger)
            opened.append(store)
            return store
        }
    }

    func close() async {
        for store in opened { await store.shutdown() }
        if let configuration { await PostgresTestServer.drop(configuration) }
    }
}

/// Runs `body` with a fresh store of `kind` and the opener (for reopening).
private func withChainStore(
    _ kind: StoreKind, _ body: (any ChainStateStore, ChainStoreOpener) async throws -> Void
) async throws {
    let opener = ChainStoreOpener(kind: kind)
    do {
        try await body(try await opener.open(), opener)
    } catch {
        await opener.close()
        throw error
    }
    await opener.close()
}

// MARK: - The contract

@Suite("ChainStateStore conformance: in memory, SQLite and PostgreSQL behave the same")
struct ChainStateStoreConformanceTests {
    @Test(
        "apply stores new logs as pending in order; acknowledged events are no longer pending",
        arguments: StoreKind.tested)
    func newLogsPendingAcknowledge(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, _ in
            #expect(try await store.loadState(stream: "s") == nil)
            #expect(try await store.pendingEvents(stream: "s").isEmpty)
            #expect(try await store.deliveredCount(stream: "s") == 0)
            let logs = [
                chainLog(tx: 1, block: 10), chainLog(tx: 2, block: 10, logIndex: 1),
                chainLog(tx: 3, block: 11, data: []),
            ]
            let events = try await store.apply(step(logs, cursor: block(11)), stream: "s")
            let expected = logs.map { ChainEvent.log($0, logIdentity($0)) }
            #expect(events == expected)
            #expect(try await store.pendingEvents(stream: "s") == expected)
            #expect(try await store.deliveredCount(stream: "s") == 3)

            try await store.acknowledge([expected[1]], stream: "s")
            #expect(try await store.pendingEvents(stream: "s") == [expected[0], expected[2]])
            // Acknowledging twice, or an unknown event, is harmless.
            try await store.acknowledge(
                [expected[1], .log(chainLog(tx: 99, block: 1), logIdentity(chainLog(tx: 99, block: 1)))],
                stream: "s")
            try await store.acknowledge([expected[0], expected[2]], stream: "s")
            #expect(try await store.pendingEvents(stream: "s").isEmpty)
            // Another stream is apart.
            #expect(try await store.deliveredCount(stream: "other") == 0)
            #expect(try await store.loadState(stream: "other") == nil)
        }
    }

    @Test(
        "a log already stored is not delivered again at the same position",
        arguments: StoreKind.tested)
    func duplicates(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, _ in
            let original = chainLog(tx: 1, block: 10)
            let first = try await store.apply(step([original], cursor: block(10)), stream: "s")
            // The same log again, in the same step twice and in a later step: nothing new.
            #expect(try await store.apply(step([original, original]), stream: "s").isEmpty)
            #expect(try await store.apply(step([original]), stream: "s").isEmpty)
            #expect(try await store.deliveredCount(stream: "s") == 1)
            #expect(try await store.pendingEvents(stream: "s") == first)
            try await store.acknowledge(first, stream: "s")
            #expect(try await store.apply(step([original]), stream: "s").isEmpty)
            #expect(try await store.pendingEvents(stream: "s").isEmpty)
        }
    }

    @Test("a moved log is delivered again at its new position", arguments: StoreKind.tested)
    func movedLogDeliveredAgain(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, opener in
            let original = chainLog(tx: 1, block: 10)
            let first = try await store.apply(step([original], cursor: block(10)), stream: "s")
            #expect(first == [.log(original, logIdentity(original))])
            // Re-included in another block at another index (a reorg): same identity, moved, and
            // delivered again at the new position (never retracted).
            var moved = chainLog(tx: 1, block: 12, logIndex: 5, fork: 1)
            moved.transactionIndex = 9
            #expect(logIdentity(moved) == logIdentity(original))
            let again = try await store.apply(step([moved]), stream: "s")
            #expect(again == [.log(moved, logIdentity(moved))])
            #expect(try await store.deliveredCount(stream: "s") == 1)
            let live = try await store.liveIdentities(stream: "s", aboveBlock: 0)
            #expect(live == [logIdentity(original): block(12, fork: 1)])
            // One pending delivery, at the new position.
            #expect(try await store.pendingEvents(stream: "s") == again)
            // At the same position again: nothing new.
            #expect(try await store.apply(step([moved]), stream: "s").isEmpty)

            // The superseded delivery's acknowledgement (handled before the move's) does not
            // settle the move: after a crash it is still delivered, at its new position.
            try await store.acknowledge(first, stream: "s")
            #expect(try await store.pendingEvents(stream: "s") == again)
            let reopened = try await opener.open()
            #expect(try await reopened.pendingEvents(stream: "s") == again)
            try await reopened.acknowledge(again, stream: "s")
            #expect(try await reopened.pendingEvents(stream: "s").isEmpty)

            // Moved once more, after its delivery was acknowledged: delivered again; its
            // acknowledgement settles it, and the sequence goes on after it.
            let last = chainLog(tx: 1, block: 13, logIndex: 2, fork: 2)
            let third = try await reopened.apply(step([last]), stream: "s")
            #expect(third == [.log(last, logIdentity(last))])
            let other = chainLog(tx: 2, block: 13, logIndex: 3, fork: 2)
            let next = try await reopened.apply(step([other], cursor: block(13, fork: 2)), stream: "s")
            #expect(try await reopened.pendingEvents(stream: "s") == third + next)
            try await reopened.acknowledge(third + next, stream: "s")
            #expect(try await reopened.pendingEvents(stream: "s").isEmpty)
            #expect(try await reopened.deliveredCount(stream: "s") == 2)
        }
    }

    @Test(
        "retractions: only of delivered, unretracted logs; a retracted log canonical again is delivered anew",
        arguments: StoreKind.tested)
    func retractions(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, _ in
            let a = chainLog(tx: 1, block: 10)
            let b = chainLog(tx: 2, block: 11)
            let delivered = try await store.apply(step([a, b], cursor: block(11)), stream: "s")
            try await store.acknowledge(delivered, stream: "s")

            var retract = ChainStep()
            retract.retractions = [logIdentity(b), logIdentity(chainLog(tx: 77, block: 11))]
            retract.forgetAbove = 10
            retract.cursor = block(10)
            let retracted = try await store.apply(retract, stream: "s")
            #expect(retracted == [.retracted(b, logIdentity(b))])
            #expect(try await store.pendingEvents(stream: "s") == retracted)
            #expect(
                try await store.liveIdentities(stream: "s", aboveBlock: 0).keys.sorted() == [logIdentity(a)])
            // Retracting again does nothing.
            #expect(try await store.apply(retract, stream: "s").isEmpty)
            try await store.acknowledge(retracted, stream: "s")
            #expect(try await store.pendingEvents(stream: "s").isEmpty)

            // The reorg reverts: b canonical again (in another block) is delivered anew, after the
            // events before it.
            let again = chainLog(tx: 2, block: 12, fork: 2)
            let c = chainLog(tx: 3, block: 12, logIndex: 1, fork: 2)
            var revert = ChainStep()
            revert.logs = [(logIdentity(c), c), (logIdentity(again), again)]
            revert.retractions = [logIdentity(a)]
            let events = try await store.apply(revert, stream: "s")
            #expect(
                events == [
                    .log(c, logIdentity(c)), .log(again, logIdentity(again)), .retracted(a, logIdentity(a)),
                ])
            #expect(try await store.pendingEvents(stream: "s") == events)
            #expect(try await store.deliveredCount(stream: "s") == 3)
            let live = try await store.liveIdentities(stream: "s", aboveBlock: 0)
            #expect(live == [logIdentity(again): block(12, fork: 2), logIdentity(c): block(12, fork: 2)])
        }
    }

    @Test(
        "cursor and blocks: replaced per number, forgetAbove first, pruneBelow drops what is acknowledged",
        arguments: StoreKind.tested)
    func cursorBlocksAndPruning(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, _ in
            _ = try await store.apply(
                step([], cursor: block(12), blocks: (10...12).map { block($0) }), stream: "s")
            #expect(
                try await store.loadState(stream: "s")
                    == ChainState(cursor: block(12), recentBlocks: (10...12).map { block($0) }))

            // A reorg at 11: blocks above 10 forgotten, then the new branch's stored.
            var reorg = ChainStep()
            reorg.forgetAbove = 10
            reorg.blocks = [block(11, fork: 1)]
            reorg.cursor = block(11, fork: 1)
            _ = try await store.apply(reorg, stream: "s")
            #expect(
                try await store.loadState(stream: "s")
                    == ChainState(cursor: block(11, fork: 1), recentBlocks: [block(10), block(11, fork: 1)]))
            // A block stored again for a number replaces the old hash.
            _ = try await store.apply(step([], blocks: [block(11, fork: 2)]), stream: "s")
            #expect(try await store.loadState(stream: "s")?.recentBlocks == [block(10), block(11, fork: 2)])
            #expect(
                try await store.loadState(stream: "s")?.cursor == block(11, fork: 1),
                "the cursor moves only when set")

            // Pruning: acknowledged logs and blocks below the line go; pending ones stay.
            let old = chainLog(tx: 1, block: 10)
            let pending = chainLog(tx: 2, block: 10, logIndex: 1)
            let recent = chainLog(tx: 3, block: 20)
            let events = try await store.apply(step([old, pending, recent], cursor: block(20)), stream: "s")
            try await store.acknowledge([events[0], events[2]], stream: "s")
            var prune = ChainStep()
            prune.pruneBelow = 11
            prune.blocks = [block(20)]
            _ = try await store.apply(prune, stream: "s")
            #expect(try await store.deliveredCount(stream: "s") == 2)
            #expect(try await store.loadState(stream: "s")?.recentBlocks == [block(11, fork: 2), block(20)])
            #expect(try await store.pendingEvents(stream: "s") == [events[1]])
            // A pruned log is not recognised any more (it is outside the reorg window).
            #expect(try await store.apply(step([old]), stream: "s") == [.log(old, logIdentity(old))])
            // liveIdentities is strict about the block.
            #expect(
                try await store.liveIdentities(stream: "s", aboveBlock: 19).keys.sorted() == [
                    logIdentity(recent)
                ])
            #expect(try await store.liveIdentities(stream: "s", aboveBlock: 20).isEmpty)
        }
    }

    @Test("a retracted log is pruned only once its retraction is acknowledged", arguments: StoreKind.tested)
    func pruneRetracted(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, _ in
            let a = chainLog(tx: 1, block: 5)
            try await store.acknowledge(
                try await store.apply(step([a], cursor: block(5)), stream: "s"), stream: "s")
            var retract = ChainStep()
            retract.retractions = [logIdentity(a)]
            let retracted = try await store.apply(retract, stream: "s")
            var prune = ChainStep()
            prune.pruneBelow = 100
            _ = try await store.apply(prune, stream: "s")
            #expect(try await store.deliveredCount(stream: "s") == 1)
            try await store.acknowledge(retracted, stream: "s")
            _ = try await store.apply(prune, stream: "s")
            #expect(try await store.deliveredCount(stream: "s") == 0)
        }
    }

    @Test(
        "the cursor goes back to a fork point; the logs delivered above it stay live until retracted, across a reopen",
        arguments: StoreKind.tested)
    func cursorBackToForkPoint(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, opener in
            let logs = (11...20).map { chainLog(tx: $0, block: $0) }
            let delivered = try await store.apply(
                step(logs, cursor: block(20), blocks: (10...20).map { block($0) }), stream: "s")
            try await store.acknowledge(delivered, stream: "s")

            // The listener's first step of a resync after a reorg at 11: the checkpoint back to
            // the fork point (10), the old branch's blocks forgotten, the new branch's first blocks
            // stored, nothing retracted yet (the orphans are still to be looked for above).
            var rewind = ChainStep()
            rewind.forgetAbove = 10
            rewind.cursor = block(10)
            rewind.blocks = [block(11, fork: 1), block(14, fork: 1)]
            #expect(try await store.apply(rewind, stream: "s").isEmpty)

            let reopened = try await opener.open()
            #expect(
                try await reopened.loadState(stream: "s")
                    == ChainState(
                        cursor: block(10), recentBlocks: [block(10), block(11, fork: 1), block(14, fork: 1)]))
            let live = try await reopened.liveIdentities(stream: "s", aboveBlock: 10)
            #expect(
                live
                    == Dictionary(uniqueKeysWithValues: logs.map { (logIdentity($0), block($0.blockNumber)) })
            )
            #expect(try await reopened.pendingEvents(stream: "s").isEmpty)

            var retract = ChainStep()
            retract.retractions = logs.map(logIdentity)
            retract.cursor = block(21, fork: 1)
            let retracted = try await reopened.apply(retract, stream: "s")
            #expect(retracted == logs.map { .retracted($0, logIdentity($0)) })
            #expect(try await reopened.liveIdentities(stream: "s", aboveBlock: 0).isEmpty)
        }
    }

    @Test(
        "reopening keeps the cursor, the blocks, the pending events and the dedupe set",
        arguments: StoreKind.tested)
    func reopen(kind: StoreKind) async throws {
        try await withChainStore(kind) { store, opener in
            let a = chainLog(tx: 1, block: 10)
            let b = chainLog(tx: 2, block: 11, data: Array(repeating: 0xFF, count: 300))
            let events = try await store.apply(
                step([a, b], cursor: block(11), blocks: [block(10), block(11)]), stream: "s")
            try await store.acknowledge([events[0]], stream: "s")

            let reopened = try await opener.open()
            #expect(
                try await reopened.loadState(stream: "s")
                    == ChainState(cursor: block(11), recentBlocks: [block(10), block(11)]))
            #expect(try await reopened.pendingEvents(stream: "s") == [events[1]])
            #expect(try await reopened.apply(step([a, b]), stream: "s").isEmpty)
            #expect(try await reopened.deliveredCount(stream: "s") == 2)
            // And the sequence goes on after the stored events.
            let c = chainLog(tx: 3, block: 12)
            let more = try await reopened.apply(step([c], cursor: block(12)), stream: "s")
            #expect(try await reopened.pendingEvents(stream: "s") == [events[1]] + more)
        }
    }
}
