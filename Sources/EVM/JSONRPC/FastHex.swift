/// Hex decoding eight characters at a time in a 64-bit word ("SIMD within a register").
///
/// A word holds eight ASCII bytes with the first character in its low byte (a little-endian
/// load). Validation and conversion are branch-free; callers branch once per 16 characters.
enum FastHex {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// The value of an ASCII hex digit, or a value above 15.
    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter &+ 10 : 0xFF
    }

    /// The high bit of each byte of `x` that is an ASCII hex digit (`0-9a-fA-F`).
    @inline(__always)
    static func validMask(_ x: UInt64) -> UInt64 {
        // With the high bit forced on, `t - k` per byte cannot borrow from its neighbour, and its
        // high bit stays set exactly when the byte (less its own high bit) is >= k.
        let t = x | highs
        let digit = (t &- 0x3030_3030_3030_3030) & ~(t &- 0x3A3A_3A3A_3A3A_3A3A)
        let lower = t | 0x2020_2020_2020_2020
        let alpha = (lower &- 0x6161_6161_6161_6161) & ~(lower &- 0x6767_6767_6767_6767)
        return (digit | alpha) & ~x & highs
    }

    /// Packs eight valid hex digits into four bytes (first byte in the low bits).
    @inline(__always)
    static func pack(_ x: UInt64) -> UInt32 {
        // Letters have bit 6 set: their low nibble plus 9 is their value.
        let n = (x & 0x0F0F_0F0F_0F0F_0F0F) &+ ((x >> 6) & ones) &* 9
        var t = ((n & 0x00FF_00FF_00FF_00FF) << 4) | ((n >> 8) & 0x00FF_00FF_00FF_00FF)
        t = (t | (t >> 8)) & 0x0000_FFFF_0000_FFFF
        t = (t | (t >> 16)) & 0xFFFF_FFFF
        return UInt32(truncatingIfNeeded: t)
    }

    @inline(__always)
    static func load(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Decodes 16 hex digits at `p` into 8 bytes (first byte in the low bits), or nil.
    @inline(__always)
    static func decode16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64? {
        let x0 = load(p, offset)
        let x1 = load(p, offset + 8)
        guard validMask(x0) & validMask(x1) == highs else { return nil }
        return UInt64(pack(x0)) | UInt64(pack(x1)) << 32
    }

    /// Decodes 8 hex digits at `p` into 4 bytes (first byte in the low bits), or nil.
    @inline(__always)
    static func decode8(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32? {
        let x = load(p, offset)
        guard validMask(x) == highs else { return nil }
        return pack(x)
    }

    /// Decodes 32 hex digits at `p + offset` into 16 bytes, or nil.
    ///
    /// The same arithmetic as ``validMask(_:)`` and ``pack(_:)``, on four words at once in
    /// vector registers; the final narrowing takes the low byte of each 16-bit lane.
    @inline(__always)
    static func decode32(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<UInt8>? {
        typealias V = SIMD4<UInt64>
        #if _endian(little)
        let x = p.loadUnaligned(fromByteOffset: offset, as: V.self)
        #else
        let x = V(load(p, offset), load(p, offset + 8), load(p, offset + 16), load(p, offset + 24))
        #endif
        let h = V(repeating: highs)
        let t = x | h
        let digit = (t &- V(repeating: 0x3030_3030_3030_3030)) & ~(t &- V(repeating: 0x3A3A_3A3A_3A3A_3A3A))
        let lower = t | V(repeating: 0x2020_2020_2020_2020)
        let alpha =
            (lower &- V(repeating: 0x6161_6161_6161_6161)) & ~(lower &- V(repeating: 0x6767_6767_6767_6767))
        let ok = (digit | alpha) & ~x & h
        guard ok[0] & ok[1] & ok[2] & ok[3] == highs else { return nil }
        let letters = (x &>> 6) & V(repeating: ones)
        let nibbles = (x & V(repeating: 0x0F0F_0F0F_0F0F_0F0F)) &+ letters &+ (letters &<< 3)
        // Each 16-bit lane holds (high nibble, low nibble) in its (low, high) byte.
        #if _endian(little)
        let lanes = unsafeBitCast(nibbles, to: SIMD16<UInt16>.self)
        return SIMD16<UInt8>(truncatingIfNeeded: (lanes &<< 4) | (lanes &>> 8))
        #else
        var out = SIMD16<UInt8>()
        for k in 0..<4 {
            let packed = pack(x[k])
            for j in 0..<4 { out[4 * k + j] = UInt8(truncatingIfNeeded: packed >> (8 * j)) }
        }
        return out
        #endif
    }

    /// The two big-endian limbs of 16 decoded bytes.
    @inline(__always)
    static func limbs(_ v: SIMD16<UInt8>) -> (UInt64, UInt64) {
        let words = unsafeBitCast(v, to: SIMD2<UInt64>.self)
        return (UInt64(bigEndian: words[0]), UInt64(bigEndian: words[1]))
    }

    /// Decodes the 64 hex digits at `p + offset`.
    @inline(__always)
    static func bytes32(_ p: UnsafeRawPointer, _ offset: Int) -> Bytes32? {
        guard let a = decode32(p, offset), let b = decode32(p, offset + 32) else { return nil }
        let (w0, w1) = limbs(a)
        let (w2, w3) = limbs(b)
        return Bytes32(w0, w1, w2, w3)
    }

    /// Decodes the 40 hex digits at `p + offset`.
    @inline(__always)
    static func address(_ p: UnsafeRawPointer, _ offset: Int) -> Address? {
        guard let a = decode32(p, offset), let c = decode8(p, offset + 32) else { return nil }
        let (hi, mid) = limbs(a)
        return Address(hi: hi, mid: mid, lo: c.byteSwapped)
    }

    /// Decodes `2 * byteCount` hex digits at `p + offset` into `out`; false if one is not hex.
    static func decode(
        _ p: UnsafeRawPointer, _ offset: Int, byteCount: Int, into out: UnsafeMutableRawPointer
    )
        -> Bool
    {
        var i = offset
        var o = 0
        while o + 16 <= byteCount {
            guard let v = decode32(p, i) else { return false }
            out.storeBytes(of: v, toByteOffset: o, as: SIMD16<UInt8>.self)
            i += 32
            o += 16
        }
        if o + 8 <= byteCount {
            guard let v = decode16(p, i) else { return false }
            out.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self)
            i += 16
            o += 8
        }
        if o + 4 <= byteCount {
            guard let v = decode8(p, i) else { return false }
            out.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self)
            i += 8
            o += 4
        }
        while o < byteCount {
            let hi = nibble(p.load(fromByteOffset: i, as: UInt8.self))
            let lo = nibble(p.load(fromByteOffset: i + 1, as: UInt8.self))
            guard hi | lo < 16 else { return false }
            out.storeBytes(of: hi << 4 | lo, toByteOffset: o, as: UInt8.self)
            i += 2
            o += 1
        }
        return true
    }

    /// Offset of the first byte in `range` that is not a hex digit, if any.
    static func firstInvalid(_ p: UnsafeRawPointer, _ range: Range<Int>) -> Int? {
        for i in range where nibble(p.load(fromByteOffset: i, as: UInt8.self)) > 15 { return i }
        return nil
    }

    /// The high bits of the bytes of `x` that are '"', '\\', a control character or non-ASCII.
    /// The lowest set bit is exact (it marks the first such byte); bits above it may be spurious.
    @inline(__always)
    static func specialStringBytes(_ x: UInt64) -> UInt64 {
        let quote = x ^ 0x2222_2222_2222_2222
        let backslash = x ^ 0x5C5C_5C5C_5C5C_5C5C
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let control = (x &- 0x2020_2020_2020_2020) & ~x
        return (zeroQuote | zeroBackslash | control | x) & highs
    }
}
