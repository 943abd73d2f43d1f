import EVM

// The seams of cluster mode (PostgreSQL, several processes): the listener queues each trade for
// every account that follows its wallet; executors claim accounts and work through their queues;
// one listener at a time is elected. The PostgreSQL store implements these.

/// A trade (or retraction) of a followed wallet, queued for one account.
public struct CopyWorkItem: Hashable, Sendable {
    /// The account that decides it.
    public var account: AccountID
    /// What the engine decides about.
    public var trade: CopyTrade

    /// Creates an item.
    public init(account: AccountID, trade: CopyTrade) {
        self.account = account
        self.trade = trade
    }
}

/// A queued item and its place in the queue.
public struct QueuedWork: Hashable, Sendable {
    /// Increasing in queue order (the listener's delivery order).
    public var sequence: Int64
    /// The item.
    public var item: CopyWorkItem

    /// Creates a queued item.
    public init(sequence: Int64, item: CopyWorkItem) {
        self.sequence = sequence
        self.item = item
    }
}

/// The queue of one account, as `copybot status` shows it.
public struct QueueDepth: Hashable, Sendable {
    public var account: AccountID
    /// Items not finished.
    public var count: Int
    /// When the oldest of them was queued.
    public var oldestQueuedAt: UnixTime?

    /// Creates a depth.
    public init(account: AccountID, count: Int, oldestQueuedAt: UnixTime?) {
        self.account = account
        self.count = count
        self.oldestQueuedAt = oldestQueuedAt
    }
}

/// The durable queue between the listener and the executors.
///
/// Exactly once rests on the engine's store (one decision per key, intents claimed by
/// compare-and-set), not on the queue: an item is removed only after its decision is stored, so a
/// crash anywhere hands it to an executor again, which finds the stored decision.
public protocol CopyWorkQueue: Sendable {
    /// Queues `items` in order, atomically. An item whose (account, identity, kind) is queued and
    /// not finished stays where it is (a listener that crashed before acknowledging queues again).
    func enqueue(_ items: [CopyWorkItem], at: UnixTime) async throws
    /// Unfinished items of `accounts`, in queue order, at most `limit`.
    func pending(accounts: [AccountID], limit: Int) async throws -> [QueuedWork]
    /// Removes finished items.
    func finish(_ sequences: [Int64]) async throws
    /// Unfinished items per account.
    func depths() async throws -> [QueueDepth]
}

/// A process of a cluster, as it reports itself.
public struct ClusterMember: Hashable, Sendable {
    /// `listener`, `executor` or `all`.
    public var role: String
    /// Unique per process (`host:pid` by default).
    public var name: String
    /// Whether this process is the active listener.
    public var activeListener: Bool
    /// When the member last reported.
    public var seenAt: UnixTime
    /// When the member started.
    public var startedAt: UnixTime

    /// Creates a member record.
    public init(role: String, name: String, activeListener: Bool, seenAt: UnixTime, startedAt: UnixTime) {
        self.role = role
        self.name = name
        self.activeListener = activeListener
        self.seenAt = seenAt
        self.startedAt = startedAt
    }
}

/// Who holds an account's work.
public struct AccountLease: Hashable, Sendable {
    public var account: AccountID
    /// The executor holding it (nil: free).
    public var owner: String?
    /// When the lease ends unless renewed.
    public var expiresAt: UnixTime

    /// Creates a lease record.
    public init(account: AccountID, owner: String?, expiresAt: UnixTime) {
        self.account = account
        self.owner = owner
        self.expiresAt = expiresAt
    }
}

/// Membership and account leases.
///
/// Each account is worked by one executor at a time (its lease), which keeps the orders of one
/// token in sequence and the account's ledger in one process; executors share the accounts
/// between them and take over those of an executor whose lease expired.
public protocol ClusterCoordinator: Sendable {
    /// Records `member` as alive now.
    func heartbeat(_ member: ClusterMember) async throws
    /// Removes `name` (a clean stop).
    func leave(_ name: String) async throws
    /// Members seen since `since`.
    func members(seenSince since: UnixTime) async throws -> [ClusterMember]
    /// Renews the leases `owner` holds among `accounts`, then takes free or expired ones (skipping
    /// those another executor is taking at the same moment) until it holds `share`; returns what
    /// it holds. Never takes an account whose lease is held and unexpired.
    func claimAccounts(
        _ accounts: [AccountID], owner: String, share: Int, lease: Duration, now: UnixTime
    )
        async throws -> [AccountID]
    /// Frees `accounts` held by `owner` (it stopped working them).
    func releaseAccounts(_ accounts: [AccountID], owner: String) async throws
    /// Every account lease.
    func leases() async throws -> [AccountLease]
}

/// The right to be the one active listener, while it lasts.
public protocol Leadership: Sendable {
    /// Throws when the leadership is lost (the connection that holds it is gone).
    func confirm() async throws
    /// Gives it up.
    func resign() async
}

/// Elects one holder of a named role among processes.
public protocol LeaderElection: Sendable {
    /// Becomes the holder of `role` if nobody is; nil when someone else is.
    func tryAcquire(_ role: String) async throws -> (any Leadership)?
}
