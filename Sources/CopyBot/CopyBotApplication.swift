import AsyncHTTPClient
import Chain
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import Prometheus
import ServiceLifecycle
import Store
import Synchronization
import UnixSignals

/// The composition root of `copybot run`: builds every component from the configuration and
/// hands each its dependencies as the protocols it declares; no other place knows the concrete
/// types.
///
/// The graph: ``EventSource`` (libwebsockets subscription + `eth_getLogs` resync from the stored
/// checkpoint, reorgs) → ``TradeFeed`` (ABI decoding) → ``CopyPipeline`` (in order per token,
/// concurrent across tokens) → ``CopyEngine`` (sizing, risk, breaker, paper fills or signed CLOB
/// orders, one decision per trade, all state in the store ``StoreFactory`` opens: SQLite or
/// PostgreSQL). A trade is acknowledged to
/// the listener only once its decision is stored, so a crash at any point delivers it again and
/// the stored decision answers it.
public final class CopyBotApplication: Sendable {
    /// What a reload (SIGHUP) can change without a restart: the followed wallets with their sizing,
    /// and the exchange contracts and ABIs.
    struct Followed: Sendable {
        var configuration: CopyBotConfiguration
        var registry: ExchangeRegistry
    }

    private let configuration: CopyBotConfiguration
    private let logger: Logger
    private let reloadConfiguration: (@Sendable () throws -> CopyBotConfiguration)?
    private let followed: Mutex<Followed?> = Mutex(nil)
    private let reloads = Mutex(0)
    /// The running listener's parts, for the state refresher, the resolver and reloads.
    private let running = Mutex<Running?>(nil)
    /// Where the next listener pass reads from at the latest (a reload widened the filter).
    private let pendingRewind = Mutex<UInt64?>(nil)

    /// Creates the application from a validated configuration. `reload` reads the configuration
    /// again (file and environment) for ``reload()`` and SIGHUP; nil: reloading is off.
    public init(
        configuration: CopyBotConfiguration, logger: Logger,
        reload: (@Sendable () throws -> CopyBotConfiguration)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.reloadConfiguration = reload
    }

    /// Reads the configuration again and applies what changed of the followed wallets (and their
    /// sizing) and the exchange contracts: the listener finishes the trades in hand, then
    /// resubscribes with the new filter and resumes from its checkpoint, so no event is lost. Other
    /// changes need a restart. An invalid new configuration is logged and ignored.
    public func reload() {
        guard let reloadConfiguration else { return }
        do {
            let fresh = try reloadConfiguration()
            let registry = try ExchangeRegistry.load(
                contractsFile: fresh.contracts.file, abiDirectory: fresh.contracts.abiDirectory)
            let before = followed.withLock { current -> Followed? in
                let before = current
                if var updated = current {
                    updated.configuration.follow = fresh.follow
                    updated.configuration.contracts = fresh.contracts
                    updated.registry = registry
                    current = updated
                }
                return before
            }
            guard let before else { return }
            let old = Set(before.configuration.follow.wallets.map(\.address))
            let new = Set(fresh.follow.wallets.map(\.address))
            // Added wallets are followed from the block the listener had reached: the next pass
            // reads again from there (what was delivered already is recognised, not repeated).
            if !new.isSubset(of: old) || before.configuration.contracts != fresh.contracts,
                let head = running.withLock({ $0?.source.status.head })
            {
                pendingRewind.withLock { $0 = min($0 ?? head, head) }
            }
            reloads.withLock { $0 += 1 }
            logger.notice(
                "configuration reloaded: following \(new.count) wallets (\(new.subtracting(old).count) added, \(old.subtracting(new).count) removed), \(registry.contracts.count) exchanges; other changes apply at the next restart"
            )
        } catch {
            logger.error("reload failed, keeping the running configuration: \(error)")
        }
    }

    /// Runs the services until SIGTERM/SIGINT (graceful: stop reading, finish the trades in hand,
    /// acknowledge them, return) or until a component fails beyond its restarts (throws the reason).
    public func run() async throws {
        let registry = try ExchangeRegistry.load(
            contractsFile: configuration.contracts.file, abiDirectory: configuration.contracts.abiDirectory)
        let opened = try await StoreFactory.open(configuration, logger: logger)
        followed.withLock { $0 = Followed(configuration: configuration, registry: registry) }
        logger.info(
            "copybot starting",
            metadata: [
                "mode": "\(configuration.copy.mode)", "store": "\(opened.description)",
                "wallets": "\(configuration.follow.wallets.count)",
                "exchanges": "\(registry.contracts.map(\.name).joined(separator: ","))",
            ])
        let clobHTTP = ClobHTTPClient.makeHTTPClient()
        let nodeHTTP = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: Result<Void, any Error>
        do {
            try await runServices(store: opened.store, clobHTTP: clobHTTP, nodeHTTP: nodeHTTP)
            result = .success(())
        } catch {
            result = .failure(error)
        }
        // The HTTP clients and the store outlive every service.
        try? await clobHTTP.shutdown()
        try? await nodeHTTP.shutdown()
        await opened.close()
        try result.get()
    }

