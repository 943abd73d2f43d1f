import EVM
import Foundation
import Hummingbird
import Logging
import NIOCore
import Polymarket
import Synchronization

/// A local stand-in for Polymarket's CLOB, served over HTTP on loopback (tests, `copybot devnet`).
///
/// It models the real exchange strictly, each rule with its public source beside the code: L1
/// signatures on API-key requests, L2 HMAC headers over the exact body, the EIP-712 order
/// signature (recovering the signer), signer/maker against the signature type, the price on the
/// tick (limit orders) or within range (market orders), the amounts' precision by order type, the
/// minimum size and the $1 minimum of a marketable BUY, known token, no duplicate order hash, and —
/// when balances are configured — the maker's balance and allowance. With
/// ``Configuration/matchesTakerOrders`` it matches FAK and FOK orders against its book as the
/// exchange contract settles them (a market BUY spends at most its collateral and takes the
/// surplus shares of cheaper asks), moves the taker's balances and records one ``Trade`` per
/// matched order (`GET /data/trades`). It serves books, order look-ups, cancels and
/// `GET /balance-allowance`, and can inject faults: 429 with `Retry-After`, 5xx, answers slower
/// than the client's timeout, and connections closed without an answer (optionally after
/// accepting the order).
public final class ClobStandIn: Sendable {
    /// One market the stand-in trades.
    public struct Market: Hashable, Sendable {
        public var tokenID: UInt256
        /// The market (condition id) reported in books.
        public var conditionID: String
        /// Bids, ascending by price (best last), as the CLOB sends them.
        public var bids: [BookLevel]
        /// Asks, descending by price (best last).
        public var asks: [BookLevel]
        public var tickSize: TickSize
        public var minOrderSize: ExactDecimal
        public var negRisk: Bool
        /// False: orders are refused as for a closed market.
        public var acceptingOrders: Bool

        /// Creates a market.
        public init(
            tokenID: UInt256, conditionID: String = "0x" + String(repeating: "ab", count: 32),
            bids: [BookLevel] = [],
            asks: [BookLevel] = [], tickSize: TickSize = .hundredth,
            minOrderSize: ExactDecimal = ExactDecimal(5),
            negRisk: Bool = false, acceptingOrders: Bool = true
        ) {
            self.tokenID = tokenID
            self.conditionID = conditionID
            self.bids = bids
            self.asks = asks
            self.tickSize = tickSize
            self.minOrderSize = minOrderSize
            self.negRisk = negRisk
            self.acceptingOrders = acceptingOrders
        }
    }

    /// The endpoints, for faults and request counts.
    public enum Route: String, Hashable, Sendable, CaseIterable {
        case book, tickSize, negRisk, postOrder, lookup, cancel, createAPIKey, deriveAPIKey, time
        /// `GET /balance-allowance`.
        case balanceAllowance
        /// `GET /data/trades` and its alias `GET /trades`.
        case trades
        case other
    }

    /// A fault the next request(s) on a route meet.
    public enum Fault: Hashable, Sendable {
        /// 429 with `Retry-After` (seconds, possibly fractional), without processing the request.
        case rateLimited(retryAfter: Double)
        /// A 5xx answer; with `afterProcessing` the request (an order, say) takes effect first.
        case serverError(status: Int, afterProcessing: Bool)
        /// The answer comes after `delay`; with `afterProcessing` the request takes effect at once,
        /// otherwise only after the delay.
        case delay(Duration, afterProcessing: Bool)
        /// The connection is closed without an answer; with `afterProcessing` the request takes
        /// effect first ("accept the order, then drop the response").
        case dropConnection(afterProcessing: Bool)
    }

