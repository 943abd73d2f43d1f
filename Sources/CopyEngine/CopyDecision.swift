import EVM
import Polymarket

/// The rule behind a skip, with a stable snake_case name for metrics and storage.
public enum SkipRule: String, Hashable, Sendable, CaseIterable, Codable {
    /// The order is below the market's minimum size or the configured minimum collateral.
    case belowMinimum = "below_minimum"
    /// The order is above the configured maximum collateral per order.
    case maxOrder = "max_order"
    /// The position in the token would exceed its limit.
    case maxPositionToken = "max_position_token"
    /// The position in the market (condition) would exceed its limit.
    case maxPositionMarket = "max_position_market"
    /// Total exposure would exceed its limit.
    case maxExposure = "max_exposure"
    /// Today's loss (realised + marked) reached the limit.
    case dailyLoss = "daily_loss"
    /// Not enough available collateral for the order.
    case insufficientBalance = "insufficient_balance"
    /// The exchange may not move the account's collateral or outcome tokens (no allowance).
    case allowanceMissing = "allowance_missing"
    /// The book's price is too far from the target's fill price.
    case slippage
    /// The book has nothing on the side we would take.
    case noLiquidity = "no_liquidity"
    /// The target's trade is too old when seen.
    case staleTrade = "stale_trade"
    /// The market is on the deny list.
    case marketDenied = "market_denied"
    /// The token is on the deny list.
    case tokenDenied = "token_denied"
    /// An allow list is configured and the market/token is not on it.
    case notAllowed = "not_allowed"
    /// The kill switch is engaged.
    case killSwitch = "kill_switch"
    /// The circuit breaker is open.
    case breakerOpen = "breaker_open"
    /// The target sold a token we hold none of.
    case noPosition = "no_position"
    /// The target sold a token they were never seen to hold and the exit policy says skip.
    case unknownHolding = "unknown_holding"
    /// A reorg removed the trade before it was copied.
    case retracted
}

/// Which book price a slippage check compared.
public enum BookPriceReference: String, Hashable, Sendable, Codable {
    /// The best ask (BUY) or best bid (SELL).
    case best
    /// The worst price needed to fill our whole order, walking the book.
    case walked
}

/// Why a trade was not copied, with the numbers that decided it.
public enum SkipReason: Hashable, Sendable {
    /// Fewer shares than the market's minimum order size.
    case belowMinimumShares(shares: Fixed6, minimum: Fixed6)
    /// Less collateral than the configured per-order minimum.
    case belowMinimumCollateral(collateral: Fixed6, minimum: Fixed6)
    /// More collateral than the configured per-order maximum.
    case maxOrder(collateral: Fixed6, limit: Fixed6)
    /// Cost basis in the token after the order would exceed the limit.
    case maxPositionToken(current: Fixed6, order: Fixed6, limit: Fixed6)
    /// Cost basis in the market after the order would exceed the limit.
    case maxPositionMarket(market: MarketID, current: Fixed6, order: Fixed6, limit: Fixed6)
    /// Total cost basis after the order would exceed the limit.
    case maxExposure(current: Fixed6, order: Fixed6, limit: Fixed6)
    /// Today's PnL (realised + marked; negative) is at or below minus the limit.
    case dailyLoss(pnl: Fixed6, limit: Fixed6)
    /// The order needs more collateral than is available.
    case insufficientBalance(required: Fixed6, available: Fixed6)
    /// The exchange holds less of `asset` (collateral, or an outcome token) than the order needs.
    case insufficientExchangeBalance(asset: String, required: Fixed6, balance: Fixed6)
    /// The exchange contract `spender` may not move `required` of `asset` for the account.
    case allowanceMissing(asset: String, spender: Address, required: Fixed6, allowance: Fixed6)
    /// The book price deviates from the target's price by more than the limit.
    case slippage(
        side: Side, reference: BookPriceReference, bookPrice: Fixed6, targetPrice: Fixed6, deviation: Fixed6,
        limit: Fixed6)
    /// The book side we would take is empty.
    case noLiquidity(side: Side)
    /// The trade was `age` seconds old when seen, over the `limit`.
    case staleTrade(ageSeconds: Int64, limitSeconds: Int64)
    /// The market is denied.
    case marketDenied(market: MarketID)
    /// The token is denied.
    case tokenDenied(token: UInt256)
    /// The token (and its market) is not on the configured allow list.
    case notAllowed(token: UInt256, market: MarketID?)
    /// The kill switch is engaged (`source` says which).
    case killSwitch(source: String)
    /// The circuit breaker is open.
    case breakerOpen(consecutiveFailures: Int)
    /// The target sold a token we hold none of.
    case noPosition(token: UInt256)
    /// The target sold shares of a token they were never seen to hold.
    case unknownHolding(token: UInt256, targetShares: Fixed6)
    /// The trade was removed by a reorg before it was decided.
    case retracted

