import EVM
import Logging
import Polymarket
import Synchronization

/// A trade of a followed wallet as the engine receives it, or its retraction by a reorg.
public struct CopyTrade: Hashable, Sendable {
    /// A trade, or the retraction of one already delivered.
    public enum Kind: Hashable, Sendable {
        case trade
        case retracted
    }

    /// The trade's identity (stable across re-inclusion): decisions are keyed by it.
    public var identity: TradeIdentity
    public var kind: Kind
    public var trade: TradeEvent
    /// The trade's block timestamp, when the caller knows it (for the stale-trade cut-off).
    public var blockTime: UnixTime?

    /// Creates an engine input.
    public init(identity: TradeIdentity, kind: Kind = .trade, trade: TradeEvent, blockTime: UnixTime? = nil) {
        self.identity = identity
        self.kind = kind
        self.trade = trade
        self.blockTime = blockTime
    }
}

// Synthesized here: the stored form of a trade queued for the executors (cluster mode).
extension CopyTrade.Kind: Codable {}
extension CopyTrade: Codable {}

/// The first store step of a trade's decision (or of a retraction's), taken by
/// ``CopyEngine/begin(_:)`` ahead of ``CopyEngine/handle(_:turn:begun:)``.
public struct DecisionBeginning: Sendable {
    /// What the step did.
    enum Step: Sendable {
        /// A trade's: what the step read, or how the store failed.
        case trade(Result<DecisionStart, any Error>)
        /// A retraction's: whether it took the followed wallet's trade off its holding, or how the
        /// store failed.
        case retraction(Result<Bool, any Error>)

        /// Whether the step was cut short by a cancellation (a shutdown stopped the task that took
        /// it ahead) rather than failed: the handling takes it again itself.
        var interrupted: Bool {
            switch self {
            case .trade(.failure(let error)): error is CancellationError
            case .retraction(.failure(let error)): error is CancellationError
            default: false
            }
        }
    }

    /// The decision's key (the engine's account and the trade's identity).
    public let key: DecisionKey
    /// What the step did.
    let step: Step
}

/// Counters of the engine, for status and metrics.
public struct EngineStatistics: Hashable, Sendable {
    /// Decisions recorded by this process, by kind.
    public var copied = 0
    public var skipped = 0
    public var failed = 0
    /// Skips by rule name.
    public var skippedByRule: [String: Int] = [:]
    /// Failures by reason name.
    public var failedByReason: [String: Int] = [:]
    /// Trades handled again that already had a decision (returned, not decided again).
    public var alreadyDecided = 0
    /// Copied trades that a reorg later removed (flagged; not unwound).
    public var retractedAfterCopy = 0
    /// Trades a reorg removed that the chain then included again: their decision reinstated (a
    /// copy is not made again), or, when the trade had not been decided on its merits, decided as
    /// a new trade.
    public var reincluded = 0
    /// Posts whose outcome is not known yet (resolved later by look-up).
    public var unresolved = 0
    /// Fills the ledger refused (should stay zero).
    public var ledgerErrors = 0

    /// Creates zeroed counters.
    public init() {}
}

/// The executor core: each trade goes through sizing → risk → paper fill or live order (sign →
/// store intent → post → record outcome), and ends in exactly one decision recorded in the store.
///
/// Exactly once: the store's decision for the trade's key is checked first and wins every race;
/// an intent is stored before an order is posted and claimed (`created` → `posting`) by one
/// executor; an intent found without a decision is resumed (looked up, never posted blindly).
///
/// `handle` never throws. Two results are not recorded decisions: `.failed(.store)` (the store
/// failed; the caller should not acknowledge the trade, so it comes again) and
/// `.failed(.outcomeUnknown)` (the order's fate is unknown; the intent is durable and
/// ``resolveUnresolvedIntents()`` records the decision once it is known).
public final class CopyEngine: Sendable {
    /// The configuration.
    public let configuration: EngineConfiguration
    /// The ledger shared by this account's executors.
    public let portfolio: Portfolio
    /// The breaker shared by all executors.
    public let breaker: CircuitBreaker

    private let store: any CopyStateStore
    private let gateway: any ExchangeGateway
    private let signer: (any OrderSigning)?
    private let killSwitch: any KillSwitch
    private let clock: any WallClock
    private let logger: Logger
    private let reservations = Mutex<[DecisionKey: Reservation]>([:])
    /// The lane turns of the trades being handled (``handle(_:turn:)``), released when their order
    /// is on its way, settled when its answer is booked.
    private let turns = Mutex<[DecisionKey: LaneTurn]>([:])
    /// Retractions begun (``begin(_:)``) whose handling has not ended, counted by key: a trade
    /// delivered again after one (its re-inclusion) takes its first step once that one is handled.
    private let retractionsInFlight = Mutex<[DecisionKey: Int]>([:])
    /// Trades whose first step ``begin(_:)`` took and whose handling has not ended: a delivery of
    /// the same trade after it (the listener delivers a trade again where a reorg moved it) takes
    /// its first step once that one is handled, so it finds the trade decided and only moves it.
    private let tradesInFlight = Mutex<Set<DecisionKey>>([])
    /// The last fill of the last ledger snapshot stored (or restored).
    private let snapshotThrough: Mutex<Int64>
    private let statisticsBox = Mutex(EngineStatistics())

