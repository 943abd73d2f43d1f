import EVM

/// What copybot needs from Polymarket's CLOB: market data, order placement and look-up, and API
/// keys. The copy engine depends on this protocol; ``ClobHTTPClient`` is the real implementation.
public protocol ClobAPI: Sendable {
    /// `GET /book?token_id=`: the order book with the market's tick size, minimum size and neg-risk flag.
    func book(tokenID: UInt256) async throws(ClobError) -> OrderBook
    /// `GET /tick-size?token_id=`.
    func tickSize(tokenID: UInt256) async throws(ClobError) -> TickSize
    /// `GET /neg-risk?token_id=`.
    func negRisk(tokenID: UInt256) async throws(ClobError) -> Bool
    /// Tick size, minimum order size and neg-risk of a token's market (one `GET /book`).
    func marketParameters(tokenID: UInt256) async throws(ClobError) -> MarketParameters
    /// `POST /order`. Never throws: every ending, including a lost answer, is an ``OrderOutcome``.
    func postOrder(
        _ order: SignedOrder, type: OrderType, postOnly: Bool, deferExec: Bool
    ) async -> OrderOutcome
    /// `GET /data/order/{id}`: the order with this id (its EIP-712 hash), or nil if the exchange has none.
    func order(id: String) async throws(ClobError) -> OrderRecord?
    /// `DELETE /order`.
    func cancelOrder(id: String) async throws(ClobError) -> CancelResult
    /// `POST /auth/api-key` (L1): new API credentials for the signer.
    func createAPIKey(nonce: UInt256) async throws(ClobError) -> ApiCredentials
    /// `GET /auth/derive-api-key` (L1): the signer's existing API credentials for `nonce`.
    func deriveAPIKey(nonce: UInt256) async throws(ClobError) -> ApiCredentials
    /// `GET /time`: the CLOB's clock, in Unix seconds.
    func serverTime() async throws(ClobError) -> Int64
    /// `GET /data/trades` (L2): every trade matching `query`, all pages.
    func trades(_ query: TradeQuery) async throws(ClobError) -> [TradeRecord]
    /// `GET /balance-allowance` (L2): the balance of `asset` and its allowances, for the account of
    /// the API key with `signatureType`.
    func balanceAllowance(
        _ asset: BalanceAsset, signatureType: SignatureType
    ) async throws(ClobError) -> BalanceAllowance
}

extension ClobAPI {
    /// `POST /order` without post-only or deferred execution.
    public func postOrder(_ order: SignedOrder, type: OrderType) async -> OrderOutcome {
        await postOrder(order, type: type, postOnly: false, deferExec: false)
    }
}

/// Where market parameters come from (the CLOB, or anything in tests); what ``MarketMetadataCache`` wraps.
public protocol MarketParametersSource: Sendable {
    /// Tick size, minimum order size and neg-risk of a token's market.
    func marketParameters(tokenID: UInt256) async throws(ClobError) -> MarketParameters
}

/// An order book as `GET /book` returns it. Levels are in the CLOB's order: best price last.
public struct OrderBook: Hashable, Sendable {
    /// The market (condition id).
    public var market: String
    /// The token id.
    public var tokenID: UInt256
    /// Bids, ascending by price (best last).
    public var bids: [BookLevel]
    /// Asks, descending by price (best last).
    public var asks: [BookLevel]
    /// The market's parameters.
    public var parameters: MarketParameters
    /// The book hash the CLOB reports, if any.
    public var hash: String?
    /// The book's timestamp (milliseconds, as text), if any.
    public var timestamp: String?

    /// Creates a book.
    public init(
        market: String, tokenID: UInt256, bids: [BookLevel], asks: [BookLevel], parameters: MarketParameters,
        hash: String? = nil, timestamp: String? = nil
    ) {
        self.market = market
        self.tokenID = tokenID
        self.bids = bids
        self.asks = asks
        self.parameters = parameters
        self.hash = hash
        self.timestamp = timestamp
    }
}

/// The exchange's answer to an accepted `POST /order`.
public struct OrderAcceptance: Hashable, Sendable {
    /// The order id (its EIP-712 hash).
    public var orderID: String
    /// `live`, `matched`, `delayed` or `unmatched`.
    public var status: String
    /// Settlement transactions of immediate fills, if any.
    public var transactionHashes: [String]
    /// What the order received and gave in immediate fills (decimal text; empty if none).
    public var takingAmount: String
    public var makingAmount: String

    /// Creates an acceptance.
    public init(
        orderID: String, status: String, transactionHashes: [String] = [], takingAmount: String = "",
        makingAmount: String = ""
    ) {
        self.orderID = orderID
        self.status = status
        self.transactionHashes = transactionHashes
        self.takingAmount = takingAmount
        self.makingAmount = makingAmount
    }
}

