import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import PostgresNIO

// MARK: - CopyStateStore

extension PostgresStore: CopyStateStore {
    public func decision(for key: DecisionKey) async throws -> DecisionRecord? {
        try await read { c in try await Self.fetchDecision(c, key, logger: logger) }
    }

    /// `INSERT … ON CONFLICT DO NOTHING RETURNING`, then a read of the stored row when nothing was
    /// inserted: a concurrent insert of the same key makes the second one wait for the first to
    /// commit, and the read (a new statement, a new snapshot) sees it.
    public func recordDecision(
        _ record: DecisionRecord
    ) async throws -> (record: DecisionRecord, inserted: Bool) {
        try await write { c in try await Self.insertDecision(c, record, logger: logger) }
    }

    /// Inserts `record` unless its key has a decision; the stored one and whether it was inserted.
    static func insertDecision(
        _ c: PostgresConnection, _ record: DecisionRecord, logger: Logger
    ) async throws -> (record: DecisionRecord, inserted: Bool) {
        let trade = try StoreCoding.json(record.trade)
        let decision = try StoreCoding.json(record.decision)
        let (account, identity) = Self.key(record.key)
        let inserted = try await c.row(
            """
            INSERT INTO copy_decisions (account, identity, kind, label, trade, decision, decided_at, retracted,
                written_by, epoch)
            VALUES (\(account), \(identity), \(record.decision.kind), \(record.decision.label), \(trade),
                \(decision), \(record.decidedAt.milliseconds), \(record.retracted), \(FenceContext.account?.owner),
                \(FenceContext.account?.epoch))
            ON CONFLICT (account, identity) DO NOTHING
            RETURNING id
            """, logger: logger)
        if inserted != nil { return (record, true) }
        guard let existing = try await Self.fetchDecision(c, record.key, logger: logger) else {
            throw StoreError.corrupt("decision \(record.key) neither inserted nor found")
        }
        return (existing, false)
    }

    public func markRetracted(_ key: DecisionKey) async throws -> DecisionRecord? {
        let (account, identity) = Self.key(key)
        return try await write { c in
            try await c.row(
                """
                UPDATE copy_decisions SET retracted = TRUE WHERE account = \(account) AND identity = \(identity)
                RETURNING *
                """, logger: logger
            ).map(Self.decisionRecord)
        }
    }

    public func markIncluded(_ key: DecisionKey, at trade: TradeSummary) async throws -> DecisionRecord? {
        try await transaction { c in
            guard let decided = try await Self.fetchDecision(c, key, lock: true, logger: logger) else {
                return nil
            }
            return try await Self.include(c, decided, at: trade, logger: logger)
        }
    }

    /// Stores `record` no longer flagged retracted, at `trade`'s position (written only when that
    /// changes it), and returns it.
    static func include(
        _ c: PostgresConnection, _ record: DecisionRecord, at trade: TradeSummary, logger: Logger
    ) async throws -> DecisionRecord {
        var included = record
        included.retracted = false
        included.trade = record.trade.moved(to: trade)
        guard included != record else { return record }
        let (account, identity) = Self.key(record.key)
        try await c.run(
            """
            UPDATE copy_decisions SET trade = \(try StoreCoding.json(included.trade)), retracted = FALSE
            WHERE account = \(account) AND identity = \(identity)
            """, logger: logger)
        return included
    }

    /// Removes the decision for `key` if it is only a retraction's skip and no intent was stored
    /// for the key (see ``beginDecision(_:trade:applying:)``); whether it did.
    static func reopen(_ c: PostgresConnection, _ key: DecisionKey, logger: Logger) async throws -> Bool {
        let skip = CopyDecision.skipped(.retracted)
        let (account, identity) = Self.key(key)
        return try await c.row(
            """
            DELETE FROM copy_decisions
            WHERE account = \(account) AND identity = \(identity) AND kind = \(skip.kind) AND label = \(skip.label)
                AND NOT EXISTS (SELECT 1 FROM copy_intents WHERE account = \(account) AND identity = \(identity))
            RETURNING id
            """, logger: logger) != nil
    }

