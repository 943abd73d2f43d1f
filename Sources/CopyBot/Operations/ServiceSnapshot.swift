import Chain
import CopyEngine
import Foundation

/// When `copybot run` counts as ready to do its job (`GET /ready`).
public struct ReadinessPolicy: Hashable, Sendable {
    /// The most blocks the durable checkpoint may trail the newest head (`head − checkpoint`).
    ///
    /// While live the checkpoint moves every `chain.verify_every` blocks, so this must be well
    /// above that; during the initial backfill the lag is large and the service is not ready.
    public var maxLagBlocks: UInt64
    /// The longest time without a new head before the node counts as gone; nil: not checked.
    /// Only applies when the snapshot has ``ServiceSnapshot/lastHeadAt``.
    public var maxHeadAge: Duration?

    /// Creates a policy. The defaults suit Polygon (a block every ~2 s).
    public init(maxLagBlocks: UInt64 = 32, maxHeadAge: Duration? = .seconds(60)) {
        self.maxLagBlocks = maxLagBlocks
        self.maxHeadAge = maxHeadAge
    }
}

/// Everything `/ready`, `/metrics` and status need to know about a running service, as copied from
/// the components' own status snapshots. A plain value: reading it never touches the network.
public struct ServiceSnapshot: Hashable, Sendable {
    /// Paper or live.
    public var mode: CopyBotConfiguration.Copy.Mode
    /// The chain listener's status.
    public var source: EventSourceStatus
    /// The decoder's counters.
    public var feed: TradeFeedStatistics
    /// The copy engine's counters; nil when no engine runs.
    public var engine: EngineStatistics?
    /// The circuit breaker's state; nil when no breaker runs (paper mode without an exchange).
    public var breaker: CircuitBreaker.Snapshot?
    /// When ``source``'s head last moved; nil before the first head (or when not tracked).
    public var lastHeadAt: ContinuousClock.Instant?
    /// False in a cluster executor, which runs no listener: readiness then ignores ``source``.
    public var listens = true
    /// Live accounts' balances at the exchange and their differences from the ledger, by account
    /// name (empty in paper mode).
    public var funds: [String: FundsReport] = [:]

    /// Creates a snapshot.
    public init(
        mode: CopyBotConfiguration.Copy.Mode, source: EventSourceStatus = EventSourceStatus(),
        feed: TradeFeedStatistics = TradeFeedStatistics(), engine: EngineStatistics? = nil,
        breaker: CircuitBreaker.Snapshot? = nil, lastHeadAt: ContinuousClock.Instant? = nil
    ) {
        self.mode = mode
        self.source = source
        self.feed = feed
        self.engine = engine
        self.breaker = breaker
        self.lastHeadAt = lastHeadAt
    }

    /// `head − checkpoint` in blocks (0 when the checkpoint is ahead); nil without both.
    public var lagBlocks: UInt64? {
        guard let head = source.head, let checkpoint = source.checkpoint?.number else { return nil }
        return head > checkpoint ? head - checkpoint : 0
    }

    /// Whether the service is ready, and if not, why.
    ///
    /// Ready iff the subscription is live, a head was seen (recently, when ``lastHeadAt`` is
    /// known and `maxHeadAge` is set), the checkpoint trails the head by at most `maxLagBlocks`,
    /// and the circuit breaker is not open. Every reason starts with a stable code and a colon —
    /// `not_subscribed`, `no_head`, `head_stale`, `no_checkpoint`, `lag_too_high`, `breaker_open`
    /// — followed by a human-readable detail.
    public func readiness(
        now: ContinuousClock.Instant, maxLagBlocks: UInt64, maxHeadAge: Duration? = nil
    ) -> (ready: Bool, reasons: [String]) {
        var reasons: [String] = []
        if listens, !source.live {
            let detail = source.lastError.map { "last error: \($0)" } ?? "connecting or resyncing"
            reasons.append("not_subscribed: no live subscription to the node (\(detail))")
        }
        if !listens {
            // A cluster executor: only the breaker below says whether it can place orders.
        } else if let head = source.head {
            if let maxHeadAge, let lastHeadAt, now - lastHeadAt > maxHeadAge {
                reasons.append(
                    "head_stale: no new head since block \(head) for \(Self.seconds(now - lastHeadAt)) "
                        + "(max \(Self.seconds(maxHeadAge)))")
            }
            if let lag = lagBlocks {
                if lag > maxLagBlocks {
                    reasons.append(
                        "lag_too_high: checkpoint \(source.checkpoint?.number ?? 0) is \(lag) blocks behind "
                            + "head \(head) (max \(maxLagBlocks))")
                }
            } else {
                reasons.append("no_checkpoint: no durable checkpoint yet (head \(head))")
            }
        } else {
            reasons.append("no_head: no block head received from the node yet")
        }
        if let breaker, case .open(let until) = breaker.state {
            let date = Date(timeIntervalSince1970: Double(until.milliseconds) / 1000)
            reasons.append(
                "breaker_open: the exchange circuit breaker is open until \(JSONLogHandler.timestamp(date))")
        }
        return (reasons.isEmpty, reasons)
    }

    /// ``readiness(now:maxLagBlocks:maxHeadAge:)`` with the thresholds of `policy`.
    public func readiness(
        now: ContinuousClock.Instant, policy: ReadinessPolicy
    ) -> (
        ready: Bool, reasons: [String]
    ) {
        readiness(now: now, maxLagBlocks: policy.maxLagBlocks, maxHeadAge: policy.maxHeadAge)
    }

    /// `12.3s`.
    static func seconds(_ duration: Duration) -> String {
        let tenths =
            duration.components.seconds * 10 + duration.components.attoseconds / 100_000_000_000_000_000
        return "\(tenths / 10).\(abs(tenths % 10))s"
    }
}

/// One live account's balances at the exchange, as last read, and how they compare with the ledger.
public struct FundsReport: Hashable, Sendable, Encodable {
    /// The collateral balance (6 decimals, as text).
    public var collateral: String
    /// Each exchange contract's collateral allowance.
    public var allowances: [String: String]
    /// Whether each exchange contract may move the outcome tokens.
    public var tokenApprovals: [String: Bool]
    /// When the exchange was read (Unix seconds).
    public var readAt: Int64
    /// Where the ledger and the exchange differ (empty: they agree).
    public var differences: [FundsDifference]

    /// The report of `funds`' last read; nil before it.
    public init?(_ funds: ExchangeFunds) {
        guard let snapshot = funds.snapshot else { return nil }
        collateral = snapshot.collateral.description
        allowances = Dictionary(
            snapshot.allowances.map { ($0.key.checksummed, $0.value.description) },
            uniquingKeysWith: { a, _ in a })
        tokenApprovals = Dictionary(
            snapshot.tokenApprovals.map { ($0.key.checksummed, $0.value) }, uniquingKeysWith: { a, _ in a })
        readAt = Int64(snapshot.readAt.timeIntervalSince1970)
        differences = (funds.differences ?? []).map {
            FundsDifference(
                asset: $0.asset, ledger: $0.ledger.description, exchange: $0.exchange.description,
                difference: $0.amount.description)
        }
    }

    enum CodingKeys: String, CodingKey {
        case collateral, allowances, differences
        case tokenApprovals = "token_approvals"
        case readAt = "read_at"
    }
}

/// An asset whose ledger and exchange amounts differ.
public struct FundsDifference: Hashable, Sendable, Encodable {
    /// `collateral`, or a token id.
    public var asset: String
    public var ledger: String
    public var exchange: String
    /// Exchange minus ledger.
    public var difference: String
}
