import Chain
import EVM
import Foundation
import GRDB
import Logging

/// copybot's embedded store: one SQLite file (WAL mode) through GRDB, with migrations.
///
/// It implements the store protocols the other layers declare (``ChainStateStore`` and
/// ``CopyStateStore``) and the CLI's reads (``CopyStateReader``), as ``PostgresStore`` does;
/// the composition root creates it and hands it to them as those protocols.
public final class SQLiteStore: Sendable {
    let pool: any DatabaseWriter
    /// The file and its writer's checkpoint trigger; nil for a store in memory.
    let file: (path: String, trigger: WALCheckpointTrigger)?

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public convenience init(path: String) throws {
        try self.init(path: path, checkpoints: WALCheckpointTrigger())
    }

    /// Opens the database at `path` with `checkpoints` deciding where the writer's WAL checkpoints
    /// run.
    init(path: String, checkpoints trigger: WALCheckpointTrigger) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase(Self.keepLogOnClose)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // Every commit synced to disk (an order intent must be on disk before its order is posted).
        // Set on the pool's one writer connection once it is open: GRDB's WAL set-up, which runs
        // after `prepareDatabase`, sets NORMAL. The writer's checkpoints go through the trigger.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            trigger.install(on: db.sqliteConnection)
        }
        self.pool = pool
        self.file = (path, trigger)
        try Self.migrator.migrate(pool)
        // A log kept from the last run is read back as frames not yet copied: copy them now, so
        // that the first write starts it again from its beginning instead of growing it. Busy
        // (another process's checkpoint runs, e.g. `copybot status` beside the service) is fine:
        // that one copies them.
        pool.writeWithoutTransaction { db in _ = try? db.checkpoint(.passive) }
    }

    /// A service that runs this store's WAL checkpoints off the writer while it runs (see
    /// ``WALCheckpointer``); nil for a store in memory, which has no log.
    public func checkpointer(logger: Logger) -> WALCheckpointer? {
        file.map { WALCheckpointer(path: $0.path, trigger: $0.trigger, logger: logger) }
    }

    /// Where the writer's WAL checkpoints ran, and the log's size; nil for a store in memory.
    var checkpoints: WALCheckpointTrigger.Counts? { file?.trigger.counts }

    /// A write that is atomic and survives a crash of the process, but whose sync to disk waits
    /// for the next ordinary write (`synchronous = NORMAL` for this transaction; the connection is
    /// `FULL` otherwise). In WAL mode the log is appended in commit order and every `FULL` commit
    /// syncs all of it, so a power loss can only lose a suffix of the most recent transactions,
    /// never one without those before it.
    ///
    /// Only for state that is rebuilt if that suffix is lost: the listener's checkpoint, pending
    /// events and acknowledgements (read again from the chain), tracked target holdings (applied
    /// again, once per identity), ledger snapshots (the fills are replayed over an older one), the
    /// daily PnL record (the ledger's own, written again with the next fill), and the conclusion of
    /// an order the exchange accepted (its status, fill and decision: the claim before it was
    /// synced, so a lost conclusion leaves the intent claimed, and the recovery pass looks the
    /// order up again).
    /// Never for an order intent or its claim, which is synced before its order is posted, nor for
    /// a decision made without an order. This keeps one disk sync on the way from a trade to its
    /// order (the intent), and none after the exchange answers.
    func writeSyncedLater<T: Sendable>(
        _ updates: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            let result = Result { () throws -> T in
                var value: T?
                try db.inTransaction {
                    value = try updates(db)
                    return .commit
                }
                return value!
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try result.get()
        }
    }

    /// A store in memory, gone with the process: for scratch work such as a replay's checkpoint.
    public init() throws {
        var configuration = Configuration()
        configuration.label = "copybot-scratch"
        pool = try DatabaseQueue(configuration: configuration)
        file = nil
        try Self.migrator.migrate(pool)
    }

    /// The schema, one migration per change; never edit a migration that has shipped.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-chain") { db in
            try db.execute(
                sql: """
                    CREATE TABLE chain_cursor (
                        stream TEXT PRIMARY KEY NOT NULL,
                        block_number INTEGER NOT NULL,
                        block_hash BLOB NOT NULL
                    );
                    CREATE TABLE chain_blocks (
                        stream TEXT NOT NULL,
                        block_number INTEGER NOT NULL,
                        block_hash BLOB NOT NULL,
                        PRIMARY KEY (stream, block_number)
                    );
                    CREATE TABLE chain_logs (
                        stream TEXT NOT NULL,
                        identity BLOB NOT NULL,
                        address BLOB NOT NULL,
                        topics BLOB NOT NULL,
                        data BLOB NOT NULL,
                        block_number INTEGER NOT NULL,
                        block_hash BLOB NOT NULL,
                        tx_hash BLOB NOT NULL,
                        tx_index INTEGER NOT NULL,
                        log_index INTEGER NOT NULL,
                        delivery_seq INTEGER NOT NULL,
                        delivered_acked INTEGER NOT NULL DEFAULT 0,
                        retracted INTEGER NOT NULL DEFAULT 0,
                        retraction_seq INTEGER,
                        retraction_acked INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (stream, identity)
                    );
                    CREATE INDEX chain_logs_block ON chain_logs (stream, block_number);
                    CREATE INDEX chain_logs_pending ON chain_logs (stream)
                        WHERE delivered_acked = 0 OR (retracted = 1 AND retraction_acked = 0);
                    """)
        }
        migrator.registerMigration("v2-copy", migrate: migrateCopyState)
        // In step with PostgreSQL's `v3-cluster`: the cluster's queue, membership and account
        // leases. One SQLite file serves one process, so these tables stay empty here.
        migrator.registerMigration("v3-cluster") { db in
            try db.execute(
                sql: """
                    CREATE TABLE copy_work (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        account TEXT NOT NULL,
                        identity BLOB NOT NULL,
                        kind TEXT NOT NULL,
                        trade TEXT NOT NULL,
                        queued_at INTEGER NOT NULL,
                        UNIQUE (account, identity, kind)
                    );
                    CREATE INDEX copy_work_account ON copy_work (account, sequence);
                    CREATE TABLE cluster_members (
                        name TEXT PRIMARY KEY NOT NULL,
                        role TEXT NOT NULL,
                        active_listener INTEGER NOT NULL,
                        seen_at INTEGER NOT NULL,
                        started_at INTEGER NOT NULL
                    );
                    CREATE TABLE cluster_accounts (
                        account TEXT PRIMARY KEY NOT NULL,
                        owner TEXT,
                        expires_at INTEGER NOT NULL
                    );
                    """)
        }
        // Target trades get their position on the chain: a holding is the fold of its live trades
        // in chain order (see `TargetTrade`). Trades recorded before have position zero and keep
        // the order they were applied in (rowid).
        migrator.registerMigration("v4-target-positions") { db in
            try db.execute(
                sql: """
                    ALTER TABLE copy_target_trades ADD COLUMN block INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE copy_target_trades ADD COLUMN log_index INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX copy_target_trades_holding
                        ON copy_target_trades (wallet, token, block, log_index);
                    """)
        }
        // In step with PostgreSQL's `v5-cluster-fencing` (lease epochs; unused with one process).
        migrator.registerMigration("v5-cluster-fencing") { db in
            try db.execute(
                sql: """
                    ALTER TABLE cluster_accounts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE cluster_account_takes (
                        account TEXT NOT NULL,
                        epoch INTEGER NOT NULL,
                        owner TEXT NOT NULL,
                        taken_at INTEGER NOT NULL,
                        PRIMARY KEY (account, epoch)
                    );
                    ALTER TABLE copy_decisions ADD COLUMN written_by TEXT;
                    ALTER TABLE copy_decisions ADD COLUMN epoch INTEGER;
                    ALTER TABLE copy_fills ADD COLUMN written_by TEXT;
                    ALTER TABLE copy_fills ADD COLUMN epoch INTEGER;
                    """)
        }
        return migrator
    }
}

