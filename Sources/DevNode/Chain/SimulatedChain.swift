import EVM
import Polymarket
import Synchronization

/// Identifies an observer registered with ``SimulatedChain/addObserver(_:)``.
public struct ChainObserverID: Hashable, Sendable {
    let rawValue: Int
}

/// What a reorg did.
public struct ReorgReport: Sendable {
    /// The blocks that left the canonical chain, oldest first.
    public var removedBlocks: [DevnetBlock]
    /// The new branch, oldest first.
    public var newBlocks: [DevnetBlock]
    /// Orphaned transactions included again in the new branch (same hash, same logs, new position).
    public var reincluded: [Bytes32]
    /// Orphaned transactions that are gone.
    public var dropped: [Bytes32]
    /// Orphaned transactions left out of the new branch, waiting to be mined again some blocks
    /// later (see ``ReorgRemining``); ``SimulatedChain/pendingTransactions`` until then.
    public var deferred: [Bytes32] = []
}

/// How a reorg holds orphaned transactions back to mine them again later, as a mempool does
/// (the ``DevnetFaults/remineOrphanedTransactions`` fault).
public struct ReorgRemining: Hashable, Sendable {
    /// Chance, per orphaned transaction, that it is left out of the new branch (before
    /// ``SimulatedChainConfiguration/reincludeProbability`` decides the others' fate).
    public var probability: Double
    /// How many blocks after the new branch's head it is mined again (lower bound at least 1).
    public var delay: ClosedRange<Int>

    /// Holds back each orphaned transaction with `probability`, for `delay` blocks.
    public init(probability: Double, delay: ClosedRange<Int> = 1...4) {
        self.probability = probability
        self.delay = delay
    }

    /// Nothing held back.
    public static let none = ReorgRemining(probability: 0)
}

/// A transaction orphaned by a reorg and mined again in a later block (see ``ReorgRemining``).
public struct DevnetReminedTransaction: Hashable, Sendable {
    /// The transaction hash (the same in both blocks).
    public var transactionHash: Bytes32
    /// The block it was orphaned from.
    public var orphanedBlockNumber: UInt64
    /// That block's hash.
    public var orphanedBlockHash: Bytes32
    /// The block it was mined again in.
    public var reminedBlockNumber: UInt64
    /// That block's hash.
    public var reminedBlockHash: Bytes32
}

/// Why a reorg was refused.
public enum ReorgError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `depth` must be between 1 and `maximum` (the finality depth, and the blocks above `earliest`).
    case invalidDepth(Int, maximum: Int)

    public var description: String {
        switch self {
        case .invalidDepth(let depth, let maximum): "cannot reorg \(depth) blocks (allowed: 1...\(maximum))"
        }
    }
}

/// A simulated Polygon chain that produces Polymarket V2 fills, reorganizes on demand and answers
/// the queries a JSON-RPC node answers. Deterministic for a given seed and sequence of calls.
///
/// Thread-safe and synchronous, so a transport's service thread can call it directly. Queries
/// take a short lock. `mine` and `reorg` are serialized and call the observers (in registration
/// order, on the calling thread) after the new state is visible to queries, so an observer sees
/// updates strictly in chain order. Observers must not call `mine` or `reorg`.
public final class SimulatedChain: Sendable {
    /// The configuration the chain was built with.
    public let configuration: SimulatedChainConfiguration
    /// `eth_chainId`.
    public var chainId: UInt64 { configuration.chainId }

    /// Serializes mutations together with the delivery of their updates.
    private let writer = Mutex<Void>(())
    private let state: Mutex<State>

    /// Builds the chain with one (empty) block, `configuration.startBlock`.
    ///
    /// - Parameter registry: the exchange registry; fills are emitted with the real ABIs of the
    ///   exchanges named in `configuration.exchangeNames`.
    public init(
        registry: ExchangeRegistry, configuration: SimulatedChainConfiguration = .init()
    )
        throws(DevnetSetupError)
    {
        var rng = DevnetRandom(seed: configuration.seed)
        let generator = try FillGenerator(registry: registry, configuration: configuration, rng: &rng)
        self.configuration = configuration
        var state = State(configuration: configuration, generator: generator, rng: rng)
        let genesis = state.makeBlock(
            number: configuration.startBlock, parentHash: state.rng.bytes32(),
            timestamp: configuration.genesisTimestamp, transactions: [])
        state.append(genesis)
        self.state = Mutex(state)
    }

