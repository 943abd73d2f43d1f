import EVM
import Polymarket

/// The exposure a check sees: what the ledger holds plus what orders in flight have reserved.
public struct ExposureView: Hashable, Sendable {
    /// Cost basis + reserved in the token.
    public var token: Fixed6
    /// Cost basis + reserved in the market (zero when the market is unknown).
    public var market: Fixed6
    /// Total cost basis + reserved.
    public var total: Fixed6
    /// Cash not reserved by orders in flight.
    public var availableCash: Fixed6
    /// Today's PnL (realised + marked).
    public var dailyPnL: Fixed6

    /// Creates a view.
    public init(token: Fixed6, market: Fixed6, total: Fixed6, availableCash: Fixed6, dailyPnL: Fixed6) {
        self.token = token
        self.market = market
        self.total = total
        self.availableCash = availableCash
        self.dailyPnL = dailyPnL
    }
}

/// The risk rules, pure functions that return the first rule a trade breaks, with its numbers.
public enum RiskRules {
    /// Staleness and allow/deny lists, checked before anything is fetched or sized.
    ///
    /// - Parameters:
    ///   - blockTime: the target trade's block timestamp, if the caller knows it.
    ///   - now: when the trade is seen.
    ///   - market: the token's market, when known (needed only when market lists are configured).
    public static func admission(
        tokenId: UInt256, market: MarketID?, blockTime: UnixTime?, now: UnixTime, limits: RiskLimits
    ) -> SkipReason? {
        if let maxAge = limits.maxTradeAgeSeconds, let blockTime {
            let age = (now.milliseconds - blockTime.milliseconds) / 1000
            if age > maxAge { return .staleTrade(ageSeconds: age, limitSeconds: maxAge) }
        }
        if limits.deniedTokens.contains(tokenId) { return .tokenDenied(token: tokenId) }
        if let market, limits.deniedMarkets.contains(market) { return .marketDenied(market: market) }
        if limits.allowedTokens != nil || limits.allowedMarkets != nil {
            let tokenAllowed = limits.allowedTokens?.contains(tokenId) ?? false
            let marketAllowed = market.map { limits.allowedMarkets?.contains($0) ?? false } ?? false
            if !tokenAllowed && !marketAllowed { return .notAllowed(token: tokenId, market: market) }
        }
        return nil
    }

    /// The slippage guard: the book's best or walked price against the target's fill price.
    /// BUY: skip when `(book − target) / target > limit`; SELL: when `(target − book) / target > limit`.
    /// Compared exactly (cross-multiplied); the deviation in the reason is rounded half-even.
    /// An empty side skips with `no_liquidity`.
    public static func slippage(
        side: Side, shares: Fixed6, targetPrice: Fixed6, book: MarketBook, limits: RiskLimits
    ) -> SkipReason? {
        guard let maxSlippage = limits.maxSlippage else { return nil }
        let price: Fixed6?
        switch limits.slippageReference {
        case .best: price = book.bestPrice(taking: side)
        case .walked: price = book.walkedPrice(taking: side, shares: shares)
        }
        guard let bookPrice = price else { return .noLiquidity(side: side) }
        let worse = side == .buy ? bookPrice - targetPrice : targetPrice - bookPrice
        guard worse.isPositive, targetPrice.isPositive else { return nil }
        // worse / target > limit  ⇔  worse × 10⁶ > limit × target (all in millionths; prices ≤ 1).
        guard worse.micros * Fixed6.scale > maxSlippage.micros * targetPrice.micros else { return nil }
        let deviation = Fixed6.divide(worse, targetPrice, rounding: .halfEven) ?? .zero
        return .slippage(
            side: side, reference: limits.slippageReference, bookPrice: bookPrice, targetPrice: targetPrice,
            deviation: deviation, limit: maxSlippage)
    }

    /// The limits on a BUY of `collateral`, in this order: per-order minimum and maximum, daily loss,
    /// position per token, position per market, total exposure, available balance.
    public static func buy(
        collateral: Fixed6, market: MarketID?, exposure: ExposureView, limits: RiskLimits
    ) -> SkipReason? {
        if let minimum = limits.minOrderCollateral, collateral < minimum {
            return .belowMinimumCollateral(collateral: collateral, minimum: minimum)
        }
        if let maximum = limits.maxOrderCollateral, collateral > maximum {
            return .maxOrder(collateral: collateral, limit: maximum)
        }
        if let limit = limits.dailyLossLimit, exposure.dailyPnL <= -limit, exposure.dailyPnL.isNegative {
            return .dailyLoss(pnl: exposure.dailyPnL, limit: limit)
        }
        if let limit = limits.maxPositionPerToken, exposure.token + collateral > limit {
            return .maxPositionToken(current: exposure.token, order: collateral, limit: limit)
        }
        if let limit = limits.maxPositionPerMarket, let market, exposure.market + collateral > limit {
            return .maxPositionMarket(
                market: market, current: exposure.market, order: collateral, limit: limit)
        }
        if let limit = limits.maxTotalExposure, exposure.total + collateral > limit {
            return .maxExposure(current: exposure.total, order: collateral, limit: limit)
        }
        if collateral > exposure.availableCash {
            return .insufficientBalance(required: collateral, available: exposure.availableCash)
        }
        return nil
    }
}