    /// Stores `intent` at `trade`'s position (written only when that moves it), and returns it.
    static func move(
        _ c: PostgresConnection, _ intent: StoredIntent, to trade: TradeSummary, logger: Logger
    ) async throws -> StoredIntent {
        var moved = intent
        moved.trade = intent.trade.moved(to: trade)
        guard moved != intent else { return intent }
        let (account, identity) = Self.key(intent.key)
        try await c.run(
            """
            UPDATE copy_intents SET trade = \(try StoreCoding.json(moved.trade))
            WHERE account = \(account) AND identity = \(identity)
            """, logger: logger)
        return moved
    }

    public func storeIntent(_ intent: StoredIntent) async throws -> StoredIntent {
        let trade = try StoreCoding.json(intent.trade)
        let order = try StoreCoding.json(intent.intent)
        let signed = try intent.signedOrder.map { try StoreCoding.json($0) }
        let matched = try StoreCoding.json(intent.matched)
        let (account, identity) = Self.key(intent.key)
        let orderHash = intent.orderHash.map(StoreCoding.data)
        return try await write { c in
            let inserted = try await c.row(
                """
                INSERT INTO copy_intents (account, identity, mode, trade, intent, signed_order, order_hash, salt,
                    status, matched, message, created_at, updated_at)
                VALUES (\(account), \(identity), \(intent.mode.rawValue), \(trade), \(order), \(signed),
                    \(orderHash), \(intent.salt.decimalString), \(intent.status.rawValue), \(matched),
                    \(intent.message), \(intent.createdAt.milliseconds), \(intent.updatedAt.milliseconds))
                ON CONFLICT (account, identity) DO NOTHING
                RETURNING id
                """, logger: logger)
            if inserted != nil { return intent }
            guard let existing = try await Self.fetchIntent(c, intent.key, logger: logger) else {
                throw StoreError.corrupt("intent \(intent.key) neither inserted nor found")
            }
            return existing
        }
    }

    public func intent(for key: DecisionKey) async throws -> StoredIntent? {
        try await read { c in try await Self.fetchIntent(c, key, logger: logger) }
    }

    /// One transaction that locks the intent's row (`SELECT … FOR UPDATE`): of concurrent callers,
    /// from any process, one at a time compares the status and sets it, so exactly one claim wins
    /// and a growth of the matched totals is booked once.
    ///
    /// A fill's sequence comes from the account's row in `copy_fill_sequences`, incremented by an
    /// upsert that keeps the row locked until the transaction commits. So sequences are unique per
    /// account, and fills commit in sequence order: a reader of ``fills(account:after:)`` never
    /// sees a sequence while a lower one is still uncommitted (and could be skipped). The counter
    /// starts from the highest stored fill, so fills stored before it existed keep counting.
    /// Locks are taken in one order (intent row, then the counter row), so callers never deadlock.
    public func updateIntent(
        _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?,
        message: String?, at: UnixTime
    ) async throws -> IntentUpdate? {
        try await transaction { c -> IntentUpdate? in
            try await Self.updateIntent(
                c, key, expecting: expecting, to: status, matched: matched, message: message, at: at,
                logger: logger)
        }
    }

    /// ``updateIntent(_:expecting:to:matched:message:at:)`` and the decision, in one transaction
    /// with `synchronous_commit` off (the locks and their order are those of `updateIntent`, then
    /// the decision's insert as ``recordDecision(_:)``).
    /// Only the intent's mutable columns are read back; the rest is `claimed`'s.
    public func concludeIntent(
        _ claimed: StoredIntent, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?,
        message: String?, at: UnixTime, decide: @escaping @Sendable (StoredIntent) -> DecisionRecord
    ) async throws -> IntentConclusion? {
        try await transaction(syncedLater: true) { c -> IntentConclusion? in
            guard
                let update = try await Self.updateIntent(
                    c, claimed.key, knowing: claimed, expecting: expecting, to: status, matched: matched,
                    message: message, at: at, logger: logger)
            else { return nil }
            let (stored, inserted) = try await Self.insertDecision(c, decide(update.intent), logger: logger)
            return IntentConclusion(update: update, decision: stored, inserted: inserted)
        }
    }

