import EVM
import Foundation
import Polymarket
import Synchronization

/// Why a call to the exchange failed.
///
/// ``rejected(_:)`` is definitive: the exchange refused the order and nothing was placed.
/// Everything else is a fault: the outcome of a post is unknown and is resolved by a look-up,
/// never by posting again.
public enum GatewayError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The exchange refused the request (4xx with a reason: bad size, balance, tick…).
    case rejected(String)
    /// HTTP 429.
    case rateLimited
    /// HTTP 5xx.
    case server(status: Int, message: String)
    /// No answer in time.
    case timeout
    /// Connection or protocol failure.
    case transport(String)

    /// The error as a gateway error (any other error is a transport fault).
    public init(_ error: any Error) {
        self = error as? GatewayError ?? .transport("\(error)")
    }

    /// Whether the error counts as a fault for the circuit breaker (everything but a rejection).
    public var isFault: Bool {
        if case .rejected = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .rejected(let m): "rejected: \(m)"
        case .rateLimited: "rate limited (429)"
        case .server(let status, let m): "server error \(status): \(m)"
        case .timeout: "timeout"
        case .transport(let m): "transport: \(m)"
        }
    }
}

/// Where an order stands at the exchange.
public enum ExchangeOrderStatus: String, Hashable, Sendable, Codable {
    /// Resting on the book (possibly partly matched).
    case live
    /// Fully or partly matched and done (FAK remainder cancelled).
    case matched
    /// Accepted, matching delayed.
    case delayed
    /// Accepted but nothing matched (FAK/FOK with no liquidity).
    case unmatched
    /// Cancelled.
    case cancelled
}

/// What the exchange says about an order: its status and what matched so far.
public struct ExchangeOrder: Hashable, Sendable {
    public var orderHash: Bytes32
    public var status: ExchangeOrderStatus
    /// Shares matched so far.
    public var matchedShares: Fixed6
    /// Collateral matched so far (before fees).
    public var matchedCollateral: Fixed6
    /// Fees charged so far.
    public var fee: Fixed6

    /// Creates an order state.
    public init(
        orderHash: Bytes32, status: ExchangeOrderStatus, matchedShares: Fixed6, matchedCollateral: Fixed6,
        fee: Fixed6 = .zero
    ) {
        self.orderHash = orderHash
        self.status = status
        self.matchedShares = matchedShares
        self.matchedCollateral = matchedCollateral
        self.fee = fee
    }
}

/// The exchange as the engine sees it. Implemented by the CLOB client (and by stand-ins in tests).
///
/// Methods throw ``GatewayError`` (other errors count as transport faults). They are declared with
/// untyped `throws`: typed throws on async protocol requirements miscompiled in Swift 6.3 (an
/// intermittent null-pointer jump in the async return path).
///
/// `post` must be safe to call once per signed order; the engine never posts the same order twice
/// and resolves every unknown outcome through ``lookup(_:)``.
public protocol ExchangeGateway: Sendable {
    /// The token's book (`GET /book`).
    func book(tokenID: UInt256) async throws -> MarketBook
    /// The token's market rules (tick size, minimum size, neg risk).
    func marketParameters(tokenID: UInt256) async throws -> MarketParameters
    /// The market (condition) the token belongs to, from market metadata.
    func market(of tokenID: UInt256) async throws -> MarketID
    /// Posts a signed order with `orderType`. Returns the order's state when accepted.
    func post(_ order: SignedOrder, orderType: OrderType) async throws -> ExchangeOrder
    /// Posts a signed order as ``post(_:orderType:)`` does, calling `sent` once the order is on its
    /// way: from then on, ``book(tokenID:)`` of its token shows what the order may take.
    func post(
        _ order: SignedOrder, orderType: OrderType, sent: @escaping @Sendable () -> Void
    ) async throws -> ExchangeOrder
    /// What the exchange did with `order`: its state and what it traded (at the prices it traded
    /// at), or nil when the exchange shows nothing of it.
    func lookup(_ order: SignedOrder) async throws -> ExchangeOrder?
    /// Our available collateral.
    func balance() async throws -> Fixed6
    /// Starts reading the token's book ahead of a decision that will ask for it (a hint: a
    /// gateway may ignore it).
    func prefetchBook(tokenID: UInt256)
    /// Why the account cannot fund an order, from balances and allowances read in the background
    /// (no round trip): a BUY of `collateral`, or a SELL of `shares` of `tokenID`, on the NegRisk
    /// exchange when `negRisk`. Nil when it can, or when the gateway does not know.
    func fundingShortfall(
        side: Side, tokenID: UInt256, shares: Fixed6, collateral: Fixed6, negRisk: Bool
    ) -> SkipReason?
}

