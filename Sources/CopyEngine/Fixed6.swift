import EVM
import Polymarket

/// A signed exact amount with six decimals: collateral, shares, prices, PnL and ratios.
///
/// Kept as an integer count of millionths (`Int128`), so sums are exact and every division
/// states its rounding (``mulDiv(_:_:_:rounding:)``). Six decimals is the precision of
/// collateral and outcome tokens on Polymarket, so every amount that moves on chain is exact.
/// No binary floating point touches money anywhere in the engine.
public struct Fixed6: Hashable, Sendable, Comparable, AdditiveArithmetic, CustomStringConvertible {
    /// The value in millionths (1 = 0.000001).
    public var micros: Int128

    /// One in millionths.
    public static let scale: Int128 = 1_000_000

    /// The largest magnitude the engine accepts from the outside (10^15 whole units, the bound the
    /// order builder also uses). Keeps every product of two amounts inside 256 bits.
    public static let limit = Fixed6(micros: 1_000_000_000_000_000 * 1_000_000)

    /// Zero.
    public static let zero = Fixed6(micros: 0)
    /// One.
    public static let one = Fixed6(micros: scale)

    /// Creates a value from millionths.
    @inlinable
    public init(micros: Int128) { self.micros = micros }

    /// Creates a whole number.
    public init(_ whole: Int) { self.micros = Int128(whole) * Self.scale }

    /// Parses plain decimal text with an optional leading `-` and at most six decimals
    /// (`"0.52"`, `"-3.5"`, `"10"`). Nil otherwise, or beyond ``limit``.
    public init?(_ text: some StringProtocol) {
        var chars = Substring(text)
        var negative = false
        if chars.first == "-" {
            negative = true
            chars = chars.dropFirst()
        }
        let parts = chars.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholeText = parts.first, parts.count <= 2 else { return nil }
        let fractionText = parts.count == 2 ? parts[1] : ""
        guard !wholeText.isEmpty || !fractionText.isEmpty, fractionText.count <= 6,
            (wholeText + fractionText).allSatisfy({ $0.isASCII && $0.isNumber }),
            wholeText.count <= 16
        else { return nil }
        let whole = wholeText.isEmpty ? 0 : Int128(wholeText)!
        let fraction =
            fractionText.isEmpty
            ? 0 : Int128(fractionText + String(repeating: "0", count: 6 - fractionText.count))!
        let value = Fixed6(micros: (whole * Self.scale + fraction) * (negative ? -1 : 1))
        guard value.magnitudeWithinLimit else { return nil }
        self = value
    }

    /// The exact value of a six-decimal token amount; nil beyond ``limit``.
    public init?(_ amount: FixedPoint6) {
        guard let units = amount.units.uint128, units <= UInt128(Self.limit.micros) else { return nil }
        self.micros = Int128(units)
    }

    /// The exact value of a fill price; nil beyond ``limit``.
    public init?(_ price: Price) {
        guard let total = price.microsTotal, Int128(total) <= Self.limit.micros else { return nil }
        self.micros = Int128(total)
    }

    /// The value of an exact decimal, rounded toward zero to six decimals; nil beyond ``limit``.
    public init?(_ decimal: ExactDecimal) {
        if let units = decimal.flooredUnits(places: 6) {
            guard Int128(units) <= Self.limit.micros else { return nil }
            self.micros = Int128(units)
            return
        }
        guard let units = decimal.floored(toPlaces: 6).scaledInteger(places: 6), let small = units.uint128,
            small <= UInt128(Self.limit.micros)
        else { return nil }
        self.micros = Int128(small)
    }

    /// The value as an exact decimal; nil when negative.
    public var exactDecimal: ExactDecimal? {
        guard micros >= 0 else { return nil }
        if let units = UInt64(exactly: micros) { return ExactDecimal(units: units, places: 6) }
        return ExactDecimal(plainString)
    }

    /// The value as a six-decimal token amount; nil when negative.
    public var fixedPoint6: FixedPoint6? {
        guard micros >= 0 else { return nil }
        return FixedPoint6(units: UInt256(uint128: UInt128(micros)))
    }

    var magnitudeWithinLimit: Bool { micros.magnitude <= Self.limit.micros.magnitude }

    /// Whether the value is zero.
    public var isZero: Bool { micros == 0 }
    /// Whether the value is below zero.
    public var isNegative: Bool { micros < 0 }
    /// Whether the value is above zero.
    public var isPositive: Bool { micros > 0 }

    /// The shortest decimal text: `"0.57"`, `"-3.2"`, `"10"`.
    public var description: String { plainString }

    /// Always six decimals: `"0.570000"`, `"-3.200000"` (stable text for storage and JSON).
    public var fixedString: String { format(trim: false) }

    var plainString: String { format(trim: true) }

    private func format(trim: Bool) -> String {
        let (whole, fraction) = micros.magnitude.quotientAndRemainder(dividingBy: UInt128(Self.scale))
        var fractionText = String(fraction)
        fractionText = String(repeating: "0", count: 6 - fractionText.count) + fractionText
        if trim {
            while fractionText.last == "0" { fractionText.removeLast() }
        }
        let sign = micros < 0 ? "-" : ""
        return sign + String(whole) + (fractionText.isEmpty ? "" : "." + fractionText)
    }

    /// The value rounded to `places` decimals (0...6) as text, e.g. `0.5` → `"0.50"` for two places.
    public func formatted(places: Int, rounding: Rounding = .halfEven) -> String {
        let step = Fixed6.pow10(6 - places)
        let rounded = Fixed6.divide(micros, by: step, rounding: rounding) * step
        var text = Fixed6(micros: rounded).fixedString
        if places < 6 { text.removeLast(6 - places) }
        if places == 0 { text.removeLast() }
        return text
    }

