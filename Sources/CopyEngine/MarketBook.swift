import EVM
import Polymarket

/// One price level of a book, in exact six-decimal amounts.
public struct PriceLevel: Hashable, Sendable {
    public var price: Fixed6
    /// Shares resting at the price.
    public var size: Fixed6

    /// Creates a level.
    public init(price: Fixed6, size: Fixed6) {
        self.price = price
        self.size = size
    }
}

/// An outcome token's order book as the engine uses it. Levels are kept best first
/// (asks ascending, bids descending) whatever order the source gave them in.
public struct MarketBook: Hashable, Sendable {
    public var tokenId: UInt256
    /// The market (condition) the token belongs to, when the source says (`GET /book` does).
    public var market: MarketID?
    /// The market's order rules, when the source says (`GET /book` does).
    public var parameters: MarketParameters?
    /// Bids, best (highest) first.
    public private(set) var bids: [PriceLevel]
    /// Asks, best (lowest) first.
    public private(set) var asks: [PriceLevel]

    /// Creates a book; levels may come in any order. Empty levels, and levels priced outside
    /// (0, 1] (no valid Polymarket price), are dropped.
    public init(
        tokenId: UInt256, bids: [PriceLevel], asks: [PriceLevel], market: MarketID? = nil,
        parameters: MarketParameters? = nil
    ) {
        self.tokenId = tokenId
        self.market = market
        self.parameters = parameters
        let valid = { (level: PriceLevel) in
            level.size.isPositive && level.size <= Fixed6.limit && level.price.isPositive
                && level.price <= .one
        }
        self.bids = bids.filter(valid).sorted { $0.price > $1.price }
        self.asks = asks.filter(valid).sorted { $0.price < $1.price }
    }

    /// Creates a book from the CLOB's levels (as `GET /book` returns them); levels whose numbers do
    /// not fit are dropped.
    public init(
        tokenId: UInt256, bids: [BookLevel], asks: [BookLevel], market: MarketID? = nil,
        parameters: MarketParameters? = nil
    ) {
        func convert(_ levels: [BookLevel]) -> [PriceLevel] {
            levels.compactMap { level in
                guard let price = Fixed6(level.price), let size = Fixed6(level.size) else { return nil }
                return PriceLevel(price: price, size: size)
            }
        }
        self.init(
            tokenId: tokenId, bids: convert(bids), asks: convert(asks), market: market, parameters: parameters
        )
    }

    /// The levels an order on `side` takes: asks for a BUY, bids for a SELL, best first.
    public func levels(taking side: Side) -> [PriceLevel] { side == .buy ? asks : bids }

    /// The best price an order on `side` can take, if any.
    public func bestPrice(taking side: Side) -> Fixed6? { levels(taking: side).first?.price }

    /// What a taker order on `side` for `shares` takes from this book, as the exchange matches it:
    /// levels from the best while `accepts` their price, each `min(level, remaining)` shares at the
    /// level's price. Returns the parts of levels taken (best first) and the book left.
    public func taking(
        _ side: Side, shares: Fixed6, while accepts: (Fixed6) -> Bool
    ) -> (taken: [PriceLevel], left: MarketBook) {
        var remaining = shares
        var taken: [PriceLevel] = []
        var levels = levels(taking: side)[...]
        while remaining.isPositive, let level = levels.first, accepts(level.price) {
            let take = min(level.size, remaining)
            taken.append(PriceLevel(price: level.price, size: take))
            remaining = remaining - take
            levels.removeFirst()
            if take < level.size {
                levels.insert(PriceLevel(price: level.price, size: level.size - take), at: levels.startIndex)
            }
        }
        var left = self
        if side == .buy { left.asks = Array(levels) } else { left.bids = Array(levels) }
        return (taken, left)
    }

    /// What a taker BUY spending at most `collateral` takes from this book, as the exchange matches
    /// a market BUY (its spend is bounded, the shares it gets are not: a cheaper level gives more,
    /// py-clob-client-v2 #89): asks from the best while `accepts` their price, each
    /// `min(level, floor(remaining / price))` shares for `floor(shares × price)` collateral, until
    /// a level is left partly. Returns the parts taken (best first), the collateral they cost and
    /// the book left.
    public func buying(
        collateral: Fixed6, while accepts: (Fixed6) -> Bool
    ) -> (taken: [PriceLevel], cost: Fixed6, left: MarketBook) {
        var remaining = collateral.micros
        var taken: [PriceLevel] = []
        var levels = levels(taking: .buy)[...]
        while remaining > 0, let level = levels.first, level.price.isPositive, accepts(level.price) {
            let take = min(level.size.micros, remaining * Fixed6.scale / level.price.micros)
            guard take > 0 else { break }
            taken.append(PriceLevel(price: level.price, size: Fixed6(micros: take)))
            remaining -= take * level.price.micros / Fixed6.scale
            levels.removeFirst()
            if take < level.size.micros {
                levels.insert(
                    PriceLevel(price: level.price, size: Fixed6(micros: level.size.micros - take)),
                    at: levels.startIndex)
                break
            }
        }
        var left = self
        left.asks = Array(levels)
        return (taken, Fixed6(micros: collateral.micros - remaining), left)
    }

    /// The worst price needed to fill `shares` on `side`, walking from the best level; when the
    /// book is too thin, the worst price on it. Nil when the side is empty.
    public func walkedPrice(taking side: Side, shares: Fixed6) -> Fixed6? {
        var remaining = shares
        var last: Fixed6?
        for level in levels(taking: side) {
            last = level.price
            remaining = remaining - level.size
            if !remaining.isPositive { return level.price }
        }
        return last
    }
}

extension Sequence where Element == PriceLevel {
    /// The shares of these levels.
    public var totalSize: Fixed6 { reduce(.zero) { $0 + $1.size } }

    /// Σ size × price exactly, in 10^-12 (book prices are at most 1, so it fits).
    public var exactNotional: Int128 { reduce(0) { $0 + $1.size.micros * $1.price.micros } }
}