    /// An outcome token the devnet trades, for a CLOB stand-in that serves its markets.
    public struct TradedToken: Hashable, Sendable {
        public var tokenId: UInt256
        /// Whether its market trades on the NegRisk exchange.
        public var negRisk: Bool
        /// The price tick in millionths (10_000 = 0.01).
        public var tickMicros: UInt64
    }

    /// Every token the devnet's fills can trade (both outcomes of each market).
    public var tradedTokens: [TradedToken] {
        state.withLock { state in
            state.generator.markets.flatMap { market in
                [market.tokens.0, market.tokens.1].map {
                    TradedToken(tokenId: $0, negRisk: market.negRisk, tickMicros: market.tickMicros)
                }
            }
        }
    }

    // MARK: - Producing blocks

    /// Mines `count` blocks on top of the head, each with `configuration.fillsPerBlock` fills,
    /// and tells the observers. Returns the new blocks.
    @discardableResult
    public func mine(count: Int = 1) -> [DevnetBlock] {
        guard count > 0 else { return [] }
        return writer.withLock { _ in
            let (update, observers) = state.withLock { s in
                var blocks: [DevnetBlock] = []
                for _ in 0..<count {
                    let head = s.head
                    let fills = s.rng.int(in: s.configuration.fillsPerBlock)
                    let fresh = s.generator.transactions(fillCount: fills, rng: &s.rng)
                    let block = s.makeBlock(
                        number: head.number + 1, parentHash: head.hash,
                        timestamp: head.timestamp + s.configuration.blockTime,
                        transactions: fresh + s.takeDue(at: head.number + 1))
                    s.append(block)
                    s.recordRemined(in: block)
                    blocks.append(block)
                }
                return (ChainUpdate(removedLogs: [], removedBlocks: [], newBlocks: blocks), s.observerList)
            }
            for observer in observers { observer(update) }
            return update.newBlocks
        }
    }

    /// Replaces the last `depth` blocks with a new branch of `newLength` blocks (default: `depth`
    /// or `depth + 1`, at random), as a reorg on a real node does.
    ///
    /// Each orphaned transaction is first, with `remining.probability`, held back: left out of
    /// the new branch and mined again `remining.delay` blocks after its head by later ``mine(count:)``
    /// calls (a new block and position, the same hash and logs). Each other one is, with
    /// `configuration.reincludeProbability`, included again in the new branch at the same height
    /// or one later, among new transactions (so at another block hash and usually another block
    /// number and log index, with the same transaction hash and logs); the rest are dropped.
    /// Held-back transactions of earlier reorgs that are due go into the new branch. Observers get
    /// the orphaned logs as `removed` copies, then the new blocks.
    @discardableResult
    public func reorg(
        depth: Int, newLength: Int? = nil, remining: ReorgRemining = .none
    ) throws(ReorgError) -> ReorgReport {
        try writer.withLock { _ throws(ReorgError) in
            let (report, observers) = try state.withLock { s throws(ReorgError) in
                (try s.reorg(depth: depth, newLength: newLength, remining: remining), s.observerList)
            }
            let removedLogs = report.removedBlocks.reversed().flatMap { block in
                block.logs.reversed().map { log in
                    var copy = log
                    copy.removed = true
                    return copy
                }
            }
            let update = ChainUpdate(
                removedLogs: removedLogs, removedBlocks: report.removedBlocks, newBlocks: report.newBlocks)
            for observer in observers { observer(update) }
            return report
        }
    }

    // MARK: - Observers

    /// Registers `observer` to be called with every update, in chain order, on the thread that
    /// mined or reorganized. It must return quickly and must not mine or reorg.
    @discardableResult
    public func addObserver(_ observer: @escaping @Sendable (ChainUpdate) -> Void) -> ChainObserverID {
        state.withLock { s in
            let id = ChainObserverID(rawValue: s.nextObserverID)
            s.nextObserverID += 1
            s.observers.append((id, observer))
            return id
        }
    }

