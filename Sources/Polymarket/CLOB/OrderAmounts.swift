import EVM

/// The price steps a Polymarket market can have, with the decimals the CLOB allows for each.
public enum TickSize: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case tenth = "0.1"
    case hundredth = "0.01"
    case thousandth = "0.001"
    case tenThousandth = "0.0001"
    /// V2: half a cent.
    case halfCent = "0.005"
    /// V2: a quarter of a cent.
    case quarterCent = "0.0025"

    /// Parses the text the CLOB sends (`"0.01"`; trailing zeros and numbers such as `0.010` accepted).
    public init?(text: String) {
        guard let value = ExactDecimal(text),
            let tick = TickSize.allCases.first(where: { ExactDecimal($0.rawValue) == value })
        else { return nil }
        self = tick
    }

    /// The step as a decimal.
    public var value: ExactDecimal { ExactDecimal(units: micros, places: 6) }

    /// The step in millionths.
    public var micros: UInt64 {
        switch self {
        case .tenth: 100_000
        case .hundredth: 10_000
        case .thousandth: 1_000
        case .tenThousandth: 100
        case .halfCent: 5_000
        case .quarterCent: 2_500
        }
    }

    /// Fractional digits allowed in a price.
    public var priceDecimals: Int {
        switch self {
        case .tenth: 1
        case .hundredth: 2
        case .thousandth, .halfCent: 3
        case .tenThousandth, .quarterCent: 4
        }
    }

    /// Fractional digits allowed in a size (shares).
    public var sizeDecimals: Int { 2 }

    /// Fractional digits allowed in the collateral/share amount computed from price × size.
    public var amountDecimals: Int { priceDecimals + 2 }

    /// The lowest valid price (one tick).
    public var minPrice: ExactDecimal { value }

    /// The highest valid price (1 − tick).
    public var maxPrice: ExactDecimal { (ExactDecimal(1) - value)! }

    public var description: String { rawValue }
}

/// An order's side.
public enum Side: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case buy = 0
    case sell = 1

    /// `"BUY"` or `"SELL"`, as the CLOB's JSON writes it.
    public var text: String { self == .buy ? "BUY" : "SELL" }

    public var description: String { text }
}

/// The maker and taker amounts of an order, in token units (6 decimals).
public struct OrderAmounts: Hashable, Sendable {
    /// What the maker gives: collateral on a BUY, shares on a SELL.
    public var makerAmount: UInt256
    /// What the maker receives: shares on a BUY, collateral on a SELL.
    public var takerAmount: UInt256

    /// Creates amounts.
    public init(makerAmount: UInt256, takerAmount: UInt256) {
        self.makerAmount = makerAmount
        self.takerAmount = takerAmount
    }
}

/// Price × size → amounts, by the rules of Polymarket's official client (`py-clob-client-v2`
/// `OrderBuilder.get_order_amounts` / `get_market_order_amounts`), computed in exact decimals.
///
/// The official client runs the same steps on binary floats, which for a few per cent of inputs
/// lose a unit in the last place (`0.29 * 100` floors to 28, so 0.29 shares become 0.28). These
/// functions give the result the steps mean; everywhere the client's floats are exact the two agree
/// digit for digit (see `Tests/Fixtures/clob_rounding.json`).
public enum AmountRounding {
    /// A limit order: the price is rounded to the tick's price decimals (half to even), the size
    /// floored to 2 decimals, and collateral = shares × price (at most the tick's amount decimals;
    /// otherwise rounded up at amount + 4 decimals and then, if still longer, floored).
    public static func limit(
        side: Side, price: ExactDecimal, size: ExactDecimal, tick: TickSize
    ) -> OrderAmounts {
        wordLimit(side: side, price: price, size: size, tick: tick)
            ?? exactLimit(side: side, price: price, size: size, tick: tick)
    }

