import Chain
import EVM
import Foundation
import Logging
import Store
import Synchronization
import Testing

/// A temporary SQLite store, removed at the end of the test.
final class TemporaryStore {
    let directory: URL
    let store: SQLiteStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-test-\(UUID().uuidString)")
        store = try SQLiteStore(path: directory.appendingPathComponent("copybot.sqlite").path)
    }

    /// Another connection to the same file, as after a restart.
    func reopen() throws -> SQLiteStore {
        try SQLiteStore(path: directory.appendingPathComponent("copybot.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// Collects a source's events, acknowledging each, until a condition holds.
actor Collector {
    private(set) var delivered: [EthLog] = []
    private(set) var retracted: [EthLog] = []
    private(set) var identities: [LogIdentity] = []

    func consume(
        _ source: EventSource, until done: @Sendable (Collector) async -> Bool,
        timeout: Duration = .seconds(60)
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while await !done(self) {
            guard clock.now < deadline else { throw TestTimeout() }
            guard let event = try await source.events.next(timeout: .milliseconds(50)) else { continue }
            switch event {
            case .log(let log, let id):
                delivered.append(log)
                identities.append(id)
            case .retracted(let log, _): retracted.append(log)
            }
            try await source.acknowledge([event])
        }
    }

    var deliveredTransactions: [Bytes32] { delivered.map(\.transactionHash) }
}

struct TestTimeout: Error {}

@Suite("EventSource against an in-memory chain and the SQLite store")
struct EventSourceTests {
    static let logger = Logger(label: "test")

    func configuration(
        _ chain: FakeChain, start: EventSourceConfiguration.Start = .block(1)
    ) -> EventSourceConfiguration {
        var configuration = EventSourceConfiguration(stream: "test", filter: chain.filter)
        configuration.start = start
        configuration.initialRange = 8
        configuration.verifyEvery = 2
        configuration.staleAfter = .milliseconds(500)
        configuration.initialBackoff = .milliseconds(10)
        configuration.maximumBackoff = .milliseconds(50)
        return configuration
    }

    /// Runs `body` with a source running in the background.
    func withSource(
        _ chain: FakeChain, store: any ChainStateStore, configuration: EventSourceConfiguration,
        announce: (@Sendable (EthLog) -> Void)? = nil, _ body: (EventSource) async throws -> Void
    ) async throws {
        let source = EventSource(
            rpc: chain, store: store, configuration: configuration, logger: Self.logger, announce: announce)
        let task = Task { try await source.run() }
        defer { task.cancel() }
        try await body(source)
        task.cancel()
        _ = await task.result
    }

    @Test("backfill from a start block, then live: every log once, in chain order")
    func backfillThenLive() async throws {
        let chain = FakeChain(genesisBlocks: 1)
        for i in 0..<60 { chain.mine(logs: i % 3) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        try await withSource(chain, store: temporary.store, configuration: configuration(chain)) { source in
            try await collector.consume(source) { await $0.delivered.count == chain.canonicalLogs.count }
            for _ in 0..<20 { chain.mine(logs: 2) }
            try await collector.consume(source) { await $0.delivered.count == chain.canonicalLogs.count }
        }
        let delivered = await collector.delivered
        #expect(delivered.map(\.transactionHash) == chain.canonicalLogs.map(\.transactionHash))
        #expect(try await temporary.store.deliveredCount(stream: "test") == delivered.count)
    }

    @Test("live logs are announced on arrival, and a due verification waits until the block's logs are in")
    func announcedBeforeVerification() async throws {
        let chain = FakeChain()
        chain.headsFirst = true
        chain.duplicate = true  // each log notified twice, announced once
        for _ in 0..<5 { chain.mine(logs: 1) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        try await withSource(
            chain, store: temporary.store, configuration: configuration(chain),
            announce: { chain.note("announce \($0.blockNumber)") }
        ) { source in
            try await collector.consume(source) { await $0.delivered.count == 5 }
            while !source.status.live { try await Task.sleep(for: .milliseconds(5)) }
            chain.timeline = []
            for n in 1...8 {
                chain.mine(logs: 1)
                try await collector.consume(source) { await $0.delivered.count == 5 + n }
            }
            // The last verification runs once the subscription is quiet.
            while !chain.timeline.contains(where: { $0.hasPrefix("getLogs") }) {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let timeline = chain.timeline
        let announced = timeline.compactMap { $0.hasPrefix("announce ") ? UInt64($0.dropFirst(9)) : nil }
        #expect(announced == Array(6...13), "each live log announced once, in order")
        // With `verifyEvery` 2, heads make verifications due; the header of block N is followed by
        // N's log, which must not wait behind the verification up to N - 1 that header made due.
        let verifications = timeline.enumerated().compactMap { index, entry -> (Int, UInt64)? in
            guard entry.hasPrefix("getLogs "),
                let to = entry.split(separator: ".").last.flatMap({ UInt64($0) })
            else { return nil }
            return (index, to)
        }
        #expect(!verifications.isEmpty)
        for (index, to) in verifications where to < 13 {
            let next = timeline.firstIndex(of: "announce \(to + 1)")
            #expect(
                next.map { $0 < index } == true, "block \(to + 1)'s log before the verification up to \(to)")
        }
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
    }

    @Test("a block's logs that arrive together are stored in one step, duplicates dropped")
    func blockLogsInOneStep() async throws {
        let chain = FakeChain()
        chain.headsFirst = true
        for _ in 0..<3 { chain.mine(logs: 1) }
        let temporary = try TemporaryStore()
        let store = StepRecordingStore(temporary.store)
        var configuration = configuration(chain)
        configuration.verifyEvery = 1_000  // no eth_getLogs verification steps among the live ones
        let collector = Collector()
        try await withSource(chain, store: store, configuration: configuration) { source in
            try await collector.consume(source) { await $0.delivered.count == 3 }
            while !source.status.live { try await Task.sleep(for: .milliseconds(5)) }
            store.steps.withLock { $0 = [] }
            // Block 4's step is held in the store while blocks 5 to 8 arrive, so that each of
            // them is wholly there when the source reads its first log.
            store.hold.withLock { $0 = .waiting(block: 4) }
            chain.mine(logs: 1)
            while store.hold.withLock({ $0 }) != .holding { try await Task.sleep(for: .milliseconds(2)) }
            chain.duplicate = true  // each log notified twice
            for _ in 0..<4 { chain.mine(logs: 3) }
            store.hold.withLock { $0 = .released }
            try await collector.consume(source) { await $0.delivered.count == 16 }
        }
        let steps = store.steps.withLock { $0 }.filter { !$0.isEmpty }
        #expect(steps == [[4]] + (5...8).map { [UInt64](repeating: $0, count: 3) })
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
    }

    @Test("a restart resumes from the checkpoint and delivers nothing twice")
    func restart() async throws {
        let chain = FakeChain()
        for _ in 0..<30 { chain.mine(logs: 2) }
        let temporary = try TemporaryStore()
        let first = Collector()
        try await withSource(chain, store: temporary.store, configuration: configuration(chain)) { source in
            try await first.consume(source) { await $0.delivered.count == 60 }
        }
        for _ in 0..<10 { chain.mine(logs: 3) }
        let second = Collector()
        try await withSource(chain, store: try temporary.reopen(), configuration: configuration(chain)) {
            source in
            try await second.consume(source) { await $0.delivered.count == 30 }
            try await Task.sleep(for: .milliseconds(300))
            try await second.consume(source) { _ in true }
        }
        let all = await first.deliveredTransactions + second.deliveredTransactions
        #expect(all == chain.canonicalLogs.map(\.transactionHash))
        #expect(Set(all).count == all.count)
    }

    @Test("provider range limits split the range; nothing is skipped")
    func rangeLimits() async throws {
        let chain = FakeChain()
        for _ in 0..<100 { chain.mine(logs: 1) }
        chain.maxRange = 3
        let temporary = try TemporaryStore()
        let collector = Collector()
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration(chain), logger: Self.logger)
        let task = Task { try await source.run() }
        try await collector.consume(source) { await $0.delivered.count == 100 }
        task.cancel()
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
        #expect(source.status.rangeSplits > 0)
    }

    @Test(
        "a reorg retracts dropped logs and does not deliver re-included ones twice at one position (a moved one again at its new position)"
    )
    func reorgReinclusion() async throws {
        let chain = FakeChain()
        for _ in 0..<20 { chain.mine(logs: 2) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        try await withSource(chain, store: temporary.store, configuration: configuration(chain)) { source in
            try await collector.consume(source) { await $0.delivered.count == 40 }
            // Live blocks, then a 6-deep reorg: 4 of the 12 orphaned transactions come back.
            for _ in 0..<6 { chain.mine(logs: 2) }
            try await collector.consume(source) { await $0.delivered.count == 52 }
            let (orphaned, dropped) = chain.reorg(depth: 6, reincluded: 4, extra: 2)
            #expect(orphaned.count == 12)
            let canonical = Set(chain.canonicalLogs.map(\.transactionHash))
            try await collector.consume(source) { c in
                let delivered = Set(await c.deliveredTransactions)
                let retracted = await c.retracted.count
                // At least: a retraction handed out twice is caught below, not by a timeout here.
                return delivered.isSuperset(of: canonical) && retracted >= dropped.count
            }
            try await Task.sleep(for: .milliseconds(200))
            try await collector.consume(source) { _ in true }
        }
        // A re-included transaction may be delivered again where it moved, never twice at one
        // position, and its last delivery is where the chain has it.
        let deliveries = await collector.delivered
        let positions = deliveries.map { "\($0.transactionHash.hex)@\($0.blockHash.hex):\($0.logIndex)" }
        #expect(Set(positions).count == positions.count, "no transaction delivered twice at one position")
        let lastDelivery = Dictionary(deliveries.map { ($0.transactionHash, $0) }) { _, last in last }
        for log in chain.canonicalLogs {
            #expect(lastDelivery[log.transactionHash]?.isAtPosition(of: log) == true)
        }
        let delivered = deliveries.map(\.transactionHash)
        let retractions = await collector.retracted.map(\.transactionHash)
        #expect(Set(retractions).count == retractions.count, "no transaction retracted twice: \(retractions)")
        let retracted = Set(retractions)
        let canonical = Set(chain.canonicalLogs.map(\.transactionHash))
        #expect(Set(delivered).subtracting(retracted) == canonical)
        #expect(retracted.isDisjoint(with: canonical))
    }

    @Test(
        "a reorg below the checkpoint whose resync is cut off after its first range (a drop, or kill -9 and a restart): every orphan is still retracted",
        arguments: [false, true])
    func interruptedResyncRetractsOrphans(restart: Bool) async throws {
        let chain = FakeChain()
        for _ in 0..<20 { chain.mine(logs: 2) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        let configuration = configuration(chain)
        var orphaned: [EthLog] = []
        /// Replaces blocks 11...20, all at or below the checkpoint (20), with a branch of 11 blocks
        /// that re-includes none of the 20 orphaned logs. The resync reads the branch 4 blocks at a
        /// time; its second read fails, after the first range (11...14) was stored.
        func reorgBelowCheckpoint() {
            chain.maxRange = 4
            chain.failLogsFrom = 15
            orphaned = chain.reorg(depth: 10, reincluded: 0, extra: 1).orphaned
        }
        /// Waits until the source is at the head with everything canonical delivered and every
        /// orphan retracted, or a few seconds have passed (then the expectations below tell).
        func settle(_ source: EventSource) async throws {
            let canonical = Set(chain.canonicalLogs.map(\.transactionHash))
            let orphans = orphaned.count
            do {
                try await collector.consume(
                    source,
                    until: { c in
                        let delivered = Set(await c.deliveredTransactions)
                        let retracted = await c.retracted.count
                        return source.status.checkpoint == chain.headRef
                            && delivered.isSuperset(of: canonical)
                            && retracted >= orphans
                    }, timeout: .seconds(5))
            } catch is TestTimeout {}
        }
        try await withSource(chain, store: temporary.store, configuration: configuration) { source in
            try await collector.consume(source) { c in
                let delivered = await c.delivered.count
                return delivered == 40 && source.status.checkpoint == chain.headRef
            }
            guard !restart else { return }
            reorgBelowCheckpoint()
            try await settle(source)
            #expect(source.status.reconnects + source.status.queryFailures >= 1, "the resync was cut off")
        }
        if restart {
            // The process was killed at the checkpoint; the chain reorganised while it was down.
            reorgBelowCheckpoint()
            try await withSource(chain, store: try temporary.reopen(), configuration: configuration) {
                source in
                try await settle(source)
                #expect(source.status.reconnects + source.status.queryFailures >= 1, "the resync was cut off")
            }
        }
        #expect(orphaned.count == 20)
        let delivered = await collector.deliveredTransactions
        let retracted = await collector.retracted.map(\.transactionHash)
        let canonical = Set(chain.canonicalLogs.map(\.transactionHash))
        #expect(Set(delivered).count == delivered.count, "no log delivered twice")
        #expect(Set(retracted).count == retracted.count, "no log retracted twice")
        let unretracted = Set(orphaned.map(\.transactionHash)).subtracting(retracted)
        #expect(unretracted.isEmpty, "\(unretracted.count) of \(orphaned.count) orphaned logs not retracted")
        #expect(Set(retracted).isSubset(of: orphaned.map(\.transactionHash)), "only orphans retracted")
        let live = Set(delivered).subtracting(retracted)
        #expect(live.subtracting(canonical).isEmpty, "delivered, not canonical, not retracted")
        #expect(canonical.subtracting(live).isEmpty, "canonical but not delivered")
    }

    @Test("a silent subscription on an open socket is detected and replaced; duplicates are ignored")
    func staleAndDuplicates() async throws {
        let chain = FakeChain()
        for _ in 0..<5 { chain.mine(logs: 1) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        try await withSource(chain, store: temporary.store, configuration: configuration(chain)) { source in
            try await collector.consume(source) { await $0.delivered.count == 5 }
            chain.duplicate = true
            for _ in 0..<5 { chain.mine(logs: 2) }
            try await collector.consume(source) { await $0.delivered.count == 15 }
            chain.silent = true
            for _ in 0..<5 { chain.mine(logs: 1) }
            chain.silent = false
            try await collector.consume(source) { await $0.delivered.count == 20 }
            #expect(source.status.staleResubscribes >= 1)
            chain.dropConnections()
            for _ in 0..<3 { chain.mine(logs: 1) }
            try await collector.consume(source) { await $0.delivered.count == 23 }
            #expect(source.status.reconnects >= 1)
        }
        let delivered = await collector.deliveredTransactions
        #expect(delivered == chain.canonicalLogs.map(\.transactionHash))
    }

    @Test("replay stops after the last block and finishes the stream")
    func replay() async throws {
        let chain = FakeChain()
        for _ in 0..<50 { chain.mine(logs: 1) }
        let temporary = try TemporaryStore()
        var configuration = configuration(chain, start: .block(11))
        configuration.stopAfter = 40
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration, logger: Self.logger)
        let task = Task { try await source.run() }
        var blocks: [UInt64] = []
        for try await event in source.events {
            blocks.append(event.log.blockNumber)
            try await source.acknowledge([event])
        }
        try await task.value
        #expect(blocks == Array(11...40))
        #expect(chain.subscriptionCount == 0)
    }
}

/// A store that records the block numbers of each step's logs, over a SQLite store, and can hold
/// the step of one block until the test releases it.
final class StepRecordingStore: ChainStateStore {
    enum Hold: Equatable {
        case released
        /// The next step with a log of `block` is held.
        case waiting(block: UInt64)
        case holding
    }

    let base: SQLiteStore
    let steps = Mutex<[[UInt64]]>([])
    let hold = Mutex(Hold.released)

    init(_ base: SQLiteStore) { self.base = base }

    func loadState(stream: String) async throws -> ChainState? { try await base.loadState(stream: stream) }

    func apply(_ step: ChainStep, stream: String) async throws -> [ChainEvent] {
        let blocks = step.logs.map(\.log.blockNumber)
        steps.withLock { $0.append(blocks) }
        let held = hold.withLock { hold in
            guard case .waiting(let block) = hold, blocks.contains(block) else { return false }
            hold = .holding
            return true
        }
        while held, hold.withLock({ $0 }) == .holding { try await Task.sleep(for: .milliseconds(2)) }
        return try await base.apply(step, stream: stream)
    }

    func pendingEvents(stream: String) async throws -> [ChainEvent] {
        try await base.pendingEvents(stream: stream)
    }

    func acknowledge(_ events: [ChainEvent], stream: String) async throws {
        try await base.acknowledge(events, stream: stream)
    }

    func liveIdentities(stream: String, aboveBlock: UInt64) async throws -> [LogIdentity: BlockRef] {
        try await base.liveIdentities(stream: stream, aboveBlock: aboveBlock)
    }

    func deliveredCount(stream: String) async throws -> Int { try await base.deliveredCount(stream: stream) }
}
