import Foundation
import GRDB
import Testing

@testable import Store

/// What only the SQLite store does: the disk sync of its rebuildable writes deferred to the next
/// ordinary write, with the connection left as it was.
@Suite("SQLite store: writes synced later")
struct SQLiteStoreTests {
    /// The writer connection's `PRAGMA synchronous` (2 is FULL, 1 NORMAL).
    static func synchronous(_ store: SQLiteStore) async throws -> Int {
        try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-sqlite-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(try SQLiteStore(path: directory.appendingPathComponent("copybot.sqlite").path))
    }

    struct Refused: Error {}

    @Test("a write synced later runs with NORMAL, commits atomically, and leaves the connection FULL")
    func syncedLater() async throws {
        try await Self.withStore { store in
            let initial = try await Self.synchronous(store);
            #expect(initial == 2, "ordinary writes sync (FULL): \(initial)")
            let inside = try await store.writeSyncedLater { db in
                try db.execute(sql: "CREATE TABLE probe (n INTEGER)")
                try db.execute(sql: "INSERT INTO probe VALUES (1)")
                return try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            }
            #expect(inside == 1, "NORMAL inside")
            #expect(try await Self.synchronous(store) == 2, "FULL again after it")
            #expect(try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT n FROM probe") } == 1)
        }
    }

    @Test("a write synced later that fails is rolled back, and the connection is FULL again")
    func failedWrite() async throws {
        try await Self.withStore { store in
            try await store.pool.write { db in try db.execute(sql: "CREATE TABLE probe (n INTEGER)") }
            await #expect(throws: Refused.self) {
                try await store.writeSyncedLater { db in
                    try db.execute(sql: "INSERT INTO probe VALUES (1)")
                    throw Refused()
                }
            }
            #expect(try await Self.synchronous(store) == 2)
            #expect(
                try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM probe") }
                    == 0)
        }
    }
}
