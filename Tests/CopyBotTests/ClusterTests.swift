import Chain
import ClobStandIn
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Testing

@testable import Store

/// copybot as a cluster on PostgreSQL: two listener processes (one active, one standing by) and
/// three executor processes copy into ten accounts, in live mode against the devnet and the CLOB
/// stand-in. The active listener and one executor are killed with SIGKILL mid-run: the standby
/// takes over within `cluster.failover_after`, the other executors take over the dead one's
/// accounts, and every (account, trade) pair ends with exactly one decision and at most one order.
@Suite(
    "cluster: listener failover and executor take-over on PostgreSQL", .serialized, .timeLimit(.minutes(10)),
    .enabled(if: TestPostgres.enabled, "COPYBOT_TEST_POSTGRES_URL is not set"))
struct ClusterTests {
    static let wallets: [Address] = (1...5).map {
        Address(hi: 0xC1A5_0000_0000_0000 | UInt64($0), mid: 9, lo: UInt32($0))
    }

    /// Account i follows wallet i mod 5, and the first five also wallet i+1 mod 5.
    static func followed(by account: Int) -> [Address] {
        account < 5 ? [wallets[account % 5], wallets[(account + 1) % 5]] : [wallets[account % 5]]
    }

    static let accountCount = 10
    static let failoverAfter = 5

