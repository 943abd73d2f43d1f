import EVM

/// What one order traded, in token units (6 decimals).
public struct OrderFill: Hashable, Sendable {
    /// Shares traded.
    public var shares: UInt256
    /// Their collateral.
    public var collateral: UInt256
    /// How many trades named the order.
    public var trades: Int

    /// Creates a fill.
    public init(shares: UInt256, collateral: UInt256, trades: Int) {
        self.shares = shares
        self.collateral = collateral
        self.trades = trades
    }
}

/// An order's fills as `GET /data/trades` reports them, computed exactly from the decimal text.
public enum TradeFills {
    /// What the order `orderID` traded in `trades`.
    ///
    /// As the taker (`taker_order_id` equals `orderID`, compared case-insensitively): shares = Σ of
    /// the makers' `matched_amount`; collateral = Σ ⌊matched_amount × p⌋ per maker, p = the maker's
    /// price when the maker's `asset_id` is the taker's asset, 1 − price for a maker of the
    /// complementary outcome (a mint or merge). As a maker (a `maker_orders` entry whose `order_id`
    /// equals `orderID`): shares = its matched_amount, collateral = ⌊matched_amount × price⌋. The
    /// floor is the exchange contract's integer division, per maker order. Trades with status
    /// `FAILED` are ignored. Nil when no trade names the order, or when an amount or price of a
    /// trade naming it is not a decimal (or a price is above 1).
    public static func fill(of orderID: String, in trades: [TradeRecord]) -> OrderFill? {
        let id = orderID.lowercased()
        var shares = ExactDecimal(0)
        var collateral = ExactDecimal(0)
        var count = 0
        for trade in trades where trade.status.uppercased() != "FAILED" {
            if trade.takerOrderID.lowercased() == id {
                for maker in trade.makerOrders {
                    guard let amount = ExactDecimal(maker.matchedAmount),
                        let price = ExactDecimal(maker.price),
                        let p = maker.assetID == trade.assetID ? price : ExactDecimal(1) - price
                    else { return nil }
                    shares = shares + amount.floored(toPlaces: 6)
                    collateral = collateral + (amount * p).floored(toPlaces: 6)
                }
                count += 1
            } else {
                var named = false
                for maker in trade.makerOrders where maker.orderID.lowercased() == id {
                    guard let amount = ExactDecimal(maker.matchedAmount),
                        let price = ExactDecimal(maker.price)
                    else { return nil }
                    shares = shares + amount.floored(toPlaces: 6)
                    collateral = collateral + (amount * price).floored(toPlaces: 6)
                    named = true
                }
                if named { count += 1 }
            }
        }
        guard count > 0, let s = shares.scaledInteger(places: 6), let c = collateral.scaledInteger(places: 6)
        else { return nil }
        return OrderFill(shares: s, collateral: c, trades: count)
    }
}
