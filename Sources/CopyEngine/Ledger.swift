import EVM
import Polymarket

/// Our holding of one outcome token.
public struct Position: Hashable, Sendable {
    /// Shares held.
    public var shares: Fixed6
    /// What the shares cost, fees included (the cost basis). Reduced proportionally on sells.
    public var cost: Fixed6
    /// The market (condition) of the token, when known.
    public var market: MarketID?

    /// Creates a position.
    public init(shares: Fixed6 = .zero, cost: Fixed6 = .zero, market: MarketID? = nil) {
        self.shares = shares
        self.cost = cost
        self.market = market
    }

    /// Cost per share, half-even to six decimals; zero when flat.
    public var averageCost: Fixed6 { Fixed6.divide(cost, shares, rounding: .halfEven) ?? .zero }
}

/// One fill as the ledger books it (paper and live alike).
public struct LedgerFill: Hashable, Sendable {
    public var tokenId: UInt256
    public var market: MarketID?
    public var side: Side
    public var shares: Fixed6
    /// Collateral before fees.
    public var collateral: Fixed6
    public var fee: Fixed6

    /// Creates a fill.
    public init(
        tokenId: UInt256, market: MarketID?, side: Side, shares: Fixed6, collateral: Fixed6,
        fee: Fixed6 = .zero
    ) {
        self.tokenId = tokenId
        self.market = market
        self.side = side
        self.shares = shares
        self.collateral = collateral
        self.fee = fee
    }
}

/// Why the ledger refused a fill.
public enum LedgerError: Error, Hashable, Sendable {
    /// A SELL of more shares than held.
    case insufficientShares(token: UInt256, held: Fixed6, selling: Fixed6)
    /// Negative amounts.
    case negativeAmount
}

/// PnL of one UTC day: realised today plus the change of marked (unrealised) PnL since the day
/// started.
public struct DailyPnL: Hashable, Sendable {
    public var day: UTCDay
    /// PnL realised by sells today (after fees).
    public var realised: Fixed6
    /// Unrealised PnL when the day started (at the marks then).
    public var unrealisedAtStart: Fixed6
    /// Unrealised PnL now.
    public var unrealisedNow: Fixed6

    /// Creates a day's PnL.
    public init(day: UTCDay, realised: Fixed6, unrealisedAtStart: Fixed6, unrealisedNow: Fixed6) {
        self.day = day
        self.realised = realised
        self.unrealisedAtStart = unrealisedAtStart
        self.unrealisedNow = unrealisedNow
    }

    /// `realised + unrealisedNow − unrealisedAtStart`.
    public var total: Fixed6 { realised + unrealisedNow - unrealisedAtStart }
}

/// The portfolio ledger: cash, positions with cost basis, realised PnL, marks and the UTC day's PnL.
///
/// Booking rules (the same for paper and live fills):
/// - BUY: cash −= collateral + fee; shares += s; cost += collateral + fee.
/// - SELL: cash += collateral − fee; the cost removed is `cost × s / shares` rounded half-even (all
///   of it when the position closes, so no residue is ever left); realised += proceeds − cost removed.
/// - Marked value of a position = shares × last price, half-even; tokens never marked are valued at
///   cost. Unrealised = marked value − cost.
/// - Exposure is cost basis (per token, per market, total).
/// Every amount is exact; `cash + Σ cost − (initial cash + realised)` is always zero.
public struct Ledger: Hashable, Sendable {
    /// Available collateral.
    public var cash: Fixed6
    /// Open positions by token (flat positions are removed).
    public private(set) var positions: [UInt256: Position]
    /// Last seen price by token.
    public private(set) var marks: [UInt256: Fixed6]
    /// PnL realised since the ledger started.
    public private(set) var realised: Fixed6
    /// Fees paid since the ledger started.
    public private(set) var fees: Fixed6
    /// The UTC day ``dayRealised`` and ``dayStartUnrealised`` belong to.
    public private(set) var day: UTCDay
    /// PnL realised on ``day``.
    public private(set) var dayRealised: Fixed6
    /// Unrealised PnL when ``day`` started.
    public private(set) var dayStartUnrealised: Fixed6

    /// A fresh ledger with `cash`.
    public init(cash: Fixed6, day: UTCDay) {
        self.init(
            cash: cash, positions: [:], marks: [:], realised: .zero, fees: .zero, day: day,
            dayRealised: .zero,
            dayStartUnrealised: .zero)
    }

