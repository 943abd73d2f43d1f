import EVM

/// A small, fast, seedable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Everything the devnet invents (wallets, markets, prices, hashes, reorg shapes, faults) comes
/// from one of these, so the same seed and the same sequence of calls give the same chain.
public struct DevnetRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// True with probability `p` (never for `p <= 0`, always for `p >= 1`).
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return Double(next() >> 11) * 0x1.0p-53 < p
    }

    /// A uniformly random integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    /// 32 random bytes.
    public mutating func bytes32() -> Bytes32 {
        Bytes32(next(), next(), next(), next())
    }

    /// A random address.
    public mutating func address() -> Address {
        Address(hi: next(), mid: next(), lo: UInt32(truncatingIfNeeded: next()))
    }

    /// A generator for a sub-task, independent of this one's later output.
    public mutating func fork() -> DevnetRandom {
        DevnetRandom(seed: next())
    }
}
