import BigInt
import EVM

/// Arithmetic on amounts that may not fit 128 bits (only hostile or absurd logs get here).
enum WideArithmetic {
    /// round-half-up(a · factor / b), saturating at 2^256 − 1.
    static func roundedQuotient(_ a: UInt256, times factor: UInt64, over b: UInt256) -> UInt256 {
        let numerator = BigUInt(words: words(a)) * BigUInt(factor) * 2 + BigUInt(words: words(b))
        let quotient = numerator / (BigUInt(words: words(b)) * 2)
        guard quotient.bitWidth <= 256 else { return .max }
        var limbs = [UInt64](repeating: 0, count: 4)
        for (i, word) in quotient.words.prefix(4).enumerated() { limbs[i] = UInt64(word) }
        return UInt256(limbs[3], limbs[2], limbs[1], limbs[0])
    }

    /// Little-endian machine words, as BigUInt takes them.
    private static func words(_ value: UInt256) -> [UInt] {
        [UInt(value.w3), UInt(value.w2), UInt(value.w1), UInt(value.w0)]
    }
}
