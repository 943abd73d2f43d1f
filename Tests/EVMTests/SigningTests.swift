import EVM
import Foundation
import Testing

@Suite("secp256k1 signing")
struct SigningTests {
    /// Half the secp256k1 group order: canonical signatures have s ≤ this.
    static let halfOrder = try! Bytes32(
        hex: "0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0")

    @Test("signatures equal eth_account's (RFC 6979) for the fixture keys")
    func fixtureSignatures() throws {
        let fixture = try loadFixture("eip712.json")
        let cases = try #require(fixture["signatures"] as? [[String: Any]])
        #expect(cases.count >= 64)
        for item in cases {
            let key = try PrivateKey(hex: try item.string("key"))
            let digest = try Bytes32(hex: try item.string("digest"))
            #expect(key.address.checksummed == (try item.string("address")))
            let signature = key.sign(digest: digest)
            #expect(signature.hex == (try item.string("signature")))
            #expect(try signature.recoverAddress(digest: digest) == key.address)
        }
    }

    @Test("known key: private key 1 has the generator's address")
    func knownAddress() throws {
        let key = try PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [1])
        #expect(key.address.checksummed == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")
    }

    @Test("sign then recover round-trips for keys generated here")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let key = PrivateKey.generate(using: &generator)
            let digest = Bytes32(generator.next(), generator.next(), generator.next(), generator.next())
            let signature = key.sign(digest: digest)
            #expect(signature.v == 27 || signature.v == 28)
            #expect(signature.s <= Self.halfOrder)
            #expect(try signature.recoverAddress(digest: digest) == key.address)
            // Deterministic: the same digest signs to the same bytes.
            #expect(key.sign(digest: digest) == signature)
            // Serialisation round-trips.
            #expect(try Signature(hex: signature.hex) == signature)
            #expect(try Signature(bytes: signature.bytes) == signature)
            // Another digest recovers another address.
            var other = digest
            other.w3 ^= 1
            #expect(try signature.recoverAddress(digest: other) != key.address)
        }
    }

    @Test("invalid keys are rejected without echoing them")
    func invalidKeys() throws {
        #expect(throws: PrivateKey.Error.outOfRange) {
            try PrivateKey(bytes: [UInt8](repeating: 0, count: 32))
        }
        #expect(throws: PrivateKey.Error.outOfRange) {
            try PrivateKey(hex: "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        }
        #expect(throws: PrivateKey.Error.wrongLength(31)) {
            try PrivateKey(bytes: [UInt8](repeating: 1, count: 31))
        }
        let secretText = "0xzz5a1c0ffee5a1c0ffee5a1c0ffee5a1c0ffee5a1c0ffee5a1c0ffee5a1c0f"
        do {
            _ = try PrivateKey(hex: secretText)
            Issue.record("accepted invalid hex")
        } catch {
            #expect(!String(describing: error).contains("c0ffee"))
            #expect(!String(reflecting: error).contains("c0ffee"))
        }
    }

    @Test("signature parsing rejects bad input")
    func signatureParsing() throws {
        #expect(throws: Signature.Error.wrongLength(64)) {
            try Signature(bytes: [UInt8](repeating: 1, count: 64))
        }
        #expect(throws: Signature.Error.invalidRecoveryByte(29)) {
            try Signature(bytes: [UInt8](repeating: 1, count: 64) + [29])
        }
        let zero = Signature(r: .zero, s: .zero, v: 27)
        #expect(throws: Signature.Error.self) { try zero.recoverAddress(digest: .zero) }
        // v of 0/1 is read as 27/28.
        #expect(try Signature(bytes: [UInt8](repeating: 1, count: 64) + [1]).v == 28)
    }

    @Test("the key never appears in descriptions, reflection or dump")
    func redaction() throws {
        var generator = SystemRandomNumberGenerator()
        let key = PrivateKey.generate(using: &generator)
        let secretHex = key.withUnsafeKeyBytes { Hex.encode($0, prefix: false) }
        var dumped = ""
        dump(key, to: &dumped)
        let texts = [
            String(describing: key), String(reflecting: key), dumped, "\(key)", "\([key])",
            String(describing: Mirror(reflecting: key).children.map { "\($0.label ?? ""): \($0.value)" }),
        ]
        for text in texts {
            #expect(!text.lowercased().contains(secretHex))
            #expect(!text.lowercased().contains(String(secretHex.prefix(16))))
        }
        #expect(String(describing: key) == "PrivateKey(<redacted>)")
        #expect(String(reflecting: key) == "PrivateKey(<redacted>)")
    }

    @Test("concurrent signing with one key is safe and deterministic")
    func concurrentSigning() async throws {
        let key = try PrivateKey(hex: "0x" + String(repeating: "42", count: 32))
        let digest = Keccak256.hash(utf8: "concurrency")
        let expected = key.sign(digest: digest)
        try await withThrowingTaskGroup(of: Signature.self) { group in
            for _ in 0..<16 { group.addTask { key.sign(digest: digest) } }
            for try await signature in group { #expect(signature == expected) }
        }
    }
}
