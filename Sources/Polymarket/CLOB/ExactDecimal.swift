import BigInt
import EVM

/// A non-negative decimal number held exactly: `significand / 10^scale`.
///
/// Prices, sizes and amounts of orders are exact decimals, never binary floating point: the
/// exchange compares them digit for digit. Parsing accepts plain decimal text (`"12"`, `"0.53"`,
/// `".5"`); values are normalised (no trailing fractional zeros), so `"0.50" == "0.5"`.
public struct ExactDecimal: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The digits of the value.
    public let significand: BigUInt
    /// How many of those digits are fractional.
    public let scale: Int

    /// Creates `significand / 10^scale`, normalised.
    public init(significand: BigUInt, scale: Int = 0) {
        var significand = significand
        var scale = max(scale, 0)
        if significand.isZero {
            scale = 0
        } else {
            while scale > 0 {
                let (q, r) = significand.quotientAndRemainder(dividingBy: 10)
                guard r.isZero else { break }
                significand = q
                scale -= 1
            }
        }
        self.significand = significand
        self.scale = scale
    }

    /// `units` × 10^−`places`: the decimal of a count of units of 10^−`places` (a token amount in
    /// millionths), normalised in word arithmetic.
    public init(units: UInt64, places: Int) {
        var value = units
        var scale = value == 0 ? 0 : max(places, 0)
        while scale > 0, value % 10 == 0 {
            value /= 10
            scale -= 1
        }
        // Not `BigUInt(value)`: BigInt's generic initialisers run unspecialised from here, and
        // allocate twice for each value; its literal initialiser is specialised in its module.
        self.init(normalized: BigUInt(integerLiteral: value), scale: scale)
    }

    /// 10^`exponent` in a word (`exponent` < 20).
    static func wordPower(_ exponent: Int) -> UInt64 {
        precondition(exponent >= 0 && exponent < 20, "10^\(exponent) does not fit 64 bits")
        var power: UInt64 = 1
        for _ in 0..<exponent { power *= 10 }
        return power
    }

    /// Creates an integer value.
    public init(_ integer: Int) {
        precondition(integer >= 0, "ExactDecimal is non-negative")
        self.init(units: UInt64(integer), places: 0)
    }

    /// Parses plain decimal text: digits, optionally one `.` and more digits. Nil otherwise
    /// (no sign, exponent, spaces or separators).
    ///
    /// Up to 19 digits (every price and size a book holds) are read straight into a 64-bit word;
    /// longer text goes through `BigUInt`. A deep book has hundreds of levels, and is read on the
    /// path of every copy.
    public init?(_ text: some StringProtocol) {
        switch Self.parseWord(text.utf8) {
        case .word(let value, let scale): self.init(units: value, places: scale)
        case .wide: self.init(wide: text)
        case .invalid: return nil
        }
    }

    /// Parses plain decimal text given as its UTF-8 bytes, as ``init(_:)`` does: straight from a
    /// buffer (a book's levels, read in place), without making a `String` of each.
    public init?(utf8 bytes: UnsafeRawBufferPointer) {
        switch Self.parseWord(bytes) {
        case .word(let value, let scale): self.init(units: value, places: scale)
        case .wide: self.init(wide: String(decoding: bytes, as: UTF8.self))
        case .invalid: return nil
        }
    }

    /// What ``parseWord(_:)`` made of a text.
    private enum WordParse {
        /// Up to 19 digits, read into one word, and how many of them are fractional.
        case word(UInt64, scale: Int)
        /// More digits than a word holds (read through `BigUInt` instead).
        case wide
        /// Not plain decimal text.
        case invalid
    }

    /// Plain decimal text of up to 19 digits read into one word.
    @inline(__always)
    private static func parseWord<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> WordParse {
        var value: UInt64 = 0
        var digits = 0
        var scale = 0
        var seenPoint = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return .invalid }
                seenPoint = true
            } else if byte &- UInt8(ascii: "0") < 10 {
                digits += 1
                guard digits <= 19 else { return .wide }
                value = value &* 10 &+ UInt64(byte &- UInt8(ascii: "0"))
                if seenPoint { scale += 1 }
            } else {
                return .invalid
            }
        }
        guard digits > 0 else { return .invalid }
        return .word(value, scale: scale)
    }

    /// The significand when it fits one 64-bit word (the word-arithmetic paths of parsing,
    /// printing, comparing, flooring and rounding).
    private var word: UInt64? {
        significand.words.count <= 1 ? UInt64(significand.words.first ?? 0) : nil
    }

    /// A value already normalised (no trailing fractional zeros; scale 0 for zero).
    private init(normalized significand: BigUInt, scale: Int) {
        self.significand = significand
        self.scale = scale
    }

    /// ``init(_:)`` for text of more than 19 digits.
    private init?(wide text: some StringProtocol) {
        var digits = ""
        var scale = 0
        var seenPoint = false
        var seenDigit = false
        for c in text.unicodeScalars {
            if c == "." {
                guard !seenPoint else { return nil }
                seenPoint = true
            } else if c.properties.numericType == .decimal, c.isASCII {
                digits.unicodeScalars.append(c)
                seenDigit = true
                if seenPoint { scale += 1 }
            } else {
                return nil
            }
        }
        guard seenDigit, let significand = BigUInt(digits) else { return nil }
        self.init(significand: significand, scale: scale)
    }

    /// Whether the value is zero.
    public var isZero: Bool { significand.isZero }

    /// The number of fractional digits (after normalisation).
    public var decimalPlaces: Int { scale }

    /// Plain decimal text, without trailing fractional zeros (`"0.5"`, `"12"`).
    public var description: String {
        let digits = word.map { String($0) } ?? String(significand)
        guard scale > 0 else { return digits }
        let padded =
            digits.count <= scale ? String(repeating: "0", count: scale + 1 - digits.count) + digits : digits
        let split = padded.index(padded.endIndex, offsetBy: -scale)
        return padded[..<split] + "." + padded[split...]
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        let scale = max(lhs.scale, rhs.scale)
        if let a = lhs.exactUnits(places: scale), let b = rhs.exactUnits(places: scale) { return a < b }
        return lhs.significand * BigUInt(10).power(scale - lhs.scale)
            < rhs.significand * BigUInt(10).power(scale - rhs.scale)
    }

    /// The value as a fraction.
    var rational: Rational { Rational(significand, BigUInt(10).power(scale)) }

    /// Sum.
    public static func + (lhs: ExactDecimal, rhs: ExactDecimal) -> ExactDecimal {
        let scale = max(lhs.scale, rhs.scale)
        return ExactDecimal(
            significand: lhs.significand * BigUInt(10).power(scale - lhs.scale)
                + rhs.significand * BigUInt(10).power(scale - rhs.scale), scale: scale)
    }

    /// Difference; nil when it would be negative.
    public static func - (lhs: ExactDecimal, rhs: ExactDecimal) -> ExactDecimal? {
        let scale = max(lhs.scale, rhs.scale)
        let a = lhs.significand * BigUInt(10).power(scale - lhs.scale)
        let b = rhs.significand * BigUInt(10).power(scale - rhs.scale)
        return a >= b ? ExactDecimal(significand: a - b, scale: scale) : nil
    }

    /// Product.
    public static func * (lhs: ExactDecimal, rhs: ExactDecimal) -> ExactDecimal {
        ExactDecimal(significand: lhs.significand * rhs.significand, scale: lhs.scale + rhs.scale)
    }

    /// The value rounded toward zero to `places` fractional digits.
    public func floored(toPlaces places: Int) -> ExactDecimal {
        guard scale > places else { return self }
        if let units = flooredUnits(places: places) { return ExactDecimal(units: units, places: places) }
        return ExactDecimal(
            significand: significand / BigUInt(10).power(scale - places), scale: places)
    }

    /// Whether the value is a whole multiple of `step` (a non-zero decimal).
    public func isMultiple(of step: ExactDecimal) -> Bool {
        let scale = max(self.scale, step.scale)
        let a = significand * BigUInt(10).power(scale - self.scale)
        let b = step.significand * BigUInt(10).power(scale - step.scale)
        return !b.isZero && (a % b).isZero
    }

    /// The value × 10^`places`, rounded toward zero, when the digits fit in 64 bits (every price
    /// and size a book holds); nil otherwise, or when the result does not fit. Word arithmetic,
    /// for the hundreds of levels of a book read on the path of each copy.
    public func flooredUnits(places: Int) -> UInt64? {
        guard places >= 0, let value = word else { return nil }
        if scale <= places { return exactUnits(places: places) }
        // 10^20 exceeds every 64-bit value.
        guard scale - places < 20 else { return 0 }
        return value / Self.wordPower(scale - places)
    }

    /// The value × 10^`places`, when that is a whole number that fits 64 bits; nil otherwise.
    public func exactUnits(places: Int) -> UInt64? {
        guard places >= scale, let value = word else { return nil }
        // 10^20 exceeds every 64-bit value: only zero fits.
        guard places - scale < 20 else { return value == 0 ? 0 : nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: Self.wordPower(places - scale))
        return overflow ? nil : product
    }

    /// The value × 10^`places`, rounded half to even (as ``Rational/roundedHalfEven(_:)``), when
    /// the digits fit 64 bits and so does the result; nil otherwise.
    func roundedHalfEvenUnits(places: Int) -> UInt64? {
        guard places >= 0, let value = word else { return nil }
        if scale <= places { return exactUnits(places: places) }
        // Below half a unit whatever the digits: a word is under 2^64 < 5 × 10^19.
        guard scale - places < 20 else { return 0 }
        let divisor = Self.wordPower(scale - places)
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        let rest = divisor - remainder
        let up = remainder > rest || (remainder == rest && quotient % 2 == 1)
        return up ? quotient + 1 : quotient
    }

    /// The value times 10^`places`, if that is a whole number that fits 256 bits (token units).
    public func scaledInteger(places: Int) -> UInt256? {
        guard scale <= places else { return nil }
        return UInt256(bigUInt: significand * BigUInt(10).power(places - scale))
    }
}