    /// Creates an engine. `signer` is required in live mode.
    public init(
        configuration: EngineConfiguration, store: any CopyStateStore, gateway: any ExchangeGateway,
        signer: (any OrderSigning)?, portfolio: Portfolio, breaker: CircuitBreaker,
        killSwitch: any KillSwitch,
        clock: any WallClock, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.gateway = gateway
        self.signer = signer
        self.portfolio = portfolio
        self.snapshotThrough = Mutex(portfolio.snapshot?.throughFill ?? 0)
        self.breaker = breaker
        self.killSwitch = killSwitch
        self.clock = clock
        self.logger = logger
    }

    /// The ledger as stored for `account`: the latest snapshot plus every fill booked after it
    /// (a fresh ledger with `initialCash` when nothing is stored).
    public static func restoreLedger(
        store: any CopyStateStore, account: AccountID, initialCash: Fixed6, day: UTCDay
    ) async throws -> LedgerSnapshot {
        var snapshot =
            try await store.loadLedger(account: account)
            ?? LedgerSnapshot(ledger: Ledger(cash: initialCash, day: day), throughFill: 0)
        for record in try await store.fills(account: account, after: snapshot.throughFill) {
            do {
                try snapshot.ledger.apply(record.fill)
            } catch {
                // A fill the ledger refuses is skipped, as it was when first booked.
            }
            snapshot.throughFill = record.sequence
        }
        snapshot.ledger.roll(to: day)
        return snapshot
    }

    /// The exchange this engine trades on.
    public var exchange: any ExchangeGateway { gateway }

    /// The counters so far.
    public var statistics: EngineStatistics { statisticsBox.withLock { $0 } }

    /// Told of a trade the node has just announced, before it is confirmed and handed to
    /// ``handle(_:)``: starts reading what the decision will need (the token's book), so the
    /// decision does not wait for it. The trade may yet be orphaned; nothing is decided here.
    /// Nothing is read for a trade the decision will skip before it needs a book (kill switch,
    /// open breaker, denied token, a SELL of a token we hold none of and are not buying).
    public func anticipate(_ trade: TradeEvent) {
        if configuration.risk.deniedTokens.contains(trade.tokenId) { return }
        if trade.side == .sell, sellsNothing(trade.tokenId), !portfolio.buying(trade.tokenId) { return }
        if configuration.mode == .live, case .open = breaker.state { return }
        if killSwitch.engaged() != nil { return }
        gateway.prefetchBook(tokenID: trade.tokenId)
    }

    /// Whether a SELL of `token` is certain to be skipped for want of a position before its book
    /// and market are read: we hold none of it to sell, and no market list needs its market.
    private func sellsNothing(_ token: UInt256) -> Bool {
        !configuration.risk.usesMarketLists && !portfolio.availableShares(token).isPositive
    }

    /// Whether `next` may be decided beside `running`, an earlier trade of its token whose order is
    /// on its way (see ``handle(_:turn:)``): both are trades on the same side of the same token.
    ///
    /// Deciding a trade beside an earlier one of its side counts that one's order as filled as far
    /// as it can go: its reservation holds back the collateral (BUY) or shares (SELL) it may use,
    /// and the book is the one it was priced on less what it may take at its limit. A trade on the
    /// other side (a SELL of what a BUY is buying) waits for the answer, so it sees what was filled.
    /// A delivery of the same trade again (a reorg moved it) never overlaps its earlier one: it waits
    /// for that one's decision, and then only moves it.
    public static func mayOverlap(running: CopyTrade, next: CopyTrade) -> Bool {
        running.kind == .trade && next.kind == .trade && running.trade.tokenId == next.trade.tokenId
            && running.trade.side == next.trade.side && running.identity != next.identity
    }

    /// Takes the first store step of deciding `event`, for ``handle(_:turn:begun:)``: for a trade,
    /// ``CopyStateStore/beginDecision(_:trade:applying:)`` (whether it was decided, and the
    /// followed wallet's holding before it, applying it); for a retraction,
    /// ``CopyStateStore/retractTargetTrade(_:)`` (the retracted trade taken off that holding).
    ///
    /// It reads and applies nothing that depends on how earlier trades of the token end, so it may
    /// run while the token's earlier trades are decided; the events of one token must begin in the
    /// order they are handled (each sees the holding as the events before it left it). Nil for a
    /// trade that is not a valid fill (its handling takes no such step), and for a trade whose
    /// retraction was begun here and is not handled yet: that is the trade mined again after a
    /// reorg, and whether its decision is reinstated or made anew depends on what the retraction's
    /// handling records, so its step is taken when it is handled.
    public func begin(_ event: CopyTrade) async -> DecisionBeginning? {
        let key = DecisionKey(account: configuration.account, identity: event.identity)
        switch event.kind {
        case .retracted:
            retractionsInFlight.withLock { $0[key, default: 0] += 1 }
            do {
                return DecisionBeginning(
                    key: key, step: .retraction(.success(try await store.retractTargetTrade(event.identity))))
            } catch {
                return DecisionBeginning(key: key, step: .retraction(.failure(error)))
            }
        case .trade:
            guard let fill = Self.fill(of: event.trade) else { return nil }
            if retractionsInFlight.withLock({ $0[key] != nil }) { return nil }
            // Nil for a delivery of a trade whose earlier delivery is begun and not handled yet.
            guard tradesInFlight.withLock({ $0.insert(key).inserted }) else { return nil }
            do {
                return DecisionBeginning(
                    key: key,
                    step: .trade(
                        .success(
                            try await store.beginDecision(
                                key, trade: TradeSummary(event.trade),
                                applying: Self.target(event, shares: fill.shares)))))
            } catch {
                return DecisionBeginning(key: key, step: .trade(.failure(error)))
            }
        }
    }

