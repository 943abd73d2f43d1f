import CopyEngine
import EVM
import Foundation
import GRDB
import Polymarket

// MARK: - Schema

extension SQLiteStore {
    /// The copy engine's tables (migration `v2-copy`).
    ///
    /// What is queried is in indexed columns (account, identity bytes, status, times in
    /// milliseconds, fill sequence, UTC day, wallet and token); the rich values (the trade, the
    /// decision, the order intent, the signed order, matched totals, ledger fills and ledgers) are
    /// JSON text of their `Codable` forms, which are exact (amounts as six-decimal text, 256-bit
    /// numbers as decimal text). Amount columns are six-decimal text too (``Fixed6/fixedString``):
    /// SQLite integers are 64 bits, and an amount in millionths may need more.
    static func migrateCopyState(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE copy_decisions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    account TEXT NOT NULL,
                    identity BLOB NOT NULL,
                    kind TEXT NOT NULL,
                    label TEXT NOT NULL,
                    trade TEXT NOT NULL,
                    decision TEXT NOT NULL,
                    decided_at INTEGER NOT NULL,
                    retracted INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (account, identity)
                );
                CREATE INDEX copy_decisions_account ON copy_decisions (account, id);
                CREATE INDEX copy_decisions_kind ON copy_decisions (account, kind, retracted);

                CREATE TABLE copy_intents (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    account TEXT NOT NULL,
                    identity BLOB NOT NULL,
                    mode TEXT NOT NULL,
                    trade TEXT NOT NULL,
                    intent TEXT NOT NULL,
                    signed_order TEXT,
                    order_hash BLOB,
                    salt TEXT NOT NULL,
                    status TEXT NOT NULL,
                    matched TEXT NOT NULL,
                    message TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    UNIQUE (account, identity)
                );
                CREATE INDEX copy_intents_status ON copy_intents (account, status, updated_at);
                CREATE INDEX copy_intents_order_hash ON copy_intents (order_hash) WHERE order_hash IS NOT NULL;

                CREATE TABLE copy_fills (
                    account TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    identity BLOB NOT NULL,
                    mode TEXT NOT NULL,
                    fill TEXT NOT NULL,
                    priced_from_target INTEGER NOT NULL,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (account, sequence)
                );
                CREATE INDEX copy_fills_key ON copy_fills (account, identity);

                CREATE TABLE copy_ledgers (
                    account TEXT PRIMARY KEY NOT NULL,
                    through_fill INTEGER NOT NULL,
                    ledger TEXT NOT NULL
                );

                CREATE TABLE copy_daily_pnl (
                    account TEXT NOT NULL,
                    day INTEGER NOT NULL,
                    realised TEXT NOT NULL,
                    unrealised_at_start TEXT NOT NULL,
                    unrealised_now TEXT NOT NULL,
                    PRIMARY KEY (account, day)
                );

                CREATE TABLE copy_target_holdings (
                    wallet BLOB NOT NULL,
                    token TEXT NOT NULL,
                    shares TEXT NOT NULL,
                    PRIMARY KEY (wallet, token)
                );

