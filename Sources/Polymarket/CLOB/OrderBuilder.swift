import EVM
import Foundation

/// What the order rules need to know about a market (from `GET /book` or the metadata cache).
public struct MarketParameters: Hashable, Sendable {
    /// The market's tick size.
    public var tickSize: TickSize
    /// The smallest order, in shares (often 5).
    public var minOrderSize: ExactDecimal
    /// Whether the market trades on the NegRisk exchange.
    public var negRisk: Bool

    /// Creates market parameters.
    public init(tickSize: TickSize, minOrderSize: ExactDecimal, negRisk: Bool) {
        self.tickSize = tickSize
        self.minOrderSize = minOrderSize
        self.negRisk = negRisk
    }
}

/// The exchange contracts of one order version, from configuration (never compiled in).
public struct ExchangeContracts: Hashable, Sendable {
    /// The EIP-712 domain version: "1", "2" or "3".
    public let domainVersion: String
    /// The chain id.
    public let chainId: UInt64
    /// The CTF exchange.
    public let exchange: Address
    /// The NegRisk CTF exchange (V3 has one exchange for both: pass it twice).
    public let negRiskExchange: Address
    /// The domains of the two exchanges, made once (each order is signed in one of them).
    private let exchangeDomain: ExchangeDomain
    private let negRiskDomain: ExchangeDomain

    /// Creates a contract set.
    public init(domainVersion: String, chainId: UInt64, exchange: Address, negRiskExchange: Address) {
        self.domainVersion = domainVersion
        self.chainId = chainId
        self.exchange = exchange
        self.negRiskExchange = negRiskExchange
        self.exchangeDomain = ExchangeDomain(
            version: domainVersion, chainId: chainId, verifyingContract: exchange)
        self.negRiskDomain = ExchangeDomain(
            version: domainVersion, chainId: chainId, verifyingContract: negRiskExchange)
    }

    /// The domain orders for a market are signed in.
    public func domain(negRisk: Bool) -> ExchangeDomain {
        negRisk ? negRiskDomain : exchangeDomain
    }
}

/// A limit order request.
public struct LimitOrderRequest: Hashable, Sendable {
    public var tokenId: UInt256
    public var side: Side
    /// Price per share, on the market's tick.
    public var price: ExactDecimal
    /// Shares (floored to 2 decimals, as the official client does, unless the builder is strict).
    public var size: ExactDecimal
    /// Unix seconds (GTD), 0 for none.
    public var expiration: UInt64
    public var metadata: Bytes32
    public var builder: Bytes32

    /// Creates a request.
    public init(
        tokenId: UInt256, side: Side, price: ExactDecimal, size: ExactDecimal, expiration: UInt64 = 0,
        metadata: Bytes32 = .zero, builder: Bytes32 = .zero
    ) {
        self.tokenId = tokenId
        self.side = side
        self.price = price
        self.size = size
        self.expiration = expiration
        self.metadata = metadata
        self.builder = builder
    }
}

/// A market order request (FOK/FAK): spend `amount` collateral (BUY) or sell `amount` shares (SELL)
/// at no worse than `price` (see ``MarketPrice``).
public struct MarketOrderRequest: Hashable, Sendable {
    public var tokenId: UInt256
    public var side: Side
    /// BUY: collateral to spend. SELL: shares to sell.
    public var amount: ExactDecimal
    /// The worst acceptable price.
    public var price: ExactDecimal
    public var metadata: Bytes32
    public var builder: Bytes32

    /// Creates a request.
    public init(
        tokenId: UInt256, side: Side, amount: ExactDecimal, price: ExactDecimal, metadata: Bytes32 = .zero,
        builder: Bytes32 = .zero
    ) {
        self.tokenId = tokenId
        self.side = side
        self.amount = amount
        self.price = price
        self.metadata = metadata
        self.builder = builder
    }
}

