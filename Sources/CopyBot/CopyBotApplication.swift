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
    /// Whether this process is the cluster's active listener.
    private let activeListener = Mutex(false)
    /// The cluster executor of this process, if it runs one.
    private let executor = Mutex<ClusterExecutor?>(nil)

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
                    updated.configuration.accounts = fresh.accounts
                    updated.configuration.contracts = fresh.contracts
                    updated.registry = registry
                    current = updated
                }
                return before
            }
            guard let before else { return }
            let old = Set(before.configuration.allFollowedWallets)
            let new = Set(fresh.allFollowedWallets)
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
                "wallets": "\(configuration.allFollowedWallets.count)",
                "accounts": "\(configuration.effectiveAccounts.map(\.name.name).joined(separator: ","))",
                "exchanges": "\(registry.contracts.map(\.name).joined(separator: ","))",
            ])
        // The CLOB's connections on one loop, where the copies' work runs too (see
        // `EventLoopTaskExecutor`).
        let clobLoop = HTTPClient.defaultEventLoopGroup.next()
        let clobHTTP = ClobHTTPClient.makeHTTPClient(eventLoopGroup: clobLoop)
        let clob = ClobTransport(http: clobHTTP, executor: EventLoopTaskExecutor(clobLoop))
        let nodeHTTP = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: Result<Void, any Error>
        do {
            try await runServices(
                store: opened.store, upkeep: opened.upkeep, cluster: opened.cluster, clob: clob,
                nodeHTTP: nodeHTTP)
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
        var engines: [AccountEngine]

        /// The engines' counters, summed over the accounts.
        var statistics: EngineStatistics {
            engines.compactMap(\.engine).map(\.statistics).reduce(EngineStatistics(), +)
        }
    }

    /// One account's engine and the wallets it copies.
    struct AccountEngine: Sendable {
        var account: AccountID
        /// Nil for a cluster listener, which queues trades for the executors' engines.
        var engine: CopyEngine?
        var wallets: Set<Address>
        /// The followed wallets' labels.
        var names: [Address: String]
    }

    /// The cluster side of a PostgreSQL store: the queue between listener and executors, the
    /// membership and leases, the listener election.
    struct Cluster: Sendable {
        var queue: any CopyWorkQueue
        var coordinator: any ClusterCoordinator
        var election: any LeaderElection
    }

    /// The CLOB's HTTP client, and the executor on its connections' loop that copies run on.
    struct ClobTransport: Sendable {
        var http: HTTPClient
        var executor: EventLoopTaskExecutor
    }

    private func runServices(
        store: any CopyBotStore, upkeep: (any Service)?, cluster: Cluster?, clob transport: ClobTransport,
        nodeHTTP: HTTPClient
    ) async throws {
        let clobHTTP = transport.http
        let role = configuration.cluster.role
        let member = configuration.cluster.memberName
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
        // The store's upkeep stops after everything that writes to it.
        if let upkeep {
            services.append(Self.component(SupervisedService("store", logger: logger) { upkeep }))
        }
        if role != .listener {
            // One warm connection to the CLOB for the engines' books and orders (they share the pool).
            let clob = ClobHTTPClient(
                configuration: Self.clobClientConfiguration(configuration), http: clobHTTP,
                signer: PrivateKey.generate(), credentials: nil, rateLimiter: UnlimitedRate(),
                logger: logger)
            services.append(
                Self.component(
                    SupervisedService("clob-keep-warm", logger: logger) {
                        ClobKeepWarm(client: clob, clock: SystemWallClock(), logger: self.logger) {
                            metrics.recordClobPing(roundTrip: $0, clockSkewSeconds: $1)
                        }
                    }))
        }
        let listener = SupervisedService("listener", logger: logger) {
            ClosureService {
                // One pass per configuration: a reload finishes the trades in hand and starts a
                // fresh source, feed and engine; a failure is the supervisor's to restart. The
                // checkpoint, the unacknowledged trades and the ledger are in the store, so every
                // pass resumes exactly where the last one stopped.
                // In a cluster, a pass starts once this process is the elected listener, and
                // queues each trade for the executors instead of deciding it.
                var leadership: (any Leadership)? = nil
                defer {
                    if let leadership {
                        self.activeListener.withLock { $0 = false }
                        Task { await leadership.resign() }
                    }
                }
                while true {
                    if let cluster, leadership == nil {
                        guard let elected = try await self.awaitLeadership(cluster.election, member: member)
                        else { return }
                        leadership = elected
                        self.activeListener.withLock { $0 = true }
                    }
                    let generation = self.reloads.withLock { $0 }
                    guard let current = self.followed.withLock({ $0 }) else { return }
                    let wallets = current.configuration.allFollowedWallets
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
                    var engines: [AccountEngine] = []
                    for account in current.configuration.effectiveAccounts {
                        let followed = account.configuration.follow.wallets
                        engines.append(
                            AccountEngine(
                                account: account.name,
                                engine: cluster != nil
                                    ? nil
                                    : try await self.makeEngine(
                                        account.configuration, account: account.name,
                                        registry: current.registry,
                                        store: store, clob: transport, breaker: breaker),
                                wallets: Set(followed.map(\.address)),
                                names: Dictionary(
                                    followed.map { ($0.address, $0.name ?? "") },
                                    uniquingKeysWith: { a, _ in a })))
                    }
                    var sourceConfiguration = current.configuration.eventSourceConfiguration(
                        stream: "polygon", filter: current.registry.fillFilter(wallets: wallets))
                    sourceConfiguration.rewindTo = self.pendingRewind.withLock { rewind in
                        defer { rewind = nil }
                        return rewind.map { $0 == 0 ? 0 : $0 - 1 }
                    }
                    let registry = current.registry
                    let anticipating = engines
                    let source = EventSource(
                        rpc: node, store: store, configuration: sourceConfiguration, logger: self.logger,
                        announce: { log in
                            // Each following account's engine starts reading the book now.
                            guard let trade = try? registry.trade(log) else { return }
                            for account in anticipating where account.wallets.contains(trade.wallet) {
                                account.engine?.anticipate(trade)
                            }
                        })
                    let feed = TradeFeed(source: source, registry: current.registry, logger: self.logger)
                    let running = Running(source: source, feed: feed, engines: engines)
                    self.running.withLock { $0 = running }
                    let reloaded: Bool
                    if let cluster, let leadership {
                        reloaded = try await self.listen(
                            source: source, feed: feed, queueingFor: engines, queue: cluster.queue,
                            leadership: leadership, blocks: blocks, generation: generation)
                    } else {
                        reloaded = try await self.listen(
                            source: source, feed: feed, engines: engines, blocks: blocks, metrics: metrics,
                            executor: transport.executor, generation: generation)
                    }
                    self.logStopped(running, reason: reloaded ? "reload" : "shutdown")
                    if !reloaded { return }
                }
            }
        }
        let refresher = ClosureService {
            // The state /ready and /metrics serve, from the components' own counters.
            try? await cancelWhenGracefulShutdown {
                while true {
                    let engines = self.executor.withLock { $0?.engines.map(\.1) ?? [] }
                    let executorStatistics = engines.map(\.statistics).reduce(EngineStatistics(), +)
                    if let r = self.running.withLock({ $0 }) {
                        state.refresh(
                            source: r.source.status, feed: r.feed.statistics,
                            engine: r.statistics + executorStatistics, breaker: breaker.snapshot)
                    } else if role == .executor {
                        state.refreshExecutor(engine: executorStatistics, breaker: breaker.snapshot)
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
                    let inProcess = self.running.withLock { $0?.engines ?? [] }.compactMap { a in
                        a.engine.map { (a.account, $0) }
                    }
                    let held = self.executor.withLock { $0?.engines ?? [] }
                    for account in inProcess + held {
                        let resolved = await account.1.resolveUnresolvedIntents()
                        if !resolved.isEmpty {
                            self.logger.notice(
                                "resolved \(resolved.count) order intents by look-up",
                                metadata: ["account": "\(account.0)"])
                        }
                    }
                    try await Task.sleep(
                        for: .seconds(max(1, self.configuration.copy.orderLease.components.seconds / 2)))
                }
            }
        }
        let balances = ClosureService {
            // Live accounts' balances and allowances at the exchange, read for the engines' checks
            // before each order (no round trip then) and reconciled with the ledgers.
            try? await cancelWhenGracefulShutdown {
                while true {
                    let inProcess = self.running.withLock { $0?.engines ?? [] }.compactMap { a in
                        a.engine.map { (a.account, $0) }
                    }
                    let held = self.executor.withLock { $0?.engines ?? [] }
                    for (account, engine) in inProcess + held {
                        guard let gateway = engine.exchange as? ClobGateway, let funds = gateway.funds else {
                            continue
                        }
                        let signatureType =
                            self.configuration.effectiveAccounts.first { $0.name == account }?.configuration
                            .clob
                            .signatureType ?? self.configuration.clob.signatureType
                        await Self.readFunds(
                            gateway, account: account, signatureType: signatureType,
                            ledger: engine.portfolio.ledger, logger: self.logger)
                        if let report = FundsReport(funds) {
                            state.update { $0.funds[account.name] = report }
                        }
                    }
                    try await Task.sleep(for: self.configuration.clob.balanceRefresh)
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
            Self.component(balances, name: "balances"),
            Self.component(SupervisedService("resolver", logger: logger) { resolver }),
        ]
        if role != .executor { services.append(Self.component(listener)) }
        if let cluster {
            let accounts = configuration.effectiveAccounts
            if role != .listener {
                services.append(
                    Self.component(
                        SupervisedService("executor", logger: logger) {
                            let executor = ClusterExecutor(
                                name: member,
                                configured: {
                                    (
                                        self.followed.withLock { $0?.configuration.effectiveAccounts }
                                            ?? accounts,
                                        self.reloads.withLock { $0 }
                                    )
                                }, queue: cluster.queue,
                                coordinator: cluster.coordinator, lease: self.configuration.cluster.lease,
                                concurrency: self.configuration.copy.executors, logger: self.logger,
                                fencedWrite: { metrics.recordFencedWrite(role: "executor") }
                            ) { account, accountStore in
                                let registry = try ExchangeRegistry.load(
                                    contractsFile: self.configuration.contracts.file,
                                    abiDirectory: self.configuration.contracts.abiDirectory)
                                return try await self.makeEngine(
                                    account.configuration, account: account.name, registry: registry,
                                    store: accountStore,
                                    clob: transport, breaker: breaker)
                            }
                            self.executor.withLock { $0 = executor }
                            return ClosureService {
                                try await cancelWhenGracefulShutdown { try await executor.run() }
                            }
                        }))
            }
            // Membership after the executor: services stop in reverse order, so a stopping
            // executor leaves the membership first (the others' shares grow at once), then
            // finishes its trades in hand and releases its accounts for them to take.
            services.append(
                Self.component(
                    ClosureService {
                        // This process in the cluster's membership, for status and the executors' shares.
                        let started = SystemWallClock().now()
                        try? await cancelWhenGracefulShutdown {
                            while true {
                                do {
                                    try await cluster.coordinator.heartbeat(
                                        ClusterMember(
                                            role: role.rawValue, name: member,
                                            activeListener: self.activeListener.withLock { $0 },
                                            seenAt: SystemWallClock().now(), startedAt: started))
                                    for gone in try await cluster.coordinator.pruneMembers(
                                        goneFor: self.configuration.cluster.pruneAfter)
                                    {
                                        self.logger.notice(
                                            "forgot cluster member \(gone): not seen for cluster.prune_after_seconds"
                                        )
                                    }
                                } catch {
                                    if Task.isCancelled { throw CancellationError() }
                                    self.logger.error("cluster heartbeat failed: \(error)")
                                }
                                try await Task.sleep(for: self.configuration.cluster.lease / 3)
                            }
                        }
                        // In a task of its own: this one is cancelled (a shutdown), and a query in a
                        // cancelled task fails before it is sent.
                        _ = try? await Task { try await cluster.coordinator.leave(member) }.value
                    }, name: "membership"))
        }
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

    /// The CLOB client's settings from `configuration`'s `clob` section (the engines' clients and
    /// the keep-warm's).
    static func clobClientConfiguration(_ configuration: CopyBotConfiguration) -> ClobHTTPClient.Configuration
    {
        .init(
            baseURL: configuration.clob.url, chainId: configuration.clob.chainId,
            requestTimeout: configuration.clob.timeout)
    }

    /// The engine of one account, from that account's configuration (its keys, CLOB identity,
    /// sizing and limits), its ledger restored from the store.
    private func makeEngine(
        _ configuration: CopyBotConfiguration, account: AccountID, registry: ExchangeRegistry,
        store: any CopyStateStore, clob transport: ClobTransport, breaker: CircuitBreaker
    ) async throws -> CopyEngine {
        let live = configuration.copy.mode == .live
        let credentials = configuration.credentials
        if live {
            guard credentials.privateKey != nil, credentials.api != nil else {
                throw ApplicationError(
                    "account \(account): copy.mode is live but the signing key or the CLOB API credentials are missing; see `copybot config check`"
                )
            }
        }
        // Paper mode reads only public market data; a throwaway key fills the client's signer slot.
        let key = credentials.privateKey ?? PrivateKey.generate()
        let rate = configuration.clob.requestsPerSecond
        let clob = ClobHTTPClient(
            configuration: Self.clobClientConfiguration(configuration), http: transport.http, signer: key,
            credentials: credentials.api,
            rateLimiter: TokenBucket(ratePerSecond: rate, burst: max(1, Int(rate.rounded(.up)))),
            logger: logger)
        var signer: (any OrderSigning)?
        var funds: ExchangeFunds?
        if live {
            let contracts = try ExchangeContracts(
                registry: registry, exchange: configuration.clob.exchange,
                negRiskExchange: configuration.clob.negRiskExchange,
                domainVersion: configuration.clob.domainVersion)
            funds = ExchangeFunds(exchange: contracts.exchange, negRiskExchange: contracts.negRiskExchange)
            signer = BuilderOrderSigner(
                builder: OrderBuilder(
                    signer: key, signatureType: configuration.clob.signatureType,
                    funder: configuration.clob.funder
                ), contracts: contracts)
        }
        let gateway = ClobGateway(
            client: clob, metadata: MarketMetadataCache(source: clob), taskExecutor: transport.executor,
            funds: funds)
        let clock = SystemWallClock()
        let engineConfiguration = configuration.engineConfiguration(account: account)
        let restored = try await CopyEngine.restoreLedger(
            store: store, account: engineConfiguration.account, initialCash: configuration.startingCash,
            day: clock.now().utcDay)
        let ledger = restored.ledger
        logger.info(
            "ledger restored",
            metadata: [
                "account": "\(account)", "mode": "\(configuration.copy.mode)", "cash": "\(ledger.cash)",
                "positions": "\(ledger.positions.count)",
                "fills": "\(restored.throughFill)",
            ])
        if live {
            // Balances and allowances before the first order; then every clob.balance_refresh_seconds.
            await Self.readFunds(
                gateway, account: account, signatureType: configuration.clob.signatureType, ledger: ledger,
                logger: logger)
        }
        return CopyEngine(
            configuration: engineConfiguration, store: store, gateway: gateway, signer: signer,
            portfolio: Portfolio(ledger: ledger, bookedThrough: restored.throughFill), breaker: breaker,
            killSwitch: FileKillSwitch(path: configuration.copy.risk.killSwitchFile), clock: clock,
            logger: logger)
    }

    /// Reads an account's balances and allowances at the exchange and compares them with its
    /// ledger: a difference is logged (and shown by status and /metrics), never corrected.
    /// Returns whether a read was made.
    @discardableResult
    static func readFunds(
        _ gateway: ClobGateway, account: AccountID, signatureType: SignatureType, ledger: Ledger,
        logger: Logger
    ) async -> Bool {
        guard let funds = gateway.funds else { return false }
        let before = funds.differences
        do {
            try await gateway.refreshFunds(signatureType: signatureType, tokens: ledger.positions.keys)
        } catch {
            logger.warning(
                "could not read the account's balances at the exchange: \(error)",
                metadata: ["account": "\(account)"])
            return false
        }
        let differences =
            funds.reconcile(cash: ledger.cash, positions: ledger.positions.mapValues(\.shares)) ?? []
        if differences != (before ?? []) {
            if differences.isEmpty {
                logger.notice(
                    "the ledger agrees with the exchange again", metadata: ["account": "\(account)"])
            } else {
                logger.warning(
                    "the ledger differs from the exchange (not corrected): \(differences.map(\.description).joined(separator: "; "))",
                    metadata: ["account": "\(account)"])
            }
        }
        return true
    }

    // MARK: Running

    /// The listener and the copy pipeline until a graceful shutdown or a reload after `generation`:
    /// stops reading, finishes the trades already started and acknowledges them; trades read but
    /// not started stay unacknowledged and come again. Returns whether it stopped for a reload.
    ///
    /// Each trade goes to every account that follows its wallet (concurrently across accounts) and
    /// is acknowledged once all of their decisions are stored.
    private func listen(
        source: EventSource, feed: TradeFeed, engines: [AccountEngine], blocks: BlockClock,
        metrics: MetricsPublisher, executor: EventLoopTaskExecutor, generation: Int
    ) async throws -> Bool {
        let pipeline = CopyPipeline(maxConcurrency: configuration.copy.executors)
        let logger = self.logger
        // At a graceful shutdown the trades in flight are finished and acknowledged.
        return try await pass(source: source, generation: generation) {
            try await pipeline.run(
                TradeFeedSequence(feed: feed),
                lane: { $0.trade.tokenId },
                overlapping: {
                    CopyEngine.mayOverlap(
                        running: Self.copyTrade($0, blockTime: nil), next: Self.copyTrade($1, blockTime: nil))
                },
                prepare: { event -> DecisionBeginning? in
                    // One account's first store step may run while the token's trade before it
                    // is decided.
                    let targets = Self.following(event, engines)
                    guard targets.count == 1, !Task.isCancelled else { return nil }
                    return await targets[0].engine!.begin(Self.copyTrade(event, blockTime: nil))
                },
                handle: { event, begun, turn -> [CopyDecision]? in
                    guard !Task.isCancelled else { return nil }
                    let targets = Self.following(event, engines)
                    self.report(
                        event, name: targets.lazy.compactMap { $0.names[event.trade.wallet] }.first ?? "")
                    // Not cancelled with the service: a started trade is finished. On the CLOB's
                    // loop (its child tasks too): its requests are written, and their answers
                    // taken, without hand-offs to other threads.
                    return await Task(executorPreference: executor) {
                        let started = ContinuousClock.now
                        defer { metrics.recordDecisionLatency(ContinuousClock.now - started) }
                        let blockTime = await blocks.time(
                            of: event.trade.blockNumber, head: source.status.head,
                            now: SystemWallClock().now())
                        // One account's order on its way lets the token's next trade start; with
                        // several accounts, each trade waits for all of them.
                        if targets.count == 1 {
                            return [
                                await Self.decide(
                                    event, engine: targets[0].engine!, blockTime: blockTime,
                                    logger: logger, turn: turn, begun: begun)
                            ]
                        }
                        return await withTaskGroup(of: CopyDecision.self) { group in
                            for target in targets {
                                group.addTask {
                                    await Self.decide(
                                        event, engine: target.engine!, blockTime: blockTime,
                                        logger: logger)
                                }
                            }
                            return await group.reduce(into: []) { $0.append($1) }
                        }
                    }.value
                },
                completed: { event, decisions in
                    // A store failure is not a decision: leave the trade unacknowledged
                    // so it is delivered again (after a restart at the latest).
                    guard let decisions else { return }
                    if decisions.contains(where: {
                        if case .failed(.store) = $0 { true } else { false }
                    }) {
                        return
                    }
                    do {
                        try await Task { try await feed.acknowledge(event) }.value
                    } catch {
                        logger.error(
                            "could not acknowledge trade \(event.identity.hash.hex): \(error)")
                    }
                })
        }
    }

    /// One listener pass: the source, a watch for a reload after `generation`, and `work` (the
    /// consumers) together, until a graceful shutdown, that reload, or a failure (thrown); returns
    /// whether it ended for a reload. The source ends only when cancelled.
    private func pass(
        source: EventSource, generation: Int, alongside others: [@Sendable () async throws -> Void] = [],
        _ work: @escaping @Sendable () async throws -> Void
    ) async throws -> Bool {
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await source.run() }
                    group.addTask { try await self.waitForReload(after: generation) }
                    group.addTask { try await work() }
                    for other in others { group.addTask { try await other() } }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {}
        return reloads.withLock { $0 } != generation
    }

    /// Waits until this process is the elected listener (polling every fifth of
    /// `cluster.failover_after`); nil when a graceful shutdown came first.
    private func awaitLeadership(
        _ election: any LeaderElection, member: String
    ) async throws -> (any Leadership)? {
        do {
            return try await cancelWhenGracefulShutdown {
                var waiting = false
                while true {
                    if let leadership = try await election.tryAcquire("listener:polygon") {
                        self.logger.notice(
                            waiting ? "taking over as the active listener" : "active listener",
                            metadata: ["member": "\(member)"])
                        return leadership
                    }
                    if !waiting {
                        self.logger.notice(
                            "standing by: another listener is active; taking over if it stops",
                            metadata: ["member": "\(member)"])
                        waiting = true
                    }
                    try await Task.sleep(for: self.configuration.cluster.failoverAfter / 5)
                }
            }
        } catch is CancellationError {
            return nil
        }
    }

    /// The cluster listener until a graceful shutdown or a reload after `generation`: each trade
    /// is queued for every account that follows its wallet, then acknowledged (queueing again
    /// after a crash is harmless: the queue and the decisions are keyed). Throws when the
    /// leadership is lost, so the supervisor starts over with an election.
    private func listen(
        source: EventSource, feed: TradeFeed, queueingFor accounts: [AccountEngine], queue: any CopyWorkQueue,
        leadership: any Leadership, blocks: BlockClock, generation: Int
    ) async throws -> Bool {
        let confirm: @Sendable () async throws -> Void = {
            while true {
                try await Task.sleep(for: .seconds(1))
                do { try await leadership.confirm() } catch {
                    self.activeListener.withLock { $0 = false }
                    throw ApplicationError("lost the listener leadership: \(error)")
                }
            }
        }
        return try await pass(source: source, generation: generation, alongside: [confirm]) {
            while let event = try await feed.next() {
                let wallet = event.trade.wallet
                let targets = accounts.filter { $0.wallets.contains(wallet) }
                self.report(event, name: targets.lazy.compactMap { $0.names[wallet] }.first ?? "")
                let blockTime = await blocks.time(
                    of: event.trade.blockNumber, head: source.status.head,
                    now: SystemWallClock().now())
                let trade = Self.copyTrade(event, blockTime: blockTime)
                try await queue.enqueue(
                    targets.map { CopyWorkItem(account: $0.account, trade: trade) },
                    at: SystemWallClock().now())
                try await feed.acknowledge(event)
            }
        }
    }

    /// The decision for `event`, retrying while the store fails (a full disk, a locked file):
    /// nothing is decided without being stored.
    static func decide(
        _ event: TradeFeedEvent, engine: CopyEngine, blockTime: UnixTime?, logger: Logger,
        turn: LaneTurn? = nil, begun: DecisionBeginning? = nil
    ) async -> CopyDecision {
        await decide(
            copyTrade(event, blockTime: blockTime), engine: engine, logger: logger, turn: turn, begun: begun)
    }

    /// The accounts (with an engine) that follow the wallet of `event`.
    static func following(_ event: TradeFeedEvent, _ engines: [AccountEngine]) -> [AccountEngine] {
        engines.filter { $0.wallets.contains(event.trade.wallet) && $0.engine != nil }
    }

    /// The engine's input for a feed event.
    static func copyTrade(_ event: TradeFeedEvent, blockTime: UnixTime?) -> CopyTrade {
        CopyTrade(
            identity: TradeIdentity(event.identity.hash),
            kind: event.kind == .trade ? .trade : .retracted, trade: event.trade,
            blockTime: blockTime)
    }

    /// The decision for `trade`, retrying while the store fails (see the other `decide`).
    static func decide(
        _ trade: CopyTrade, engine: CopyEngine, logger: Logger, turn: LaneTurn? = nil,
        begun: DecisionBeginning? = nil
    ) async -> CopyDecision {
        var delay = Duration.milliseconds(250)
        var begun = begun
        while true {
            // A retry takes the first store step again (the one taken ahead may be what failed).
            defer { begun = nil }
            let decision = await engine.handle(trade, turn: turn, begun: begun)
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

    private func logStopped(_ running: Running, reason: String) {
        let status = running.source.status
        let stats = running.statistics
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
