import Chain
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import Store

/// `copybot replay`: history through the same listener and decoder the service uses.
public struct Replay: Sendable {
    /// How the trades are printed.
    public enum Format: String, Sendable, CaseIterable {
        /// One readable line per trade, and a progress line on a terminal.
        case text
        /// One JSON object per line (the DESIGN.md contract).
        case jsonl
    }

    /// What to replay.
    public struct Options: Sendable {
        public var fromBlock: UInt64
        /// Nil: up to the node's head when the replay starts.
        public var toBlock: UInt64?
        /// The makers to follow; empty means every fill.
        public var wallets: [Address]
        public var format: Format
        /// `eth_getLogs` range to start with.
        public var initialRange: UInt64 = 2_000
        /// Copy every trade on paper with these settings (nil: only list the trades).
        public var simulation: Simulation?

        /// Creates options.
        public init(fromBlock: UInt64, toBlock: UInt64?, wallets: [Address], format: Format) {
            self.fromBlock = fromBlock
            self.toBlock = toBlock
            self.wallets = wallets
            self.format = format
        }
    }

    /// How a replay copies on paper: the engine settings of the configuration and the money it
    /// starts with. History has no order books, so every paper fill is priced at the target's own
    /// price (flagged `priced_from_target`) with the configured market fallback rules.
    public struct Simulation: Sendable {
        public var engine: EngineConfiguration
        public var startingCash: Fixed6

        /// Creates settings; the mode is forced to paper.
        public init(engine: EngineConfiguration, startingCash: Fixed6) {
            var engine = engine
            engine.mode = .paper
            self.engine = engine
            self.startingCash = startingCash
        }
    }

    /// What the paper copy of a replay did.
    public struct SimulationSummary: Hashable, Sendable {
        public var statistics = EngineStatistics()
        /// The ledger at the end, marked at the last price seen of each token.
        public var ledger: Ledger
        public var startingCash: Fixed6

        /// Equity minus the starting cash: realised plus marked PnL.
        public var pnl: Fixed6 { ledger.equity - startingCash }
    }

    /// What a replay saw.
    public struct Summary: Hashable, Sendable {
        /// The paper copy, when simulated.
        public var simulation: SimulationSummary?
        public var fromBlock: UInt64 = 0
        public var toBlock: UInt64 = 0
        public var trades = 0
        public var buys = 0
        public var sells = 0
        /// Collateral that changed hands in the followed wallets' fills, in base units.
        public var volumeUnits = UInt256.zero
        public var byWallet: [Address: Int] = [:]
        public var rejected: [String: Int] = [:]
        public var seconds = 0.0
    }

    /// Progress, for the terminal line.
    public struct Progress: Sendable {
        public var fromBlock: UInt64
        public var toBlock: UInt64
        public var checkpoint: UInt64
        public var trades: Int
        public var logsPerSecond: Double
        public var elapsed: Double

        /// Fraction of blocks done, 0...1.
        public var fraction: Double {
            guard toBlock >= fromBlock else { return 1 }
            let total = Double(toBlock - fromBlock + 1)
            let done = checkpoint >= fromBlock ? Double(checkpoint - fromBlock + 1) : 0
            return min(1, done / total)
        }

        /// `blocks 1,234/5,000 (24%) · 12,345 logs/s · 17 trades · ETA 1m02s`
        public var line: String {
            let done = checkpoint >= fromBlock ? checkpoint - fromBlock + 1 : 0
            let total = toBlock >= fromBlock ? toBlock - fromBlock + 1 : 0
            let eta = fraction > 0 && fraction < 1 ? elapsed / fraction * (1 - fraction) : 0
            return
                "blocks \(done)/\(total) (\(Int(fraction * 100))%) · \(Int(logsPerSecond)) logs/s · \(trades) trades · ETA \(Self.duration(eta))"
        }

        static func duration(_ seconds: Double) -> String {
            let s = Int(seconds.rounded())
            return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
        }
    }

    let registry: ExchangeRegistry
    let rpc: any ChainRPC
    let logger: Logger

    /// Creates a replay over a node.
    public init(registry: ExchangeRegistry, rpc: any ChainRPC, logger: Logger) {
        self.registry = registry
        self.rpc = rpc
        self.logger = logger
    }

