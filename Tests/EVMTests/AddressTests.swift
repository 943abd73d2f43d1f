import EVM
import Testing

@Suite("Addresses and hex")
struct AddressTests {
    @Test("EIP-55 checksums match eth-utils")
    func checksumVectors() throws {
        let vectors = try Fixtures.list("addresses.json", key: "vectors")
        #expect(vectors.count >= 500)
        for vector in vectors {
            let lower = vector["lower"] as! String
            let checksum = vector["checksum"] as! String
            let address = try Address(lower)
            #expect(address.checksummed == checksum)
            #expect(address.lowercased == lower)
            #expect(try Address(checksum) == address)
            #expect(try Address(lower.uppercased().replacingOccurrences(of: "0X", with: "0x")) == address)
            #expect(Address(word: address.word) == address)
        }
    }

    @Test("a mixed-case address with a wrong checksum is rejected")
    func badChecksum() {
        // The valid form is 0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E; flip the case of one letter.
        #expect(throws: Address.ParseError.badChecksum("0x4BFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E")) {
            try Address("0x4BFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E")
        }
        #expect(throws: Address.ParseError.hex(.wrongLength(expected: 20, actual: 19))) {
            try Address("0x4bfb41d5b3570defd03c39a9a4d8de6bd8b898")
        }
        #expect(throws: Address.ParseError.hex(.invalidCharacter(offset: 41))) {
            try Address("0x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982g")
        }
    }

    @Test("an ABI word with high bytes set is not an address")
    func wordWithHighBytes() {
        #expect(Address(word: Bytes32(0, 1 << 32, 0, 0)) == nil)
        #expect(Address(word: Bytes32(0, 0xFFFF_FFFF, 0, 7)) != nil)
    }

    @Test("hex decoding: prefixes, odd lengths, bad digits")
    func hexDecoding() throws {
        #expect(try Hex.decode("0x") == [])
        #expect(try Hex.decode("") == [])
        #expect(try Hex.decode("0xABcd") == [0xAB, 0xCD])
        #expect(try Hex.decode("abcd") == [0xAB, 0xCD])
        #expect(throws: Hex.Error.oddLength(3)) { try Hex.decode("0xabc") }
        #expect(throws: Hex.Error.invalidCharacter(offset: 3)) { try Hex.decode("0xazcd") }
        #expect(throws: Hex.Error.invalidCharacter(offset: 2)) { try Hex.decode("0x\u{00e9}") }
        #expect(Hex.encode([0x00, 0xFF, 0x10]) == "0x00ff10")
        // A nibble's digit is the lowercase one `encode` writes, and `nibble` reads it back.
        for n in UInt8(0)..<16 {
            #expect(Hex.digit(n) == Array(Hex.encode([n], prefix: false).utf8)[1])
            #expect(Hex.nibble(Hex.digit(n)) == n)
        }
        #expect(throws: Hex.Error.wrongLength(expected: 32, actual: 2)) { try Bytes32(hex: "0xabcd") }
    }
}