    /// Decides `event` once: returns the recorded decision (the existing one if the trade was
    /// decided before, by this or another executor).
    ///
    /// A live order releases `turn` once it is stored and on its way to the exchange (while the
    /// breaker is closed), so that the token's next trade may be decided beside it (see
    /// ``mayOverlap(running:next:)``), and settles it once the order's answer is booked in the
    /// portfolio, before the decision's bookkeeping writes (the day's PnL, a ledger snapshot), so
    /// that the token's next trade on the other side need not wait for them; otherwise the turn is
    /// left to the caller.
    ///
    /// - Parameter begun: the trade's first store step, when ``begin(_:)`` took it already (it is
    ///   taken here otherwise). One taken for another trade or account is not used.
    public func handle(
        _ event: CopyTrade, turn: LaneTurn? = nil, begun: DecisionBeginning? = nil
    ) async -> CopyDecision {
        let key = DecisionKey(account: configuration.account, identity: event.identity)
        if let turn { turns.withLock { $0[key] = turn } }
        defer { if turn != nil { turns.withLock { _ = $0.removeValue(forKey: key) } } }
        do {
            switch event.kind {
            case .trade:
                let step = begun?.key == key ? begun?.step : nil
                // Handled (or failed, and taken again without a step taken ahead): a later delivery
                // of the trade may take its first step ahead again.
                defer { if case .trade = step { _ = tradesInFlight.withLock { $0.remove(key) } } }
                return try await decideOnce(key, event, begun: step?.interrupted == true ? nil : step)
            case .retracted:
                let step = begun?.key == key ? begun?.step : nil
                let decision = try await retract(key, event, begun: step?.interrupted == true ? nil : step)
                // Handled (a store failure throws past this: the retraction is handled again).
                retractionsInFlight.withLock { inFlight in
                    guard let count = inFlight[key] else { return }
                    inFlight[key] = count > 1 ? count - 1 : nil
                }
                return decision
            }
        } catch {
            let message = (error as? StoreError)?.message ?? "\(error)"
            if error is FencedWrite {
                // Another executor holds the account now: the one that held it logs the refusal and
                // drops the account; the trade stays queued for the new holder.
                logger.debug("trade \(key) left to the account's new holder: \(message)")
                return .failed(.fenced(message))
            } else if error is CancellationError || Task.isCancelled {
                logger.debug("trade \(key) interrupted by the shutdown; it stays queued")
            } else {
                logger.error("store failed for trade \(key): \(message)")
            }
            return .failed(.store(message))
        }
    }

    /// Resolves intents whose claim is older than the lease (after a crash, or posts whose outcome
    /// was unknown): looks each order up and records its decision. Returns the decisions recorded.
    @discardableResult
    public func resolveUnresolvedIntents() async -> [DecisionKey: CopyDecision] {
        let before = clock.now().adding(seconds: -configuration.intentLeaseSeconds)
        var resolved: [DecisionKey: CopyDecision] = [:]
        do {
            for intent in try await store.unresolvedIntents(
                account: configuration.account, updatedBefore: before)
            {
                if try await store.decision(for: intent.key) != nil, intent.status != .open { continue }
                resolved[intent.key] = try await resume(intent)
            }
        } catch is FencedWrite {
            logger.debug("intents left to the account's new holder")
        } catch {
            if Task.isCancelled {
                logger.debug("resolving intents interrupted by the shutdown")
            } else {
                logger.error("store failed while resolving intents: \(error)")
            }
        }
        return resolved
    }

    // MARK: Deciding

    /// The shares, collateral and price of `trade` as a valid fill (nil when it is not one).
    private static func fill(of trade: TradeEvent) -> (shares: Fixed6, collateral: Fixed6, price: Fixed6)? {
        guard let shares = Fixed6(trade.shares), let collateral = Fixed6(trade.collateral),
            let price = Fixed6(trade.price), shares.isPositive, price.isPositive, price < .one
        else { return nil }
        return (shares, collateral, price)
    }

    /// The followed wallet's trade, as applied to its holding.
    private static func target(_ event: CopyTrade, shares: Fixed6) -> TargetTrade {
        TargetTrade(
            identity: event.identity, wallet: event.trade.wallet, tokenId: event.trade.tokenId,
            side: event.trade.side == .buy ? .buy : .sell, shares: shares,
            blockNumber: event.trade.blockNumber, logIndex: event.trade.logIndex)
    }