/// An order as `GET /data/order/{id}` describes it.
public struct OrderRecord: Hashable, Sendable {
    /// The order id (its EIP-712 hash).
    public var id: String
    /// `LIVE`, `MATCHED`, `CANCELED`, … as the exchange writes it.
    public var status: String
    /// The token id, as decimal text.
    public var assetID: String
    /// `BUY` or `SELL`.
    public var side: String
    /// Shares, as decimal text.
    public var originalSize: String
    /// Shares matched so far, as decimal text.
    public var sizeMatched: String
    /// The price, as decimal text.
    public var price: String
    /// The maker (funder) address.
    public var makerAddress: String
    /// The API key that owns the order.
    public var owner: String
    /// `GTC`, `GTD`, `FOK` or `FAK`.
    public var orderType: String

    /// Creates a record.
    public init(
        id: String, status: String, assetID: String = "", side: String = "", originalSize: String = "",
        sizeMatched: String = "", price: String = "", makerAddress: String = "", owner: String = "",
        orderType: String = ""
    ) {
        self.id = id
        self.status = status
        self.assetID = assetID
        self.side = side
        self.originalSize = originalSize
        self.sizeMatched = sizeMatched
        self.price = price
        self.makerAddress = makerAddress
        self.owner = owner
        self.orderType = orderType
    }
}

/// The answer to `DELETE /order`.
public struct CancelResult: Hashable, Sendable {
    /// Ids of the orders cancelled.
    public var canceled: [String]
    /// Ids not cancelled, with the exchange's reason.
    public var notCanceled: [String: String]

    /// Creates a result.
    public init(canceled: [String], notCanceled: [String: String]) {
        self.canceled = canceled
        self.notCanceled = notCanceled
    }
}

/// How a `POST /order` ended. The client never re-posts an order whose first answer was lost
/// without first looking it up by its hash; what it found is in ``resolved(_:)``.
public enum OrderOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The exchange answered and accepted the order.
    case accepted(OrderAcceptance)
    /// The exchange answered and refused the order (or it was never sent: see the error's kind).
    case rejected(ClobError)
    /// The first answer was lost (timeout, connection dropped after sending, 5xx); the order was
    /// then looked up by its hash.
    case resolved(LostAnswer)

    /// What became of an order whose `POST /order` answer was lost.
    public struct LostAnswer: Hashable, Sendable {
        /// What was lost (the transport error or status), for the logs.
        public var cause: ClobError
        /// What the look-up found.
        public var resolution: Resolution
        /// How many times the same signed order was sent in all.
        public var posts: Int

        /// Creates a resolution.
        public init(cause: ClobError, resolution: Resolution, posts: Int) {
            self.cause = cause
            self.resolution = resolution
            self.posts = posts
        }
    }

    /// The look-up's finding.
    public enum Resolution: Hashable, Sendable {
        /// The lost post had placed the order: the exchange has it under its hash.
        case found(OrderRecord)
        /// The exchange had no order with this hash; the identical signed order (same hash, which
        /// the exchange will never accept twice) was posted again and accepted.
        case reposted(OrderAcceptance)
        /// Not found; the re-post was refused.
        case repostRejected(ClobError)
        /// Neither look-ups nor re-posts gave an answer within the attempts allowed: the order may
        /// or may not be on the exchange. Look it up again later by its hash.
        case undetermined(ClobError)
    }

    /// The order id when the order is (known to be) on the exchange.
    public var placedOrderID: String? {
        switch self {
        case .accepted(let a): a.orderID
        case .rejected: nil
        case .resolved(let lost):
            switch lost.resolution {
            case .found(let record): record.id
            case .reposted(let a): a.orderID
            case .repostRejected, .undetermined: nil
            }
        }
    }

    public var description: String {
        switch self {
        case .accepted(let a): "accepted \(a.orderID) (\(a.status))"
        case .rejected(let e): "rejected: \(e)"
        case .resolved(let lost):
            switch lost.resolution {
            case .found(let r): "answer lost (\(lost.cause)); found by hash: \(r.id) (\(r.status))"
            case .reposted(let a):
                "answer lost (\(lost.cause)); not found; re-posted: \(a.orderID) (\(a.status))"
            case .repostRejected(let e): "answer lost (\(lost.cause)); not found; re-post rejected: \(e)"
            case .undetermined(let e): "answer lost (\(lost.cause)); still undetermined: \(e)"
            }
        }
    }
}

