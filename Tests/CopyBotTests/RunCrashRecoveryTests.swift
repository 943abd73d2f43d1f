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
        var configuration = ServiceTestSupport.devnet(
            blocks: 500, every: .milliseconds(25), seed: 77, following: Self.followed, share: 0.25)
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
        var environment = ServiceTestSupport.paperEnvironment(
            devnet: devnet, store: "sqlite:\(database)", startBlock: startBlock)
        environment["COPYBOT_FOLLOW_WALLETS"] = Self.followed.map(\.checksummed).joined(separator: ",")
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        var rng = SystemRandomNumberGenerator()
        for round in 0..<9 {
            let process = try ServiceTestSupport.startCopybot(environment, log: log)
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_200, using: &rng)))
            if round == 4 {
                // One graceful stop mid-stream: it finishes the trades in hand and exits 0. A
                // SIGTERM before the service group handles signals (its start can take longer than
                // the wait above on a loaded machine) would end the process by the signal instead.
                try await Task.sleep(for: .seconds(2))
                let clean = await ServiceTestSupport.terminate(process)
                #expect(
                    clean,
                    "SIGTERM: \(process.terminationReason == .exit ? "exit" : "signal") \(process.terminationStatus); the log's end:\n\(ServiceTestSupport.tail(of: log))"
                )
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
        let undecided = try await ServiceTestSupport.undecided(
            { try SQLiteStore(path: database) }, until: deadline)
        #expect(undecided.isEmpty, "\(undecided.count) delivered trades without a decision")
        #expect(await ServiceTestSupport.terminate(last), "SIGTERM stops copybot cleanly")
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
        #expect(extra.isEmpty, "of \(expected.count): extra \(extra.count)")
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