    private func decideOnce(
        _ key: DecisionKey, _ event: CopyTrade, begun: DecisionBeginning.Step?
    ) async throws -> CopyDecision {
        let trade = event.trade
        let summary = TradeSummary(trade)
        guard let (shares, collateral, price) = Self.fill(of: trade) else {
            // Recorded unless decided before (the store keeps the first decision); one decided
            // before is on the chain where this delivery says (again, if a reorg removed it).
            let (stored, inserted) = try await store.recordDecision(
                DecisionRecord(
                    key: key, trade: summary,
                    decision: .failed(
                        .invalidTrade(
                            "shares \(trade.shares), collateral \(trade.collateral), price \(trade.price) are not a valid fill"
                        )),
                    decidedAt: clock.now()))
            if !inserted, stored.retracted || stored.trade.moved(to: summary) != stored.trade,
                let included = try await store.markIncluded(key, at: summary)
            {
                if stored.retracted { noteReincluded(key, included.trade, standing: included.decision) }
                return noteRecorded(included, inserted: false)
            }
            return noteRecorded(stored, inserted: inserted)
        }
        // One store step: the decision if there is one, else the target's holding and any intent.
        let start: DecisionStart
        if case .trade(let begun) = begun {
            start = try begun.get()
        } else {
            start = try await store.beginDecision(
                key, trade: summary, applying: Self.target(event, shares: shares))
        }
        switch start {
        case .decided(let existing):
            statisticsBox.withLock { $0.alreadyDecided += 1 }
            return existing.decision
        case .reinstated(let existing):
            // Mined again after a reorg removed it: the decision stands as it was made. A copy is
            // never made twice, and an order placed for it stays as it is; only its bookkeeping
            // (the retraction flag, the position, the followed wallet's holding) follows the chain.
            statisticsBox.withLock { $0.alreadyDecided += 1 }
            noteReincluded(key, existing.trade, standing: existing.decision)
            return existing.decision
        case .reopened(let holding):
            // Mined again after a reorg removed it before it was decided on its merits (no order
            // was ever made for it): decided as a new trade, with every rule, the trade's age
            // (from its new block) included.
            noteReincluded(key, summary, standing: nil)
            portfolio.mark(trade.tokenId, price: price)
            return try await decide(
                key, event, summary: summary, shares: shares, collateral: collateral, price: price,
                holding: holding)
        case .undecided(let holding, let intent):
            portfolio.mark(trade.tokenId, price: price)
            if let intent { return try await resume(intent) }
            return try await decide(
                key, event, summary: summary, shares: shares, collateral: collateral, price: price,
                holding: holding)
        }
    }

    private func decide(
        _ key: DecisionKey, _ event: CopyTrade, summary: TradeSummary, shares: Fixed6, collateral: Fixed6,
        price: Fixed6, holding: TargetHolding
    ) async throws -> CopyDecision {
        let now = clock.now()
        let limits = configuration.risk
        let token = summary.tokenId
        let side = summary.side

        if let source = killSwitch.engaged() {
            return try await record(key, summary, .skipped(.killSwitch(source: source)))
        }
        if configuration.mode == .live, case .open = breaker.state {
            return try await record(
                key, summary,
                .skipped(.breakerOpen(consecutiveFailures: breaker.snapshot.consecutiveFailures)))
        }
        if let maxAge = limits.maxTradeAgeSeconds, let blockTime = event.blockTime {
            let age = (now.milliseconds - blockTime.milliseconds) / 1000
            if age > maxAge {
                return try await record(
                    key, summary, .skipped(.staleTrade(ageSeconds: age, limitSeconds: maxAge)))
            }
        }
        if limits.deniedTokens.contains(token) {
            return try await record(key, summary, .skipped(.tokenDenied(token: token)))
        }

        // A SELL of a token we hold none of is skipped whatever the book says: no book is read for
        // it (the reasons checked before sizing still come first; market lists need the market).
        if side == .sell, sellsNothing(token) {
            let reason =
                RiskRules.admission(tokenId: token, market: nil, blockTime: nil, now: now, limits: limits)
                ?? .noPosition(token: token)
            return try await record(key, summary, .skipped(reason))
        }

        // The book (for paper fills and the slippage guard), the market and its rules.
        var book: MarketBook?
        do {
            book = try await gateway.book(tokenID: token)
        } catch {
            logger.debug("no book for token \(token): \(error)")
        }
        var market = book?.market
        if market == nil { market = try? await gateway.market(of: token) }
        if market == nil, limits.usesMarketLists {
            return try await record(
                key, summary,
                .failed(.marketUnavailable("the market of token \(token) is unknown; market lists need it")))
        }
        if let reason = RiskRules.admission(
            tokenId: token, market: market, blockTime: nil, now: now, limits: limits)
        {
            return try await record(key, summary, .skipped(reason))
        }
        var parameters = book?.parameters
        if parameters == nil { parameters = try? await gateway.marketParameters(tokenID: token) }
        if parameters == nil, configuration.mode == .paper { parameters = configuration.fallbackMarket }
        guard let parameters else {
            return try await record(
                key, summary,
                .failed(.marketUnavailable("tick size and minimum size of token \(token) are unknown")))
        }
        let rules = MarketRules(parameters)
        let limitPrice = Sizing.limitPrice(
            side: side, targetPrice: price, maxSlippage: limits.maxSlippage, tick: rules.tickSize)

        // Sizing.
        let policy = configuration.policy(for: summary.wallet)
        let sizing: SizingResult
        switch side {
        case .buy:
            sizing = Sizing.buy(
                rule: policy.sizing, targetShares: shares, targetCollateral: collateral,
                availableBalance: portfolio.availableCash, limitPrice: limitPrice, market: rules,
                maxCollateral: limits.clampToMaxOrder ? limits.maxOrderCollateral : nil,
                orderType: configuration.orderType)
        case .sell:
            sizing = Sizing.sell(
                ourShares: portfolio.availableShares(token), targetSold: shares, targetHolding: holding,
                unknownHolding: policy.unknownHoldingExit, tokenId: token, limitPrice: limitPrice,
                market: rules, orderType: configuration.orderType)
        }
        let sized: SizedOrder
        switch sizing {
        case .skip(let reason): return try await record(key, summary, .skipped(reason))
        case .order(let order): sized = order
        }

        // Slippage against the live book.
        if let book,
            let reason = RiskRules.slippage(
                side: side, shares: sized.shares, targetPrice: price, book: book, limits: limits)
        {
            return try await record(key, summary, .skipped(reason))
        }

        // Limits and reservation, atomically.
        let reservation: Reservation
        switch side {
        case .buy:
            switch portfolio.reserveBuy(
                tokenId: token, market: market, shares: sized.shares, collateral: sized.collateral,
                limits: limits,
                day: now.utcDay)
            {
            case .failure(let error): return try await record(key, summary, .skipped(error.reason))
            case .success(let r): reservation = r
            }
        case .sell:
            guard let r = portfolio.reserveSell(tokenId: token, market: market, shares: sized.shares) else {
                return try await record(key, summary, .skipped(.noPosition(token: token)))
            }
            reservation = r
        }

        let intent = OrderIntent(
            tokenId: token, market: market, side: side, shares: sized.shares, limitPrice: limitPrice,
            collateral: sized.collateral, orderType: configuration.orderType, targetPrice: price,
            tickSize: rules.tickSize, minOrderSize: rules.minOrderSize, negRisk: rules.negRisk)
        do {
            switch configuration.mode {
            case .paper:
                return try await executePaper(key, summary, intent, book: book, reservation: reservation)
            case .live:
                return try await executeLive(
                    key, summary, intent, parameters: parameters, reservation: reservation)
            }
        } catch {
            portfolio.release(reservation)
            throw error
        }
    }

