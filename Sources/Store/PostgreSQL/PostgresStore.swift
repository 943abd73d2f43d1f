import CopyEngine
import Foundation
import Logging
import PostgresNIO

/// copybot's store on a PostgreSQL server, shared by several processes (and machines): the same
/// tables, migrations and semantics as ``SQLiteStore``, through postgres-nio.
///
/// It implements ``ChainStateStore``, ``CopyStateStore`` and ``CopyStateReader``; the composition
/// root creates it and hands it to the other layers as those protocols.
///
/// Life cycle: ``init(url:logger:)`` starts a connection pool (a `PostgresClient`) whose `run()`
/// loop the store owns in a task of its own, and migrates over a connection of its own (failing
/// at once, with a clear error, when the server cannot be reached). Call ``shutdown()`` when
/// done: it stops that task and closes the connections. (Dropping the last reference without it
/// also cancels the task, without waiting.)
///
/// Concurrency between processes rests on PostgreSQL itself: inserts are `ON CONFLICT DO NOTHING`
/// followed by a read of the stored row, compare-and-set locks the row (`SELECT … FOR UPDATE`),
/// and the few read-modify-write steps take row or advisory locks in a fixed order (see each
/// method). Transactions run at READ COMMITTED and are retried on a deadlock or serialization
/// failure.
public final class PostgresStore: Sendable {
    /// Where the store is connected (its `description` leaves the password out).
    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects to the server `url` names (`postgres://user:password@host:port/database`, see
    /// ``PostgresStoreConfiguration``), migrates the schema and starts the connection pool.
    public convenience init(url: String, logger: Logger) async throws {
        try await self.init(configuration: PostgresStoreConfiguration(url: url), logger: logger)
    }

    /// Connects as `configuration` says, migrates the schema and starts the connection pool.
    /// Throws ``PostgresStoreError`` naming the server and the reason (never the password).
    public init(configuration: PostgresStoreConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        let client = PostgresClient(configuration: configuration.client, backgroundLogger: logger)
        self.client = client
        // The pool's loop starts first (it opens no connection until one is leased), so that it
        // runs before the first query: the migration's round trips on its own connection leave
        // it ample time, and a query before `run()` would log a warning.
        let (started, signal) = AsyncStream<Void>.makeStream()
        runner = Task {
            signal.finish()
            await client.run()
        }
        for await _ in started {}
        do {
            try await Self.migrate(configuration, logger: logger)
        } catch {
            runner.cancel()
            await runner.value
            throw error
        }
    }

    /// Stops the connection pool; the store cannot be used afterwards.
    public func shutdown() async {
        runner.cancel()
        await runner.value
    }

    deinit { runner.cancel() }

    // MARK: - Migrations

    /// The schema, one migration per change, in step with ``SQLiteStore``'s migrator (same
    /// identifiers, same tables and semantics); never edit a migration that has shipped.
    static let migrations: [(identifier: String, statements: [String])] = [
        ("v1-chain", chainSchema),
        ("v2-copy", copySchema),
        ("v3-cluster", clusterSchema),
        ("v4-target-positions", targetPositionSchema),
        ("v5-cluster-fencing", fencingSchema),
    ]

    /// Serialises migrations of one database across processes (`pg_advisory_xact_lock` key).
    static let migrationLock: Int64 = 0x636F_7079_626F_7401  // "copybot" + 1

    /// Applies the migrations not yet recorded in `schema_migrations`, in one transaction under an
    /// advisory lock: of several processes starting together, one migrates and the others wait for
    /// it, then find nothing left to do.
    static func migrate(_ configuration: PostgresStoreConfiguration, logger: Logger) async throws {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try configuration.connection(), id: 0, logger: logger)
        } catch {
            let (reason, state) = PostgresStoreError.explain(error)
            throw PostgresStoreError(
                "could not connect to PostgreSQL at \(configuration): \(reason)", sqlState: state)
        }
        do {
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            if let schema = configuration.schema {
                let name = PostgresStoreConfiguration.quoted(schema)
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: name)", logger: logger)
                try await connection.query("SET LOCAL search_path TO \(unescaped: name)", logger: logger)
            }
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    identifier TEXT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            let applied = Set(
                try await connection.query("SELECT identifier FROM schema_migrations", logger: logger)
                    .collect().map { try $0.makeRandomAccess()["identifier"].decode(String.self) })
            for migration in migrations where !applied.contains(migration.identifier) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (identifier) VALUES (\(migration.identifier))",
                    logger: logger)
                logger.info(
                    "PostgreSQL store migrated",
                    metadata: ["migration": "\(migration.identifier)", "store": "\(configuration)"])
            }
            try await connection.query("COMMIT", logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            let (reason, state) = PostgresStoreError.explain(error)
            throw PostgresStoreError(
                "could not migrate the store at \(configuration): \(reason)", sqlState: state)
        }
    }

    /// Migration `v1-chain`: the listener's checkpoint, block hashes and log inbox.
    static let chainSchema = [
        """
        CREATE TABLE chain_cursor (
            stream TEXT PRIMARY KEY,
            block_number BIGINT NOT NULL,
            block_hash BYTEA NOT NULL
        )
        """,
        """
        CREATE TABLE chain_blocks (
            stream TEXT NOT NULL,
            block_number BIGINT NOT NULL,
            block_hash BYTEA NOT NULL,
            PRIMARY KEY (stream, block_number)
        )
        """,
        """
        CREATE TABLE chain_logs (
            stream TEXT NOT NULL,
            identity BYTEA NOT NULL,
            address BYTEA NOT NULL,
            topics BYTEA NOT NULL,
            data BYTEA NOT NULL,
            block_number BIGINT NOT NULL,
            block_hash BYTEA NOT NULL,
            tx_hash BYTEA NOT NULL,
            tx_index BIGINT NOT NULL,
            log_index BIGINT NOT NULL,
            delivery_seq BIGINT NOT NULL,
            delivered_acked BOOLEAN NOT NULL DEFAULT FALSE,
            retracted BOOLEAN NOT NULL DEFAULT FALSE,
            retraction_seq BIGINT,
            retraction_acked BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (stream, identity)
        )
        """,
        "CREATE INDEX chain_logs_block ON chain_logs (stream, block_number)",
        """
        CREATE INDEX chain_logs_pending ON chain_logs (stream)
            WHERE NOT delivered_acked OR (retracted AND NOT retraction_acked)
        """,
    ]

    /// Migration `v2-copy`: the copy engine's tables, as in SQLite (``SQLiteStore``'s
    /// `migrateCopyState`): rich values as JSON text of their `Codable` forms, amounts as
    /// six-decimal text, 256-bit numbers as decimal text, identities and hashes as `BYTEA`, times
    /// in milliseconds. One table more than SQLite: `copy_fill_sequences`, the per-account counter
    /// that fill sequences are taken from (see ``updateIntent(_:expecting:to:matched:message:at:)``).
    static let copySchema = [
        """
        CREATE TABLE copy_decisions (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            account TEXT NOT NULL,
            identity BYTEA NOT NULL,
            kind TEXT NOT NULL,
            label TEXT NOT NULL,
            trade TEXT NOT NULL,
            decision TEXT NOT NULL,
            decided_at BIGINT NOT NULL,
            retracted BOOLEAN NOT NULL DEFAULT FALSE,
            UNIQUE (account, identity)
        )
        """,
        "CREATE INDEX copy_decisions_account ON copy_decisions (account, id)",
        "CREATE INDEX copy_decisions_kind ON copy_decisions (account, kind, retracted)",
        """
        CREATE TABLE copy_intents (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            account TEXT NOT NULL,
            identity BYTEA NOT NULL,
            mode TEXT NOT NULL,
            trade TEXT NOT NULL,
            intent TEXT NOT NULL,
            signed_order TEXT,
            order_hash BYTEA,
            salt TEXT NOT NULL,
            status TEXT NOT NULL,
            matched TEXT NOT NULL,
            message TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            UNIQUE (account, identity)
        )
        """,
        "CREATE INDEX copy_intents_status ON copy_intents (account, status, updated_at)",
        "CREATE INDEX copy_intents_order_hash ON copy_intents (order_hash) WHERE order_hash IS NOT NULL",
        """
        CREATE TABLE copy_fills (
            account TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            identity BYTEA NOT NULL,
            mode TEXT NOT NULL,
            fill TEXT NOT NULL,
            priced_from_target BOOLEAN NOT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (account, sequence)
        )
        """,
        "CREATE INDEX copy_fills_key ON copy_fills (account, identity)",
        """
        CREATE TABLE copy_fill_sequences (
            account TEXT PRIMARY KEY,
            last_sequence BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE copy_ledgers (
            account TEXT PRIMARY KEY,
            through_fill BIGINT NOT NULL,
            ledger TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE copy_daily_pnl (
            account TEXT NOT NULL,
            day INTEGER NOT NULL,
            realised TEXT NOT NULL,
            unrealised_at_start TEXT NOT NULL,
            unrealised_now TEXT NOT NULL,
            PRIMARY KEY (account, day)
        )
        """,
        """
        CREATE TABLE copy_target_holdings (
            wallet BYTEA NOT NULL,
            token TEXT NOT NULL,
            shares TEXT NOT NULL,
            PRIMARY KEY (wallet, token)
        )
        """,
        """
        CREATE TABLE copy_target_trades (
            identity BYTEA PRIMARY KEY,
            wallet BYTEA NOT NULL,
            token TEXT NOT NULL,
            side TEXT NOT NULL,
            shares TEXT NOT NULL,
            shares_before TEXT NOT NULL,
            delta TEXT NOT NULL,
            retracted BOOLEAN NOT NULL DEFAULT FALSE
        )
        """,
    ]

    /// Migration `v4-target-positions`: target trades get their position on the chain (a holding
    /// is the fold of its live trades in chain order, see `TargetTrade`); trades recorded before
    /// have position zero and keep the order they were applied in (`seq`).
    static let targetPositionSchema = [
        "ALTER TABLE copy_target_trades ADD COLUMN block BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE copy_target_trades ADD COLUMN log_index BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE copy_target_trades ADD COLUMN seq BIGSERIAL",
        "CREATE INDEX copy_target_trades_holding ON copy_target_trades (wallet, token, block, log_index)",
    ]

    // MARK: - Running queries

    /// Runs `body` on a pooled connection (each statement in its own transaction).
    func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let cancelled as CancellationError {
            // A shutdown, not a store failure: passed on as it is.
            throw cancelled
        } catch {
            throw wrap(error)
        }
    }

    /// Runs `body` in one transaction on a pooled connection: committed when it returns, rolled
    /// back when it throws. READ COMMITTED, or with `snapshot` a read-only REPEATABLE READ
    /// transaction (every statement sees the same snapshot, as an SQLite read does). A deadlock or
    /// serialization failure (SQLSTATE 40P01, 40001) rolls back and runs `body` again, a few times,
    /// so `body` must only touch the database.
    ///
    /// With `syncedLater` the commit does not wait for the server to flush it
    /// (`synchronous_commit` off for this transaction); the next ordinary commit flushes the WAL
    /// through it, so a server crash can only lose a suffix of the latest such commits. Only for
    /// state that is rebuilt if lost: the listener's checkpoint, pending events and acknowledgements,
    /// tracked target holdings, and the conclusion of an order the exchange accepted (as with
    /// ``SQLiteStore``'s `writeSyncedLater`).
    func transaction<T: Sendable>(
        snapshot: Bool = false, syncedLater: Bool = false, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let begin: PostgresQuery = snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"
        var attempt = 0
        while true {
            do {
                return try await client.withConnection { connection in
                    try await connection.checked(begin, logger: logger)
                    do {
                        if syncedLater {
                            try await connection.checked(
                                "SET LOCAL synchronous_commit TO OFF", logger: logger)
                        }
                        if !snapshot, let fence = FenceContext.account {
                            try await Self.checkFence(connection, fence, logger: logger)
                        }
                        let value = try await body(connection)
                        try await connection.checked("COMMIT", logger: logger)
                        return value
                    } catch {
                        if !connection.isClosed {
                            _ = try? await connection.query("ROLLBACK", logger: logger)
                        }
                        throw error
                    }
                }
            } catch let refused as FencedWrite {
                // Never retried: the fence is stale for good.
                throw refused
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch {
                let wrapped = wrap(error)
                guard wrapped.sqlState == "40001" || wrapped.sqlState == "40P01", attempt < 8 else {
                    throw wrapped
                }
                attempt += 1
                logger.debug("PostgreSQL transaction retried", metadata: ["reason": "\(wrapped)"])
                try await Task.sleep(for: .milliseconds(Int64.random(in: 1...10) * Int64(attempt)))
            }
        }
    }

    /// Runs a write: with a fence (``FenceContext``), in a transaction that checks it first; else as
    /// ``read(_:)`` does (each statement its own transaction).
    func write<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        FenceContext.account == nil ? try await read(body) : try await transaction(body)
    }

    /// `error` as a ``PostgresStoreError`` with PostgreSQL's reason (store corruption passes as is).
    func wrap(_ error: any Error) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if let error = error as? StoreError { return PostgresStoreError("\(error)") }
        let (reason, state) = PostgresStoreError.explain(error)
        return PostgresStoreError("PostgreSQL store at \(configuration): \(reason)", sqlState: state)
    }
}

// MARK: - Rows

/// A result row, read by column name.
struct PGRow {
    let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    /// The value of `column`.
    func callAsFunction<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try cells[column].decode(T.self)
    }
}

extension PostgresConnection {
    /// Runs `query`, failing at once on a connection the server closed. (postgres-nio 1.x waits
    /// for good on a query sent to a closed connection; the server closes the session of a fenced
    /// transaction left idle, see `PostgresStore.fencedIdleTimeoutMilliseconds`, and a process
    /// stopped meanwhile sends its next query on that connection when it resumes.)
    @discardableResult
    func checked(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw PostgresStoreError("the server closed the connection") }
        return try await self.query(query, logger: logger)
    }

    /// Runs `query` and collects its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PGRow] {
        try await checked(query, logger: logger).collect().map(PGRow.init)
    }

    /// Runs `query` and returns its first row, if any.
    func row(_ query: PostgresQuery, logger: Logger) async throws -> PGRow? {
        try await rows(query, logger: logger).first
    }

    /// Runs `query`, ignoring any rows.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await checked(query, logger: logger).collect()
    }
}