    /// An order the stand-in accepted (or registered and killed: a FAK or FOK that met nothing or
    /// not enough is refused, but its hash is kept, so that posting it again answers `Duplicated`).
    public struct AcceptedOrder: Hashable, Sendable {
        /// The EIP-712 order hash (its id).
        public var orderHash: String
        public var order: OrderV2
        public var orderType: String
        /// The API key that posted it.
        public var owner: String
        /// The address recovered from the signature.
        public var recoveredSigner: Address
        /// `LIVE`, `MATCHED`, `UNMATCHED` (a market order killed without a match) or `CANCELED`.
        public var status: String
        /// Shares matched against the book (millionths), when taker orders match.
        public var matchedShares: UInt128 = 0
        /// Collateral of those matches (millionths).
        public var matchedCollateral: UInt128 = 0
        /// When the `POST /order` was processed (after any injected delay).
        public var receivedAt = ContinuousClock.now
        /// When the `POST /order` arrived (before any injected delay).
        public var arrivedAt = ContinuousClock.now
        /// The stand-in's clock (Unix seconds, with ``Configuration/clockOffsetSeconds``) at
        /// acceptance: `created_at` of look-ups.
        public var createdAt: Int64 = 0
        /// The ids of the trades the order took part in (`associate_trades`).
        public var tradeIDs: [String] = []
    }

    /// The stand-in's settings.
    public struct Configuration: Sendable {
        /// The credentials it accepts for L2 and hands out for L1.
        public var credentials: ApiCredentials
        /// The address those credentials belong to; nil accepts any L1 signer (and then any
        /// `POLY_ADDRESS` whose HMAC verifies).
        public var account: Address?
        /// The exchange contracts orders must be signed for.
        public var contracts: ExchangeContracts
        /// The chain id of L1 signatures.
        public var chainId: UInt64
        /// The markets.
        public var markets: [Market]
        /// When true, FAK and FOK orders are matched against the book at once (levels at or better
        /// than the order's price, best first; the book shrinks) and answered `matched` or
        /// `unmatched`; GTC/GTD orders rest as `live`. When false every order rests as `live`.
        public var matchesTakerOrders = false
        /// More accounts whose API credentials are accepted for L2 (a desk's several accounts):
        /// each key with the address it belongs to. Orders are recorded with the key that posted them.
        public var otherAccounts: [(credentials: ApiCredentials, account: Address)] = []
        /// Added to this machine's clock in `GET /time` answers, trade match times and order
        /// creation times (a CLOB whose clock differs).
        public var clockOffsetSeconds: Int64 = 0
        /// The collateral balance of each account (maker address, in token units) the stand-in
        /// starts with. Nil: funds are unlimited and never checked (unless a setter such as
        /// ``ClobStandIn/setCollateral(_:balance:allowance:)`` is called). A listed account starts
        /// with unlimited allowances and approvals for both exchanges and no outcome tokens; an
        /// unlisted one with nothing.
        public var balances: [Address: UInt256]?
        /// The funder (maker) address of an API key, for `GET /balance-allowance`: with a proxy or
        /// Safe wallet the funder differs from the signer in `POLY_ADDRESS`, which the real CLOB
        /// derives from `signature_type`. Keys not listed use `POLY_ADDRESS`.
        public var funders: [String: Address] = [:]
        /// The page size of `GET /data/trades` (small, so that clients page).
        public var tradesPageSize = 3
        /// When true, `GET /data/order/{id}` answers `null` (HTTP 200) for a FAK or FOK order that is
        /// no longer live — matched, partly matched or killed — as users report of the real CLOB
        /// (py-clob-client issue #217: `get_order` returns None for filled FOK/FAK orders; the fill
        /// shows only in `get_trades`).
        public var lookupOmitsFinishedMarketOrders = false

        /// Creates settings.
        public init(
            credentials: ApiCredentials, account: Address?, contracts: ExchangeContracts,
            chainId: UInt64 = 137,
            markets: [Market]
        ) {
            self.credentials = credentials
            self.account = account
            self.contracts = contracts
            self.chainId = chainId
            self.markets = markets
        }
    }

    /// Why the stand-in could not start.
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    struct State {
        var markets: [UInt256: Market] = [:]
        /// Each market's `GET /book` answer around its timestamp, made up front and again when
        /// asked for after the book changed (a deep book takes a while to render; the CLOB serves
        /// its books from memory).
        var renderedBooks: [UInt256: (head: String, tail: String)] = [:]
        var accepted: [AcceptedOrder] = []
        var indexByHash: [String: Int] = [:]
        var faults: [Route: [Fault]] = [:]
        var requests: [Route: Int] = [:]
        /// The remote address (so the client's port) of each connection a request came on.
        var connections: Set<String> = []
        var rejections: [String] = []
        var firstBookRequest: [UInt256: ContinuousClock.Instant] = [:]
        /// The accounts' funds; nil while funds are not checked.
        var funds: [Address: AccountFunds]?
        var trades: [Trade] = []
        var task: Task<Void, Never>?
        var port: Int?
    }