    /// One transaction with `synchronous_commit` off. A recorded decision is read locked
    /// (`FOR UPDATE`), so that what is done with it (reopened, included) is done to what was read;
    /// the target trade is applied with the locks of ``applyTargetTrade(_:)`` (the decision's row,
    /// then the holding's, then the trade's: no other transaction takes them the other way round).
    public func beginDecision(
        _ key: DecisionKey, trade: TradeSummary, applying target: TargetTrade
    ) async throws -> DecisionStart {
        try await transaction(syncedLater: true) { c in
            if let decided = try await Self.fetchDecision(c, key, lock: true, logger: logger) {
                if decided.decision == .skipped(.retracted), try await Self.reopen(c, key, logger: logger) {
                    return .reopened(holding: try await Self.applyTarget(c, target, logger: logger))
                }
                try await Self.reapplyRecordedTarget(c, target, logger: logger)
                let included = try await Self.include(c, decided, at: trade, logger: logger)
                return decided.retracted ? .reinstated(included) : .decided(included)
            }
            let holding = try await Self.applyTarget(c, target, logger: logger)
            var intent = try await Self.fetchIntent(c, key, logger: logger)
            if let stored = intent { intent = try await Self.move(c, stored, to: trade, logger: logger) }
            return .undecided(holding: holding, intent: intent)
        }
    }

    /// The compare-and-set of ``updateIntent(_:expecting:to:matched:message:at:)`` on `c`, inside a
    /// transaction; with `known`, the intent's immutable parts are taken from it and only its
    /// mutable columns read.
    static func updateIntent(
        _ c: PostgresConnection, _ key: DecisionKey, knowing known: StoredIntent? = nil,
        expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?, message: String?,
        at: UnixTime, logger: Logger
    ) async throws -> IntentUpdate? {
        let (account, identity) = Self.key(key)
        let current: StoredIntent?
        if let known {
            current = try await c.row(
                """
                SELECT status, matched, message, updated_at FROM copy_intents
                WHERE account = \(account) AND identity = \(identity) FOR UPDATE
                """, logger: logger
            ).map { row in try Self.withMutableColumns(row, of: known) }
        } else {
            current = try await c.row(
                """
                SELECT * FROM copy_intents WHERE account = \(account) AND identity = \(identity) FOR UPDATE
                """, logger: logger
            ).map(Self.storedIntent)
        }
        guard var intent = current, expecting.contains(intent.status) else { return nil }
        intent.status = status
        if let message { intent.message = message }
        intent.updatedAt = at
        var booked: FillRecord?
        if let matched, let fill = intent.fill(growingTo: matched) {
            guard
                let sequence = try await c.row(
                    """
                    INSERT INTO copy_fill_sequences (account, last_sequence)
                    SELECT \(account), COALESCE(MAX(sequence), 0) + 1 FROM copy_fills WHERE account = \(account)
                    ON CONFLICT (account)
                        DO UPDATE SET last_sequence = copy_fill_sequences.last_sequence + 1
                    RETURNING last_sequence
                    """, logger: logger)?("last_sequence", as: Int64.self)
            else { throw StoreError.corrupt("no fill sequence for \(key.account)") }
            let record = FillRecord(
                sequence: sequence, key: key, mode: intent.mode, fill: fill,
                pricedFromTarget: matched.pricedFromTarget, at: at)
            try await c.run(
                """
                INSERT INTO copy_fills (account, sequence, identity, mode, fill, priced_from_target, at,
                    written_by, epoch)
                VALUES (\(account), \(record.sequence), \(identity), \(record.mode.rawValue),
                    \(try StoreCoding.json(fill)), \(record.pricedFromTarget), \(at.milliseconds),
                    \(FenceContext.account?.owner), \(FenceContext.account?.epoch))
                """, logger: logger)
            intent.matched = matched
            booked = record
        }
        try await c.run(
            """
            UPDATE copy_intents SET status = \(intent.status.rawValue), message = \(intent.message),
                matched = \(try StoreCoding.json(intent.matched)), updated_at = \(intent.updatedAt.milliseconds)
            WHERE account = \(account) AND identity = \(identity)
            """, logger: logger)
        return IntentUpdate(intent: intent, fill: booked)
    }

