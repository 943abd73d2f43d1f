/// Paces requests to the CLOB on the client side.
public protocol RateLimiter: Sendable {
    /// Waits until one more request may be sent. Throws `CancellationError` if the task is cancelled.
    func acquire() async throws
}

/// No pacing.
public struct UnlimitedRate: RateLimiter {
    /// Creates the no-op limiter.
    public init() {}
    public func acquire() async throws {}
}

/// A token bucket: `burst` requests at once, refilled at `ratePerSecond`. Waiters reserve their
/// token before sleeping, so concurrent callers are served in turn and never exceed the rate.
public actor TokenBucket: RateLimiter {
    /// Tokens added per second.
    public let ratePerSecond: Double
    /// The bucket's capacity.
    public let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant
    private let clock = ContinuousClock()

    /// Creates a full bucket.
    public init(ratePerSecond: Double, burst: Int) {
        precondition(ratePerSecond > 0 && burst >= 1, "a token bucket needs a positive rate and burst")
        self.ratePerSecond = ratePerSecond
        self.burst = Double(burst)
        self.tokens = Double(burst)
        self.last = ContinuousClock.now
    }

    public func acquire() async throws {
        let now = clock.now
        let elapsed = last.duration(to: now)
        last = now
        tokens = min(burst, tokens + RetryPolicy.seconds(elapsed) * ratePerSecond)
        tokens -= 1
        guard tokens < 0 else { return }
        let wait = -tokens / ratePerSecond
        do {
            try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9)))
        } catch {
            tokens += 1
            throw error
        }
    }
}

extension RetryPolicy {
    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
