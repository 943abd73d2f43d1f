import EVM
import Polymarket

/// The trade a decision is about, as stored with it.
public struct TradeSummary: Hashable, Sendable {
    public var exchange: String
    public var blockNumber: UInt64
    public var transactionHash: Bytes32
    public var logIndex: UInt64
    public var wallet: Address
    public var side: Side
    public var tokenId: UInt256
    public var shares: FixedPoint6
    public var collateral: FixedPoint6
    public var price: Price

    /// The summary of a trade event.
    public init(_ trade: TradeEvent) {
        self.exchange = trade.exchange
        self.blockNumber = trade.blockNumber
        self.transactionHash = trade.transactionHash
        self.logIndex = trade.logIndex
        self.wallet = trade.wallet
        self.side = trade.side == .buy ? .buy : .sell
        self.tokenId = trade.tokenId
        self.shares = trade.shares
        self.collateral = trade.collateral
        self.price = trade.price
    }

    /// This summary where `delivery` places the same trade: its block number and log index (a
    /// transaction a reorg removed moves when it is mined again); the rest is the trade's content,
    /// which does not change, and is kept.
    public func moved(to delivery: TradeSummary) -> TradeSummary {
        var moved = self
        moved.blockNumber = delivery.blockNumber
        moved.logIndex = delivery.logIndex
        return moved
    }
}

/// A decision as stored: exactly one per ``DecisionKey``.
public struct DecisionRecord: Hashable, Sendable {
    public var key: DecisionKey
    public var trade: TradeSummary
    public var decision: CopyDecision
    public var decidedAt: UnixTime
    /// Set while a reorg has removed the trade (a copied trade is then flagged); cleared when the
    /// chain includes it again (``CopyStateStore/beginDecision(_:trade:applying:)``).
    public var retracted: Bool

    /// Creates a record.
    public init(
        key: DecisionKey, trade: TradeSummary, decision: CopyDecision, decidedAt: UnixTime,
        retracted: Bool = false
    ) {
        self.key = key
        self.trade = trade
        self.decision = decision
        self.decidedAt = decidedAt
        self.retracted = retracted
    }
}

/// Where an order intent stands. Transitions are compare-and-set (``CopyStateStore/updateIntent(_:expecting:to:matched:message:at:)``):
///
/// `created` → `posting` (claimed by one executor, which alone may post it) → `open` | `matched` |
/// `unmatched` | `rejected` | `notFound`; `open` → `matched` | `cancelled`; `created` → `cancelled`
/// (never posted). An intent in `posting` has an unknown outcome and is resolved by look-up only.
/// The engine stores a live intent already in `posting` (its insert is the claim: one durable
/// write before the post); `created` intents are those of paper mode and of earlier versions.
public enum IntentStatus: String, Hashable, Sendable, CaseIterable, Codable {
    /// Stored, not posted.
    case created
    /// Claimed for posting; the post may or may not have reached the exchange.
    case posting
    /// Accepted and resting (possibly partly matched).
    case open
    /// Matched (fully, or partly with the remainder cancelled).
    case matched
    /// Accepted, nothing matched.
    case unmatched
    /// Cancelled before anything (more) matched, or never posted.
    case cancelled
    /// Definitively refused by the exchange.
    case rejected
    /// Not known to the exchange when looked up after the lease expired.
    case notFound = "not_found"

    /// Whether the intent needs no more work.
    public var isFinal: Bool {
        switch self {
        case .created, .posting, .open: false
        case .matched, .unmatched, .cancelled, .rejected, .notFound: true
        }
    }

    /// The status an exchange order state maps to.
    public init(_ status: ExchangeOrderStatus) {
        switch status {
        case .live, .delayed: self = .open
        case .matched: self = .matched
        case .unmatched: self = .unmatched
        case .cancelled: self = .cancelled
        }
    }
}

/// Cumulative matched amounts of an order.
public struct MatchedTotals: Hashable, Sendable {
    public var shares: Fixed6
    public var collateral: Fixed6
    public var fee: Fixed6
    /// Paper fill priced at the target's price (no book).
    public var pricedFromTarget: Bool