    public func unresolvedIntents(account: AccountID, updatedBefore: UnixTime) async throws -> [StoredIntent]
    {
        let open = IntentStatus.allCases.filter { !$0.isFinal }.map(\.rawValue)
        return try await read { c in
            try await c.rows(
                """
                SELECT * FROM copy_intents
                WHERE account = \(account.name) AND status = ANY(\(open))
                    AND updated_at < \(updatedBefore.milliseconds)
                ORDER BY created_at, id
                """, logger: logger
            ).map(Self.storedIntent)
        }
    }

    public func fills(account: AccountID, after sequence: Int64) async throws -> [FillRecord] {
        try await read { c in
            try await c.rows(
                """
                SELECT * FROM copy_fills WHERE account = \(account.name) AND sequence > \(sequence)
                ORDER BY sequence
                """, logger: logger
            ).map(Self.fillRecord)
        }
    }

    public func loadLedger(account: AccountID) async throws -> LedgerSnapshot? {
        try await read { c in
            guard
                let row = try await c.row(
                    "SELECT through_fill, ledger FROM copy_ledgers WHERE account = \(account.name)",
                    logger: logger)
            else { return nil }
            return LedgerSnapshot(
                ledger: try StoreCoding.decode(Ledger.self, row("ledger")),
                throughFill: try row("through_fill"))
        }
    }

    public func saveLedger(account: AccountID, _ snapshot: LedgerSnapshot) async throws {
        let ledger = try StoreCoding.json(snapshot.ledger)
        try await write { c in
            // An equal `throughFill` replaces the stored snapshot (as in memory); only a newer one stays.
            try await c.run(
                """
                INSERT INTO copy_ledgers (account, through_fill, ledger)
                VALUES (\(account.name), \(snapshot.throughFill), \(ledger))
                ON CONFLICT (account) DO UPDATE SET through_fill = excluded.through_fill, ledger = excluded.ledger
                WHERE excluded.through_fill >= copy_ledgers.through_fill
                """, logger: logger)
        }
    }

    public func recordDailyPnL(account: AccountID, _ pnl: DailyPnL) async throws {
        try await write { c in
            try await c.run(
                """
                INSERT INTO copy_daily_pnl (account, day, realised, unrealised_at_start, unrealised_now)
                VALUES (\(account.name), \(pnl.day.daysSinceEpoch), \(pnl.realised.fixedString),
                    \(pnl.unrealisedAtStart.fixedString), \(pnl.unrealisedNow.fixedString))
                ON CONFLICT (account, day) DO UPDATE SET realised = excluded.realised,
                    unrealised_at_start = excluded.unrealised_at_start, unrealised_now = excluded.unrealised_now
                """, logger: logger)
        }
    }

    public func dailyPnL(account: AccountID, day: UTCDay) async throws -> DailyPnL? {
        try await read { c in
            guard
                let row = try await c.row(
                    """
                    SELECT * FROM copy_daily_pnl WHERE account = \(account.name) AND day = \(day.daysSinceEpoch)
                    """, logger: logger)
            else { return nil }
            return DailyPnL(
                day: day, realised: try StoreCoding.fixed6(row("realised")),
                unrealisedAtStart: try StoreCoding.fixed6(row("unrealised_at_start")),
                unrealisedNow: try StoreCoding.fixed6(row("unrealised_now")))
        }
    }

