import EVM
import Testing

/// Hostile encodings: each must end in a typed error, quickly, without a large allocation.
@Suite("ABI decoder on hostile input")
struct ABIHostileInputTests {
    private func word(_ value: UInt256) -> [UInt8] { value.word.bytes }
    private func word(_ value: UInt64) -> [UInt8] { UInt256(value).word.bytes }

    @Test("truncated data")
    func truncated() throws {
        let types = [try ABIType(parsing: "uint256"), try ABIType(parsing: "address")]
        let encoded = try ABIEncoder.encode([.uint(UInt256(7)), .address(.zero)], as: types)
        for length in 0..<encoded.count {
            #expect(throws: ABIError.self) {
                try ABIDecoder.decode(types, from: Array(encoded.prefix(length)))
            }
        }
        #expect(throws: ABIError.outOfBounds(offset: 32, needed: 32, available: 31)) {
            try ABIDecoder.decode(types, from: Array(encoded.prefix(63)))
        }
    }

    @Test("an offset pointing outside the data")
    func offsetOutside() throws {
        let data = word(UInt64(4096))
        #expect(throws: ABIError.offsetTooLarge(at: 0)) { try ABIDecoder.decode([.bytes], from: data) }
        // An offset inside the data whose length word would start past its end.
        #expect(throws: ABIError.self) {
            try ABIDecoder.decode([.bytes], from: word(UInt64(32)) + [1, 2, 3])
        }
    }

    @Test("offsets and lengths near 2^256")
    func hugeWords() throws {
        let near = UInt256(.max, .max, .max, .max - 1)  // 2^256 − 2
        for huge in [UInt256.max, near, UInt256(1 << 63, 0, 0, 0), UInt256(0, 0, 0, .max)] {
            #expect(throws: ABIError.offsetTooLarge(at: 0)) {
                try ABIDecoder.decode([.string], from: word(huge))
            }
            let lengthFirst = word(UInt64(32)) + word(huge)
            #expect(throws: ABIError.lengthTooLarge(at: 32, length: huge.decimalString)) {
                try ABIDecoder.decode([.bytes], from: lengthFirst)
            }
            #expect(throws: ABIError.lengthTooLarge(at: 32, length: huge.decimalString)) {
                try ABIDecoder.decode([.array(.uint(bits: 256))], from: lengthFirst)
            }
        }
    }

    @Test("an absurd array length that the data cannot hold")
    func absurdArrayLength() throws {
        let data = word(UInt64(32)) + word(UInt64(1_000_000_000)) + word(UInt64(1))
        #expect(throws: ABIError.lengthTooLarge(at: 32, length: "1000000000")) {
            try ABIDecoder.decode([.array(.uint(bits: 8))], from: data)
        }
        #expect(throws: ABIError.lengthTooLarge(at: 32, length: "1000000000")) {
            try ABIDecoder.decode([.array(.string)], from: data)
        }
    }

    @Test("overlapping offsets that would multiply the work are refused")
    func offsetBomb() throws {
        // string[][][]: every level's elements all point at the same inner array, so a 4 KB input
        // would decode 120^3 strings. The budget stops it.
        let n: UInt64 = 40
        var data = word(UInt64(32)) + word(n)
        // Level 1 (outer array of n): each offset points at the same level-2 array right after the heads.
        let level2 = n * 32
        for _ in 0..<n { data += word(level2) }
        data += word(n)
        let level3 = n * 32
        for _ in 0..<n { data += word(level3) }
        data += word(n)
        let strings = n * 32
        for _ in 0..<n { data += word(strings) }
        data += word(UInt64(3)) + [0x61, 0x62, 0x63] + [UInt8](repeating: 0, count: 29)
        #expect(throws: ABIError.decodingBudgetExceeded) {
            try ABIDecoder.decode([try ABIType(parsing: "string[][][]")], from: data)
        }
    }

    @Test("values that do not fit their type")
    func invalidValues() throws {
        #expect(throws: ABIError.invalidValue(type: "uint8", at: 0, reason: "value exceeds 8 bits")) {
            try ABIDecoder.decode([.uint(bits: 8)], from: word(UInt64(256)))
        }
        #expect(throws: ABIError.self) { try ABIDecoder.decode([.int(bits: 8)], from: word(UInt64(128))) }
        #expect(
            try ABIDecoder.decode([.int(bits: 8)], from: word(UInt256(signedDecimal: "-128")!)) == [
                .int(UInt256(signedDecimal: "-128")!)
            ])
        #expect(throws: ABIError.self) {
            try ABIDecoder.decode([.int(bits: 8)], from: word(UInt256(signedDecimal: "-129")!))
        }
        #expect(throws: ABIError.invalidValue(type: "bool", at: 0, reason: "not 0 or 1")) {
            try ABIDecoder.decode([.bool], from: word(UInt64(2)))
        }
        #expect(throws: ABIError.self) { try ABIDecoder.decode([.address], from: word(UInt256(1, 0, 0, 0))) }
        #expect(throws: ABIError.self) { try ABIDecoder.decode([.fixedBytes(1)], from: word(UInt64(1))) }
        let badUTF8 = word(UInt64(32)) + word(UInt64(2)) + [0xC3, 0x28] + [UInt8](repeating: 0, count: 30)
        #expect(throws: ABIError.invalidUTF8(at: 32)) { try ABIDecoder.decode([.string], from: badUTF8) }
        let dirtyPadding =
            word(UInt64(32)) + word(UInt64(1)) + [0x41, 0x01] + [UInt8](repeating: 0, count: 30)
        #expect(throws: ABIError.self) { try ABIDecoder.decode([.bytes], from: dirtyPadding) }
    }

    @Test("the encoder rejects values that do not fit")
    func encoderMismatch() {
        #expect(throws: ABIError.self) { try ABIEncoder.encode([.uint(UInt256(256))], as: [.uint(bits: 8)]) }
        #expect(throws: ABIError.self) { try ABIEncoder.encode([.bool(true)], as: [.address]) }
        #expect(throws: ABIError.arity(expected: 2, actual: 1)) {
            try ABIEncoder.encode([.bool(true)], as: [.bool, .bool])
        }
        #expect(throws: ABIError.self) { try ABIEncoder.encode([.fixedBytes([1, 2])], as: [.fixedBytes(3)]) }
    }

    @Test("random corruption of valid encodings never crashes")
    func randomMutations() throws {
        var rng = SplitMix64(seed: 0xC0FFEE)
        let types = try [
            "(uint8,string,bytes[])[]", "string[][2]", "(address,(bytes32,string)[])", "int16[3][]",
        ]
        .map { [try ABIType(parsing: $0)] }
        let values: [[ABIValue]] = [
            [
                .array([
                    .tuple([.uint(UInt256(1)), .string("héllo"), .array([.bytes([1, 2, 3]), .bytes([])])])
                ])
            ],
            [.array([.array([.string("a"), .string("")]), .array([])])],
            [
                .tuple([
                    .address(.zero),
                    .array([.tuple([.fixedBytes([UInt8](repeating: 9, count: 32)), .string("x")])]),
                ])
            ],
            [.array([.array([.int(.max), .int(UInt256(5)), .int(UInt256(signedDecimal: "-32768")!)])])],
        ]
        var errors = 0
        for (type, value) in zip(types, values) {
            let encoded = try ABIEncoder.encode(value, as: type)
            #expect(try ABIDecoder.decode(type, from: encoded) == value)
            for _ in 0..<3000 {
                var mutated = encoded
                switch rng.next() % 3 {
                case 0:
                    mutated[Int(rng.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: mutated = Array(mutated.prefix(Int(rng.next() % UInt64(mutated.count))))
                default:
                    let at = Int(rng.next() % UInt64(mutated.count / 32)) * 32
                    let replacement = [UInt256.max, UInt256(rng.next() % 4096), UInt256(1 << 63, 0, 0, 0)][
                        Int(rng.next() % 3)]
                    mutated.replaceSubrange(at..<at + 32, with: replacement.word.bytes)
                }
                do { _ = try ABIDecoder.decode(type, from: mutated) } catch { errors += 1 }
            }
        }
        #expect(errors > 0)
    }
}
