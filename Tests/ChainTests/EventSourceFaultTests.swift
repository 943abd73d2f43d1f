import Chain
import EVM
import Foundation
import Logging
import Testing

/// The listener against providers that misbehave the way hosted ones do: unfamiliar range
/// errors, transient 429/503 answers, and backends behind a load balancer that lag the head.
@Suite("EventSource against misbehaving providers")
struct EventSourceFaultTests {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["DEBUG_SOURCE"] != nil ? .trace : .info
        return logger
    }()

    func configuration(_ chain: FakeChain, start: UInt64 = 1) -> EventSourceConfiguration {
        var configuration = EventSourceConfiguration(stream: "test", filter: chain.filter)
        configuration.start = .block(start)
        configuration.initialRange = 64
        configuration.verifyEvery = 2
        configuration.staleAfter = .seconds(2)
        configuration.initialBackoff = .milliseconds(5)
        configuration.maximumBackoff = .milliseconds(40)
        configuration.hashReadDepth = 6
        return configuration
    }

    /// Runs a replaying source to its end: the transactions of the logs it delivered, in order.
    func replay(_ source: EventSource) async throws -> [Bytes32] {
        let task = Task { try await source.run() }
        var delivered: [Bytes32] = []
        for try await event in source.events {
            delivered.append(event.log.transactionHash)
            try await source.acknowledge([event])
        }
        try await task.value
        return delivered
    }

    /// Every failure of a multi-block read halves the range, whatever its shape: the range ends
    /// at the provider's limit, and replay finishes with every log once.
    @Test(
        "a range refused in any dialect is halved down to what the provider takes",
        arguments: [
            ChainRPCError.server(code: -32602, message: "invalid params"),
            .server(code: -32099, message: "request exceeds the node's quota of blocks"),
            .unavailable("HTTP 413"),
            .server(code: 0, message: ""),
        ])
    func anyRangeErrorHalves(_ error: ChainRPCError) async throws {
        let chain = FakeChain()
        for i in 0..<300 { chain.mine(logs: i % 2) }
        chain.maxRange = 10
        chain.rangeError = error
        let temporary = try TemporaryStore()
        var configuration = configuration(chain)
        configuration.stopAfter = 300
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration, logger: Self.logger)
        let delivered = try await replay(source)
        #expect(delivered == chain.canonicalLogs.map(\.transactionHash))
        #expect(source.status.getLogsRange.map { $0 <= 10 && $0 >= 5 } == true)
        #expect(source.status.rangeSplits > 0)
    }

    @Test("the learned range outlives a reconnect: no range over the limit is asked for again")
    func learnedRangeSurvivesReconnect() async throws {
        let chain = FakeChain()
        for _ in 0..<200 { chain.mine(logs: 1) }
        chain.maxRange = 16
        let temporary = try TemporaryStore()
        let collector = Collector()
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration(chain), logger: Self.logger)
        let task = Task { try await source.run() }
        defer { task.cancel() }
        try await collector.consume(source) { await $0.delivered.count == 200 }
        while !source.status.live { try await Task.sleep(for: .milliseconds(5)) }
        // A long outage: the resync after it covers far more than the limit.
        chain.silent = true
        chain.dropConnections()
        for _ in 0..<100 { chain.mine(logs: 1) }
        chain.timeline = []
        chain.silent = false
        try await collector.consume(source) { await $0.delivered.count == 300 }
        let spans = chain.timeline.compactMap { entry -> UInt64? in
            guard entry.hasPrefix("getLogs ") else { return nil }
            let bounds = entry.dropFirst(8).split(separator: ".").compactMap { UInt64($0) }
            return bounds.count == 2 ? bounds[1] - bounds[0] + 1 : nil
        }
        #expect(!spans.isEmpty)
        #expect(spans.allSatisfy { $0 <= 16 }, "a range over the learned limit was asked for: \(spans)")
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
        task.cancel()
        _ = await task.result
    }

    @Test("transient 429/503 answers are retried without touching the subscription")
    func transientQueriesKeepTheSocket() async throws {
        let chain = FakeChain()
        for _ in 0..<20 { chain.mine(logs: 1) }
        let temporary = try TemporaryStore()
        let collector = Collector()
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration(chain), logger: Self.logger)
        chain.queryFailureRate = 0.2
        let task = Task { try await source.run() }
        defer { task.cancel() }
        try await collector.consume(source) { await $0.delivered.count == 20 }
        for _ in 0..<60 {
            chain.mine(logs: 1)
            try await Task.sleep(for: .milliseconds(10))
        }
        try await collector.consume(source, until: { await $0.delivered.count == 80 }, timeout: .seconds(60))
        chain.queryFailureRate = 0
        #expect(chain.queryFailures > 10)
        #expect(source.status.queryFailures > 0)
        #expect(chain.subscriptionsOpened == 1, "HTTP trouble reopened the subscription")
        #expect(source.status.reconnects == 0)
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
        #expect(await collector.retracted.isEmpty)
        task.cancel()
        _ = await task.result
    }

    @Test("a replay under 20% transient failures, failing from its first call, finishes exactly")
    func replayUnderTransientFailures() async throws {
        let chain = FakeChain()
        for i in 0..<400 { chain.mine(logs: i % 3) }
        chain.queryFailureRate = 0.2
        let temporary = try TemporaryStore()
        var configuration = configuration(chain, start: 5)
        configuration.stopAfter = 390
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration, logger: Self.logger)
        let delivered = try await replay(source)
        let expected = chain.canonicalLogs.filter { (5...390).contains($0.blockNumber) }
        #expect(delivered == expected.map(\.transactionHash))
        #expect(chain.queryFailures > 10)
    }

    @Test(
        "backends lagging up to 3 blocks that trim or refuse: nothing lost, nothing retracted",
        arguments: [true, false])
    func laggingBackends(trim: Bool) async throws {
        let chain = FakeChain()
        for _ in 0..<30 { chain.mine(logs: 1) }
        chain.lagMax = 3
        chain.lagTrims = trim
        let temporary = try TemporaryStore()
        let collector = Collector()
        let source = EventSource(
            rpc: chain, store: temporary.store, configuration: configuration(chain), logger: Self.logger)
        let task = Task { try await source.run() }
        defer { task.cancel() }
        for round in 0..<6 {
            for _ in 0..<10 {
                chain.mine(logs: 2)
                try await Task.sleep(for: .milliseconds(5))
            }
            if round == 3 { chain.dropConnections() }
        }
        let total = chain.canonicalLogs.count
        try await collector.consume(
            source, until: { await $0.delivered.count >= total }, timeout: .seconds(60))
        // Quiet for a while: a late retraction would show up now.
        try? await collector.consume(source, until: { _ in false }, timeout: .milliseconds(500))
        let blocks = await collector.delivered.map(\.blockNumber)
        #expect(blocks == chain.canonicalLogs.map(\.blockNumber), "in chain order")
        #expect(await collector.deliveredTransactions == chain.canonicalLogs.map(\.transactionHash))
        #expect(await collector.retracted.isEmpty, "a block a backend did not have yet was taken as orphaned")
        task.cancel()
        _ = await task.result
    }
}