/// The filters of `GET /data/trades` (py-clob-client-v2 `TradeParams`: `id`, `maker_address`,
/// `market`, `asset_id`, `before`, `after`).
public struct TradeQuery: Hashable, Sendable {
    /// One trade by its id.
    public var id: String?
    /// The trades of this maker (funder) address.
    public var makerAddress: Address?
    /// The market (condition id).
    public var market: String?
    /// The token id.
    public var assetID: UInt256?
    /// Trades matched before / after these Unix seconds.
    public var before: Int64?
    public var after: Int64?

    /// Creates a query.
    public init(
        id: String? = nil, makerAddress: Address? = nil, market: String? = nil, assetID: UInt256? = nil,
        before: Int64? = nil, after: Int64? = nil
    ) {
        self.id = id
        self.makerAddress = makerAddress
        self.market = market
        self.assetID = assetID
        self.before = before
        self.after = after
    }
}

/// One maker order's part of a trade (`maker_orders[]` of `GET /data/trades`).
public struct MakerOrderMatch: Hashable, Sendable {
    public var orderID: String
    public var owner: String
    public var makerAddress: String
    /// Shares matched from this maker order, decimal text.
    public var matchedAmount: String
    /// The maker order's price in its own outcome, decimal text.
    public var price: String
    /// The maker order's token (the taker's, or the complementary outcome's on a mint or merge).
    public var assetID: String
    public var side: String
    public var outcome: String

    /// Creates a maker match.
    public init(
        orderID: String, owner: String = "", makerAddress: String = "", matchedAmount: String, price: String,
        assetID: String, side: String, outcome: String = ""
    ) {
        self.orderID = orderID
        self.owner = owner
        self.makerAddress = makerAddress
        self.matchedAmount = matchedAmount
        self.price = price
        self.assetID = assetID
        self.side = side
        self.outcome = outcome
    }
}

/// A trade as `GET /data/trades` describes it (rs-clob-client `TradeResponse`, clob-client-v2
/// `Trade`): one taker order matched against one or more maker orders.
public struct TradeRecord: Hashable, Sendable {
    public var id: String
    /// The taker order's id (its EIP-712 hash).
    public var takerOrderID: String
    public var market: String
    /// The taker's token id, decimal text.
    public var assetID: String
    /// The taker's side.
    public var side: String
    /// The taker's shares, decimal text (the sum of the makers' matched amounts).
    public var size: String
    /// A price, decimal text. Not used for booking: what it stands for when a taker meets several
    /// prices is not documented; the makers' own prices are.
    public var price: String
    /// `MATCHED`, `MINED`, `CONFIRMED`, `RETRYING` or `FAILED`.
    public var status: String
    /// Unix seconds, as text.
    public var matchTime: String
    public var owner: String
    public var makerAddress: String
    /// `TAKER` or `MAKER`: which side of the trade the querying account was on.
    public var traderSide: String
    public var transactionHash: String
    public var makerOrders: [MakerOrderMatch]

    /// Creates a trade.
    public init(
        id: String, takerOrderID: String, market: String = "", assetID: String, side: String, size: String,
        price: String, status: String, matchTime: String = "", owner: String = "", makerAddress: String = "",
        traderSide: String = "", transactionHash: String = "", makerOrders: [MakerOrderMatch]
    ) {
        self.id = id
        self.takerOrderID = takerOrderID
        self.market = market
        self.assetID = assetID
        self.side = side
        self.size = size
        self.price = price
        self.status = status
        self.matchTime = matchTime
        self.owner = owner
        self.makerAddress = makerAddress
        self.traderSide = traderSide
        self.transactionHash = transactionHash
        self.makerOrders = makerOrders
    }
}

/// The asset of a `GET /balance-allowance` request.
public enum BalanceAsset: Hashable, Sendable {
    /// The collateral (pUSD on V2).
    case collateral
    /// An outcome token.
    case conditional(UInt256)
}

/// A `GET /balance-allowance` answer: `{"balance": "…", "allowances": {"0xspender": "…"}}` on V2
/// (clob-client-v2 `BalanceAllowanceResponse`), `{"balance", "allowance"}` on V1, integer text in
/// token units (6 decimals).
public struct BalanceAllowance: Hashable, Sendable {
    /// The balance, in token units.
    public var balance: UInt256
    /// The allowance granted to each spender (exchange contracts), in token units; for an outcome
    /// token, a non-zero value means `setApprovalForAll` was given. A V1 answer's single
    /// `allowance` is under the zero address.
    public var allowances: [Address: UInt256]

    /// Creates an answer.
    public init(balance: UInt256, allowances: [Address: UInt256]) {
        self.balance = balance
        self.allowances = allowances
    }
}
