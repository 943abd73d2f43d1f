import EVM
import Polymarket

/// An order size: shares on the market's size step and the collateral the exchange's amount
/// rules give for them at the limit price.
public struct SizedOrder: Hashable, Sendable {
    public var shares: Fixed6
    public var collateral: Fixed6

    /// Creates a size.
    public init(shares: Fixed6, collateral: Fixed6) {
        self.shares = shares
        self.collateral = collateral
    }
}

/// The outcome of sizing: an order, or a skip with its reason.
public enum SizingResult: Hashable, Sendable {
    case order(SizedOrder)
    case skip(SkipReason)
}

/// What the engine knows of the target's holding of a token before their trade.
public struct TargetHolding: Hashable, Sendable {
    /// Shares the target was seen to hold before the trade (buys minus sells seen; never negative).
    public var sharesBefore: Fixed6

    /// Creates a holding.
    public init(sharesBefore: Fixed6) { self.sharesBefore = sharesBefore }
}

/// The market rules sizing rounds to, in engine amounts.
public struct MarketRules: Hashable, Sendable {
    public var tickSize: TickSize
    /// The minimum order size in shares.
    public var minOrderSize: Fixed6
    public var negRisk: Bool

    /// Creates rules.
    public init(tickSize: TickSize, minOrderSize: Fixed6, negRisk: Bool = false) {
        self.tickSize = tickSize
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
    }

    /// Converts the CLOB's market parameters (a minimum size with more than six decimals is
    /// rounded up to six).
    public init(_ parameters: MarketParameters) {
        let floor = Fixed6(parameters.minOrderSize) ?? Fixed6.limit
        let exact = floor.exactDecimal == parameters.minOrderSize
        self.init(
            tickSize: parameters.tickSize, minOrderSize: exact ? floor : floor + Fixed6(micros: 1),
            negRisk: parameters.negRisk)
    }

    /// The size step (0.01 shares).
    public var sizeStep: Fixed6 { Fixed6(micros: Fixed6.pow10(6 - tickSize.sizeDecimals)) }
}

/// Sizing rules, pure functions of the trade, the rule, the market and our state.
///
/// - BUY: the order's limit price L is the target's price moved by the slippage allowance
///   (``limitPrice(side:targetPrice:maxSlippage:tick:)``). A collateral budget C (fixed, a fraction of
///   the target's collateral, or a fraction of our available balance) buys `floor(C / L)` shares to
///   the size step; a multiple of the target's shares buys `floor(m × shares)`. The collateral is then
///   what the exchange's amount rules (``AmountRounding/limit(side:price:size:tick:)``) give for those
///   shares at L, so it is never above C.
/// - SELL (exits): we sell the same fraction of *our* position as the target sold of *theirs*:
///   `floor(ours × sold / theirsBefore)` to the size step, where `theirsBefore` is the target's
///   holding as seen from the trades the engine has handled (buys minus sells since we started
///   following). When they sell at least what we saw them hold, it is a complete exit and we sell our
///   whole position. When we never saw them hold the token, ``UnknownHoldingExit`` decides: sell all
///   (default) or skip. We never sell more than we hold; holding nothing skips with `no_position`.
/// - Any order below the market's minimum size is skipped with `below_minimum`.
/// - A market order (FAK, FOK: how copies are sent) then takes the amounts the CLOB accepts for
///   market orders (``marketOrder(side:shares:price:tick:)``): a BUY spends what the shares cost at L
///   to the cent (at least $1) for at least that / L shares to 4 decimals; a SELL sells the shares
///   for at least their collateral at L to 4 decimals. A limit order (GTC, GTD) keeps the limit rule.
public enum Sizing {
    /// The worst acceptable price for a copy of a fill at `targetPrice`: BUY
    /// `floor_tick(target × (1 + slippage))`, SELL `ceil_tick(target × (1 − slippage))`, within
    /// [tick, 1 − tick]. Without a slippage allowance, the target's price to the tick.
    public static func limitPrice(
        side: Side, targetPrice: Fixed6, maxSlippage: Fixed6?, tick: TickSize
    ) -> Fixed6 {
        let step = tick.fixed6
        let slip = maxSlippage ?? .zero
        let factor = side == .buy ? Fixed6.one + slip : (Fixed6.one - slip).clampedAtZero
        let raw =
            Fixed6.multiply(targetPrice, factor, rounding: side == .buy ? .down : .up) ?? targetPrice
        let onTick = raw.rounded(toMultipleOf: step, side == .buy ? .down : .up)
        return min(max(onTick, step), Fixed6.one - step)
    }

    /// The size of a BUY copy.
    ///
    /// - Parameters:
    ///   - rule: the wallet's sizing rule.
    ///   - targetShares / targetCollateral: the target's fill.
    ///   - availableBalance: our collateral available for new orders (for ``SizingRule/fractionOfBalance(_:)``).
    ///   - limitPrice: the order's limit price (on the tick).
    ///   - market: the market's rules.
    ///   - maxCollateral: when set, the budget is capped at this (the `clamp_to_max_order` option).
    public static func buy(
        rule: SizingRule, targetShares: Fixed6, targetCollateral: Fixed6, availableBalance: Fixed6,
        limitPrice: Fixed6, market: MarketRules, maxCollateral: Fixed6? = nil, orderType: OrderType = .gtc
    ) -> SizingResult {
        var shares: Fixed6
        switch rule {
        case .fixedCollateral(let amount):
            shares = sharesFor(budget: amount, price: limitPrice)
        case .fractionOfTargetCollateral(let fraction):
            let budget = Fixed6.multiply(targetCollateral, fraction, rounding: .down) ?? .zero
            shares = sharesFor(budget: budget, price: limitPrice)
        case .multipleOfTargetShares(let multiple):
            shares = Fixed6.multiply(targetShares, multiple, rounding: .down) ?? .zero
        case .fractionOfBalance(let fraction):
            let budget = Fixed6.multiply(availableBalance.clampedAtZero, fraction, rounding: .down) ?? .zero
            shares = sharesFor(budget: budget, price: limitPrice)
        }
        shares = shares.rounded(toMultipleOf: market.sizeStep, .down)
        if let cap = maxCollateral {
            let capShares = sharesFor(budget: cap, price: limitPrice).rounded(
                toMultipleOf: market.sizeStep, .down)
            shares = min(shares, capShares)
        }
        return finish(
            side: .buy, shares: shares, limitPrice: limitPrice, market: market, orderType: orderType)
    }

