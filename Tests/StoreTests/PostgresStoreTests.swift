import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import PostgresNIO
import Testing

@testable import Store

/// Opens `count` stores on one schema, as `count` processes sharing one database would, runs
/// `body` and shuts them down.
func withStores(
    _ count: Int, _ body: ([PostgresStore]) async throws -> Void
) async throws {
    try await PostgresTestServer.withSchema { configuration in
        var stores: [PostgresStore] = []
        do {
            for _ in 0..<count {
                stores.append(
                    try await PostgresStore(configuration: configuration, logger: PostgresTestServer.logger))
            }
            try await body(stores)
        } catch {
            for store in stores { await store.shutdown() }
            throw error
        }
        for store in stores { await store.shutdown() }
    }
}

@Suite(
    "PostgresStore: several processes on one database",
    .enabled(
        if: PostgresTestServer.enabled,
        "COPYBOT_TEST_POSTGRES_URL is not set (scripts/postgres-test-server.sh starts a server); the postgres cases of the conformance suites are left out too"
    ))
struct PostgresStoreTests {
    @Test("20 concurrent recordDecision for one key from two stores: exactly one inserts, all get it")
    func concurrentDecisions() async throws {
        try await withStores(2) { stores in
            let results = try await withThrowingTaskGroup(of: (DecisionRecord, Bool).self) { group in
                for i in 0..<20 {
                    let store = stores[i % 2]
                    group.addTask {
                        let result = try await store.recordDecision(
                            record(key(7), .skipped(.breakerOpen(consecutiveFailures: i))))
                        return (result.record, result.inserted)
                    }
                }
                var all: [(DecisionRecord, Bool)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.filter(\.1).count == 1)
            let stored = try #require(try await stores[1].decision(for: key(7)))
            #expect(results.allSatisfy { $0.0 == stored })
            #expect(try await stores[0].decisionCounts(account: .default).total == 1)
        }
    }

    @Test("20 concurrent claims (created → posting) from two stores: exactly one wins")
    func concurrentClaims() async throws {
        try await withStores(2) { stores in
            _ = try await stores[0].storeIntent(storedIntent(key(1)))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<20 {
                    let store = stores[i % 2]
                    group.addTask {
                        try await store.updateIntent(
                            key(1), expecting: [.created], to: .posting, matched: nil, message: "claim \(i)",
                            at: UnixTime(milliseconds: Int64(i))) != nil
                    }
                }
                var count = 0
                for try await won in group where won { count += 1 }
                return count
            }
            #expect(wins == 1)
            #expect(try await stores[1].intent(for: key(1))?.status == .posting)
        }
    }