    /// Creates totals.
    public init(shares: Fixed6, collateral: Fixed6, fee: Fixed6, pricedFromTarget: Bool = false) {
        self.shares = shares
        self.collateral = collateral
        self.fee = fee
        self.pricedFromTarget = pricedFromTarget
    }

    /// Nothing matched.
    public static let zero = MatchedTotals(shares: .zero, collateral: .zero, fee: .zero)

    /// The totals as a fill summary.
    public var summary: FillSummary {
        FillSummary(shares: shares, collateral: collateral, fee: fee, pricedFromTarget: pricedFromTarget)
    }
}

/// An order intent, stored BEFORE the order is posted (with the signed order and its salt in live
/// mode), so a crash never leads to posting blindly again.
public struct StoredIntent: Hashable, Sendable {
    public var key: DecisionKey
    /// The target's trade (so a recovery pass can record the decision without the event).
    public var trade: TradeSummary
    public var mode: ExecutionMode
    public var intent: OrderIntent
    /// The signed order (live mode).
    public var signedOrder: SignedOrder?
    /// The order's salt.
    public var salt: UInt256
    public var status: IntentStatus
    /// Cumulative matched so far (fills booked).
    public var matched: MatchedTotals
    /// The exchange's last message (rejection reason, …).
    public var message: String?
    public var createdAt: UnixTime
    /// When the status last changed (the lease of a claim starts here).
    public var updatedAt: UnixTime

    /// Creates an intent in `created` state with nothing matched.
    public init(
        key: DecisionKey, trade: TradeSummary, mode: ExecutionMode, intent: OrderIntent,
        signedOrder: SignedOrder?,
        salt: UInt256, createdAt: UnixTime
    ) {
        self.key = key
        self.trade = trade
        self.mode = mode
        self.intent = intent
        self.signedOrder = signedOrder
        self.salt = salt
        self.status = .created
        self.matched = .zero
        self.message = nil
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    /// The order hash (live mode).
    public var orderHash: Bytes32? { signedOrder?.orderHash }

    /// The fill that growing the matched totals to `matched` books: the increment over what is
    /// matched so far (nil when the shares do not grow; totals never shrink).
    public func fill(growingTo matched: MatchedTotals) -> LedgerFill? {
        guard matched.shares > self.matched.shares else { return nil }
        let old = self.matched
        return LedgerFill(
            tokenId: intent.tokenId, market: intent.market, side: intent.side,
            shares: matched.shares - old.shares,
            collateral: (matched.collateral - old.collateral).clampedAtZero,
            fee: (matched.fee - old.fee).clampedAtZero)
    }
}

/// One fill booked to the ledger: the increment of an order's matched totals.
public struct FillRecord: Hashable, Sendable {
    /// Per-account sequence, assigned by the store, increasing in booking order.
    public var sequence: Int64
    public var key: DecisionKey
    public var mode: ExecutionMode
    public var fill: LedgerFill
    public var pricedFromTarget: Bool
    public var at: UnixTime

    /// Creates a fill record.
    public init(
        sequence: Int64, key: DecisionKey, mode: ExecutionMode, fill: LedgerFill, pricedFromTarget: Bool,
        at: UnixTime
    ) {
        self.sequence = sequence
        self.key = key
        self.mode = mode
        self.fill = fill
        self.pricedFromTarget = pricedFromTarget
        self.at = at
    }
}

/// The result of a successful compare-and-set on an intent.
public struct IntentUpdate: Hashable, Sendable {
    /// The intent after the update.
    public var intent: StoredIntent
    /// The fill booked by the update (the growth of the matched totals), if any.
    public var fill: FillRecord?

    /// Creates an update result.
    public init(intent: StoredIntent, fill: FillRecord?) {
        self.intent = intent
        self.fill = fill
    }
}

/// A ledger as stored, and the last fill it includes.
public struct LedgerSnapshot: Hashable, Sendable {
    public var ledger: Ledger
    /// The sequence of the last fill booked into ``ledger`` (0: none).
    public var throughFill: Int64