    // MARK: Paper

    private func executePaper(
        _ key: DecisionKey, _ summary: TradeSummary, _ intent: OrderIntent, book: MarketBook?,
        reservation: Reservation
    ) async throws -> CopyDecision {
        let fresh = StoredIntent(
            key: key, trade: summary, mode: .paper, intent: intent, signedOrder: nil, salt: .zero,
            createdAt: clock.now())
        let stored = try await store.storeIntent(fresh)
        guard stored == fresh else {
            portfolio.release(reservation)
            return try await resume(stored)
        }
        let fill = PaperExecution.fill(
            side: intent.side, shares: intent.shares, limitPrice: intent.limitPrice,
            orderType: intent.orderType,
            book: book, targetPrice: intent.targetPrice, feeRate: configuration.paperFeeRate)
        return try await completePaper(stored, fill: fill, reservation: reservation)
    }

    private func completePaper(
        _ stored: StoredIntent, fill: FillSummary, reservation: Reservation?
    )
        async throws -> CopyDecision
    {
        let matched = MatchedTotals(
            shares: fill.shares, collateral: fill.collateral, fee: fill.fee,
            pricedFromTarget: fill.pricedFromTarget)
        guard
            let update = try await store.updateIntent(
                stored.key, expecting: [.created], to: fill.shares.isPositive ? .matched : .unmatched,
                matched: matched, message: fill.pricedFromTarget ? "priced_from_target" : nil, at: clock.now()
            )
        else {
            if let reservation { portfolio.release(reservation) }
            return try await resumeCurrent(stored.key)
        }
        try await book(update.fill, reservation: reservation)
        return try await record(stored.key, stored.trade, decision(for: update.intent))
    }

    // MARK: Live

    /// A salt derived from the key (53 bits, as the official client's salts): the same trade always
    /// signs with the same salt.
    public static func salt(for key: DecisionKey) -> UInt256 {
        let digest = Keccak256.hash(Array(key.account.name.utf8) + [0] + key.identity.bytes.bytes)
        let value = digest.w3 & ((1 << 53) - 1)
        return UInt256(value == 0 ? 1 : value)
    }

    private func executeLive(
        _ key: DecisionKey, _ summary: TradeSummary, _ intent: OrderIntent, parameters: MarketParameters,
        reservation: Reservation
    ) async throws -> CopyDecision {
        guard let signer else {
            portfolio.release(reservation)
            return try await record(
                key, summary, .failed(.signingFailed("live mode without an order signer")))
        }
        // What the exchange holds for us, as last read (no round trip): an order it cannot fund is
        // skipped here with the numbers, not refused there.
        if let shortfall = gateway.fundingShortfall(
            side: intent.side, tokenID: intent.tokenId, shares: intent.shares, collateral: intent.collateral,
            negRisk: intent.negRisk)
        {
            portfolio.release(reservation)
            return try await record(key, summary, .skipped(shortfall))
        }
        let salt = Self.salt(for: key)
        let signed: SignedOrder
        do {
            signed = try signer.sign(intent, market: parameters, salt: salt)
        } catch {
            portfolio.release(reservation)
            return try await record(key, summary, .failed(.invalidOrder(error.description)))
        }
        guard let permit = breaker.acquire() else {
            portfolio.release(reservation)
            return try await record(
                key, summary,
                .skipped(.breakerOpen(consecutiveFailures: breaker.snapshot.consecutiveFailures)))
        }
        // Stored already claimed (`posting`): the one write before the post is both the intent and
        // its claim. Whoever inserts it alone may post it; anyone else finds it and resumes it.
        var fresh = StoredIntent(
            key: key, trade: summary, mode: .live, intent: intent, signedOrder: signed, salt: salt,
            createdAt: clock.now())
        fresh.status = .posting
        let stored: StoredIntent
        do {
            stored = try await store.storeIntent(fresh)
        } catch {
            breaker.release(permit)
            throw error
        }
        guard stored == fresh else {
            breaker.release(permit)
            portfolio.release(reservation)
            return try await resume(stored)
        }
        return try await post(stored, signed, permit: permit, reservation: reservation)
    }