    @Test("concurrent fills from two stores: unique, gap-free, increasing sequences; each growth booked once")
    func concurrentFills() async throws {
        try await withStores(2) { stores in
            for n in 1...10 { _ = try await stores[0].storeIntent(storedIntent(key(UInt64(n)))) }
            _ = try await stores[0].storeIntent(storedIntent(key(1, alice)))
            // Each of 10 intents grows to 1, 2, 3 and 4 shares, every step posted by both stores
            // (80 updates, of which 40 grow the totals); alice's fills count on their own.
            let sequences = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for n in 1...10 {
                    for step in 1...4 {
                        for store in stores {
                            group.addTask {
                                try await store.updateIntent(
                                    key(UInt64(n)), expecting: Set(IntentStatus.allCases), to: .open,
                                    matched: matched("\(step)", "\(step)"), message: nil,
                                    at: UnixTime(milliseconds: Int64(step))
                                )?.fill?.sequence
                            }
                        }
                    }
                }
                group.addTask {
                    try await stores[1].updateIntent(
                        key(1, alice), expecting: [.created], to: .matched, matched: matched("1", "1"),
                        message: nil, at: UnixTime(milliseconds: 1))?.fill?.sequence
                }
                var all: [Int64] = []
                for try await sequence in group { if let sequence { all.append(sequence) } }
                return all
            }
            let fills = try await stores[1].fills(account: .default, after: 0)
            #expect(fills.map(\.sequence) == Array(1...Int64(fills.count)))
            #expect(sequences.count == fills.count + 1)
            #expect(Set(sequences) == Set(fills.map(\.sequence)).union([1]))
            for n in 1...10 {
                let mine = fills.filter { $0.key == key(UInt64(n)) }
                #expect(mine.reduce(Fixed6.zero) { $0 + $1.fill.shares } == d("4"), "intent \(n)")
                #expect(try await stores[0].intent(for: key(UInt64(n)))?.matched.shares == d("4"))
            }
            #expect(try await stores[0].fills(account: alice, after: 0).map(\.sequence) == [1])
            // A reader after a sequence sees exactly the rest.
            let half = Int64(fills.count / 2)
            #expect(
                try await stores[0].fills(account: .default, after: half).map(\.sequence)
                    == Array(half + 1...Int64(fills.count)))
        }
    }

    @Test(
        "concurrent target trades of one holding from two stores: each applied once, none lost; retracted once, applied again once"
    )
    func concurrentTargetTrades() async throws {
        try await withStores(2) { stores in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 1...20 {
                    for store in stores {
                        group.addTask {
                            _ = try await store.applyTargetTrade(
                                TargetTrade(
                                    identity: identity(UInt64(n)), wallet: followed, tokenId: .max,
                                    side: .buy,
                                    shares: d("1.5")))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let next = try await stores[0].applyTargetTrade(
                TargetTrade(
                    identity: identity(99), wallet: followed, tokenId: .max, side: .sell, shares: d("1")))
            #expect(next.sharesBefore == d("30"))
            // Retractions from both stores at once: undone once.
            let undone = try await withThrowingTaskGroup(of: Bool.self) { group in
                for store in stores {
                    for _ in 0..<2 { group.addTask { try await store.retractTargetTrade(identity(1)) } }
                }
                var count = 0
                for try await result in group where result { count += 1 }
                return count
            }
            #expect(undone == 1)
            #expect(
                try await stores[1].applyTargetTrade(
                    TargetTrade(
                        identity: identity(100), wallet: followed, tokenId: .max, side: .buy, shares: d("0"))
                ).sharesBefore == d("27.5"))
            // The trade mined again (in a later block), applied from both stores at once: applied
            // again once, and everyone answers the holding before it there.
            let minedAgain = TargetTrade(
                identity: identity(1), wallet: followed, tokenId: .max, side: .buy, shares: d("1.5"),
                blockNumber: 10)
            let befores = try await withThrowingTaskGroup(of: Fixed6.self) { group in
                for store in stores {
                    for _ in 0..<2 {
                        group.addTask { try await store.applyTargetTrade(minedAgain).sharesBefore }
                    }
                }
                var all: [Fixed6] = []
                for try await before in group { all.append(before) }
                return all
            }
            #expect(befores == Array(repeating: d("27.5"), count: 4))
            #expect(
                try await stores[0].applyTargetTrade(
                    TargetTrade(
                        identity: identity(101), wallet: followed, tokenId: .max, side: .buy, shares: d("0"),
                        blockNumber: 11)
                ).sharesBefore == d("29"))
        }
    }

    @Test("migrations from four stores starting together: all succeed, each migration applied once")
    func concurrentMigrations() async throws {
        try await PostgresTestServer.withSchema { configuration in
            let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await PostgresStore(
                            configuration: configuration, logger: PostgresTestServer.logger)
                    }
                }
                var all: [PostgresStore] = []
                for try await store in group { all.append(store) }
                return all
            }
            #expect(stores.count == 4)
            let applied = try await stores[0].read { c in
                try await c.rows(
                    "SELECT identifier FROM schema_migrations ORDER BY identifier",
                    logger: PostgresTestServer.logger
                )
                .map { try $0("identifier", as: String.self) }
            }
            #expect(applied == PostgresStore.migrations.map(\.identifier))
            #expect(
                applied == [
                    "v1-chain", "v2-copy", "v3-cluster", "v4-target-positions", "v5-cluster-fencing",
                ],
                "in step with SQLite's migrator")
            _ = try await stores[3].recordDecision(record(key(1), .failed(.unfilled)))
            #expect(try await stores[0].decision(for: key(1))?.decision == .failed(.unfilled))
            for store in stores { await store.shutdown() }
            // Opening again finds nothing to do.
            let again = try await PostgresStore(
                configuration: configuration, logger: PostgresTestServer.logger)
            #expect(try await again.decisionCounts(account: .default).failed == 1)
            await again.shutdown()
        }
    }

    @Test("everything survives shutting the store down and opening it again")
    func reopen() async throws {
        try await PostgresTestServer.withSchema { configuration in
            let day = UTCDay(daysSinceEpoch: 20_000)
            let decision = record(key(1), everyDecision[0])
            let pnl = DailyPnL(
                day: day, realised: d("1.5"), unrealisedAtStart: d("-2"), unrealisedNow: d("0.25"))
            let snapshot = LedgerSnapshot(ledger: Ledger(cash: d("100"), day: day), throughFill: 1)
            let first = try await PostgresStore(
                configuration: configuration, logger: PostgresTestServer.logger)
            _ = try await first.recordDecision(decision)
            _ = try await first.storeIntent(storedIntent(key(1), mode: .live, signed: signedOrder(1)))
            let update = try #require(
                try await first.updateIntent(
                    key(1), expecting: [.created], to: .open, matched: matched("10", "5"), message: "ok",
                    at: UnixTime(milliseconds: 5_000)))
            try await first.saveLedger(account: .default, snapshot)
            try await first.recordDailyPnL(account: .default, pnl)
            await first.shutdown()

            let store = try await PostgresStore(
                configuration: configuration, logger: PostgresTestServer.logger)
            #expect(try await store.decision(for: key(1)) == decision)
            #expect(try await store.intent(for: key(1)) == update.intent)
            #expect(try await store.fills(account: .default, after: 0) == [try #require(update.fill)])
            #expect(try await store.loadLedger(account: .default) == snapshot)
            #expect(try await store.dailyPnL(account: .default, day: day) == pnl)
            _ = try await store.storeIntent(storedIntent(key(2)))
            let next = try await store.updateIntent(
                key(2), expecting: [.created], to: .matched, matched: matched("1", "1"), message: nil,
                at: UnixTime(milliseconds: 6_000))
            #expect(next?.fill?.sequence == 2, "the sequence continues")
            await store.shutdown()
        }
    }

    @Test("a wrong password or a missing database: a clear error without the password")
    func refusedByTheServer() async throws {
        let url = try #require(PostgresTestServer.url, Comment(rawValue: PostgresTestServer.missing))
        var configuration = try PostgresStoreConfiguration(url: url)
        configuration.database = "copybot_no_such_database"
        configuration.password = "hunter2-secret-\(UUID().uuidString.prefix(8))"
        let secret = try #require(configuration.password)
        do {
            let store = try await PostgresStore(
                configuration: configuration, logger: PostgresTestServer.logger)
            await store.shutdown()
            Issue.record("connected to a database that does not exist")
        } catch {
            let message = "\(error)"
            #expect(message.contains("could not connect to PostgreSQL at"))
            #expect(message.contains("/copybot_no_such_database"))
            // Whichever the server checks first: the password, or the database.
            #expect(message.contains("password authentication failed") || message.contains("does not exist"))
            #expect(!message.contains(secret))
            #expect(!String(reflecting: error).contains(secret))
        }
    }
}

