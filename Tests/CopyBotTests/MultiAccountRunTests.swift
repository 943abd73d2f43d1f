import Chain
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Store
import Testing

/// `copybot run` with three accounts over overlapping wallets, killed with SIGKILL mid-stream and
/// restarted: each account ends with exactly one decision for each canonical fill of the wallets
/// it follows, none for the others, each sized by its own rules.
@Suite("copybot run copies into several accounts", .serialized, .timeLimit(.minutes(10)))
struct MultiAccountRunTests {
    static let wallets: [Address] = (1...3).map {
        Address(hi: 0xACC0_0000_0000_0000 | UInt64($0), mid: 7, lo: UInt32($0))
    }

    /// account → (wallets followed, fixed USDC per copy)
    static let accounts: [(name: AccountID, wallets: [Address], usdc: Int)] = [
        ("alpha", [wallets[0], wallets[1]], 3),
        ("beta", [wallets[1], wallets[2]], 7),
        ("gamma", [wallets[2]], 11),
    ]

    static func yaml(root: URL) -> String {
        var text = """
            contracts:
              file: \(root.appendingPathComponent("Config/contracts.polygon.yaml").path)
              abi_dir: \(root.appendingPathComponent("abi").path)
            copy:
              risk:
                max_order_usdc: 50
                max_price_deviation: 0.5
                max_trade_age_seconds: 86400
            accounts:

            """
        for account in accounts {
            text += """
                  - name: \(account.name.name)
                    wallets: [\(account.wallets.map { "\"\($0.checksummed)\"" }.joined(separator: ", "))]
                    copy:
                      starting_usdc: 100000
                      sizing: { mode: fixed_usdc, value: \(account.usdc) }

                """
        }
        return text
    }

    @Test("three accounts, three SIGKILLs: one decision per (account, followed fill), sized per account")
    func accountsSurviveKillNine() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let registry = try ServiceTestSupport.registry()
        let configuration = ServiceTestSupport.devnet(
            blocks: 240, every: .milliseconds(30), seed: 91, following: Self.wallets, share: 0.3)
        let devnet = try Devnet(registry: registry, configuration: configuration)
        try await devnet.start()
        let startBlock = devnet.chain.blockNumber
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-accounts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("copybot.yaml")
        try Data(Self.yaml(root: ServiceTestSupport.root).utf8).write(to: config)
        let database = directory.appendingPathComponent("copybot.sqlite").path
        let environment = ServiceTestSupport.paperEnvironment(
            devnet: devnet, store: "sqlite:\(database)", startBlock: startBlock)
        let log = directory.appendingPathComponent("copybot.log")
        let producer = Task { try await devnet.run() }
        for _ in 0..<3 {
            let process = try ServiceTestSupport.startCopybot(environment, log: log, config: config.path)
            try await Task.sleep(for: .milliseconds(Int.random(in: 600...1_500)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let last = try ServiceTestSupport.startCopybot(environment, log: log, config: config.path)
        try await producer.value
        let head = try #require(devnet.chain.block(tag: .latest))
        var expected: [AccountID: Set<LogIdentity>] = [:]
        for account in Self.accounts {
            expected[account.name] = try ServiceTestSupport.canonicalFills(
                devnet, registry: registry, wallets: account.wallets, from: startBlock, to: head.number)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        var undecided = 0
        while clock.now < deadline {
            let store = try SQLiteStore(path: database)
            undecided = 0
            for account in Self.accounts {
                let decided = try await ServiceTestSupport.decided(store, account: account.name)
                undecided += expected[account.name]!.subtracting(decided).count
            }
            if undecided == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await ServiceTestSupport.terminate(last))
        await devnet.shutdown()
        #expect(undecided == 0, "trades left without a decision")

        let store = try SQLiteStore(path: database)
        #expect(Set(try await store.accounts()) == Set(Self.accounts.map(\.name)))
        for account in Self.accounts {
            let entries = try await store.decisionEntries(account: account.name, limit: nil, afterRowID: nil)
            let decided = Set(entries.map { LogIdentity(hash: $0.record.key.identity.bytes) })
            let want = expected[account.name]!
            #expect(want.count > 10, "\(account.name): enough fills to mean something (\(want.count))")
            #expect(entries.count == decided.count, "\(account.name): one decision per trade")
            #expect(
                decided == want,
                "\(account.name): exactly the fills of its wallets (missing \(want.subtracting(decided).count), extra \(decided.subtracting(want).count))"
            )
            // Each copy sized by the account's own rule: its fixed USDC, cut to the tick.
            let copies = entries.compactMap { entry -> CopiedOrder? in
                if case .copied(let order) = entry.record.decision { order } else { nil }
            }
            #expect(!copies.isEmpty, "\(account.name) copied something")
            let limit = Fixed6(account.usdc)
            let buys = copies.filter { $0.intent.side == .buy }
            #expect(
                buys.allSatisfy { $0.intent.collateral <= limit },
                "\(account.name): buys within \(account.usdc) USDC")
            #expect(
                buys.contains { $0.intent.collateral > limit - Fixed6(1) },
                "\(account.name): buys sized near \(account.usdc) USDC")
        }
    }
}
