import Logging
import ServiceLifecycle

/// Runs a component as a `Service` and restarts it when it fails, with jittered exponential
/// backoff, so a crashing component does not take the others down. A component that keeps failing
/// (more than ``Policy/maxFailures`` failures within ``Policy/window``) escalates: `run()` throws
/// ``SupervisionError`` with the last error, the service group shuts down, and the process exits
/// with the reason for systemd to restart it.
///
/// Each restart builds the component afresh with `make`, so nothing of a failed instance is
/// reused; components keep their durable state in the store, not in memory.
public struct SupervisedService: Service, CustomStringConvertible {
    /// When to restart and when to give up.
    public struct Policy: Sendable {
        /// Failures tolerated within ``window``; one more escalates.
        public var maxFailures: Int
        /// The window failures are counted in.
        public var window: Duration
        /// The first restart delay; doubled after each failure in the window, up to ``maxDelay``.
        public var baseDelay: Duration
        /// The longest restart delay.
        public var maxDelay: Duration

        /// Creates a policy.
        public init(
            maxFailures: Int = 5, window: Duration = .seconds(300), baseDelay: Duration = .seconds(1),
            maxDelay: Duration = .seconds(60)
        ) {
            self.maxFailures = maxFailures
            self.window = window
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }
    }

    /// The component's name, for logs and errors.
    public let name: String
    let policy: Policy
    let logger: Logger
    let make: @Sendable () async throws -> any Service
    let onRestart: @Sendable (Int) -> Void

    /// Supervises the services `make` builds; `onRestart` is told each restart's count.
    public init(
        _ name: String, policy: Policy = Policy(), logger: Logger,
        onRestart: @escaping @Sendable (Int) -> Void = { _ in },
        make: @escaping @Sendable () async throws -> any Service
    ) {
        self.name = name
        self.policy = policy
        self.logger = logger
        self.make = make
        self.onRestart = onRestart
    }

    public var description: String { name }

    /// Runs the component until it returns, restarting it on failure; throws once it fails too
    /// often, or when cancelled.
    public func run() async throws {
        let clock = ContinuousClock()
        var failures: [ContinuousClock.Instant] = []
        var restarts = 0
        while true {
            do {
                try await make().run()
                return
            } catch {
                if Task.isCancelled || error is CancellationError { throw error }
                let now = clock.now
                failures = failures.filter { now - $0 < policy.window } + [now]
                guard failures.count <= policy.maxFailures else {
                    logger.critical(
                        "\(name) failed \(failures.count) times within \(policy.window); giving up",
                        metadata: ["error": "\(error)"])
                    throw SupervisionError(component: name, failures: failures.count, last: "\(error)")
                }
                var delay = policy.baseDelay * (1 << min(failures.count - 1, 20))
                if delay > policy.maxDelay { delay = policy.maxDelay }
                delay = delay * Double.random(in: 0.5...1.0)
                logger.error(
                    "\(name) failed; restarting it in \(delay)",
                    metadata: [
                        "error": "\(error)", "failures_in_window": "\(failures.count)",
                        "max_failures": "\(policy.maxFailures)",
                    ])
                try await Task.sleep(for: delay)
                restarts += 1
                onRestart(restarts)
            }
        }
    }
}

/// A component that failed too often to keep restarting.
public struct SupervisionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var component: String
    public var failures: Int
    /// The last failure.
    public var last: String

    public var description: String {
        "\(component) failed \(failures) times in a row of restarts (last: \(last)); stopping so the supervisor (systemd) restarts copybot"
    }
}
