import EVM

/// An exact amount with six decimals (USDC, pUSD and Polymarket outcome tokens all have six),
/// kept as its integer count of base units.
public struct FixedPoint6: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The amount in base units (1 = 0.000001).
    public var units: UInt256

    /// Creates an amount from base units.
    @inlinable
    public init(units: UInt256) { self.units = units }

    /// Creates an amount from base units.
    @inlinable
    public init(units: UInt64) { self.units = UInt256(units) }

    /// The amount with exactly six decimals, e.g. `12.345678`.
    public var description: String { units.fixedPointString(scale: 6) }

    @inlinable
    public static func < (lhs: FixedPoint6, rhs: FixedPoint6) -> Bool { lhs.units < rhs.units }
}

/// Which way the followed wallet traded the outcome token.
public enum TradeSide: String, Hashable, Sendable, Codable {
    /// The wallet paid collateral and received outcome tokens.
    case buy = "BUY"
    /// The wallet gave outcome tokens and received collateral.
    case sell = "SELL"
}

/// One fill of one order of one wallet, from an exchange's `OrderFilled` log, whatever the
/// exchange version.
public struct TradeEvent: Hashable, Sendable {
    /// The exchange's `name` in `Config/contracts.*.yaml`.
    public var exchange: String
    /// The exchange contract that emitted the log.
    public var contract: Address
    public var blockNumber: UInt64
    public var blockHash: Bytes32
    public var transactionHash: Bytes32
    public var logIndex: UInt64
    /// The hash of the filled order (unique per order; an order can fill several times).
    public var orderHash: Bytes32
    /// The order's maker: the trader (EOA, proxy, Safe or deposit wallet) whose fill this is.
    public var wallet: Address
    /// The other side of the fill (the exchange itself for the taker order of a match).
    public var counterparty: Address
    public var side: TradeSide
    /// The outcome token (ERC-1155 position id), exact.
    public var tokenId: UInt256
    /// Outcome tokens that changed hands.
    public var shares: FixedPoint6
    /// Collateral that changed hands.
    public var collateral: FixedPoint6
    /// Collateral per share, rounded half-up to six decimals.
    public var price: Price
    /// The fee the exchange charged on this fill, in base units of the asset it was taken in.
    public var fee: FixedPoint6
    /// True when the node reported this log as removed by a reorg.
    public var removed: Bool

    /// Creates a trade event.
    public init(
        exchange: String, contract: Address, blockNumber: UInt64, blockHash: Bytes32,
        transactionHash: Bytes32,
        logIndex: UInt64, orderHash: Bytes32, wallet: Address, counterparty: Address, side: TradeSide,
        tokenId: UInt256, shares: FixedPoint6, collateral: FixedPoint6, price: Price, fee: FixedPoint6,
        removed: Bool
    ) {
        self.exchange = exchange
        self.contract = contract
        self.blockNumber = blockNumber
        self.blockHash = blockHash
        self.transactionHash = transactionHash
        self.logIndex = logIndex
        self.orderHash = orderHash
        self.wallet = wallet
        self.counterparty = counterparty
        self.side = side
        self.tokenId = tokenId
        self.shares = shares
        self.collateral = collateral
        self.price = price
        self.fee = fee
        self.removed = removed
    }
}

/// A price (collateral per share) with six decimals.
///
/// Real fills are priced between 0 and 1, but a log can claim any amounts, so the whole part is
/// kept as wide as the amounts: nothing is ever saturated or approximated.
public struct Price: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The part before the decimal point.
    public var whole: UInt256
    /// Millionths, 0...999_999.
    public var micros: UInt32

    /// Creates a price from its whole part and millionths.
    @inlinable
    public init(whole: UInt256, micros: UInt32) {
        self.whole = whole
        self.micros = micros
    }

    /// The price in millionths when it fits 64 bits (every real Polymarket price does).
    @inlinable
    public var microsTotal: UInt64? {
        guard let w = whole.uint64, w <= (UInt64.max - UInt64(micros)) / 1_000_000 else { return nil }
        return w * 1_000_000 + UInt64(micros)
    }

    /// The price with exactly six decimals, e.g. `0.520000`.
    public var description: String {
        let fraction = String(micros)
        return whole.decimalString + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    @inlinable
    public static func < (lhs: Price, rhs: Price) -> Bool {
        (lhs.whole, lhs.micros) < (rhs.whole, rhs.micros)
    }

    /// `collateral / shares` rounded half-up to six decimals; nil when `shares` is zero.
    public static func of(collateral: UInt256, shares: UInt256) -> Price? {
        guard !shares.isZero else { return nil }
        // Fast path: both fit 64 bits, so (2·10⁶·collateral + shares) fits 128 bits.
        if let c = collateral.uint64, let s = shares.uint64 {
            let micros = (UInt128(c) * 2_000_000 + UInt128(s)) / (2 * UInt128(s))
            let (whole, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
            return Price(whole: UInt256(uint128: whole), micros: UInt32(fraction))
        }
        let (whole, fraction) = WideArithmetic.roundedQuotient(collateral, times: 1_000_000, over: shares)
        return Price(whole: whole, micros: fraction)
    }
}

// Synthesized here (synthesis needs the declaring file): the stored form of a queued trade.
// Renaming a property changes the stored JSON: keep them stable.
extension TradeEvent: Codable {}