    /// Creates a snapshot.
    public init(ledger: Ledger, throughFill: Int64) {
        self.ledger = ledger
        self.throughFill = throughFill
    }
}

/// One trade of a followed wallet as it moves that wallet's holding (for exits).
///
/// A wallet's holding of a token is the fold of its trades that are on the chain, in chain order
/// (block number, then log index; trades at one position in the order they were applied): each
/// BUY adds its shares, each SELL takes them off, never below zero. It depends on the set of
/// trades and their positions only, not on the order deliveries and retractions arrived in.
public struct TargetTrade: Hashable, Sendable {
    public var identity: TradeIdentity
    public var wallet: Address
    public var tokenId: UInt256
    public var side: Side
    public var shares: Fixed6
    /// Where the chain has the trade: its block number …
    public var blockNumber: UInt64
    /// … and log index.
    public var logIndex: UInt64

    /// Creates a target trade at a position on the chain.
    public init(
        identity: TradeIdentity, wallet: Address, tokenId: UInt256, side: Side, shares: Fixed6,
        blockNumber: UInt64 = 0, logIndex: UInt64 = 0
    ) {
        self.identity = identity
        self.wallet = wallet
        self.tokenId = tokenId
        self.side = side
        self.shares = shares
        self.blockNumber = blockNumber
        self.logIndex = logIndex
    }

    /// Its position on the chain, for ordering: block number, then log index.
    public var position: TargetPosition { TargetPosition(blockNumber: blockNumber, logIndex: logIndex) }

    /// The wallet's holding of the token after this trade, from `before`: a BUY adds its shares, a
    /// SELL takes them off (never below zero: the wallet may have bought before it was followed).
    public func holding(after before: Fixed6) -> Fixed6 {
        side == .buy ? before + shares : (before - shares).clampedAtZero
    }
}

/// Where a target trade is on the chain: block number, then log index.
public struct TargetPosition: Hashable, Comparable, Sendable {
    public var blockNumber: UInt64
    public var logIndex: UInt64

    /// Creates a position.
    public init(blockNumber: UInt64, logIndex: UInt64) {
        self.blockNumber = blockNumber
        self.logIndex = logIndex
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.blockNumber, lhs.logIndex) < (rhs.blockNumber, rhs.logIndex)
    }
}

/// The fold that makes a followed wallet's holding of one token from its live trades (see
/// ``TargetTrade``), shared by the stores so that all of them compute it alike.
public enum TargetHoldingFold {
    /// For each of `trades` (given in chain order) the holding before it and what it changed, and
    /// the holding after them all.
    public static func fold(
        _ trades: [(side: Side, shares: Fixed6)]
    ) -> (steps: [(before: Fixed6, delta: Fixed6)], holding: Fixed6) {
        var holding = Fixed6.zero
        var steps: [(before: Fixed6, delta: Fixed6)] = []
        steps.reserveCapacity(trades.count)
        for trade in trades {
            let after = trade.side == .buy ? holding + trade.shares : (holding - trade.shares).clampedAtZero
            steps.append((holding, after - holding))
            holding = after
        }
        return (steps, holding)
    }
}

/// Why the store failed.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Where deciding a trade starts (``CopyStateStore/beginDecision(_:trade:applying:)``).
public enum DecisionStart: Hashable, Sendable {
    /// The trade was decided before: its recorded decision, at the position of this delivery.
    case decided(DecisionRecord)
    /// The trade was decided, a reorg removed it, and the chain includes it again (this delivery):
    /// its decision, no longer flagged retracted, at its new position. It stands as it is: a copy
    /// is not made again, an order placed for it stays as it is.
    case reinstated(DecisionRecord)
    /// A reorg removed the trade before it was decided on its merits (its decision was only the
    /// retraction's skip, and no order intent was ever stored for it) and the chain includes it
    /// again: that skip is gone and the trade is decided as a new one. The followed wallet's
    /// holding of the token before the trade.
    case reopened(holding: TargetHolding)
    /// Not decided yet: the followed wallet's holding of the token before the trade, and the
    /// intent an earlier attempt stored for the key, if any (at the position of this delivery).
    case undecided(holding: TargetHolding, intent: StoredIntent?)
}

/// What ``CopyStateStore/concludeIntent(_:expecting:to:matched:message:at:decide:)`` wrote.
public struct IntentConclusion: Hashable, Sendable {
    /// The intent after the update, and the fill it booked.
    public var update: IntentUpdate
    /// The stored decision (an existing one when the key had one already).
    public var decision: DecisionRecord
    /// Whether this call stored the decision.
    public var inserted: Bool

