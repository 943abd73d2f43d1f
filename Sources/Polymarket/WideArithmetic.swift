import BigInt
import EVM

/// Arithmetic on amounts that may not fit 128 bits (only hostile or absurd logs get here).
enum WideArithmetic {
    /// q = round-half-up(a · scale / b), returned as q / scale and q % scale. The whole part
    /// fits 256 bits because it is at most `a`.
    static func roundedQuotient(_ a: UInt256, times scale: UInt64, over b: UInt256) -> (UInt256, UInt32) {
        let numerator = BigUInt(words: words(a)) * BigUInt(scale) * 2 + BigUInt(words: words(b))
        let q = numerator / (BigUInt(words: words(b)) * 2)
        let (whole, fraction) = q.quotientAndRemainder(dividingBy: BigUInt(scale))
        var limbs = [UInt64](repeating: 0, count: 4)
        for (i, word) in whole.words.prefix(4).enumerated() { limbs[i] = UInt64(word) }
        return (UInt256(limbs[3], limbs[2], limbs[1], limbs[0]), UInt32(fraction))
    }

    /// Little-endian machine words, as BigUInt takes them.
    private static func words(_ value: UInt256) -> [UInt] {
        [UInt(value.w3), UInt(value.w2), UInt(value.w1), UInt(value.w0)]
    }
}