    /// The rule, for metrics.
    public var rule: SkipRule {
        switch self {
        case .belowMinimumShares, .belowMinimumCollateral: .belowMinimum
        case .maxOrder: .maxOrder
        case .maxPositionToken: .maxPositionToken
        case .maxPositionMarket: .maxPositionMarket
        case .maxExposure: .maxExposure
        case .dailyLoss: .dailyLoss
        case .insufficientBalance, .insufficientExchangeBalance: .insufficientBalance
        case .allowanceMissing: .allowanceMissing
        case .slippage: .slippage
        case .noLiquidity: .noLiquidity
        case .staleTrade: .staleTrade
        case .marketDenied: .marketDenied
        case .tokenDenied: .tokenDenied
        case .notAllowed: .notAllowed
        case .killSwitch: .killSwitch
        case .breakerOpen: .breakerOpen
        case .noPosition: .noPosition
        case .unknownHolding: .unknownHolding
        case .retracted: .retracted
        }
    }

    /// One line for people, with the numbers: `slippage — best ask 0.57 is 9.6% above the
    /// target's 0.52, limit 5%`.
    public var explanation: String {
        let name = rule.rawValue
        switch self {
        case .belowMinimumShares(let shares, let minimum):
            return "\(name) — \(shares) shares is below the market's minimum of \(minimum)"
        case .belowMinimumCollateral(let collateral, let minimum):
            return "\(name) — \(collateral) collateral is below the per-order minimum of \(minimum)"
        case .maxOrder(let collateral, let limit):
            return "\(name) — \(collateral) collateral is above the per-order maximum of \(limit)"
        case .maxPositionToken(let current, let order, let limit):
            return
                "\(name) — \(current) held + \(order) ordered = \(current + order) in the token, limit \(limit)"
        case .maxPositionMarket(let market, let current, let order, let limit):
            return
                "\(name) — \(current) held + \(order) ordered = \(current + order) in market \(market.short), limit \(limit)"
        case .maxExposure(let current, let order, let limit):
            return "\(name) — \(current) exposure + \(order) ordered = \(current + order), limit \(limit)"
        case .dailyLoss(let pnl, let limit):
            return "\(name) — today's PnL \(pnl) (realised + marked) reached the loss limit of \(limit)"
        case .insufficientBalance(let required, let available):
            return "\(name) — the order needs \(required) collateral, \(available) available"
        case .insufficientExchangeBalance(let asset, let required, let balance):
            return
                "\(name) — the exchange holds \(balance) \(asset) for the account; the order needs \(required)"
        case .allowanceMissing(let asset, let spender, let required, let allowance):
            return
                "\(name) — exchange \(spender) may move \(allowance) of the account's \(asset); the order needs \(required) (set the approvals: README, Going live)"
        case .slippage(let side, let reference, let bookPrice, let targetPrice, let deviation, let limit):
            let what = (reference == .best ? "best " : "walked ") + (side == .buy ? "ask" : "bid")
            let direction = side == .buy ? "above" : "below"
            return
                "\(name) — \(what) \(bookPrice) is \(deviation.percent()) \(direction) the target's \(targetPrice), limit \(limit.exactPercent)"
        case .noLiquidity(let side):
            return "\(name) — no \(side == .buy ? "asks" : "bids") on the book"
        case .staleTrade(let age, let limit):
            return "\(name) — the trade was \(age)s old when seen, limit \(limit)s"
        case .marketDenied(let market):
            return "\(name) — market \(market.short) is on the deny list"
        case .tokenDenied(let token):
            return "\(name) — token \(token.shortToken) is on the deny list"
        case .notAllowed(let token, let market):
            let inMarket = market.map { " (market \($0.short))" } ?? ""
            return "\(name) — token \(token.shortToken)\(inMarket) is not on the allow list"
        case .killSwitch(let source):
            return "\(name) — the kill switch is engaged (\(source))"
        case .breakerOpen(let failures):
            return "\(name) — the circuit breaker is open (\(failures) consecutive failures)"
        case .noPosition(let token):
            return "\(name) — the target sold token \(token.shortToken) and we hold none"
        case .unknownHolding(let token, let shares):
            return
                "\(name) — the target sold \(shares) shares of token \(token.shortToken) they were never seen to hold"
        case .retracted:
            return "\(name) — a reorg removed the trade before it was copied"
        }
    }
}

