import Chain
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

    /// Runs a `copybot` command (`arguments`, then `--config`) to its end; its exit status and
    /// output (standard output and error together).
    static func runCopybot(
        _ arguments: [String], environment: [String: String], config: String? = nil
    ) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments =
            arguments + ["--config", config ?? root.appendingPathComponent("Config/copybot.yaml").path]
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COPYBOT_") }
            .merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
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
    static func decided(_ store: SQLiteStore, account: AccountID = .default) async throws -> Set<LogIdentity>
    {
        Set(
            try await store.decisionEntries(account: account, limit: nil, afterRowID: nil).map {
                LogIdentity(hash: $0.record.key.identity.bytes)
            })
    }
}
