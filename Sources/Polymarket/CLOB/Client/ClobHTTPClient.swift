import AsyncHTTPClient
import EVM
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The CLOB over HTTP (AsyncHTTPClient): public market data, L1 (API key) and L2 (HMAC)
/// authenticated requests, retries where they are safe, and the resolution of lost order answers.
///
/// Secrets (the signer's key, the API secret and passphrase) never reach the logs or an error:
/// headers and the bodies of API-key answers are never logged.
public struct ClobHTTPClient: ClobAPI, MarketParametersSource {
    /// Settings of the client.
    public struct Configuration: Sendable {
        /// The CLOB's base URL, e.g. `https://clob.polymarket.com` (no trailing slash needed).
        public var baseURL: String
        /// The chain id signed into L1 headers.
        public var chainId: UInt64
        /// The deadline of one HTTP attempt.
        public var requestTimeout: Duration
        /// Retries of safe requests (GET, DELETE, 429s, requests that never left).
        public var retry: RetryPolicy
        /// How often a lost order answer is looked up (each look-up itself retried per ``retry``)
        /// and, when the order is not found, the identical signed order re-posted.
        public var maxResolutionRounds: Int
        /// The largest answer body read.
        public var maxResponseBytes: Int

        /// Creates a configuration.
        public init(
            baseURL: String, chainId: UInt64 = 137, requestTimeout: Duration = .seconds(10),
            retry: RetryPolicy = RetryPolicy(), maxResolutionRounds: Int = 3, maxResponseBytes: Int = 8 << 20
        ) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.chainId = chainId
            self.requestTimeout = requestTimeout
            self.retry = retry
            self.maxResolutionRounds = max(1, maxResolutionRounds)
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// The settings.
    public let configuration: Configuration
    /// Signs L1 headers; its address is `POLY_ADDRESS`.
    public let signer: any DigestSigner
    /// L2 credentials, if known (needed for orders, look-ups and cancels).
    public let credentials: ApiCredentials?
    let http: HTTPClient
    let rateLimiter: any RateLimiter
    let logger: Logger
    let now: @Sendable () -> Int64

    /// Creates a client. `http` is owned by the caller (shut it down after use); make it with
    /// ``makeHTTPClient(connectTimeout:)`` so that refused connections fail at once and can be retried
    /// safely. `now` gives Unix seconds for the auth headers.
    public init(
        configuration: Configuration, http: HTTPClient, signer: any DigestSigner,
        credentials: ApiCredentials? = nil,
        rateLimiter: any RateLimiter = UnlimitedRate(), logger: Logger = Logger(label: "copybot.clob"),
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.configuration = configuration
        self.http = http
        self.signer = signer
        self.credentials = credentials
        self.rateLimiter = rateLimiter
        self.logger = logger
        self.now = now
    }

    /// The same client with other L2 credentials.
    public func with(credentials: ApiCredentials?) -> ClobHTTPClient {
        ClobHTTPClient(
            configuration: configuration, http: http, signer: signer, credentials: credentials,
            rateLimiter: rateLimiter, logger: logger, now: now)
    }

