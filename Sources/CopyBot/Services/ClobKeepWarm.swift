import CopyEngine
import Logging
import Polymarket
import ServiceLifecycle

/// Keeps a connection to the CLOB open, and checks this machine's clock against the CLOB's.
///
/// The HTTP client closes a connection after 60 s without a request. A followed wallet may trade
/// minutes apart, so without this the first copy after a quiet minute would wait for TCP and TLS
/// set-up (two round trips to the CLOB) before its book and its order. `GET /time` every
/// ``interval`` (25 s by default; it is public and light) keeps one connection open, and the first
/// one is made as the service starts, before the first trade.
///
/// Each answer is also compared with this machine's clock: a difference past ``skewLimit`` is
/// logged as a warning (once, and once more when it is back within the limit), since order
/// timestamps and the API's signed requests carry this machine's time.
public struct ClobKeepWarm: Service {
    private let client: any ClobAPI
    private let clock: any WallClock
    private let logger: Logger
    private let observe: @Sendable (_ roundTrip: Duration, _ clockSkewSeconds: Int64) -> Void
    /// Time between two `GET /time`.
    public let interval: Duration
    /// The clock difference (seconds) past which a warning is logged.
    public let skewLimit: Int64

    /// Creates the service over `client` (any client of the CLOB's host: they share the pool);
    /// `observe` is told each answered ping's round trip and clock difference (for metrics).
    public init(
        client: any ClobAPI, clock: any WallClock, logger: Logger, interval: Duration = .seconds(25),
        skewLimit: Int64 = 5,
        observe: @escaping @Sendable (_ roundTrip: Duration, _ clockSkewSeconds: Int64) -> Void = { _, _ in }
    ) {
        self.client = client
        self.clock = clock
        self.logger = logger
        self.observe = observe
        self.interval = interval
        self.skewLimit = skewLimit
    }

    /// What a clock difference of `skew` seconds (the CLOB's clock minus ours) calls for, given
    /// whether it was already reported: a message to log, or nil.
    static func skewReport(_ skew: Int64, limit: Int64, reported: Bool) -> (message: String, reported: Bool)?
    {
        let beyond = abs(skew) > limit
        switch (beyond, reported) {
        case (true, false):
            let direction = skew > 0 ? "behind" : "ahead of"
            return (
                "this machine's clock is \(abs(skew)) s \(direction) the CLOB's (limit \(limit) s): order timestamps and signed API requests carry it; check NTP (timedatectl)",
                true
            )
        case (false, true):
            return ("this machine's clock is within \(limit) s of the CLOB's again (\(skew) s)", false)
        default:
            return nil
        }
    }

    /// Pings until cancelled or a graceful shutdown. A ping in flight at a graceful shutdown is
    /// answered first (cancelling it would close a connection the engines may still be using).
    public func run() async throws {
        var reported = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            reported = await ping(reported: reported)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One `GET /time` and the clock check; returns whether a difference is reported now.
    private func ping(reported: Bool) async -> Bool {
        do {
            let started = ContinuousClock.now
            let before = clock.now().milliseconds
            let server = try await client.serverTime()
            let after = clock.now().milliseconds
            // Against the middle of the round trip, to the second the CLOB answers in.
            let skew = server - (before + after) / 2_000
            observe(ContinuousClock.now - started, skew)
            guard let report = Self.skewReport(skew, limit: skewLimit, reported: reported) else {
                return reported
            }
            if report.reported {
                logger.warning("\(report.message)", metadata: ["skew_seconds": "\(skew)"])
            } else {
                logger.info("\(report.message)")
            }
            return report.reported
        } catch {
            // Reachability is the engine's and the status's to report; this only keeps warm.
            logger.debug("CLOB keep-warm request failed: \(error)")
            return reported
        }
    }
}