/// A non-negative fraction, for the one division (market BUY) in the amount rules.
struct Rational: Sendable {
    var numerator: BigUInt
    var denominator: BigUInt

    init(_ numerator: BigUInt, _ denominator: BigUInt) {
        precondition(!denominator.isZero, "zero denominator")
        self.numerator = numerator
        self.denominator = denominator
    }

    init(_ decimal: ExactDecimal) { self = decimal.rational }

    static func * (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)
    }

    static func / (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.denominator, a.denominator * b.numerator)
    }

    /// Whether more than `places` fractional digits are needed to write the value.
    func hasMoreDecimals(than places: Int) -> Bool {
        !((numerator * BigUInt(10).power(places)) % denominator).isZero
    }

    /// Rounded toward zero to `places` fractional digits (Python's `floor(x * 10^d) / 10^d`).
    func floored(_ places: Int) -> ExactDecimal {
        ExactDecimal(significand: numerator * BigUInt(10).power(places) / denominator, scale: places)
    }

    /// Rounded up to `places` fractional digits (Python's `ceil(x * 10^d) / 10^d`).
    func ceiled(_ places: Int) -> ExactDecimal {
        let (q, r) = (numerator * BigUInt(10).power(places)).quotientAndRemainder(dividingBy: denominator)
        return ExactDecimal(significand: r.isZero ? q : q + 1, scale: places)
    }

    /// Rounded to nearest at `places` fractional digits, ties to even (Python's `round`).
    func roundedHalfEven(_ places: Int) -> ExactDecimal {
        let (q, r) = (numerator * BigUInt(10).power(places)).quotientAndRemainder(dividingBy: denominator)
        let twice = r * 2
        let up = twice > denominator || (twice == denominator && q % 2 == 1)
        return ExactDecimal(significand: up ? q + 1 : q, scale: places)
    }
}

extension UInt256 {
    /// The value of a `BigUInt`, if it fits 256 bits.
    init?(bigUInt value: BigUInt) {
        guard value.bitWidth <= 256 else { return nil }
        var limbs: [UInt64] = value.words.map { UInt64($0) }
        while limbs.count < 4 { limbs.append(0) }
        self.init(limbs[3], limbs[2], limbs[1], limbs[0])
    }

    /// The value as a `BigUInt`.
    var bigUInt: BigUInt { BigUInt(words: [UInt(w3), UInt(w2), UInt(w1), UInt(w0)]) }
}