/// Why an order was not built: what the exchange would reject, caught before sending.
public enum OrderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The price is not a multiple of the tick size.
    case priceNotOnTick(price: ExactDecimal, tick: TickSize)
    /// The price is outside [tick, 1 − tick].
    case priceOutOfRange(price: ExactDecimal, min: ExactDecimal, max: ExactDecimal)
    /// Fewer shares than the market's minimum order size.
    case sizeBelowMinimum(size: ExactDecimal, minimum: ExactDecimal)
    /// More fractional digits than the CLOB accepts (strict size mode).
    case tooManyDecimals(field: String, value: ExactDecimal, allowed: Int)
    /// The rounded order would move nothing.
    case zeroAmount
    /// Absurdly large (more than 10^15 shares or collateral).
    case amountTooLarge(ExactDecimal)
    /// The signature type cannot be used with this order version (POLY_1271 on V1).
    case unsupportedSignatureType(SignatureType, version: String)
    /// Post-only orders must rest on the book: not FOK/FAK.
    case postOnlyNotAllowed(OrderType)

    public var description: String {
        switch self {
        case .priceNotOnTick(let p, let t): "invalid price \(p): not a multiple of the tick size \(t)"
        case .priceOutOfRange(let p, let lo, let hi): "invalid price \(p), min: \(lo) - max: \(hi)"
        case .sizeBelowMinimum(let s, let m): "order size \(s) is lower than the minimum \(m)"
        case .tooManyDecimals(let f, let v, let n): "\(f) \(v) has too many decimals (at most \(n))"
        case .zeroAmount: "order amounts round to zero"
        case .amountTooLarge(let v): "order amount \(v) is too large"
        case .unsupportedSignatureType(let t, let v):
            "signature type \(t) is not supported for version \(v) orders"
        case .postOnlyNotAllowed(let t): "post-only is not supported for \(t.rawValue) orders"
        }
    }
}

/// Builds and signs CLOB orders.
///
/// Amounts follow ``AmountRounding``; the signer is a ``DigestSigner`` (a ``PrivateKey`` in
/// production, anything in tests). The maker is the funder (the signer's own address for EOA
/// orders); for POLY_1271 the funder (deposit wallet) is also the order's `signer`.
public struct OrderBuilder: Sendable {
    /// Whether sizes with more than 2 decimals are floored (the official client) or rejected.
    public enum SizePolicy: Sendable, Hashable {
        case floor
        case reject
    }

    /// Signs order digests.
    public let signer: any DigestSigner
    /// The signature type of every order this builder makes.
    public let signatureType: SignatureType
    /// The maker: the address that holds the funds.
    public let funder: Address
    /// Size policy.
    public let sizePolicy: SizePolicy
    /// Returns a fresh salt for each order.
    public let salt: @Sendable () -> UInt256
    /// Returns the current time in milliseconds.
    public let clock: @Sendable () -> UInt64

    /// Creates a builder. `funder` defaults to the signer's address (and must be given for
    /// POLY_PROXY, POLY_GNOSIS_SAFE and POLY_1271 wallets).
    public init(
        signer: any DigestSigner, signatureType: SignatureType = .eoa, funder: Address? = nil,
        sizePolicy: SizePolicy = .floor,
        salt: @escaping @Sendable () -> UInt256 = { UInt256(UInt64.random(in: 1...(1 << 53))) },
        clock: @escaping @Sendable () -> UInt64 = { OrderBuilder.nowMilliseconds() }
    ) {
        self.signer = signer
        self.signatureType = signatureType
        self.funder = funder ?? signer.address
        self.sizePolicy = sizePolicy
        self.salt = salt
        self.clock = clock
    }

    /// Milliseconds since 1970 from the system clock.
    public static func nowMilliseconds() -> UInt64 {
        UInt64(Date().timeIntervalSince1970 * 1000)
    }

    /// The order's `signer` member.
    var orderSigner: Address { signatureType == .poly1271 ? funder : signer.address }

