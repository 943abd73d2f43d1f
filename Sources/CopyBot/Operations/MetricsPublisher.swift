import Chain
import CopyEngine
import CoreMetrics
import Prometheus
import Synchronization

/// Turns ``ServiceSnapshot``s into metrics, and records the latencies the application measures.
///
/// The components (EventSource, TradeFeed, CopyEngine, CircuitBreaker) only count; they know
/// nothing of metrics. ``publish(_:)`` compares each cumulative count with the value it last
/// published and increments the counter by the difference, so it can be called as often as wanted
/// (each call with an unchanged snapshot changes nothing). A count lower than the last one means
/// the component was recreated and counts from zero again: the new count is added in full, and
/// counters never go down.
///
/// Metrics are made with the injected `MetricsFactory` (never the global `MetricsSystem`).
///
/// | metric | kind | from |
/// |---|---|---|
/// | `copybot_events_received_total` | counter | logs the source delivered |
/// | `copybot_events_rejected_total{reason}` | counter | undecodable logs by reason; `unexpected_log`: logs the node should not have sent |
/// | `copybot_other_events_total` | counter | exchange logs that are not fills |
/// | `copybot_trades_total`, `copybot_retractions_total` | counter | decoded trades, and trades a reorg removed |
/// | `copybot_chain_head`, `copybot_chain_checkpoint`, `copybot_chain_lag_blocks` | gauge | the source |
/// | `copybot_subscribed` | gauge | 1 while the subscription is live |
/// | `copybot_reconnects_total`, `copybot_stale_resubscribes_total` | counter | the source |
/// | `copybot_node_query_failures_total` | counter | node queries that failed while the subscription stayed up |
/// | `copybot_resync_ranges_total`, `copybot_resync_range_splits_total` | counter | `eth_getLogs` ranges |
/// | `copybot_reorgs_total`, `copybot_deep_reorgs_total` | counter | the source |
/// | `copybot_decisions_total{outcome,rule}` | counter | `copied` (rule: the mode), `skipped` (rule), `failed` (reason) |
/// | `copybot_decisions_already_decided_total`, `copybot_copies_retracted_total`, `copybot_orders_unresolved_total`, `copybot_ledger_errors_total` | counter | the engine |
/// | `copybot_breaker_state` | gauge | 0 closed, 1 half-open, 2 open |
/// | `copybot_breaker_opened_total`, `copybot_breaker_rejected_total` | counter | the breaker |
/// | `copybot_decision_latency_seconds` | histogram | ``recordDecisionLatency(_:)`` |
/// | `copybot_order_latency_seconds` | histogram | ``recordOrderLatency(_:)`` |
/// | `copybot_clob_round_trip_seconds` | histogram | the CLOB keep-warm's `GET /time` (``recordClobPing(roundTrip:clockSkewSeconds:)``) |
/// | `copybot_clob_clock_skew_seconds` | gauge | the CLOB's clock minus this machine's, at the latest ping |
/// | `copybot_fenced_writes_total{role}` | counter | cluster writes the store refused because another process took the lease (``recordFencedWrite(role:)``) |
public final class MetricsPublisher: Sendable {
    /// The metric names.
    public enum Name {
        public static let eventsReceived = "copybot_events_received_total"
        public static let eventsRejected = "copybot_events_rejected_total"
        public static let otherEvents = "copybot_other_events_total"
        public static let trades = "copybot_trades_total"
        public static let retractions = "copybot_retractions_total"
        public static let chainHead = "copybot_chain_head"
        public static let chainCheckpoint = "copybot_chain_checkpoint"
        public static let chainLag = "copybot_chain_lag_blocks"
        public static let subscribed = "copybot_subscribed"
        public static let reconnects = "copybot_reconnects_total"
        public static let queryFailures = "copybot_node_query_failures_total"
        public static let staleResubscribes = "copybot_stale_resubscribes_total"
        public static let resyncRanges = "copybot_resync_ranges_total"
        public static let resyncRangeSplits = "copybot_resync_range_splits_total"
        public static let reorgs = "copybot_reorgs_total"
        public static let deepReorgs = "copybot_deep_reorgs_total"
        public static let decisions = "copybot_decisions_total"
        public static let alreadyDecided = "copybot_decisions_already_decided_total"
        public static let copiesRetracted = "copybot_copies_retracted_total"
        public static let ordersUnresolved = "copybot_orders_unresolved_total"
        public static let ledgerErrors = "copybot_ledger_errors_total"
        public static let breakerState = "copybot_breaker_state"
        public static let breakerOpened = "copybot_breaker_opened_total"
        public static let breakerRejected = "copybot_breaker_rejected_total"
        public static let decisionLatency = "copybot_decision_latency_seconds"
        public static let orderLatency = "copybot_order_latency_seconds"
        public static let clobRoundTrip = "copybot_clob_round_trip_seconds"
        public static let clobClockSkew = "copybot_clob_clock_skew_seconds"
        public static let exchangeCollateral = "copybot_exchange_collateral"
        public static let reconciliationDifferences = "copybot_reconciliation_differences"
        public static let reconciliationCollateral = "copybot_reconciliation_collateral_difference"
        public static let fencedWrites = "copybot_fenced_writes_total"
    }