extension ExchangeGateway {
    /// Ignores the hint.
    public func prefetchBook(tokenID: UInt256) {}

    /// Not known: nil.
    public func fundingShortfall(
        side: Side, tokenID: UInt256, shares: Fixed6, collateral: Fixed6, negRisk: Bool
    ) -> SkipReason? { nil }

    /// ``post(_:orderType:)``, then `sent` once it is answered (a gateway whose books do not show
    /// orders in flight does not let the next order of a token be priced before the answer).
    public func post(
        _ order: SignedOrder, orderType: OrderType, sent: @escaping @Sendable () -> Void
    ) async throws -> ExchangeOrder {
        let answer = try await post(order, orderType: orderType)
        sent()
        return answer
    }
}

/// Signs orders for the engine: the order of an intent in `market`, with `salt`.
public protocol OrderSigning: Sendable {
    /// Builds and signs the order of `intent`: a market order (FAK, FOK) with the amounts the CLOB
    /// accepts for market orders, or a limit order (GTC, GTD) by the limit rule. Throws
    /// ``OrderError`` when the exchange's rules would reject it.
    func sign(
        _ intent: OrderIntent, market: MarketParameters, salt: UInt256
    ) throws(OrderError) -> SignedOrder
}

/// ``OrderSigning`` with the CLOB order builder and the configured exchange contracts.
public struct BuilderOrderSigner: OrderSigning {
    public let builder: OrderBuilder
    public let contracts: ExchangeContracts

    /// Creates a signer.
    public init(builder: OrderBuilder, contracts: ExchangeContracts) {
        self.builder = builder
        self.contracts = contracts
    }

    /// Builds and signs the intent's order: a market order spending the intent's collateral (BUY)
    /// or selling its shares (SELL) at a worst price of its limit price, or a limit order of its
    /// shares at that price.
    public func sign(
        _ intent: OrderIntent, market: MarketParameters, salt: UInt256
    ) throws(OrderError) -> SignedOrder {
        guard let price = intent.limitPrice.exactDecimal, let shares = intent.shares.exactDecimal,
            let collateral = intent.collateral.exactDecimal
        else { throw .zeroAmount }
        switch intent.orderType {
        case .fak, .fok:
            return try builder.marketOrder(
                MarketOrderRequest(
                    tokenId: intent.tokenId, side: intent.side,
                    amount: intent.side == .buy ? collateral : shares, price: price),
                market: market, contracts: contracts, salt: salt)
        case .gtc, .gtd:
            return try sign(
                LimitOrderRequest(tokenId: intent.tokenId, side: intent.side, price: price, size: shares),
                market: market, salt: salt)
        }
    }

    /// Builds and signs a V2/V3 limit order.
    public func sign(
        _ request: LimitOrderRequest, market: MarketParameters, salt: UInt256
    ) throws(OrderError)
        -> SignedOrder
    {
        try builder.limitOrder(request, market: market, contracts: contracts, salt: salt)
    }
}

/// Whether trading is stopped by hand.
public protocol KillSwitch: Sendable {
    /// A description of what engaged the switch, or nil when it is not engaged.
    func engaged() -> String?
}

/// A kill switch that is engaged while a file exists.
public struct FileKillSwitch: KillSwitch {
    public let path: String

    /// Creates a switch watching `path`.
    public init(path: String) { self.path = path }

    /// `file <path>` while the file exists.
    public func engaged() -> String? { FileManager.default.fileExists(atPath: path) ? "file \(path)" : nil }
}

/// A kill switch set in process (by an operator command or a test).
public final class FlagKillSwitch: KillSwitch {
    private let flag = Mutex<String?>(nil)

    /// Creates a released switch.
    public init() {}

    /// Engages the switch with a reason.
    public func engage(_ reason: String = "flag") { flag.withLock { $0 = reason } }

    /// Releases the switch.
    public func release() { flag.withLock { $0 = nil } }

    /// The reason while engaged.
    public func engaged() -> String? { flag.withLock { $0 } }
}

/// Several switches: engaged when any is.
public struct AnyKillSwitch: KillSwitch {
    public let switches: [any KillSwitch]

    /// Combines switches.
    public init(_ switches: [any KillSwitch]) { self.switches = switches }

    /// The first engaged switch's reason.
    public func engaged() -> String? {
        for s in switches { if let reason = s.engaged() { return reason } }
        return nil
    }
}
