import Chain
import CopyEngine
import Synchronization

/// The latest ``ServiceSnapshot`` of the running service, shared between the application (which
/// writes it) and the operations endpoints (which read it).
///
/// Reads and writes take a lock for a copy of a small value, nothing more: `/ready` and `/metrics`
/// never wait on the node, the store or the exchange, however those are doing.
public final class ServiceState: Sendable {
    private let box: Mutex<ServiceSnapshot>

    /// Creates the state with `initial`.
    public init(_ initial: ServiceSnapshot) {
        self.box = Mutex(initial)
    }

    /// Creates the state of a service that has not started: nothing seen, not live.
    public convenience init(mode: CopyBotConfiguration.Copy.Mode) {
        self.init(ServiceSnapshot(mode: mode))
    }

    /// The latest snapshot.
    public var snapshot: ServiceSnapshot { box.withLock { $0 } }

    /// Replaces the snapshot.
    public func update(_ snapshot: ServiceSnapshot) {
        box.withLock { $0 = snapshot }
    }

    /// Changes the snapshot in place and returns the result.
    @discardableResult
    public func update(_ body: (inout ServiceSnapshot) -> Void) -> ServiceSnapshot {
        box.withLock { snapshot in
            body(&snapshot)
            return snapshot
        }
    }

    /// Copies the components' current statuses in and returns the new snapshot. Stamps
    /// ``ServiceSnapshot/lastHeadAt`` with `now` when the head moved (or was first seen), so a
    /// node that stops sending heads shows up as `head_stale` in ``ServiceSnapshot/readiness(now:policy:)``.
    ///
    /// Call it periodically (every second or so) from the application with `source.status`,
    /// `feed.statistics`, `engine.statistics` and `engine.breaker.snapshot`.
    @discardableResult
    public func refresh(
        source: EventSourceStatus, feed: TradeFeedStatistics, engine: EngineStatistics? = nil,
        breaker: CircuitBreaker.Snapshot? = nil, now: ContinuousClock.Instant = .now
    ) -> ServiceSnapshot {
        update { snapshot in
            if let head = source.head, head != snapshot.source.head || snapshot.lastHeadAt == nil {
                snapshot.lastHeadAt = now
            }
            snapshot.source = source
            snapshot.feed = feed
            snapshot.engine = engine
            snapshot.breaker = breaker
        }
    }

    /// Like ``refresh(source:feed:engine:breaker:now:)`` for a cluster executor, which runs no
    /// listener: its readiness is the breaker's.
    @discardableResult
    public func refreshExecutor(
        engine: EngineStatistics, breaker: CircuitBreaker.Snapshot?
    ) -> ServiceSnapshot {
        update { snapshot in
            snapshot.listens = false
            snapshot.engine = engine
            snapshot.breaker = breaker
        }
    }
}
