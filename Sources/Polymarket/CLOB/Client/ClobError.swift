/// An error from the CLOB or on the way to it. `message` keeps the server's own text; no
/// credential, key or header value is ever part of it.
public struct ClobError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The order's signature did not verify (or its signer is not the API key's address).
        case invalidSignature
        /// The order is smaller than the market's minimum size.
        case minimumSize
        /// The price breaks the market's tick size (the cached tick size may be stale).
        case tickSize
        /// Not enough balance or allowance.
        case balanceAllowance
        /// 429: too many requests.
        case rateLimited
        /// The market is closed or not accepting orders.
        case marketClosed
        /// The exchange already has an order with this hash.
        case duplicateOrder
        /// A market order (FAK, FOK) killed because it met nothing (or, FOK, not enough): not a
        /// fault and not a refusal of the order itself.
        case unfilled
        /// The exchange refused the order for another stated reason.
        case invalidOrder
        /// 401/403: the API key, passphrase or HMAC (or the L1 signature) was refused.
        case unauthorized
        /// 404, or an unknown token.
        case notFound
        /// 503: trading disabled or cancel-only.
        case tradingDisabled
        /// Another 5xx.
        case serverError
        /// The request could not be sent (connection refused, connect timeout): it certainly did not
        /// reach the server.
        case notSent
        /// The request was sent (or may have been) but no answer came: timeout, connection closed.
        case noAnswer
        /// The answer could not be read.
        case invalidResponse
        /// The request was refused before sending (no credentials, bad arguments).
        case invalidRequest
        /// The task was cancelled.
        case cancelled
        /// Anything else the server said.
        case unknown
    }

    /// What went wrong.
    public var kind: Kind
    /// The HTTP status, if an answer came.
    public var status: Int?
    /// The server's message (or a description of the transport failure).
    public var message: String
    /// How long the server asked to wait (`Retry-After`), if it did.
    public var retryAfter: Duration?

    /// Creates an error.
    public init(kind: Kind, status: Int? = nil, message: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "CLOB \(kind.rawValue)"
        if let status { text += " (HTTP \(status))" }
        text += ": \(message)"
        if let retryAfter { text += " [retry after \(retryAfter)]" }
        return text
    }

    /// Classifies an error answer by its status and the server's message text.
    public static func classify(status: Int, message: String, retryAfter: Duration? = nil) -> ClobError {
        ClobError(
            kind: kind(status: status, message: message), status: status, message: message,
            retryAfter: retryAfter)
    }

    static func kind(status: Int, message: String) -> Kind {
        let text = message.lowercased()
        func has(_ needles: String...) -> Bool { needles.contains { text.contains($0) } }
        if status == 429 || has("too many requests", "rate limit") { return .rateLimited }
        if has("duplicate") { return .duplicateOrder }
        // A market order that met nothing is killed and answered with an error (the CLOB's error
        // codes page): `no orders found to match with FAK order…`, `order couldn't be fully
        // filled. FOK orders are fully filled or killed.`
        if has("no orders found to match", "couldn't be fully filled", "could not be fully filled") {
            return .unfilled
        }
        if has("signature", "signer address has to be") { return .invalidSignature }
        if has("lower than the minimum", "min_size", "minimum size", "min size") { return .minimumSize }
        if has("tick size", "tick_size") { return .tickSize }
        if has("balance", "allowance") { return .balanceAllowance }
        if has(
            "market is closed", "market closed", "not accepting orders", "market_not_ready", "not yet ready")
        {
            return .marketClosed
        }
        if has("trading is currently disabled", "cancel-only") { return .tradingDisabled }
        if status == 401 || status == 403 || has("unauthorized", "invalid api key", "l1 request headers") {
            return .unauthorized
        }
        if status == 404 || has("does not exist", "no orderbook") { return .notFound }
        if status == 503 { return .tradingDisabled }
        if status >= 500 { return .serverError }
        if status == 400, has("invalid", "order") { return .invalidOrder }
        return .unknown
    }
}
