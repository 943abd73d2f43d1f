import Polymarket

/// Simulated fills: what an order would get from a book, as the exchange would match it.
///
/// A BUY takes asks from the lowest up while their price is at most the limit; a SELL takes bids
/// from the highest down while at least the limit. Each level fills `min(level, remaining)` shares
/// at the level's price; collateral is exact, rounded against us at the sixth decimal (BUY cost up,
/// SELL proceeds down). FOK fills all or nothing; FAK, GTC and GTD keep what fills now (a resting
/// remainder is not simulated). Fees are `collateral × feeRate`, rounded up.
/// Without a book, the whole order fills at the target's price and the fill is flagged
/// ``FillSummary/pricedFromTarget``.
public enum PaperExecution {
    /// The fill of `shares` on `side` limited by `limitPrice`.
    public static func fill(
        side: Side, shares: Fixed6, limitPrice: Fixed6, orderType: OrderType, book: MarketBook?,
        targetPrice: Fixed6, feeRate: Fixed6 = .zero
    ) -> FillSummary {
        let rounding: Fixed6.Rounding = side == .buy ? .up : .down
        guard let book else {
            let collateral = Fixed6.multiply(shares, targetPrice, rounding: rounding) ?? .zero
            return FillSummary(
                shares: shares, collateral: collateral, fee: fee(collateral, feeRate), pricedFromTarget: true)
        }
        let taken = book.taking(side, shares: shares) { price in
            side == .buy ? price <= limitPrice : price >= limitPrice
        }.taken
        let filled = taken.totalSize
        if orderType == .fok, filled < shares { return .none }
        let collateral = Fixed6(
            micros: Fixed6.divide(taken.exactNotional, by: Fixed6.scale, rounding: rounding))
        return FillSummary(shares: filled, collateral: collateral, fee: fee(collateral, feeRate))
    }

    static func fee(_ collateral: Fixed6, _ rate: Fixed6) -> Fixed6 {
        guard rate.isPositive else { return .zero }
        return Fixed6.multiply(collateral, rate, rounding: .up) ?? .zero
    }
}
