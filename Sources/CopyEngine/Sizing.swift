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
        limitPrice: Fixed6, market: MarketRules, maxCollateral: Fixed6? = nil
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
        return finish(side: .buy, shares: shares, limitPrice: limitPrice, market: market)
    }

    /// The size of a SELL copy (an exit), as the fraction of our position the target sold of theirs.
    public static func sell(
        ourShares: Fixed6, targetSold: Fixed6, targetHolding: TargetHolding,
        unknownHolding: UnknownHoldingExit,
        tokenId: UInt256, limitPrice: Fixed6, market: MarketRules
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
        return finish(side: .sell, shares: shares, limitPrice: limitPrice, market: market)
    }

    /// `floor(budget / price)` to six decimals (the size step is applied by the caller).
    static func sharesFor(budget: Fixed6, price: Fixed6) -> Fixed6 {
        guard budget.isPositive, price.isPositive else { return .zero }
        return Fixed6.divide(budget, price, rounding: .down) ?? .zero
    }

    static func finish(side: Side, shares: Fixed6, limitPrice: Fixed6, market: MarketRules) -> SizingResult {
        guard shares >= market.minOrderSize, shares.isPositive else {
            return .skip(.belowMinimumShares(shares: shares, minimum: market.minOrderSize))
        }
        let collateral = orderCollateral(side: side, shares: shares, price: limitPrice, tick: market.tickSize)
        return .order(SizedOrder(shares: shares, collateral: collateral))
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
