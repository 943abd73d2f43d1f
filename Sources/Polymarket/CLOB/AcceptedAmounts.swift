import EVM

/// The amount precision the CLOB accepts, which depends on the order type and not only on the tick.
///
/// - Market orders (FOK, FAK): the maker amount has at most 2 decimals and the taker amount at most
///   4, whatever the tick (BUY: maker = collateral, taker = shares; SELL: maker = shares, taker =
///   collateral). The refusal reads `invalid amounts, the market buy orders maker amount supports a
///   max accuracy of 2 decimals, taker amount a max of 4 decimals`. Sources: py-clob-client-v2
///   issue #99, clob-client PR #266, rs-clob-client issues #114 and #261, rs-clob-client-v2 #59,
///   py-clob-client #253; a limit-rounded order sent as FAK is judged by this rule
///   (py-clob-client #121).
/// - Limit orders (GTC, GTD): shares at most 2 decimals, collateral at most the tick's decimals + 2.
///   A limit BUY on a 0.01 tick is refused with `the buy orders maker amount supports a max
///   accuracy of 4 decimals, taker amount a max of 2 decimals` (py-clob-client #305).
public enum AmountPrecision {
    /// Decimals of a market order's maker amount.
    public static let marketMakerDecimals = 2
    /// Decimals of a market order's taker amount.
    public static let marketTakerDecimals = 4

    /// Whether `orderType` is judged by the market-order rule.
    public static func isMarket(_ orderType: OrderType) -> Bool { orderType == .fok || orderType == .fak }

    /// The decimals allowed for the maker and taker amounts of an order.
    public static func decimals(
        side: Side, orderType: OrderType, tick: TickSize
    ) -> (maker: Int, taker: Int) {
        if isMarket(orderType) { return (marketMakerDecimals, marketTakerDecimals) }
        let shares = tick.sizeDecimals
        let collateral = tick.amountDecimals
        return side == .buy ? (collateral, shares) : (shares, collateral)
    }

    /// The CLOB's refusal text for amounts with too many decimals, or nil when they are accepted.
    public static func violation(
        side: Side, orderType: OrderType, tick: TickSize, makerAmount: UInt256, takerAmount: UInt256
    ) -> String? {
        let allowed = decimals(side: side, orderType: orderType, tick: tick)
        guard has(makerAmount, atMost: allowed.maker), has(takerAmount, atMost: allowed.taker) else {
            let kind = isMarket(orderType) ? "market \(side.text.lowercased())" : side.text.lowercased()
            return "invalid amounts, the \(kind) orders maker amount supports a max accuracy of "
                + "\(allowed.maker) decimals, taker amount a max of \(allowed.taker) decimals"
        }
        return nil
    }

    /// Whether an amount in token units (6 decimals) has at most `decimals` decimals.
    static func has(_ units: UInt256, atMost decimals: Int) -> Bool {
        guard decimals < 6 else { return true }
        return units.quotientAndRemainder(dividingBy: ExactDecimal.wordPower(6 - decimals)).remainder == 0
    }
}

/// The amounts of a market order (FAK or FOK) that the CLOB accepts: the flat precision rule of
/// ``AmountPrecision``, with the limit price as the worst price the order can trade at.
///
/// A resting order's price is on the tick, so a taker order can only meet prices on the tick: a
/// BUY whose amounts give a price P meets asks at or below P, the highest of which is P floored to
/// the tick; a SELL meets bids at or above P ceiled to the tick. That tick price is the order's
/// worst price, and these amounts make it exactly the limit (never worse, and never a tick better,
/// which would leave the limit's own level untouched).
///
/// Unlike the official client's market rounding (``AmountRounding/market(side:price:amount:tick:)``,
/// which gives the taker amount the tick's decimals + 2 and is refused on 0.001 and 0.0001 ticks),
/// these amounts are accepted on every tick.
public enum MarketOrderAmounts {
    /// A market BUY that spends at most `collateral` (token units) at a worst price of `limit` (token
    /// units per share): maker = collateral floored to 2 decimals, taker = maker / limit floored to
    /// 4 decimals. Nil when nothing is left or the worst price would not be `limit` (amounts far
    /// below any market's minimum).
    public static func buy(collateral: UInt64, limit: UInt64, tick: TickSize) -> OrderAmounts? {
        guard limit > 0 else { return nil }
        let maker = floor(collateral, decimals: AmountPrecision.marketMakerDecimals)
        let taker = floor(
            UInt64(clamping: UInt128(maker) * 1_000_000 / UInt128(limit)),
            decimals: AmountPrecision.marketTakerDecimals)
        let amounts = OrderAmounts(makerAmount: UInt256(maker), takerAmount: UInt256(taker))
        return worstPrice(side: .buy, amounts, tick: tick) == limit ? amounts : nil
    }

    /// A market SELL of `shares` (token units, at most 2 decimals are kept) at a worst price of
    /// `limit`: maker = shares floored to 2 decimals, taker = maker × limit floored to 4 decimals.
    /// Nil when nothing is left or the worst price would not be `limit`.
    public static func sell(shares: UInt64, limit: UInt64, tick: TickSize) -> OrderAmounts? {
        let maker = floor(shares, decimals: AmountPrecision.marketMakerDecimals)
        let taker = floor(
            UInt64(clamping: UInt128(maker) * UInt128(limit) / 1_000_000),
            decimals: AmountPrecision.marketTakerDecimals)
        let amounts = OrderAmounts(makerAmount: UInt256(maker), takerAmount: UInt256(taker))
        return worstPrice(side: .sell, amounts, tick: tick) == limit ? amounts : nil
    }

    /// The worst price (token units per share, on the tick) an order with `amounts` can trade at:
    /// BUY the amounts' price floored to the tick, SELL ceiled to it. Nil for zero amounts or
    /// amounts above 2^64 units.
    public static func worstPrice(side: Side, _ amounts: OrderAmounts, tick: TickSize) -> UInt64? {
        guard let maker = amounts.makerAmount.uint128, let taker = amounts.takerAmount.uint128,
            maker > 0, taker > 0, maker <= UInt128(UInt64.max), taker <= UInt128(UInt64.max)
        else { return nil }
        let (shares, collateral) = side == .buy ? (taker, maker) : (maker, taker)
        let step = UInt128(tick.micros)
        // price in units × shares = collateral × 10^6; on the tick: multiples of `step` units.
        let scaled = collateral * 1_000_000
        let perStep = shares * step
        let steps = side == .buy ? scaled / perStep : (scaled + perStep - 1) / perStep
        return UInt64(clamping: steps * step)
    }

    static func floor(_ units: UInt64, decimals: Int) -> UInt64 {
        let step = ExactDecimal.wordPower(6 - decimals)
        return units - units % step
    }
}