    // MARK: Validation

    /// Checks a price against the market's tick: on the tick and within [tick, 1 − tick].
    public static func validate(price: ExactDecimal, tick: TickSize) throws(OrderError) {
        // In millionths when the price has at most six decimals (every tick has fewer).
        if let units = price.exactUnits(places: 6) {
            guard units >= tick.micros, units <= 1_000_000 - tick.micros else {
                throw .priceOutOfRange(price: price, min: tick.minPrice, max: tick.maxPrice)
            }
            guard units % tick.micros == 0 else { throw .priceNotOnTick(price: price, tick: tick) }
            return
        }
        guard price >= tick.minPrice, price <= tick.maxPrice else {
            throw .priceOutOfRange(price: price, min: tick.minPrice, max: tick.maxPrice)
        }
        guard price.isMultiple(of: tick.value) else { throw .priceNotOnTick(price: price, tick: tick) }
    }

    static let largest = ExactDecimal(significand: 1_000_000_000_000_000)

    func checkedSize(_ size: ExactDecimal, field: String, tick: TickSize) throws(OrderError) -> ExactDecimal {
        guard size <= Self.largest else { throw .amountTooLarge(size) }
        if sizePolicy == .reject, size.decimalPlaces > tick.sizeDecimals {
            throw .tooManyDecimals(field: field, value: size, allowed: tick.sizeDecimals)
        }
        return size.floored(toPlaces: tick.sizeDecimals)
    }

    static func shares(_ units: UInt256) -> ExactDecimal {
        ExactDecimal(significand: units.bigUInt, scale: 6)
    }

    // MARK: Building

    /// Builds and signs a V2/V3 limit order.
    public func limitOrder(
        _ request: LimitOrderRequest, market: MarketParameters, contracts: ExchangeContracts,
        salt: UInt256? = nil, timestamp: UInt64? = nil
    ) throws(OrderError) -> SignedOrder {
        let tick = market.tickSize
        try Self.validate(price: request.price, tick: tick)
        let size = try checkedSize(request.size, field: "size", tick: tick)
        guard size >= market.minOrderSize else {
            throw .sizeBelowMinimum(size: size, minimum: market.minOrderSize)
        }
        let amounts = AmountRounding.limit(side: request.side, price: request.price, size: size, tick: tick)
        guard !amounts.makerAmount.isZero, !amounts.takerAmount.isZero else { throw .zeroAmount }
        let order = OrderV2(
            salt: salt ?? self.salt(), maker: funder, signer: orderSigner, tokenId: request.tokenId,
            makerAmount: amounts.makerAmount, takerAmount: amounts.takerAmount, side: request.side,
            signatureType: signatureType, timestamp: UInt256(timestamp ?? clock()),
            metadata: request.metadata,
            builder: request.builder, expiration: UInt256(request.expiration))
        return sign(order, in: contracts.domain(negRisk: market.negRisk))
    }

    /// How a market order's amounts are made.
    public enum MarketRounding: Sendable, Hashable {
        /// ``MarketOrderAmounts``: what the CLOB accepts on every tick, with the price as the worst
        /// price. The default.
        case accepted
        /// ``AmountRounding/market(side:price:amount:tick:)``: the official client's amounts,
        /// byte-identical to its orders, refused by the CLOB on 0.001 and 0.0001 ticks
        /// (py-clob-client-v2 #99). For conformance tests.
        case officialClient
    }

