import AsyncHTTPClient
import Chain
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import Prometheus
import Store

/// The composition root of `copybot run`: builds every component from the configuration and
/// hands each its dependencies as the protocols it declares; no other place knows the concrete
/// types.
///
/// The graph: ``EventSource`` (libwebsockets subscription + `eth_getLogs` resync from the SQLite
/// checkpoint, reorgs) → ``TradeFeed`` (ABI decoding) → ``CopyPipeline`` (in order per token,
/// concurrent across tokens) → ``CopyEngine`` (sizing, risk, breaker, paper fills or signed CLOB
/// orders, one decision per trade, all state in the ``SQLiteStore``). A trade is acknowledged to
/// the listener only once its decision is stored, so a crash at any point delivers it again and
/// the stored decision answers it.
public final class CopyBotApplication: Sendable {
    private let configuration: CopyBotConfiguration
    private let logger: Logger

    /// Creates the application from a validated configuration.
    public init(configuration: CopyBotConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled (SIGTERM/SIGINT), then stops reading, finishes the trades in hand,
    /// flushes and returns.
    public func run() async throws {
        let registry = try ExchangeRegistry.load(
            contractsFile: configuration.contracts.file, abiDirectory: configuration.contracts.abiDirectory)
        guard case .sqlite(let path) = configuration.store.location else {
            throw ApplicationError("store.url: only sqlite: stores are available in this build")
        }
        let store = try SQLiteStore(path: path)
        let wallets = configuration.follow.wallets.map(\.address)
        logger.info(
            "copybot starting",
            metadata: [
                "mode": "\(configuration.copy.mode)", "store": "\(path)", "wallets": "\(wallets.count)",
                "exchanges": "\(registry.contracts.map(\.name).joined(separator: ","))",
            ])
        let state = ServiceState(mode: configuration.copy.mode)
        let prometheus = PrometheusCollectorRegistry()
        let metrics = MetricsPublisher(registry: prometheus)
        let server = configuration.http.listen.map {
            OperationsServer(listen: $0, state: state, registry: prometheus, metrics: metrics, logger: logger)
        }
        if let listen = configuration.http.listen {
            logger.info("health and metrics on http://\(listen) (/health, /ready, /metrics)")
        }
        guard !wallets.isEmpty else {
            logger.warning("no wallets followed (follow.wallets is empty): copybot is up but copies nothing")
            do {
                if let server { try await server.run() }
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
            } catch is CancellationError {}
            return
        }

        let clobHTTP = ClobHTTPClient.makeHTTPClient()
        let nodeHTTP = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: Result<Void, any Error>
        do {
            let engine = try await makeEngine(registry: registry, store: store, http: clobHTTP)
            var nodeConfiguration = NodeClient.Configuration(
                webSocketURLs: configuration.chain.wsURLs, httpURLs: configuration.chain.httpURLs)
            nodeConfiguration.requestTimeout = configuration.chain.requestTimeout
            nodeConfiguration.maxMessageBytes = configuration.chain.maxMessageBytes
            let node = NodeClient(configuration: nodeConfiguration, httpClient: nodeHTTP, logger: logger)
            let source = EventSource(
                rpc: node, store: store,
                configuration: configuration.eventSourceConfiguration(
                    stream: "polygon", filter: registry.fillFilter(wallets: wallets)),
                logger: logger)
            let feed = TradeFeed(source: source, registry: registry, logger: logger)
            do {
                try await runServices(
                    source: source, feed: feed, engine: engine, blocks: BlockClock(rpc: node),
                    operations: Operations(state: state, metrics: metrics, server: server))
            } catch is CancellationError {
                // Stopped by a signal: in-flight trades are finished and acknowledged.
            }
            logStopped(source: source, engine: engine)
            result = .success(())
        } catch {
            result = error is CancellationError ? .success(()) : .failure(error)
        }
        try? await clobHTTP.shutdown()
        try? await nodeHTTP.shutdown()
        try result.get()
    }

    // MARK: Building

    private func makeEngine(
        registry: ExchangeRegistry, store: any CopyStateStore, http: HTTPClient
    ) async throws -> CopyEngine {
        let live = configuration.copy.mode == .live
        let credentials = configuration.credentials
        if live {
            guard credentials.privateKey != nil, credentials.api != nil else {
                throw ApplicationError(
                    "copy.mode is live but the signing key or the CLOB API credentials are missing; see `copybot config check`"
                )
            }
        }
        // Paper mode reads only public market data; a throwaway key fills the client's signer slot.
        let key = credentials.privateKey ?? PrivateKey.generate()
        let rate = configuration.clob.requestsPerSecond
        let clob = ClobHTTPClient(
            configuration: .init(
                baseURL: configuration.clob.url, chainId: configuration.clob.chainId,
                requestTimeout: configuration.clob.timeout),
            http: http, signer: key, credentials: credentials.api,
            rateLimiter: TokenBucket(ratePerSecond: rate, burst: max(1, Int(rate.rounded(.up)))),
            logger: logger)
        let gateway = ClobGateway(client: clob, metadata: MarketMetadataCache(source: clob))
        var signer: (any OrderSigning)?
        if live {
            let contracts = try ExchangeContracts(
                registry: registry, exchange: configuration.clob.exchange,
                negRiskExchange: configuration.clob.negRiskExchange,
                domainVersion: configuration.clob.domainVersion)
            signer = BuilderOrderSigner(
                builder: OrderBuilder(
                    signer: key, signatureType: configuration.clob.signatureType,
                    funder: configuration.clob.funder
                ), contracts: contracts)
        }
        let clock = SystemWallClock()
        let engineConfiguration = configuration.engineConfiguration()
        let restored = try await CopyEngine.restoreLedger(
            store: store, account: engineConfiguration.account, initialCash: configuration.startingCash,
            day: clock.now().utcDay)
        let ledger = restored.ledger
        logger.info(
            "ledger restored",
            metadata: [
                "cash": "\(ledger.cash)", "positions": "\(ledger.positions.count)",
                "fills": "\(restored.throughFill)",
            ])
        return CopyEngine(
            configuration: engineConfiguration, store: store, gateway: gateway, signer: signer,
            portfolio: Portfolio(ledger: ledger, bookedThrough: restored.throughFill),
            breaker: CircuitBreaker(configuration: configuration.breakerConfiguration, clock: clock),
            killSwitch: FileKillSwitch(path: configuration.copy.risk.killSwitchFile), clock: clock,
            logger: logger)
    }

    // MARK: Running

    /// The operations side: the state `/ready` serves, the metrics, the HTTP server (when on).
    struct Operations: Sendable {
        let state: ServiceState
        let metrics: MetricsPublisher
        let server: OperationsServer?
    }

    private func runServices(
        source: EventSource, feed: TradeFeed, engine: CopyEngine, blocks: BlockClock, operations: Operations
    ) async throws {
        let names = Dictionary(
            configuration.follow.wallets.map { ($0.address, $0.name ?? "") },
            uniquingKeysWith: { first, _ in first })
        let pipeline = CopyPipeline(maxConcurrency: configuration.copy.executors)
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            if let server = operations.server { group.addTask { try await server.run() } }
            group.addTask {
                // The state /ready and /metrics serve, from the components' own counters.
                while true {
                    operations.state.refresh(
                        source: source.status, feed: feed.statistics, engine: engine.statistics,
                        breaker: engine.breaker.snapshot)
                    try await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask {
                // Orders whose outcome is unknown (a crash mid-post, a lost answer) are resolved by
                // look-up, first at start, then every half lease.
                let every = max(5, engine.configuration.intentLeaseSeconds / 2)
                while !Task.isCancelled {
                    let resolved = await engine.resolveUnresolvedIntents()
                    if !resolved.isEmpty {
                        logger.notice("resolved \(resolved.count) order intents by look-up")
                    }
                    try await Task.sleep(for: .seconds(every))
                }
            }
            group.addTask {
                try await pipeline.run(
                    TradeFeedSequence(feed: feed),
                    lane: { $0.trade.tokenId },
                    handle: { event -> CopyDecision? in
                        // Stopping: trades read but not started stay unacknowledged and come
                        // again at the next start; a trade already started is finished.
                        guard !Task.isCancelled else { return nil }
                        self.report(event, name: names[event.trade.wallet] ?? "")
                        let metrics = operations.metrics
                        return await Task {
                            let started = ContinuousClock.now
                            defer { metrics.recordDecisionLatency(ContinuousClock.now - started) }
                            let blockTime = await blocks.time(
                                of: event.trade.blockNumber, head: source.status.head,
                                now: SystemWallClock().now())
                            return await Self.decide(
                                event, engine: engine, blockTime: blockTime, logger: logger)
                        }.value
                    },
                    completed: { event, decision in
                        // A store failure is not a decision: leave the trade unacknowledged so it
                        // is delivered again (after a restart at the latest).
                        guard let decision else { return }
                        if case .failed(.store) = decision { return }
                        do {
                            // Not cancelled with the service: a decided trade is always acknowledged.
                            try await Task { try await feed.acknowledge(event) }.value
                        } catch {
                            logger.error("could not acknowledge trade \(event.identity.hash.hex): \(error)")
                        }
                    })
            }
            // The pipeline ends when the source does; the source ends only when cancelled.
            try await group.next()
            group.cancelAll()
        }
    }

    /// The decision for `event`, retrying while the store fails (a full disk, a locked file):
    /// nothing is decided without being stored.
    static func decide(
        _ event: TradeFeedEvent, engine: CopyEngine, blockTime: UnixTime?, logger: Logger
    ) async -> CopyDecision {
        let trade = CopyTrade(
            identity: TradeIdentity(event.identity.hash),
            kind: event.kind == .trade ? .trade : .retracted, trade: event.trade,
            blockTime: blockTime)
        var delay = Duration.milliseconds(250)
        while true {
            let decision = await engine.handle(trade)
            guard case .failed(.store(let message)) = decision, !Task.isCancelled else { return decision }
            logger.error(
                "the store failed while deciding; retrying in \(delay)", metadata: ["error": "\(message)"])
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    private func report(_ event: TradeFeedEvent, name: String) {
        let trade = event.trade
        var metadata: Logger.Metadata = [
            "block": "\(trade.blockNumber)", "tx": "\(trade.transactionHash.hex)",
            "log_index": "\(trade.logIndex)",
            "exchange": "\(trade.exchange)", "wallet": "\(trade.wallet)", "side": "\(trade.side.rawValue)",
            "token_id": "\(trade.tokenId)", "price": "\(trade.price)", "shares": "\(trade.shares)",
            "usdc": "\(trade.collateral)",
        ]
        if !name.isEmpty { metadata["name"] = "\(name)" }
        switch event.kind {
        case .trade: logger.info("trade seen", metadata: metadata)
        case .retracted: logger.warning("trade retracted by a reorg", metadata: metadata)
        }
    }

    private func logStopped(source: EventSource, engine: CopyEngine) {
        let status = source.status
        let stats = engine.statistics
        logger.info(
            "copybot stopped",
            metadata: [
                "checkpoint": "\(status.checkpoint.map { String($0.number) } ?? "-")",
                "delivered": "\(status.logsDelivered)", "retractions": "\(status.retractions)",
                "copied": "\(stats.copied)", "skipped": "\(stats.skipped)", "failed": "\(stats.failed)",
            ])
    }
}

/// The feed as an `AsyncSequence`, for the pipeline.
struct TradeFeedSequence: AsyncSequence, Sendable {
    typealias Element = TradeFeedEvent
    let feed: TradeFeed

    struct AsyncIterator: AsyncIteratorProtocol {
        let feed: TradeFeed
        mutating func next() async throws -> TradeFeedEvent? { try await feed.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(feed: feed) }
}

/// A reason the application cannot start.
public struct ApplicationError: Error, CustomStringConvertible {
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
