import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The operations endpoint of `copybot run` (`http.listen`):
///
/// - `GET /health`: `200 ok` while the process serves HTTP at all (liveness; touches nothing else).
/// - `GET /ready`: `200` with `{"ready":true,...}` when ``ServiceSnapshot/readiness(now:policy:)``
///   says so, else `503` with the `reasons`.
/// - `GET /metrics`: the Prometheus text exposition (format 0.0.4) of `registry`.
///
/// Every answer is built from ``ServiceState`` and the registry only, so none waits on the node,
/// the store or the exchange. A swift-service-lifecycle `Service`: run it in a `ServiceGroup` or a
/// task group; it stops when its task is cancelled or the group shuts down gracefully.
public struct OperationsServer: Service {
    /// Where it listens; port 0 picks a free port (reported to `onListening`).
    public let listen: CopyBotConfiguration.ListenAddress
    private let state: ServiceState
    private let registry: PrometheusCollectorRegistry
    private let metrics: MetricsPublisher?
    private let policy: ReadinessPolicy
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void

    /// Creates a server (not yet listening).
    ///
    /// - Parameters:
    ///   - listen: `http.listen`.
    ///   - state: The service's latest snapshot, kept up to date by the application.
    ///   - registry: The registry `/metrics` exposes (the one behind `metrics`).
    ///   - metrics: When given, `state`'s snapshot is published to it before each scrape, so the
    ///     counters are as fresh as the state.
    ///   - readiness: The thresholds of `/ready`.
    ///   - logger: For the server's own messages.
    ///   - onListening: Called with the bound port once the server accepts connections.
    public init(
        listen: CopyBotConfiguration.ListenAddress, state: ServiceState,
        registry: PrometheusCollectorRegistry,
        metrics: MetricsPublisher? = nil, readiness: ReadinessPolicy = ReadinessPolicy(), logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.listen = listen
        self.state = state
        self.registry = registry
        self.metrics = metrics
        self.policy = readiness
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until cancelled or shut down gracefully. Throws when it cannot listen.
    public func run() async throws {
        let router = Router()
        router.get("health") { _, _ in Self.health() }
        router.get("ready") { _, _ in self.ready(now: .now) }
        router.get("metrics") { _, _ in self.scrape() }
        let logger = self.logger
        let onListening = self.onListening
        let listen = self.listen
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.info(
                    "operations endpoint listening: /health /ready /metrics",
                    metadata: ["host": "\(listen.host)", "port": "\(port)"])
                await onListening(port)
            },
            logger: logger)
        try await app.run()
    }

    // MARK: Answers

    /// `200 ok`.
    static func health() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
    }

    /// The body of `/ready`.
    struct Readiness: Encodable {
        var ready: Bool
        var reasons: [String]
        var mode: String
        var live: Bool
        var head: UInt64?
        var checkpoint: UInt64?
        var lagBlocks: UInt64?
        var maxLagBlocks: UInt64
        var headAgeSeconds: Double?
        var breaker: String?
        /// Live accounts' balances at the exchange and their differences from the ledger.
        var funds: [String: FundsReport]?

        enum CodingKeys: String, CodingKey {
            case ready, reasons, mode, live, head, checkpoint, breaker, funds
            case lagBlocks = "lag_blocks"
            case maxLagBlocks = "max_lag_blocks"
            case headAgeSeconds = "head_age_seconds"
        }
    }

    /// `200` or `503` with a ``Readiness`` body.
    func ready(now: ContinuousClock.Instant) -> Response {
        let snapshot = state.snapshot
        let (ready, reasons) = snapshot.readiness(now: now, policy: policy)
        let age = snapshot.lastHeadAt.map { now - $0 }
        let body = Readiness(
            ready: ready, reasons: reasons, mode: snapshot.mode.rawValue, live: snapshot.source.live,
            head: snapshot.source.head, checkpoint: snapshot.source.checkpoint?.number,
            lagBlocks: snapshot.lagBlocks, maxLagBlocks: policy.maxLagBlocks,
            headAgeSeconds: age.map {
                Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
            },
            breaker: snapshot.breaker?.state.name, funds: snapshot.funds.isEmpty ? nil : snapshot.funds)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json =
            (try? encoder.encode(body)) ?? Data(#"{"ready":false,"reasons":["internal: encoding"]}"#.utf8)
        var buffer = ByteBuffer(bytes: json)
        buffer.writeString("\n")
        return Response(
            status: ready ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: buffer))
    }

    /// `200` with the exposition of the registry.
    func scrape() -> Response {
        metrics?.publish(state.snapshot)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}