    /// Stops calling the observer.
    public func removeObserver(_ id: ChainObserverID) {
        state.withLock { s in s.observers.removeAll { $0.0 == id } }
    }

    // MARK: - Queries

    /// The head's number (`eth_blockNumber`).
    public var blockNumber: UInt64 { state.withLock { $0.head.number } }

    /// The oldest block still held.
    public var earliestBlockNumber: UInt64 { state.withLock { $0.earliest } }

    /// The number a tag stands for now (nil for a number outside the chain).
    public func resolve(_ tag: DevnetBlockTag) -> UInt64? {
        state.withLock { s in
            let n = s.number(of: tag)
            return n >= s.earliest && n <= s.head.number ? n : nil
        }
    }

    /// The canonical block at `number`, if the devnet holds it.
    public func block(number: UInt64) -> DevnetBlock? {
        state.withLock { $0.block(number) }
    }

    /// The canonical block a tag stands for.
    public func block(tag: DevnetBlockTag) -> DevnetBlock? {
        state.withLock { s in s.block(s.number(of: tag)) }
    }

    /// The canonical block with this hash (orphaned blocks are unknown).
    public func block(hash: Bytes32) -> DevnetBlock? {
        state.withLock { s in s.numberByHash[hash].flatMap { s.block($0) } }
    }

    /// The canonical logs matching `filter`, in chain order, with `eth_getLogs` semantics:
    /// tags resolve at call time, `toBlock` beyond the head is clamped to it, a range starting
    /// above the head is empty, `fromBlock > toBlock` is an error, `blockHash` must name a
    /// canonical block.
    ///
    /// - Parameters:
    ///   - maxRange: refuse ranges of more blocks than this (`toBlock - fromBlock + 1`, after
    ///     resolving tags, before clamping) with ``LogQueryError/rangeTooLarge(blocks:limit:)``.
    ///   - maxResults: refuse results of more logs than this with ``LogQueryError/tooManyResults(limit:)``.
    public func logs(
        filter: LogFilter, maxRange: UInt64? = nil, maxResults: Int? = nil
    ) throws(LogQueryError)
        -> [EthLog]
    {
        try state.withLock { s throws(LogQueryError) in
            let from: UInt64
            let to: UInt64
            switch filter.range {
            case .blockHash(let hash):
                guard let n = s.numberByHash[hash] else { throw .unknownBlock(hash) }
                (from, to) = (n, n)
            case .blocks(let fromTag, let toTag):
                (from, to) = (s.number(of: fromTag), s.number(of: toTag))
                guard from <= to else { throw .invalidRange(from: from, to: to) }
                if let maxRange, to - from >= maxRange {
                    throw .rangeTooLarge(blocks: to - from + 1, limit: maxRange)
                }
            }
            var result: [EthLog] = []
            let first = max(from, s.earliest)
            let last = min(to, s.head.number)
            guard first <= last else { return [] }
            for n in first...last {
                let block = s.blocks[Int(n - s.earliest)]
                for log in block.logs where filter.matches(log) {
                    result.append(log)
                    if let maxResults, result.count > maxResults { throw .tooManyResults(limit: maxResults) }
                }
            }
            return result
        }
    }

    // MARK: - Test oracle

    /// The fills on the canonical chain now, in chain order, of the given traders (all when nil):
    /// exactly what a correct listener following `makers` must have delivered, each once.
    public func canonicalFills(makers: Set<Address>? = nil) -> [DevnetFill] {
        state.withLock { s in
            var result: [DevnetFill] = []
            for block in s.blocks {
                for fill in block.fills where makers.map({ $0.contains(fill.maker) }) ?? true {
                    result.append(fill)
                }
            }
            return result
        }
    }

    /// Transactions orphaned by a reorg and held back (``ReorgRemining``), waiting in the mempool
    /// to be mined again, in the order they will be.
    public var pendingTransactions: [Bytes32] {
        state.withLock { s in s.mempool.sorted { $0.due < $1.due }.map(\.transaction.hash) }
    }

