import Foundation
import GRDB
import Logging
import Testing

@testable import Store

/// The SQLite store's WAL checkpoints: in the writer's commit as SQLite does by default, or on a
/// checkpointer's connection of its own while one runs.
@Suite("SQLite store: WAL checkpoints")
struct WALCheckpointerTests {
    /// A store on a new file with `trigger`, removed afterwards.
    static func withStore(
        _ trigger: WALCheckpointTrigger, _ body: (SQLiteStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("copybot.sqlite").path
        try await body(try SQLiteStore(path: path, checkpoints: trigger))
    }

    /// Commits `count` transactions of one 4 KB row each (at least one page each).
    static func write(_ store: SQLiteStore, transactions count: Int) async throws {
        try await store.pool.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS filler (n INTEGER PRIMARY KEY, b BLOB)")
        }
        for _ in 0..<count {
            try await store.pool.write { db in
                try db.execute(sql: "INSERT INTO filler (b) VALUES (zeroblob(4000))")
            }
        }
    }

    /// Waits until a checkpointer is attached to `store`'s writer (once its connection is open).
    static func attached(_ store: SQLiteStore) async throws {
        for _ in 0..<500 where !(store.file?.trigger.attached ?? false) {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(store.file?.trigger.attached == true)
    }

    @Test("the policy: below the threshold nothing; past it the checkpointer's, or the writer's")
    func policy() async throws {
        let trigger = WALCheckpointTrigger(threshold: 100, inlineLimit: 1_000)
        #expect(!trigger.committed(walPages: 99))
        #expect(trigger.committed(walPages: 100), "no checkpointer: the writer checkpoints")
        let requests = trigger.attach()
        var pending = requests.makeAsyncIterator()
        #expect(!trigger.committed(walPages: 150), "a checkpointer: the writer goes on")
        #expect(!trigger.committed(walPages: 999))
        #expect(trigger.committed(walPages: 1_000), "past the inline limit the writer checkpoints anyway")
        #expect(
            trigger.counts == .init(requested: 2, completed: 0, inline: 2, walPages: 1_000),
            "\(trigger.counts)")
        #expect(await pending.next() != nil, "a request is waiting")
        trigger.detach()
        #expect(await pending.next() == nil, "two requests before a check are one")
        #expect(trigger.committed(walPages: 200), "detached: the writer's again")
    }

    @Test("without a checkpointer the writer checkpoints in its commit and the log starts over")
    func inline() async throws {
        try await Self.withStore(WALCheckpointTrigger(threshold: 50)) { store in
            try await Self.write(store, transactions: 120)
            let counts = try #require(store.checkpoints)
            #expect(counts.inline >= 1 && counts.requested == 0, "\(counts)")
            #expect(counts.walPages < 50, "the log restarted after the checkpoint: \(counts)")
        }
    }

    @Test("a running checkpointer checkpoints on its own connection; the writer never does")
    func checkpointer() async throws {
        try await Self.withStore(WALCheckpointTrigger(threshold: 50)) { store in
            let service = try #require(store.checkpointer(logger: Logger(label: "test")))
            let running = Task { try await service.run() }
            defer { running.cancel() }
            try await Self.attached(store)
            let before = try #require(store.checkpoints)  // the migrations' commits came first
            try await Self.write(store, transactions: 120)
            // The writer restarts the log at its next commit once a checkpoint copied all of it.
            for _ in 0..<200 where (store.checkpoints?.walPages ?? 0) >= 50 {
                try await Task.sleep(for: .milliseconds(10))
                try await Self.write(store, transactions: 1)
            }
            let counts = try #require(store.checkpoints)
            #expect(counts.inline == before.inline, "the writer never checkpointed: \(before) → \(counts)")
            #expect(counts.requested >= 1 && counts.completed >= 1, "\(counts)")
            #expect(counts.walPages < 50, "the log restarted after the checkpointer's checkpoint: \(counts)")
            let rows = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM filler")
            }
            #expect(rows ?? 0 > 50)
        }
    }

    @Test("the log file outlives the store, and the next store writes it again in place")
    func keptLog() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("copybot.sqlite").path
        func logSize() throws -> Int {
            try (FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue
                ?? -1
        }
        do {
            let store = try SQLiteStore(path: path)
            try await Self.write(store, transactions: 100)
        }  // closed: the last connection is gone
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "kept on close")
        let kept = try logSize()
        #expect(kept > 100 * 4_096, "its size kept: \(kept)")
        do {
            let store = try SQLiteStore(path: path)
            try await Self.write(store, transactions: 20)
            #expect(try logSize() == kept, "written again from its start, not grown")
            let rows = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM filler")
            }
            #expect(rows == 120)
        }
    }

    @Test("a checkpointer that ends hands the checkpoints back to the writer")
    func detachOnEnd() async throws {
        try await Self.withStore(WALCheckpointTrigger(threshold: 50)) { store in
            let service = try #require(store.checkpointer(logger: Logger(label: "test")))
            let running = Task { try await service.run() }
            try await Self.attached(store)
            try await Self.write(store, transactions: 60)
            running.cancel()
            _ = try? await running.value
            let before = try #require(store.checkpoints)
            try await Self.write(store, transactions: 120)
            let after = try #require(store.checkpoints)
            #expect(
                after.inline > before.inline && after.requested == before.requested, "\(before) → \(after)")
        }
    }
}