    /// ``limit(side:price:size:tick:)`` in word arithmetic, when the price's and the size's digits
    /// fit 64 bits (nil otherwise). The price rounded to the tick's d decimals times the size floored
    /// to 2 has exactly d + 2 decimals, the amount decimals: the client's fit step leaves it as it
    /// is, and with d + 2 ≤ 6 its token units are exact.
    static func wordLimit(
        side: Side, price: ExactDecimal, size: ExactDecimal, tick: TickSize
    ) -> OrderAmounts? {
        let places = tick.priceDecimals + tick.sizeDecimals
        guard places == tick.amountDecimals, places <= 6,
            let p = price.roundedHalfEvenUnits(places: tick.priceDecimals),
            let s = size.flooredUnits(places: tick.sizeDecimals)
        else { return nil }
        let (collateral, overflow) = (UInt128(s) * UInt128(p)).multipliedReportingOverflow(
            by: UInt128(ExactDecimal.wordPower(6 - places)))
        guard !overflow else { return nil }
        let shares = UInt256(uint128: UInt128(s) * UInt128(ExactDecimal.wordPower(6 - tick.sizeDecimals)))
        switch side {
        case .buy: return OrderAmounts(makerAmount: UInt256(uint128: collateral), takerAmount: shares)
        case .sell: return OrderAmounts(makerAmount: shares, takerAmount: UInt256(uint128: collateral))
        }
    }

    /// ``limit(side:price:size:tick:)`` in exact fractions, step by step as the client's code goes
    /// (any digits).
    static func exactLimit(
        side: Side, price: ExactDecimal, size: ExactDecimal, tick: TickSize
    ) -> OrderAmounts {
        let p = price.rational.roundedHalfEven(tick.priceDecimals)
        let shares = size.floored(toPlaces: tick.sizeDecimals)
        let collateral = fit(Rational(shares) * Rational(p), decimals: tick.amountDecimals)
        switch side {
        case .buy: return OrderAmounts(makerAmount: tokenUnits(collateral), takerAmount: tokenUnits(shares))
        case .sell: return OrderAmounts(makerAmount: tokenUnits(shares), takerAmount: tokenUnits(collateral))
        }
    }

    /// A market order: the price (the worst acceptable) is floored to the tick's price decimals and
    /// the amount to 2 decimals. On a BUY `amount` is collateral and shares = amount / price; on a
    /// SELL `amount` is shares and collateral = amount × price. A zero price gives a zero BUY taker amount.
    public static func market(
        side: Side, price: ExactDecimal, amount: ExactDecimal, tick: TickSize
    ) -> OrderAmounts {
        let p = price.floored(toPlaces: tick.priceDecimals)
        let maker = amount.floored(toPlaces: tick.sizeDecimals)
        let taker: ExactDecimal
        switch side {
        case .buy:
            taker =
                p.isZero ? ExactDecimal(0) : fit(Rational(maker) / Rational(p), decimals: tick.amountDecimals)
        case .sell:
            taker = fit(Rational(maker) * Rational(p), decimals: tick.amountDecimals)
        }
        return OrderAmounts(makerAmount: tokenUnits(maker), takerAmount: tokenUnits(taker))
    }

    /// The client's `decimal_places > amount → round_up(amount + 4) → round_down(amount)` step.
    static func fit(_ value: Rational, decimals: Int) -> ExactDecimal {
        guard value.hasMoreDecimals(than: decimals) else { return value.floored(decimals) }
        let up = value.ceiled(decimals + 4)
        guard up.decimalPlaces > decimals else { return up }
        return up.floored(toPlaces: decimals)
    }

    /// × 10^6, rounded half to even (the client's `to_token_decimals`). Values beyond 2^256
    /// saturate; ``OrderBuilder`` rejects sizes anywhere near that before it gets here.
    static func tokenUnits(_ value: ExactDecimal) -> UInt256 {
        value.rational.roundedHalfEven(6).scaledInteger(places: 6) ?? UInt256.max
    }
}