    /// Every time a held-back orphaned transaction was mined again, in chain order of the events
    /// (a transaction orphaned and held back twice appears twice). With ``canonicalFills(makers:)``
    /// and ``orphanedFills(makers:)`` a test can tell which transactions were orphaned and mined
    /// again, and where.
    public var reminedTransactions: [DevnetReminedTransaction] {
        state.withLock { $0.remined }
    }

    /// Fills that were on the chain at some point but are not now (orphaned by a reorg and not
    /// re-included, or held back and not mined again yet), each once, in the order they were
    /// mined. A listener that delivered one of these must have retracted it.
    public func orphanedFills(makers: Set<Address>? = nil) -> [DevnetFill] {
        state.withLock { s in
            var canonical = Set<DevnetFillID>()
            for block in s.blocks {
                for fill in block.fills { canonical.insert(fill.id) }
            }
            var seen = Set<DevnetFillID>()
            var result: [DevnetFill] = []
            for block in s.orphans {
                for fill in block.fills where makers.map({ $0.contains(fill.maker) }) ?? true {
                    if !canonical.contains(fill.id) && seen.insert(fill.id).inserted { result.append(fill) }
                }
            }
            return result
        }
    }
}

// MARK: - State

extension SimulatedChain {
    struct State: Sendable {
        let configuration: SimulatedChainConfiguration
        var generator: FillGenerator
        var rng: DevnetRandom
        /// Canonical blocks, `earliest` first.
        var blocks: [DevnetBlock] = []
        var earliest: UInt64 = 0
        var numberByHash: [Bytes32: UInt64] = [:]
        /// Blocks orphaned by reorgs, in the order they were orphaned (for the oracle).
        var orphans: [DevnetBlock] = []
        var observers: [(ChainObserverID, @Sendable (ChainUpdate) -> Void)] = []
        var nextObserverID = 0
        /// Orphaned transactions held back by a reorg, with the block number they are due at.
        var mempool: [(transaction: DevnetTransaction, due: UInt64, from: DevnetBlock)] = []
        /// The held-back transactions mined again so far.
        var remined: [DevnetReminedTransaction] = []
        /// Where each held-back transaction came from, until it is mined again.
        var orphanedFrom: [Bytes32: (number: UInt64, hash: Bytes32)] = [:]

        init(configuration: SimulatedChainConfiguration, generator: FillGenerator, rng: DevnetRandom) {
            self.configuration = configuration
            self.generator = generator
            self.rng = rng
            self.earliest = configuration.startBlock
        }

        var head: DevnetBlock { blocks[blocks.count - 1] }

        var observerList: [@Sendable (ChainUpdate) -> Void] { observers.map(\.1) }

        func number(of tag: DevnetBlockTag) -> UInt64 {
            switch tag {
            case .number(let n): n
            case .latest, .pending: head.number
            case .earliest: earliest
            case .finalized, .safe:
                head.number >= earliest + configuration.finalityDepth
                    ? head.number - configuration.finalityDepth : earliest
            }
        }

        func block(_ number: UInt64) -> DevnetBlock? {
            guard number >= earliest, number <= head.number else { return nil }
            return blocks[Int(number - earliest)]
        }

        mutating func makeBlock(
            number: UInt64, parentHash: Bytes32, timestamp: UInt64, transactions: [DevnetTransaction]
        ) -> DevnetBlock {
            var preimage = parentHash.bytes
            withUnsafeBytes(of: number.bigEndian) { preimage += $0 }
            withUnsafeBytes(of: timestamp.bigEndian) { preimage += $0 }
            preimage += rng.bytes32().bytes
            for tx in transactions { preimage += tx.hash.bytes }
            let hash = Keccak256.hash(preimage)
            var logs: [EthLog] = []
            for (txIndex, tx) in transactions.enumerated() {
                for template in tx.logs {
                    logs.append(
                        EthLog(
                            address: template.address, topics: template.topics, data: template.data,
                            blockNumber: number, blockHash: hash, transactionHash: tx.hash,
                            transactionIndex: UInt64(txIndex), logIndex: UInt64(logs.count)))
                }
            }
            return DevnetBlock(
                number: number, hash: hash, parentHash: parentHash, timestamp: timestamp,
                transactions: transactions,
                logs: logs, logsBloom: LogsBloom.of(logs))
        }

