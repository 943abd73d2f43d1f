/// An unsigned 256-bit integer: the value of an ABI `uint<N>` and the bit pattern of an `int<N>`.
///
/// Limbs are stored most significant first (`w0`), the same layout as ``Bytes32``, so a word read
/// from ABI data converts to a number for free.
public struct UInt256: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64
    public var w1: UInt64
    public var w2: UInt64
    public var w3: UInt64

    /// Creates a value from four limbs, most significant first.
    @inlinable
    public init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Creates a value from a 64-bit one.
    @inlinable
    public init(_ value: UInt64) { self.init(0, 0, 0, value) }

    /// Creates a value from a 128-bit one.
    @inlinable
    public init(uint128 value: UInt128) {
        self.init(0, 0, UInt64(truncatingIfNeeded: value >> 64), UInt64(truncatingIfNeeded: value))
    }

    /// Reads the big-endian number in a 32-byte word.
    @inlinable
    public init(_ word: Bytes32) { self.init(word.w0, word.w1, word.w2, word.w3) }

    /// The big-endian 32-byte encoding.
    @inlinable
    public var word: Bytes32 { Bytes32(w0, w1, w2, w3) }

    public static let zero = UInt256(0, 0, 0, 0)
    public static let max = UInt256(.max, .max, .max, .max)

    @inlinable
    public var isZero: Bool { w0 | w1 | w2 | w3 == 0 }

    /// The number of significant bits (0 for zero).
    @inlinable
    public var bitWidth: Int {
        if w0 != 0 { return 256 - w0.leadingZeroBitCount }
        if w1 != 0 { return 192 - w1.leadingZeroBitCount }
        if w2 != 0 { return 128 - w2.leadingZeroBitCount }
        return 64 - w3.leadingZeroBitCount
    }

    /// The value as a `UInt64`, if it fits.
    @inlinable
    public var uint64: UInt64? { w0 | w1 | w2 == 0 ? w3 : nil }

    /// The value as a `UInt128`, if it fits.
    @inlinable
    public var uint128: UInt128? { w0 | w1 == 0 ? UInt128(w2) << 64 | UInt128(w3) : nil }

    @inlinable
    public static func < (lhs: UInt256, rhs: UInt256) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    /// Sum modulo 2^256 and whether it overflowed.
    @inlinable
    public func addingReportingOverflow(_ other: UInt256) -> (partialValue: UInt256, overflow: Bool) {
        let (r3, c3) = w3.addingReportingOverflow(other.w3)
        var (r2, c2) = w2.addingReportingOverflow(other.w2)
        var c2b = false
        if c3 { (r2, c2b) = r2.addingReportingOverflow(1) }
        var (r1, c1) = w1.addingReportingOverflow(other.w1)
        var c1b = false
        if c2 || c2b { (r1, c1b) = r1.addingReportingOverflow(1) }
        var (r0, c0) = w0.addingReportingOverflow(other.w0)
        var c0b = false
        if c1 || c1b { (r0, c0b) = r0.addingReportingOverflow(1) }
        return (UInt256(r0, r1, r2, r3), c0 || c0b)
    }

    /// Bitwise complement.
    @inlinable
    public static prefix func ~ (value: UInt256) -> UInt256 {
        UInt256(~value.w0, ~value.w1, ~value.w2, ~value.w3)
    }

    /// Two's-complement negation modulo 2^256.
    @inlinable
    public var negated: UInt256 { (~self).addingReportingOverflow(UInt256(0, 0, 0, 1)).partialValue }

    /// Product with a 64-bit factor and whether it overflowed 256 bits.
    @inlinable
    public func multipliedReportingOverflow(by factor: UInt64) -> (partialValue: UInt256, overflow: Bool) {
        let p3 = w3.multipliedFullWidth(by: factor)
        let p2 = w2.multipliedFullWidth(by: factor)
        let p1 = w1.multipliedFullWidth(by: factor)
        let p0 = w0.multipliedFullWidth(by: factor)
        // A limb product's high half is at most 2^64 − 2, so adding one carry never overflows it.
        let r3 = p3.low
        let (r2, c2) = p2.low.addingReportingOverflow(p3.high)
        let (r1, c1) = p1.low.addingReportingOverflow(p2.high &+ (c2 ? 1 : 0))
        let (r0, c0) = p0.low.addingReportingOverflow(p1.high &+ (c1 ? 1 : 0))
        let overflow = p0.high != 0 || c0
        return (UInt256(r0, r1, r2, r3), overflow)
    }

    /// Quotient and remainder of division by a non-zero 64-bit divisor.
    @inlinable
    public func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: UInt256, remainder: UInt64) {
        precondition(divisor != 0, "division by zero")
        var remainder: UInt64 = 0
        var q = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        (q.0, remainder) = divisor.dividingFullWidth((remainder, w0))
        (q.1, remainder) = divisor.dividingFullWidth((remainder, w1))
        (q.2, remainder) = divisor.dividingFullWidth((remainder, w2))
        (q.3, remainder) = divisor.dividingFullWidth((remainder, w3))
        return (UInt256(q.0, q.1, q.2, q.3), remainder)
    }

    /// The value in decimal.
    public var description: String { decimalString }

    /// The value in decimal digits.
    public var decimalString: String {
        if let small = uint64 { return String(small) }
        var chunks: [UInt64] = []
        var value = self
        while !value.isZero {
            let (q, r) = value.quotientAndRemainder(dividingBy: 10_000_000_000_000_000_000)
            chunks.append(r)
            value = q
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 19 - digits.count) + digits
        }
        return text
    }

    /// The value divided by 10^`scale`, written with exactly `scale` decimals ("12.345678").
    public func fixedPointString(scale: Int) -> String {
        let digits = decimalString
        guard scale > 0 else { return digits }
        let padded =
            digits.count <= scale ? String(repeating: "0", count: scale + 1 - digits.count) + digits : digits
        let split = padded.index(padded.endIndex, offsetBy: -scale)
        return padded[..<split] + "." + padded[split...]
    }

    /// Parses decimal digits; nil when empty, not all digits, or above 2^256 − 1.
    public init?(decimal: some StringProtocol) {
        guard !decimal.isEmpty else { return nil }
        var value = UInt256.zero
        for c in decimal.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt256(0, 0, 0, UInt64(c - UInt8(ascii: "0"))))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        self = value
    }

    /// The bit pattern read as a two's-complement signed integer, in decimal.
    public var signedDecimalString: String {
        w0 >> 63 == 1 ? "-" + negated.decimalString : decimalString
    }

    /// Parses an optionally negative decimal into its two's-complement bit pattern.
    /// Nil when the magnitude exceeds 2^255 (or 2^255 − 1 for positive values).
    public init?(signedDecimal text: some StringProtocol) {
        if text.hasPrefix("-") {
            guard let magnitude = UInt256(decimal: text.dropFirst()),
                magnitude <= UInt256(1 << 63, 0, 0, 0)
            else { return nil }
            self = magnitude.negated
        } else {
            guard let value = UInt256(decimal: text), value.w0 >> 63 == 0 else { return nil }
            self = value
        }
    }
}
