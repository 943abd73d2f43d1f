import AsyncHTTPClient
import ClobStandIn
import CopyBot
import EVM
import Foundation
import Polymarket
import Testing

@Suite("copybot keys and order build", .serialized)
struct KeyCommandsTests {
    static func contracts() throws -> ExchangeContracts {
        try ExchangeContracts(
            registry: try LogDecodeCommandTests.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2", domainVersion: "2")
    }

    func keyFile(_ hex: String, mode: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-key-\(UUID().uuidString)"
        ).path
        #expect(FileManager.default.createFile(atPath: path, contents: Data((hex + "\n").utf8)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test(
        "the key comes from the environment or an owner-only file; other modes are refused without echoing the key"
    )
    func keySources() throws {
        let key = PrivateKey.generate()
        let hex = key.withUnsafeKeyBytes { Hex.encode($0) }
        #expect(try PrivateKeySource(environment: ["COPYBOT_PRIVATE_KEY": hex]).load().address == key.address)
        for mode in [0o600, 0o400] {
            let path = try keyFile(hex, mode: mode)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(
                try PrivateKeySource(environment: ["COPYBOT_PRIVATE_KEY_FILE": path]).load().address
                    == key.address)
        }
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = try keyFile(hex, mode: mode)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try PrivateKeySource(environment: ["COPYBOT_PRIVATE_KEY_FILE": path]).load()
                Issue.record("mode \(String(mode, radix: 8)) was accepted")
            } catch {
                #expect(error.description.contains("chmod 600"))
                #expect(error.description.contains(String(mode, radix: 8)))
                #expect(!error.description.contains(String(hex.dropFirst(2))))
            }
        }
        #expect(throws: KeyLoadingError.self) { try PrivateKeySource(environment: [:]).load() }
        #expect(throws: KeyLoadingError.self) {
            try PrivateKeySource(environment: ["COPYBOT_PRIVATE_KEY": hex, "COPYBOT_PRIVATE_KEY_FILE": "/x"])
                .load()
        }
        do {
            _ = try PrivateKeySource(environment: ["COPYBOT_PRIVATE_KEY": "0x1234zz"]).load()
        } catch {
            #expect(!error.description.contains("1234zz"))
        }
    }

    @Test("keys derive-api gets the credentials over L1 from the CLOB stand-in")
    func deriveAPI() async throws {
        let key = PrivateKey.generate()
        let credentials = ApiCredentials(
            apiKey: UUID().uuidString.lowercased(), secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXh5eno=",
            passphrase: UUID().uuidString)
        let standIn = ClobStandIn(
            configuration: .init(
                credentials: credentials, account: key.address, contracts: try Self.contracts(), markets: []))
        try await standIn.start()
        let http = ClobHTTPClient.makeHTTPClient()
        let client = ClobHTTPClient(configuration: .init(baseURL: standIn.baseURL), http: http, signer: key)
        let derived = try await DeriveAPIKeyCommand(client: client).run()
        #expect(derived == credentials)
        let text = DeriveAPIKeyCommand.format(derived)
        #expect(text.contains("COPYBOT_CLOB_API_SECRET=\(credentials.secret)"))
        #expect(DeriveAPIKeyCommand.warning.contains("shown once"))
        try await http.shutdown()
        await standIn.stop()
    }

    @Test("order build prints a body whose signature recovers the key, for the configured exchange")
    func orderBuild() throws {
        let key = PrivateKey.generate()
        let contracts = try Self.contracts()
        let command = OrderBuildCommand(signer: key, contracts: contracts)
        for negRisk in [false, true] {
            let built = try command.build(
                .init(
                    tokenID: UInt256(123), side: .sell, price: ExactDecimal("0.42")!, size: ExactDecimal(10),
                    negRisk: negRisk, owner: "owner-key"))
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(built.json.utf8)) as? [String: Any])
            #expect(object["owner"] as? String == "owner-key")
            #expect(object["orderType"] as? String == "GTC")
            let order = try #require(object["order"] as? [String: Any])
            #expect(order["side"] as? String == "SELL")
            #expect(order["makerAmount"] as? String == "10000000")
            #expect(order["takerAmount"] as? String == "4200000")
            let signature = try Signature(hex: try #require(order["signature"] as? String))
            guard case .v2(let v2) = built.order.payload else {
                Issue.record("expected a V2 order")
                continue
            }
            #expect(
                try signature.recoverAddress(digest: v2.digest(in: contracts.domain(negRisk: negRisk)))
                    == key.address)
        }
        #expect(throws: OrderError.self) {
            try command.build(
                .init(tokenID: UInt256(1), side: .buy, price: ExactDecimal("0.425")!, size: ExactDecimal(10)))
        }
        #expect(throws: OrderError.self) {
            try command.build(
                .init(
                    tokenID: UInt256(1), side: .buy, price: ExactDecimal("0.4")!, size: ExactDecimal(10),
                    signatureType: .polyProxy))
        }
    }
}
