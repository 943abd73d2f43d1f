import Chain
import CopyBot
import CopyEngine
import DevNode
import EVM
import Foundation
import Logging
import Polymarket
import PostgresNIO
import Testing

@testable import Store

/// `copybot run` as a process against the devnet with its store in PostgreSQL, killed with
/// SIGKILL and restarted as in ``RunCrashRecoveryTests``; then `copybot status` and `copybot
/// trades` read the same database. Shows the composition root and the CLI open the PostgreSQL
/// store from `store.url`, and that exactly-once holds with it.
@Suite(
    "copybot run, status and trades with a PostgreSQL store", .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestPostgres.enabled, "COPYBOT_TEST_POSTGRES_URL is not set"))
struct PostgresRunTests {
    static let followed: [Address] = (1...2).map {
        Address(hi: 0xC0DE_0000_0000_0000 | UInt64($0), mid: 7, lo: UInt32($0))
    }

    @Test("three SIGKILLs, then SIGTERM: every canonical fill decided once, in PostgreSQL; the CLI reads it")
    func runAgainstPostgres() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        _ = try #require(
            TestPostgres.url, "COPYBOT_TEST_POSTGRES_URL is not set but COPYBOT_REQUIRE_POSTGRES=1")
        // A schema of its own: created (and migrated) here, named to copybot through `options`.
        try await TestPostgres.withFreshSchema(prefix: "t_run_") { store, storeURL, _ in
            try await run(storeURL: storeURL, store: store)
        }
    }

    func run(storeURL: String, store: PostgresStore) async throws {
        let registry = try ServiceTestSupport.registry()
        var configuration = ServiceTestSupport.devnet(
            blocks: 250, every: .milliseconds(25), seed: 91, following: Self.followed, share: 0.25)
        configuration.faults.reorgEvery = 60
        configuration.faults.reorgDepth = 1...8
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-pg-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = ServiceTestSupport.paperEnvironment(
            devnet: devnet, store: storeURL, startBlock: startBlock)
        environment["COPYBOT_FOLLOW_WALLETS"] = Self.followed.map(\.checksummed).joined(separator: ",")
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        for _ in 0..<3 {
            let process = try ServiceTestSupport.startCopybot(environment, log: log)
            try await Task.sleep(for: .milliseconds(Int.random(in: 600...1_500)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
        }
        let last = try ServiceTestSupport.startCopybot(environment, log: log)
        try await producer.value
        let head = try #require(devnet.chain.block(tag: .latest))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        var checkpoint: BlockRef? = nil
        while clock.now < deadline {
            checkpoint = try await store.loadState(stream: "polygon")?.cursor
            if checkpoint == BlockRef(number: head.number, hash: head.hash) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(checkpoint?.number == head.number, "the service caught up with the head")
        let undecided = try await ServiceTestSupport.undecided({ store }, until: deadline)
        #expect(undecided.isEmpty, "\(undecided.count) delivered trades without a decision")
        #expect(await ServiceTestSupport.terminate(last), "SIGTERM stops copybot cleanly")
        await devnet.shutdown()

        let expected = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: Self.followed, from: startBlock, to: head.number)
        let stored = try await store.liveIdentities(stream: "polygon", aboveBlock: 0)
        #expect(expected.count > 20, "enough fills to mean something (\(expected.count))")
        #expect(expected.subtracting(stored.keys).isEmpty, "canonical fills missing")
        #expect(Set(stored.keys).subtracting(expected).isEmpty, "delivered fills not canonical nor retracted")
        let decisions = try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil)
        let decided = try await ServiceTestSupport.decided(store)
        #expect(decisions.count == decided.count, "one decision per trade")
        #expect(expected.subtracting(decided).isEmpty, "canonical fills without a decision")

        // The CLI reads the same database.
        let status = try await ServiceTestSupport.runCopybot(["status"], environment: environment)
        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.contains("chain: checkpoint #\(head.number)"), "\(status.output)")
        #expect(status.output.contains("decisions: \(decisions.count) —"), "\(status.output)")
        let trades = try await ServiceTestSupport.runCopybot(
            ["trades", "--format", "jsonl"], environment: environment)
        #expect(trades.status == 0, "\(trades.output)")
        let lines = trades.output.split(separator: "\n")
        #expect(lines.count == decisions.count)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"decided_at\":") })
        let positions = try await ServiceTestSupport.runCopybot(
            ["positions", "--format", "jsonl"], environment: environment)
        #expect(positions.status == 0, "\(positions.output)")
    }

    @Test(
        "StoreFactory: a PostgreSQL URL without a password takes it from PGPASSFILE; without one, a clear error"
    )
    func passwordFile() async throws {
        let url = try #require(
            TestPostgres.url, "COPYBOT_TEST_POSTGRES_URL is not set but COPYBOT_REQUIRE_POSTGRES=1")
        var configuration = try PostgresStoreConfiguration(url: url)
        let password = try #require(configuration.password, "the test server's URL has a password")
        let schema = "t_pgpass_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        configuration.schema = schema
        let creator = try await PostgresStore(configuration: configuration, logger: TestPostgres.logger)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-pgpass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("pgpass").path
        let line =
            "\(configuration.host):\(configuration.port):\(configuration.database):\(configuration.username):\(password)"
        _ = FileManager.default.createFile(
            atPath: file, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600])
        let withoutPassword =
            "postgres://\(configuration.username)@\(configuration.host):\(configuration.port)/\(configuration.database)"
            + "?options=-c%20search_path%3D\(schema)"
        do {
            let opened = try await StoreFactory.open(
                .postgres(url: withoutPassword), logger: TestPostgres.logger,
                environment: ["PGPASSFILE": file])
            #expect(
                opened.description
                    == "postgres://\(configuration.username)@\(configuration.host):\(configuration.port)/\(configuration.database)"
            )
            #expect(try await opened.store.decisionCounts(account: .default).total == 0)
            await opened.close()
            let error = await #expect(throws: PostgresStoreError.self) {
                let opened = try await StoreFactory.open(
                    .postgres(url: withoutPassword), logger: TestPostgres.logger, environment: [:])
                await opened.close()
            }
            #expect(error?.message.contains("password") == true, "\(String(describing: error))")
        } catch {
            await TestPostgres.cleanUp(creator, schema: schema)
            throw error
        }
        await TestPostgres.cleanUp(creator, schema: schema)
    }

    /// The trades the store has a decision for.

}
