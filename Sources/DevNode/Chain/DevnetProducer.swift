/// Drives a ``SimulatedChain`` in real time: mines a block every `blockInterval` and reorganizes
/// as the fault switches `reorgEvery` / `reorgDepth` say, holding orphaned transactions back to
/// mine them again later as `remineOrphanedTransactions` / `remineDelay` say.
public struct DevnetProducer: Sendable {
    /// The chain mined.
    public let chain: SimulatedChain
    /// Read before every block for `reorgEvery`, `reorgDepth`, `remineOrphanedTransactions` and
    /// `remineDelay`.
    public let faults: DevnetFaultControl
    /// Wall-clock time between blocks (Polygon: 2 s; tests use milliseconds).
    public let blockInterval: Duration
    /// Stop after this many blocks (nil: until cancelled).
    public let maximumBlocks: Int?
    private let seed: UInt64

    /// A producer; `seed` drives the reorg depths.
    public init(
        chain: SimulatedChain, faults: DevnetFaultControl = DevnetFaultControl(),
        blockInterval: Duration = .seconds(2),
        maximumBlocks: Int? = nil, seed: UInt64 = 0xB10C
    ) {
        self.chain = chain
        self.faults = faults
        self.blockInterval = blockInterval
        self.maximumBlocks = maximumBlocks
        self.seed = seed
    }

    /// Mines until cancelled (then returns normally) or until `maximumBlocks` blocks are mined.
    /// Ticks are scheduled on a fixed cadence, so a slow observer does not stretch the interval.
    public func run() async throws {
        var rng = DevnetRandom(seed: seed)
        let clock = ContinuousClock()
        var deadline = clock.now
        var mined = 0
        while maximumBlocks.map({ mined < $0 }) ?? true {
            deadline = deadline.advanced(by: blockInterval)
            do { try await Task.sleep(until: deadline, clock: clock) } catch { return }
            if Task.isCancelled { return }
            chain.mine(count: 1)
            mined += 1
            let faults = self.faults.faults
            if let every = faults.reorgEvery, every > 0, mined % every == 0 {
                let maximum = min(
                    Int(chain.configuration.finalityDepth),
                    Int(chain.blockNumber - chain.earliestBlockNumber))
                let lower = max(1, faults.reorgDepth.lowerBound)
                let upper = min(faults.reorgDepth.upperBound, maximum)
                if lower <= upper {
                    let remining = ReorgRemining(
                        probability: faults.remineOrphanedTransactions, delay: faults.remineDelay)
                    _ = try? chain.reorg(depth: rng.int(in: lower...upper), remining: remining)
                }
            }
            if clock.now > deadline.advanced(by: blockInterval * 4) { deadline = clock.now }
        }
    }
}