    /// One transaction that first locks the holding's row (creating it at zero if needed), so
    /// concurrent trades of one wallet and token apply one after the other, then records the
    /// trade once (`ON CONFLICT DO NOTHING`), or applies a retracted one again (an `UPDATE … WHERE
    /// retracted`: once, whoever applies it at the same time).
    public func applyTargetTrade(_ trade: TargetTrade) async throws -> TargetHolding {
        try await transaction(syncedLater: true) { c in try await Self.applyTarget(c, trade, logger: logger) }
    }

    /// Applies `trade` to its wallet's holding once, at its position, on `c` inside a transaction
    /// (again once when it was retracted; moved when it was applied elsewhere).
    static func applyTarget(
        _ c: PostgresConnection, _ trade: TargetTrade, logger: Logger
    ) async throws
        -> TargetHolding
    {
        let wallet = Data(trade.wallet.bytes)
        let token = trade.tokenId.decimalString
        let identity = StoreCoding.data(trade.identity.bytes)
        let block = Int64(clamping: trade.blockNumber)
        let logIndex = Int64(clamping: trade.logIndex)
        let before = try await Self.lockTargetHolding(c, wallet: wallet, token: token, logger: logger)
        let after = trade.holding(after: before)
        let inserted = try await c.row(
            """
            INSERT INTO copy_target_trades
                (identity, wallet, token, side, shares, shares_before, delta, block, log_index)
            VALUES (\(identity), \(wallet), \(token), \(trade.side.text), \(trade.shares.fixedString),
                \(before.fixedString), \((after - before).fixedString), \(block), \(logIndex))
            ON CONFLICT (identity) DO NOTHING
            RETURNING identity
            """, logger: logger)
        guard inserted != nil else {
            // Recorded before: applied where it is now (the flag and the position make it once).
            guard
                let recorded = try await c.row(
                    """
                    SELECT retracted, block, log_index, shares_before FROM copy_target_trades
                    WHERE identity = \(identity)
                    """, logger: logger)
            else { throw StoreError.corrupt("target trade \(trade.identity) neither inserted nor found") }
            if try !recorded("retracted", as: Bool.self), try recorded("block", as: Int64.self) == block,
                try recorded("log_index", as: Int64.self) == logIndex
            {
                return TargetHolding(sharesBefore: try StoreCoding.fixed6(recorded("shares_before")))
            }
            try await c.run(
                """
                UPDATE copy_target_trades SET retracted = FALSE, block = \(block), log_index = \(logIndex)
                WHERE identity = \(identity)
                """, logger: logger)
            return TargetHolding(
                sharesBefore: try await Self.refoldTarget(
                    c, wallet: wallet, token: token, reporting: identity, logger: logger))
        }
        // A trade placed before live ones of the holding (mined again lower than a later one was
        // seen): the holding is folded again.
        if try await c.row(
            """
            SELECT 1 FROM copy_target_trades
            WHERE wallet = \(wallet) AND token = \(token) AND NOT retracted
                AND (block, log_index) > (\(block), \(logIndex))
            LIMIT 1
            """, logger: logger) != nil
        {
            return TargetHolding(
                sharesBefore: try await Self.refoldTarget(
                    c, wallet: wallet, token: token, reporting: identity, logger: logger))
        }
        try await Self.setTargetHolding(c, wallet: wallet, token: token, after, logger: logger)
        return TargetHolding(sharesBefore: before)
    }

