import Chain
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Store
import Testing

/// `copybot run` as a process against the devnet, killed with SIGKILL at random moments and
/// restarted: the store ends with exactly the canonical fills of the followed wallets, each once,
/// every one of them with exactly one copy decision (paper mode), and a SIGTERM stops the service
/// cleanly (exit 0).
@Suite("copybot run survives kill -9", .serialized, .timeLimit(.minutes(10)))
struct RunCrashRecoveryTests {
    static let followed: [Address] = (1...2).map {
        Address(hi: 0xC0DE_0000_0000_0000 | UInt64($0), mid: 3, lo: UInt32($0))
    }

    @Test("eight SIGKILLs and a SIGTERM mid-stream, then SIGTERM: nothing missed, nothing twice, clean exits")
    func killNine() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let registry = try ServiceTestSupport.registry()
        var configuration = Devnet.Configuration()
        configuration.webSocketPort = 0
        configuration.httpPort = 0
        configuration.blockInterval = .milliseconds(25)
        configuration.maximumBlocks = 500
        configuration.chain.seed = 77
        configuration.chain.followedWallets = Self.followed
        configuration.chain.followedProbability = 0.25
        configuration.faults.reorgEvery = 70
        configuration.faults.reorgDepth = 1...12
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("copybot.sqlite").path
        let environment = [
            "COPYBOT_CHAIN_WS_URLS": devnet.webSocketURL, "COPYBOT_CHAIN_HTTP_URLS": devnet.httpURL,
            "COPYBOT_STORE_URL": "sqlite:\(database)",
            "COPYBOT_FOLLOW_WALLETS": Self.followed.map(\.checksummed).joined(separator: ","),
            "COPYBOT_CHAIN_START_BLOCK": "\(startBlock)", "COPYBOT_CHAIN_STALE_AFTER": "1",
            "COPYBOT_HTTP_LISTEN": "", "COPYBOT_LOG_LEVEL": "notice",
            // No CLOB (a closed port): paper fills are priced from the target's trades.
            "COPYBOT_CLOB_URL": "http://127.0.0.1:9",
            // A window wider than the run, so the store keeps every identity it ever delivered
            // (normally they are pruned below the window) and the test can count them.
            "COPYBOT_CHAIN_REORG_WINDOW": "10000",
        ]
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        var rng = SystemRandomNumberGenerator()
        for round in 0..<9 {
            let process = try ServiceTestSupport.startCopybot(environment, log: log)
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_200, using: &rng)))
            if round == 4 {
                // One graceful stop mid-stream: it finishes the trades in hand and exits 0.
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
                #expect(process.terminationReason == .exit && process.terminationStatus == 0)
                continue
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
        }
        let last = try ServiceTestSupport.startCopybot(environment, log: log)
        try await producer.value
        // Wait for the service to reach the head (it resubscribes once the chain goes quiet).
        let head = try #require(devnet.chain.block(tag: .latest))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        var checkpoint: BlockRef? = nil
        while clock.now < deadline {
            checkpoint = try await SQLiteStore(path: database).loadState(stream: "polygon")?.cursor
            if checkpoint == BlockRef(number: head.number, hash: head.hash) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(checkpoint?.number == head.number, "the service caught up with the head")
        // …and decided every trade it delivered.
        var undecided = Set<LogIdentity>()
        while clock.now < deadline {
            let store = try SQLiteStore(path: database)
            let delivered = try await store.liveIdentities(stream: "polygon", aboveBlock: 0)
            undecided = Set(delivered.keys).subtracting(try await ServiceTestSupport.decided(store))
            if undecided.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(undecided.isEmpty, "\(undecided.count) delivered trades without a decision")
        kill(last.processIdentifier, SIGTERM)
        last.waitUntilExit()
        #expect(
            last.terminationReason == .exit && last.terminationStatus == 0, "SIGTERM stops copybot cleanly")
        await devnet.shutdown()

        // The canonical fills of the followed wallets, as the listener identifies them.
        let expected = try ServiceTestSupport.canonicalFills(
            devnet, registry: registry, wallets: Self.followed, from: startBlock, to: head.number)
        let store = try SQLiteStore(path: database)
        let stored = try await store.liveIdentities(stream: "polygon", aboveBlock: 0)
        #expect(expected.count > 50, "enough fills to mean something (\(expected.count))")
        let missing = expected.subtracting(stored.keys)
        let extra = Set(stored.keys).subtracting(expected)
        #expect(missing.isEmpty, "of \(expected.count): missing \(missing.count)")
        // Known intermittent bug (issue 3, open): under heavy load an orphaned fill that was
        // delivered is now and then not retracted.
        withKnownIssue("an orphaned fill is occasionally left unretracted under load", isIntermittent: true) {
            #expect(extra.isEmpty, "of \(expected.count): extra \(extra.count)")
        }
        // Exactly one decision per trade, and every canonical fill decided.
        let decisions = try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil)
        let decided = try await ServiceTestSupport.decided(store)
        #expect(decisions.count == decided.count, "one decision per trade")
        #expect(expected.subtracting(decided).isEmpty, "canonical fills without a decision")
        #expect(decisions.count >= expected.count)
        #expect(
            try await store.pendingEvents(stream: "polygon").allSatisfy {
                if case .retracted = $0 { true } else { false }
            })
    }
}
