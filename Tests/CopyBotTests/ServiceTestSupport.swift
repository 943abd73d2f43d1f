import Chain
import ClobStandIn
import CopyEngine
import DevNode
import EVM
import Foundation
import Polymarket
import Store

/// What the tests that run the whole service share: the repository, the `copybot` process, and
/// the oracle of which fills it had to decide.
enum ServiceTestSupport {
    /// The repository root (for `Config/` and `abi/`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The shipped exchange registry.
    static func registry() throws -> ExchangeRegistry {
        try ExchangeRegistry.load(
            contractsFile: root.appendingPathComponent("Config/contracts.polygon.yaml").path,
            abiDirectory: root.appendingPathComponent("abi").path)
    }

    /// Fresh CLOB API credentials (the secret URL-safe base64, as the CLOB issues them).
    static func randomCredentials() -> ApiCredentials {
        ApiCredentials(
            apiKey: UUID().uuidString.lowercased(),
            secret: Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"),
            passphrase: UUID().uuidString)
    }

    /// The built `copybot` executable.
    static var executable: URL { Bundle.main.bundleURL.appendingPathComponent("copybot") }

    /// Starts `copybot run` with the shipped configuration, `environment` on top of the test's own
    /// (without its `COPYBOT_*`), output appended to `log`.
    static func startCopybot(
        _ environment: [String: String], log: URL, config: String? = nil, arguments: [String] = []
    ) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments =
            ["run", "--config", config ?? root.appendingPathComponent("Config/copybot.yaml").path] + arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COPYBOT_") }
            .merging(environment) { $1 }
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// A devnet on free ports that mines `blocks` blocks `every` apart from `seed`, `share` of its
    /// fills by the `following` wallets.
    static func devnet(
        blocks: Int, every interval: Duration, seed: UInt64, following wallets: [Address], share: Double
    ) -> Devnet.Configuration {
        var configuration = Devnet.Configuration()
        configuration.webSocketPort = 0
        configuration.httpPort = 0
        configuration.blockInterval = interval
        configuration.maximumBlocks = blocks
        configuration.chain.seed = seed
        configuration.chain.followedWallets = wallets
        configuration.chain.followedProbability = share
        return configuration
    }

    /// A deep book at every cent (a million shares a level, both sides) for every token the
    /// devnet trades, for a stand-in that matches copies in full.
    static func deepBooks(_ devnet: Devnet) -> [ClobStandIn.Market] {
        func level(_ cents: Int) -> BookLevel {
            BookLevel(
                price: ExactDecimal("0.\(String(format: "%02d", cents))")!, size: ExactDecimal(1_000_000))
        }
        return devnet.chain.tradedTokens.map { token in
            ClobStandIn.Market(
                tokenID: token.tokenId, bids: (1...99).map(level), asks: (1...99).reversed().map(level),
                tickSize: token.tickMicros == 1_000 ? .thousandth : .hundredth, negRisk: token.negRisk)
        }
    }

    /// Waits (until `deadline`) for every trade the store has delivered to have a decision; returns
    /// those still without one.
    static func undecided(
        _ store: @Sendable () throws -> any ChainStateStore & CopyStateReader,
        until deadline: ContinuousClock.Instant
    ) async throws -> Set<LogIdentity> {
        var undecided = Set<LogIdentity>()
        while ContinuousClock.now < deadline {
            let store = try store()
            let delivered = try await store.liveIdentities(stream: "polygon", aboveBlock: 0)
            undecided = Set(delivered.keys).subtracting(try await decided(store))
            if undecided.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return undecided
    }

    /// The last `lines` lines of a service's log, for a failed expectation's message.
    static func tail(of log: URL, lines: Int = 40) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(
            separator: "\n")
    }

    /// A process handed to the thread that waits for it.
    private struct Waited: @unchecked Sendable {
        let process: Process
    }