@Suite("PostgresStore: URLs and unreachable servers (no server needed)")
struct PostgresStoreConfigurationTests {
    @Test("a URL is parsed into host, port, user, password, database and options")
    func parse() throws {
        let full = try PostgresStoreConfiguration(
            url:
                "postgresql://copy%40bot:p%40ss:word@db.example:6543/copy_db?sslmode=require&application_name=x"
                + "&connect_timeout=3&options=-c%20search_path%3Dcopy"
        )
        #expect(full.host == "db.example")
        #expect(full.port == 6543)
        #expect(full.username == "copy@bot")
        #expect(full.password == "p@ss:word")
        #expect(full.database == "copy_db")
        #expect(full.tls == .require)
        #expect(full.applicationName == "x")
        #expect(full.connectTimeout == .seconds(3))
        #expect(full.options == "-c search_path=copy")
        #expect(full.description == "copy@bot@db.example:6543/copy_db")
        let short = try PostgresStoreConfiguration(url: "postgres://copybot@127.0.0.1")
        #expect(short.port == 5432)
        #expect(short.password == nil)
        #expect(short.database == "copybot", "the user name, as libpq does")
        #expect(short.tls == .prefer)
    }

    @Test("a URL without a password takes it from the first matching line of a libpq password file")
    func passwordFile() throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        let file = directory.url.appendingPathComponent("pgpass").path
        let lines = [
            "# comment",
            "other.example:5432:copybot:copybot:wrong-host",
            "db.example:6543:copybot:copybot:wrong-port",
            "db.example:*:copy\\:db:copybot:escaped-database",
            "db.example:*:*:copybot:pa\\:ss:word\\\\",
            "*:*:*:*:fallback",
        ]
        _ = FileManager.default.createFile(
            atPath: file, contents: Data(lines.joined(separator: "\n").utf8),
            attributes: [.posixPermissions: 0o600])