/// Why a trade the engine decided to copy could not be.
public enum FailureReason: Hashable, Sendable {
    /// The trade's amounts are zero or absurd (a hostile or broken log).
    case invalidTrade(String)
    /// Market metadata (tick, minimum size, condition) could not be fetched.
    case marketUnavailable(String)
    /// The order would be rejected by the exchange's rules (caught before signing).
    case invalidOrder(String)
    /// Signing failed.
    case signingFailed(String)
    /// The exchange rejected the order (definitively: nothing was placed).
    case exchangeRejected(String)
    /// The order could not be placed and its fate is unknown after look-ups; it stays
    /// unresolved and is resolved by look-up later, never by posting again.
    case outcomeUnknown(String)
    /// Nothing filled (paper FAK/FOK against a book with nothing within the limit).
    case unfilled
    /// The store failed.
    case store(String)
    /// The store refused the write: another process holds the account's lease now (cluster). The
    /// trade is left to it; never recorded.
    case fenced(String)

    /// A stable snake_case name for metrics.
    public var name: String {
        switch self {
        case .invalidTrade: "invalid_trade"
        case .marketUnavailable: "market_unavailable"
        case .invalidOrder: "invalid_order"
        case .signingFailed: "signing_failed"
        case .exchangeRejected: "exchange_rejected"
        case .outcomeUnknown: "outcome_unknown"
        case .unfilled: "unfilled"
        case .store: "store_error"
        case .fenced: "fenced"
        }
    }

    /// One line for people.
    public var explanation: String {
        switch self {
        case .invalidTrade(let m): "\(name) — \(m)"
        case .marketUnavailable(let m): "\(name) — \(m)"
        case .invalidOrder(let m): "\(name) — \(m)"
        case .signingFailed(let m): "\(name) — \(m)"
        case .exchangeRejected(let m): "\(name) — the exchange said: \(m)"
        case .outcomeUnknown(let m): "\(name) — \(m)"
        case .unfilled: "\(name) — nothing on the book within the limit price"
        case .store(let m): "\(name) — \(m)"
        case .fenced(let m): "\(name) — \(m)"
        }
    }
}

/// Whether orders are simulated or sent.
public enum ExecutionMode: String, Hashable, Sendable, Codable {
    /// Fills are simulated against the live book; nothing is sent.
    case paper
    /// Orders are signed and posted to the CLOB.
    case live
}

/// The order the engine decided to place for a trade: a limit order at `limitPrice` (the worst
/// acceptable price) for `shares`, sent with `orderType` (FAK by default: take what is there now).
public struct OrderIntent: Hashable, Sendable {
    public var tokenId: UInt256
    public var market: MarketID?
    public var side: Side
    /// Shares, on the market's size step (2 decimals).
    public var shares: Fixed6
    /// The worst acceptable price, on the market's tick.
    public var limitPrice: Fixed6
    /// The collateral of the order by the exchange's amount rules: paid at most (BUY) or
    /// received at least (SELL).
    public var collateral: Fixed6
    /// How long the order stays on the book.
    public var orderType: OrderType
    /// The target's fill price.
    public var targetPrice: Fixed6
    /// The market's rules the order was sized with.
    public var tickSize: TickSize
    public var minOrderSize: Fixed6
    public var negRisk: Bool