    /// Makes the holding (locked by the caller) again from its live trades in chain order
    /// (``TargetHoldingFold``), recording the holding before each where it changed; the holding
    /// before the trade `identity` (zero if it is not live).
    static func refoldTarget(
        _ c: PostgresConnection, wallet: Data, token: String, reporting identity: Data, logger: Logger
    ) async throws -> Fixed6 {
        let rows = try await c.rows(
            """
            SELECT identity, side, shares, shares_before, delta FROM copy_target_trades
            WHERE wallet = \(wallet) AND token = \(token) AND NOT retracted
            ORDER BY block, log_index, seq
            """, logger: logger)
        var trades: [(side: Side, shares: Fixed6)] = []
        for row in rows {
            let side = try row("side", as: String.self)
            trades.append((side == Side.buy.text ? .buy : .sell, try StoreCoding.fixed6(row("shares"))))
        }
        let (steps, total) = TargetHoldingFold.fold(trades)
        var reported = Fixed6.zero
        for (row, step) in zip(rows, steps) {
            let id = try row("identity", as: Data.self)
            if id == identity { reported = step.before }
            let (before, delta) = (step.before.fixedString, step.delta.fixedString)
            guard
                try row("shares_before", as: String.self) != before || row("delta", as: String.self) != delta
            else { continue }
            try await c.run(
                "UPDATE copy_target_trades SET shares_before = \(before), delta = \(delta) WHERE identity = \(id)",
                logger: logger)
        }
        try await Self.setTargetHolding(c, wallet: wallet, token: token, total, logger: logger)
        return reported
    }

    /// Applies `trade` again if it is recorded (retracted, or at another position); a target
    /// trade never recorded is left alone. Locks the holding's row first, as
    /// ``applyTargetTrade(_:)`` does.
    static func reapplyRecordedTarget(
        _ c: PostgresConnection, _ trade: TargetTrade, logger: Logger
    ) async throws {
        let identity = StoreCoding.data(trade.identity.bytes)
        guard
            try await c.row("SELECT 1 FROM copy_target_trades WHERE identity = \(identity)", logger: logger)
                != nil
        else { return }
        _ = try await Self.applyTarget(c, trade, logger: logger)
    }

    /// Locks the holding's row before the trade's (the order ``applyTargetTrade(_:)`` takes them
    /// in), so the two never deadlock.
    public func retractTargetTrade(_ identity: TradeIdentity) async throws -> Bool {
        let id = StoreCoding.data(identity.bytes)
        return try await transaction { c in
            guard
                let trade = try await c.row(
                    "SELECT wallet, token FROM copy_target_trades WHERE identity = \(id) AND NOT retracted",
                    logger: logger)
            else { return false }
            let wallet = try trade("wallet", as: Data.self)
            let token = try trade("token", as: String.self)
            _ = try await Self.lockTargetHolding(c, wallet: wallet, token: token, logger: logger)
            guard
                try await c.row(
                    """
                    UPDATE copy_target_trades SET retracted = TRUE WHERE identity = \(id) AND NOT retracted
                    RETURNING identity
                    """, logger: logger) != nil
            else { return false }
            _ = try await Self.refoldTarget(c, wallet: wallet, token: token, reporting: id, logger: logger)
            return true
        }
    }

    public func targetHolding(wallet: Address, tokenId: UInt256) async throws -> Fixed6 {
        try await read { c in
            try await c.row(
                """
                SELECT shares FROM copy_target_holdings
                WHERE wallet = \(Data(wallet.bytes)) AND token = \(tokenId.decimalString)
                """, logger: logger
            ).map { try StoreCoding.fixed6($0("shares")) } ?? .zero
        }
    }
}

// MARK: - Reading for the CLI

extension PostgresStore: CopyStateReader {
    /// Row ids come from an identity column: increasing in the order rows were inserted, though
    /// with several writers a lower id may commit after a higher one.
    public func decisionEntries(
        account: AccountID, limit: Int?, afterRowID: Int64?
    ) async throws -> [DecisionEntry] {
        let limit = limit.map { Int64(max($0, 0)) }
        return try await read { c in
            try await c.rows(
                """
                SELECT * FROM copy_decisions WHERE account = \(account.name) AND id > \(afterRowID ?? Int64.min)
                ORDER BY id LIMIT \(limit)
                """, logger: logger
            ).map(Self.decisionEntry)
        }
    }

