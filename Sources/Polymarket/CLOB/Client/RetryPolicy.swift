/// When and how often the CLOB client retries, with jittered exponential backoff.
///
/// Only what is safe is retried: GETs and DELETEs (idempotent), 429s (refused unprocessed), and
/// requests that certainly never reached the server. A `POST /order` whose answer was lost is
/// looked up by its hash before anything else happens.
public struct RetryPolicy: Hashable, Sendable {
    /// Attempts in all, the first included (at least 1).
    public var maxAttempts: Int
    /// The backoff before the second attempt; it doubles for each further one.
    public var baseDelay: Duration
    /// The longest backoff.
    public var maxDelay: Duration
    /// The longest `Retry-After` honoured; a longer one fails the request with `rateLimited`.
    public var maxRetryAfter: Duration

    /// Creates a policy.
    public init(
        maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5),
        maxRetryAfter: Duration = .seconds(30)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The backoff after failed attempt `attempt` (1-based): `min(maxDelay, baseDelay × 2^(attempt−1))`,
    /// jittered uniformly into its upper half.
    public func backoff(
        afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maxDelay, baseDelay * (1 << exponent))
        let nanos = Self.nanoseconds(ceiling)
        guard nanos > 1 else { return ceiling }
        return .nanoseconds(Int64.random(in: (nanos / 2)...nanos, using: &generator))
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