    /// An `HTTPClient` set up for the CLOB: a connect timeout, and no silent reconnect loop (a refused
    /// connection fails the attempt at once, which this client then retries itself). A connection
    /// idle for `idleTimeout` is closed (the next request opens a new one: TCP and TLS again). Its
    /// connections live on `eventLoopGroup`'s loops (one loop, when it is an `EventLoop`).
    public static func makeHTTPClient(
        connectTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(60),
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup
    ) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .nanoseconds(RetryPolicy.nanoseconds(connectTimeout))
        configuration.connectionPool.idleTimeout = .nanoseconds(RetryPolicy.nanoseconds(idleTimeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    // MARK: Market data

    public func serverTime() async throws(ClobError) -> Int64 {
        let answer = try await perform(.GET, path: "/time", idempotent: true, quiet: true)
        let text = String(decoding: answer.body, as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines)
        guard let seconds = Int64(text) ?? Double(text).map({ Int64($0) }) else {
            throw ClobError(
                kind: .invalidResponse, status: answer.status, message: "no server time in \(text.prefix(40))"
            )
        }
        return seconds
    }

    public func book(tokenID: UInt256) async throws(ClobError) -> OrderBook {
        let answer = try await perform(
            .GET, path: "/book", query: "token_id=\(tokenID.decimalString)", idempotent: true)
        return try OrderBookParser.parse(answer.body, tokenID: tokenID, status: answer.status)
    }

    public func tickSize(tokenID: UInt256) async throws(ClobError) -> TickSize {
        let answer = try await perform(
            .GET, path: "/tick-size", query: "token_id=\(tokenID.decimalString)", idempotent: true)
        guard
            let tick = Self.text(try Self.object(answer)["minimum_tick_size"]).flatMap({ TickSize(text: $0) })
        else {
            throw ClobError(
                kind: .invalidResponse, status: answer.status, message: "no valid minimum_tick_size")
        }
        return tick
    }

    public func negRisk(tokenID: UInt256) async throws(ClobError) -> Bool {
        let answer = try await perform(
            .GET, path: "/neg-risk", query: "token_id=\(tokenID.decimalString)", idempotent: true)
        guard let flag = try Self.object(answer)["neg_risk"] as? Bool else {
            throw ClobError(kind: .invalidResponse, status: answer.status, message: "no neg_risk flag")
        }
        return flag
    }

    public func marketParameters(tokenID: UInt256) async throws(ClobError) -> MarketParameters {
        try await book(tokenID: tokenID).parameters
    }

    // MARK: API keys (L1)

    public func createAPIKey(nonce: UInt256 = .zero) async throws(ClobError) -> ApiCredentials {
        try Self.credentials(
            try await perform(.POST, path: "/auth/api-key", auth: .l1(nonce), idempotent: false, quiet: true))
    }

    public func deriveAPIKey(nonce: UInt256 = .zero) async throws(ClobError) -> ApiCredentials {
        try Self.credentials(
            try await perform(
                .GET, path: "/auth/derive-api-key", auth: .l1(nonce), idempotent: true, quiet: true))
    }

    // MARK: Orders (L2)

    public func order(id: String) async throws(ClobError) -> OrderRecord? {
        let answer: Answer
        do {
            answer = try await perform(.GET, path: "/data/order/\(id)", auth: .l2, idempotent: true)
        } catch  where error.kind == .notFound && error.status == 404 {
            return nil
        }
        let parsed = try? JSONSerialization.jsonObject(with: Data(answer.body), options: [.fragmentsAllowed])
        guard let object = parsed as? [String: Any], let found = Self.text(object["id"]), !found.isEmpty
        else {
            return nil
        }
        return OrderRecord(
            id: found, status: Self.text(object["status"]) ?? "",
            assetID: Self.text(object["asset_id"]) ?? "",
            side: Self.text(object["side"]) ?? "", originalSize: Self.text(object["original_size"]) ?? "",
            sizeMatched: Self.text(object["size_matched"]) ?? "", price: Self.text(object["price"]) ?? "",
            makerAddress: Self.text(object["maker_address"]) ?? "", owner: Self.text(object["owner"]) ?? "",
            orderType: Self.text(object["order_type"]) ?? "")
    }

    public func cancelOrder(id: String) async throws(ClobError) -> CancelResult {
        var body = "{\"orderID\":"
        OrderBody.appendString(id, to: &body)
        body += "}"
        let object = try Self.object(
            try await perform(.DELETE, path: "/order", body: Array(body.utf8), auth: .l2, idempotent: true))
        let canceled = (object["canceled"] as? [Any])?.compactMap { Self.text($0) } ?? []
        var notCanceled: [String: String] = [:]
        for (key, value) in (object["not_canceled"] as? [String: Any]) ?? [:] {
            notCanceled[key] = Self.text(value) ?? "\(value)"
        }
        return CancelResult(canceled: canceled, notCanceled: notCanceled)
    }

    public func postOrder(
        _ order: SignedOrder, type: OrderType, postOnly: Bool = false, deferExec: Bool = false
    ) async -> OrderOutcome {
        guard let credentials else {
            return .rejected(
                ClobError(
                    kind: .invalidRequest, message: "no API credentials: derive them before posting orders"))
        }
        let body: [UInt8]
        do {
            body = try OrderBody.bytes(
                order, owner: credentials.apiKey, orderType: type, postOnly: postOnly, deferExec: deferExec)
        } catch {
            return .rejected(ClobError(kind: .invalidRequest, message: error.description))
        }
        let id = order.orderHash.hex
        let log = logger.with(orderHash: id)
        var posts = 0
        let first = await post(body: body, posts: &posts)
        switch first {
        case .success(let acceptance):
            log.debug("order accepted", metadata: ["status": "\(acceptance.status)"])
            return .accepted(acceptance)
        case .failure(let error) where Self.isLostAnswer(error):
            log.warning(
                "order answer lost; looking the order up by its hash", metadata: ["cause": "\(error)"])
            return .resolved(await resolve(id: id, body: body, cause: error, posts: posts, logger: log))
        case .failure(let error) where error.kind == .duplicateOrder:
            // The exchange already has this very order (same hash): report it as placed if it shows.
            if case .some(.some(let record)) = try? await self.order(id: id) {
                return .resolved(.init(cause: error, resolution: .found(record), posts: posts))
            }
            return .rejected(error)
        case .failure(let error):
            log.debug("order rejected", metadata: ["error": "\(error)"])
            return .rejected(error)
        }
    }

    /// A lost answer: the order may or may not have been placed.
    static func isLostAnswer(_ error: ClobError) -> Bool {
        error.kind == .noAnswer || (error.kind == .serverError && (error.status ?? 0) >= 500)
            || (error.kind == .tradingDisabled && error.status == nil)
    }

    /// One `POST /order` (retrying only 429s and attempts that never left), as a result.
    func post(body: [UInt8], posts: inout Int) async -> Result<OrderAcceptance, ClobError> {
        let counter = PostCounter()
        defer { posts += counter.count }
        let answer: Answer
        do {
            answer = try await perform(
                .POST, path: "/order", body: body, auth: .l2, idempotent: false, sent: counter)
        } catch {
            return .failure(error)
        }
        guard let object = try? Self.object(answer) else {
            return .failure(
                ClobError(kind: .invalidResponse, status: answer.status, message: "unreadable order answer"))
        }
        let success = (object["success"] as? Bool) ?? true
        let errorMessage = Self.text(object["errorMsg"]) ?? Self.text(object["error"]) ?? ""
        guard success, errorMessage.isEmpty, let orderID = Self.text(object["orderID"]), !orderID.isEmpty
        else {
            return .failure(
                .classify(
                    status: answer.status, message: errorMessage.isEmpty ? "order not accepted" : errorMessage
                ))
        }
        return .success(
            OrderAcceptance(
                orderID: orderID, status: Self.text(object["status"]) ?? "",
                transactionHashes: (object["transactionsHashes"] as? [Any])?.compactMap { Self.text($0) }
                    ?? [],
                takingAmount: Self.text(object["takingAmount"]) ?? "",
                makingAmount: Self.text(object["makingAmount"]) ?? ""))
    }

    /// Looks a lost order up by its hash; only when the exchange says it has no such order is the
    /// identical signed order (same hash: the exchange never takes it twice) posted again.
    func resolve(
        id: String, body: [UInt8], cause: ClobError, posts: Int, logger: Logger
    ) async -> OrderOutcome.LostAnswer {
        var posts = posts
        var last = cause
        var generator = SystemRandomNumberGenerator()
        for round in 1...configuration.maxResolutionRounds {
            if round > 1 {
                do {
                    try await Task.sleep(
                        for: configuration.retry.backoff(afterAttempt: round - 1, using: &generator))
                } catch {
                    return .init(
                        cause: cause,
                        resolution: .undetermined(ClobError(kind: .cancelled, message: "cancelled")),
                        posts: posts)
                }
            }
            let found: OrderRecord?
            do {
                found = try await order(id: id)
            } catch {
                logger.debug("look-up failed", metadata: ["round": "\(round)", "error": "\(error)"])
                last = error
                continue
            }
            if let found {
                logger.info("lost order found by hash", metadata: ["status": "\(found.status)"])
                return .init(cause: cause, resolution: .found(found), posts: posts)
            }
            logger.info(
                "lost order not on the exchange; posting the same signed order again",
                metadata: ["round": "\(round)"])
            switch await post(body: body, posts: &posts) {
            case .success(let acceptance):
                return .init(cause: cause, resolution: .reposted(acceptance), posts: posts)
            case .failure(let error) where Self.isLostAnswer(error) || error.kind == .duplicateOrder:
                last = error
                continue
            case .failure(let error):
                return .init(cause: cause, resolution: .repostRejected(error), posts: posts)
            }
        }
        // A last look, without posting again.
        if case .some(.some(let record)) = try? await order(id: id) {
            return .init(cause: cause, resolution: .found(record), posts: posts)
        }
        logger.error("order outcome still unknown", metadata: ["error": "\(last)"])
        return .init(cause: cause, resolution: .undetermined(last), posts: posts)
    }

    // MARK: Transport

    /// An HTTP answer.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    enum Auth {
        case none
        case l1(UInt256)
        case l2
    }

    /// Counts attempts that may have reached the server.
    final class PostCounter: @unchecked Sendable {
        var count = 0
    }

    /// Sends a request, retrying what is safe: every attempt that certainly never left, 429s (after
    /// `Retry-After`), and — only when `idempotent` — timeouts, dropped connections and 5xx.
    func perform(
        _ method: HTTPMethod, path: String, query: String? = nil, body: [UInt8]? = nil, auth: Auth = .none,
        idempotent: Bool, quiet: Bool = false, sent: PostCounter? = nil
    ) async throws(ClobError) -> Answer {
        let policy = configuration.retry
        var generator = SystemRandomNumberGenerator()
        var attempt = 0
        while true {
            attempt += 1
            let log = logger.with(method: method, path: path, attempt: attempt)
            let outcome: Result<Answer, ClobError>
            do {
                outcome = .success(try await once(method, path: path, query: query, body: body, auth: auth))
            } catch {
                outcome = .failure(error)
            }
            let error: ClobError
            switch outcome {
            case .success(let answer):
                sent?.count += 1
                log.trace(
                    "answer", metadata: ["status": "\(answer.status)", "bytes": "\(answer.body.count)"])
                if (200..<300).contains(answer.status) { return answer }
                error = Self.error(answer)
            case .failure(let failure):
                if failure.kind != .notSent { sent?.count += 1 }
                error = failure
            }
            if error.kind == .cancelled { throw error }
            let canRetry: Bool
            switch error.kind {
            case .notSent: canRetry = true
            case .rateLimited: canRetry = error.retryAfter.map { $0 <= policy.maxRetryAfter } ?? true
            case .noAnswer, .serverError: canRetry = idempotent
            case .tradingDisabled: canRetry = idempotent && error.status == 503
            default: canRetry = false
            }
            guard canRetry, attempt < policy.maxAttempts else {
                if !quiet || error.status != nil {
                    log.debug("request failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
            let wait =
                error.kind == .rateLimited
                ? (error.retryAfter ?? policy.backoff(afterAttempt: attempt, using: &generator))
                : policy.backoff(afterAttempt: attempt, using: &generator)
            log.debug("retrying", metadata: ["error": "\(error)", "wait": "\(wait)"])
            do { try await Task.sleep(for: wait) } catch {
                throw ClobError(kind: .cancelled, message: "cancelled")
            }
        }
    }

    /// One HTTP attempt. Auth headers are made afresh (new timestamp) over the exact bytes sent.
    func once(
        _ method: HTTPMethod, path: String, query: String?, body: [UInt8]?, auth: Auth
    ) async throws(ClobError) -> Answer {
        do { try await rateLimiter.acquire() } catch {
            throw ClobError(kind: .cancelled, message: "cancelled")
        }
        var request = HTTPClientRequest(url: configuration.baseURL + path + (query.map { "?" + $0 } ?? ""))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "copybot")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let timestamp = now()
        switch auth {
        case .none: break
        case .l1(let nonce):
            for (name, value) in ClobAuth.l1Headers(
                signer: signer, chainId: configuration.chainId, timestamp: timestamp, nonce: nonce)
            {
                request.headers.add(name: name, value: value)
            }
        case .l2:
            guard let credentials else {
                throw ClobError(kind: .invalidRequest, message: "no API credentials: derive them first")
            }
            let headers: ClobHeaders
            do {
                headers = try ClobAuth.l2Headers(
                    address: signer.address, credentials: credentials, timestamp: timestamp,
                    method: method.rawValue, path: path, body: body ?? [])
            } catch {
                throw ClobError(kind: .invalidRequest, message: error.description)
            }
            for (name, value) in headers { request.headers.add(name: name, value: value) }
        }
        do {
            let response = try await http.execute(
                request, timeout: .nanoseconds(RetryPolicy.nanoseconds(configuration.requestTimeout)),
                logger: logger)
            let buffer = try await response.body.collect(upTo: configuration.maxResponseBytes)
            return Answer(
                status: Int(response.status.code), headers: response.headers,
                body: Array(buffer.readableBytesView))
        } catch {
            throw Self.transportError(error)
        }
    }

    /// Maps a transport error: attempts that certainly never reached the server are `notSent`.
    static func transportError(_ error: any Error) -> ClobError {
        if error is CancellationError { return ClobError(kind: .cancelled, message: "cancelled") }
        if let e = error as? HTTPClientError {
            if e == .connectTimeout || e == .getConnectionFromPoolTimeout {
                return ClobError(kind: .notSent, message: "could not connect: \(e)")
            }
            if e == .cancelled { return ClobError(kind: .cancelled, message: "cancelled") }
            if e == .deadlineExceeded || e == .readTimeout {
                return ClobError(kind: .noAnswer, message: "timed out waiting for the answer (\(e))")
            }
            return ClobError(kind: .noAnswer, message: "connection failed: \(e)")
        }
        if error is NIOConnectionError {
            return ClobError(kind: .notSent, message: "could not connect: \(error)")
        }
        if let e = error as? IOError, e.errnoCode == ECONNREFUSED {
            return ClobError(kind: .notSent, message: "could not connect: \(e)")
        }
        if let e = error as? ChannelError, case .connectTimeout = e {
            return ClobError(kind: .notSent, message: "could not connect: \(e)")
        }
        return ClobError(kind: .noAnswer, message: "connection failed: \(error)")
    }

    /// The typed error of a non-2xx answer, keeping the server's message.
    static func error(_ answer: Answer) -> ClobError {
        var message = ""
        if let object = try? JSONSerialization.jsonObject(
            with: Data(answer.body), options: [.fragmentsAllowed])
        {
            if let dict = object as? [String: Any] {
                message = text(dict["error"]) ?? text(dict["errorMsg"]) ?? text(dict["message"]) ?? ""
                if message.isEmpty, let nested = dict["error"] {
                    message = "\(nested)"
                }
            } else if let string = object as? String {
                message = string
            }
        }
        if message.isEmpty {
            message = String(decoding: answer.body.prefix(512), as: UTF8.self)
        }
        if message.isEmpty { message = HTTPResponseStatus(statusCode: answer.status).reasonPhrase }
        return .classify(status: answer.status, message: message, retryAfter: retryAfter(answer.headers))
    }

    /// `Retry-After` in seconds (fractions accepted) or as an HTTP date.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let value = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces) else {
            return nil
        }
        if let seconds = Double(value), seconds >= 0 { return .nanoseconds(Int64(seconds * 1e9)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .nanoseconds(Int64(max(0, date.timeIntervalSinceNow) * 1e9))
    }

    // MARK: JSON

    static func object(_ answer: Answer) throws(ClobError) -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else {
            throw ClobError(
                kind: .invalidResponse, status: answer.status, message: "the answer is not a JSON object")
        }
        return object
    }

    /// A string or number field as text.
    static func text(_ value: Any?) -> String? {
        switch value {
        case let s as String: s
        case let n as NSNumber: n.stringValue
        default: nil
        }
    }

    static func credentials(_ answer: Answer) throws(ClobError) -> ApiCredentials {
        let object = try object(answer)
        guard let key = text(object["apiKey"]), let secret = text(object["secret"]),
            let passphrase = text(object["passphrase"]), !key.isEmpty
        else {
            throw ClobError(
                kind: .invalidResponse, status: answer.status, message: "the answer has no API credentials")
        }
        return ApiCredentials(apiKey: key, secret: secret, passphrase: passphrase)
    }
}

extension Logger {
    fileprivate func with(orderHash: String) -> Logger {
        var copy = self
        copy[metadataKey: "order_hash"] = "\(orderHash)"
        return copy
    }

    fileprivate func with(method: HTTPMethod, path: String, attempt: Int) -> Logger {
        var copy = self
        copy[metadataKey: "http.method"] = "\(method.rawValue)"
        copy[metadataKey: "http.path"] = "\(path)"
        copy[metadataKey: "attempt"] = "\(attempt)"
        return copy
    }
}
