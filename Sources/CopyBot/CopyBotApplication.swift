import AsyncHTTPClient
import Chain
import EVM
import Foundation
import Logging
import Polymarket
import Store

/// The composition root of `copybot run`: builds every component from the configuration and
/// hands each its dependencies; no other place knows the concrete types.
///
/// What runs today: the listener (libwebsockets subscription + `eth_getLogs` resync from the
/// SQLite checkpoint, reorg handling) and the decoder; each trade of a followed wallet is logged
/// with its fields and acknowledged. The copy engine (sizing, risk, paper and live orders) plugs in
/// where trades are handled.
public final class CopyBotApplication: Sendable {
    private let configuration: CopyBotConfiguration
    private let logger: Logger

    /// Creates the application from a validated configuration.
    public init(configuration: CopyBotConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until cancelled (SIGTERM/SIGINT), then stops reading, flushes and returns.
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
        guard !wallets.isEmpty else {
            logger.warning("no wallets followed (follow.wallets is empty): copybot is up but copies nothing")
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var nodeConfiguration = NodeClient.Configuration(
            webSocketURLs: configuration.chain.wsURLs, httpURLs: configuration.chain.httpURLs)
        nodeConfiguration.requestTimeout = configuration.chain.requestTimeout
        nodeConfiguration.maxMessageBytes = configuration.chain.maxMessageBytes
        let node = NodeClient(configuration: nodeConfiguration, httpClient: http, logger: logger)
        let source = EventSource(
            rpc: node, store: store,
            configuration: configuration.eventSourceConfiguration(
                stream: "polygon", filter: registry.fillFilter(wallets: wallets)),
            logger: logger)
        let feed = TradeFeed(source: source, registry: registry, logger: logger)
        let names = Dictionary(
            configuration.follow.wallets.map { ($0.address, $0.name ?? "") },
            uniquingKeysWith: { first, _ in first })
        let result: Result<Void, any Error>
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await source.run() }
                group.addTask {
                    while let event = try await feed.next() {
                        self.report(event, name: names[event.trade.wallet] ?? "")
                        try await feed.acknowledge(event)
                    }
                }
                try await group.next()
                group.cancelAll()
            }
            result = .success(())
        } catch {
            result = error is CancellationError ? .success(()) : .failure(error)
        }
        try? await http.shutdown()
        let status = source.status
        logger.info(
            "copybot stopped",
            metadata: [
                "checkpoint": "\(status.checkpoint.map { String($0.number) } ?? "-")",
                "delivered": "\(status.logsDelivered)", "retractions": "\(status.retractions)",
            ])
        try result.get()
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
        case .trade:
            logger.info(
                "trade seen; not copied: the copy engine is not in this build yet", metadata: metadata)
        case .retracted:
            logger.warning("trade retracted by a reorg", metadata: metadata)
        }
    }
}

/// A reason the application cannot start.
public struct ApplicationError: Error, CustomStringConvertible {
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