    /// A ledger restored from storage.
    public init(
        cash: Fixed6, positions: [UInt256: Position], marks: [UInt256: Fixed6], realised: Fixed6,
        fees: Fixed6,
        day: UTCDay, dayRealised: Fixed6, dayStartUnrealised: Fixed6
    ) {
        self.cash = cash
        self.positions = positions
        self.marks = marks
        self.realised = realised
        self.fees = fees
        self.day = day
        self.dayRealised = dayRealised
        self.dayStartUnrealised = dayStartUnrealised
    }

    /// Books a fill. Returns the PnL it realised (zero for a BUY).
    @discardableResult
    public mutating func apply(_ fill: LedgerFill) throws(LedgerError) -> Fixed6 {
        guard !fill.shares.isNegative, !fill.collateral.isNegative, !fill.fee.isNegative else {
            throw .negativeAmount
        }
        var position = positions[fill.tokenId] ?? Position(market: fill.market)
        if position.market == nil { position.market = fill.market }
        var realisedNow = Fixed6.zero
        switch fill.side {
        case .buy:
            cash = cash - fill.collateral - fill.fee
            position.shares = position.shares + fill.shares
            position.cost = position.cost + fill.collateral + fill.fee
        case .sell:
            guard fill.shares <= position.shares else {
                throw .insufficientShares(token: fill.tokenId, held: position.shares, selling: fill.shares)
            }
            let removed =
                fill.shares == position.shares
                ? position.cost
                : (Fixed6.mulDiv(position.cost, fill.shares, position.shares, rounding: .halfEven)
                    ?? position.cost)
            let proceeds = fill.collateral - fill.fee
            cash = cash + proceeds
            realisedNow = proceeds - removed
            position.shares = position.shares - fill.shares
            position.cost = position.cost - removed
        }
        fees = fees + fill.fee
        realised = realised + realisedNow
        dayRealised = dayRealised + realisedNow
        positions[fill.tokenId] = position.shares.isZero && position.cost.isZero ? nil : position
        return realisedNow
    }

    /// Records the last seen price of a token (our fills, the target's fills, book mids).
    public mutating func mark(_ tokenId: UInt256, price: Fixed6) {
        guard !price.isNegative else { return }
        marks[tokenId] = price
    }

    /// Starts a new UTC day when `now` is past ``day``: today's realised PnL restarts at zero and
    /// the current unrealised PnL becomes the day's starting point.
    public mutating func roll(to now: UTCDay) {
        guard now > day else { return }
        day = now
        dayRealised = .zero
        dayStartUnrealised = unrealised
    }

    /// The marked value of the position in `tokenId` (cost when never marked).
    public func markedValue(_ tokenId: UInt256) -> Fixed6 {
        guard let position = positions[tokenId] else { return .zero }
        guard let price = marks[tokenId] else { return position.cost }
        return Fixed6.multiply(position.shares, price, rounding: .halfEven) ?? position.cost
    }

    /// Marked value − cost, over all positions.
    public var unrealised: Fixed6 {
        positions.keys.reduce(Fixed6.zero) { $0 + markedValue($1) - positions[$1]!.cost }
    }

    /// Cash + marked value of all positions.
    public var equity: Fixed6 { positions.keys.reduce(cash) { $0 + markedValue($1) } }

    /// Cost basis in one token.
    public func exposure(token: UInt256) -> Fixed6 { positions[token]?.cost ?? .zero }

    /// Cost basis in one market.
    public func exposure(market: MarketID) -> Fixed6 {
        positions.values.reduce(Fixed6.zero) { $0 + ($1.market == market ? $1.cost : .zero) }
    }

    /// Total cost basis.
    public var totalExposure: Fixed6 { positions.values.reduce(Fixed6.zero) { $0 + $1.cost } }

    /// Shares held of a token.
    public func shares(_ tokenId: UInt256) -> Fixed6 { positions[tokenId]?.shares ?? .zero }

    /// The PnL of ``day`` so far.
    public var dailyPnL: DailyPnL {
        DailyPnL(
            day: day, realised: dayRealised, unrealisedAtStart: dayStartUnrealised, unrealisedNow: unrealised)
    }
}

// Synthesized storage forms (here, because synthesis needs the declaring file). Renaming a
// property changes the stored JSON: keep them stable.

extension Position: Codable {}

extension LedgerFill: Codable {}