    /// The running listener's parts, for the state refresher and the resolver.
    struct Running: Sendable {
        var source: EventSource
        var feed: TradeFeed
        var engine: CopyEngine
    }

    private func runServices(
        store: any CopyBotStore, clobHTTP: HTTPClient, nodeHTTP: HTTPClient
    ) async throws {
        let state = ServiceState(mode: configuration.copy.mode)
        let prometheus = PrometheusCollectorRegistry()
        let metrics = MetricsPublisher(registry: prometheus)
        let breaker = CircuitBreaker(
            configuration: configuration.breakerConfiguration, clock: SystemWallClock())
        var nodeConfiguration = NodeClient.Configuration(
            webSocketURLs: configuration.chain.wsURLs, httpURLs: configuration.chain.httpURLs)
        nodeConfiguration.requestTimeout = configuration.chain.requestTimeout
        nodeConfiguration.maxMessageBytes = configuration.chain.maxMessageBytes
        let node = NodeClient(configuration: nodeConfiguration, httpClient: nodeHTTP, logger: logger)
        let blocks = BlockClock(rpc: node)

        // Shut down last (services stop in reverse order): /health answers while the rest drains.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listen = configuration.http.listen {
            logger.info("health and metrics on http://\(listen) (/health, /ready, /metrics)")
            services.append(
                Self.component(
                    SupervisedService("http", logger: logger) {
                        OperationsServer(
                            listen: listen, state: state, registry: prometheus, metrics: metrics,
                            logger: self.logger)
                    }))
        }
        let listener = SupervisedService("listener", logger: logger) {
            ClosureService {
                // One pass per configuration: a reload finishes the trades in hand and starts a
                // fresh source, feed and engine; a failure is the supervisor's to restart. The
                // checkpoint, the unacknowledged trades and the ledger are in the store, so every
                // pass resumes exactly where the last one stopped.
                while true {
                    let generation = self.reloads.withLock { $0 }
                    guard let current = self.followed.withLock({ $0 }) else { return }
                    let wallets = current.configuration.follow.wallets.map(\.address)
                    if wallets.isEmpty {
                        self.logger.warning(
                            "no wallets followed (follow.wallets is empty): copybot is up but copies nothing; add wallets and send SIGHUP"
                        )
                        do {
                            try await cancelWhenGracefulShutdown {
                                try await self.waitForReload(after: generation)
                            }
                            continue
                        } catch is CancellationError { return }
                    }
                    let engine = try await self.makeEngine(
                        current, registry: current.registry, store: store, http: clobHTTP, breaker: breaker)
                    var sourceConfiguration = current.configuration.eventSourceConfiguration(
                        stream: "polygon", filter: current.registry.fillFilter(wallets: wallets))
                    sourceConfiguration.rewindTo = self.pendingRewind.withLock { rewind in
                        defer { rewind = nil }
                        return rewind.map { $0 == 0 ? 0 : $0 - 1 }
                    }
                    let source = EventSource(
                        rpc: node, store: store, configuration: sourceConfiguration, logger: self.logger)
                    let feed = TradeFeed(source: source, registry: current.registry, logger: self.logger)
                    self.running.withLock { $0 = Running(source: source, feed: feed, engine: engine) }
                    let reloaded = try await self.listen(
                        source: source, feed: feed, engine: engine, blocks: blocks, metrics: metrics,
                        names: current.configuration.follow.wallets, generation: generation)
                    self.logStopped(source: source, engine: engine, reason: reloaded ? "reload" : "shutdown")
                    if !reloaded { return }
                }
            }
        }
        let refresher = ClosureService {
            // The state /ready and /metrics serve, from the components' own counters.
            try? await cancelWhenGracefulShutdown {
                while true {
                    if let r = self.running.withLock({ $0 }) {
                        state.refresh(
                            source: r.source.status, feed: r.feed.statistics, engine: r.engine.statistics,
                            breaker: breaker.snapshot)
                    }
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
        let resolver = ClosureService {
            // Orders whose outcome is unknown (a crash mid-post, a lost answer) are resolved by
            // look-up, at start and then every half lease.
            try? await cancelWhenGracefulShutdown {
                while true {
                    if let engine = self.running.withLock({ $0?.engine }) {
                        let resolved = await engine.resolveUnresolvedIntents()
                        if !resolved.isEmpty {
                            self.logger.notice("resolved \(resolved.count) order intents by look-up")
                        }
                    }
                    try await Task.sleep(
                        for: .seconds(max(1, self.configuration.copy.orderLease.components.seconds / 2)))
                }
            }
        }
        let hangups = ClosureService {
            // SIGHUP (systemd's `reload`): reload the followed wallets and the contracts.
            let signals = await UnixSignalsSequence(trapping: .sighup)
            await cancelWhenGracefulShutdown {
                for await _ in signals { self.reload() }
            }
        }
        services += [
            Self.component(hangups, name: "reload"),
            Self.component(refresher, name: "state"),
            Self.component(SupervisedService("resolver", logger: logger) { resolver }),
            Self.component(listener),
        ]
        var group = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: group).run()
    }

    /// Returns once a reload happened after `generation` (polling; cancellable).
    private func waitForReload(after generation: Int) async throws {
        while reloads.withLock({ $0 }) == generation { try await Task.sleep(for: .milliseconds(200)) }
    }

    /// A component of the group: its end (success or failure) shuts the whole group down
    /// gracefully; failures are the supervisor's to absorb first.
    static func component(
        _ service: any Service, name: String? = nil
    ) -> ServiceGroupConfiguration.ServiceConfiguration {
        .init(
            service: service, successTerminationBehavior: .gracefullyShutdownGroup,
            failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name ?? "\(service)")
    }

    // MARK: Building

    private func makeEngine(
        _ followed: Followed, registry: ExchangeRegistry, store: any CopyStateStore, http: HTTPClient,
        breaker: CircuitBreaker
    ) async throws -> CopyEngine {
        let configuration = followed.configuration
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
            portfolio: Portfolio(ledger: ledger, bookedThrough: restored.throughFill), breaker: breaker,
            killSwitch: FileKillSwitch(path: configuration.copy.risk.killSwitchFile), clock: clock,
            logger: logger)
    }

