import EVM
import Foundation
import Hummingbird
import Logging
import NIOCore
import Polymarket
import Synchronization

/// A local stand-in for Polymarket's CLOB, served over HTTP on loopback (tests, `copybot devnet`).
///
/// It checks what the real exchange checks — L1 signatures on API-key requests, L2 HMAC headers
/// over the exact body, the EIP-712 order signature (recovering the signer), signer/maker against
/// the signature type, price on the tick, size above the minimum, known token, no duplicate order
/// hash — serves books, records every accepted order, answers look-ups and cancels, and can
/// inject faults: 429 with `Retry-After`, 5xx, answers slower than the client's timeout, and
/// connections closed without an answer (optionally after accepting the order).
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
        case book, tickSize, negRisk, postOrder, lookup, cancel, createAPIKey, deriveAPIKey, time, other
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

    /// An order the stand-in accepted.
    public struct AcceptedOrder: Hashable, Sendable {
        /// The EIP-712 order hash (its id).
        public var orderHash: String
        public var order: OrderV2
        public var orderType: String
        /// The API key that posted it.
        public var owner: String
        /// The address recovered from the signature.
        public var recoveredSigner: Address
        /// `LIVE`, `MATCHED`, `UNMATCHED` or `CANCELED`.
        public var status: String
        /// Shares matched against the book (millionths), when taker orders match.
        public var matchedShares: UInt128 = 0
        /// Collateral of those matches (millionths).
        public var matchedCollateral: UInt128 = 0
        /// When the `POST /order` was processed (after any injected delay).
        public var receivedAt = ContinuousClock.now
        /// When the `POST /order` arrived (before any injected delay).
        public var arrivedAt = ContinuousClock.now
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
        /// Added to this machine's clock in `GET /time` answers (a CLOB whose clock differs).
        public var clockOffsetSeconds: Int64 = 0

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
            return Answer(
                status: 200, json: "\(Int64(Date().timeIntervalSince1970) + configuration.clockOffsetSeconds)"
            )
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
            let id = String(path.dropFirst("/data/order/".count))
            guard let order = state.withLock({ s in s.indexByHash[id].map { s.accepted[$0] } }) else {
                return Answer(status: 200, json: "null")
            }
            return Answer(
                status: 200,
                json: StandInJSON.record(order, market: state.withLock { $0.markets[order.order.tokenId] }))
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

    /// L2: API key, passphrase and the HMAC over `timestamp + method + path + body` must match.
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

    func postOrder(_ request: Request, body: [UInt8], arrived: ContinuousClock.Instant) -> Answer {
        let received = ContinuousClock.now
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let o = object["order"] as? [String: Any], let owner = object["owner"] as? String,
            let orderType = object["orderType"] as? String, let order = StandInJSON.order(o),
            let signatureHex = o["signature"] as? String, let signatureBytes = try? Hex.decode(signatureHex),
            let apiAddress = header(request, ClobAuth.addressHeader).flatMap({ try? Address($0) })
        else { return reject(400, "Invalid order payload") }
        guard owner == header(request, ClobAuth.apiKeyHeader) else {
            return reject(400, "the order owner has to be the owner of the API KEY")
        }
        guard let market = state.withLock({ $0.markets[order.tokenId] }) else {
            return reject(400, "the orderbook \(order.tokenId.decimalString) does not exist")
        }
        let domain = configuration.contracts.domain(negRisk: market.negRisk)
        let hash = order.digest(in: domain)
        let id = hash.hex
        guard market.acceptingOrders else {
            return reject(400, "order \(id) is invalid. The market is closed.")
        }
        // The signature: who signed, and may they sign for this maker?
        let recovered: Address
        switch order.signatureType {
        case .poly1271:
            guard order.maker == order.signer, signatureBytes.count > 65,
                let inner = try? Signature(bytes: signatureBytes[0..<65]),
                let owner = try? inner.recoverAddress(
                    digest: DepositWalletSignature.digest(
                        structHash: order.structHash, wallet: order.signer, domain: domain))
            else { return reject(400, "order \(id) is invalid: invalid signature") }
            recovered = owner
        case .eoa, .polyProxy, .polyGnosisSafe:
            guard let signature = try? Signature(bytes: signatureBytes),
                let signer = try? signature.recoverAddress(digest: hash), signer == order.signer
            else { return reject(400, "order \(id) is invalid: invalid signature") }
            if order.signatureType == .eoa, order.maker != order.signer {
                return reject(
                    400, "order \(id) is invalid: invalid signature (an EOA order's maker must be its signer)"
                )
            }
            recovered = signer
        }
        guard recovered == apiAddress else {
            return reject(400, "the order signer address has to be the address of the API KEY")
        }
        // Price on the tick, size above the minimum.
        let (shares, collateral) =
            order.side == .buy
            ? (order.takerAmount, order.makerAmount) : (order.makerAmount, order.takerAmount)
        guard let s = shares.uint128, let c = collateral.uint128, s > 0, c > 0 else {
            return reject(400, "order \(id) is invalid: amounts must be positive")
        }
        let (num, den) = Self.fraction(market.tickSize)
        let price = Double(c) / Double(s)
        let (scaled, overflow) = c.multipliedReportingOverflow(by: den)
        guard !overflow, scaled >= s * num, scaled <= s * (den - num) else {
            return reject(
                400,
                "order \(id) is invalid. Price (\(price)), min: \(market.tickSize.minPrice) - max: \(market.tickSize.maxPrice)"
            )
        }
        if orderType == "GTC" || orderType == "GTD", !scaled.isMultiple(of: s * num) {
            return reject(
                400,
                "order \(id) is invalid. Price (\(price)) breaks minimum tick size rule: \(market.tickSize.rawValue)"
            )
        }
        if let minimum = market.minOrderSize.scaledInteger(places: 6)?.uint128, s < minimum {
            return reject(
                400,
                "order \(id) is invalid. Size (\(Double(s) / 1e6)) lower than the minimum: \(market.minOrderSize)"
            )
        }
        let taker = configuration.matchesTakerOrders && (orderType == "FAK" || orderType == "FOK")
        let accepted = state.withLock { st -> AcceptedOrder? in
            guard st.indexByHash[id] == nil else { return nil }
            var entry = AcceptedOrder(
                orderHash: id, order: order, orderType: orderType, owner: owner, recoveredSigner: recovered,
                status: "LIVE")
            entry.receivedAt = received
            entry.arrivedAt = arrived
            if taker, var book = st.markets[order.tokenId] {
                let (matched, paid) = Self.match(
                    &book, side: order.side, shares: s, collateral: c, allOrNothing: orderType == "FOK")
                if matched > 0 {
                    st.markets[order.tokenId] = book
                    st.renderedBooks[order.tokenId] = nil
                }
                entry.matchedShares = matched
                entry.matchedCollateral = paid
                entry.status = matched > 0 ? "MATCHED" : "UNMATCHED"
            }
            st.indexByHash[id] = st.accepted.count
            st.accepted.append(entry)
            return entry
        }
        guard let accepted else {
            return reject(
                400,
                "order \(id) is invalid. Duplicated. Same order has already been placed, can't be placed again"
            )
        }
        logger.debug("order accepted", metadata: ["order_hash": "\(id)", "status": "\(accepted.status)"])
        var making = ""
        var taking = ""
        if accepted.matchedShares > 0 {
            let shares = UInt256(uint128: accepted.matchedShares).fixedPointString(scale: 6)
            let paid = UInt256(uint128: accepted.matchedCollateral).fixedPointString(scale: 6)
            (making, taking) = order.side == .buy ? (paid, shares) : (shares, paid)
        }
        return Answer(
            status: 200,
            json:
                "{\"errorMsg\":\"\",\"orderID\":\(StandInJSON.string(id)),\"takingAmount\":\"\(taking)\",\"makingAmount\":\"\(making)\","
                + "\"status\":\"\(accepted.status.lowercased())\",\"transactionsHashes\":[],\"success\":true}"
        )
    }

    /// Matches a taker order of `shares` at the price `collateral / shares` (millionths) against
    /// the book, best level first, consuming the levels it takes. Returns the shares matched and
    /// their collateral (at the levels' prices). All or nothing for FOK.
    static func match(
        _ market: inout Market, side: Side, shares: UInt128, collateral: UInt128, allOrNothing: Bool
    ) -> (shares: UInt128, collateral: UInt128) {
        func micros(_ value: ExactDecimal) -> UInt128 { value.scaledInteger(places: 6)?.uint128 ?? 0 }
        // Best last in both lists (asks descending, bids ascending).
        var levels = side == .buy ? market.asks : market.bids
        var remaining = shares
        var paid: UInt128 = 0
        while remaining > 0, let best = levels.last {
            let price = micros(best.price)
            // BUY: price ≤ limit ⇔ price × shares ≤ collateral × 10⁶; SELL: price ≥ limit.
            let acceptable =
                side == .buy
                ? price * shares <= collateral * 1_000_000 : price * shares >= collateral * 1_000_000
            guard acceptable else { break }
            let size = micros(best.size)
            let take = min(size, remaining)
            remaining -= take
            paid += take * price / 1_000_000
            levels.removeLast()
            if size > take {
                let left = UInt256(uint128: size - take).fixedPointString(scale: 6)
                levels.append(BookLevel(price: best.price, size: ExactDecimal(left)!))
            }
        }
        let matched = shares - remaining
        if allOrNothing, remaining > 0 { return (0, 0) }
        if side == .buy { market.asks = levels } else { market.bids = levels }
        return (matched, paid)
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

/// JSON text the stand-in writes and reads.
enum StandInJSON {
    static func string(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"" + out + "\""
    }

    static func levels(_ levels: [BookLevel]) -> String {
        "[" + levels.map { "{\"price\":\"\($0.price)\",\"size\":\"\($0.size)\"}" }.joined(separator: ",")
            + "]"
    }

    /// A `GET /book` answer, split where its timestamp goes.
    static func book(_ m: ClobStandIn.Market) -> (head: String, tail: String) {
        (
            "{\"market\":\(string(m.conditionID)),\"asset_id\":\"\(m.tokenID.decimalString)\",\"timestamp\":\"",
            "\",\"hash\":\"standin\",\"bids\":\(levels(m.bids)),\"asks\":\(levels(m.asks)),\"min_order_size\":\"\(m.minOrderSize)\","
                + "\"tick_size\":\"\(m.tickSize.rawValue)\",\"neg_risk\":\(m.negRisk)}"
        )
    }

    static func record(_ a: ClobStandIn.AcceptedOrder, market: ClobStandIn.Market?) -> String {
        let o = a.order
        let matched = UInt256(uint128: a.matchedShares).fixedPointString(scale: 6)
        let (shares, collateral) =
            o.side == .buy ? (o.takerAmount, o.makerAmount) : (o.makerAmount, o.takerAmount)
        let price =
            (shares.uint128 ?? 1) == 0 ? 0 : Double(collateral.uint128 ?? 0) / Double(shares.uint128 ?? 1)
        return "{\"id\":\(string(a.orderHash)),\"status\":\"\(a.status)\",\"owner\":\(string(a.owner)),"
            + "\"maker_address\":\"\(o.maker.checksummed)\",\"market\":\(string(market?.conditionID ?? "")),"
            + "\"asset_id\":\"\(o.tokenId.decimalString)\",\"side\":\"\(o.side.text)\","
            + "\"original_size\":\"\(shares.fixedPointString(scale: 6))\","
            + "\"size_matched\":\"\(matched)\","
            + "\"price\":\"\(price)\",\"order_type\":\(string(a.orderType)),\"outcome\":\"\",\"expiration\":\"\(o.expiration.decimalString)\"}"
    }

    /// The V2 order of a `POST /order` body.
    static func order(_ o: [String: Any]) -> OrderV2? {
        func text(_ key: String) -> String? {
            switch o[key] {
            case let s as String: s
            case let n as NSNumber: n.stringValue
            default: nil
            }
        }
        guard let salt = text("salt").flatMap({ UInt256(decimal: $0) }),
            let maker = text("maker").flatMap({ try? Address($0) }),
            let signer = text("signer").flatMap({ try? Address($0) }),
            let tokenId = text("tokenId").flatMap({ UInt256(decimal: $0) }),
            let makerAmount = text("makerAmount").flatMap({ UInt256(decimal: $0) }),
            let takerAmount = text("takerAmount").flatMap({ UInt256(decimal: $0) }),
            let sideText = text("side"), sideText == "BUY" || sideText == "SELL",
            let typeRaw = text("signatureType").flatMap({ UInt8($0) }),
            let type = SignatureType(rawValue: typeRaw),
            let timestamp = text("timestamp").flatMap({ UInt256(decimal: $0) }),
            let metadata = text("metadata").flatMap({ try? Bytes32(hex: $0) }),
            let builder = text("builder").flatMap({ try? Bytes32(hex: $0) }),
            let expiration = text("expiration").flatMap({ UInt256(decimal: $0) })
        else { return nil }
        return OrderV2(
            salt: salt, maker: maker, signer: signer, tokenId: tokenId, makerAmount: makerAmount,
            takerAmount: takerAmount, side: sideText == "BUY" ? .buy : .sell, signatureType: type,
            timestamp: timestamp,
            metadata: metadata, builder: builder, expiration: expiration)
    }
}