    /// Claims a `created` intent (one stored before intents were stored claimed) and posts its
    /// signed order, once.
    private func post(_ stored: StoredIntent, reservation: Reservation?) async throws -> CopyDecision {
        guard let signed = stored.signedOrder else {
            if let reservation { portfolio.release(reservation) }
            return try await record(
                stored.key, stored.trade, .failed(.signingFailed("intent without a signed order")))
        }
        guard let permit = breaker.acquire() else {
            if let reservation { portfolio.release(reservation) }
            guard
                try await store.updateIntent(
                    stored.key, expecting: [.created], to: .cancelled, matched: nil, message: "breaker open",
                    at: clock.now()) != nil
            else { return try await resumeCurrent(stored.key) }
            return try await record(
                stored.key, stored.trade,
                .skipped(.breakerOpen(consecutiveFailures: breaker.snapshot.consecutiveFailures)))
        }
        guard
            let claimed = try await store.updateIntent(
                stored.key, expecting: [.created], to: .posting, matched: nil, message: nil, at: clock.now())
        else {
            breaker.release(permit)
            if let reservation { portfolio.release(reservation) }
            return try await resumeCurrent(stored.key)
        }
        return try await post(claimed.intent, signed, permit: permit, reservation: reservation)
    }

    /// Posts the signed order of an intent this executor has claimed (`posting`), once.
    ///
    /// The trade's lane turn, if it has one, is released once the gateway has the order on its way
    /// and the breaker is closed (a probe's answer decides whether the next trade may trade at all).
    private func post(
        _ claimed: StoredIntent, _ signed: SignedOrder, permit: CircuitBreaker.Permit,
        reservation: Reservation?
    ) async throws -> CopyDecision {
        let turn = turns.withLock { $0[claimed.key] }
        let breaker = self.breaker
        let outcome: Result<ExchangeOrder, GatewayError>
        do {
            outcome = .success(
                try await gateway.post(signed, orderType: claimed.intent.orderType) {
                    if let turn, case .closed = breaker.state { turn.release() }
                })
        } catch {
            outcome = .failure(GatewayError(error))
        }
        switch outcome {
        case .success(let order):
            breaker.record(permit, success: true)
            return try await conclude(claimed, order, reservation: reservation)
        case .failure(let error):
            breaker.record(permit, success: !error.isFault)
            if case .rejected(let message) = error {
                if let reservation { portfolio.release(reservation) }
                // Synced: a rejected order is not found by a later look-up, so the reason would be lost.
                guard
                    let update = try await store.updateIntent(
                        claimed.key, expecting: [.posting], to: .rejected, matched: nil, message: message,
                        at: clock.now())
                else { return try await resumeCurrent(claimed.key) }
                return try await record(claimed.key, claimed.trade, decision(for: update.intent))
            }
            logger.warning("post of order \(signed.orderHash.hex) failed (\(error)); looking it up")
            if let found = try? await gateway.lookup(signed) {
                return try await conclude(claimed, found, reservation: reservation)
            }
            if let reservation { reservations.withLock { $0[claimed.key] = reservation } }
            statisticsBox.withLock { $0.unresolved += 1 }
            return .failed(
                .outcomeUnknown(
                    "post failed (\(error)) and the order is not found yet; it is resolved by look-up, never re-posted"
                ))
        }
    }

    /// Books what the exchange says of a posted order and records the decision, in one store write
    /// synced later (the answer can be looked up again; see
    /// ``CopyStateStore/concludeIntent(_:expecting:to:matched:message:at:decide:)``).
    private func conclude(
        _ stored: StoredIntent, _ order: ExchangeOrder, reservation: Reservation?
    )
        async throws -> CopyDecision
    {
        let reservation = reservation ?? reservations.withLock { $0.removeValue(forKey: stored.key) }
        let matched = MatchedTotals(
            shares: order.matchedShares, collateral: order.matchedCollateral, fee: order.fee)
        guard
            let conclusion = try await store.concludeIntent(
                stored, expecting: [.posting, .open], to: IntentStatus(order.status), matched: matched,
                message: nil, at: clock.now(), decide: decider(stored.trade))
        else {
            if let reservation { portfolio.release(reservation) }
            return try await resumeCurrent(stored.key)
        }
        let decision = noteRecorded(conclusion.decision, inserted: conclusion.inserted)
        settle(conclusion.update.fill, reservation: reservation)
        // The token's next trade may be decided now, whatever its side: it sees what this order
        // got (a SELL sizes on what a BUY before it bought). Only bookkeeping writes remain.
        turns.withLock { $0[stored.key] }?.settle()
        try await saveLedger(after: conclusion.update.fill)
        return decision
    }

