import Synchronization

/// A circuit breaker shared by all executors of a process: it stops calls to the exchange after
/// repeated faults, and lets one probe through after a cooldown.
///
/// - closed: calls pass. It opens after `consecutiveFailures` faults in a row, or when, over the
///   last `windowSeconds`, at least `minimumCalls` calls were made and the fault rate is at least
///   `failureRatePercent`.
/// - open: calls are refused until `cooldownSeconds` after it opened.
/// - half-open: the first ``acquire()`` after the cooldown gets the only permit (a probe); others
///   are refused. The probe's success closes the breaker (counters and window reset); its failure
///   reopens it for another cooldown. A probe released without an outcome frees the slot.
public final class CircuitBreaker: Sendable {
    /// When the breaker opens and for how long.
    public struct Configuration: Hashable, Sendable {
        /// Faults in a row that open the breaker.
        public var consecutiveFailures: Int
        /// Fault rate (percent of calls in the window) that opens the breaker; nil disables it.
        public var failureRatePercent: Int?
        /// The sliding window of the rate, in seconds.
        public var windowSeconds: Int64
        /// Calls the window needs before the rate counts.
        public var minimumCalls: Int
        /// How long the breaker stays open before a probe.
        public var cooldownSeconds: Int64

        /// Creates a configuration.
        public init(
            consecutiveFailures: Int = 5, failureRatePercent: Int? = 50, windowSeconds: Int64 = 60,
            minimumCalls: Int = 10, cooldownSeconds: Int64 = 30
        ) {
            self.consecutiveFailures = consecutiveFailures
            self.failureRatePercent = failureRatePercent
            self.windowSeconds = windowSeconds
            self.minimumCalls = minimumCalls
            self.cooldownSeconds = cooldownSeconds
        }
    }

    /// The breaker's state.
    public enum State: Hashable, Sendable {
        case closed
        /// Refusing calls until `until`.
        case open(until: UnixTime)
        /// One probe may run (`probeInFlight` says whether it is).
        case halfOpen(probeInFlight: Bool)

        /// `closed`, `open` or `half_open`, for status and metrics.
        public var name: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half_open"
            }
        }
    }

    /// A permission to call the exchange, returned by ``acquire()``.
    public enum Permit: Hashable, Sendable {
        /// A normal call (breaker closed).
        case normal
        /// The half-open probe.
        case probe
    }

    /// State and counters, for status and metrics.
    public struct Snapshot: Hashable, Sendable {
        public var state: State
        public var consecutiveFailures: Int
        /// Calls and faults in the current window.
        public var windowCalls: Int
        public var windowFailures: Int
        public var totalSuccesses: Int
        public var totalFailures: Int
        /// Calls refused while open or half-open.
        public var rejected: Int
        /// How many times the breaker opened.
        public var opened: Int
    }

    struct Inner {
        var state: State = .closed
        var consecutive = 0
        /// (time, failed) of recent outcomes, oldest first.
        var window: [(UnixTime, Bool)] = []
        var successes = 0
        var failures = 0
        var rejected = 0
        var opened = 0
    }

    /// The configuration.
    public let configuration: Configuration
    private let clock: any WallClock
    private let inner = Mutex(Inner())

    /// Creates a closed breaker reading time from `clock`.
    public init(configuration: Configuration = Configuration(), clock: any WallClock) {
        self.configuration = configuration
        self.clock = clock
    }

    /// State and counters now (an open breaker whose cooldown passed reports half-open).
    public var snapshot: Snapshot {
        let now = clock.now()
        return inner.withLock { inner in
            advance(&inner, now: now)
            prune(&inner, now: now)
            return Snapshot(
                state: inner.state, consecutiveFailures: inner.consecutive, windowCalls: inner.window.count,
                windowFailures: inner.window.count(where: { $0.1 }), totalSuccesses: inner.successes,
                totalFailures: inner.failures, rejected: inner.rejected, opened: inner.opened)
        }
    }

    /// The state now.
    public var state: State { snapshot.state }

    /// Asks to call the exchange. Nil when refused (open, or half-open with the probe taken).
    /// Every permit must end in ``record(_:success:)`` or ``release(_:)``.
    public func acquire() -> Permit? {
        let now = clock.now()
        return inner.withLock { inner in
            advance(&inner, now: now)
            switch inner.state {
            case .closed: return .normal
            case .halfOpen(false):
                inner.state = .halfOpen(probeInFlight: true)
                return .probe
            case .halfOpen(true), .open:
                inner.rejected += 1
                return nil
            }
        }
    }

    /// Records the outcome of a call made under `permit`: `success` false for a fault (timeout,
    /// transport error, 429, 5xx), true otherwise (including definitive rejections of an order).
    public func record(_ permit: Permit, success: Bool) {
        let now = clock.now()
        inner.withLock { inner in
            if success { inner.successes += 1 } else { inner.failures += 1 }
            switch (permit, inner.state) {
            case (.probe, .halfOpen):
                if success {
                    inner.state = .closed
                    inner.consecutive = 0
                    inner.window.removeAll()
                } else {
                    open(&inner, now: now)
                }
                return
            case (.normal, .closed):
                inner.window.append((now, !success))
                prune(&inner, now: now)
                if success {
                    inner.consecutive = 0
                    return
                }
                inner.consecutive += 1
                if inner.consecutive >= configuration.consecutiveFailures || rateExceeded(inner) {
                    open(&inner, now: now)
                }
            default:
                // A call that started before the breaker opened: its fault keeps the streak counting,
                // but it cannot change an open or half-open state.
                if !success { inner.consecutive += 1 }
            }
        }
    }

    /// Gives back a permit whose call was never made.
    public func release(_ permit: Permit) {
        inner.withLock { inner in
            if permit == .probe, case .halfOpen(true) = inner.state {
                inner.state = .halfOpen(probeInFlight: false)
            }
        }
    }

    private func open(_ inner: inout Inner, now: UnixTime) {
        inner.state = .open(until: now.adding(seconds: configuration.cooldownSeconds))
        inner.opened += 1
    }

    private func advance(_ inner: inout Inner, now: UnixTime) {
        if case .open(let until) = inner.state, now >= until { inner.state = .halfOpen(probeInFlight: false) }
    }

    private func prune(_ inner: inout Inner, now: UnixTime) {
        let start = now.adding(seconds: -configuration.windowSeconds)
        if let keep = inner.window.firstIndex(where: { $0.0 > start }) {
            inner.window.removeFirst(keep)
        } else {
            inner.window.removeAll()
        }
    }

    private func rateExceeded(_ inner: Inner) -> Bool {
        guard let percent = configuration.failureRatePercent, inner.window.count >= configuration.minimumCalls
        else { return false }
        let failures = inner.window.count(where: { $0.1 })
        return failures * 100 >= percent * inner.window.count
    }
}