    public func latestDecisionEntries(
        account: AccountID, limit: Int, kind: String?
    ) async throws -> [DecisionEntry] {
        let limit = Int64(max(limit, 0))
        return try await read { c in
            let rows =
                if let kind {
                    try await c.rows(
                        """
                        SELECT * FROM copy_decisions WHERE account = \(account.name) AND kind = \(kind)
                        ORDER BY id DESC LIMIT \(limit)
                        """, logger: logger)
                } else {
                    try await c.rows(
                        """
                        SELECT * FROM copy_decisions WHERE account = \(account.name)
                        ORDER BY id DESC LIMIT \(limit)
                        """, logger: logger)
                }
            return try rows.reversed().map(Self.decisionEntry)
        }
    }

    public func decisionCounts(account: AccountID) async throws -> DecisionCounts {
        try await read { c in
            var counts = DecisionCounts(copied: 0, skipped: 0, failed: 0, retractedAfterCopy: 0)
            for row in try await c.rows(
                """
                SELECT kind, retracted, COUNT(*) AS n FROM copy_decisions WHERE account = \(account.name)
                GROUP BY kind, retracted
                """, logger: logger)
            {
                let n = Int(try row("n", as: Int64.self))
                switch try row("kind", as: String.self) {
                case "copied":
                    counts.copied += n
                    if try row("retracted", as: Bool.self) { counts.retractedAfterCopy += n }
                case "skipped": counts.skipped += n
                case "failed": counts.failed += n
                case let other: throw StoreError.corrupt("decision kind \(other)")
                }
            }
            return counts
        }
    }

    public func intents(account: AccountID, statuses: Set<IntentStatus>?) async throws -> [StoredIntent] {
        let wanted = statuses.map { Array($0).map(\.rawValue).sorted() }
        return try await read { c in
            let rows =
                if let wanted {
                    try await c.rows(
                        """
                        SELECT * FROM copy_intents WHERE account = \(account.name) AND status = ANY(\(wanted))
                        ORDER BY created_at, id
                        """, logger: logger)
                } else {
                    try await c.rows(
                        "SELECT * FROM copy_intents WHERE account = \(account.name) ORDER BY created_at, id",
                        logger: logger)
                }
            return try rows.map(Self.storedIntent)
        }
    }

    public func accounts() async throws -> [AccountID] {
        try await read { c in
            try await c.rows(
                """
                SELECT account FROM copy_decisions UNION SELECT account FROM copy_intents
                UNION SELECT account FROM copy_fills UNION SELECT account FROM copy_ledgers
                ORDER BY account
                """, logger: logger
            ).map { AccountID(try $0("account", as: String.self)) }
        }
    }
}

// MARK: - Row mapping

extension PostgresStore {
    static func key(_ key: DecisionKey) -> (account: String, identity: Data) {
        (key.account.name, StoreCoding.data(key.identity.bytes))
    }

    static func decisionKey(_ row: PGRow) throws -> DecisionKey {
        DecisionKey(
            account: AccountID(try row("account", as: String.self)),
            identity: TradeIdentity(try StoreCoding.bytes32(row("identity"))))
    }

    /// The decision for `key`; with `lock`, its row locked until the transaction ends.
    static func fetchDecision(
        _ c: PostgresConnection, _ key: DecisionKey, lock: Bool = false, logger: Logger
    ) async throws -> DecisionRecord? {
        let (account, identity) = Self.key(key)
        let row =
            if lock {
                try await c.row(
                    "SELECT * FROM copy_decisions WHERE account = \(account) AND identity = \(identity) FOR UPDATE",
                    logger: logger)
            } else {
                try await c.row(
                    "SELECT * FROM copy_decisions WHERE account = \(account) AND identity = \(identity)",
                    logger: logger)
            }
        return try row.map(decisionRecord)
    }

    static func decisionRecord(_ row: PGRow) throws -> DecisionRecord {
        DecisionRecord(
            key: try decisionKey(row), trade: try StoreCoding.decode(TradeSummary.self, row("trade")),
            decision: try StoreCoding.decode(CopyDecision.self, row("decision")),
            decidedAt: UnixTime(milliseconds: try row("decided_at")), retracted: try row("retracted"))
    }