    /// The decision record an intent's state stands for, as the store makes it in
    /// ``CopyStateStore/concludeIntent(_:expecting:to:matched:message:at:decide:)``.
    private func decider(_ trade: TradeSummary) -> @Sendable (StoredIntent) -> DecisionRecord {
        let failures = breaker.snapshot.consecutiveFailures
        let decidedAt = clock.now()
        return { intent in
            DecisionRecord(
                key: intent.key, trade: trade,
                decision: Self.decision(for: intent, breakerFailures: failures),
                decidedAt: decidedAt)
        }
    }

    // MARK: Resuming

    private func resumeCurrent(_ key: DecisionKey) async throws -> CopyDecision {
        if let existing = try await store.decision(for: key) { return existing.decision }
        guard let intent = try await store.intent(for: key) else {
            return .failed(.store("intent for \(key) vanished"))
        }
        return try await resume(intent)
    }

    /// Continues an intent found without a decision (after a crash, a race, or an unknown outcome).
    private func resume(_ intent: StoredIntent) async throws -> CopyDecision {
        if let existing = try await store.decision(for: intent.key), intent.status != .open {
            return existing.decision
        }
        switch intent.status {
        case .created:
            switch intent.mode {
            case .live:
                return try await post(intent, reservation: nil)
            case .paper:
                let book = try? await gateway.book(tokenID: intent.intent.tokenId)
                let fill = PaperExecution.fill(
                    side: intent.intent.side, shares: intent.intent.shares,
                    limitPrice: intent.intent.limitPrice,
                    orderType: intent.intent.orderType, book: book, targetPrice: intent.intent.targetPrice,
                    feeRate: configuration.paperFeeRate)
                return try await completePaper(intent, fill: fill, reservation: nil)
            }
        case .posting, .open:
            guard let signed = intent.signedOrder, let hash = intent.orderHash else {
                return try await record(
                    intent.key, intent.trade, .failed(.outcomeUnknown("live intent without an order")))
            }
            let found: ExchangeOrder?
            do {
                found = try await gateway.lookup(signed)
            } catch {
                if intent.status == .open {
                    return try await record(intent.key, intent.trade, decision(for: intent))
                }
                return .failed(.outcomeUnknown("look-up of order \(hash.hex) failed: \(error)"))
            }
            if let found { return try await conclude(intent, found, reservation: nil) }
            let now = clock.now()
            let leaseStart = now.adding(seconds: -configuration.intentLeaseSeconds)
            guard intent.status == .posting, intent.updatedAt < leaseStart else {
                return .failed(.outcomeUnknown("order \(hash.hex) is not known to the exchange yet"))
            }
            // Still fresh: the very same signed order is posted again (same hash: the exchange
            // never takes it twice), claimed anew so that one executor does it.
            if intent.createdAt > now.adding(seconds: -configuration.repostWindowSeconds),
                let permit = breaker.acquire()
            {
                guard
                    let claimed = try await store.updateIntent(
                        intent.key, expecting: [.posting], to: .posting, matched: nil,
                        message: "posted again: the first answer was lost and the order is not found",
                        at: now)
                else {
                    breaker.release(permit)
                    return try await resumeCurrent(intent.key)
                }
                logger.notice(
                    "order \(hash.hex) is not found \(configuration.intentLeaseSeconds)s after posting; posting the same signed order again"
                )
                let reservation = reservations.withLock { $0.removeValue(forKey: intent.key) }
                return try await post(claimed.intent, signed, permit: permit, reservation: reservation)
            }
            if let reservation = reservations.withLock({ $0.removeValue(forKey: intent.key) }) {
                portfolio.release(reservation)
            }
            guard
                let update = try await store.updateIntent(
                    intent.key, expecting: [.posting], to: .notFound, matched: nil,
                    message: "not found at the exchange \(configuration.intentLeaseSeconds)s after posting",
                    at: clock.now())
            else { return try await resumeCurrent(intent.key) }
            return try await record(intent.key, intent.trade, decision(for: update.intent))
        case .matched, .unmatched, .cancelled, .rejected, .notFound:
            return try await record(intent.key, intent.trade, decision(for: intent))
        }
    }

    /// The decision an intent's state stands for.
    private func decision(for intent: StoredIntent) -> CopyDecision {
        Self.decision(for: intent, breakerFailures: breaker.snapshot.consecutiveFailures)
    }

    /// The decision an intent's state stands for; `breakerFailures` explains a skip for an open
    /// breaker.
    private static func decision(for intent: StoredIntent, breakerFailures: Int) -> CopyDecision {
        let copied = CopyDecision.copied(
            CopiedOrder(
                intent: intent.intent, mode: intent.mode, orderHash: intent.orderHash,
                fill: intent.matched.summary))
        switch intent.status {
        case .matched, .open, .posting, .created: return copied
        case .unmatched: return intent.matched.shares.isPositive ? copied : .failed(.unfilled)
        case .cancelled:
            if intent.matched.shares.isPositive { return copied }
            if intent.message == "breaker open" {
                return .skipped(.breakerOpen(consecutiveFailures: breakerFailures))
            }
            return .failed(.unfilled)
        case .rejected: return .failed(.exchangeRejected(intent.message ?? "rejected"))
        case .notFound: return .failed(.outcomeUnknown(intent.message ?? "not found at the exchange"))
        }
    }