    /// Builds and signs a V2/V3 market order (no expiration).
    public func marketOrder(
        _ request: MarketOrderRequest, market: MarketParameters, contracts: ExchangeContracts,
        salt: UInt256? = nil, timestamp: UInt64? = nil, rounding: MarketRounding = .accepted
    ) throws(OrderError) -> SignedOrder {
        let amounts = try marketAmounts(
            request.side, amount: request.amount, price: request.price, market: market, rounding: rounding)
        let order = OrderV2(
            salt: salt ?? self.salt(), maker: funder, signer: orderSigner, tokenId: request.tokenId,
            makerAmount: amounts.makerAmount, takerAmount: amounts.takerAmount, side: request.side,
            signatureType: signatureType, timestamp: UInt256(timestamp ?? clock()),
            metadata: request.metadata,
            builder: request.builder, expiration: .zero)
        return sign(order, in: contracts.domain(negRisk: market.negRisk))
    }

    func marketAmounts(
        _ side: Side, amount: ExactDecimal, price: ExactDecimal, market: MarketParameters,
        rounding: MarketRounding
    )
        throws(OrderError) -> OrderAmounts
    {
        let tick = market.tickSize
        try Self.validate(price: price, tick: tick)
        let amount = try checkedSize(amount, field: "amount", tick: tick)
        let amounts: OrderAmounts
        switch rounding {
        case .officialClient:
            amounts = AmountRounding.market(side: side, price: price, amount: amount, tick: tick)
        case .accepted:
            // Both fit 64 bits: the amount is at most 10^15 with 2 decimals, the price below 1.
            guard let units = amount.exactUnits(places: 6), let limit = price.exactUnits(places: 6),
                let made =
                    side == .buy
                    ? MarketOrderAmounts.buy(collateral: units, limit: limit, tick: tick)
                    : MarketOrderAmounts.sell(shares: units, limit: limit, tick: tick)
            else { throw .zeroAmount }
            amounts = made
        }
        guard !amounts.makerAmount.isZero, !amounts.takerAmount.isZero else { throw .zeroAmount }
        let shares = Self.shares(side == .buy ? amounts.takerAmount : amounts.makerAmount)
        guard shares >= market.minOrderSize else {
            throw .sizeBelowMinimum(size: shares, minimum: market.minOrderSize)
        }
        return amounts
    }

    /// Signs a V2/V3 order in `domain`. POLY_1271 orders get the ERC-7739 `TypedDataSign`
    /// wrapped signature the deposit wallet verifies; the others a plain 65-byte signature.
    public func sign(_ order: OrderV2, in domain: ExchangeDomain) -> SignedOrder {
        let structHash = order.structHash
        let orderHash = EIP712.digest(domainSeparator: domain.separator, structHash: structHash)
        let signature: [UInt8]
        if order.signatureType == .poly1271 {
            signature = DepositWalletSignature.wrap(
                order: order, structHash: structHash, domain: domain, signer: signer)
        } else {
            signature = signer.sign(digest: orderHash).bytes
        }
        return SignedOrder(payload: .v2(order), signature: signature, orderHash: orderHash)
    }

    // MARK: V1

    /// Builds and signs a V1 limit order (for history and tests; the V1 exchange is retired).
    public func limitOrderV1(
        _ request: LimitOrderRequest, market: MarketParameters, contracts: ExchangeContracts,
        salt: UInt256? = nil,
        nonce: UInt256 = .zero, feeRateBps: UInt256 = .zero, taker: Address = .zero
    ) throws(OrderError) -> SignedOrder {
        guard signatureType != .poly1271 else { throw .unsupportedSignatureType(signatureType, version: "1") }
        let tick = market.tickSize
        try Self.validate(price: request.price, tick: tick)
        let size = try checkedSize(request.size, field: "size", tick: tick)
        guard size >= market.minOrderSize else {
            throw .sizeBelowMinimum(size: size, minimum: market.minOrderSize)
        }
        let amounts = AmountRounding.limit(side: request.side, price: request.price, size: size, tick: tick)
        guard !amounts.makerAmount.isZero, !amounts.takerAmount.isZero else { throw .zeroAmount }
        return signV1(
            OrderV1(
                salt: salt ?? self.salt(), maker: funder, signer: signer.address, taker: taker,
                tokenId: request.tokenId,
                makerAmount: amounts.makerAmount, takerAmount: amounts.takerAmount,
                expiration: UInt256(request.expiration), nonce: nonce, feeRateBps: feeRateBps,
                side: request.side,
                signatureType: signatureType),
            in: contracts.domain(negRisk: market.negRisk))
    }

