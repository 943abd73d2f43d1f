import EVM
import Foundation
import Polymarket
import Testing

@Suite("CLOB authentication headers")
struct ClobAuthTests {
    func pairs(_ headers: ClobHeaders) -> [[String]] { headers.entries.map { [$0.name, $0.value] } }

    @Test("L1 headers equal py-clob-client-v2's create_level_1_headers")
    func level1() throws {
        let fixture = try loadFixture("clob_headers.json")
        let key = try PrivateKey(hex: try fixture.string("key"))
        let cases = try #require(fixture["l1"] as? [[String: Any]])
        #expect(cases.count >= 20)
        for item in cases {
            let headers = ClobAuth.l1Headers(
                signer: key, chainId: 137, timestamp: try #require(Int64(try item.string("timestamp"))),
                nonce: try #require(UInt256(decimal: try item.string("nonce"))))
            #expect(pairs(headers) == item["headers"] as? [[String]])
        }
    }

    @Test("L2 headers equal py-clob-client-v2's create_level_2_headers (HMAC over the exact body)")
    func level2() throws {
        let fixture = try loadFixture("clob_headers.json")
        let address = try Address(try fixture.string("address"))
        let cases = try #require(fixture["l2"] as? [[String: Any]])
        #expect(cases.count >= 50)
        for item in cases {
            let credentials = ApiCredentials(
                apiKey: try item.string("apiKey"), secret: try item.string("secret"),
                passphrase: try item.string("passphrase"))
            let body = Array(((item["body"] as? String) ?? "").utf8)
            let headers = try ClobAuth.l2Headers(
                address: address, credentials: credentials,
                timestamp: try #require(Int64(try item.string("timestamp"))),
                method: try item.string("method"),
                path: try item.string("path"), body: body)
            #expect(pairs(headers) == item["headers"] as? [[String]])
        }
    }

    @Test("secrets never appear in descriptions, reflection, dump or errors")
    func redaction() throws {
        let key = PrivateKey.generate()
        let keyHex = key.withUnsafeKeyBytes { Hex.encode($0, prefix: false) }
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXh5eno="
        let passphrase = "passphrase-5f4dcc3b5aa765d61d8327deb882cf99"
        let credentials = ApiCredentials(
            apiKey: "11111111-2222-4333-8444-555555555555", secret: secret, passphrase: passphrase)
        let headers = try ClobAuth.l2Headers(
            address: key.address, credentials: credentials, timestamp: 1_800_000_000, method: "POST",
            path: "/order",
            body: Array("{}".utf8))
        let l1 = ClobAuth.l1Headers(signer: key, chainId: 137, timestamp: 1_800_000_000)
        var texts: [String] = []
        for value in [key, credentials, headers, l1] as [Any] {
            var dumped = ""
            dump(value, to: &dumped)
            texts += [String(describing: value), String(reflecting: value), dumped, "\(value)"]
        }
        do {
            _ = try ClobAuth.l2Signature(
                secret: "not base64 !" + secret, timestamp: 1, method: "GET", path: "/")
            Issue.record("accepted a bad secret")
        } catch {
            texts += [String(describing: error), String(reflecting: error), error.localizedDescription]
        }
        for text in texts {
            #expect(!text.contains(secret))
            #expect(!text.contains(passphrase))
            #expect(!text.lowercased().contains(keyHex))
            #expect(!text.contains(headers[ClobAuth.signatureHeader]!))
        }
        #expect(String(describing: credentials).contains(credentials.apiKey))
    }

    @Test("the L1 digest is the generic EIP-712 digest of ClobAuth")
    func l1Digest() throws {
        let address = try Address("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
        #expect(
            try ClobAuth.types.encodeType("ClobAuth")
                == "ClobAuth(address address,string timestamp,uint256 nonce,string message)")
        let digest = ClobAuth.l1Digest(address: address, timestamp: 1, nonce: .zero, chainId: 137)
        let key = try PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [1])
        let signature = try Signature(
            hex: ClobAuth.l1Headers(signer: key, chainId: 137, timestamp: 1)[ClobAuth.signatureHeader]!)
        #expect(try signature.recoverAddress(digest: digest) == address)
    }
}
