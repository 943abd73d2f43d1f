import CopyEngine
import EVM
import Foundation
import Logging
import PostgresNIO

// MARK: - Schema

extension PostgresStore {
    /// Migration `v3-cluster`: the queue between the listener and the executors, the membership,
    /// and the account leases. Times are milliseconds since 1970 of the server's clock (`now()`),
    /// so the leases of processes on several machines do not depend on their clocks agreeing.
    static let clusterSchema = [
        """
        CREATE TABLE copy_work (
            sequence BIGSERIAL PRIMARY KEY,
            account TEXT NOT NULL,
            identity BYTEA NOT NULL,
            kind TEXT NOT NULL,
            trade TEXT NOT NULL,
            queued_at BIGINT NOT NULL,
            UNIQUE (account, identity, kind)
        )
        """,
        "CREATE INDEX copy_work_account ON copy_work (account, sequence)",
        """
        CREATE TABLE cluster_members (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            active_listener BOOLEAN NOT NULL,
            seen_at BIGINT NOT NULL,
            started_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE cluster_accounts (
            account TEXT PRIMARY KEY,
            owner TEXT,
            expires_at BIGINT NOT NULL
        )
        """,
    ]

    /// `duration` in whole milliseconds, as the cluster tables keep times.
    fileprivate static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// The server's clock in milliseconds, in SQL.
    fileprivate static let serverMilliseconds = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
}

// MARK: - CopyWorkQueue

extension PostgresStore: CopyWorkQueue {
    /// One multi-row insert. An item already queued (same account, identity and kind) moves to the
    /// end of the queue with the new trade: for a listener that queues again after a crash that is
    /// where it was; for a trade re-included after its retraction was queued, the engine then sees
    /// the retraction before the trade, and ends with the trade decided, as on the chain.
    public func enqueue(_ items: [CopyWorkItem], at: UnixTime) async throws {
        guard !items.isEmpty else { return }
        var accounts: [String] = []
        var identities: [String] = []
        var kinds: [String] = []
        var trades: [String] = []
        for item in items {
            accounts.append(item.account.name)
            identities.append(item.trade.identity.bytes.bytes.map { String(format: "%02x", $0) }.joined())
            kinds.append(item.trade.kind == .trade ? "trade" : "retracted")
            trades.append(try StoreCoding.json(item.trade))
        }
        try await read { c in
            try await c.run(
                """
                INSERT INTO copy_work (account, identity, kind, trade, queued_at)
                SELECT a, decode(i, 'hex'), k, t, \(at.milliseconds)
                FROM unnest(\(accounts)::text[], \(identities)::text[], \(kinds)::text[], \(trades)::text[])
                    WITH ORDINALITY AS u(a, i, k, t, n)
                ORDER BY n
                ON CONFLICT (account, identity, kind) DO UPDATE
                    SET sequence = nextval('copy_work_sequence_seq'), trade = EXCLUDED.trade,
                        queued_at = EXCLUDED.queued_at
                """, logger: logger)
        }
    }

    public func pending(accounts: [AccountID], limit: Int) async throws -> [QueuedWork] {
        let names = accounts.map(\.name)
        return try await read { c in
            try await c.rows(
                """
                SELECT sequence, account, trade FROM copy_work WHERE account = ANY(\(names)::text[])
                ORDER BY sequence LIMIT \(Int64(limit))
                """, logger: logger
            ).map { row in
                QueuedWork(
                    sequence: try row("sequence"),
                    item: CopyWorkItem(
                        account: AccountID(try row("account", as: String.self)),
                        trade: try StoreCoding.decode(CopyTrade.self, try row("trade"))))
            }
        }
    }

    public func finish(_ sequences: [Int64]) async throws {
        guard !sequences.isEmpty else { return }
        try await write { c in
            if let fence = FenceContext.account {
                try await c.run(
                    """
                    DELETE FROM copy_work WHERE sequence = ANY(\(sequences)::bigint[]) AND account = \(fence.account.name)
                    """, logger: logger)
            } else {
                try await c.run(
                    "DELETE FROM copy_work WHERE sequence = ANY(\(sequences)::bigint[])", logger: logger)
            }
        }
    }