    // MARK: Running

    /// The listener and the copy pipeline until a graceful shutdown or a reload after `generation`:
    /// stops reading, finishes the trades already started and acknowledges them; trades read but
    /// not started stay unacknowledged and come again. Returns whether it stopped for a reload.
    private func listen(
        source: EventSource, feed: TradeFeed, engine: CopyEngine, blocks: BlockClock,
        metrics: MetricsPublisher, names wallets: [CopyBotConfiguration.FollowedWallet], generation: Int
    ) async throws -> Bool {
        let names = Dictionary(
            wallets.map { ($0.address, $0.name ?? "") }, uniquingKeysWith: { first, _ in first })
        let pipeline = CopyPipeline(maxConcurrency: configuration.copy.executors)
        let logger = self.logger
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await source.run() }
                    group.addTask { try await self.waitForReload(after: generation) }
                    group.addTask {
                        try await pipeline.run(
                            TradeFeedSequence(feed: feed),
                            lane: { $0.trade.tokenId },
                            handle: { event -> CopyDecision? in
                                guard !Task.isCancelled else { return nil }
                                self.report(event, name: names[event.trade.wallet] ?? "")
                                // Not cancelled with the service: a started trade is finished.
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
                                // A store failure is not a decision: leave the trade unacknowledged
                                // so it is delivered again (after a restart at the latest).
                                guard let decision else { return }
                                if case .failed(.store) = decision { return }
                                do {
                                    try await Task { try await feed.acknowledge(event) }.value
                                } catch {
                                    logger.error(
                                        "could not acknowledge trade \(event.identity.hash.hex): \(error)")
                                }
                            })
                    }
                    // The pipeline ends when the source does; the source ends only when cancelled.
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            // Graceful shutdown: in-flight trades are finished and acknowledged.
        }
        return reloads.withLock { $0 } != generation
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

    private func logStopped(source: EventSource, engine: CopyEngine, reason: String) {
        let status = source.status
        let stats = engine.statistics
        logger.info(
            reason == "reload" ? "listener stopped for a reload" : "copybot stopped",
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