    /// The value as a percentage with `places` decimals, e.g. 0.09615 → `"9.6%"`.
    public func percent(places: Int = 1) -> String {
        Fixed6(micros: micros * 100).formatted(places: places) + "%"
    }

    /// The exact value as a percentage, shortest form: 0.05 → `"5%"`, 0.125 → `"12.5%"`.
    public var exactPercent: String { Fixed6(micros: micros * 100).description + "%" }

    @inlinable
    public static func < (lhs: Fixed6, rhs: Fixed6) -> Bool { lhs.micros < rhs.micros }

    @inlinable
    public static func + (lhs: Fixed6, rhs: Fixed6) -> Fixed6 { Fixed6(micros: lhs.micros + rhs.micros) }

    @inlinable
    public static func - (lhs: Fixed6, rhs: Fixed6) -> Fixed6 { Fixed6(micros: lhs.micros - rhs.micros) }

    /// The negated value.
    public static prefix func - (value: Fixed6) -> Fixed6 { Fixed6(micros: -value.micros) }

    /// The larger of zero and the value.
    public var clampedAtZero: Fixed6 { micros < 0 ? .zero : self }

    // MARK: Rounded arithmetic

    /// How a result that needs more than six decimals is rounded.
    public enum Rounding: Sendable, Hashable {
        /// Toward negative infinity.
        case down
        /// Toward positive infinity.
        case up
        /// To the nearest, ties to even.
        case halfEven
    }

    /// `a × b` (six decimals each), rounded to six decimals.
    public static func multiply(_ a: Fixed6, _ b: Fixed6, rounding: Rounding) -> Fixed6? {
        mulDiv(a, b, .one, rounding: rounding)
    }

    /// `a / b`, rounded to six decimals; nil when `b` is zero or the result overflows.
    public static func divide(_ a: Fixed6, _ b: Fixed6, rounding: Rounding) -> Fixed6? {
        mulDiv(a, .one, b, rounding: rounding)
    }

    /// `a × b / c` computed exactly in 256 bits, then rounded to six decimals; nil when `c` is
    /// zero or the result does not fit.
    public static func mulDiv(_ a: Fixed6, _ b: Fixed6, _ c: Fixed6, rounding: Rounding) -> Fixed6? {
        guard c.micros != 0 else { return nil }
        // value(a)·value(b)/value(c) in micros = a.micros · b.micros / c.micros.
        let negative = ((a.micros < 0) != (b.micros < 0)) != (c.micros < 0)
        let product = a.micros.magnitude.multipliedFullWidth(by: b.micros.magnitude)
        let divisor = c.micros.magnitude
        guard product.high < divisor else { return nil }
        let (q, r) = divisor.dividingFullWidth(product)
        guard let magnitude = roundMagnitude(q, remainder: r, divisor: divisor, negative: negative, rounding),
            magnitude <= UInt128(Int128.max)
        else { return nil }
        let value = Int128(magnitude)
        return Fixed6(micros: negative ? -value : value)
    }

    private static func roundMagnitude(
        _ q: UInt128, remainder r: UInt128, divisor: UInt128, negative: Bool, _ rounding: Rounding
    ) -> UInt128? {
        guard r != 0 else { return q }
        let awayFromZero: Bool
        switch rounding {
        case .down: awayFromZero = negative
        case .up: awayFromZero = !negative
        case .halfEven:
            let half = divisor - r  // r > divisor - r  ⇔  2r > divisor, without overflow
            awayFromZero = r > half || (r == half && q & 1 == 1)
        }
        if !awayFromZero { return q }
        return q == .max ? nil : q + 1
    }

    /// Integer division of millionths with rounding (for steps and percentages).
    static func divide(_ value: Int128, by divisor: Int128, rounding: Rounding) -> Int128 {
        let negative = (value < 0) != (divisor < 0)
        let (q, r) = value.magnitude.quotientAndRemainder(dividingBy: divisor.magnitude)
        let magnitude = roundMagnitude(
            q, remainder: r, divisor: divisor.magnitude, negative: negative, rounding)!
        return negative ? -Int128(magnitude) : Int128(magnitude)
    }

    /// The value rounded to a multiple of `step` (a positive amount such as a tick or 0.01 shares).
    public func rounded(toMultipleOf step: Fixed6, _ rounding: Rounding) -> Fixed6 {
        precondition(step.micros > 0, "step must be positive")
        return Fixed6(micros: Fixed6.divide(micros, by: step.micros, rounding: rounding) * step.micros)
    }

    /// The value rounded to `places` decimals (0...6).
    public func rounded(toPlaces places: Int, _ rounding: Rounding) -> Fixed6 {
        rounded(toMultipleOf: Fixed6(micros: Fixed6.pow10(6 - places)), rounding)
    }

    static func pow10(_ n: Int) -> Int128 {
        var value: Int128 = 1
        for _ in 0..<max(n, 0) { value *= 10 }
        return value
    }
}

extension Fixed6: Codable {
    /// Decodes the ``fixedString`` form.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Fixed6(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "bad amount \(text)"))
        }
        self = value
    }

    /// Encodes the ``fixedString`` form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fixedString)
    }
}

extension TickSize {
    /// The tick as a ``Fixed6``.
    public var fixed6: Fixed6 { Fixed6(micros: Int128(micros)) }
}
