import EVM

/// How a ``SimulatedChain`` looks and what it trades. Every field has a realistic default.
public struct SimulatedChainConfiguration: Hashable, Sendable {
    /// Seeds every random choice: the same seed and the same calls give the same chain.
    public var seed: UInt64 = 1
    /// `eth_chainId` (Polygon: 137).
    public var chainId: UInt64 = 137
    /// The number of the first block the devnet holds (its `earliest`).
    public var startBlock: UInt64 = 70_000_000
    /// Timestamp of the first block, seconds since the Unix epoch (2026-05-01T00:00:00Z).
    public var genesisTimestamp: UInt64 = 1_777_593_600
    /// Seconds between consecutive blocks (Polygon: about 2).
    public var blockTime: UInt64 = 2
    /// How far below the head the `finalized` (and `safe`) tag sits; also the deepest allowed reorg.
    public var finalityDepth: UInt64 = 128
    /// `OrderFilled` logs per mined block (maker and taker fills together), drawn uniformly.
    public var fillsPerBlock: ClosedRange<Int> = 2...12
    /// Maker orders matched by one transaction, drawn uniformly (lower bound at least 1).
    public var makerOrdersPerMatch: ClosedRange<Int> = 1...3
    /// Emit the taker order's own `OrderFilled` (its `taker` is the exchange), as real matches do.
    public var takerFills: Bool = true
    /// Emit an `OrdersMatched` log after the fills of each match, as real matches do.
    public var ordersMatched: Bool = true
    /// The wallets a copybot under test follows.
    public var followedWallets: [Address] = []
    /// Chance that the trader of a fill is one of `followedWallets` (when there are any).
    public var followedProbability: Double = 0.2
    /// Size of the pool of other traders.
    public var otherWallets: Int = 10_000
    /// Number of markets (each with two outcome tokens).
    public var markets: Int = 200
    /// Share of markets traded on the NegRisk exchange.
    public var negRiskShare: Double = 0.4
    /// Chance that a match fills a maker order that already filled earlier (a partial fill), so
    /// the same order hash appears in several transactions.
    public var partialFillProbability: Double = 0.1
    /// Chance that a transaction orphaned by a reorg is included again in the new branch.
    public var reincludeProbability: Double = 0.6
    /// The exchanges (names in the contracts configuration) fills are emitted by: the non-NegRisk
    /// one trades normal markets, the NegRisk one NegRisk markets. Their fill event must have the
    /// V2 fields (orderHash, maker, taker, side, tokenId, makerAmountFilled, takerAmountFilled, fee).
    public var exchangeNames: [String] = ["CTFExchangeV2", "NegRiskCTFExchangeV2"]
    /// Keep at most this many canonical blocks (older ones are forgotten, moving `earliest`);
    /// nil keeps everything. Never below `finalityDepth + 1`.
    public var historyLimit: Int? = nil

    /// The defaults.
    public init() {}

    /// The defaults with a seed and followed wallets.
    public init(seed: UInt64, followedWallets: [Address] = []) {
        self.seed = seed
        self.followedWallets = followedWallets
    }
}

/// Why a ``SimulatedChain`` cannot be built from the configuration and registry.
public struct DevnetSetupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the exchange or field.
    public var message: String

    /// An error with its explanation.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
