/// Reconnect timing: jittered exponential backoff.
///
/// The delay before reconnect attempt `n` (0-based, reset to 0 once a connection is established) is
/// `min(maximum, initial × multiplierⁿ)`, then spread uniformly by ±`jitter` of itself so that many
/// clients do not reconnect in lockstep.
public struct Backoff: Sendable, Equatable {
    /// The delay before the first reconnect attempt.
    public var initial: Duration
    /// The longest delay, before jitter.
    public var maximum: Duration
    /// Growth factor per failed attempt (≥ 1).
    public var multiplier: Double
    /// Relative spread in `0...1`: 0.2 means the delay is drawn from ±20% around the nominal value.
    public var jitter: Double

    /// A backoff policy; the defaults suit a remote RPC node (0.5 s, doubling, up to 30 s, ±20%).
    public init(
        initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), multiplier: Double = 2,
        jitter: Double = 0.2
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before reconnect attempt `attempt` (0-based), given a uniform random number
    /// `unit` in `0..<1` (injected so the policy is deterministic under test).
    public func delay(forAttempt attempt: Int, unit: Double) -> Duration {
        let initialSeconds = max(0, initial.seconds)
        let maximumSeconds = max(initialSeconds, maximum.seconds)
        let growth = max(1, multiplier)
        var nominal = initialSeconds
        var step = 0
        while step < attempt, nominal < maximumSeconds, growth > 1 {
            nominal *= growth
            step += 1
        }
        nominal = min(maximumSeconds, nominal)
        let spread = min(1, max(0, jitter))
        let factor = 1 - spread + 2 * spread * min(1, max(0, unit))
        return .seconds(max(0, nominal * factor))
    }
}

/// Everything a ``WebSocketClient`` needs to know.
public struct WebSocketConfiguration: Sendable {
    /// `ws://host[:port][/path]` or `wss://host[:port][/path]`.
    public var url: String
    /// The largest message (after reassembly of fragments) accepted. A larger one is reported as
    /// ``WebSocketError/messageTooLarge(limit:)`` and the connection is dropped and re-established;
    /// nothing larger than this is ever buffered. Default 16 MiB.
    public var maxMessageBytes: Int
    /// How long the connection may be idle before the client sends a PING. Whole seconds, ≥ 1 s.
    public var pingInterval: Duration
    /// How long after that PING a PONG (or any other proof of life) may take before the connection
    /// is declared dead, dropped and re-established. Whole seconds, ≥ 1 s.
    public var pongTimeout: Duration
    /// Reconnect timing.
    public var backoff: Backoff
    /// How long a connection attempt (TCP, TLS and the HTTP upgrade) may take. Whole seconds, ≥ 1 s.
    public var connectTimeout: Duration
    /// Received events that may wait for the consumer before the client stops reading from the
    /// socket (TCP backpressure then slows the server). Reading resumes below half of this.
    /// While reading is paused PONGs are not read either, so a consumer stalled for longer than
    /// `pingInterval + pongTimeout` gets the connection dropped (reported, then re-established).
    public var maxBufferedEvents: Int
    /// Received message bytes that may wait for the consumer before the client stops reading.
    public var maxBufferedBytes: Int
    /// Bytes of outgoing messages that may wait to be written; beyond this `send` throws
    /// ``WebSocketError/sendQueueFull(limitBytes:)``.
    public var maxQueuedSendBytes: Int
    /// Accept a self-signed server certificate on `wss://`. Only for tests: never in production.
    public var tlsAllowSelfSigned: Bool
    /// A PEM file of CA certificates to trust instead of the system store (`wss://` only).
    public var tlsCAFile: String?
    /// Extra HTTP headers for the upgrade request, e.g. `("Authorization", "Bearer …")`.
    public var headers: [(name: String, value: String)]
    /// The name of the client's service thread (at most 15 characters are kept), as `ps` and
    /// `/proc` show it. Default `lws-client`.
    public var threadName = "lws-client"

    /// A configuration with production defaults for everything but the URL.
    public init(
        url: String,
        maxMessageBytes: Int = 16 * 1024 * 1024,
        pingInterval: Duration = .seconds(20),
        pongTimeout: Duration = .seconds(10),
        backoff: Backoff = Backoff(),
        connectTimeout: Duration = .seconds(15),
        maxBufferedEvents: Int = 1024,
        maxBufferedBytes: Int = 64 * 1024 * 1024,
        maxQueuedSendBytes: Int = 16 * 1024 * 1024,
        tlsAllowSelfSigned: Bool = false,
        tlsCAFile: String? = nil,
        headers: [(name: String, value: String)] = []
    ) {
        self.url = url
        self.maxMessageBytes = maxMessageBytes
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
        self.backoff = backoff
        self.connectTimeout = connectTimeout
        self.maxBufferedEvents = maxBufferedEvents
        self.maxBufferedBytes = maxBufferedBytes
        self.maxQueuedSendBytes = maxQueuedSendBytes
        self.tlsAllowSelfSigned = tlsAllowSelfSigned
        self.tlsCAFile = tlsCAFile
        self.headers = headers
    }

    /// Checks the values; throws ``WebSocketError/invalidConfiguration(_:)`` or
    /// ``WebSocketError/invalidURL(_:)`` explaining the first problem.
    public func validate() throws(WebSocketError) {
        _ = try WebSocketURL(parsing: url)
        func require(_ ok: Bool, _ why: String) throws(WebSocketError) {
            if !ok { throw .invalidConfiguration(why) }
        }
        try require(maxMessageBytes > 0, "maxMessageBytes must be positive")
        try require(pingInterval >= .seconds(1), "pingInterval must be at least 1 s")
        try require(pongTimeout >= .seconds(1), "pongTimeout must be at least 1 s")
        try require(
            pingInterval.wholeSecondsRoundedUp + pongTimeout.wholeSecondsRoundedUp <= Int(UInt16.max),
            "pingInterval + pongTimeout must be under 65535 s")
        try require(connectTimeout >= .seconds(1), "connectTimeout must be at least 1 s")
        try require(backoff.initial > .zero, "backoff.initial must be positive")
        try require(backoff.maximum >= backoff.initial, "backoff.maximum must be at least backoff.initial")
        try require(backoff.multiplier >= 1, "backoff.multiplier must be at least 1")
        try require((0...1).contains(backoff.jitter), "backoff.jitter must be within 0...1")
        try require(maxBufferedEvents >= 2, "maxBufferedEvents must be at least 2")
        try require(maxBufferedBytes >= 1, "maxBufferedBytes must be positive")
        try require(maxQueuedSendBytes >= 1, "maxQueuedSendBytes must be positive")
        for header in headers {
            try require(
                !header.name.isEmpty
                    && !header.name.utf8.contains(where: { $0 <= 32 || $0 == 58 || $0 >= 127 }),
                "header name '\(header.name)' is not a valid HTTP token")
            try require(
                !header.value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }),
                "header '\(header.name)' has a line break in its value")
        }
    }
}

extension Duration {
    /// The duration as (fractional) seconds.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// Whole seconds, rounding any fraction up (lws timers have one-second resolution).
    var wholeSecondsRoundedUp: Int {
        let parts = components
        return Int(parts.seconds) + (parts.attoseconds > 0 ? 1 : 0)
    }
}