    @Test(
        "2 listeners, 3 executors, 10 accounts, 2,000+ trades; SIGKILL the active listener and an executor: one decision per (account, trade), at most one order, failover in time"
    )
    func failover() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        try await TestPostgres.withFreshSchema(prefix: "t_cluster_") { store, storeURL, _ in
            // Seven processes: not alongside the listener's all-faults run (see ExclusiveRun).
            try await ExclusiveRun.run("heavy-tests") { try await run(store: store, storeURL: storeURL) }
        }
    }

    func run(store: PostgresStore, storeURL: String) async throws {
        var configuration = ServiceTestSupport.devnet(
            blocks: 640, every: .milliseconds(20), seed: 2_026, following: Self.wallets, share: 0.5)
        configuration.chain.markets = 40
        configuration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let cluster = try await ClusterHarness.make(
            devnet: configuration, accounts: Self.accountCount, followed: Self.followed, storeURL: storeURL,
            leaseSeconds: 3, failoverAfter: Self.failoverAfter)
        let devnet = cluster.devnet
        let accounts = cluster.accounts
        func start(_ name: String, _ role: String) throws -> Process { try cluster.start(name, role) }
        func members() async throws -> [ClusterMember] { try await store.allMembers() }

        // The first listener becomes the active one; then the standby and the executors.
        let listener1 = try start("L1", "listener")
        let clock = ContinuousClock()
        var deadline = clock.now + .seconds(30)
        while clock.now < deadline,
            try await !members().contains(where: { $0.name == "L1" && $0.activeListener })
        {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(
            try await members().contains { $0.name == "L1" && $0.activeListener }, "L1 is the active listener"
        )
        let listener2 = try start("L2", "listener")
        let executors = try ["E1", "E2", "E3"].map { try start($0, "executor") }
        let producer = Task { try await devnet.run() }

        // Mid-run: kill the active listener and one executor.
        func decidedCount() async throws -> Int {
            var total = 0
            for account in accounts { total += try await store.decisionCounts(account: account.name).total }
            return total
        }
        deadline = clock.now + .seconds(120)
        while clock.now < deadline, try await decidedCount() < 1_500 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let decidedAtKill = try await decidedCount()
        kill(listener1.processIdentifier, SIGKILL)
        kill(executors[0].processIdentifier, SIGKILL)
        let killedAt = clock.now
        var failover: Duration? = nil
        while clock.now - killedAt < .seconds(30) {
            if try await members().contains(where: { $0.name == "L2" && $0.activeListener }) {
                failover = clock.now - killedAt
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        listener1.waitUntilExit()
        executors[0].waitUntilExit()

        try await producer.value
        let producerDoneAt = clock.now
        let head = try #require(devnet.chain.block(tag: .latest))
        let expected = try cluster.expected(to: head.number)
        var decided: [AccountID: Set<LogIdentity>] = [:]
        var unresolved = 0
        deadline = clock.now + .seconds(240)
        while clock.now < deadline {
            unresolved = 0
            var missing = 0
            for account in accounts {
                let entries = try await store.decisionEntries(
                    account: account.name, limit: nil, afterRowID: nil)
                decided[account.name] = Set(entries.map { LogIdentity(hash: $0.record.key.identity.bytes) })
                missing += expected[account.name]!.subtracting(decided[account.name]!).count
                unresolved += try await store.intents(account: account.name, statuses: [.created, .posting])
                    .count
            }
            if missing == 0, unresolved == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        let allDecidedAt = clock.now
        let leases = try await store.leases()
        // `copybot status` shows the cluster: the active listener, the executors and their
        // accounts, the queues; and each account.
        let status = try await cluster.command(["status"])
        let trades = try await cluster.command(["trades", "--account", "a3", "--format", "jsonl"])
        for process in [listener2] + executors.dropFirst() {
            #expect(await ServiceTestSupport.terminate(process), "SIGTERM: clean exit")
        }
        let accepted = cluster.standIn.acceptedOrders
        await cluster.stop()

        let pairs = expected.values.map(\.count).reduce(0, +)
        let seconds = failover.map {
            Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
        }
        print(
            "cluster: \(pairs) (account, trade) pairs, killed at \(decidedAtKill) decided, failover \(seconds.map { String(format: "%.2f", $0) } ?? "-") s, all decided \((allDecidedAt - killedAt).components.seconds) s after the kill, \((allDecidedAt - producerDoneAt).components.seconds) s after the last block"
        )
        // Failover within the configured bound.
        #expect(failover != nil, "L2 took over")
        #expect(
            failover.map { $0 <= .seconds(Self.failoverAfter) } == true,
            "failover took \(seconds.map { String(format: "%.2f", $0) } ?? "-") s (bound \(Self.failoverAfter) s)"
        )
        #expect(
            decidedAtKill >= 1_500 && decidedAtKill < expected.values.map(\.count).reduce(0, +),
            "killed mid-run")
        // The dead executor's accounts went to the living ones.
        #expect(!leases.contains { $0.owner == "E1" }, "E1's accounts were taken over: \(leases)")

        #expect(status.status == 0, "\(status.output)")
        #expect(status.output.contains("active listener: L2"), "\(status.output)")
        #expect(status.output.contains("L1: listener, gone"), "\(status.output)")
        #expect(status.output.contains("E2: executor, up"), "\(status.output)")
        #expect(status.output.contains("queue: empty"), "\(status.output)")
        for account in accounts { #expect(status.output.contains("account \(account.name.name):")) }
        #expect(trades.status == 0)
        let lines = trades.output.split(separator: "\n")
        #expect(lines.count == expected[AccountID("a3")]!.count, "trades --account a3 lists a3's decisions")
        #expect(lines.allSatisfy { $0.contains("\"account\":\"a3\"") })

        // Every (account, trade) pair decided exactly once.
        let targetTrades = Set(expected.values.flatMap { $0 })
        #expect(targetTrades.count >= 2_000, "enough target trades (\(targetTrades.count))")
        #expect(unresolved == 0, "\(unresolved) orders left unresolved")
        for account in accounts {
            let want = expected[account.name]!
            let entries = try await store.decisionEntries(account: account.name, limit: nil, afterRowID: nil)
            let keys = Set(entries.map { LogIdentity(hash: $0.record.key.identity.bytes) })
            #expect(entries.count == keys.count, "\(account.name): one decision per trade")
            #expect(
                keys == want,
                "\(account.name): missing \(want.subtracting(keys).count), extra \(keys.subtracting(want).count) of \(want.count)"
            )
            // At most one order per (account, trade), and every copy is exactly its order.
            let orders = accepted.filter { $0.owner == account.credentials.apiKey }
            #expect(
                Set(orders.map(\.order.salt)).count == orders.count, "\(account.name): a trade ordered twice")
            let copied = entries.compactMap { entry -> String? in
                if case .copied(let order) = entry.record.decision { return order.orderHash?.hex }
                return nil
            }
            #expect(Set(copied) == Set(orders.map(\.orderHash)), "\(account.name): copies and orders differ")
            #expect(
                orders.allSatisfy { $0.order.maker == account.key.address }, "\(account.name): its own key")
            #expect(!copied.isEmpty, "\(account.name) copied something")
        }
    }
}