        var configuration = try PostgresStoreConfiguration(url: "postgres://copybot@db.example/copybot")
        #expect(try configuration.readPasswordFile(at: file))
        #expect(configuration.password == "pa:ss:word\\")
        var escaped = try PostgresStoreConfiguration(url: "postgres://copybot@db.example/copy:db")
        #expect(try escaped.readPasswordFile(at: file))
        #expect(escaped.password == "escaped-database")
        var other = try PostgresStoreConfiguration(url: "postgres://someone@elsewhere/x")
        try other.readPasswordFile(at: file)
        #expect(other.password == "fallback")
        // A password in the URL wins; a missing file changes nothing.
        var given = try PostgresStoreConfiguration(url: "postgres://copybot:given@db.example/copybot")
        #expect(!(try given.readPasswordFile(at: file)))
        #expect(given.password == "given")
        var missing = try PostgresStoreConfiguration(url: "postgres://copybot@db.example/copybot")
        #expect(!(try missing.readPasswordFile(at: file + ".none")))
        #expect(missing.password == nil)
        // Readable by others: refused, as libpq does, without showing its content.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        var open = try PostgresStoreConfiguration(url: "postgres://copybot@db.example/copybot")
        let error = try #require(throws: PostgresStoreError.self) { try open.readPasswordFile(at: file) }
        #expect(error.message.contains("chmod 600"))
        #expect(!error.message.contains("fallback") && !error.message.contains("pa:ss"))
    }

    @Test(
        "a bad URL is a clear error that never shows the password",
        arguments: [
            ("mysql://u:hunter2@db/x", "must start with postgres://"),
            ("postgres://u:hunter2@/x", "has no host"),
            ("postgres://:hunter2@db/x", "has no user name"),
            ("postgres://u:hunter2@db/x/y", "more than a database name"),
            ("postgres://u:hunter2@db/x?sslmode=verify-all", "sslmode=verify-all is not one of"),
            ("postgres://u:hunter2@db/x?connect_timeout=soon", "connect_timeout=soon"),
            ("postgres://u:hunter2@db/x?password=hunter2", "unknown URL parameter password"),
        ])
    func badURL(url: String, message: String) throws {
        let error = try #require(throws: PostgresStoreError.self) { try PostgresStoreConfiguration(url: url) }
        #expect(error.message.contains(message))
        #expect(!error.message.contains("hunter2"))
    }

    @Test("an unreachable server: a clear error at once, naming the server, never the password")
    func unreachable() async throws {
        // Port 1 on the loopback: nothing listens, the connection is refused at once. The connect
        // timeout is a minute, so an error that waited for it instead of the refusal is caught
        // (half of it leaves room for a machine busy with the other suites: this took 10.3 s once).
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresStoreError.self) {
            let store = try await PostgresStore(
                url:
                    "postgres://copybot:hunter2-secret@127.0.0.1:1/copybot?sslmode=disable&connect_timeout=60",
                logger: PostgresTestServer.logger)
            await store.shutdown()
        }
        #expect(ContinuousClock.now - started < .seconds(30))
        let message = try #require(error).message
        #expect(message.contains("could not connect to PostgreSQL at copybot@127.0.0.1:1/copybot"))
        #expect(message.lowercased().contains("refused"), "the reason: \(message)")
        #expect(!message.contains("hunter2"))
        #expect(!String(reflecting: try #require(error)).contains("hunter2"))
    }
}