    /// Replays `options`, calling `output` with each trade line and `progress` about twice a second.
    /// Its checkpoint lives in a store in memory: a replay never touches the service's state.
    public func run(
        _ options: Options, output: @Sendable (String) -> Void,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> Summary {
        let head = try await headNumber()
        let to = min(options.toBlock ?? head, head)
        guard options.fromBlock <= to else {
            throw ReplayError("--from-block \(options.fromBlock) is after --to-block/head \(to)")
        }
        let store = InMemoryChainStateStore()
        var configuration = EventSourceConfiguration(
            stream: "replay",
            filter: registry.fillFilter(wallets: options.wallets, blocks: options.fromBlock...to))
        configuration.start = .block(options.fromBlock)
        configuration.stopAfter = to
        configuration.initialRange = options.initialRange
        let source = EventSource(rpc: rpc, store: store, configuration: configuration, logger: logger)
        let feed = TradeFeed(source: source, registry: registry, logger: logger)
        let started = ContinuousClock.now
        let simulator = options.simulation.map { Self.simulator($0, logger: logger) }
        var summary = Summary()
        summary.fromBlock = options.fromBlock
        summary.toBlock = to
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await source.run() }
            if let progress {
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(500))
                        let status = source.status
                        let elapsed = Self.seconds(ContinuousClock.now - started)
                        progress(
                            Progress(
                                fromBlock: options.fromBlock, toBlock: to,
                                checkpoint: status.checkpoint?.number ?? 0, trades: status.logsDelivered,
                                logsPerSecond: elapsed > 0 ? Double(status.logsDelivered) / elapsed : 0,
                                elapsed: elapsed))
                    }
                }
            }
            var handled: [TradeFeedEvent] = []
            while let event = try await feed.next() {
                if event.kind == .trade {
                    let trade = event.trade
                    summary.trades += 1
                    if trade.side == .buy { summary.buys += 1 } else { summary.sells += 1 }
                    summary.volumeUnits =
                        summary.volumeUnits.addingReportingOverflow(trade.collateral.units).partialValue
                    summary.byWallet[trade.wallet, default: 0] += 1
                }
                var decision: CopyDecision?
                if let simulator {
                    decision = await simulator.handle(
                        CopyTrade(
                            identity: TradeIdentity(event.identity.hash),
                            kind: event.kind == .trade ? .trade : .retracted, trade: event.trade))
                }
                if event.kind == .trade {
                    output(Self.line(event.trade, decision: decision, format: options.format))
                }
                // Acknowledged in batches: a replay's store is scratch, one transaction per trade
                // would only cost time.
                handled.append(event)
                if handled.count >= 1_024 {
                    try await feed.acknowledge(handled)
                    handled.removeAll(keepingCapacity: true)
                }
            }
            try await feed.acknowledge(handled)
            group.cancelAll()
        }
        summary.rejected = feed.statistics.rejected
        if let simulator, let simulation = options.simulation {
            summary.simulation = SimulationSummary(
                statistics: simulator.statistics, ledger: simulator.portfolio.ledger,
                startingCash: simulation.startingCash)
        }
        summary.seconds = Self.seconds(ContinuousClock.now - started)
        return summary
    }

    /// The node's head. A provider's transient failures (429, 5xx, timeouts) are retried with
    /// backoff for about a minute before the replay gives up.
    private func headNumber() async throws -> UInt64 {
        var delay = Duration.milliseconds(250)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while true {
            do {
                return try await rpc.headNumber()
            } catch let error as ChainRPCError {
                if case .malformed = error { throw error }
                guard clock.now + delay < deadline else { throw error }
                logger.warning("replay: eth_blockNumber failed (\(error)); retrying in \(delay)")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// A paper engine over an in-memory store, with no exchange (no books in history).
    static func simulator(_ simulation: Simulation, logger: Logger) -> CopyEngine {
        let clock = SystemWallClock()
        var quiet = logger
        quiet.logLevel = .warning
        return CopyEngine(
            configuration: simulation.engine, store: InMemoryCopyStateStore(), gateway: HistoryGateway(),
            signer: nil,
            portfolio: Portfolio(ledger: Ledger(cash: simulation.startingCash, day: clock.now().utcDay)),
            breaker: CircuitBreaker(clock: clock), killSwitch: FlagKillSwitch(), clock: clock, logger: quiet)
    }

    /// One output line for a trade (and its paper decision).
    static func line(_ trade: TradeEvent, decision: CopyDecision?, format: Format) -> String {
        switch format {
        case .jsonl:
            guard let decision else { return TradeJSON.object(trade) }
            var out = "{"
            TradeJSON.writeFields(trade, to: &out)
            out += ",\"decision\":\"\(decision.kind)\",\"reason\":\"\(decision.label)\",\"explanation\":"
            JSONString.write(decision.explanation, to: &out)
            out += "}"
            return out
        case .text:
            return text(trade) + (decision.map { " → " + $0.explanation } ?? "")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `#58036291 CTFExchangeV1 0x94BA…d1EB BUY 3.078050 @ 0.520000 = 1.600586 USDC token 1339…`
    static func text(_ trade: TradeEvent) -> String {
        let token = trade.tokenId.decimalString
        return
            "#\(trade.blockNumber) \(trade.exchange) \(trade.wallet) \(trade.side.rawValue) \(trade.shares) @ \(trade.price) = \(trade.collateral) USDC token \(token.prefix(12))\(token.count > 12 ? "…" : "") tx \(trade.transactionHash.hex.prefix(12))…"
    }
}

/// The exchange of a replay: history has no order books and no orders are sent, so every call
/// fails and the paper engine prices fills from the target's trade.
struct HistoryGateway: ExchangeGateway {
    func book(tokenID: UInt256) async throws -> MarketBook {
        throw GatewayError.transport("no books in history")
    }
    func marketParameters(tokenID: UInt256) async throws -> MarketParameters {
        throw GatewayError.transport("no market data in history")
    }
    func market(of tokenID: UInt256) async throws -> MarketID {
        throw GatewayError.transport("no market data in history")
    }
    func post(_ order: SignedOrder, orderType: OrderType) async throws -> ExchangeOrder {
        throw GatewayError.rejected("a replay sends no orders")
    }
    func lookup(_ order: SignedOrder) async throws -> ExchangeOrder? { nil }
    func balance() async throws -> Fixed6 { throw GatewayError.transport("no balance in history") }
}

/// A replay that cannot run as asked.
public struct ReplayError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
