import EVM
import Polymarket
import Synchronization

/// ``CopyStateStore`` in memory, for tests and paper replays. Every operation is atomic under
/// one lock, with the same semantics a SQL store gives with transactions.
public final class InMemoryCopyStateStore: CopyStateStore {
    struct TargetKey: Hashable {
        var wallet: Address
        var tokenId: UInt256
    }

    struct AppliedTargetTrade {
        var trade: TargetTrade
        var before: Fixed6
        var retracted: Bool
        /// The order it was first applied in: breaks ties between trades at one position.
        var sequence: Int
    }

    struct State {
        var decisions: [DecisionKey: DecisionRecord] = [:]
        var intents: [DecisionKey: StoredIntent] = [:]
        var fills: [AccountID: [FillRecord]] = [:]
        var ledgers: [AccountID: LedgerSnapshot] = [:]
        var daily: [AccountID: [UTCDay: DailyPnL]] = [:]
        var holdings: [TargetKey: Fixed6] = [:]
        var applied: [TradeIdentity: AppliedTargetTrade] = [:]
        /// How many target trades were applied (the sequence of the last).
        var appliedCount = 0
        /// The position of the last live trade of each holding, in chain order.
        var latest: [TargetKey: TargetPosition] = [:]
        /// How many times `recordDecision` was called for a key that already had a decision.
        var duplicateDecisionAttempts = 0
        /// How many times `updateIntent` changed an intent.
        var intentUpdates = 0
        /// The latest writing operations called, in order (at most ``writeLogLength``).
        var writes: [String] = []

        mutating func noteWrite(_ name: String) {
            writes.append(name)
            if writes.count > InMemoryCopyStateStore.writeLogLength {
                writes.removeFirst(writes.count - InMemoryCopyStateStore.writeLogLength)
            }
        }
    }

    /// How many of the latest writes ``writes`` keeps (a replay makes millions).
    public static let writeLogLength = 64

    private let state = Mutex(State())
    /// When set, every operation fails with this error (to test store outages).
    private let failure = Mutex<StoreError?>(nil)

    /// Creates an empty store.
    public init() {}

    /// Makes every operation fail (nil restores normal operation).
    public func setFailure(_ error: StoreError?) { failure.withLock { $0 = error } }

    /// All decisions, by key order.
    public var allDecisions: [DecisionRecord] {
        state.withLock { $0.decisions.values.sorted { $0.key < $1.key } }
    }

    /// All intents, by key order.
    public var allIntents: [StoredIntent] { state.withLock { $0.intents.values.sorted { $0.key < $1.key } } }

    /// Calls of ``updateIntent(_:expecting:to:matched:message:at:)`` that changed an intent.
    public var intentUpdates: Int { state.withLock { $0.intentUpdates } }

    /// The names of the latest writing operations (up to ``writeLogLength``), in order (`recordDecision`,
    /// `storeIntent`, `updateIntent`, `concludeIntent`, `beginDecision`, `applyTargetTrade`,
    /// `saveLedger`, `recordDailyPnL`, `markRetracted`, `markIncluded`, `retractTargetTrade`).
    public var writes: [String] { state.withLock { $0.writes } }

    /// Calls of ``recordDecision(_:)`` for keys that already had a decision.
    public var duplicateDecisionAttempts: Int { state.withLock { $0.duplicateDecisionAttempts } }

    /// The tracked holding of a followed wallet.
    public func targetHolding(wallet: Address, tokenId: UInt256) -> Fixed6 {
        state.withLock { $0.holdings[TargetKey(wallet: wallet, tokenId: tokenId)] ?? .zero }
    }