// MARK: - ChainStateStore

extension SQLiteStore: ChainStateStore {
    public func loadState(stream: String) async throws -> ChainState? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT block_number, block_hash FROM chain_cursor WHERE stream = ?",
                    arguments: [stream])
            else { return nil }
            let blocks = try Row.fetchAll(
                db,
                sql:
                    "SELECT block_number, block_hash FROM chain_blocks WHERE stream = ? ORDER BY block_number",
                arguments: [stream])
            return ChainState(cursor: try Self.blockRef(row), recentBlocks: try blocks.map(Self.blockRef))
        }
    }

    public func apply(_ step: ChainStep, stream: String) async throws -> [ChainEvent] {
        try await writeSyncedLater { db in
            var events: [ChainEvent] = []
            var seq =
                try Int64.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT MAX(COALESCE(MAX(delivery_seq), 0), COALESCE(MAX(retraction_seq), 0)) FROM chain_logs WHERE stream = ?"
                    ),
                    arguments: [stream]) ?? 0
            if let forget = step.forgetAbove {
                try db.cached(
                    sql: "DELETE FROM chain_blocks WHERE stream = ? AND block_number > ?",
                    arguments: [stream, Int64(forget)])
            }
            for (identity, log) in step.logs {
                let existing = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: """
                            SELECT retracted, block_number, block_hash, tx_index, log_index FROM chain_logs
                            WHERE stream = ? AND identity = ?
                            """),
                    arguments: [stream, Self.data(identity.hash)])
                if let existing {
                    // Already delivered: delivered again only if it moved or was retracted.
                    let wasRetracted: Bool = existing["retracted"]
                    let moved =
                        existing["block_number"] as Int64 != Int64(log.blockNumber)
                        || existing["block_hash"] as Data != Self.data(log.blockHash)
                        || existing["tx_index"] as Int64 != Int64(log.transactionIndex)
                        || existing["log_index"] as Int64 != Int64(log.logIndex)
                    guard wasRetracted || moved else { continue }
                    try db.cached(
                        sql: """
                            UPDATE chain_logs SET block_number = ?, block_hash = ?, tx_index = ?, log_index = ?
                            WHERE stream = ? AND identity = ?
                            """,
                        arguments: [
                            Int64(log.blockNumber), Self.data(log.blockHash), Int64(log.transactionIndex),
                            Int64(log.logIndex), stream, Self.data(identity.hash),
                        ])
                    // Retracted earlier and canonical again (a reorg reverted), or re-included
                    // elsewhere (a reorg moved it): delivered anew, at its new position.
                    seq += 1
                    try db.cached(
                        sql: """
                            UPDATE chain_logs SET retracted = 0, retraction_seq = NULL, retraction_acked = 0,
                                delivered_acked = 0, delivery_seq = ? WHERE stream = ? AND identity = ?
                            """, arguments: [seq, stream, Self.data(identity.hash)])
                    events.append(.log(log, identity))
                    continue
                }
                seq += 1
                try db.cached(
                    sql: """
                        INSERT INTO chain_logs (stream, identity, address, topics, data, block_number, block_hash,
                            tx_hash, tx_index, log_index, delivery_seq)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        stream, Self.data(identity.hash), Data(log.address.bytes),
                        Data(log.topics.flatMap(\.bytes)), Data(log.data), Int64(log.blockNumber),
                        Self.data(log.blockHash), Self.data(log.transactionHash), Int64(log.transactionIndex),
                        Int64(log.logIndex), seq,
                    ])
                events.append(.log(log, identity))
            }
            for identity in step.retractions {
                guard
                    let row = try Row.fetchOne(
                        try db.cachedStatement(
                            sql:
                                "SELECT * FROM chain_logs WHERE stream = ? AND identity = ? AND retracted = 0"
                        ),
                        arguments: [stream, Self.data(identity.hash)])
                else { continue }
                seq += 1
                try db.cached(
                    sql:
                        "UPDATE chain_logs SET retracted = 1, retraction_seq = ? WHERE stream = ? AND identity = ?",
                    arguments: [seq, stream, Self.data(identity.hash)])
                events.append(.retracted(try Self.log(row), identity))
            }
            for block in step.blocks {
                try db.cached(
                    sql:
                        "INSERT OR REPLACE INTO chain_blocks (stream, block_number, block_hash) VALUES (?, ?, ?)",
                    arguments: [stream, Int64(block.number), Self.data(block.hash)])
            }
            if let cursor = step.cursor {
                try db.cached(
                    sql:
                        "INSERT OR REPLACE INTO chain_cursor (stream, block_number, block_hash) VALUES (?, ?, ?)",
                    arguments: [stream, Int64(cursor.number), Self.data(cursor.hash)])
            }
            if let below = step.pruneBelow {
                try db.cached(
                    sql: """
                        DELETE FROM chain_logs WHERE stream = ? AND block_number < ? AND delivered_acked = 1
                            AND (retracted = 0 OR retraction_acked = 1)
                        """, arguments: [stream, Int64(below)])
                try db.cached(
                    sql: "DELETE FROM chain_blocks WHERE stream = ? AND block_number < ?",
                    arguments: [stream, Int64(below)])
            }
            return events
        }
    }

    public func pendingEvents(stream: String) async throws -> [ChainEvent] {
        try await pool.read { db in
            var pending: [(Int64, ChainEvent)] = []
            let deliveries = try Row.fetchAll(
                db, sql: "SELECT * FROM chain_logs WHERE stream = ? AND delivered_acked = 0",
                arguments: [stream])
            for row in deliveries {
                pending.append(
                    (
                        row["delivery_seq"],
                        .log(try Self.log(row), LogIdentity(hash: try Self.bytes32(row["identity"])))
                    ))
            }
            let retractions = try Row.fetchAll(
                db,
                sql: "SELECT * FROM chain_logs WHERE stream = ? AND retracted = 1 AND retraction_acked = 0",
                arguments: [stream])
            for row in retractions {
                pending.append(
                    (
                        row["retraction_seq"],
                        .retracted(try Self.log(row), LogIdentity(hash: try Self.bytes32(row["identity"])))
                    ))
            }
            return pending.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func acknowledge(_ events: [ChainEvent], stream: String) async throws {
        try await writeSyncedLater { db in
            for event in events {
                switch event {
                case .log(let log, let identity):
                    // Only the delivery at the stored position: one superseded by a move is not it.
                    try db.cached(
                        sql: """
                            UPDATE chain_logs SET delivered_acked = 1
                            WHERE stream = ? AND identity = ? AND block_hash = ? AND log_index = ?
                            """,
                        arguments: [
                            stream, Self.data(identity.hash), Self.data(log.blockHash), Int64(log.logIndex),
                        ])
                case .retracted(_, let identity):
                    try db.cached(
                        sql: "UPDATE chain_logs SET retraction_acked = 1 WHERE stream = ? AND identity = ?",
                        arguments: [stream, Self.data(identity.hash)])
                }
            }
        }
    }

    public func liveIdentities(stream: String, aboveBlock: UInt64) async throws -> [LogIdentity: BlockRef] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT identity, block_number, block_hash FROM chain_logs
                    WHERE stream = ? AND block_number > ? AND retracted = 0
                    """,
                arguments: [stream, Int64(aboveBlock)])
            var result: [LogIdentity: BlockRef] = [:]
            for row in rows {
                result[LogIdentity(hash: try Self.bytes32(row["identity"]))] = try Self.blockRef(row)
            }
            return result
        }
    }

    public func deliveredCount(stream: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chain_logs WHERE stream = ?", arguments: [stream])
                ?? 0
        }
    }

    // MARK: - Row mapping

    static func data(_ word: Bytes32) -> Data { StoreCoding.data(word) }

    static func bytes32(_ data: Data) throws -> Bytes32 { try StoreCoding.bytes32(data) }

    static func blockRef(_ row: Row) throws -> BlockRef {
        BlockRef(number: UInt64(row["block_number"] as Int64), hash: try bytes32(row["block_hash"]))
    }

    static func log(_ row: Row) throws -> EthLog {
        let topicBytes: Data = row["topics"]
        guard topicBytes.count % 32 == 0 else {
            throw StoreError.corrupt("topics of \(topicBytes.count) bytes")
        }
        let topics = try stride(from: 0, to: topicBytes.count, by: 32).map {
            try bytes32(topicBytes[$0..<$0 + 32])
        }
        guard let address = Address(bytes: row["address"] as Data) else {
            throw StoreError.corrupt("address")
        }
        return EthLog(
            address: address, topics: topics, data: [UInt8](row["data"] as Data),
            blockNumber: UInt64(row["block_number"] as Int64), blockHash: try bytes32(row["block_hash"]),
            transactionHash: try bytes32(row["tx_hash"]), transactionIndex: UInt64(row["tx_index"] as Int64),
            logIndex: UInt64(row["log_index"] as Int64), removed: false)
    }
}

/// A store failure that is not SQLite's own.
public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stored data that cannot be what copybot wrote.
    case corrupt(String)

    public var description: String {
        switch self {
        case .corrupt(let what): "the store holds corrupt data: \(what)"
        }
    }
}

extension Database {
    /// Executes `sql` through the connection's statement cache: parsed once, not once a row or a
    /// call. Compiling a statement is most of a small write's work (GRDB's authorizer sees every
    /// column it reads), so the statements on the way from a trade to its order are all cached.
    func cached(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