    // MARK: Retractions

    /// A reorg removed the trade of `key`: its followed wallet's trade comes off the holding (the
    /// first step), and its decision is flagged retracted, after being made if it was not: an
    /// intent found is resumed (an order may exist), else the trade is recorded as skipped for the
    /// retraction. Reorgs are usually followed by the trade mined again a few blocks later; its
    /// delivery then reinstates the decision, or decides the trade anew when that skip was all
    /// there was (``CopyStateStore/beginDecision(_:trade:applying:)``).
    private func retract(
        _ key: DecisionKey, _ event: CopyTrade, begun: DecisionBeginning.Step?
    ) async throws -> CopyDecision {
        if case .retraction(let begun) = begun {
            _ = try begun.get()
        } else {
            _ = try await store.retractTargetTrade(event.identity)
        }
        let decision: CopyDecision
        if let existing = try await store.decision(for: key) {
            decision = existing.decision
        } else if let intent = try await store.intent(for: key) {
            decision = try await resume(intent)
        } else {
            decision = try await record(key, TradeSummary(event.trade), .skipped(.retracted))
        }
        _ = try await store.markRetracted(key)
        if case .copied(let order) = decision {
            statisticsBox.withLock { $0.retractedAfterCopy += 1 }
            logger.warning(
                "copied trade \(key) was removed by a reorg; our \(order.intent.side.text) of token \(order.intent.tokenId) stands (no automatic unwind)"
            )
        }
        return decision
    }

    // MARK: Recording

    /// Books `fill` (if any) in the portfolio, releasing `reservation`, and then stores what the
    /// ledger now is (``saveLedger(after:)``).
    private func book(_ fill: FillRecord?, reservation: Reservation?) async throws {
        settle(fill, reservation: reservation)
        try await saveLedger(after: fill)
    }

    /// Books `fill` (if any) in the portfolio, releasing `reservation`.
    private func settle(_ fill: FillRecord?, reservation: Reservation?) {
        do {
            try portfolio.settle(reservation, fill: fill?.fill, sequence: fill?.sequence)
        } catch {
            statisticsBox.withLock { $0.ledgerErrors += 1 }
            logger.error("the ledger refused fill \(String(describing: fill)): \(error)")
        }
    }

    /// After `fill` was booked: the day's PnL, and a ledger snapshot when one is due.
    private func saveLedger(after fill: FillRecord?) async throws {
        guard fill != nil else { return }
        if let snapshot = portfolio.snapshot {
            let due = snapshotThrough.withLock { through in
                guard snapshot.throughFill - through >= configuration.ledgerSnapshotEvery else {
                    return false
                }
                through = snapshot.throughFill
                return true
            }
            if due { try await store.saveLedger(account: configuration.account, snapshot) }
        }
        try await store.recordDailyPnL(account: configuration.account, portfolio.ledger.dailyPnL)
    }

    private func record(
        _ key: DecisionKey, _ summary: TradeSummary, _ decision: CopyDecision
    )
        async throws -> CopyDecision
    {
        let (stored, inserted) = try await store.recordDecision(
            DecisionRecord(key: key, trade: summary, decision: decision, decidedAt: clock.now()))
        return noteRecorded(stored, inserted: inserted)
    }

    /// Counts and logs a trade the chain included again after a reorg removed it, at `trade`'s
    /// position: `standing`, the decision that stands; nil, decided anew.
    private func noteReincluded(_ key: DecisionKey, _ trade: TradeSummary, standing: CopyDecision?) {
        statisticsBox.withLock { $0.reincluded += 1 }
        let outcome =
            switch standing {
            case .copied: "its copy stands and is not made again"
            case let decision?: "its decision stands (\(decision.kind): \(decision.label))"
            case nil: "it was not decided before the reorg, so it is decided now as a new trade"
            }
        logger.notice(
            "trade \(key) is on the chain again after a reorg removed it; \(outcome)",
            metadata: [
                "trade": "\(key.identity.bytes.hex)", "wallet": "\(trade.wallet)",
                "block": "\(trade.blockNumber)", "log_index": "\(trade.logIndex)",
                "tx": "\(trade.transactionHash.hex)",
            ])
    }

    /// Counts and logs a decision this engine stored (`inserted`), or counts one found stored;
    /// returns the stored decision.
    private func noteRecorded(_ stored: DecisionRecord, inserted: Bool) -> CopyDecision {
        let key = stored.key
        let summary = stored.trade
        let decision = stored.decision
        if inserted {
            statisticsBox.withLock { stats in
                switch decision {
                case .copied: stats.copied += 1
                case .skipped(let reason):
                    stats.skipped += 1
                    stats.skippedByRule[reason.rule.rawValue, default: 0] += 1
                case .failed(let reason):
                    stats.failed += 1
                    stats.failedByReason[reason.name, default: 0] += 1
                }
            }
            logger.info(
                "\(decision.explanation)",
                metadata: [
                    "trade": "\(key.identity.bytes.hex)", "wallet": "\(summary.wallet)",
                    "block": "\(summary.blockNumber)", "tx": "\(summary.transactionHash.hex)",
                    "decision": "\(decision.kind)", "reason": "\(decision.label)",
                ])
        } else {
            statisticsBox.withLock { $0.alreadyDecided += 1 }
        }
        return stored.decision
    }
}