    public func depths() async throws -> [QueueDepth] {
        try await read { c in
            try await c.rows(
                """
                SELECT account, COUNT(*) AS n, MIN(queued_at) AS oldest FROM copy_work
                GROUP BY account ORDER BY account
                """, logger: logger
            ).map { row in
                QueueDepth(
                    account: AccountID(try row("account", as: String.self)),
                    count: Int(try row("n", as: Int64.self)),
                    oldestQueuedAt: (try row("oldest", as: Int64?.self)).map(UnixTime.init(milliseconds:)))
            }
        }
    }
}

// MARK: - ClusterCoordinator

extension PostgresStore: ClusterCoordinator {
    public func heartbeat(_ member: ClusterMember) async throws {
        try await read { c in
            try await c.run(
                """
                INSERT INTO cluster_members (name, role, active_listener, seen_at, started_at)
                VALUES (\(member.name), \(member.role), \(member.activeListener), \(unescaped: Self.serverMilliseconds),
                    \(member.startedAt.milliseconds))
                ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role,
                    active_listener = EXCLUDED.active_listener, seen_at = EXCLUDED.seen_at
                """, logger: logger)
        }
    }

    public func leave(_ name: String) async throws {
        try await read { c in
            try await c.run("DELETE FROM cluster_members WHERE name = \(name)", logger: logger)
        }
    }

    /// Members seen in the last `now − since` by the server's clock (the caller's `since` is
    /// turned into an age, so clocks that disagree do not matter).
    public func members(seenSince since: UnixTime) async throws -> [ClusterMember] {
        let age = max(0, SystemWallClock().now().milliseconds - since.milliseconds)
        return try await read { c in
            try await c.rows(
                """
                SELECT * FROM cluster_members WHERE seen_at >= \(unescaped: Self.serverMilliseconds) - \(age)
                ORDER BY name
                """, logger: logger
            ).map(Self.member)
        }
    }

    /// Every member, however long ago it was seen (status).
    public func allMembers() async throws -> [ClusterMember] {
        try await read { c in
            try await c.rows("SELECT * FROM cluster_members ORDER BY name", logger: logger).map(Self.member)
        }
    }

    private static func member(_ row: PGRow) throws -> ClusterMember {
        ClusterMember(
            role: try row("role"), name: try row("name"), activeListener: try row("active_listener"),
            seenAt: UnixTime(milliseconds: try row("seen_at")),
            startedAt: UnixTime(milliseconds: try row("started_at")))
    }

    /// One transaction: the accounts' rows are created if missing; `owner`'s leases are renewed;
    /// then free or expired accounts are taken with `FOR UPDATE SKIP LOCKED` (two executors taking
    /// at once skip each other's rows instead of waiting or taking the same one), up to `share`.
    ///
    /// A take increments the epoch and records it in `cluster_account_takes`. Its `FOR UPDATE`
    /// conflicts with the `FOR KEY SHARE` a fenced write holds on the row from its check to its
    /// commit, so a take skips an account with a write in flight and can never commit between a
    /// write's check and its commit. (A renewal updates a non-key column, `FOR NO KEY UPDATE`,
    /// which does not wait for writes.)
    public func claimAccounts(
        _ accounts: [AccountID], owner: String, share: Int, lease: Duration, now: UnixTime
    ) async throws -> [AccountFence] {
        let names = accounts.map(\.name)
        let leaseMilliseconds = Self.milliseconds(lease)
        return try await transaction { c in
            try await c.run(
                """
                INSERT INTO cluster_accounts (account, owner, expires_at)
                SELECT unnest(\(names)::text[]), NULL, 0 ON CONFLICT (account) DO NOTHING
                """, logger: logger)
            func fence(_ row: PGRow) throws -> AccountFence {
                AccountFence(
                    account: AccountID(try row("account", as: String.self)), owner: owner,
                    epoch: try row("epoch"))
            }
            var held = try await c.rows(
                """
                UPDATE cluster_accounts SET expires_at = \(unescaped: Self.serverMilliseconds) + \(leaseMilliseconds)
                WHERE owner = \(owner) AND account = ANY(\(names)::text[]) RETURNING account, epoch
                """, logger: logger
            ).map(fence)
            if held.count < share {
                let taken = try await c.rows(
                    """
                    UPDATE cluster_accounts SET owner = \(owner), epoch = epoch + 1,
                        expires_at = \(unescaped: Self.serverMilliseconds) + \(leaseMilliseconds)
                    WHERE account IN (
                        SELECT account FROM cluster_accounts
                        WHERE account = ANY(\(names)::text[])
                            AND (owner IS NULL OR expires_at < \(unescaped: Self.serverMilliseconds))
                        ORDER BY account LIMIT \(Int64(share - held.count))
                        FOR UPDATE SKIP LOCKED)
                    RETURNING account, epoch
                    """, logger: logger
                ).map(fence)
                for take in taken {
                    try await c.run(
                        """
                        INSERT INTO cluster_account_takes (account, epoch, owner, taken_at)
                        VALUES (\(take.account.name), \(take.epoch), \(owner), \(unescaped: Self.serverMilliseconds))
                        """, logger: logger)
                }
                held += taken
            }
            return held.sorted { $0.account < $1.account }
        }
    }