    /// Creates a conclusion.
    public init(update: IntentUpdate, decision: DecisionRecord, inserted: Bool) {
        self.update = update
        self.decision = decision
        self.inserted = inserted
    }
}

/// The copy engine's durable state, implemented by the SQLite and PostgreSQL stores (and
/// ``InMemoryCopyStateStore`` for tests). Methods throw ``StoreError`` (or the implementation's
/// own errors); untyped `throws` because typed throws on async functions miscompiled in Swift 6.3.
///
/// Designed for several executor processes sharing one database:
/// - Every write is idempotent and keyed: decisions by ``DecisionKey`` (insert-if-absent, the first
///   writer wins and everyone gets the stored value), target trades by identity, fills by the
///   matched totals they grow.
/// - Intent status changes are compare-and-set (``updateIntent(_:expecting:to:matched:message:at:)``),
///   so exactly one executor claims an intent for posting (`created` → `posting`) and fills are booked
///   once however many executors observe the same exchange state.
/// - Claims expire: ``unresolvedIntents(account:updatedBefore:)`` lists intents whose claim is older
///   than a lease, for the recovery pass of any executor.
/// - Reorgs are state flags, never blind increments: a target trade is applied or retracted
///   (``retractTargetTrade(_:)``; applied again when delivered again), a decision flagged retracted
///   or not (``markRetracted(_:)``, ``markIncluded(_:at:)``), so a step done twice (a trade or a
///   retraction delivered again after a crash) changes nothing the second time.
/// - All amounts are exact (six-decimal integers); a SQL implementation stores them as integers of
///   millionths (`NUMERIC(39,0)`/`TEXT` for 256-bit ids).
public protocol CopyStateStore: Sendable {
    /// The decision for `key`, if one was recorded.
    func decision(for key: DecisionKey) async throws -> DecisionRecord?

    /// Records `record` unless a decision for its key exists; returns the stored decision (the
    /// existing one when there was one) and whether this call stored it. Exactly one decision per
    /// key, across processes: of concurrent callers with the same key exactly one gets `true`.
    func recordDecision(_ record: DecisionRecord) async throws -> (record: DecisionRecord, inserted: Bool)

    /// Flags the decision for `key` as retracted by a reorg; returns it (nil when none).
    func markRetracted(_ key: DecisionKey) async throws -> DecisionRecord?

    /// Records that the trade of `key` is on the chain where `trade` (its summary as delivered)
    /// places it: the decision's retraction flag is cleared and its block number and log index
    /// become `trade`'s (``TradeSummary/moved(to:)``). Returns it (nil when none). Nothing else of
    /// the decision changes.
    func markIncluded(_ key: DecisionKey, at trade: TradeSummary) async throws -> DecisionRecord?

    /// Stores `intent` unless one exists for its key; returns the stored intent.
    func storeIntent(_ intent: StoredIntent) async throws -> StoredIntent

    /// The intent for `key`, if any.
    func intent(for key: DecisionKey) async throws -> StoredIntent?

    /// Compare-and-set: if the intent's status is in `expecting`, sets `status` (and `message`),
    /// and when `matched` grows the cumulative totals, books the increment as a new fill with the
    /// next sequence, all atomically. Returns nil when the status did not match (someone else moved
    /// it). Matched totals never shrink.
    func updateIntent(
        _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?,
        message: String?, at: UnixTime
    ) async throws -> IntentUpdate?

    /// Concludes an intent with what the exchange answered, in one atomic write: the
    /// compare-and-set of ``updateIntent(_:expecting:to:matched:message:at:)``, then the decision
    /// `decide` makes of the updated intent, recorded as ``recordDecision(_:)`` does. Nil, with
    /// nothing written, when the status did not match.
    ///
    /// Written *synced later* (the commit is not waited onto the disk): the exchange's answer can
    /// be learned again by looking the order up. If a power loss drops this write, the intent is
    /// back in the state its claim left it (written synced before the post), and the recovery
    /// pass looks the order up; the store keeps commit order, so nothing written after this
    /// survives without it. A claim (`created` → `posting`) must never go through here.
    ///
    /// `claimed` is the intent as the caller stored or read it. What never changes once an intent
    /// is stored (its key, trade, order, signed order, salt, mode and creation time) may be taken
    /// from it instead of being read back; the status, matched totals and message compared and
    /// updated are always the stored ones.
    func concludeIntent(
        _ claimed: StoredIntent, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?,
        message: String?, at: UnixTime, decide: @escaping @Sendable (StoredIntent) -> DecisionRecord
    ) async throws -> IntentConclusion?