    /// Builds and signs a V1 market order.
    public func marketOrderV1(
        _ request: MarketOrderRequest, market: MarketParameters, contracts: ExchangeContracts,
        salt: UInt256? = nil,
        nonce: UInt256 = .zero, feeRateBps: UInt256 = .zero, taker: Address = .zero,
        rounding: MarketRounding = .accepted
    ) throws(OrderError) -> SignedOrder {
        guard signatureType != .poly1271 else { throw .unsupportedSignatureType(signatureType, version: "1") }
        let amounts = try marketAmounts(
            request.side, amount: request.amount, price: request.price, market: market, rounding: rounding)
        return signV1(
            OrderV1(
                salt: salt ?? self.salt(), maker: funder, signer: signer.address, taker: taker,
                tokenId: request.tokenId,
                makerAmount: amounts.makerAmount, takerAmount: amounts.takerAmount, expiration: .zero,
                nonce: nonce,
                feeRateBps: feeRateBps, side: request.side, signatureType: signatureType),
            in: contracts.domain(negRisk: market.negRisk))
    }

    /// Signs a V1 order in `domain`.
    public func signV1(_ order: OrderV1, in domain: ExchangeDomain) -> SignedOrder {
        let orderHash = order.digest(in: domain)
        return SignedOrder(
            payload: .v1(order), signature: signer.sign(digest: orderHash).bytes, orderHash: orderHash)
    }
}

/// The POLY_1271 (deposit wallet) signature: an ERC-7739 nested `TypedDataSign` signature.
///
/// The EOA signs `keccak(0x1901 ‖ exchangeDomainSeparator ‖ hashStruct(TypedDataSign))`, where
/// `TypedDataSign(Order contents, string name = "DepositWallet", string version = "1",
/// uint256 chainId, address verifyingContract = the wallet, bytes32 salt = 0)`; the signature sent is
/// `ecdsa ‖ exchangeDomainSeparator ‖ hashStruct(order) ‖ Order type string ‖ uint16 length`.
public enum DepositWalletSignature {
    /// The wallet's EIP-712 domain name.
    public static let walletName = "DepositWallet"
    /// The wallet's EIP-712 domain version.
    public static let walletVersion = "1"
    /// The EIP-712 type string of `TypedDataSign` over a V2 order.
    public static let typeString =
        "TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)"
        + OrderV2.typeString
    static let typeHash = Keccak256.hash(utf8: typeString)
    static let nameHash = Keccak256.hash(utf8: walletName)
    static let versionHash = Keccak256.hash(utf8: walletVersion)

    /// The digest the wallet owner signs.
    public static func digest(structHash: Bytes32, wallet: Address, domain: ExchangeDomain) -> Bytes32 {
        let typedDataSign = EIP712.hashWords([
            typeHash, structHash, nameHash, versionHash, UInt256(domain.chainId).word, wallet.word, .zero,
        ])
        return EIP712.digest(domainSeparator: domain.separator, structHash: typedDataSign)
    }

    /// The full wrapped signature for `order`.
    public static func wrap(
        order: OrderV2, structHash: Bytes32, domain: ExchangeDomain, signer: any DigestSigner
    )
        -> [UInt8]
    {
        let inner = signer.sign(digest: digest(structHash: structHash, wallet: order.signer, domain: domain))
        let contentsType = Array(OrderV2.typeString.utf8)
        return inner.bytes + domain.separator.bytes + structHash.bytes + contentsType
            + [UInt8(contentsType.count >> 8), UInt8(contentsType.count & 0xFF)]
    }
}