    /// The buckets of the latency histograms: 100 µs to 10 s.
    public static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    /// The label of the skips and failures the engine counted without a rule or reason.
    static let unspecified = "unspecified"
    /// The `reason` of logs the source rejected (they did not match the filter or range).
    static let unexpectedLog = "unexpected_log"

    /// One series: a name and its labels, in order.
    struct Series: Hashable {
        var name: String
        var labels: [Label] = []

        struct Label: Hashable {
            var key: String
            var value: String
        }

        init(_ name: String, _ labels: (String, String)...) {
            self.name = name
            self.labels = labels.map { Label(key: $0.0, value: $0.1) }
        }
    }

    struct State {
        var counters: [Series: CoreMetrics.Counter] = [:]
        var gauges: [Series: CoreMetrics.Gauge] = [:]
        var published: [Series: Int] = [:]
    }

    private let factory: any MetricsFactory
    private let state = Mutex(State())
    private let head: CoreMetrics.Gauge
    private let checkpoint: CoreMetrics.Gauge
    private let lag: CoreMetrics.Gauge
    private let subscribed: CoreMetrics.Gauge
    private let breakerState: CoreMetrics.Gauge
    private let decisionLatency: CoreMetrics.Timer
    private let orderLatency: CoreMetrics.Timer
    private let clobRoundTrip: CoreMetrics.Timer
    private let clobClockSkew: CoreMetrics.Gauge

    /// Creates a publisher whose metrics come from `factory`. Every unlabeled series exists (at 0)
    /// from the start; labeled ones appear with their first label values.
    public init(factory: any MetricsFactory) {
        self.factory = factory
        head = CoreMetrics.Gauge(label: Name.chainHead, factory: factory)
        checkpoint = CoreMetrics.Gauge(label: Name.chainCheckpoint, factory: factory)
        lag = CoreMetrics.Gauge(label: Name.chainLag, factory: factory)
        subscribed = CoreMetrics.Gauge(label: Name.subscribed, factory: factory)
        breakerState = CoreMetrics.Gauge(label: Name.breakerState, factory: factory)
        decisionLatency = CoreMetrics.Timer(label: Name.decisionLatency, factory: factory)
        orderLatency = CoreMetrics.Timer(label: Name.orderLatency, factory: factory)
        clobRoundTrip = CoreMetrics.Timer(label: Name.clobRoundTrip, factory: factory)
        clobClockSkew = CoreMetrics.Gauge(label: Name.clobClockSkew, factory: factory)
        for gauge in [head, checkpoint, lag, subscribed, breakerState, clobClockSkew] { gauge.record(0.0) }
        let unlabeled = [
            Name.eventsReceived, Name.otherEvents, Name.trades, Name.retractions, Name.reconnects,
            Name.queryFailures,
            Name.staleResubscribes, Name.resyncRanges, Name.resyncRangeSplits, Name.reorgs, Name.deepReorgs,
            Name.alreadyDecided, Name.copiesRetracted, Name.ordersUnresolved, Name.ledgerErrors,
            Name.breakerOpened, Name.breakerRejected,
        ]
        state.withLock { state in
            for name in unlabeled { _ = Self.counter(Series(name), in: &state, factory: factory) }
        }
    }

