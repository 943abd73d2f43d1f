import CopyEngine
import EVM
import Logging
import PostgresNIO

// Fencing: every write an executor makes for an account carries the epoch of its lease, checked
// in the write's own transaction (see `AccountFence`).

/// The fence of the writes made in this task (set by ``PostgresFencedAccountStore`` around each
/// call it passes to the store; nil for unfenced writes: single-process runs, the CLI).
enum FenceContext {
    @TaskLocal static var account: AccountFence?
}

extension PostgresStore {
    /// Migration `v5-cluster-fencing`: the account leases' epochs, the history of takes, and which
    /// holder at which epoch wrote each decision and fill (null when written unfenced).
    static let fencingSchema = [
        "ALTER TABLE cluster_accounts ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0",
        """
        CREATE TABLE cluster_account_takes (
            account TEXT NOT NULL,
            epoch BIGINT NOT NULL,
            owner TEXT NOT NULL,
            taken_at BIGINT NOT NULL,
            PRIMARY KEY (account, epoch)
        )
        """,
        "ALTER TABLE copy_decisions ADD COLUMN written_by TEXT",
        "ALTER TABLE copy_decisions ADD COLUMN epoch BIGINT",
        "ALTER TABLE copy_fills ADD COLUMN written_by TEXT",
        "ALTER TABLE copy_fills ADD COLUMN epoch BIGINT",
    ]

    /// How long a fenced transaction may sit idle (its process stopped or cut off between two
    /// statements) before the server ends its session. Until then it holds the lease row's key-share
    /// lock and a take skips the account; after, its write fails and the account can be taken.
    static let fencedIdleTimeoutMilliseconds = 2_000

    /// The first statement of a fenced transaction: reads the lease row locked `FOR KEY SHARE`
    /// until the transaction ends, and throws ``FencedWrite`` unless it names `fence`'s owner at
    /// `fence`'s epoch. Expiry alone refuses nothing: only a take (which increments the epoch)
    /// does, so a slow renewal causes no false refusal.
    static func checkFence(_ c: PostgresConnection, _ fence: AccountFence, logger: Logger) async throws {
        try await c.run(
            "SET LOCAL idle_in_transaction_session_timeout = \(unescaped: "\(fencedIdleTimeoutMilliseconds)")",
            logger: logger)
        let row = try await c.row(
            "SELECT owner, epoch FROM cluster_accounts WHERE account = \(fence.account.name) FOR KEY SHARE",
            logger: logger)
        let owner = try row?("owner", as: String?.self)
        let epoch = try row?("epoch", as: Int64.self) ?? 0
        guard owner == fence.owner, epoch == fence.epoch else {
            throw FencedWrite(
                scope: "account \(fence.account.name)", owner: fence.owner, epoch: fence.epoch,
                currentOwner: owner, currentEpoch: epoch)
        }
    }
}

/// One account's state in a ``PostgresStore``, every write fenced by the account's lease: the
/// store's own methods, run with ``FenceContext/account`` set. Reads pass through unfenced.
struct PostgresFencedAccountStore: FencedAccountStore {
    let store: PostgresStore
    let fence: AccountFence
    let refused: @Sendable (FencedWrite) -> Void

    /// Runs the write `body` under the fence; a refusal is reported, then thrown.
    private func fenced<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await FenceContext.$account.withValue(fence) { try await body() }
        } catch let error as FencedWrite {
            refused(error)
            throw error
        }
    }

    func decision(for key: DecisionKey) async throws -> DecisionRecord? { try await store.decision(for: key) }

    func recordDecision(_ record: DecisionRecord) async throws -> (record: DecisionRecord, inserted: Bool) {
        try await fenced { try await store.recordDecision(record) }
    }

    func markRetracted(_ key: DecisionKey) async throws -> DecisionRecord? {
        try await fenced { try await store.markRetracted(key) }
    }

    func markIncluded(_ key: DecisionKey, at trade: TradeSummary) async throws -> DecisionRecord? {
        try await fenced { try await store.markIncluded(key, at: trade) }
    }

    func storeIntent(_ intent: StoredIntent) async throws -> StoredIntent {
        try await fenced { try await store.storeIntent(intent) }
    }

    func intent(for key: DecisionKey) async throws -> StoredIntent? { try await store.intent(for: key) }

    func updateIntent(
        _ key: DecisionKey, expecting: Set<IntentStatus>, to status: IntentStatus, matched: MatchedTotals?,
        message: String?, at: UnixTime
    ) async throws -> IntentUpdate? {
        try await fenced {
            try await store.updateIntent(
                key, expecting: expecting, to: status, matched: matched, message: message, at: at)
        }
    }

    func concludeIntent(
        _ claimed: StoredIntent, expecting: Set<IntentStatus>, to status: IntentStatus,
        matched: MatchedTotals?, message: String?, at: UnixTime,
        decide: @escaping @Sendable (StoredIntent) -> DecisionRecord
    ) async throws -> IntentConclusion? {
        try await fenced {
            try await store.concludeIntent(
                claimed, expecting: expecting, to: status, matched: matched, message: message, at: at,
                decide: decide)
        }
    }

    func beginDecision(
        _ key: DecisionKey, trade: TradeSummary, applying target: TargetTrade
    ) async throws -> DecisionStart {
        try await fenced { try await store.beginDecision(key, trade: trade, applying: target) }
    }

    func unresolvedIntents(account: AccountID, updatedBefore: UnixTime) async throws -> [StoredIntent] {
        try await store.unresolvedIntents(account: account, updatedBefore: updatedBefore)
    }

    func fills(account: AccountID, after sequence: Int64) async throws -> [FillRecord] {
        try await store.fills(account: account, after: sequence)
    }

    func loadLedger(account: AccountID) async throws -> LedgerSnapshot? {
        try await store.loadLedger(account: account)
    }

    func saveLedger(account: AccountID, _ snapshot: LedgerSnapshot) async throws {
        try await fenced { try await store.saveLedger(account: account, snapshot) }
    }

    func recordDailyPnL(account: AccountID, _ pnl: DailyPnL) async throws {
        try await fenced { try await store.recordDailyPnL(account: account, pnl) }
    }

    func dailyPnL(account: AccountID, day: UTCDay) async throws -> DailyPnL? {
        try await store.dailyPnL(account: account, day: day)
    }

    func applyTargetTrade(_ trade: TargetTrade) async throws -> TargetHolding {
        try await fenced { try await store.applyTargetTrade(trade) }
    }

    func retractTargetTrade(_ identity: TradeIdentity) async throws -> Bool {
        try await fenced { try await store.retractTargetTrade(identity) }
    }

    func targetHolding(wallet: Address, tokenId: UInt256) async throws -> Fixed6 {
        try await store.targetHolding(wallet: wallet, tokenId: tokenId)
    }

    func finish(_ sequences: [Int64]) async throws {
        try await fenced { try await store.finish(sequences) }
    }
}
