import CopyBot
import EVM
import Foundation
import Polymarket
import Testing
import Yams

/// A scratch directory with a config file in it; removed by the caller.
private struct Scratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` with `mode`, returning the path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("Configuration")
struct ConfigurationTests {
    static let root = ServiceTestSupport.root
    static let example = root.appendingPathComponent("Config/copybot.yaml").path

    /// The contracts paths as absolute overrides, so tests do not depend on the working directory.
    static let baseEnvironment: [String: String] = [
        "COPYBOT_CONTRACTS_FILE": root.appendingPathComponent("Config/contracts.polygon.yaml").path,
        "COPYBOT_CONTRACTS_ABI_DIR": root.appendingPathComponent("abi").path,
    ]

    /// A well-known throwaway key (never funded).
    static let keyHex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    static let keyAddress = try! PrivateKey(hex: keyHex).address
    static let apiSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
    static let apiPassphrase = "pass-phrase-7f3a9c1e"

    static let walletA = "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E"
    static let walletB = "0xC5d563A36AE78145C45a50134d48A1215220f80a"

    static func check(
        _ yaml: String, environment: [String: String] = [:], merge: Bool = true
    ) throws -> ConfigurationReport {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.write("copybot.yaml", yaml)
        let env = merge ? baseEnvironment.merging(environment) { $1 } : environment
        return CopyBotConfiguration.check(path: path, environment: env)
    }

    // MARK: - The shipped example

    @Test func shippedExampleLoadsCleanWithTheEmbeddedDefaults() throws {
        let report = CopyBotConfiguration.check(path: Self.example, environment: Self.baseEnvironment)
        #expect(report.errors == [], "\(report.errors)")
        #expect(report.warnings.map(\.keyPath) == ["follow.wallets"])
        #expect(report.warnings.first?.message.contains("copy nothing") == true)
        let loaded = report.configuration
        let defaults = CopyBotConfiguration()
        #expect(loaded.chain == defaults.chain)
        #expect(loaded.store == defaults.store)
        #expect(loaded.follow == defaults.follow)
        #expect(loaded.copy == defaults.copy)
        #expect(loaded.clob == defaults.clob)
        #expect(loaded.secrets == defaults.secrets)
        #expect(loaded.http == defaults.http)
        #expect(loaded.log == defaults.log)
        #expect(loaded.chain.wsURLs == ["ws://127.0.0.1:8546"])
        #expect(loaded.chain.httpURLs == ["http://127.0.0.1:8545"])
        #expect(loaded.copy.mode == .paper)
        #expect(loaded.store.location == .sqlite(path: "data/copybot.sqlite"))
        // `load` returns the same configuration (warnings do not stop the service).
        let viaLoad = try CopyBotConfiguration.load(path: Self.example, environment: Self.baseEnvironment)
        #expect(viaLoad.copy == loaded.copy)
    }

    @Test func shippedExampleAndDocsListExactlyTheSchemaKeys() throws {
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
        let node = try #require(try Yams.compose(yaml: text))
        var paths = Set<String>()
        func walk(_ node: Node, _ prefix: String) {
            guard case .mapping(let mapping) = node else {
                paths.insert(prefix)
                return
            }
            for (key, value) in mapping {
                let name = key.string ?? "?"
                walk(value, prefix.isEmpty ? name : "\(prefix).\(name)")
            }
        }
        walk(node, "")
        #expect(paths == Set(ConfigSchema.keys.map(\.path)))

        let docs = try String(
            contentsOfFile: Self.root.appendingPathComponent("docs/configuration.md").path, encoding: .utf8)
        for key in ConfigSchema.keys {
            #expect(docs.contains("`\(key.path)`"), "docs/configuration.md lacks \(key.path)")
            #expect(
                docs.contains(key.environmentVariable),
                "docs/configuration.md lacks \(key.environmentVariable)")
        }
        for variable in ConfigSchema.secretVariables {
            #expect(docs.contains(variable))
        }
    }

    @Test func theEnvironmentNameOfAKeyPath() {
        #expect(ConfigSchema.environmentVariable(for: "chain.ws_urls") == "COPYBOT_CHAIN_WS_URLS")
        #expect(
            ConfigSchema.environmentVariable(for: "copy.risk.max_position_usdc_per_token")
                == "COPYBOT_COPY_RISK_MAX_POSITION_USDC_PER_TOKEN")
    }

    // MARK: - Environment overrides

    @Test func environmentOverridesScalarsListsAndWallets() throws {
        let yaml = """
            chain:
              reorg_window: 64
              ws_urls: [ws://127.0.0.1:1]
            follow:
              wallets:
                - address: "\(Self.walletA)"
            copy:
              risk:
                deny_tokens: ["1"]
            """
        let report = try Self.check(
            yaml,
            environment: [
                "COPYBOT_CHAIN_REORG_WINDOW": "200",
                "COPYBOT_CHAIN_WS_URLS": "wss://a.example/ws/KEY1, wss://b.example/ws",
                "COPYBOT_CHAIN_HTTP_URLS": "https://a.example/rpc",
                "COPYBOT_CHAIN_START_BLOCK": "33605403",
                "COPYBOT_COPY_MODE": "paper",
                "COPYBOT_COPY_SIZING_MODE": "fraction_of_trade",
                "COPYBOT_COPY_SIZING_VALUE": "0.25",
                "COPYBOT_COPY_RISK_DENY_TOKENS": "5,6",
                "COPYBOT_FOLLOW_WALLETS": "whale=\(Self.walletB),\(Self.walletA.lowercased())",
                "COPYBOT_LOG_FORMAT": "json",
                "COPYBOT_HTTP_LISTEN": "",
                "COPYBOT_CLOB_SIGNATURE_TYPE": "poly_gnosis_safe",
                "COPYBOT_CLOB_FUNDER": Self.walletB.lowercased().replacingOccurrences(
                    of: "c5d5", with: "c5d6"),
            ])
        #expect(report.errors == [], "\(report.errors)")
        let c = report.configuration
        #expect(c.chain.reorgWindow == 200)
        #expect(c.chain.wsURLs == ["wss://a.example/ws/KEY1", "wss://b.example/ws"])
        #expect(c.chain.httpURLs == ["https://a.example/rpc"])
        #expect(c.chain.startBlock == .block(33_605_403))
        #expect(c.copy.sizing == .init(mode: .fractionOfTrade, value: Decimal(string: "0.25")!))
        #expect(c.copy.risk.denyTokens == [UInt256(5), UInt256(6)])
        #expect(c.follow.wallets.map(\.address) == [try Address(Self.walletB), try Address(Self.walletA)])
        #expect(c.follow.wallets.map(\.name) == ["whale", nil])
        #expect(c.log.format == .json)
        #expect(c.http.listen == nil)
        #expect(c.clob.signatureType == .polyGnosisSafe)
        #expect(c.clob.funder != nil)
        // The summary shows endpoints without their paths (API keys live there).
        #expect(!c.summary.contains("KEY1"))
        #expect(c.summary.contains("wss://a.example/…"))
    }

    @Test func theFileIsUsedWhereTheEnvironmentIsSilent() throws {
        let report = try Self.check("chain:\n  reorg_window: 64\n  stale_after: 1.5\n", environment: [:])
        #expect(report.configuration.chain.reorgWindow == 64)
        #expect(report.configuration.chain.staleAfter == .milliseconds(1_500))
        #expect(report.configuration.chain.verifyEvery == 4)
    }

    @Test func unknownEnvironmentVariablesAreWarnedAboutWithTheClosestName() throws {
        let report = try Self.check("", environment: ["COPYBOT_CHAIN_REORG_WINDW": "3"])
        let issue = try #require(report.issues.first { $0.keyPath == "COPYBOT_CHAIN_REORG_WINDW" })
        #expect(issue.severity == .warning)
        #expect(issue.fix.contains("COPYBOT_CHAIN_REORG_WINDOW"))
    }

    // MARK: - Broken configurations

    struct Broken: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var environment: [String: String] = [:]
        var keyPath: String
        var message: String
        var fix: String? = nil

        var testDescription: String { name }
    }

    static let broken: [Broken] = [
        .init(
            name: "typo in a key", yaml: "chain:\n  reorg_windw: 12\n", keyPath: "chain.reorg_windw",
            message: "unknown key", fix: "did you mean chain.reorg_window?"),
        .init(
            name: "typo in a section", yaml: "cop:\n  mode: paper\n", keyPath: "cop", message: "unknown key",
            fix: "did you mean copy?"),
        .init(
            name: "not a number", yaml: "chain:\n  reorg_window: 12abc\n", keyPath: "chain.reorg_window",
            message: "`12abc` is not a whole number"),
        .init(
            name: "reorg window 0", yaml: "chain:\n  reorg_window: 0\n", keyPath: "chain.reorg_window",
            message: "0 is out of range 1…100000"),
        .init(
            name: "verify_every beyond the reorg window",
            yaml: "chain:\n  reorg_window: 16\n  verify_every: 32\n", keyPath: "chain.verify_every",
            message: "32 is larger than chain.reorg_window (16)"),
        .init(
            name: "insecure remote WebSocket", yaml: "chain:\n  ws_urls: [ws://polygon.example.com/ws]\n",
            keyPath: "chain.ws_urls[0]", message: "ws:// is unencrypted and only allowed for a loopback host",
            fix: "use wss://"),
        .init(
            name: "http scheme for a WebSocket", yaml: "chain:\n  ws_urls: [https://polygon.example.com]\n",
            keyPath: "chain.ws_urls[0]", message: "the scheme must be wss or ws, not https"),
        .init(
            name: "insecure remote RPC", yaml: "chain:\n  http_urls: [\"http://10.0.0.5:8545\"]\n",
            keyPath: "chain.http_urls[0]", message: "http:// is unencrypted"),
        .init(
            name: "no WebSocket endpoint", yaml: "chain:\n  ws_urls: []\n", keyPath: "chain.ws_urls",
            message: "no WebSocket endpoint configured"),
        .init(
            name: "bad start block", yaml: "chain:\n  start_block: earliest\n", keyPath: "chain.start_block",
            message: "neither `latest` nor a block number"),
        .init(
            name: "get_logs range above its maximum",
            yaml: "chain:\n  get_logs_range: 5000\n  get_logs_max_range: 1000\n",
            keyPath: "chain.get_logs_range",
            message: "5000 is larger than chain.get_logs_max_range (1000)"),
        .init(
            name: "chain id differs from the contracts file",
            yaml: "chain:\n  chain_id: 80002\nclob:\n  chain_id: 80002\n",
            keyPath: "chain.chain_id", message: "differs from the chain of"),
        .init(
            name: "clob chain id differs", yaml: "clob:\n  chain_id: 1\n", keyPath: "clob.chain_id",
            message: "1 differs from chain.chain_id (137)"),
        .init(
            name: "bad checksum",
            yaml: "follow:\n  wallets:\n    - address: \"0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982e\"\n",
            keyPath: "follow.wallets[0].address", message: "invalid EIP-55 checksum"),
        .init(
            name: "short address", yaml: "follow:\n  wallets:\n    - address: \"0x1234\"\n",
            keyPath: "follow.wallets[0].address", message: "invalid address"),
        .init(
            name: "duplicate wallet",
            yaml:
                "follow:\n  wallets:\n    - address: \"\(walletA)\"\n    - name: again\n      address: \"\(walletA.lowercased())\"\n",
            keyPath: "follow.wallets[1].address", message: "is already followed as follow.wallets[0]"),
        .init(
            name: "wallet entry without address", yaml: "follow:\n  wallets:\n    - name: whale\n",
            keyPath: "follow.wallets[0].address", message: "needs an address"),
        .init(
            name: "abbreviated wallet key", yaml: "follow:\n  wallets:\n    - addr: \"\(walletA)\"\n",
            keyPath: "follow.wallets[0].addr", message: "unknown key",
            fix: "did you mean follow.wallets[0].address?"),
        .init(
            name: "per-wallet sizing out of range",
            yaml:
                "follow:\n  wallets:\n    - address: \"\(walletA)\"\n      sizing: {mode: fraction_of_trade, value: 2}\n",
            keyPath: "follow.wallets[0].sizing.value", message: "2 is not a fraction in (0, 1]"),
        .init(
            name: "mode typo", yaml: "copy:\n  mode: livee\n", keyPath: "copy.mode",
            message: "`livee` is not one of paper, live", fix: "did you mean live?"),
        .init(
            name: "sizing mode typo", yaml: "copy:\n  sizing:\n    mode: fixed\n",
            keyPath: "copy.sizing.mode",
            message: "`fixed` is not one of fixed_usdc"),
        .init(
            name: "min order above max order",
            yaml:
                "copy:\n  risk:\n    min_order_usdc: 60\n    max_order_usdc: 50\n  sizing: {mode: fixed_usdc, value: 70}\n",
            keyPath: "copy.risk.min_order_usdc",
            message: "60 USDC is more than copy.risk.max_order_usdc (50 USDC)"),
        .init(
            name: "max order above the per-token limit",
            yaml: "copy:\n  risk:\n    max_order_usdc: 50\n    max_position_usdc_per_token: 20\n",
            keyPath: "copy.risk.max_order_usdc",
            message: "50 USDC is more than copy.risk.max_position_usdc_per_token (20 USDC)"),
        .init(
            name: "per-token limit above per-market limit",
            yaml:
                "copy:\n  risk:\n    max_position_usdc_per_token: 500\n    max_position_usdc_per_market: 300\n",
            keyPath: "copy.risk.max_position_usdc_per_token",
            message: "500 USDC is more than copy.risk.max_position_usdc_per_market (300 USDC)"),
        .init(
            name: "per-market limit above total exposure",
            yaml: "copy:\n  risk:\n    max_total_exposure_usdc: 100\n",
            keyPath: "copy.risk.max_position_usdc_per_market",
            message: "400 USDC is more than copy.risk.max_total_exposure_usdc (100 USDC)"),
        .init(
            name: "fixed size below the minimum order",
            yaml: "copy:\n  sizing: {mode: fixed_usdc, value: 0.5}\n",
            keyPath: "copy.sizing.value", message: "every copy would be skipped"),
        .init(
            name: "negative loss limit", yaml: "copy:\n  risk:\n    daily_loss_limit_usdc: -5\n",
            keyPath: "copy.risk.daily_loss_limit_usdc", message: "must be more than 0"),
        .init(
            name: "unwinding asked for", yaml: "copy:\n  unwind_on_retract: true\n",
            keyPath: "copy.unwind_on_retract", message: "not available in this version"),
        .init(
            name: "price deviation of 100%", yaml: "copy:\n  risk:\n    max_price_deviation: 1\n",
            keyPath: "copy.risk.max_price_deviation",
            message: "not a fraction of the target's price in (0, 1)"),
        .init(
            name: "token both allowed and denied",
            yaml: "copy:\n  risk:\n    allow_tokens: [\"77\"]\n    deny_tokens: [\"12\", \"77\"]\n",
            keyPath: "copy.risk.deny_tokens[1]", message: "77 is in copy.risk.allow_tokens too"),
        .init(
            name: "malformed market id", yaml: "copy:\n  risk:\n    deny_markets: [\"0x1234\"]\n",
            keyPath: "copy.risk.deny_markets[0]", message: "is not a condition id"),
        .init(
            name: "executors 0", yaml: "copy:\n  executors: 0\n", keyPath: "copy.executors",
            message: "0 is out of range 1…64"),
        .init(
            name: "breaker error rate above 1", yaml: "copy:\n  breaker:\n    error_rate: 1.5\n",
            keyPath: "copy.breaker.error_rate", message: "1.5 is not a fraction in (0, 1]"),
        .init(
            name: "not a boolean", yaml: "copy:\n  unwind_on_retract: maybe\n",
            keyPath: "copy.unwind_on_retract",
            message: "`maybe` is not true or false"),
        .init(
            name: "signature type typo", yaml: "clob:\n  signature_type: POLY_PROXI\n",
            keyPath: "clob.signature_type", message: "is not one of EOA, POLY_PROXY",
            fix: "did you mean POLY_PROXY?"),
        .init(
            name: "proxy without funder", yaml: "clob:\n  signature_type: POLY_PROXY\n",
            keyPath: "clob.funder",
            message: "signature type POLY_PROXY needs a funder"),
        .init(
            name: "EOA funder that is not the key's address",
            yaml: "clob:\n  signature_type: EOA\n  funder: \"\(walletA)\"\n",
            environment: ["COPYBOT_PRIVATE_KEY": keyHex], keyPath: "clob.funder",
            message: "is not the signing key's address"),
        .init(
            name: "Safe whose funder is the key itself", yaml: "clob:\n  signature_type: POLY_GNOSIS_SAFE\n",
            environment: ["COPYBOT_PRIVATE_KEY": keyHex, "COPYBOT_CLOB_FUNDER": keyAddress.checksummed],
            keyPath: "clob.funder", message: "is the signing key's own address"),
        .init(
            name: "insecure remote CLOB", yaml: "clob:\n  url: http://clob.example.com\n",
            keyPath: "clob.url",
            message: "http:// is unencrypted"),
        .init(
            name: "live mode without a key", yaml: "copy:\n  mode: live\n", keyPath: "copy.mode",
            message: "live mode needs a signing key"),
        .init(
            name: "unknown store", yaml: "store:\n  url: mysql://db/copybot\n", keyPath: "store.url",
            message: "must start with sqlite: or postgres://"),
        .init(
            name: "PostgreSQL URL without a user", yaml: "store:\n  url: postgres://db.example/copybot\n",
            keyPath: "store.url", message: "has no user name"),
        .init(
            name: "PostgreSQL URL with an unknown sslmode", yaml: "",
            environment: [
                "COPYBOT_STORE_URL": "postgresql://copybot:s3cret@db.example/copybot?sslmode=always"
            ],
            keyPath: "store.url", message: "sslmode=always is not one of disable, prefer, require"),
        .init(
            name: "contracts file missing", yaml: "",
            environment: ["COPYBOT_CONTRACTS_FILE": "/nonexistent/contracts.yaml"],
            keyPath: "contracts.file", message: "/nonexistent/contracts.yaml does not exist"),
        .init(
            name: "ABI directory missing", yaml: "",
            environment: ["COPYBOT_CONTRACTS_ABI_DIR": "/nonexistent/abi"],
            keyPath: "contracts.abi_dir", message: "is not a directory"),
        .init(
            name: "bad listen address", yaml: "http:\n  listen: localhost\n", keyPath: "http.listen",
            message: "`localhost` is not host:port"),
        .init(
            name: "log level typo", yaml: "log:\n  level: verbose\n", keyPath: "log.level",
            message: "`verbose` is not one of trace"),
        .init(
            name: "list where a value belongs", yaml: "chain:\n  chain_id: [137]\n",
            keyPath: "chain.chain_id",
            message: "expects a single value, found a list"),
        .init(
            name: "value where a section belongs", yaml: "copy: live\n", keyPath: "copy",
            message: "must be a mapping of keys"),
        .init(
            name: "broken YAML", yaml: "chain:\n  ws_urls: [ws://a\n  reorg_window: 1\n",
            keyPath: "copybot.yaml",
            message: "not valid YAML"),
        .init(
            name: "bad environment override", yaml: "", environment: ["COPYBOT_CHAIN_REORG_WINDOW": "many"],
            keyPath: "chain.reorg_window", message: "(from COPYBOT_CHAIN_REORG_WINDOW)"),
    ]

    @Test(arguments: broken)
    func brokenConfigurationsNameTheKeyAndTheProblem(_ case_: Broken) throws {
        let report = try Self.check(case_.yaml, environment: case_.environment)
        #expect(!report.isValid, "\(case_.name): expected an error")
        let matching = report.errors.filter {
            ($0.keyPath == case_.keyPath || $0.keyPath.hasSuffix("/" + case_.keyPath))
                && $0.message.contains(case_.message)
        }
        #expect(
            !matching.isEmpty,
            "\(case_.name): no error at \(case_.keyPath) containing “\(case_.message)”; got:\n\(report.errors.map(\.description).joined(separator: "\n"))"
        )
        if let fix = case_.fix {
            #expect(
                matching.contains { $0.fix.contains(fix) }, "\(case_.name): fix lacks “\(fix)”: \(matching)")
        }
        #expect(report.errors.allSatisfy { !$0.fix.isEmpty })
        // The service refuses to start.
        #expect(throws: ConfigurationError.self) {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let path = try scratch.write("copybot.yaml", case_.yaml)
            _ = try CopyBotConfiguration.load(
                path: path, environment: Self.baseEnvironment.merging(case_.environment) { $1 })
        }
    }

    @Test func aMissingFileIsAnError() {
        let report = CopyBotConfiguration.check(
            path: "/nonexistent/copybot.yaml", environment: Self.baseEnvironment)
        #expect(report.errors.first?.keyPath == "/nonexistent/copybot.yaml")
        #expect(report.errors.first?.message.contains("does not exist") == true)
    }

    @Test func everyIssueIsCollectedAtOnce() throws {
        let yaml = """
            chain:
              reorg_windw: 12
              ws_urls: [ws://remote.example.com]
            follow:
              wallets:
                - address: "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982e"
            copy:
              mode: livee
              executors: 0
              risk:
                min_order_usdc: 100
            clob:
              signature_type: POLY_PROXY
            """
        let report = try Self.check(yaml)
        let paths = Set(report.errors.map(\.keyPath))
        for expected in [
            "chain.reorg_windw", "chain.ws_urls[0]", "follow.wallets[0].address", "copy.mode",
            "copy.executors",
            "copy.risk.min_order_usdc", "clob.funder",
        ] {
            #expect(paths.contains(expected), "missing \(expected) in \(paths.sorted())")
        }
        #expect(report.errors.count >= 7)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.write("c.yaml", yaml)
        let error = #expect(throws: ConfigurationError.self) {
            _ = try CopyBotConfiguration.load(path: path, environment: Self.baseEnvironment)
        }
        #expect(error?.errors.count == report.errors.count)
        #expect(error?.description.contains("chain.reorg_windw: unknown key") == true)
    }

    // MARK: - Secrets

    @Test(arguments: [
        ("private_key", "copy.private_key"), ("api_secret", "clob.api_secret"),
        ("passphrase", "clob.passphrase"),
        ("mnemonic", "mnemonic"), ("privateKey", "secrets.privateKey"),
    ])
    func aSecretInTheFileIsRejectedWithoutEchoingIt(_ name: String, _ keyPath: String) throws {
        let value = "0x" + Self.keyHex
        let components = keyPath.split(separator: ".").map(String.init)
        var yaml = ""
        for (depth, component) in components.enumerated() {
            let indent = String(repeating: "  ", count: depth)
            yaml +=
                depth == components.count - 1
                ? "\(indent)\(component): \"\(value)\"\n" : "\(indent)\(component):\n"
        }
        let report = try Self.check(yaml)
        let issue = try #require(report.errors.first { $0.keyPath == keyPath })
        #expect(issue.message.contains("a secret must not be in the configuration file"))
        #expect(issue.fix.contains("environment") && issue.fix.contains("owner-only file"))
        let output = ConfigCheckCommand.render(report).output
        #expect(!output.contains(Self.keyHex))
        #expect(!ConfigurationError(path: "x", issues: report.issues).description.contains(Self.keyHex))
    }

    @Test func aKeyPastedAsTheKeyFilePathIsNotEchoed() throws {
        let report = try Self.check("secrets:\n  private_key_file: \"0x\(Self.keyHex)\"\n")
        let issue = try #require(report.errors.first { $0.keyPath == "secrets.private_key_file" })
        #expect(issue.message.contains("looks like a private key"))
        #expect(!ConfigCheckCommand.render(report).output.contains(Self.keyHex))
    }

    @Test func aPostgreSQLStoreIsAcceptedWithItsPasswordFromTheEnvironment() throws {
        for url in [
            "postgres://copybot:hunter2-secret@db.example:5432/copybot",
            "postgresql://copybot:hunter2-secret@10.0.0.7/copybot?sslmode=require",
        ] {
            let report = try Self.check("", environment: ["COPYBOT_STORE_URL": url])
            #expect(report.errors.isEmpty, "\(url): \(report.errors)")
            let configuration = try CopyBotConfiguration.load(
                path: Self.example,
                environment: Self.baseEnvironment.merging(["COPYBOT_STORE_URL": url]) { $1 })
            #expect(configuration.store.location == .postgres(url: url))
            #expect(!configuration.summary.contains("hunter2-secret"))
            #expect(!ConfigCheckCommand.render(report).output.contains("hunter2-secret"))
        }
        // Without a password in the file (the user's password then comes from elsewhere).
        #expect(try Self.check("store:\n  url: postgres://copybot@db.example/copybot\n").errors.isEmpty)
    }

    @Test func aPasswordInTheStoreURLIsRejectedWithoutEchoingIt() throws {
        let report = try Self.check("store:\n  url: postgres://copybot:hunter2-secret@db.example/copybot\n")
        #expect(
            report.errors.contains { $0.keyPath == "store.url" && $0.message.contains("holds a password") })
        #expect(!ConfigCheckCommand.render(report).output.contains("hunter2-secret"))
    }

    @Test func keyFilesMustBeOwnerOnly() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let open = try scratch.write("open.key", Self.keyHex + "\n", mode: 0o644)
        let report = try Self.check("secrets:\n  private_key_file: \(open)\n")
        let issue = try #require(report.errors.first { $0.keyPath == "secrets.private_key_file" })
        #expect(issue.message.contains(open))
        #expect(issue.message.contains("mode 0644"))
        #expect(issue.fix == "chmod 600 \(open)")
        #expect(report.configuration.credentials.privateKey == nil)

        let groupReadable = try scratch.write("group.key", Self.keyHex, mode: 0o640)
        let viaEnv = try Self.check("", environment: ["COPYBOT_PRIVATE_KEY_FILE": groupReadable])
        #expect(
            viaEnv.errors.contains {
                $0.keyPath == "COPYBOT_PRIVATE_KEY_FILE" && $0.message.contains("mode 0640")
            })

        let closed = try scratch.write("closed.key", "0x" + Self.keyHex + "\n", mode: 0o600)
        let good = try Self.check("secrets:\n  private_key_file: \(closed)\n")
        #expect(good.errors == [], "\(good.errors)")
        #expect(good.configuration.credentials.privateKey?.address == Self.keyAddress)
        #expect(good.configuration.credentials.privateKeySource == closed)

        let readOnly = try scratch.write("ro.key", Self.keyHex, mode: 0o400)
        #expect(try Self.check("", environment: ["COPYBOT_PRIVATE_KEY_FILE": readOnly]).errors == [])

        let directory = scratch.directory.appendingPathComponent("dir.key").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        let notFile = try Self.check("", environment: ["COPYBOT_PRIVATE_KEY_FILE": directory])
        #expect(notFile.errors.contains { $0.message.contains("not a regular file") })

        let missing = try Self.check("", environment: ["COPYBOT_PRIVATE_KEY_FILE": directory + "/none"])
        #expect(missing.errors.contains { $0.message.contains("does not exist") })

        let garbage = try scratch.write("garbage.key", "not a key at all", mode: 0o600)
        let bad = try Self.check("", environment: ["COPYBOT_PRIVATE_KEY_FILE": garbage])
        #expect(bad.errors.contains { $0.message.contains("does not hold a valid private key") })
        #expect(!ConfigCheckCommand.render(bad).output.contains("not a key at all"))

        let both = try Self.check(
            "", environment: ["COPYBOT_PRIVATE_KEY_FILE": closed, "COPYBOT_PRIVATE_KEY": Self.keyHex])
        #expect(
            both.errors.contains {
                $0.keyPath == "COPYBOT_PRIVATE_KEY" && $0.message.contains("also configured")
            })
    }

    @Test func apiCredentialFilesMustBeOwnerOnlyAndComplete() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let lines = """
            COPYBOT_CLOB_API_KEY=1d3f8a6c-0000-4000-8000-000000000001
            COPYBOT_CLOB_API_SECRET=\(Self.apiSecret)
            COPYBOT_CLOB_API_PASSPHRASE=\(Self.apiPassphrase)

            """
        let open = try scratch.write("open.env", lines, mode: 0o604)
        let rejected = try Self.check("secrets:\n  api_credentials_file: \(open)\n")
        #expect(
            rejected.errors.contains {
                $0.keyPath == "secrets.api_credentials_file" && $0.message.contains("mode 0604")
                    && $0.fix == "chmod 600 \(open)"
            })

        let closed = try scratch.write("closed.env", lines, mode: 0o600)
        let good = try Self.check("secrets:\n  api_credentials_file: \(closed)\n")
        #expect(good.errors == [])
        #expect(good.configuration.credentials.api?.secret == Self.apiSecret)
        #expect(good.configuration.credentials.api?.passphrase == Self.apiPassphrase)

        let json = try scratch.write(
            "creds.json",
            #"{"apiKey": "k", "secret": "\#(Self.apiSecret)", "passphrase": "\#(Self.apiPassphrase)"}"#)
        #expect(
            try Self.check("secrets:\n  api_credentials_file: \(json)\n").configuration.credentials.api?
                .apiKey == "k")

        let partial = try scratch.write("partial.env", "COPYBOT_CLOB_API_SECRET=\(Self.apiSecret)\n")
        let incomplete = try Self.check("secrets:\n  api_credentials_file: \(partial)\n")
        #expect(incomplete.errors.contains { $0.message.contains("missing the API key, passphrase") })
        #expect(!ConfigCheckCommand.render(incomplete).output.contains(Self.apiSecret))

        let halfEnv = try Self.check("", environment: ["COPYBOT_CLOB_API_SECRET": Self.apiSecret])
        #expect(
            halfEnv.errors.contains { $0.keyPath == "COPYBOT_CLOB_API_KEY" && $0.message.contains("missing") }
        )
        #expect(!ConfigCheckCommand.render(halfEnv).output.contains(Self.apiSecret))
    }

    @Test func secretsNeverAppearInDescriptionsErrorsOrReports() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let env = [
            "COPYBOT_PRIVATE_KEY": Self.keyHex, "COPYBOT_CLOB_API_KEY": "api-key-id",
            "COPYBOT_CLOB_API_SECRET": Self.apiSecret, "COPYBOT_CLOB_API_PASSPHRASE": Self.apiPassphrase,
            "COPYBOT_COPY_MODE": "live",
        ]
        let valid = try Self.check("", environment: env)
        #expect(valid.errors == [], "\(valid.errors)")
        let configuration = valid.configuration
        #expect(configuration.credentials.privateKey?.address == Self.keyAddress)
        // An invalid one too: errors must not carry the secrets either.
        let invalid = try Self.check(
            "copy:\n  executors: 0\nclob:\n  funder: \"\(Self.walletA)\"\n", environment: env)
        #expect(!invalid.isValid)

        var texts: [String] = [
            String(describing: configuration), String(reflecting: configuration), configuration.summary,
            String(describing: configuration.credentials), String(reflecting: configuration.credentials),
            ConfigCheckCommand.render(valid).output, ConfigCheckCommand.render(invalid).output,
            String(describing: ConfigurationError(path: "p", issues: invalid.issues)),
        ]
        var dumped = ""
        dump(configuration, to: &dumped)
        texts.append(dumped)
        var dumpedReport = ""
        dump(invalid, to: &dumpedReport)
        texts.append(dumpedReport)
        for text in texts {
            #expect(!text.lowercased().contains(Self.keyHex))
            #expect(!text.contains(Self.apiSecret))
            #expect(!text.contains(Self.apiPassphrase))
        }
        #expect(configuration.summary.contains(Self.keyAddress.checksummed))
    }

    @Test func liveModeWithAKeyAndCredentialsIsValidAndMatchesTheFunder() throws {
        let env = [
            "COPYBOT_PRIVATE_KEY": Self.keyHex, "COPYBOT_CLOB_API_KEY": "k",
            "COPYBOT_CLOB_API_SECRET": Self.apiSecret,
            "COPYBOT_CLOB_API_PASSPHRASE": Self.apiPassphrase,
        ]
        let eoa = try Self.check(
            "copy:\n  mode: live\nclob:\n  signature_type: EOA\n  funder: \"\(Self.keyAddress.checksummed)\"\n",
            environment: env)
        #expect(eoa.errors == [], "\(eoa.errors)")
        #expect(eoa.configuration.makerAddress == Self.keyAddress)

        let proxy = try Self.check(
            "copy:\n  mode: live\nclob:\n  signature_type: POLY_PROXY\n  funder: \"\(Self.walletB)\"\n",
            environment: env)
        #expect(proxy.errors == [], "\(proxy.errors)")
        #expect(proxy.configuration.makerAddress == (try Address(Self.walletB)))

        // Following our own maker address would copy our own orders.
        let own = try Self.check(
            "follow:\n  wallets: [\"\(Self.walletB)\"]\nclob:\n  signature_type: POLY_PROXY\n  funder: \"\(Self.walletB)\"\n",
            environment: env)
        #expect(
            own.errors.contains {
                $0.keyPath == "follow.wallets[0].address" && $0.message.contains("our own")
            })
    }

    // MARK: - config check

    @Test func configCheckPrintsIssuesWithFixesAndExitsOneOnError() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.write("c.yaml", "chain:\n  reorg_windw: 1\n")
        let result = ConfigCheckCommand(path: path, environment: Self.baseEnvironment).run()
        #expect(result.exitCode == 1)
        #expect(result.output.contains("chain.reorg_windw: unknown key"))
        #expect(result.output.contains("\n  fix: did you mean chain.reorg_window?"))
        #expect(result.output.contains("1 error, 1 warning; copybot will not start"))
    }

    @Test func configCheckSaysOKWithASummary() throws {
        let yaml = "follow:\n  wallets:\n    - address: \"\(Self.walletA)\"\n      name: whale\n"
        let scratch = try Scratch()
        defer { scratch.remove() }
        let path = try scratch.write("c.yaml", yaml)
        let result = ConfigCheckCommand(path: path, environment: Self.baseEnvironment).run()
        #expect(result.exitCode == 0, "\(result.output)")
        #expect(result.output.hasPrefix("configuration OK"))
        #expect(result.output.contains("mode: paper"))
        #expect(result.output.contains("store: sqlite:data/copybot.sqlite"))
        #expect(result.output.contains("ws ws://127.0.0.1:8546"))
        #expect(result.output.contains("wallets followed: 1 (whale)"))
    }
}