    /// Creates an intent.
    public init(
        tokenId: UInt256, market: MarketID?, side: Side, shares: Fixed6, limitPrice: Fixed6,
        collateral: Fixed6,
        orderType: OrderType, targetPrice: Fixed6, tickSize: TickSize, minOrderSize: Fixed6, negRisk: Bool
    ) {
        self.tokenId = tokenId
        self.market = market
        self.side = side
        self.shares = shares
        self.limitPrice = limitPrice
        self.collateral = collateral
        self.orderType = orderType
        self.targetPrice = targetPrice
        self.tickSize = tickSize
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
    }
}

/// What filled of an order (paper or live), summed over its matches.
public struct FillSummary: Hashable, Sendable {
    /// Shares that changed hands.
    public var shares: Fixed6
    /// Collateral that changed hands, before fees.
    public var collateral: Fixed6
    /// Fees charged, in collateral.
    public var fee: Fixed6
    /// True when no book was reachable and the paper fill was priced at the target's price.
    public var pricedFromTarget: Bool

    /// Creates a summary.
    public init(shares: Fixed6, collateral: Fixed6, fee: Fixed6 = .zero, pricedFromTarget: Bool = false) {
        self.shares = shares
        self.collateral = collateral
        self.fee = fee
        self.pricedFromTarget = pricedFromTarget
    }

    /// Nothing filled.
    public static let none = FillSummary(shares: .zero, collateral: .zero)

    /// Collateral per share, half-even to six decimals; zero when nothing filled.
    public var averagePrice: Fixed6 {
        Fixed6.divide(collateral, shares, rounding: .halfEven) ?? .zero
    }
}

/// A copied trade: the order placed and what is known of its fills when decided.
public struct CopiedOrder: Hashable, Sendable {
    public var intent: OrderIntent
    public var mode: ExecutionMode
    /// The EIP-712 order hash (live mode).
    public var orderHash: Bytes32?
    /// Fills known when the decision was made (live orders may fill more later).
    public var fill: FillSummary

    /// Creates a copied order.
    public init(intent: OrderIntent, mode: ExecutionMode, orderHash: Bytes32?, fill: FillSummary) {
        self.intent = intent
        self.mode = mode
        self.orderHash = orderHash
        self.fill = fill
    }
}

/// The one decision each trade of a followed wallet ends in.
public enum CopyDecision: Hashable, Sendable {
    /// An order was placed (paper or live).
    case copied(CopiedOrder)
    /// The trade was not copied, by a rule.
    case skipped(SkipReason)
    /// The trade was to be copied but could not be.
    case failed(FailureReason)

    /// `copied`, `skipped` or `failed`.
    public var kind: String {
        switch self {
        case .copied: "copied"
        case .skipped: "skipped"
        case .failed: "failed"
        }
    }

    /// The label for metrics: the mode when copied, the rule when skipped, the reason when failed.
    public var label: String {
        switch self {
        case .copied(let order): order.mode.rawValue
        case .skipped(let reason): reason.rule.rawValue
        case .failed(let reason): reason.name
        }
    }

    /// One line for people: `skipped: slippage — best ask 0.57 is 9.6% above the target's 0.52, limit 5%`.
    public var explanation: String {
        switch self {
        case .copied(let order):
            let i = order.intent
            let limit = i.side == .buy ? "≤" : "≥"
            var text =
                "copied: \(order.mode.rawValue) \(i.side.text) \(i.shares) shares of token \(i.tokenId.shortToken) at \(limit) \(i.limitPrice) (\(i.collateral) collateral)"
            if order.fill.shares.isZero {
                text += "; nothing filled yet"
            } else {
                text += "; filled \(order.fill.shares) at \(order.fill.averagePrice.formatted(places: 4))"
                if !order.fill.fee.isZero { text += " + fee \(order.fill.fee)" }
                if order.fill.pricedFromTarget { text += " (priced_from_target: no book)" }
            }
            return text
        case .skipped(let reason): return "skipped: " + reason.explanation
        case .failed(let reason): return "failed: " + reason.explanation
        }
    }
}

// Synthesized storage forms (here, because synthesis needs the declaring file). Renaming a case,
// an associated value's label or a property changes the stored JSON: keep them stable.

extension SkipReason: Codable {}

extension FailureReason: Codable {}

extension OrderIntent: Codable {}

extension FillSummary: Codable {}

extension CopiedOrder: Codable {}

extension CopyDecision: Codable {}