    /// Creates a publisher on a Prometheus registry, with ``latencyBuckets`` for the histograms.
    public convenience init(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            Name.decisionLatency: Self.latencyBuckets, Name.orderLatency: Self.latencyBuckets,
            Name.clobRoundTrip: Self.latencyBuckets,
        ]
        self.init(factory: factory)
    }

    /// Records how long a trade took from its chain frame to its copy decision.
    public func recordDecisionLatency(_ duration: Duration) {
        decisionLatency.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// Records how long an order took from the decision to the exchange's acknowledgement.
    public func recordOrderLatency(_ duration: Duration) {
        orderLatency.recordNanoseconds(Self.nanoseconds(duration))
    }

    /// Records a keep-warm `GET /time`: its round trip, and the CLOB's clock minus this machine's.
    public func recordClobPing(roundTrip: Duration, clockSkewSeconds: Int64) {
        clobRoundTrip.recordNanoseconds(Self.nanoseconds(roundTrip))
        clobClockSkew.record(Double(clockSkewSeconds))
    }

    /// Counts a write the store refused because its fence was stale (`role`: `executor` or
    /// `listener`).
    public func recordFencedWrite(role: String) {
        state.withLock { Self.counter(Series(Name.fencedWrites, ("role", role)), in: &$0, factory: factory) }
            .increment()
    }

    /// Publishes `snapshot`: counters grow by what the counts grew since the last call, gauges
    /// take the snapshot's values. Safe to call from several tasks.
    public func publish(_ snapshot: ServiceSnapshot) {
        let source = snapshot.source
        let feed = snapshot.feed
        var counts: [(Series, Int)] = [
            (Series(Name.eventsReceived), source.logsDelivered),
            (Series(Name.eventsRejected, ("reason", Self.unexpectedLog)), source.rejectedLogs),
            (Series(Name.otherEvents), feed.otherEvents),
            (Series(Name.trades), feed.trades),
            (Series(Name.retractions), feed.retractions),
            (Series(Name.reconnects), source.reconnects),
            (Series(Name.queryFailures), source.queryFailures),
            (Series(Name.staleResubscribes), source.staleResubscribes),
            (Series(Name.resyncRanges), source.rangesFetched),
            (Series(Name.resyncRangeSplits), source.rangeSplits),
            (Series(Name.reorgs), source.reorgs),
            (Series(Name.deepReorgs), source.deepReorgs),
        ]
        for (reason, count) in feed.rejected.sorted(by: { $0.key < $1.key }) {
            counts.append((Series(Name.eventsRejected, ("reason", reason)), count))
        }
        if let engine = snapshot.engine {
            counts += Self.decisions(engine, mode: snapshot.mode.rawValue)
            counts += [
                (Series(Name.alreadyDecided), engine.alreadyDecided),
                (Series(Name.copiesRetracted), engine.retractedAfterCopy),
                (Series(Name.ordersUnresolved), engine.unresolved),
                (Series(Name.ledgerErrors), engine.ledgerErrors),
            ]
        }
        if let breaker = snapshot.breaker {
            counts += [
                (Series(Name.breakerOpened), breaker.opened),
                (Series(Name.breakerRejected), breaker.rejected),
            ]
        }
        let factory = self.factory
        state.withLock { state in
            for (series, count) in counts {
                let last = state.published[series] ?? 0
                let delta = count >= last ? count - last : count
                state.published[series] = count
                let counter = Self.counter(series, in: &state, factory: factory)
                if delta > 0 { counter.increment(by: delta) }
            }
            if let value = source.head { head.record(Double(value)) }
            if let value = source.checkpoint?.number { checkpoint.record(Double(value)) }
            if let value = snapshot.lagBlocks { lag.record(Double(value)) }
            subscribed.record(source.live ? 1.0 : 0.0)
            breakerState.record(Self.breakerValue(snapshot.breaker?.state))
            for (account, report) in snapshot.funds {
                let differences = Double(report.differences.count)
                let collateral = Double(report.collateral) ?? 0
                let gap =
                    report.differences.first { $0.asset == "collateral" }.flatMap { Double($0.difference) }
                    ?? 0
                for (name, value) in [
                    (Name.exchangeCollateral, collateral), (Name.reconciliationDifferences, differences),
                    (Name.reconciliationCollateral, gap),
                ] {
                    Self.gauge(Series(name, ("account", account)), in: &state, factory: factory).record(value)
                }
            }
        }
    }

    private static func gauge(
        _ series: Series, in state: inout State, factory: any MetricsFactory
    ) -> CoreMetrics.Gauge {
        made(series, in: &state.gauges) { CoreMetrics.Gauge(label: $0, dimensions: $1, factory: factory) }
    }

    // MARK: Helpers

    /// `copybot_decisions_total` series: copied under the mode, skips by rule, failures by reason;
    /// what the engine counted without a rule or reason goes under `unspecified`.
    static func decisions(_ engine: EngineStatistics, mode: String) -> [(Series, Int)] {
        var counts = [(Series(Name.decisions, ("outcome", "copied"), ("rule", mode)), engine.copied)]
        for (outcome, total, byRule) in [
            ("skipped", engine.skipped, engine.skippedByRule),
            ("failed", engine.failed, engine.failedByReason),
        ] {
            for (rule, count) in byRule.sorted(by: { $0.key < $1.key }) {
                counts.append((Series(Name.decisions, ("outcome", outcome), ("rule", rule)), count))
            }
            let rest = total - byRule.values.reduce(0, +)
            if rest > 0 {
                counts.append((Series(Name.decisions, ("outcome", outcome), ("rule", unspecified)), rest))
            }
        }
        return counts
    }

    /// 0 closed (or no breaker), 1 half-open, 2 open.
    static func breakerValue(_ state: CircuitBreaker.State?) -> Double {
        switch state {
        case .none, .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    private static func counter(
        _ series: Series, in state: inout State, factory: any MetricsFactory
    ) -> CoreMetrics.Counter {
        made(series, in: &state.counters) { CoreMetrics.Counter(label: $0, dimensions: $1, factory: factory) }
    }

    /// The metric of `series` in `made`, made (with its name and labels) the first time.
    private static func made<Metric>(
        _ series: Series, in made: inout [Series: Metric], _ make: (String, [(String, String)]) -> Metric
    ) -> Metric {
        if let metric = made[series] { return metric }
        let metric = make(series.name, series.labels.map { ($0.key, $0.value) })
        made[series] = metric
        return metric
    }
}
