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
    /// How many times the account was taken: each take increments it (see ``AccountFence``).
    public var epoch: Int64

    /// Creates a lease record.
    public init(account: AccountID, owner: String?, expiresAt: UnixTime, epoch: Int64 = 0) {
        self.account = account
        self.owner = owner
        self.expiresAt = expiresAt
        self.epoch = epoch
    }
}

/// An account as one executor holds it: the fencing token of its lease.
///
/// Every take of an account increments its epoch. Every write an executor makes on behalf of the
/// account carries the fence it holds and is refused (``FencedWrite``) unless the account's lease
/// still names this owner at this epoch, checked in the write's own transaction. A process cannot
/// know it was paused; the store can: an executor stopped past its lease, whose accounts another
/// executor took, writes nothing for them when it resumes.
public struct AccountFence: Hashable, Sendable, CustomStringConvertible {
    public var account: AccountID
    /// The executor holding the lease.
    public var owner: String
    /// The lease's epoch when it was taken.
    public var epoch: Int64

    /// Creates a fence.
    public init(account: AccountID, owner: String, epoch: Int64) {
        self.account = account
        self.owner = owner
        self.epoch = epoch
    }

    public var description: String { "account \(account.name) held by \(owner) at epoch \(epoch)" }
}

/// A write refused because the fence it carried is stale: another process took the lease (or the
/// listener election) since. The writer must stop acting for that account (or role) at once, and
/// never retry the write under the old fence.
public struct FencedWrite: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was held: `account a1`, `listener:polygon`.
    public var scope: String
    /// The holder and epoch the writer believed it had.
    public var owner: String
    public var epoch: Int64
    /// The holder and epoch the store has now (nil owner: free).
    public var currentOwner: String?
    public var currentEpoch: Int64

    /// Creates the error.
    public init(scope: String, owner: String, epoch: Int64, currentOwner: String?, currentEpoch: Int64) {
        self.scope = scope
        self.owner = owner
        self.epoch = epoch
        self.currentOwner = currentOwner
        self.currentEpoch = currentEpoch
    }

    public var description: String {
        "write refused: \(scope) is \(currentOwner.map { "held by \($0)" } ?? "free") at epoch \(currentEpoch); \(owner) held epoch \(epoch)"
    }
}

/// One account's state as its holder writes it: every write fenced by the lease (see
/// ``AccountFence``). A refused write throws ``FencedWrite`` (after calling the `refused` handler
/// the store was made with).
public protocol FencedAccountStore: CopyStateStore {
    /// The fence every write carries.
    var fence: AccountFence { get }
    /// Removes finished items of the account's queue (as ``CopyWorkQueue/finish(_:)``), fenced.
    func finish(_ sequences: [Int64]) async throws
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
    ///
    /// A take increments the account's epoch; a renewal keeps it. The fences returned are what
    /// the writes for those accounts must carry (``fencedStore(_:refused:)``).
    func claimAccounts(
        _ accounts: [AccountID], owner: String, share: Int, lease: Duration, now: UnixTime
    )
        async throws -> [AccountFence]
    /// Frees `accounts` held by `owner` (it stopped working them).
    func releaseAccounts(_ accounts: [AccountID], owner: String) async throws
    /// Every account lease.
    func leases() async throws -> [AccountLease]
    /// Forgets members not seen for `age` (by the server's clock); their names.
    func pruneMembers(goneFor age: Duration) async throws -> [String]
    /// The account's state, every write fenced by `fence`; `refused` is called with each refusal
    /// before it is thrown.
    func fencedStore(
        _ fence: AccountFence, refused: @escaping @Sendable (FencedWrite) -> Void
    ) -> any FencedAccountStore
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
