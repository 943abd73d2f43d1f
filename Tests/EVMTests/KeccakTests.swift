import EVM
import Testing

@Suite("Keccak-256")
struct KeccakTests {
    @Test("known digests: empty input, the ERC-20 Transfer topic")
    func knownDigests() {
        #expect(
            Keccak256.hash([]).hex == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(
            Keccak256.hash(utf8: "Transfer(address,address,uint256)").hex
                == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    }

    @Test("matches eth-utils on every length 0...300 and long inputs")
    func fixtureVectors() throws {
        let vectors = try Fixtures.list("keccak.json", key: "vectors")
        #expect(vectors.count >= 300)
        for vector in vectors {
            let input = try Hex.decode(vector["input"] as! String)
            #expect(Keccak256.hash(input).hex == vector["hash"] as! String, "length \(input.count)")
        }
    }

    @Test("hashing a slice, an array and raw bytes agree")
    func entryPointsAgree() {
        let bytes = (0..<500).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = Keccak256.hash(bytes)
        #expect(Keccak256.hash(bytes[...]) == whole)
        #expect(bytes.withUnsafeBytes { Keccak256.hash($0) } == whole)
        #expect(Keccak256.hash(Array(bytes.dropLast())) != whole)
    }
}