        mutating func append(_ block: DevnetBlock) {
            if blocks.isEmpty { earliest = block.number }
            blocks.append(block)
            numberByHash[block.hash] = block.number
            prune()
        }

        /// Forgets the oldest blocks beyond `historyLimit`, in chunks.
        mutating func prune() {
            guard let limit = configuration.historyLimit else { return }
            let keep = max(limit, Int(configuration.finalityDepth) + 1)
            guard blocks.count > keep + max(16, keep / 8) else { return }
            let drop = blocks.count - keep
            for block in blocks.prefix(drop) { numberByHash[block.hash] = nil }
            blocks.removeFirst(drop)
            earliest += UInt64(drop)
            orphans.removeAll { $0.number < earliest }
        }

        /// Takes the held-back transactions due at block `number` (in the order they were held).
        mutating func takeDue(at number: UInt64) -> [DevnetTransaction] {
            guard !mempool.isEmpty else { return [] }
            let due = mempool.filter { $0.due <= number }
            mempool.removeAll { $0.due <= number }
            return due.map(\.transaction)
        }

        /// Records the held-back transactions that `block` mined again.
        mutating func recordRemined(in block: DevnetBlock) {
            guard !orphanedFrom.isEmpty else { return }
            for tx in block.transactions {
                guard let from = orphanedFrom.removeValue(forKey: tx.hash) else { continue }
                remined.append(
                    DevnetReminedTransaction(
                        transactionHash: tx.hash, orphanedBlockNumber: from.number,
                        orphanedBlockHash: from.hash, reminedBlockNumber: block.number,
                        reminedBlockHash: block.hash))
            }
        }

        mutating func reorg(
            depth: Int, newLength: Int?, remining: ReorgRemining
        ) throws(ReorgError) -> ReorgReport {
            let maximum = min(Int(configuration.finalityDepth), blocks.count - 1)
            guard depth >= 1, depth <= maximum else { throw .invalidDepth(depth, maximum: maximum) }
            let removed = Array(blocks.suffix(depth))
            blocks.removeLast(depth)
            for block in removed { numberByHash[block.hash] = nil }
            orphans += removed
            let length = max(depth, newLength ?? depth + (rng.chance(0.5) ? 1 : 0))

            // Decide the fate of every orphaned transaction: re-included at the same height or
            // one later, or dropped.
            var reincludedAt = Array(repeating: [DevnetTransaction](), count: length)
            var reincluded: [Bytes32] = []
            var dropped: [Bytes32] = []
            var deferred: [Bytes32] = []
            let newHead = head.number + UInt64(length)
            let delay = max(1, remining.delay.lowerBound)...max(1, remining.delay.upperBound)
            for (offset, block) in removed.enumerated() {
                for tx in block.transactions {
                    if rng.chance(remining.probability) {
                        mempool.append((tx, newHead + UInt64(rng.int(in: delay)), block))
                        orphanedFrom[tx.hash] = (block.number, block.hash)
                        deferred.append(tx.hash)
                    } else if rng.chance(configuration.reincludeProbability) {
                        let target = min(offset + (rng.chance(0.5) ? 1 : 0), length - 1)
                        reincludedAt[target].append(tx)
                        reincluded.append(tx.hash)
                    } else {
                        dropped.append(tx.hash)
                    }
                }
            }
            var newBlocks: [DevnetBlock] = []
            for i in 0..<length {
                let parent = head
                let fresh = generator.transactions(
                    fillCount: rng.int(in: configuration.fillsPerBlock), rng: &rng)
                // New transactions go first, so a re-included one lands at another log index.
                var txs = fresh + reincludedAt[i]
                if txs.count > 1 && rng.chance(0.5) { txs.shuffle(using: &rng) }
                // Held back by an earlier reorg and due now: mined after the block's own.
                txs += takeDue(at: parent.number + 1)
                let block = makeBlock(
                    number: parent.number + 1, parentHash: parent.hash,
                    timestamp: parent.timestamp + configuration.blockTime, transactions: txs)
                append(block)
                recordRemined(in: block)
                newBlocks.append(block)
            }
            return ReorgReport(
                removedBlocks: removed, newBlocks: newBlocks, reincluded: reincluded, dropped: dropped,
                deferred: deferred)
        }
    }
}
