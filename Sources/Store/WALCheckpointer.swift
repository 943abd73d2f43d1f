import Foundation
import GRDB
import GRDBSQLite
import Logging
import ServiceLifecycle
import Synchronization

/// Where the SQLite store's WAL checkpoints run.
///
/// SQLite checkpoints by itself inside the commit that takes the log past 1,000 pages: that
/// commit copies the log into the database file and syncs both before it returns (1.3 ms for
/// 1,000 pages on a cloud VM's disk, far longer on an SD card or network storage), and the commit
/// is as likely as not one on the way from a trade to its order. So the store's writer connection
/// reports the log's size after each commit (`sqlite3_wal_hook`), and while a ``WALCheckpointer``
/// runs, the checkpoint is its work, on a connection of its own, while the writer goes on. Without
/// a checkpointer (the state commands, a replay, the tests), or if the log outgrows
/// ``inlineLimit`` because the checkpointer cannot keep up, the commit checkpoints as SQLite would.
final class WALCheckpointTrigger: Sendable {
    /// What the trigger has seen and done (for the tests).
    struct Counts: Equatable {
        /// Checkpoints asked of a checkpointer.
        var requested = 0
        /// Checkpoints a checkpointer finished.
        var completed = 0
        /// Checkpoints the writer ran itself, in a commit.
        var inline = 0
        /// The log's size (pages) after the latest commit.
        var walPages: Int32 = 0
    }

    private struct State {
        var checkpointer: AsyncStream<Void>.Continuation?
        var counts = Counts()
    }

    /// The log's size (pages) that calls for a checkpoint: SQLite's own default, 1,000.
    let threshold: Int32
    /// The log's size (pages) past which the writer checkpoints itself even while a checkpointer
    /// runs: 16,000 (64 MB) by default.
    let inlineLimit: Int32
    private let state = Mutex(State())

    init(threshold: Int32 = 1_000, inlineLimit: Int32 = 16_000) {
        self.threshold = threshold
        self.inlineLimit = inlineLimit
    }

    var counts: Counts { state.withLock { $0.counts } }

    /// Whether a checkpointer is attached.
    var attached: Bool { state.withLock { $0.checkpointer != nil } }

    /// Called after each commit of the writer connection with the log's size in pages; returns
    /// whether the writer should checkpoint itself now.
    func committed(walPages: Int32) -> Bool {
        state.withLock { state in
            state.counts.walPages = walPages
            guard walPages >= threshold else { return false }
            if let checkpointer = state.checkpointer, walPages < inlineLimit {
                state.counts.requested += 1
                checkpointer.yield()
                return false
            }
            state.counts.inline += 1
            return true
        }
    }

    /// Makes the caller the checkpointer: requests arrive on the stream (at most one pending)
    /// until ``detach()``.
    func attach() -> AsyncStream<Void> {
        let (requests, continuation) = AsyncStream.makeStream(
            of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { state in
            state.checkpointer?.finish()
            state.checkpointer = continuation
        }
        return requests
    }

    /// A checkpointer finished a checkpoint.
    func checkpointed() { state.withLock { $0.counts.completed += 1 } }

    /// Hands the checkpoints back to the writer.
    func detach() {
        state.withLock { state in
            state.checkpointer?.finish()
            state.checkpointer = nil
        }
    }

    /// Installs the hook on `connection`, the writer's. The hook holds `self` for as long as the
    /// process runs (one small object per store opened; a process opens one): releasing it would
    /// need the connection closed first, and closing a pool from a deinit can run on one of its own
    /// queues.
    func install(on connection: SQLiteConnection?) {
        let context = Unmanaged.passRetained(self).toOpaque()
        sqlite3_wal_hook(
            connection,
            { context, connection, database, pages in
                guard let context else { return SQLITE_OK }
                let trigger = Unmanaged<WALCheckpointTrigger>.fromOpaque(context).takeUnretainedValue()
                if trigger.committed(walPages: pages) {
                    // As SQLite's own hook does; a busy checkpoint is retried at the next commit.
                    _ = sqlite3_wal_checkpoint_v2(connection, database, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                }
                return SQLITE_OK
            }, context)
    }
}

extension SQLiteStore {
    /// Keeps the log file when the last connection closes (`SQLITE_FCNTL_PERSIST_WAL`), for every
    /// connection to the store's file. SQLite otherwise deletes it on close, and the next start
    /// grows it again: while the log grows, each synced commit also syncs the file's new size
    /// (0.25 ms for a 16 KB append and sync on this project's VM, against 0.10 ms to overwrite in
    /// place). A kept log is written again from its start, in place. Its size stays what it
    /// reached: about 1,000 pages (4 MB) between checkpoints, at most 16,000 (64 MB).
    static func keepLogOnClose(_ db: Database) {
        var persist: Int32 = 1
        _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
    }
}

/// Runs the SQLite store's WAL checkpoints on a connection of its own, off the writer, for as long
/// as the service runs (see ``WALCheckpointTrigger``). `copybot run` starts one for an SQLite store.
public struct WALCheckpointer: Service {
    private let path: String
    private let trigger: WALCheckpointTrigger
    private let logger: Logger

    init(path: String, trigger: WALCheckpointTrigger, logger: Logger) {
        self.path = path
        self.trigger = trigger
        self.logger = logger
    }

    /// Checkpoints (passive: never waits for a reader or the writer) each time the writer's log
    /// passes the threshold, until cancelled or a graceful shutdown; then the writer checkpoints
    /// for itself again.
    public func run() async throws {
        var configuration = Configuration()
        configuration.label = "copybot-checkpoint"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase(SQLiteStore.keepLogOnClose)
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        let requests = trigger.attach()
        defer { trigger.detach() }
        for await _ in requests.cancelOnGracefulShutdown() {
            do {
                let (pages, copied) = try await connection.writeWithoutTransaction { db in
                    try db.checkpoint(.passive)
                }
                trigger.checkpointed()
                logger.debug("WAL checkpoint", metadata: ["pages": "\(pages)", "copied": "\(copied)"])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                if Task.isCancelled { return }
                // "database is locked": another connection holds the checkpoint lock. A passive
                // checkpoint never waits for it (https://sqlite.org/c3ref/wal_checkpoint_v2.html:
                // the busy handler is not invoked), and other connections do checkpoint: every
                // process that opens the file (`copybot status`, `trades`, a restart after
                // kill -9) copies the log it finds, and a writer whose log outgrew the inline
                // limit checkpoints in its commit. Nothing is lost: the log is copied by that
                // other checkpoint, and the next commit past the threshold asks again.
                logger.debug("WAL checkpoint skipped: another connection is checkpointing")
            } catch {
                if Task.isCancelled { return }
                // A disk error: the next request tries again, and past the inline limit the writer
                // checkpoints itself.
                logger.warning("WAL checkpoint failed: \(error)")
            }
        }
    }
}
