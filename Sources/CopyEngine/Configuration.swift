import EVM
import Polymarket

/// How big a copy of a target's BUY is.
public enum SizingRule: Hashable, Sendable {
    /// Spend this much collateral on every copy.
    case fixedCollateral(Fixed6)
    /// Spend this fraction of the collateral the target spent (0.1 = a tenth).
    case fractionOfTargetCollateral(Fixed6)
    /// Buy this multiple of the target's shares (0.5 = half as many).
    case multipleOfTargetShares(Fixed6)
    /// Spend this fraction of our available collateral (0.02 = 2 %).
    case fractionOfBalance(Fixed6)
}

/// What to do when a target sells a token they were never seen to hold (we started following
/// after they bought, or their buy was on an exchange we do not watch).
public enum UnknownHoldingExit: String, Hashable, Sendable {
    /// Treat it as a complete exit: sell our whole position.
    case sellAll = "sell_all"
    /// Do not sell; skip with `unknown_holding`.
    case skip
}

/// Per-order and portfolio limits. Nil limits are off. Amounts are collateral.
///
/// Limits that bound risk taken (min/max order, positions, exposure, daily loss, balance) apply to
/// BUYs; exits are bounded by what we hold and the market's minimum size. The kill switch, the
/// breaker, staleness, allow/deny lists and the slippage guard apply to both sides.
public struct RiskLimits: Hashable, Sendable {
    /// Smallest BUY, in collateral.
    public var minOrderCollateral: Fixed6?
    /// Largest BUY, in collateral.
    public var maxOrderCollateral: Fixed6?
    /// Shrink a BUY above ``maxOrderCollateral`` to the maximum instead of skipping it.
    public var clampToMaxOrder: Bool
    /// Largest cost basis in one token.
    public var maxPositionPerToken: Fixed6?
    /// Largest cost basis in one market (all tokens of one condition).
    public var maxPositionPerMarket: Fixed6?
    /// Largest total cost basis.
    public var maxTotalExposure: Fixed6?
    /// Stop buying when today's PnL (UTC day, realised + marked) is at or below minus this.
    public var dailyLossLimit: Fixed6?
    /// Largest deviation of the book's price from the target's fill price, as a fraction
    /// (0.05 = 5 %). Also sets the order's limit price: target × (1 ± this), to the tick.
    public var maxSlippage: Fixed6?
    /// Which book price the slippage guard compares.
    public var slippageReference: BookPriceReference
    /// Trades older than this (block time to when seen) are not copied.
    public var maxTradeAgeSeconds: Int64?
    /// When set, only these markets are copied.
    public var allowedMarkets: Set<MarketID>?
    /// Markets never copied.
    public var deniedMarkets: Set<MarketID>
    /// When set, only these tokens are copied (a token passes if it or its market is allowed).
    public var allowedTokens: Set<UInt256>?
    /// Tokens never copied.
    public var deniedTokens: Set<UInt256>

    /// Creates limits (all off by default, slippage compared against the walked price).
    public init(
        minOrderCollateral: Fixed6? = nil, maxOrderCollateral: Fixed6? = nil, clampToMaxOrder: Bool = false,
        maxPositionPerToken: Fixed6? = nil, maxPositionPerMarket: Fixed6? = nil,
        maxTotalExposure: Fixed6? = nil,
        dailyLossLimit: Fixed6? = nil, maxSlippage: Fixed6? = nil,
        slippageReference: BookPriceReference = .walked,
        maxTradeAgeSeconds: Int64? = nil, allowedMarkets: Set<MarketID>? = nil,
        deniedMarkets: Set<MarketID> = [],
        allowedTokens: Set<UInt256>? = nil, deniedTokens: Set<UInt256> = []
    ) {
        self.minOrderCollateral = minOrderCollateral
        self.maxOrderCollateral = maxOrderCollateral
        self.clampToMaxOrder = clampToMaxOrder
        self.maxPositionPerToken = maxPositionPerToken
        self.maxPositionPerMarket = maxPositionPerMarket
        self.maxTotalExposure = maxTotalExposure
        self.dailyLossLimit = dailyLossLimit
        self.maxSlippage = maxSlippage
        self.slippageReference = slippageReference
        self.maxTradeAgeSeconds = maxTradeAgeSeconds
        self.allowedMarkets = allowedMarkets
        self.deniedMarkets = deniedMarkets
        self.allowedTokens = allowedTokens
        self.deniedTokens = deniedTokens
    }

    /// Whether any market list is configured (then the market must be known).
    var usesMarketLists: Bool { allowedMarkets != nil || !deniedMarkets.isEmpty }
}

/// How one followed wallet is copied.
public struct CopyPolicy: Hashable, Sendable {
    /// BUY sizing.
    public var sizing: SizingRule
    /// Exits when the target's holding is unknown.
    public var unknownHoldingExit: UnknownHoldingExit

    /// Creates a policy.
    public init(sizing: SizingRule, unknownHoldingExit: UnknownHoldingExit = .sellAll) {
        self.sizing = sizing
        self.unknownHoldingExit = unknownHoldingExit
    }
}

/// Everything the engine's decisions depend on, for one account.
public struct EngineConfiguration: Hashable, Sendable {
    /// The account decisions are made for.
    public var account: AccountID
    /// Paper (default) or live.
    public var mode: ExecutionMode
    /// The policy of wallets without their own.
    public var defaultPolicy: CopyPolicy
    /// Per-wallet policies.
    public var policies: [Address: CopyPolicy]
    /// Risk limits.
    public var risk: RiskLimits
    /// The order type copies are sent with (FAK: take what the book has now, cancel the rest).
    public var orderType: OrderType
    /// Fee rate on collateral for paper fills (0.001 = 10 bps). Live fills use the exchange's fee.
    public var paperFeeRate: Fixed6
    /// Market rules for paper mode when the exchange cannot be reached for them.
    public var fallbackMarket: MarketParameters?
    /// The age after which an unresolved order intent is resolved by the recovery pass (a lease:
    /// an executor that is still working on it finishes well within this).
    public var intentLeaseSeconds: Int64
    /// How long after its decision an order whose answer was lost, and which the exchange does not
    /// show, is posted again (the same signed order); after that it ends as not found.
    public var repostWindowSeconds: Int64
    /// A ledger snapshot is stored once this many fills were booked since the last one (a restart
    /// restores the snapshot and replays the fills after it, so this only bounds that replay).
    public var ledgerSnapshotEvery: Int64 = 16

    /// Creates a configuration.
    public init(
        account: AccountID = .default, mode: ExecutionMode = .paper, defaultPolicy: CopyPolicy,
        policies: [Address: CopyPolicy] = [:], risk: RiskLimits = RiskLimits(), orderType: OrderType = .fak,
        paperFeeRate: Fixed6 = .zero, fallbackMarket: MarketParameters? = nil, intentLeaseSeconds: Int64 = 60,
        repostWindowSeconds: Int64? = nil
    ) {
        self.account = account
        self.mode = mode
        self.defaultPolicy = defaultPolicy
        self.policies = policies
        self.risk = risk
        self.orderType = orderType
        self.paperFeeRate = paperFeeRate
        self.fallbackMarket = fallbackMarket
        self.intentLeaseSeconds = intentLeaseSeconds
        // By default as long as a trade may be copied at all (its age limit), or two leases.
        self.repostWindowSeconds = repostWindowSeconds ?? risk.maxTradeAgeSeconds ?? 2 * intentLeaseSeconds
    }

    /// The policy for `wallet`.
    public func policy(for wallet: Address) -> CopyPolicy { policies[wallet] ?? defaultPolicy }
}
