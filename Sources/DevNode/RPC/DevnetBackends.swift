import EVM

/// The backends behind the load-balanced HTTP endpoint (``DevnetFaults/laggingBackends``): what
/// each one has imported, kept from the chain updates the RPC observes.
struct BackendPool: Sendable {
    struct Backend: Sendable {
        /// How many chain updates behind the head it is.
        var lag: Int
        /// Whether it refuses `eth_getLogs` ranges past its head (else it trims them).
        var refusesPastHead: Bool
    }

    /// The most updates a backend can lag (the head history kept).
    static let historyLength = 64
    /// Blocks are kept this far below the newest one (deeper than any reorg).
    static let blockWindow: UInt64 = 320

    private(set) var backends: [Backend] = []
    private(set) var configuration: DevnetLaggingBackends? = nil
    /// The head's hash after each chain update, oldest first.
    private var heads: [Bytes32] = []
    /// Every block seen recently, canonical or not, by hash.
    private var blocks: [Bytes32: DevnetBlock] = [:]

    init(head: DevnetBlock?) {
        if let head {
            heads = [head.hash]
            blocks[head.hash] = head
        }
    }

    /// (Re)makes the backends when the switch changed: lags drawn in `0...maximumLag`; with
    /// `.mixed`, every other backend refuses ranges past its head.
    mutating func configure(_ configuration: DevnetLaggingBackends?, rng: inout DevnetRandom) {
        guard configuration != self.configuration else { return }
        self.configuration = configuration
        guard let configuration else {
            backends = []
            return
        }
        let maximum = Self.maximumLag(configuration)
        backends = (0..<max(1, configuration.count)).map { i in
            let refuses: Bool
            switch configuration.pastHead {
            case .trim: refuses = false
            case .refuse: refuses = true
            case .mixed: refuses = i % 2 == 1
            }
            return Backend(lag: rng.int(in: 0...maximum), refusesPastHead: refuses)
        }
    }

    /// Takes a chain update in: the new blocks, the new head, and a drift of every lag by -1, 0
    /// or +1 (a backend's head never moves back: its lag grows by at most one per update).
    mutating func record(_ update: ChainUpdate, rng: inout DevnetRandom) {
        guard let newest = update.newBlocks.last else { return }
        for block in update.newBlocks { blocks[block.hash] = block }
        heads.append(newest.hash)
        if heads.count > Self.historyLength { heads.removeFirst(heads.count - Self.historyLength) }
        if newest.number > Self.blockWindow {
            let floor = newest.number - Self.blockWindow
            if blocks.count > Int(Self.blockWindow) * 2 {
                blocks = blocks.filter { $0.value.number >= floor }
            }
        }
        guard let configuration else { return }
        let maximum = Self.maximumLag(configuration)
        for i in backends.indices {
            backends[i].lag = min(maximum, max(0, backends[i].lag + rng.int(in: -1...1)))
        }
    }

    /// The view of the backend at `index`, given the chain now.
    func view(of index: Int, chain: SimulatedChain) -> NodeView {
        let backend = backends[index]
        let lag = min(backend.lag, heads.count - 1)
        guard lag > 0, let head = blocks[heads[heads.count - 1 - lag]] else {
            return NodeView(head: nil, stale: [:], refusesPastHead: backend.refusesPastHead)
        }
        // Walk down the backend's branch until it meets the canonical chain.
        var stale: [UInt64: DevnetBlock] = [:]
        var block = head
        while chain.block(number: block.number)?.hash != block.hash {
            stale[block.number] = block
            guard let parent = blocks[block.parentHash] else { break }
            block = parent
        }
        return NodeView(head: head, stale: stale, refusesPastHead: backend.refusesPastHead)
    }

    private static func maximumLag(_ configuration: DevnetLaggingBackends) -> Int {
        min(max(0, configuration.maximumLag), historyLength - 1)
    }
}

/// What one node serving a request has: the fresh node (no `head`: the chain's own head, whatever
/// it is when asked), or a backend whose head is an older block, perhaps on a branch the chain
/// has since left (`stale`: its blocks that are not canonical now, by number).
struct NodeView: Sendable {
    var head: DevnetBlock?
    var stale: [UInt64: DevnetBlock]
    var refusesPastHead: Bool

    /// The fresh node, trimming ranges past the head (the devnet's behaviour without the fault).
    static let fresh = NodeView(head: nil, stale: [:], refusesPastHead: false)

    /// The number of the view's head.
    func headNumber(_ chain: SimulatedChain) -> UInt64 { head?.number ?? chain.blockNumber }

    /// The number a tag stands for on this node (not checked against its head).
    func number(of tag: DevnetBlockTag, _ chain: SimulatedChain) -> UInt64 {
        let head = headNumber(chain)
        let earliest = chain.earliestBlockNumber
        switch tag {
        case .number(let n): return n
        case .latest, .pending: return head
        case .earliest: return earliest
        case .finalized, .safe:
            let depth = chain.configuration.finalityDepth
            return head >= earliest + depth ? head - depth : earliest
        }
    }

    /// The node's block at `number` (nil above its head or below `earliest`).
    func block(number: UInt64, _ chain: SimulatedChain) -> DevnetBlock? {
        guard head != nil else { return chain.block(number: number) }
        guard number <= headNumber(chain) else { return nil }
        return stale[number] ?? chain.block(number: number)
    }

    /// The node's block with this hash (nil for a block it does not have).
    func block(hash: Bytes32, _ chain: SimulatedChain) -> DevnetBlock? {
        guard head != nil else { return chain.block(hash: hash) }
        if let block = stale.values.first(where: { $0.hash == hash }) { return block }
        guard let block = chain.block(hash: hash), block.number <= headNumber(chain),
            stale[block.number] == nil
        else { return nil }
        return block
    }
}
