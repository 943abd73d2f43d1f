import CopyBot
import CopyEngine
import EVM
import Foundation
import Testing

@Suite("Configuration: accounts")
struct AccountsConfigurationTests {
    static let walletA = ConfigurationTests.walletA
    static let walletB = ConfigurationTests.walletB
    static let walletC = "0x1111111111111111111111111111111111111111"

    static func check(_ yaml: String, environment: [String: String] = [:]) throws -> ConfigurationReport {
        try ConfigurationTests.check(yaml, environment: environment)
    }

    @Test func withoutAccountsTheTopLevelIsTheDefaultAccount() throws {
        let report = try Self.check("follow:\n  wallets: [\"\(Self.walletA)\"]\n")
        #expect(report.errors == [], "\(report.errors)")
        let accounts = report.configuration.effectiveAccounts
        #expect(accounts.map(\.name) == [.default])
        #expect(accounts[0].configuration.follow.wallets.map(\.address) == [try Address(Self.walletA)])
        #expect(report.configuration.allFollowedWallets == [try Address(Self.walletA)])
    }

    @Test func accountsInheritSharedCopyKeysAndSetTheirOwn() throws {
        let yaml = """
            copy:
              starting_usdc: 800
              risk:
                max_order_usdc: 30
                max_total_exposure_usdc: 900
            clob:
              signature_type: POLY_PROXY
              funder: "\(Self.walletC)"
            accounts:
              - name: desk-a
                wallets:
                  - address: "\(Self.walletA)"
                    name: whale
                  - "\(Self.walletB)"
                copy:
                  starting_usdc: 500
                  sizing: { mode: fraction_of_trade, value: 0.25 }
                  risk: { max_order_usdc: 20 }
              - name: desk_b
                wallets: ["\(Self.walletB)"]
            """
        let report = try Self.check(yaml)
        #expect(report.errors == [], "\(report.errors)")
        #expect(report.warnings == [], "\(report.warnings)")
        let configuration = report.configuration
        #expect(configuration.accounts.map(\.name) == ["desk-a", "desk_b"])
        #expect(configuration.effectiveAccounts.map(\.name) == ["desk-a", "desk_b"])
        let a = configuration.accounts[0].configuration
        let b = configuration.accounts[1].configuration
        #expect(a.follow.wallets.map(\.address) == [try Address(Self.walletA), try Address(Self.walletB)])
        #expect(a.follow.wallets[0].name == "whale")
        #expect(a.copy.startingUSDC == 500)
        #expect(a.copy.sizing == .init(mode: .fractionOfTrade, value: 0.25))
        #expect(a.copy.risk.maxOrderUSDC == 20)
        // Not set in the entry: the top level's.
        #expect(a.copy.risk.maxTotalExposureUSDC == 900)
        #expect(b.copy.startingUSDC == 800)
        #expect(b.copy.risk.maxOrderUSDC == 30)
        #expect(b.copy.sizing == .init())
        // The CLOB identity is never inherited.
        #expect(a.clob.signatureType == .eoa)
        #expect(a.clob.funder == nil)
        #expect(a.accounts.isEmpty)
        // The listener follows the union, each wallet once.
        #expect(configuration.allFollowedWallets == [try Address(Self.walletA), try Address(Self.walletB)])
        // The engine settings carry the account.
        #expect(a.engineConfiguration(account: "desk-a").account == "desk-a")
    }

    @Test func eachAccountHasItsOwnKeysFromItsOwnVariables() throws {
        let yaml = """
            accounts:
              - name: desk-a
                wallets: ["\(Self.walletA)"]
                copy: { mode: live }
              - name: desk-b
                wallets: ["\(Self.walletB)"]
            """
        // A key made in the test (never funded).
        let keyHexA = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 1...0x7f)) }.joined()
        let keyA = try PrivateKey(hex: keyHexA)
        let env = [
            "COPYBOT_ACCOUNT_DESK_A_PRIVATE_KEY": keyHexA,
            "COPYBOT_ACCOUNT_DESK_A_CLOB_API_KEY": "key-a",
            "COPYBOT_ACCOUNT_DESK_A_CLOB_API_SECRET": ConfigurationTests.apiSecret,
            "COPYBOT_ACCOUNT_DESK_A_CLOB_API_PASSPHRASE": ConfigurationTests.apiPassphrase,
            // The top-level key belongs to no account.
            "COPYBOT_PRIVATE_KEY": ConfigurationTests.keyHex,
        ]
        let report = try Self.check(yaml, environment: env)
        #expect(report.errors == [], "\(report.errors)")
        let a = report.configuration.accounts[0].configuration
        let b = report.configuration.accounts[1].configuration
        #expect(a.copy.mode == .live)
        #expect(a.credentials.privateKey?.address == keyA.address)
        #expect(a.credentials.api?.apiKey == "key-a")
        #expect(b.copy.mode == .paper)
        #expect(b.credentials.privateKey == nil)
        #expect(!report.issues.contains { $0.keyPath.hasPrefix("COPYBOT_ACCOUNT") })
        let summary = "\(report.configuration)"
        #expect(!summary.contains(keyHexA))
        #expect(!summary.contains(ConfigurationTests.apiSecret))

        // Live without its keys: the account's error, under its path.
        let missing = try Self.check(yaml, environment: ["COPYBOT_PRIVATE_KEY": ConfigurationTests.keyHex])
        #expect(
            missing.errors.contains { $0.keyPath == "accounts[0].copy.mode" && $0.message.contains("live") },
            "\(missing.errors)")
        #expect(!missing.errors.contains { $0.keyPath.hasPrefix("accounts[1]") })
    }

    @Test func brokenAccountsAreReportedWithTheirKeyPaths() throws {
        let yaml = """
            follow:
              wallets: ["\(Self.walletC)"]
            accounts:
              - wallets: ["\(Self.walletA)"]
              - name: desk-a
                wallets: ["\(Self.walletA)", "0x12"]
                chain: { ws_urls: [ws://127.0.0.1:1] }
                copy:
                  risk: { max_order_usdc: lots }
                  breaker: { cooldown_seconds: 5 }
                walets: []
              - name: DESK-A
                wallets: []
              - name: "a b"
                wallets: ["\(Self.walletB)"]
            """
        let report = try Self.check(yaml)
        let errors = Dictionary(report.errors.map { ($0.keyPath, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(errors["accounts[0].name"]?.message.contains("needs a name") == true, "\(report.errors)")
        #expect(errors["accounts[1].wallets[1].address"] != nil, "\(report.errors)")
        #expect(errors["accounts[1].chain.ws_urls"]?.message.contains("shared by all accounts") == true)
        #expect(errors["accounts[1].copy.risk.max_order_usdc"]?.message.contains("lots") == true)
        #expect(errors["accounts[1].copy.breaker.cooldown_seconds"] != nil)
        #expect(errors["accounts[1].walets"]?.fix.contains("wallets") == true)
        #expect(errors["accounts[2].name"]?.message.contains("already the name of accounts[1]") == true)
        #expect(errors["accounts[3].name"]?.message.contains("not a usable account name") == true)
        #expect(errors["follow.wallets"]?.message.contains("accounts") == true)
        #expect(report.warnings.contains { $0.keyPath == "accounts[2].wallets" })
        // Each problem once.
        #expect(report.errors.count == Set(report.errors.map { "\($0.keyPath)|\($0.message)" }).count)
    }

    @Test func accountsAreFileOnly() throws {
        let report = try Self.check("", environment: ["COPYBOT_ACCOUNTS": "desk-a"])
        #expect(report.errors.contains { $0.keyPath == "COPYBOT_ACCOUNTS" })
    }
}