    /// The settings.
    public let configuration: Configuration
    let logger: Logger
    let state: Mutex<State>

    /// Creates a stand-in (not yet listening).
    public init(configuration: Configuration, logger: Logger = Logger(label: "copybot.clob-stand-in")) {
        self.configuration = configuration
        self.logger = logger
        var initial = State()
        for market in configuration.markets {
            initial.markets[market.tokenID] = market
            initial.renderedBooks[market.tokenID] = StandInJSON.book(market)
        }
        if let balances = configuration.balances {
            var funds: [Address: AccountFunds] = [:]
            for (account, balance) in balances {
                var entry = AccountFunds(contracts: configuration.contracts)
                entry.collateral = balance
                funds[account] = entry
            }
            initial.funds = funds
        }
        self.state = Mutex(initial)
    }

    /// Starts serving on `host:port` (port 0: any free port) and returns the bound port.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: StandInResponder(standIn: self),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        let logger = self.logger
        let task = Task {
            do { try await app.run() } catch { logger.error("CLOB stand-in stopped: \(error)") }
            continuation.finish()
        }
        for await bound in ports {
            state.withLock {
                $0.task = task
                $0.port = bound
            }
            logger.info("CLOB stand-in listening", metadata: ["host": "\(host)", "port": "\(bound)"])
            return bound
        }
        throw StartError(description: "the CLOB stand-in could not listen on \(host):\(port)")
    }

    /// Stops serving.
    public func stop() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            defer {
                state.task = nil
                state.port = nil
            }
            return state.task
        }
        task?.cancel()
        await task?.value
    }

    /// The bound port while running.
    public var port: Int? { state.withLock { $0.port } }

    /// `http://127.0.0.1:<port>` while running.
    public var baseURL: String { "http://127.0.0.1:\(port ?? 0)" }

    /// Adds or replaces a market.
    public func setMarket(_ market: Market) {
        state.withLock {
            $0.markets[market.tokenID] = market
            $0.renderedBooks[market.tokenID] = nil
        }
    }

    /// Queues `fault` for the next `times` requests on `route`.
    public func inject(_ fault: Fault, on route: Route, times: Int = 1) {
        state.withLock { $0.faults[route, default: []] += Array(repeating: fault, count: times) }
    }

    /// Every order accepted, in order of acceptance.
    public var acceptedOrders: [AcceptedOrder] { state.withLock { $0.accepted } }

    /// The messages of every refusal, in order.
    public var rejections: [String] { state.withLock { $0.rejections } }

    /// How many requests reached `route`.
    public func requestCount(_ route: Route) -> Int { state.withLock { $0.requests[route] ?? 0 } }

    /// How many connections requests came on so far (one per client address and port).
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// When the first `GET /book` of each token arrived (for latency breakdowns).
    public var firstBookRequests: [UInt256: ContinuousClock.Instant] {
        state.withLock { $0.firstBookRequest }
    }

    // MARK: Handling

    func route(method: HTTPRequest.Method, path: String) -> Route {
        switch (method, path) {
        case (.get, "/book"): .book
        case (.get, "/tick-size"): .tickSize
        case (.get, "/neg-risk"): .negRisk
        case (.post, "/order"): .postOrder
        case (.delete, "/order"): .cancel
        case (.post, "/auth/api-key"): .createAPIKey
        case (.get, "/auth/derive-api-key"): .deriveAPIKey
        case (.get, "/time"): .time
        case (.get, "/balance-allowance"): .balanceAllowance
        case (.get, "/data/trades"), (.get, "/trades"): .trades
        case (.get, _) where path.hasPrefix("/data/order/"): .lookup
        default: .other
        }
    }

    func respond(to request: Request, body: [UInt8], channel: any Channel) async throws -> Response {
        let arrived = ContinuousClock.now
        let path = request.uri.path
        let route = route(method: request.method, path: path)
        let connection = channel.remoteAddress.map { "\($0)" } ?? "unknown"
        let fault = state.withLock { state -> Fault? in
            state.requests[route, default: 0] += 1
            state.connections.insert(connection)
            guard var queue = state.faults[route], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            state.faults[route] = queue
            return first
        }
        let process = { () -> Answer in
            self.handle(route: route, request: request, path: path, body: body, arrived: arrived)
        }
        guard let fault else { return process().response }
        logger.debug("injecting fault", metadata: ["route": "\(route.rawValue)", "fault": "\(fault)"])
        switch fault {
        case .rateLimited(let seconds):
            var response = Answer.error(429, "Too Many Requests").response
            response.headers[.retryAfter] = Self.format(seconds)
            return response
        case .serverError(let status, let afterProcessing):
            if afterProcessing { _ = process() }
            return Answer.error(status, "Internal Server Error").response
        case .delay(let delay, let afterProcessing):
            if afterProcessing {
                let answer = process()
                try await Task.sleep(for: delay)
                return answer.response
            }
            try await Task.sleep(for: delay)
            return process().response
        case .dropConnection(let afterProcessing):
            if afterProcessing { _ = process() }
            try? await channel.close()
            throw StartError(description: "connection dropped on purpose")
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// An answer before it becomes a Hummingbird response.
    struct Answer {
        var status: Int
        var json: String

        static func error(_ status: Int, _ message: String) -> Answer {
            Answer(status: status, json: "{\"error\":\(StandInJSON.string(message))}")
        }

        var response: Response {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(
                status: HTTPResponse.Status(code: status), headers: headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
        }
    }

    func reject(_ status: Int, _ message: String) -> Answer {
        state.withLock { $0.rejections.append(message) }
        logger.debug("refused", metadata: ["status": "\(status)", "reason": "\(message)"])
        return .error(status, message)
    }

    func handle(
        route: Route, request: Request, path: String, body: [UInt8], arrived: ContinuousClock.Instant = .now
    ) -> Answer {
        switch route {
        case .time:
            return Answer(status: 200, json: "\(unixNow)")
        case .book, .tickSize, .negRisk:
            guard let text = request.uri.queryParameters["token_id"],
                let token = UInt256(decimal: String(text))
            else {
                return reject(400, "Invalid token id")
            }
            guard let market = state.withLock({ $0.markets[token] }) else {
                return reject(404, "No orderbook exists for the requested token id")
            }
            if route == .book {
                let now = ContinuousClock.now
                state.withLock { if $0.firstBookRequest[token] == nil { $0.firstBookRequest[token] = now } }
            }
            switch route {
            case .tickSize:
                return Answer(status: 200, json: "{\"minimum_tick_size\":\(market.tickSize.rawValue)}")
            case .negRisk: return Answer(status: 200, json: "{\"neg_risk\":\(market.negRisk)}")
            default:
                let rendered = state.withLock { st in
                    if let rendered = st.renderedBooks[token] { return rendered }
                    let rendered = StandInJSON.book(st.markets[token] ?? market)
                    st.renderedBooks[token] = rendered
                    return rendered
                }
                return Answer(
                    status: 200,
                    json: rendered.head + "\(Int64(Date().timeIntervalSince1970 * 1000))" + rendered.tail)
            }
        case .createAPIKey, .deriveAPIKey:
            return apiKey(request)
        case .postOrder:
            if let refusal = verifyL2(request, method: "POST", path: path, body: body) { return refusal }
            return postOrder(request, body: body, arrived: arrived)
        case .lookup:
            if let refusal = verifyL2(request, method: "GET", path: path, body: body) { return refusal }
            return lookup(id: String(path.dropFirst("/data/order/".count)))
        case .balanceAllowance:
            if let refusal = verifyL2(request, method: "GET", path: path, body: body) { return refusal }
            return balanceAllowance(request)
        case .trades:
            if let refusal = verifyL2(request, method: "GET", path: path, body: body) { return refusal }
            return trades(request)
        case .cancel:
            if let refusal = verifyL2(request, method: "DELETE", path: path, body: body) { return refusal }
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let id = object["orderID"] as? String
            else { return reject(400, "Invalid order payload") }
            let canceled = state.withLock { s -> Bool in
                guard let i = s.indexByHash[id], s.accepted[i].status == "LIVE" else { return false }
                s.accepted[i].status = "CANCELED"
                return true
            }
            return Answer(
                status: 200,
                json: canceled
                    ? "{\"canceled\":[\(StandInJSON.string(id))],\"not_canceled\":{}}"
                    : "{\"canceled\":[],\"not_canceled\":{\(StandInJSON.string(id)):\"order not found or already canceled\"}}"
            )
        case .other:
            return reject(404, "not found")
        }
    }

    /// The stand-in's clock in Unix seconds (with ``Configuration/clockOffsetSeconds``).
    var unixNow: Int64 { Int64(Date().timeIntervalSince1970) + configuration.clockOffsetSeconds }

    func header(_ request: Request, _ name: String) -> String? {
        let canonical = name.lowercased()
        return request.headers.first { $0.name.canonicalName == canonical }?.value
    }

    /// L1: the `ClobAuth` signature must recover `POLY_ADDRESS` (and the configured account).
    func apiKey(_ request: Request) -> Answer {
        guard let addressText = header(request, ClobAuth.addressHeader),
            let address = try? Address(addressText),
            let signatureText = header(request, ClobAuth.signatureHeader),
            let signature = try? Signature(hex: signatureText),
            let timestamp = header(request, ClobAuth.timestampHeader).flatMap({ Int64($0) }),
            let nonce = header(request, ClobAuth.nonceHeader).flatMap({ UInt256(decimal: $0) })
        else { return reject(401, "Invalid L1 Request headers") }
        let digest = ClobAuth.l1Digest(
            address: address, timestamp: timestamp, nonce: nonce, chainId: configuration.chainId)
        guard let recovered = try? signature.recoverAddress(digest: digest), recovered == address,
            configuration.account == nil || configuration.account == address
        else { return reject(401, "Invalid L1 Request headers") }
        let c = configuration.credentials
        return Answer(
            status: 200,
            json: "{\"apiKey\":\(StandInJSON.string(c.apiKey)),\"secret\":\(StandInJSON.string(c.secret)),"
                + "\"passphrase\":\(StandInJSON.string(c.passphrase))}")
    }

    /// The credentials an API key belongs to, and their account (nil: any).
    func credentials(forKey key: String?) -> (credentials: ApiCredentials, account: Address?)? {
        if key == configuration.credentials.apiKey {
            return (configuration.credentials, configuration.account)
        }
        return configuration.otherAccounts.first { $0.credentials.apiKey == key }.map {
            ($0.credentials, $0.account)
        }
    }

    /// L2: API key, passphrase and the HMAC over `timestamp + method + path + body` must match. The
    /// path is signed without its query string, as the official clients sign it (py-clob-client
    /// `get_trades` and `get_balance_allowance` sign the bare endpoint path).
    func verifyL2(_ request: Request, method: String, path: String, body: [UInt8]) -> Answer? {
        guard let (c, account) = credentials(forKey: header(request, ClobAuth.apiKeyHeader)),
            let addressText = header(request, ClobAuth.addressHeader),
            let address = try? Address(addressText),
            account == nil || account == address,
            header(request, ClobAuth.passphraseHeader) == c.passphrase,
            let timestamp = header(request, ClobAuth.timestampHeader).flatMap({ Int64($0) }),
            let signature = header(request, ClobAuth.signatureHeader),
            let expected = try? ClobAuth.l2Signature(
                secret: c.secret, timestamp: timestamp, method: method, path: path, body: body),
            signature == expected
        else { return reject(401, "Unauthorized/Invalid api key") }
        return nil
    }

    /// A tick as numerator / denominator.
    static func fraction(_ tick: TickSize) -> (UInt128, UInt128) {
        switch tick {
        case .tenth: (1, 10)
        case .hundredth: (1, 100)
        case .thousandth: (1, 1000)
        case .tenThousandth: (1, 10000)
        case .halfCent: (5, 1000)
        case .quarterCent: (25, 10000)
        }
    }
}

/// The request context: Hummingbird's core storage plus the connection, so a fault can close it.
struct StandInContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

struct StandInResponder: HTTPResponder {
    typealias Context = StandInContext
    let standIn: ClobStandIn

    func respond(to request: Request, context: StandInContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        return try await standIn.respond(
            to: request, body: Array(buffer.readableBytesView), channel: context.channel)
    }
}