    private func check() throws {
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// A writing operation: fails as ``check()`` does, else notes `name` in ``writes`` and runs
    /// `body`, under one lock.
    private func write<T>(_ name: String, _ body: (inout State) -> T) throws -> T {
        try check()
        return state.withLock { state in
            state.noteWrite(name)
            return body(&state)
        }
    }

    public func decision(for key: DecisionKey) async throws -> DecisionRecord? {
        try check()
        return state.withLock { $0.decisions[key] }
    }

    public func recordDecision(
        _ record: DecisionRecord
    ) async throws -> (record: DecisionRecord, inserted: Bool) {
        try write("recordDecision") { Self.insert(&$0, record) }
    }

    public func markRetracted(_ key: DecisionKey) async throws -> DecisionRecord? {
        try write("markRetracted") { state in
            state.decisions[key]?.retracted = true
            return state.decisions[key]
        }
    }

    public func markIncluded(_ key: DecisionKey, at trade: TradeSummary) async throws -> DecisionRecord? {
        try write("markIncluded") { state in
            state.decisions[key].map { Self.include(&state, $0, at: trade) }
        }
    }

    /// Stores `record` no longer flagged retracted, at `trade`'s position, and returns it.
    private static func include(
        _ state: inout State, _ record: DecisionRecord, at trade: TradeSummary
    ) -> DecisionRecord {
        var included = record
        included.retracted = false
        included.trade = record.trade.moved(to: trade)
        state.decisions[record.key] = included
        return included
    }

    public func storeIntent(_ intent: StoredIntent) async throws -> StoredIntent {
        try write("storeIntent") { state in
            if let existing = state.intents[intent.key] { return existing }
            state.intents[intent.key] = intent
            return intent
        }
    }

    public func intent(for key: DecisionKey) async throws -> StoredIntent? {
        try check()
        return state.withLock { $0.intents[key] }
    }

    public func updateIntent(
        _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?,
        message: String?, at: UnixTime
    ) async throws -> IntentUpdate? {
        try write("updateIntent") { state in
            Self.update(
                &state, key, expecting: expecting, to: status, matched: matched, message: message, at: at)
        }
    }

    private static func update(
        _ state: inout State, _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?, message: String?, at: UnixTime
    ) -> IntentUpdate? {
        guard var intent = state.intents[key], expecting.contains(intent.status) else { return nil }
        intent.status = status
        if let message { intent.message = message }
        intent.updatedAt = at
        var booked: FillRecord?
        if let matched, let fill = intent.fill(growingTo: matched) {
            let sequence = Int64((state.fills[key.account]?.last?.sequence ?? 0) + 1)
            let record = FillRecord(
                sequence: sequence, key: key, mode: intent.mode, fill: fill,
                pricedFromTarget: matched.pricedFromTarget, at: at)
            state.fills[key.account, default: []].append(record)
            intent.matched = matched
            booked = record
        }
        state.intents[key] = intent
        state.intentUpdates += 1
        return IntentUpdate(intent: intent, fill: booked)
    }

    private static func insert(_ state: inout State, _ record: DecisionRecord) -> (DecisionRecord, Bool) {
        if let existing = state.decisions[record.key] {
            state.duplicateDecisionAttempts += 1
            return (existing, false)
        }
        state.decisions[record.key] = record
        return (record, true)
    }

    /// Applies `trade` at its position unless it is applied there (a retracted one again, a moved
    /// one where it is now); the holding before it.
    private static func apply(_ state: inout State, _ trade: TargetTrade) -> TargetHolding {
        let key = TargetKey(wallet: trade.wallet, tokenId: trade.tokenId)
        if var applied = state.applied[trade.identity] {
            if !applied.retracted && applied.trade.position == trade.position {
                return TargetHolding(sharesBefore: applied.before)
            }
            applied.retracted = false
            applied.trade.blockNumber = trade.blockNumber
            applied.trade.logIndex = trade.logIndex
            state.applied[trade.identity] = applied
            refold(&state, key)
            return TargetHolding(sharesBefore: state.applied[trade.identity]?.before ?? .zero)
        }
        let before = state.holdings[key] ?? .zero
        state.appliedCount += 1
        state.applied[trade.identity] = AppliedTargetTrade(
            trade: trade, before: before, retracted: false, sequence: state.appliedCount)
        if let latest = state.latest[key], latest > trade.position {
            refold(&state, key)
            return TargetHolding(sharesBefore: state.applied[trade.identity]?.before ?? .zero)
        }
        state.holdings[key] = trade.holding(after: before)
        state.latest[key] = trade.position
        return TargetHolding(sharesBefore: before)
    }

    /// Makes the holding `key` again from its live trades in chain order (``TargetHoldingFold``),
    /// recording the holding before each.
    private static func refold(_ state: inout State, _ key: TargetKey) {
        let live = state.applied.values.filter {
            !$0.retracted && $0.trade.wallet == key.wallet && $0.trade.tokenId == key.tokenId
        }.sorted { ($0.trade.position, $0.sequence) < ($1.trade.position, $1.sequence) }
        let (steps, holding) = TargetHoldingFold.fold(live.map { ($0.trade.side, $0.trade.shares) })
        for (trade, step) in zip(live, steps) { state.applied[trade.trade.identity]?.before = step.before }
        state.holdings[key] = holding
        state.latest[key] = live.last?.trade.position
    }

    public func concludeIntent(
        _ claimed: StoredIntent, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?,
        message: String?, at: UnixTime, decide: @escaping @Sendable (StoredIntent) -> DecisionRecord
    ) async throws -> IntentConclusion? {
        try write("concludeIntent") { state -> IntentConclusion? in
            guard
                let update = Self.update(
                    &state, claimed.key, expecting: expecting, to: status, matched: matched, message: message,
                    at: at)
            else { return nil }
            let (record, inserted) = Self.insert(&state, decide(update.intent))
            return IntentConclusion(update: update, decision: record, inserted: inserted)
        }
    }

    public func beginDecision(
        _ key: DecisionKey, trade: TradeSummary, applying target: TargetTrade
    ) async throws -> DecisionStart {
        try write("beginDecision") { state in
            if let decided = state.decisions[key] {
                if decided.decision == .skipped(.retracted), state.intents[key] == nil {
                    state.decisions[key] = nil
                    return .reopened(holding: Self.apply(&state, target))
                }
                if state.applied[target.identity] != nil { _ = Self.apply(&state, target) }
                let included = Self.include(&state, decided, at: trade)
                return decided.retracted ? .reinstated(included) : .decided(included)
            }
            let holding = Self.apply(&state, target)
            if var intent = state.intents[key] {
                intent.trade = intent.trade.moved(to: trade)
                state.intents[key] = intent
                return .undecided(holding: holding, intent: intent)
            }
            return .undecided(holding: holding, intent: nil)
        }
    }

    public func unresolvedIntents(
        account: AccountID, updatedBefore: UnixTime
    ) async throws
        -> [StoredIntent]
    {
        try check()
        return state.withLock { state in
            state.intents.values.filter {
                $0.key.account == account && !$0.status.isFinal && $0.updatedAt < updatedBefore
            }.sorted { $0.createdAt < $1.createdAt }
        }
    }

    public func fills(account: AccountID, after sequence: Int64) async throws -> [FillRecord] {
        try check()
        return state.withLock { ($0.fills[account] ?? []).filter { $0.sequence > sequence } }
    }

    public func loadLedger(account: AccountID) async throws -> LedgerSnapshot? {
        try check()
        return state.withLock { $0.ledgers[account] }
    }

    public func saveLedger(account: AccountID, _ snapshot: LedgerSnapshot) async throws {
        try write("saveLedger") { state in
            if let stored = state.ledgers[account], stored.throughFill > snapshot.throughFill { return }
            state.ledgers[account] = snapshot
        }
    }

    public func recordDailyPnL(account: AccountID, _ pnl: DailyPnL) async throws {
        try write("recordDailyPnL") { $0.daily[account, default: [:]][pnl.day] = pnl }
    }

    public func dailyPnL(account: AccountID, day: UTCDay) async throws -> DailyPnL? {
        try check()
        return state.withLock { $0.daily[account]?[day] }
    }

    public func applyTargetTrade(_ trade: TargetTrade) async throws -> TargetHolding {
        try write("applyTargetTrade") { Self.apply(&$0, trade) }
    }

    public func retractTargetTrade(_ identity: TradeIdentity) async throws -> Bool {
        try write("retractTargetTrade") { state in
            guard var applied = state.applied[identity], !applied.retracted else { return false }
            applied.retracted = true
            state.applied[identity] = applied
            Self.refold(&state, TargetKey(wallet: applied.trade.wallet, tokenId: applied.trade.tokenId))
            return true
        }
    }
}
