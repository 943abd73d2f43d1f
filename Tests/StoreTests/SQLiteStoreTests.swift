import CopyEngine
import EVM
import Foundation
import GRDB
import Synchronization
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

    @Test(
        "the path of a live copy: the target trade and the conclusion synced later, the claimed intent synced"
    )
    func liveCopyDurability() async throws {
        try await Self.withStore { store in
            // Every statement the writer runs, in order.
            let statements = Mutex<[String]>([])
            try await store.pool.writeWithoutTransaction { db in
                db.trace { event in statements.withLock { $0.append(event.description) } }
            }
            let target = TargetTrade(
                identity: identity(1), wallet: followed, tokenId: UInt256(5), side: .buy, shares: d("10"))
            _ = try await store.beginDecision(key(1), trade: summary(1), applying: target)
            var claimed = storedIntent(key(1), mode: .live, signed: signedOrder(1))
            claimed.status = .posting
            _ = try await store.storeIntent(claimed)
            _ = try await store.concludeIntent(
                claimed, expecting: [.posting], to: .matched, matched: matched("20", "10"), message: nil,
                at: UnixTime(milliseconds: 3_000)
            ) { intent in record(intent.key, .failed(.unfilled)) }

            // The `synchronous` setting in force for the first statement starting with `prefix`.
            let log = statements.withLock { $0 }
            func synchronous(at prefix: String) -> String? {
                guard let index = log.firstIndex(where: { $0.hasPrefix(prefix) }) else { return nil }
                let setting = log[..<index].last { $0.hasPrefix("PRAGMA synchronous") }
                return setting.map { $0.hasSuffix("NORMAL") ? "NORMAL" : "FULL" } ?? "FULL"
            }
            #expect(synchronous(at: "INSERT INTO copy_target_trades") == "NORMAL")
            #expect(synchronous(at: "INSERT INTO copy_intents") == "FULL")
            #expect(synchronous(at: "UPDATE copy_intents") == "NORMAL")
            #expect(synchronous(at: "INSERT INTO copy_fills") == "NORMAL")
            #expect(synchronous(at: "INSERT INTO copy_decisions") == "NORMAL")
            // The conclusion is one transaction: the intent, its fill and the decision.
            let conclusion = try #require(log.firstIndex { $0.hasPrefix("UPDATE copy_intents") })
            let commit = try #require(log[conclusion...].firstIndex { $0.hasPrefix("COMMIT") })
            #expect(log[conclusion..<commit].contains { $0.hasPrefix("INSERT INTO copy_decisions") })
            #expect(try await Self.synchronous(store) == 2)
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
