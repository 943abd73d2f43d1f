import Chain
import CopyEngine

/// A stored decision with its row id, the position in decision order (for paging and tailing).
public struct DecisionEntry: Hashable, Sendable {
    /// Increasing in the order decisions were recorded.
    public var rowID: Int64
    /// The decision.
    public var record: DecisionRecord

    /// Creates an entry.
    public init(rowID: Int64, record: DecisionRecord) {
        self.rowID = rowID
        self.record = record
    }
}

/// How an account's decisions ended, counted.
public struct DecisionCounts: Hashable, Sendable {
    /// Decisions that copied the trade (retracted or not).
    public var copied: Int
    /// Decisions that skipped the trade.
    public var skipped: Int
    /// Decisions that failed to copy the trade.
    public var failed: Int
    /// Copied decisions whose trade a reorg removed afterwards.
    public var retractedAfterCopy: Int

    /// Creates counts.
    public init(copied: Int, skipped: Int, failed: Int, retractedAfterCopy: Int) {
        self.copied = copied
        self.skipped = skipped
        self.failed = failed
        self.retractedAfterCopy = retractedAfterCopy
    }

    /// All decisions.
    public var total: Int { copied + skipped + failed }
}

/// The reads `copybot status`, `trades` and `positions` make of the copy engine's state, beyond
/// ``CopyStateStore``: decisions in recording order, counts by outcome, intents by status, accounts.
/// Implemented by ``SQLiteStore`` and ``PostgresStore``; safe while a service writes.
public protocol CopyStateReader: Sendable {
    /// Like ``decisions(account:limit:afterRowID:)``, with each decision's row id (pass the last one
    /// as `afterRowID` to read on).
    func decisionEntries(account: AccountID, limit: Int?, afterRowID: Int64?) async throws -> [DecisionEntry]

    /// The last `limit` decisions of `account` (only those of `kind` — `copied`, `skipped` or
    /// `failed` — when given), oldest first; read newest first through the index, not all.
    func latestDecisionEntries(account: AccountID, limit: Int, kind: String?) async throws -> [DecisionEntry]

    /// How the decisions of `account` ended.
    func decisionCounts(account: AccountID) async throws -> DecisionCounts

    /// The intents of `account` whose status is in `statuses` (all when nil), oldest first.
    func intents(account: AccountID, statuses: Set<IntentStatus>?) async throws -> [StoredIntent]

    /// Every account with a decision, an intent, a fill or a ledger, in name order.
    func accounts() async throws -> [AccountID]
}

extension CopyStateReader {
    /// The decisions of `account` in the order they were recorded: those after `afterRowID` (all
    /// when nil), at most `limit` (all when nil).
    public func decisions(
        account: AccountID, limit: Int?, afterRowID: Int64?
    ) async throws -> [DecisionRecord] {
        try await decisionEntries(account: account, limit: limit, afterRowID: afterRowID).map(\.record)
    }

    /// The last `limit` decisions of `account`, oldest first.
    public func latestDecisionEntries(account: AccountID, limit: Int) async throws -> [DecisionEntry] {
        try await latestDecisionEntries(account: account, limit: limit, kind: nil)
    }
}

/// Everything copybot keeps in its store, as the composition root and the CLI use it: the
/// listener's state, the copy engine's state and the CLI's reads. ``SQLiteStore`` and
/// ``PostgresStore`` are each all three.
public typealias CopyBotStore = ChainStateStore & CopyStateReader & CopyStateStore