    /// The size of a SELL copy (an exit), as the fraction of our position the target sold of theirs.
    public static func sell(
        ourShares: Fixed6, targetSold: Fixed6, targetHolding: TargetHolding,
        unknownHolding: UnknownHoldingExit,
        tokenId: UInt256, limitPrice: Fixed6, market: MarketRules, orderType: OrderType = .gtc
    ) -> SizingResult {
        guard ourShares.isPositive else { return .skip(.noPosition(token: tokenId)) }
        let before = targetHolding.sharesBefore
        var shares: Fixed6
        if !before.isPositive {
            guard unknownHolding == .sellAll else {
                return .skip(.unknownHolding(token: tokenId, targetShares: targetSold))
            }
            shares = ourShares
        } else if targetSold >= before {
            shares = ourShares
        } else {
            shares = Fixed6.mulDiv(ourShares, targetSold, before, rounding: .down) ?? .zero
        }
        shares = min(shares, ourShares).rounded(toMultipleOf: market.sizeStep, .down)
        return finish(
            side: .sell, shares: shares, limitPrice: limitPrice, market: market, orderType: orderType)
    }

    /// `floor(budget / price)` to six decimals (the size step is applied by the caller).
    static func sharesFor(budget: Fixed6, price: Fixed6) -> Fixed6 {
        guard budget.isPositive, price.isPositive else { return .zero }
        return Fixed6.divide(budget, price, rounding: .down) ?? .zero
    }

    static func finish(
        side: Side, shares: Fixed6, limitPrice: Fixed6, market: MarketRules, orderType: OrderType
    ) -> SizingResult {
        guard shares >= market.minOrderSize, shares.isPositive else {
            return .skip(.belowMinimumShares(shares: shares, minimum: market.minOrderSize))
        }
        guard AmountPrecision.isMarket(orderType) else {
            let collateral = orderCollateral(
                side: side, shares: shares, price: limitPrice, tick: market.tickSize)
            return .order(SizedOrder(shares: shares, collateral: collateral))
        }
        guard let sized = marketOrder(side: side, shares: shares, price: limitPrice, tick: market.tickSize),
            sized.shares >= market.minOrderSize
        else {
            return .skip(.belowMinimumShares(shares: shares, minimum: market.minOrderSize))
        }
        // A marketable BUY spends at least $1: `invalid amount for a marketable BUY order ($0.17),
        // min size: $1` (the CLOB's answer, reported by its users in 2026).
        if side == .buy, sized.collateral < minimumMarketBuy {
            return .skip(.belowMinimumCollateral(collateral: sized.collateral, minimum: minimumMarketBuy))
        }
        return .order(sized)
    }

    /// The least collateral a market BUY may spend.
    public static let minimumMarketBuy = Fixed6.one

    /// A market order (FAK, FOK) for `shares` at a worst price of `price`, with the amounts the CLOB
    /// accepts (``MarketOrderAmounts``): a BUY spends `shares × price` floored to the cent and is
    /// sized as the shares that buys at `price` (4 decimals, never more than `shares`); a SELL sells
    /// `shares` for at least their collateral at `price` (4 decimals). Nil when the amounts round
    /// away.
    public static func marketOrder(side: Side, shares: Fixed6, price: Fixed6, tick: TickSize) -> SizedOrder? {
        guard shares.isPositive, price.isPositive, shares.micros <= Int128(UInt64.max),
            price.micros <= Int128(UInt64.max)
        else { return nil }
        let units = UInt64(shares.micros)
        let limit = UInt64(price.micros)
        let amounts: OrderAmounts?
        switch side {
        case .buy:
            let budget = UInt64(clamping: UInt128(units) * UInt128(limit) / 1_000_000)
            amounts = MarketOrderAmounts.buy(collateral: budget, limit: limit, tick: tick)
        case .sell:
            amounts = MarketOrderAmounts.sell(shares: units, limit: limit, tick: tick)
        }
        guard let amounts, let maker = amounts.makerAmount.uint64, let taker = amounts.takerAmount.uint64
        else { return nil }
        let (sharesUnits, collateralUnits) = side == .buy ? (taker, maker) : (maker, taker)
        return SizedOrder(
            shares: Fixed6(micros: Int128(sharesUnits)), collateral: Fixed6(micros: Int128(collateralUnits)))
    }

    /// The collateral of a limit order by the exchange's amount rules: the maker amount of a BUY,
    /// the taker amount of a SELL.
    public static func orderCollateral(side: Side, shares: Fixed6, price: Fixed6, tick: TickSize) -> Fixed6 {
        guard let p = price.exactDecimal, let s = shares.exactDecimal else { return .zero }
        let amounts = AmountRounding.limit(side: side, price: p, size: s, tick: tick)
        let units = side == .buy ? amounts.makerAmount : amounts.takerAmount
        return Fixed6(FixedPoint6(units: units)) ?? Fixed6.limit
    }
}