    /// Runs `body` on a thread of its own. Waiting for a process blocks its thread, and a blocked
    /// thread of Swift concurrency's pool (two on a 2-vCPU machine) stalls every other test.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Waits until `process` exits (off the pool, see ``offThePool(_:)``).
    static func exit(of process: Process) async {
        let waited = Waited(process: process)
        _ = try? await offThePool { waited.process.waitUntilExit() }
    }

    /// Sends SIGTERM and waits: whether `copybot` stopped cleanly (exit 0).
    static func terminate(_ process: Process) async -> Bool {
        kill(process.processIdentifier, SIGTERM)
        await exit(of: process)
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// ``terminate(_:)`` where nothing can be awaited (a `defer`): blocks its thread.
    static func terminateNow(_ process: Process) -> Bool {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// The environment of a paper `copybot run` against `devnet` from `startBlock` with its state
    /// in `store` (a `store.url`), and no CLOB (a closed port: paper fills are priced from the
    /// target's trades); the reorg window wider than any run, so the store keeps every identity it
    /// delivered and a test can count them.
    static func paperEnvironment(devnet: Devnet, store: String, startBlock: UInt64) -> [String: String] {
        [
            "COPYBOT_CHAIN_WS_URLS": devnet.webSocketURL, "COPYBOT_CHAIN_HTTP_URLS": devnet.httpURL,
            "COPYBOT_STORE_URL": store, "COPYBOT_CHAIN_START_BLOCK": "\(startBlock)",
            "COPYBOT_CHAIN_STALE_AFTER": "1", "COPYBOT_HTTP_LISTEN": "", "COPYBOT_LOG_LEVEL": "notice",
            "COPYBOT_CLOB_URL": "http://127.0.0.1:9", "COPYBOT_CHAIN_REORG_WINDOW": "10000",
        ]
    }

    /// Runs a `copybot` command (`arguments`, then `--config`) to its end; its exit status, its
    /// output (standard output, then standard error) and its standard output alone.
    static func runCopybot(
        _ arguments: [String], environment: [String: String], config: String? = nil
    ) async throws -> (status: Int32, output: String, standardOutput: String) {
        try await offThePool { try runCopybotBlocking(arguments, environment: environment, config: config) }
    }

    /// ``runCopybot(_:environment:config:)`` on the calling thread.
    private static func runCopybotBlocking(
        _ arguments: [String], environment: [String: String], config: String?
    ) throws -> (status: Int32, output: String, standardOutput: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments =
            arguments + ["--config", config ?? root.appendingPathComponent("Config/copybot.yaml").path]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COPYBOT_") }
            .merging(environment) { $1 }
        let pipe = Pipe()
        // Standard error to a file: two pipes read one after the other could fill up and stall.
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("copybot-err-\(UUID())")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardOutput = pipe
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let standardError = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output + standardError, output)
    }

    /// The canonical fills of `wallets` in `from...to`, as the listener identifies them.
    static func canonicalFills(
        _ devnet: Devnet, registry: ExchangeRegistry, wallets: [Address], from: UInt64, to: UInt64
    ) throws -> Set<LogIdentity> {
        let filter = DevNode.LogFilter(
            range: .blocks(from: .number(from), to: .number(to)),
            addresses: registry.contracts.map(\.address),
            topics: [registry.fillTopics, nil, wallets.map(\.word)])
        var identities = Set<LogIdentity>()
        for (_, logs) in Dictionary(grouping: try devnet.chain.logs(filter: filter), by: \.transactionHash) {
            identities.formUnion(LogIdentity.identify(logs.sorted { $0.logIndex < $1.logIndex }))
        }
        return identities
    }

    /// The trades the store has a decision for, of `account`.
    static func decided(
        _ store: any CopyStateReader, account: AccountID = .default
    ) async throws -> Set<LogIdentity> {
        Set(
            try await store.decisionEntries(account: account, limit: nil, afterRowID: nil).map {
                LogIdentity(hash: $0.record.key.identity.bytes)
            })
    }
}