    public func releaseAccounts(_ accounts: [AccountID], owner: String) async throws {
        guard !accounts.isEmpty else { return }
        let names = accounts.map(\.name)
        try await read { c in
            try await c.run(
                """
                UPDATE cluster_accounts SET owner = NULL, expires_at = 0
                WHERE owner = \(owner) AND account = ANY(\(names)::text[])
                """, logger: logger)
        }
    }

    public func leases() async throws -> [AccountLease] {
        try await read { c in
            try await c.rows("SELECT * FROM cluster_accounts ORDER BY account", logger: logger).map { row in
                AccountLease(
                    account: AccountID(try row("account", as: String.self)), owner: try row("owner"),
                    expiresAt: UnixTime(milliseconds: try row("expires_at")), epoch: try row("epoch"))
            }
        }
    }

    public func pruneMembers(goneFor age: Duration) async throws -> [String] {
        let milliseconds = Self.milliseconds(age)
        return try await read { c in
            try await c.rows(
                """
                DELETE FROM cluster_members WHERE seen_at < \(unescaped: Self.serverMilliseconds) - \(milliseconds)
                RETURNING name
                """, logger: logger
            ).map { try $0("name", as: String.self) }.sorted()
        }
    }

    public func fencedStore(
        _ fence: AccountFence, refused: @escaping @Sendable (FencedWrite) -> Void
    ) -> any FencedAccountStore {
        PostgresFencedAccountStore(store: self, fence: fence, refused: refused)
    }
}

// MARK: - LeaderElection

extension PostgresStore: LeaderElection {
    /// A session advisory lock on a connection of its own, keyed by the schema and `role`: held
    /// while that session lives. A process that dies (even by SIGKILL) closes its socket, the
    /// server ends the session and the lock is free at once; a machine that vanishes is noticed
    /// by TCP keepalives within a few seconds (set on the session).
    public func tryAcquire(_ role: String) async throws -> (any Leadership)? {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try configuration.connection(), id: 1, logger: logger)
        } catch {
            throw wrap(error)
        }
        do {
            try await connection.run("SET tcp_keepalives_idle = 2", logger: logger)
            try await connection.run("SET tcp_keepalives_interval = 1", logger: logger)
            try await connection.run("SET tcp_keepalives_count = 3", logger: logger)
            let row = try await connection.row(
                "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ':' || \(role), 0)) AS held",
                logger: logger)
            guard try row?("held", as: Bool.self) == true else {
                try? await connection.close()
                return nil
            }
            return PostgresLeadership(connection: connection, logger: logger)
        } catch {
            try? await connection.close()
            throw wrap(error)
        }
    }
}

/// A held advisory lock and the session that holds it.
final class PostgresLeadership: Leadership {
    let connection: PostgresConnection
    let logger: Logger

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// A round trip on the lock's session within 3 seconds.
    func confirm() async throws {
        let connection = self.connection
        let logger = self.logger
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await connection.run("SELECT 1", logger: logger)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(3))
                return false
            }
            let answered = try await group.next() ?? false
            group.cancelAll()
            if !answered { throw PostgresStoreError("the session holding the listener lock does not answer") }
        }
    }

    func resign() async {
        try? await connection.close()
    }
}
