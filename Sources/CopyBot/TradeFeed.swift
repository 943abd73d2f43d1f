import Chain
import EVM
import Logging
import Polymarket
import Synchronization

/// What the copy pipeline receives: a trade of a followed wallet, or the retraction of one that
/// a reorg dropped.
public struct TradeFeedEvent: Hashable, Sendable {
    /// Whether the trade happened or was undone by a reorg.
    public enum Kind: Hashable, Sendable {
        case trade
        case retracted
    }

    public var kind: Kind
    public var trade: TradeEvent
    /// The identity of the fill, stable across a re-inclusion in another block.
    public var identity: LogIdentity
    /// The listener's event, to acknowledge.
    let chainEvent: ChainEvent
}

/// Counters of the decoding stage.
public struct TradeFeedStatistics: Hashable, Sendable {
    public var trades = 0
    public var retractions = 0
    /// Logs of configured exchanges that are not fills (never expected with the fill filter).
    public var otherEvents = 0
    /// Logs that could not be decoded, by reason.
    public var rejected: [String: Int] = [:]

    /// Creates zeroed counters.
    public init() {}
}

/// Decodes the ``EventSource``'s logs into ``TradeEvent``s with the exchange registry.
///
/// Undecodable logs are counted by reason, logged, and acknowledged, so bad data never stalls
/// the stream. Events are acknowledged to the source only when the consumer says it is done
/// with them (``acknowledge(_:)``), which is what makes delivery exactly-once across crashes.
public final class TradeFeed: Sendable {
    private let source: EventSource
    private let registry: ExchangeRegistry
    private let logger: Logger
    private let statisticsBox = Mutex(TradeFeedStatistics())

    /// Creates a feed over `source`.
    public init(source: EventSource, registry: ExchangeRegistry, logger: Logger) {
        self.source = source
        self.registry = registry
        self.logger = logger
    }

    /// What the feed decoded and rejected so far.
    public var statistics: TradeFeedStatistics { statisticsBox.withLock { $0 } }

    /// The next trade event, or nil when the source finished.
    public func next() async throws -> TradeFeedEvent? {
        while let event = try await source.events.next() {
            let log = event.log
            do {
                guard let trade = try registry.trade(log) else {
                    statisticsBox.withLock { $0.otherEvents += 1 }
                    try await source.acknowledge([event])
                    continue
                }
                switch event {
                case .log(_, let identity):
                    statisticsBox.withLock { $0.trades += 1 }
                    return TradeFeedEvent(kind: .trade, trade: trade, identity: identity, chainEvent: event)
                case .retracted(_, let identity):
                    statisticsBox.withLock { $0.retractions += 1 }
                    return TradeFeedEvent(
                        kind: .retracted, trade: trade, identity: identity, chainEvent: event)
                }
            } catch {
                let reason = Self.reason(error)
                statisticsBox.withLock { $0.rejected[reason, default: 0] += 1 }
                logger.warning(
                    "undecodable log \(log.transactionHash.hex):\(log.logIndex) from \(log.address): \(error)"
                )
                try await source.acknowledge([event])
            }
        }
        return nil
    }

    /// Marks a trade event handled: it will not be delivered again, even after a crash.
    public func acknowledge(_ event: TradeFeedEvent) async throws {
        try await source.acknowledge([event.chainEvent])
    }

    /// Marks several trade events handled, in one store transaction.
    public func acknowledge(_ events: [TradeFeedEvent]) async throws {
        guard !events.isEmpty else { return }
        try await source.acknowledge(events.map(\.chainEvent))
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case TradeDecodingError.unknownContract: "unknown_contract"
        case TradeDecodingError.unknownEvent: "unknown_event"
        case TradeDecodingError.noTopics, TradeDecodingError.topicCount: "topics"
        case TradeDecodingError.dataTooShort: "data_too_short"
        case TradeDecodingError.invalidField: "invalid_field"
        default: "other"
        }
    }
}

extension ExchangeRegistry {
    /// The one log filter for every exchange, its fill topic0 and the followed wallets (topic2,
    /// the maker). No wallets means every fill (replaying a whole market, say).
    public func fillFilter(wallets: [Address], blocks: ClosedRange<UInt64>? = nil) -> LogFilter {
        let relevant = contracts.filter { contract in
            guard let blocks else { return true }
            if let first = contract.firstBlock, first > blocks.upperBound { return false }
            if let last = contract.lastBlock, last < blocks.lowerBound { return false }
            return true
        }
        return LogFilter(
            addresses: relevant.map(\.address),
            topics: [fillTopics, nil, wallets.isEmpty ? nil : wallets.map(\.word)])
    }
}
