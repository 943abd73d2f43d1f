import Chain
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Testing

@testable import Store

/// A cluster whose executors are paused (SIGSTOP) past their leases: the lease epoch fences every
/// write, so a resumed executor acts on nothing it no longer holds. One listener, three executors,
/// four accounts, live mode against the devnet and the CLOB stand-in.
@Suite(
    "cluster: stalled executors are fenced off by the lease epoch", .serialized, .timeLimit(.minutes(12)),
    .enabled(if: TestPostgres.enabled, "COPYBOT_TEST_POSTGRES_URL is not set"))
struct ClusterFencingTests {
    static let wallets: [Address] = (1...4).map {
        Address(hi: 0xFE4C_0000_0000_0000 | UInt64($0), mid: 9, lo: UInt32($0))
    }
    static let leaseSeconds = 3
    static let episodes = 10

    @Test(
        "10 stall episodes (an executor stopped past its lease until its accounts are taken, resumed while the new holder is stopped): no write under a stale epoch, ledgers = fills, no SELL above holdings, one decision per trade; SIGTERM hands accounts over within a second, without an error line"
    )
    func stalls() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        try await TestPostgres.withFreshSchema(prefix: "t_fence_") { store, storeURL, _ in
            try await ExclusiveRun.run("heavy-tests") { try await run(store: store, storeURL: storeURL) }
        }
    }

    func run(store: PostgresStore, storeURL: String) async throws {
        var configuration = ServiceTestSupport.devnet(
            blocks: 2_400, every: .milliseconds(50), seed: 2_029, following: Self.wallets, share: 0.3)
        configuration.chain.markets = 12
        configuration.chain.fillsPerBlock = 1...4
        configuration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        // Account i follows wallet i, and the first two also wallet i+1: trades shared by accounts.
        let cluster = try await ClusterHarness.make(
            devnet: configuration, accounts: 4,
            followed: { $0 < 2 ? [Self.wallets[$0], Self.wallets[$0 + 1]] : [Self.wallets[$0]] },
            storeURL: storeURL, leaseSeconds: Self.leaseSeconds, failoverAfter: 5)
        let clock = ContinuousClock()
        let listener = try cluster.start("L1", "listener")
        let names = ["E1", "E2", "E3"]
        var executors: [String: Process] = [:]
        for name in names { executors[name] = try cluster.start(name, "executor") }
        let producer = Task { try await cluster.devnet.run() }

        // Every executor holds an account before the first stall (4 accounts: 2/1/1).
        var deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let owners = Set(try await store.leases().compactMap(\.owner))
            if owners.count == names.count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let spread = Dictionary(grouping: try await store.leases().compactMap(\.owner), by: { $0 }).mapValues(
            \.count)
        #expect(
            spread.values.sorted() == [1, 1, 2], "an even split of 4 accounts over 3 executors: \(spread)")

        var episodes = 0
        var takeovers: [Duration] = []
        while episodes < Self.episodes {
            let now = SystemWallClock().now()
            let leases = try await store.leases().filter { $0.owner != nil && $0.expiresAt >= now }
            guard
                let stalled = Dictionary(grouping: leases, by: { $0.owner! }).max(by: {
                    $0.value.count < $1.value.count
                })
            else {
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let paused = try #require(executors[stalled.key])
            kill(paused.processIdentifier, SIGSTOP)
            let stoppedAt = clock.now
            // Stopped past its lease until every account it held is taken by another executor.
            var taken: [AccountLease] = []
            deadline = clock.now + .seconds(30)
            while clock.now < deadline {
                let current = try await store.leases()
                taken = current.filter { lease in
                    stalled.value.contains {
                        $0.account == lease.account && lease.owner != nil && lease.owner != stalled.key
                            && lease.epoch > $0.epoch
                    }
                }
                if taken.count == stalled.value.count { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(
                taken.count == stalled.value.count, "episode \(episodes): \(stalled.key)'s accounts taken")
            takeovers.append(clock.now - stoppedAt)
            // The new holder of the first of them is stopped with its trades in hand, the stalled
            // executor resumes meanwhile, then the new holder (within its lease).
            let holder = taken.first.flatMap { $0.owner.flatMap { executors[$0] } }
            if let holder { kill(holder.processIdentifier, SIGSTOP) }
            kill(paused.processIdentifier, SIGCONT)
            try await Task.sleep(for: .milliseconds(1_000))
            if let holder { kill(holder.processIdentifier, SIGCONT) }
            try await Task.sleep(for: .milliseconds(500))
            episodes += 1
        }

        try await producer.value
        let head = try #require(cluster.devnet.chain.block(tag: .latest))
        let expected = try cluster.expected(to: head.number)
        deadline = clock.now + .seconds(240)
        var missing = 0
        var unresolved = 0
        while clock.now < deadline {
            missing = 0
            unresolved = 0
            for account in cluster.accounts {
                let entries = try await store.decisionEntries(
                    account: account.name, limit: nil, afterRowID: nil)
                let decided = Set(entries.map { LogIdentity(hash: $0.record.key.identity.bytes) })
                missing += expected[account.name]!.subtracting(decided).count
                unresolved += try await store.intents(account: account.name, statuses: [.created, .posting])
                    .count
            }
            if missing == 0, unresolved == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(
            missing == 0 && unresolved == 0, "\(missing) trades undecided, \(unresolved) orders unresolved")

        // SIGTERM of the executor holding the most accounts: they move within a second, and its
        // log has no error line.
        let now = SystemWallClock().now()
        let held = Dictionary(
            grouping: try await store.leases().filter { $0.owner != nil && $0.expiresAt >= now },
            by: { $0.owner! })
        let (stopping, itsLeases) = try #require(held.max { $0.value.count < $1.value.count })
        let stopped = try #require(executors[stopping])
        // Its log so far has the stall episodes' store errors (a transaction the server ended):
        // what counts is what it logs once asked to stop.
        let logBeforeStop = (try? Data(contentsOf: cluster.log(stopping)).count) ?? 0
        kill(stopped.processIdentifier, SIGTERM)
        await ServiceTestSupport.exit(of: stopped)
        let exitedAt = clock.now
        var handedOver: Duration? = nil
        while clock.now - exitedAt < .seconds(10) {
            let current = try await store.leases()
            let moved = itsLeases.allSatisfy { lease in
                current.contains { $0.account == lease.account && $0.owner != nil && $0.owner != stopping }
            }
            if moved {
                handedOver = clock.now - exitedAt
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(stopped.terminationReason == .exit && stopped.terminationStatus == 0, "SIGTERM: clean exit")
        #expect(
            handedOver.map { $0 <= .seconds(1) } == true,
            "accounts handed over in \(String(describing: handedOver))")
        let stoppedLog = String(
            decoding: try Data(contentsOf: cluster.log(stopping)).dropFirst(logBeforeStop), as: UTF8.self)
        let errorLines = stoppedLog.split(separator: "\n").filter {
            $0.replacingOccurrences(of: " ", with: "").contains("\"level\":\"error\"")
        }
        #expect(
            errorLines.isEmpty,
            "\(stopping) logged errors while stopping:\n\(errorLines.prefix(5).joined(separator: "\n"))")

        let status = try await cluster.command(["status"])
        for process in [listener] + names.filter({ $0 != stopping }).compactMap({ executors[$0] }) {
            #expect(await ServiceTestSupport.terminate(process), "SIGTERM: clean exit")
        }
        var refusals = 0
        for name in names {
            let log = (try? String(contentsOf: cluster.log(name), encoding: .utf8)) ?? ""
            refusals += log.split(separator: "\n").filter { $0.contains("write refused") }.count
        }
        await cluster.stop()

        // From the database: every decision and fill was written by the holder of the epoch it
        // carries (none unfenced), and the accounts changed hands.
        let stale = try await store.read { c in
            var counts: [Int64] = []
            for table in ["copy_decisions", "copy_fills"] {
                let row = try await c.row(
                    """
                    SELECT count(*) AS n FROM \(unescaped: table) w
                    LEFT JOIN cluster_account_takes t ON t.account = w.account AND t.epoch = w.epoch
                    WHERE w.written_by IS NULL OR t.owner IS DISTINCT FROM w.written_by
                    """, logger: store.logger)
                counts.append(try row?("n", as: Int64.self) ?? -1)
            }
            return counts
        }
        #expect(stale == [0, 0], "decisions and fills written without the epoch's lease: \(stale)")
        let takes = try await store.read { c in
            try await c.row("SELECT count(*) AS n FROM cluster_account_takes", logger: store.logger)?(
                "n", as: Int64.self)
        }
        #expect((takes ?? 0) >= Int64(cluster.accounts.count + Self.episodes), "\(takes ?? 0) takes")

        // One decision per (account, trade), the canonical set; every account's ledger is its
        // fills, and no fill sells more than the account held.
        for account in cluster.accounts {
            let entries = try await store.decisionEntries(account: account.name, limit: nil, afterRowID: nil)
            let keys = Set(entries.map { LogIdentity(hash: $0.record.key.identity.bytes) })
            #expect(entries.count == keys.count, "\(account.name): one decision per trade")
            #expect(keys == expected[account.name]!, "\(account.name): the canonical trades")
            let fills = try await store.fills(account: account.name, after: 0)
            #expect(
                fills.map(\.sequence) == (0..<fills.count).map { Int64($0 + 1) },
                "\(account.name): fills in sequence")
            var ledger = Ledger(cash: Fixed6(micros: 1_000_000_000_000), day: UTCDay(daysSinceEpoch: 0))
            var atSnapshot: Ledger? = nil
            let snapshot = try await store.loadLedger(account: account.name)
            for fill in fills {
                do {
                    _ = try ledger.apply(fill.fill)
                } catch {
                    Issue.record("\(account.name): fill \(fill.sequence) refused by the ledger: \(error)")
                }
                if fill.sequence == snapshot?.throughFill { atSnapshot = ledger }
            }
            if let snapshot, snapshot.throughFill > 0 {
                let replayed = try #require(
                    atSnapshot, "\(account.name): snapshot through a fill that exists")
                #expect(snapshot.ledger.cash == replayed.cash, "\(account.name): snapshot cash = fills")
                #expect(
                    snapshot.ledger.positions.mapValues(\.shares) == replayed.positions.mapValues(\.shares),
                    "\(account.name): snapshot positions = fills")
            }
        }
        #expect(status.status == 0, "\(status.output)")
        #expect(
            status.output.contains("epoch"), "status shows each account's holder and epoch:\n\(status.output)"
        )
        let seconds = takeovers.map {
            Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
        }
        print(
            "cluster-fencing: \(Self.episodes) stalls, take-over after \(String(format: "%.1f", seconds.min() ?? 0))–\(String(format: "%.1f", seconds.max() ?? 0)) s, \(refusals) writes refused and logged, \(takes ?? 0) takes, SIGTERM hand-over \(String(describing: handedOver))"
        )
    }
}