    static func decisionEntry(_ row: PGRow) throws -> DecisionEntry {
        DecisionEntry(rowID: try row("id"), record: try decisionRecord(row))
    }

    static func fetchIntent(
        _ c: PostgresConnection, _ key: DecisionKey, logger: Logger
    ) async throws -> StoredIntent? {
        let (account, identity) = Self.key(key)
        return try await c.row(
            "SELECT * FROM copy_intents WHERE account = \(account) AND identity = \(identity)", logger: logger
        ).map(storedIntent)
    }

    static func storedIntent(_ row: PGRow) throws -> StoredIntent {
        let modeText = try row("mode", as: String.self)
        let saltText = try row("salt", as: String.self)
        guard let mode = ExecutionMode(rawValue: modeText) else {
            throw StoreError.corrupt("mode \(modeText)")
        }
        guard let salt = UInt256(decimal: saltText) else { throw StoreError.corrupt("salt \(saltText)") }
        let signed = try row("signed_order", as: String?.self)
        let intent = StoredIntent(
            key: try decisionKey(row), trade: try StoreCoding.decode(TradeSummary.self, row("trade")),
            mode: mode,
            intent: try StoreCoding.decode(OrderIntent.self, row("intent")),
            signedOrder: try signed.map { try StoreCoding.decode(SignedOrder.self, $0) }, salt: salt,
            createdAt: UnixTime(milliseconds: try row("created_at")))
        return try withMutableColumns(row, of: intent)
    }

    /// `intent` with the status, matched totals, message and update time of `row`.
    static func withMutableColumns(_ row: PGRow, of intent: StoredIntent) throws -> StoredIntent {
        let statusText = try row("status", as: String.self)
        guard let status = IntentStatus(rawValue: statusText) else {
            throw StoreError.corrupt("intent status \(statusText)")
        }
        var intent = intent
        intent.status = status
        intent.matched = try StoreCoding.decode(MatchedTotals.self, row("matched"))
        intent.message = try row("message", as: String?.self)
        intent.updatedAt = UnixTime(milliseconds: try row("updated_at"))
        return intent
    }

    static func fillRecord(_ row: PGRow) throws -> FillRecord {
        let modeText = try row("mode", as: String.self)
        guard let mode = ExecutionMode(rawValue: modeText) else {
            throw StoreError.corrupt("mode \(modeText)")
        }
        return FillRecord(
            sequence: try row("sequence"), key: try decisionKey(row), mode: mode,
            fill: try StoreCoding.decode(LedgerFill.self, row("fill")),
            pricedFromTarget: try row("priced_from_target"), at: UnixTime(milliseconds: try row("at")))
    }

    /// The holding's shares, its row created at zero when missing and locked until the transaction
    /// ends.
    static func lockTargetHolding(
        _ c: PostgresConnection, wallet: Data, token: String, logger: Logger
    ) async throws -> Fixed6 {
        try await c.run(
            """
            INSERT INTO copy_target_holdings (wallet, token, shares) VALUES (\(wallet), \(token), \(Fixed6.zero.fixedString))
            ON CONFLICT (wallet, token) DO NOTHING
            """, logger: logger)
        guard
            let row = try await c.row(
                "SELECT shares FROM copy_target_holdings WHERE wallet = \(wallet) AND token = \(token) FOR UPDATE",
                logger: logger)
        else { throw StoreError.corrupt("target holding neither inserted nor found") }
        return try StoreCoding.fixed6(row("shares"))
    }

    static func setTargetHolding(
        _ c: PostgresConnection, wallet: Data, token: String, _ shares: Fixed6, logger: Logger
    ) async throws {
        try await c.run(
            """
            UPDATE copy_target_holdings SET shares = \(shares.fixedString)
            WHERE wallet = \(wallet) AND token = \(token)
            """, logger: logger)
    }
}
