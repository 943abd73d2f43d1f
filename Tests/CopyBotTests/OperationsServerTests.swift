import AsyncHTTPClient
import Chain
import CopyBot
import CopyEngine
import EVM
import Foundation
import Logging
import Prometheus
import Testing

/// `/health`, `/ready` and `/metrics` of `copybot run`, over real sockets on 127.0.0.1.
@Suite("operations endpoint", .timeLimit(.minutes(2)))
struct OperationsServerTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    struct Answer {
        var status: Int
        var contentType: String?
        var body: String
    }

    /// Runs a server on 127.0.0.1:0 for `body`, with an HTTP client whose requests time out in 2 s.
    static func withServer(
        state: ServiceState, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        metrics: MetricsPublisher? = nil, readiness: ReadinessPolicy = ReadinessPolicy(),
        _ body:
            @escaping @Sendable (_ get: @escaping @Sendable (String) async throws -> Answer) async throws ->
            Void
    ) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = OperationsServer(
            listen: .init(host: "127.0.0.1", port: 0), state: state, registry: registry, metrics: metrics,
            readiness: readiness, logger: quiet, onListening: { continuation.yield($0) })
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                #expect(port > 0)
                try await body { path in
                    let response = try await client.execute(
                        HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(2))
                    let bytes = try await response.body.collect(upTo: 4 << 20)
                    return Answer(
                        status: Int(response.status.code),
                        contentType: response.headers.first(name: "content-type"),
                        body: String(buffer: bytes))
                }
                group.cancelAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func hash(_ n: UInt64) -> Bytes32 { Bytes32(0, 0, 0, n) }

    /// A live source at head 1_000 with the checkpoint `lag` blocks behind.
    static func healthy(lag: UInt64 = 4) -> ServiceSnapshot {
        var source = EventSourceStatus()
        source.head = 1_000
        source.checkpoint = BlockRef(number: 1_000 - lag, hash: hash(1_000 - lag))
        source.live = true
        return ServiceSnapshot(mode: .paper, source: source, lastHeadAt: .now)
    }

    static func openBreaker() throws -> CircuitBreaker.Snapshot {
        let breaker = CircuitBreaker(
            configuration: .init(consecutiveFailures: 1, failureRatePercent: nil, cooldownSeconds: 3_600),
            clock: SystemWallClock())
        let permit = try #require(breaker.acquire())
        breaker.record(permit, success: false)
        let snapshot = breaker.snapshot
        guard case .open = snapshot.state else {
            Issue.record("breaker not open: \(snapshot.state)")
            return snapshot
        }
        return snapshot
    }

    static func readyJSON(_ answer: Answer) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8))
        return try #require(object as? [String: Any])
    }

    static func reasons(_ json: [String: Any]) -> [String] { json["reasons"] as? [String] ?? [] }

    @Test("/health answers 200 ok whatever the state")
    func health() async throws {
        try await Self.withServer(state: ServiceState(mode: .paper)) { get in
            let answer = try await get("/health")
            #expect(answer.status == 200)
            #expect(answer.body == "ok\n")
            #expect(try await get("/nope").status == 404)
        }
    }

    @Test("/ready: 503 with the right reasons until subscribed, caught up and the breaker closed; then 200")
    func ready() async throws {
        let state = ServiceState(mode: .live)
        let breaker = try Self.openBreaker()
        try await Self.withServer(state: state, readiness: ReadinessPolicy(maxLagBlocks: 10)) { get in
            // Nothing yet.
            var answer = try await get("/ready")
            #expect(answer.status == 503)
            #expect(answer.contentType == "application/json")
            var json = try Self.readyJSON(answer)
            #expect(json["ready"] as? Bool == false)
            #expect(json["mode"] as? String == "live")
            var reasons = Self.reasons(json)
            #expect(reasons.contains { $0.hasPrefix("not_subscribed:") })
            #expect(reasons.contains { $0.hasPrefix("no_head:") })

            // Subscribed but not live any more, with an error.
            var snapshot = Self.healthy()
            snapshot.mode = .live
            snapshot.source.live = false
            snapshot.source.lastError = "connection reset by peer"
            state.update(snapshot)
            json = try Self.readyJSON(try await get("/ready"))
            reasons = Self.reasons(json)
            #expect(reasons.count == 1)
            #expect(reasons.first?.hasPrefix("not_subscribed:") == true)
            #expect(reasons.first?.contains("connection reset by peer") == true)

            // Live, but the checkpoint trails by 11 > 10 blocks.
            state.update { $0 = Self.healthy(lag: 11) }
            answer = try await get("/ready")
            #expect(answer.status == 503)
            json = try Self.readyJSON(answer)
            #expect(Self.reasons(json).count == 1)
            #expect(Self.reasons(json).first?.hasPrefix("lag_too_high:") == true)
            #expect(json["lag_blocks"] as? Int == 11)

            // Exactly at the threshold is fine.
            state.update(Self.healthy(lag: 10))
            #expect(try await get("/ready").status == 200)

            // Breaker open.
            state.update { $0.breaker = breaker }
            answer = try await get("/ready")
            #expect(answer.status == 503)
            json = try Self.readyJSON(answer)
            #expect(Self.reasons(json).count == 1)
            #expect(Self.reasons(json).first?.hasPrefix("breaker_open:") == true)
            #expect(json["breaker"] as? String == "open")

            // Everything at once: all three reasons.
            state.update {
                $0.source.live = false
                $0.source.checkpoint = BlockRef(number: 100, hash: Self.hash(100))
            }
            reasons = Self.reasons(try Self.readyJSON(try await get("/ready")))
            #expect(
                reasons.map { $0.prefix { $0 != ":" } } == ["not_subscribed", "lag_too_high", "breaker_open"])

            // All good.
            state.update { $0 = Self.healthy() }
            answer = try await get("/ready")
            #expect(answer.status == 200)
            json = try Self.readyJSON(answer)
            #expect(json["ready"] as? Bool == true)
            #expect(Self.reasons(json).isEmpty)
            #expect(json["head"] as? Int == 1_000)
            #expect(json["checkpoint"] as? Int == 996)
        }
    }

    @Test("/ready reports a head that stopped moving, and ServiceState.refresh stamps head moves")
    func staleHead() async throws {
        let long = ContinuousClock.now - .seconds(600)
        let state = ServiceState(mode: .paper)
        let source = Self.healthy().source
        state.refresh(source: source, feed: TradeFeedStatistics(), now: long)
        #expect(state.snapshot.lastHeadAt == long)
        // Same head again: the stamp stays.
        state.refresh(source: source, feed: TradeFeedStatistics())
        #expect(state.snapshot.lastHeadAt == long)
        try await Self.withServer(state: state) { get in
            let answer = try await get("/ready")
            #expect(answer.status == 503)
            let reasons = Self.reasons(try Self.readyJSON(answer))
            #expect(reasons.count == 1)
            #expect(reasons.first?.hasPrefix("head_stale:") == true)
            // A new head: ready again.
            var moved = source
            moved.head = 1_001
            state.refresh(source: moved, feed: TradeFeedStatistics())
            #expect(try await get("/ready").status == 200)
        }
    }

    @Test("/ready answers at once when the node is unreachable (it only reads ServiceState)")
    func readyWhileNodeUnreachable() async throws {
        // What the application copies in while the node refuses connections: the source keeps
        // reconnecting, the head is ten minutes old.
        var source = EventSourceStatus()
        source.head = 5_000
        source.checkpoint = BlockRef(number: 4_990, hash: Self.hash(4_990))
        source.live = false
        source.reconnects = 42
        source.lastError = "connect(127.0.0.1:1): Connection refused"
        let state = ServiceState(
            ServiceSnapshot(mode: .paper, source: source, lastHeadAt: .now - .seconds(600)))
        let registry = PrometheusCollectorRegistry()
        let metrics = MetricsPublisher(registry: registry)
        try await Self.withServer(state: state, registry: registry, metrics: metrics) { get in
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for index in 0..<16 {
                    group.addTask { try await get(index % 2 == 0 ? "/ready" : "/metrics") }
                }
                for try await answer in group {
                    if answer.contentType == "application/json" {
                        #expect(answer.status == 503)
                        let reasons = Self.reasons(try Self.readyJSON(answer))
                        #expect(
                            reasons.contains {
                                $0.hasPrefix("not_subscribed:") && $0.contains("Connection refused")
                            })
                        #expect(reasons.contains { $0.hasPrefix("head_stale:") })
                    } else {
                        #expect(answer.status == 200)
                        let exposition = try PrometheusExposition(parsing: answer.body)
                        #expect(exposition.value(MetricsPublisher.Name.subscribed) == 0)
                        #expect(exposition.value(MetricsPublisher.Name.reconnects) == 42)
                    }
                }
            }
        }
    }

    @Test("run() throws when the port is taken")
    func portTaken() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let first = OperationsServer(
            listen: .init(host: "127.0.0.1", port: 0), state: ServiceState(mode: .paper),
            registry: PrometheusCollectorRegistry(), logger: Self.quiet,
            onListening: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let second = OperationsServer(
                listen: .init(host: "127.0.0.1", port: port), state: ServiceState(mode: .paper),
                registry: PrometheusCollectorRegistry(), logger: Self.quiet)
            await #expect(throws: (any Error).self) { try await second.run() }
            group.cancelAll()
        }
    }

    /// Two snapshots; the second has grown everywhere, with a new skip rule and rejection reason.
    static func snapshots() throws -> (ServiceSnapshot, ServiceSnapshot) {
        var first = healthy(lag: 10)
        first.source.logsDelivered = 12
        first.source.rejectedLogs = 1
        first.source.reconnects = 2
        first.source.reorgs = 1
        first.source.rangesFetched = 7
        first.feed.trades = 10
        first.feed.retractions = 1
        first.feed.rejected = ["bad_data": 2]
        var engine = EngineStatistics()
        engine.copied = 4
        engine.skipped = 5
        engine.skippedByRule = ["slippage": 3, "min_size": 2]
        engine.failed = 1
        engine.failedByReason = ["exchange_rejected": 1]
        first.engine = engine

        var second = first
        second.source.head = 1_020
        second.source.checkpoint = BlockRef(number: 1_017, hash: hash(1_017))
        second.source.logsDelivered = 30
        second.source.reconnects = 3
        second.source.rangesFetched = 9
        second.feed.trades = 25
        second.feed.rejected = ["bad_data": 2, "unknown_contract": 1]
        engine.copied = 10
        engine.skipped = 12
        engine.skippedByRule = ["slippage": 7, "min_size": 2, "max_position": 1]  // 2 unattributed
        engine.failed = 2
        engine.failedByReason = ["exchange_rejected": 1, "timeout": 1]
        second.engine = engine
        second.breaker = try openBreaker()
        return (first, second)
    }

    @Test("/metrics is valid Prometheus text; counters grow by the snapshot deltas and never decrease")
    func metrics() async throws {
        let (first, second) = try Self.snapshots()
        let state = ServiceState(first)
        let registry = PrometheusCollectorRegistry()
        let metrics = MetricsPublisher(registry: registry)
        typealias Name = MetricsPublisher.Name
        try await Self.withServer(state: state, registry: registry, metrics: metrics) { get in
            metrics.publish(first)
            metrics.recordDecisionLatency(.microseconds(50))
            metrics.recordDecisionLatency(.milliseconds(3))
            metrics.recordOrderLatency(.milliseconds(120))
            metrics.recordClobPing(roundTrip: .milliseconds(30), clockSkewSeconds: -2)
            let answer1 = try await get("/metrics")
            #expect(answer1.status == 200)
            #expect(answer1.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
            let before = try PrometheusExposition(parsing: answer1.body)

            #expect(before.types[Name.decisions] == "counter")
            #expect(before.types[Name.chainHead] == "gauge")
            #expect(before.types[Name.decisionLatency] == "histogram")
            #expect(before.value(Name.eventsReceived) == 12)
            #expect(before.value(Name.trades) == 10)
            #expect(before.value(Name.eventsRejected, ["reason": "bad_data"]) == 2)
            #expect(before.value(Name.eventsRejected, ["reason": "unexpected_log"]) == 1)
            #expect(before.value(Name.decisions, ["outcome": "skipped", "rule": "slippage"]) == 3)
            #expect(before.value(Name.decisions, ["outcome": "copied", "rule": "paper"]) == 4)
            #expect(before.value(Name.chainHead) == 1_000)
            #expect(before.value(Name.chainCheckpoint) == 990)
            #expect(before.value(Name.chainLag) == 10)
            #expect(before.value(Name.subscribed) == 1)
            #expect(before.value(Name.breakerState) == 0)
            #expect(before.value(Name.decisionLatency + "_count") == 2)
            #expect(before.value(Name.decisionLatency + "_bucket", ["le": "0.0001"]) == 1)
            #expect(before.value(Name.decisionLatency + "_bucket", ["le": "0.005"]) == 2)
            #expect(before.value(Name.orderLatency + "_bucket", ["le": "0.1"]) == 0)
            #expect(before.value(Name.orderLatency + "_bucket", ["le": "0.25"]) == 1)
            #expect(before.types[Name.clobRoundTrip] == "histogram")
            #expect(before.value(Name.clobRoundTrip + "_bucket", ["le": "0.025"]) == 0)
            #expect(before.value(Name.clobRoundTrip + "_bucket", ["le": "0.05"]) == 1)
            #expect(before.types[Name.clobClockSkew] == "gauge")
            #expect(before.value(Name.clobClockSkew) == -2)
            let decisionBuckets = before.samples(named: Name.decisionLatency + "_bucket")
            #expect(decisionBuckets.first?.labels["le"] == "0.0001")
            #expect(decisionBuckets.count == MetricsPublisher.latencyBuckets.count + 1)

            // The server publishes the state's snapshot on every scrape: the second snapshot
            // arrives through ServiceState, and an explicit publish of the same snapshot adds nothing.
            state.update(second)
            metrics.publish(second)
            metrics.recordDecisionLatency(.seconds(30))
            let after = try PrometheusExposition(parsing: try await get("/metrics").body)
            #expect(after.value(Name.decisions, ["outcome": "skipped", "rule": "slippage"]) == Double(3 + 4))
            #expect(after.value(Name.decisions, ["outcome": "skipped", "rule": "max_position"]) == 1)
            #expect(after.value(Name.decisions, ["outcome": "skipped", "rule": "unspecified"]) == 2)
            #expect(after.value(Name.decisions, ["outcome": "failed", "rule": "timeout"]) == 1)
            #expect(after.value(Name.decisions, ["outcome": "copied", "rule": "paper"]) == 10)
            let skipped = after.samples(named: Name.decisions).filter { $0.labels["outcome"] == "skipped" }
            #expect(skipped.map(\.value).reduce(0, +) == 12)
            #expect(after.value(Name.eventsReceived) == 30)
            #expect(after.value(Name.eventsRejected, ["reason": "unknown_contract"]) == 1)
            #expect(after.value(Name.reconnects) == 3)
            #expect(after.value(Name.resyncRanges) == 9)
            #expect(after.value(Name.chainLag) == 3)
            #expect(after.value(Name.breakerState) == 2)
            #expect(after.value(Name.breakerOpened) == 1)
            #expect(after.value(Name.decisionLatency + "_count") == 3)
            #expect(after.value(Name.decisionLatency + "_bucket", ["le": "10.0"]) == 2)
            #expect(after.value(Name.decisionLatency + "_bucket", ["le": "+Inf"]) == 3)
            #expect((after.value(Name.decisionLatency + "_sum") ?? 0) > 30)

            // Counters (and histogram counts) never decrease, and no series disappears.
            for sample in before.samples {
                let family = PrometheusExposition.family(of: sample.name, types: before.types) ?? ""
                let type = before.types[family]
                guard let now = after.value(sample.name, sample.labels) else {
                    Issue.record("\(sample.name)\(sample.labels) disappeared")
                    continue
                }
                if type == "counter" || (type == "histogram" && !sample.name.hasSuffix("_sum")) {
                    #expect(
                        now >= sample.value,
                        "\(sample.name)\(sample.labels) went from \(sample.value) to \(now)")
                }
            }
        }
    }

    @Test("a count that restarts from zero (a recreated component) still only adds to the counter")
    func counterReset() throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = MetricsPublisher(registry: registry)
        var snapshot = Self.healthy()
        snapshot.feed.trades = 10
        metrics.publish(snapshot)
        metrics.publish(snapshot)
        #expect(
            try PrometheusExposition(parsing: registry.emitToString()).value(MetricsPublisher.Name.trades)
                == 10)
        snapshot.feed.trades = 3
        metrics.publish(snapshot)
        #expect(
            try PrometheusExposition(parsing: registry.emitToString()).value(MetricsPublisher.Name.trades)
                == 13)
        snapshot.feed.trades = 5
        metrics.publish(snapshot)
        #expect(
            try PrometheusExposition(parsing: registry.emitToString()).value(MetricsPublisher.Name.trades)
                == 15)
    }

    @Test("the exposition parser rejects what Prometheus rejects")
    func parserIsStrict() {
        let bad = [
            "x 1\n",  // no TYPE
            "# TYPE x counter\nx 1",  // no final newline
            "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",  // duplicate series
            "# TYPE x counter\nx{a=\"\\t\"} 1\n",  // bad escape
            "# TYPE x counter\nx{a=1} 1\n",  // unquoted
            "# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n",  // duplicate label
            "# TYPE x counter\nx one\n",  // bad value
            "# TYPE 1x counter\n",  // bad name
            "# TYPE x counter\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 2\n",  // split group
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"0.5\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
        ]
        for text in bad {
            #expect(throws: PrometheusExposition.ParseError.self, "\(text)") {
                try PrometheusExposition(parsing: text)
            }
        }
        let good = """
            # HELP x A counter\\nwith an escaped newline.
            # TYPE x counter
            x{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 1.5e3
            x{a="2",} 7 1700000000000
            # TYPE h histogram
            h_bucket{le="0.1"} 0
            h_bucket{le="1"} 2
            h_bucket{le="+Inf"} 3
            h_sum 4.25
            h_count 3

            """
        let parsed = try? PrometheusExposition(parsing: good)
        #expect(parsed?.value("x", ["a": "q\"uote", "b": "back\\slash", "c": "new\nline"]) == 1500)
        #expect(parsed?.value("x", ["a": "2"]) == 7)
        #expect(parsed?.value("h_bucket", ["le": "+Inf"]) == 3)
    }
}