                CREATE TABLE copy_target_trades (
                    identity BLOB PRIMARY KEY NOT NULL,
                    wallet BLOB NOT NULL,
                    token TEXT NOT NULL,
                    side TEXT NOT NULL,
                    shares TEXT NOT NULL,
                    shares_before TEXT NOT NULL,
                    delta TEXT NOT NULL,
                    retracted INTEGER NOT NULL DEFAULT 0
                );
                """)
    }
}

// MARK: - CopyStateStore

extension SQLiteStore: CopyStateStore {
    public func decision(for key: DecisionKey) async throws -> DecisionRecord? {
        try await pool.read { db in try Self.fetchDecision(db, key) }
    }

    public func recordDecision(
        _ record: DecisionRecord
    ) async throws -> (record: DecisionRecord, inserted: Bool) {
        let trade = try StoreCoding.json(record.trade)
        let decision = try StoreCoding.json(record.decision)
        return try await pool.write { db in
            try Self.insertDecision(db, record, trade: trade, decision: decision)
        }
    }

    /// Inserts `record` unless its key has a decision; the stored one and whether it was inserted.
    static func insertDecision(
        _ db: Database, _ record: DecisionRecord, trade: String, decision: String
    ) throws -> (record: DecisionRecord, inserted: Bool) {
        try db.cached(
            sql: """
                INSERT INTO copy_decisions (account, identity, kind, label, trade, decision, decided_at, retracted)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (account, identity) DO NOTHING
                """,
            arguments: [
                record.key.account.name, Self.data(record.key.identity.bytes), record.decision.kind,
                record.decision.label, trade, decision, record.decidedAt.milliseconds, record.retracted,
            ])
        if db.changesCount > 0 { return (record, true) }
        guard let existing = try Self.fetchDecision(db, record.key) else {
            throw StoreError.corrupt("decision \(record.key) neither inserted nor found")
        }
        return (existing, false)
    }

    public func markRetracted(_ key: DecisionKey) async throws -> DecisionRecord? {
        try await pool.write { db in
            try db.cached(
                sql: "UPDATE copy_decisions SET retracted = 1 WHERE account = ? AND identity = ?",
                arguments: Self.keyArguments(key))
            return try Self.fetchDecision(db, key)
        }
    }

    public func markIncluded(_ key: DecisionKey, at trade: TradeSummary) async throws -> DecisionRecord? {
        try await pool.write { db in
            try Self.fetchDecision(db, key).map { try Self.include(db, $0, at: trade) }
        }
    }

    /// Stores `record` no longer flagged retracted, at `trade`'s position (written only when that
    /// changes it), and returns it.
    static func include(
        _ db: Database, _ record: DecisionRecord, at trade: TradeSummary
    ) throws
        -> DecisionRecord
    {
        var included = record
        included.retracted = false
        included.trade = record.trade.moved(to: trade)
        guard included != record else { return record }
        try db.cached(
            sql: "UPDATE copy_decisions SET trade = ?, retracted = 0 WHERE account = ? AND identity = ?",
            arguments: [try StoreCoding.json(included.trade)] + keyArguments(record.key))
        return included
    }

    /// Removes the decision for `key` if it is only a retraction's skip and no intent was stored
    /// for the key (see ``beginDecision(_:trade:applying:)``); whether it did.
    static func reopen(_ db: Database, _ key: DecisionKey) throws -> Bool {
        let skip = CopyDecision.skipped(.retracted)
        try db.cached(
            sql: """
                DELETE FROM copy_decisions WHERE account = ? AND identity = ? AND kind = ? AND label = ?
                    AND NOT EXISTS (SELECT 1 FROM copy_intents WHERE account = ? AND identity = ?)
                """,
            arguments: keyArguments(key) + [skip.kind, skip.label] + keyArguments(key))
        return db.changesCount > 0
    }

    public func storeIntent(_ intent: StoredIntent) async throws -> StoredIntent {
        let trade = try StoreCoding.json(intent.trade)
        let order = try StoreCoding.json(intent.intent)
        let signed = try intent.signedOrder.map { try StoreCoding.json($0) }
        let matched = try StoreCoding.json(intent.matched)
        return try await pool.write { db in
            try db.cached(
                sql: """
                    INSERT INTO copy_intents (account, identity, mode, trade, intent, signed_order, order_hash, salt,
                        status, matched, message, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account, identity) DO NOTHING
                    """,
                arguments: [
                    intent.key.account.name, Self.data(intent.key.identity.bytes), intent.mode.rawValue,
                    trade,
                    order, signed, intent.orderHash.map(Self.data), intent.salt.decimalString,
                    intent.status.rawValue, matched, intent.message, intent.createdAt.milliseconds,
                    intent.updatedAt.milliseconds,
                ])
            if db.changesCount > 0 { return intent }
            guard let existing = try Self.fetchIntent(db, intent.key) else {
                throw StoreError.corrupt("intent \(intent.key) neither inserted nor found")
            }
            return existing
        }
    }

    public func intent(for key: DecisionKey) async throws -> StoredIntent? {
        try await pool.read { db in try Self.fetchIntent(db, key) }
    }

    public func updateIntent(
        _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?,
        message: String?, at: UnixTime
    ) async throws -> IntentUpdate? {
        try await pool.write { db in
            try Self.updateIntent(
                db, key, expecting: expecting, to: status, matched: matched, message: message, at: at)
        }
    }

    /// Reads back only the mutable columns of the intent (status, matched totals, message, update
    /// time) and takes the rest from `claimed`: decoding the stored trade, order and signed order
    /// again was most of this write's time, on the way from one order's answer to the next order
    /// of its token.
    public func concludeIntent(
        _ claimed: StoredIntent, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?,
        message: String?, at: UnixTime, decide: @escaping @Sendable (StoredIntent) -> DecisionRecord
    ) async throws -> IntentConclusion? {
        try await writeSyncedLater { db -> IntentConclusion? in
            guard
                let update = try Self.updateIntent(
                    db, claimed.key, knowing: claimed, expecting: expecting, to: status, matched: matched,
                    message: message, at: at)
            else { return nil }
            let record = decide(update.intent)
            let (stored, inserted) = try Self.insertDecision(
                db, record, trade: try StoreCoding.json(record.trade),
                decision: try StoreCoding.json(record.decision))
            return IntentConclusion(update: update, decision: stored, inserted: inserted)
        }
    }

    public func beginDecision(
        _ key: DecisionKey, trade: TradeSummary, applying target: TargetTrade
    ) async throws -> DecisionStart {
        try await writeSyncedLater { db in
            if let decided = try Self.fetchDecision(db, key) {
                if decided.decision == .skipped(.retracted), try Self.reopen(db, key) {
                    return .reopened(holding: try Self.applyTarget(db, target))
                }
                try Self.reapplyRecordedTarget(db, target)
                let included = try Self.include(db, decided, at: trade)
                return decided.retracted ? .reinstated(included) : .decided(included)
            }
            let holding = try Self.applyTarget(db, target)
            return .undecided(
                holding: holding,
                intent: try Self.fetchIntent(db, key).map { try Self.move(db, $0, to: trade) })
        }
    }

    /// Stores `intent` at `trade`'s position (written only when that moves it), and returns it.
    static func move(_ db: Database, _ intent: StoredIntent, to trade: TradeSummary) throws -> StoredIntent {
        var moved = intent
        moved.trade = intent.trade.moved(to: trade)
        guard moved != intent else { return intent }
        try db.cached(
            sql: "UPDATE copy_intents SET trade = ? WHERE account = ? AND identity = ?",
            arguments: [try StoreCoding.json(moved.trade)] + keyArguments(intent.key))
        return moved
    }

    /// The compare-and-set of ``updateIntent(_:expecting:to:matched:message:at:)`` in `db`; with
    /// `known`, the intent's immutable parts are taken from it and only its mutable columns read.
    static func updateIntent(
        _ db: Database, _ key: DecisionKey, knowing known: StoredIntent? = nil, expecting: Set<IntentStatus>,
        to status: IntentStatus, matched: MatchedTotals?, message: String?, at: UnixTime
    ) throws -> IntentUpdate? {
        let current: StoredIntent?
        if let known {
            current = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT status, matched, message, updated_at FROM copy_intents
                        WHERE account = ? AND identity = ?
                        """),
                arguments: keyArguments(key)
            ).map { row in try Self.withMutableColumns(row, of: known) }
        } else {
            current = try Self.fetchIntent(db, key)
        }
        guard var intent = current, expecting.contains(intent.status) else { return nil }
        intent.status = status
        if let message { intent.message = message }
        intent.updatedAt = at
        var booked: FillRecord?
        if let matched, let fill = intent.fill(growingTo: matched) {
            let last =
                try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT MAX(sequence) FROM copy_fills WHERE account = ?"),
                    arguments: [key.account.name]) ?? 0
            let fillJSON = try StoreCoding.json(fill)
            let record = FillRecord(
                sequence: last + 1, key: key, mode: intent.mode, fill: fill,
                pricedFromTarget: matched.pricedFromTarget, at: at)
            try db.cached(
                sql: """
                    INSERT INTO copy_fills (account, sequence, identity, mode, fill, priced_from_target, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.account.name, record.sequence, Self.data(key.identity.bytes),
                    record.mode.rawValue,
                    fillJSON, record.pricedFromTarget, at.milliseconds,
                ])
            intent.matched = matched
            booked = record
        }
        let matchedJSON = try StoreCoding.json(intent.matched)
        try db.cached(
            sql: """
                UPDATE copy_intents SET status = ?, message = ?, matched = ?, updated_at = ?
                WHERE account = ? AND identity = ?
                """,
            arguments: [
                intent.status.rawValue, intent.message, matchedJSON,
                intent.updatedAt.milliseconds, key.account.name, Self.data(key.identity.bytes),
            ])
        return IntentUpdate(intent: intent, fill: booked)
    }

    public func unresolvedIntents(account: AccountID, updatedBefore: UnixTime) async throws -> [StoredIntent]
    {
        let open = IntentStatus.allCases.filter { !$0.isFinal }
        return try await pool.read { db in
            var arguments: StatementArguments = [account.name]
            arguments += StatementArguments(open.map(\.rawValue))
            arguments += [updatedBefore.milliseconds]
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM copy_intents
                    WHERE account = ? AND status IN (\(Self.placeholders(open.count))) AND updated_at < ?
                    ORDER BY created_at, id
                    """,
                arguments: arguments
            ).map(Self.storedIntent)
        }
    }

    public func fills(account: AccountID, after sequence: Int64) async throws -> [FillRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT * FROM copy_fills WHERE account = ? AND sequence > ? ORDER BY sequence"),
                arguments: [account.name, sequence]
            ).map(Self.fillRecord)
        }
    }

    public func loadLedger(account: AccountID) async throws -> LedgerSnapshot? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT through_fill, ledger FROM copy_ledgers WHERE account = ?"),
                    arguments: [account.name])
            else { return nil }
            return LedgerSnapshot(
                ledger: try Self.decode(Ledger.self, row["ledger"]), throughFill: row["through_fill"])
        }
    }

    public func saveLedger(account: AccountID, _ snapshot: LedgerSnapshot) async throws {
        let ledger = try StoreCoding.json(snapshot.ledger)
        try await writeSyncedLater { db in
            // An equal `throughFill` replaces the stored snapshot (as in memory); only a newer one stays.
            try db.cached(
                sql: """
                    INSERT INTO copy_ledgers (account, through_fill, ledger) VALUES (?, ?, ?)
                    ON CONFLICT (account) DO UPDATE SET through_fill = excluded.through_fill, ledger = excluded.ledger
                    WHERE excluded.through_fill >= copy_ledgers.through_fill
                    """,
                arguments: [account.name, snapshot.throughFill, ledger])
        }
    }

    public func recordDailyPnL(account: AccountID, _ pnl: DailyPnL) async throws {
        try await writeSyncedLater { db in
            try db.cached(
                sql: """
                    INSERT INTO copy_daily_pnl (account, day, realised, unrealised_at_start, unrealised_now)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (account, day) DO UPDATE SET realised = excluded.realised,
                        unrealised_at_start = excluded.unrealised_at_start, unrealised_now = excluded.unrealised_now
                    """,
                arguments: [
                    account.name, pnl.day.daysSinceEpoch, pnl.realised.fixedString,
                    pnl.unrealisedAtStart.fixedString, pnl.unrealisedNow.fixedString,
                ])
        }
    }

    public func dailyPnL(account: AccountID, day: UTCDay) async throws -> DailyPnL? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM copy_daily_pnl WHERE account = ? AND day = ?"),
                    arguments: [account.name, day.daysSinceEpoch])
            else { return nil }
            return DailyPnL(
                day: day, realised: try Self.fixed6(row["realised"]),
                unrealisedAtStart: try Self.fixed6(row["unrealised_at_start"]),
                unrealisedNow: try Self.fixed6(row["unrealised_now"]))
        }
    }

    public func applyTargetTrade(_ trade: TargetTrade) async throws -> TargetHolding {
        try await writeSyncedLater { db in try Self.applyTarget(db, trade) }
    }

    /// Applies `trade` to its wallet's holding once, at its position, in `db` (again once when it
    /// was retracted; moved when it was applied elsewhere); the holding before it.
    static func applyTarget(_ db: Database, _ trade: TargetTrade) throws -> TargetHolding {
        let holding: StatementArguments = [Data(trade.wallet.bytes), trade.tokenId.decimalString]
        let identity = Self.data(trade.identity.bytes)
        let position: StatementArguments = [
            Int64(clamping: trade.blockNumber), Int64(clamping: trade.logIndex),
        ]
        if let recorded = try Row.fetchOne(
            db.cachedStatement(
                sql:
                    "SELECT retracted, block, log_index, shares_before FROM copy_target_trades WHERE identity = ?"
            ),
            arguments: [identity])
        {
            // Recorded before: applied where it is now (the flag and the position make it once).
            let retracted: Bool = recorded["retracted"]
            if !retracted, recorded["block"] as Int64 == Int64(clamping: trade.blockNumber),
                recorded["log_index"] as Int64 == Int64(clamping: trade.logIndex)
            {
                return TargetHolding(sharesBefore: try Self.fixed6(recorded["shares_before"]))
            }
            try db.cached(
                sql:
                    "UPDATE copy_target_trades SET retracted = 0, block = ?, log_index = ? WHERE identity = ?",
                arguments: position + [identity])
            return TargetHolding(sharesBefore: try Self.refoldTarget(db, holding, reporting: trade.identity))
        }
        let before = try Self.targetHolding(db, holding)
        let after = trade.holding(after: before)
        try db.cached(
            sql: """
                INSERT INTO copy_target_trades
                    (identity, wallet, token, side, shares, shares_before, delta, block, log_index)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                identity, Data(trade.wallet.bytes), trade.tokenId.decimalString, trade.side.text,
                trade.shares.fixedString, before.fixedString, (after - before).fixedString,
            ] + position)
        // A trade placed before live ones of the holding (mined again lower than a later one was
        // seen): the holding is folded again.
        let later = try Bool.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT EXISTS (SELECT 1 FROM copy_target_trades
                        WHERE wallet = ? AND token = ? AND retracted = 0 AND (block, log_index) > (?, ?))
                    """),
            arguments: holding + position)
        if later == true {
            return TargetHolding(sharesBefore: try Self.refoldTarget(db, holding, reporting: trade.identity))
        }
        try Self.setTargetHolding(db, holding, after)
        return TargetHolding(sharesBefore: before)
    }

    /// Makes the holding `holding` (wallet and token) again from its live trades in chain order
    /// (``TargetHoldingFold``), recording the holding before each where it changed; the holding
    /// before the trade `identity` (zero if it is not live).
    static func refoldTarget(
        _ db: Database, _ holding: StatementArguments, reporting identity: TradeIdentity
    ) throws -> Fixed6 {
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT identity, side, shares, shares_before, delta FROM copy_target_trades
                    WHERE wallet = ? AND token = ? AND retracted = 0
                    ORDER BY block, log_index, rowid
                    """),
            arguments: holding)
        var trades: [(side: Side, shares: Fixed6)] = []
        for row in rows {
            let side: String = row["side"]
            trades.append((side == Side.buy.text ? .buy : .sell, try Self.fixed6(row["shares"])))
        }
        let (steps, total) = TargetHoldingFold.fold(trades)
        let reporting = Self.data(identity.bytes)
        var reported = Fixed6.zero
        for (row, step) in zip(rows, steps) {
            let id: Data = row["identity"]
            if id == reporting { reported = step.before }
            let (before, delta) = (step.before.fixedString, step.delta.fixedString)
            guard row["shares_before"] as String != before || row["delta"] as String != delta else {
                continue
            }
            try db.cached(
                sql: "UPDATE copy_target_trades SET shares_before = ?, delta = ? WHERE identity = ?",
                arguments: [before, delta, id])
        }
        try Self.setTargetHolding(db, holding, total)
        return reported
    }

    /// Applies `trade` again if it is recorded (retracted, or at another position); a target
    /// trade never recorded is left alone.
    static func reapplyRecordedTarget(_ db: Database, _ trade: TargetTrade) throws {
        guard
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: "SELECT EXISTS (SELECT 1 FROM copy_target_trades WHERE identity = ?)"),
                arguments: [Self.data(trade.identity.bytes)]) == true
        else { return }
        _ = try Self.applyTarget(db, trade)
    }

    /// The tracked holding `holding` (wallet and token) in `db`; zero when none.
    static func targetHolding(_ db: Database, _ holding: StatementArguments) throws -> Fixed6 {
        try String.fetchOne(
            db.cachedStatement(sql: "SELECT shares FROM copy_target_holdings WHERE wallet = ? AND token = ?"),
            arguments: holding
        ).map(Self.fixed6) ?? .zero
    }

    public func retractTargetTrade(_ identity: TradeIdentity) async throws -> Bool {
        try await pool.write { db in
            try db.cached(
                sql: "UPDATE copy_target_trades SET retracted = 1 WHERE identity = ? AND retracted = 0",
                arguments: [Self.data(identity.bytes)])
            guard db.changesCount > 0 else { return false }
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT wallet, token FROM copy_target_trades WHERE identity = ?"),
                    arguments: [Self.data(identity.bytes)])
            else { throw StoreError.corrupt("target trade \(identity) updated but not found") }
            _ = try Self.refoldTarget(
                db, [row["wallet"] as Data, row["token"] as String], reporting: identity)
            return true
        }
    }

    public func targetHolding(wallet: Address, tokenId: UInt256) async throws -> Fixed6 {
        try await pool.read { db in try Self.targetHolding(db, [Data(wallet.bytes), tokenId.decimalString]) }
    }
}

// MARK: - Reading for the CLI

extension SQLiteStore: CopyStateReader {
    public func decisionEntries(
        account: AccountID, limit: Int?, afterRowID: Int64?
    ) async throws -> [DecisionEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM copy_decisions WHERE account = ? AND id > ? ORDER BY id LIMIT ?",
                arguments: [account.name, afterRowID ?? Int64.min, limit.map { max($0, 0) } ?? -1]
            ).map { DecisionEntry(rowID: $0["id"], record: try Self.decisionRecord($0)) }
        }
    }

    /// The last `limit` decisions of `account` (only those of `kind` — `copied`, `skipped` or
    /// `failed` — when given), oldest first; read newest first through the index, not all.
    public func latestDecisionEntries(
        account: AccountID, limit: Int, kind: String?
    ) async throws -> [DecisionEntry] {
        try await pool.read { db in
            var sql = "SELECT * FROM copy_decisions WHERE account = ?"
            var arguments: StatementArguments = [account.name]
            if let kind {
                sql += " AND kind = ?"
                arguments += [kind]
            }
            return try Row.fetchAll(
                db, sql: sql + " ORDER BY id DESC LIMIT ?", arguments: arguments + [max(limit, 0)]
            )
            .reversed().map { DecisionEntry(rowID: $0["id"], record: try Self.decisionRecord($0)) }
        }
    }

    /// How the decisions of `account` ended.
    public func decisionCounts(account: AccountID) async throws -> DecisionCounts {
        try await pool.read { db in
            var counts = DecisionCounts(copied: 0, skipped: 0, failed: 0, retractedAfterCopy: 0)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT kind, retracted, COUNT(*) AS n FROM copy_decisions WHERE account = ?
                    GROUP BY kind, retracted
                    """,
                arguments: [account.name])
            for row in rows {
                let n: Int = row["n"]
                switch row["kind"] as String {
                case "copied":
                    counts.copied += n
                    if row["retracted"] as Bool { counts.retractedAfterCopy += n }
                case "skipped": counts.skipped += n
                case "failed": counts.failed += n
                case let other: throw StoreError.corrupt("decision kind \(other)")
                }
            }
            return counts
        }
    }

    /// The intents of `account` whose status is in `statuses` (all when nil), oldest first.
    public func intents(account: AccountID, statuses: Set<IntentStatus>?) async throws -> [StoredIntent] {
        let wanted = statuses.map { Array($0).map(\.rawValue).sorted() }
        return try await pool.read { db in
            var sql = "SELECT * FROM copy_intents WHERE account = ?"
            var arguments: StatementArguments = [account.name]
            if let wanted {
                sql += " AND status IN (\(Self.placeholders(wanted.count)))"
                arguments += StatementArguments(wanted)
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY created_at, id", arguments: arguments)
                .map(Self.storedIntent)
        }
    }

    /// Every account with a decision, an intent, a fill or a ledger, in name order.
    public func accounts() async throws -> [AccountID] {
        try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT account FROM copy_decisions UNION SELECT account FROM copy_intents
                    UNION SELECT account FROM copy_fills UNION SELECT account FROM copy_ledgers
                    ORDER BY account
                    """
            ).map { AccountID($0) }
        }
    }
}

// MARK: - Row mapping

extension SQLiteStore {
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try StoreCoding.decode(type, text)
    }

    static func fixed6(_ text: String) throws -> Fixed6 { try StoreCoding.fixed6(text) }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    static func keyArguments(_ key: DecisionKey) -> StatementArguments {
        [key.account.name, data(key.identity.bytes)]
    }

    static func decisionKey(_ row: Row) throws -> DecisionKey {
        DecisionKey(
            account: AccountID(row["account"] as String),
            identity: TradeIdentity(try bytes32(row["identity"])))
    }

    static func fetchDecision(_ db: Database, _ key: DecisionKey) throws -> DecisionRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM copy_decisions WHERE account = ? AND identity = ?"),
            arguments: keyArguments(key)
        ).map(decisionRecord)
    }

    static func decisionRecord(_ row: Row) throws -> DecisionRecord {
        DecisionRecord(
            key: try decisionKey(row), trade: try decode(TradeSummary.self, row["trade"]),
            decision: try decode(CopyDecision.self, row["decision"]),
            decidedAt: UnixTime(milliseconds: row["decided_at"]), retracted: row["retracted"])
    }

    static func fetchIntent(_ db: Database, _ key: DecisionKey) throws -> StoredIntent? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM copy_intents WHERE account = ? AND identity = ?"),
            arguments: keyArguments(key)
        ).map(storedIntent)
    }

    static func storedIntent(_ row: Row) throws -> StoredIntent {
        let modeText: String = row["mode"]
        let saltText: String = row["salt"]
        guard let mode = ExecutionMode(rawValue: modeText) else {
            throw StoreError.corrupt("mode \(modeText)")
        }
        guard let salt = UInt256(decimal: saltText) else { throw StoreError.corrupt("salt \(saltText)") }
        let signed: String? = row["signed_order"]
        let intent = StoredIntent(
            key: try decisionKey(row), trade: try decode(TradeSummary.self, row["trade"]), mode: mode,
            intent: try decode(OrderIntent.self, row["intent"]),
            signedOrder: try signed.map { try decode(SignedOrder.self, $0) }, salt: salt,
            createdAt: UnixTime(milliseconds: row["created_at"]))
        return try withMutableColumns(row, of: intent)
    }

    /// `intent` with the status, matched totals, message and update time of `row`.
    static func withMutableColumns(_ row: Row, of intent: StoredIntent) throws -> StoredIntent {
        let statusText: String = row["status"]
        guard let status = IntentStatus(rawValue: statusText) else {
            throw StoreError.corrupt("intent status \(statusText)")
        }
        var intent = intent
        intent.status = status
        intent.matched = try decode(MatchedTotals.self, row["matched"])
        intent.message = row["message"]
        intent.updatedAt = UnixTime(milliseconds: row["updated_at"])
        return intent
    }

    static func fillRecord(_ row: Row) throws -> FillRecord {
        let modeText: String = row["mode"]
        guard let mode = ExecutionMode(rawValue: modeText) else {
            throw StoreError.corrupt("mode \(modeText)")
        }
        return FillRecord(
            sequence: row["sequence"], key: try decisionKey(row), mode: mode,
            fill: try decode(LedgerFill.self, row["fill"]), pricedFromTarget: row["priced_from_target"],
            at: UnixTime(milliseconds: row["at"]))
    }

    static func setTargetHolding(_ db: Database, _ holding: StatementArguments, _ shares: Fixed6) throws {
        try db.cached(
            sql: """
                INSERT INTO copy_target_holdings (wallet, token, shares) VALUES (?, ?, ?)
                ON CONFLICT (wallet, token) DO UPDATE SET shares = excluded.shares
                """,
            arguments: holding + [shares.fixedString])
    }
}