    /// Begins deciding `key` for a delivery of its trade (`trade`, the summary as delivered: after
    /// a reorg its position may be new; `target`, the followed wallet's trade), in one atomic step:
    ///
    /// - Recorded, and the decision is not only a retraction's skip: ``DecisionStart/decided(_:)``,
    ///   or ``DecisionStart/reinstated(_:)`` when it was flagged retracted (the flag is cleared). The
    ///   decision moves to `trade`'s position (as ``markIncluded(_:at:)``), and `target` is applied
    ///   again if a reorg had retracted it, or moved if it is applied at another position (a
    ///   target trade never applied is not applied here).
    /// - Recorded as `.skipped(.retracted)` (a reorg removed the trade before it was decided) with
    ///   no intent stored for the key: that decision is removed, `target` applied (again), and
    ///   ``DecisionStart/reopened(holding:)`` returned with the holding before it. Never with an
    ///   intent: an order may exist, and a trade is never copied twice.
    /// - Not recorded: applies `target` as ``applyTargetTrade(_:)`` does and returns the holding
    ///   before it, with the intent stored for the key, if any, moved to `trade`'s position.
    ///
    /// Written synced later, as ``applyTargetTrade(_:)``: a delivery lost with it is delivered
    /// and taken again. Taken twice, the second step finds the state the first one left (the
    /// target applied, the decision included or reopened) and changes nothing.
    func beginDecision(
        _ key: DecisionKey, trade: TradeSummary, applying target: TargetTrade
    ) async throws -> DecisionStart

    /// Intents of `account` that are not final and were last updated before `updatedBefore`.
    func unresolvedIntents(account: AccountID, updatedBefore: UnixTime) async throws -> [StoredIntent]

    /// Fills of `account` with a sequence above `sequence`, in order.
    func fills(account: AccountID, after sequence: Int64) async throws -> [FillRecord]

    /// The latest ledger snapshot of `account`.
    func loadLedger(account: AccountID) async throws -> LedgerSnapshot?

    /// Saves a snapshot unless a newer one (higher ``LedgerSnapshot/throughFill``) is stored.
    func saveLedger(account: AccountID, _ snapshot: LedgerSnapshot) async throws

    /// Records (upserts) the PnL of one UTC day.
    func recordDailyPnL(account: AccountID, _ pnl: DailyPnL) async throws

    /// The recorded PnL of `day`.
    func dailyPnL(account: AccountID, day: UTCDay) async throws -> DailyPnL?

    /// Applies a followed wallet's trade to that wallet's tracked holding of the token, once per
    /// identity, at the trade's position, and returns the holding *before* it there (see
    /// ``TargetTrade`` for the fold that makes the holding). Applied again at the same position, it
    /// changes nothing and returns the recorded holding before it. Delivered at another position
    /// (mined again after a reorg), it moves there. A trade retracted by ``retractTargetTrade(_:)``
    /// is delivered again when the chain includes it again: it is applied again, once, at its new
    /// position. A trade placed before live trades of the same holding makes the store fold that
    /// holding again, which updates the holding recorded before each of them.
    func applyTargetTrade(_ trade: TargetTrade) async throws -> TargetHolding

    /// Undoes an applied target trade (a reorg removed it): the holding is folded again without
    /// it. False when it was not applied or already undone. The trade stays recorded, flagged
    /// retracted, so that applying it again (``applyTargetTrade(_:)``) applies it once more, once.
    func retractTargetTrade(_ identity: TradeIdentity) async throws -> Bool

    /// The tracked holding of `tokenId` by the followed `wallet`: zero when none.
    func targetHolding(wallet: Address, tokenId: UInt256) async throws -> Fixed6
}

// Synthesized storage forms (here, because synthesis needs the declaring file). Renaming a
// property changes the stored JSON: keep them stable.

extension TradeSummary: Codable {}

extension MatchedTotals: Codable {}
