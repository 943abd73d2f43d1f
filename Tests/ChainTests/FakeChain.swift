import Chain
import EVM
import Synchronization

/// A small in-memory chain for EventSource tests: blocks of logs from one contract, reorgs that
/// re-include some transactions elsewhere, live subscriptions, and a range limit on eth_getLogs.
final class FakeChain: ChainRPC {
    struct Block {
        var header: BlockHeader
        var logs: [EthLog]
    }

    struct State {
        var blocks: [Block] = []
        var subscriptions: [FakeSubscription] = []
        var nextTx: UInt64 = 1
        var maxRange: UInt64 = .max
        var salt: UInt64 = 0
        var silent = false
        var duplicate = false
        var headsFirst = false
        var getLogsCalls = 0
        /// What happened, in order: `getLogs from...to` and the test's own notes.
        var timeline: [String] = []
        var failLogsFrom: UInt64? = nil
        /// The error a range over `maxRange` gets (a provider's dialect).
        var rangeError = ChainRPCError.server(code: -32005, message: "block range is too large")
        /// Chance that a query fails as an HTTP 429/503 would.
        var queryFailureRate = 0.0
        /// Queries answered by backends lagging 0...lagMax blocks behind the head.
        var lagMax: UInt64 = 0
        /// A lagging backend trims a range at its head (true) or refuses it (false).
        var lagTrims = true
        var random: UInt64 = 0x5EED
        var queryFailures = 0
        var lastSubscriptions = 0
    }

    static let contract = Address(hi: 0xC0FFEE, mid: 0, lo: 1)
    static let topic = Bytes32(0xF111, 0, 0, 0)
    let state = Mutex(State())
    let filter = LogFilter(addresses: [FakeChain.contract], topics: [[FakeChain.topic]])

    init(genesisBlocks: Int = 1) {
        state.withLock { s in
            let genesis = BlockHeader(number: 0, hash: Self.hash(0, salt: 0), parentHash: .zero, timestamp: 0)
            s.blocks = [Block(header: genesis, logs: [])]
        }
        for _ in 1..<max(genesisBlocks, 1) { mine(logs: 0) }
    }

    static func hash(_ number: UInt64, salt: UInt64) -> Bytes32 { Bytes32(0xB10C, salt, 0, number) }

    var maxRange: UInt64 {
        get { state.withLock { $0.maxRange } }
        set { state.withLock { $0.maxRange = newValue } }
    }

    /// Stop sending notifications while subscriptions stay open.
    var silent: Bool {
        get { state.withLock { $0.silent } }
        set { state.withLock { $0.silent = newValue } }
    }

    /// Send every log notification twice.
    var duplicate: Bool {
        get { state.withLock { $0.duplicate } }
        set { state.withLock { $0.duplicate = newValue } }
    }

    /// Notify a block's header before its logs (as geth usually does) instead of after.
    var headsFirst: Bool {
        get { state.withLock { $0.headsFirst } }
        set { state.withLock { $0.headsFirst = newValue } }
    }

    /// The calls and notes so far, in order.
    var timeline: [String] {
        get { state.withLock { $0.timeline } }
        set { state.withLock { $0.timeline = newValue } }
    }

    /// Adds a note to the timeline.
    func note(_ text: String) { state.withLock { $0.timeline.append(text) } }

    /// Once: the next `eth_getLogs` whose range starts at or above this block (and is within
    /// `maxRange`) fails as a dropped connection would, after earlier ranges were answered.
    var failLogsFrom: UInt64? {
        get { state.withLock { $0.failLogsFrom } }
        set { state.withLock { $0.failLogsFrom = newValue } }
    }

    var head: UInt64 { state.withLock { UInt64($0.blocks.count - 1) } }

    /// The head block, by number and hash.
    var headRef: BlockRef { state.withLock { $0.blocks.last!.header.ref } }

    /// The canonical logs (what a correct listener delivers).
    var canonicalLogs: [EthLog] { state.withLock { $0.blocks.flatMap(\.logs) } }

    /// A log with a fresh transaction; `other` logs come from an unfollowed contract.
    private static func makeLog(tx: UInt64, block: BlockHeader, index: UInt64, payload: UInt64) -> EthLog {
        EthLog(
            address: contract, topics: [topic, Bytes32(0, 0, 0, payload)], data: UInt256(payload).word.bytes,
            blockNumber: block.number, blockHash: block.hash, transactionHash: Bytes32(0x7, 0, 0, tx),
            transactionIndex: index, logIndex: index)
    }

    /// Appends a block with `logs` new transactions (one log each).
    @discardableResult
    func mine(logs count: Int) -> BlockHeader {
        let (header, notifications, subscribers) = state.withLock {
            s -> (BlockHeader, [ChainNotification], [FakeSubscription]) in
            let parent = s.blocks.last!.header
            let number = parent.number + 1
            let header = BlockHeader(
                number: number, hash: Self.hash(number, salt: s.salt), parentHash: parent.hash,
                timestamp: number * 2)
            var logs: [EthLog] = []
            for i in 0..<count {
                logs.append(Self.makeLog(tx: s.nextTx, block: header, index: UInt64(i), payload: s.nextTx))
                s.nextTx += 1
            }
            s.blocks.append(Block(header: header, logs: logs))
            var notes = logs.map(ChainNotification.log)
            if s.duplicate { notes = logs.flatMap { [ChainNotification.log($0), .log($0)] } }
            if s.headsFirst { notes.insert(.head(header), at: 0) } else { notes.append(.head(header)) }
            return (header, notes, s.silent ? [] : s.subscriptions)
        }
        for subscription in subscribers { subscription.push(notifications) }
        return header
    }

    /// Replaces the last `depth` blocks: the first `reincluded` orphaned transactions come back in
    /// the new branch (other block, other log index), the rest vanish; the branch gets `extra`
    /// more blocks than it replaced. Subscribers see removed logs, then the new branch.
    func reorg(depth: Int, reincluded: Int, extra: Int = 1) -> (orphaned: [EthLog], dropped: [EthLog]) {
        let (orphaned, dropped, notifications, subscribers) = state.withLock {
            s -> ([EthLog], [EthLog], [ChainNotification], [FakeSubscription]) in
            s.salt += 1
            let removed = s.blocks.suffix(depth)
            s.blocks.removeLast(depth)
            let orphaned = removed.flatMap(\.logs)
            let back = Array(orphaned.prefix(reincluded))
            var notes: [ChainNotification] = orphaned.map {
                var l = $0; l.removed = true; return .log(l)
            }
            for i in 0..<(depth + extra) {
                let parent = s.blocks.last!.header
                let number = parent.number + 1
                let header = BlockHeader(
                    number: number, hash: Self.hash(number, salt: s.salt), parentHash: parent.hash,
                    timestamp: number * 2)
                var logs: [EthLog] = []
                // A new transaction first, so re-included logs land at another index.
                logs.append(Self.makeLog(tx: s.nextTx, block: header, index: 0, payload: s.nextTx))
                s.nextTx += 1
                if i == depth + extra - 1 {
                    for (j, old) in back.enumerated() {
                        var moved = old
                        moved.blockNumber = number
                        moved.blockHash = header.hash
                        moved.logIndex = UInt64(j + 1)
                        moved.transactionIndex = UInt64(j + 1)
                        logs.append(moved)
                    }
                }
                s.blocks.append(Block(header: header, logs: logs))
                notes += logs.map(ChainNotification.log)
                notes.append(.head(header))
            }
            return (orphaned, Array(orphaned.dropFirst(reincluded)), notes, s.silent ? [] : s.subscriptions)
        }
        for subscription in subscribers { subscription.push(notifications) }
        return (orphaned, dropped)
    }

    /// Ends every open subscription as a dropped connection would.
    func dropConnections() {
        let subscribers = state.withLock { s -> [FakeSubscription] in
            defer { s.subscriptions = [] }
            return s.subscriptions
        }
        for subscription in subscribers {
            subscription.queue.finish(throwing: ChainRPCError.unavailable("connection dropped"))
        }
    }

    /// Chance that a query (head, header, logs) fails as an HTTP 429/503 would.
    var queryFailureRate: Double {
        get { state.withLock { $0.queryFailureRate } }
        set { state.withLock { $0.queryFailureRate = newValue } }
    }

    /// Queries are answered by backends lagging up to this many blocks (a load balancer).
    var lagMax: UInt64 {
        get { state.withLock { $0.lagMax } }
        set { state.withLock { $0.lagMax = newValue } }
    }

    /// A lagging backend trims a range at its own head (true) or refuses it (false).
    var lagTrims: Bool {
        get { state.withLock { $0.lagTrims } }
        set { state.withLock { $0.lagTrims = newValue } }
    }

    /// The error a range over `maxRange` gets.
    var rangeError: ChainRPCError {
        get { state.withLock { $0.rangeError } }
        set { state.withLock { $0.rangeError = newValue } }
    }

    /// Queries failed on purpose so far.
    var queryFailures: Int { state.withLock { $0.queryFailures } }
    /// Subscriptions opened so far.
    var subscriptionsOpened: Int { state.withLock { $0.lastSubscriptions } }

    /// Draws whether this query fails, and the head of the backend that answers it.
    private static func backend(_ s: inout State) throws -> UInt64 {
        s.random = s.random &+ 0x9E37_79B9_7F4A_7C15
        var z = s.random
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let head = UInt64(s.blocks.count - 1)
        if Double(z >> 11) / Double(1 << 53) < s.queryFailureRate {
            s.queryFailures += 1
            throw ChainRPCError.unavailable(z & 1 == 0 ? "HTTP 429" : "HTTP 503")
        }
        let lag = s.lagMax == 0 ? 0 : (z >> 3) % (s.lagMax + 1)
        return head >= lag ? head - lag : 0
    }

    var getLogsCalls: Int { state.withLock { $0.getLogsCalls } }
    var subscriptionCount: Int { state.withLock { $0.subscriptions.count } }

    // MARK: ChainRPC

    func headNumber() async throws -> UInt64 { try state.withLock { try Self.backend(&$0) } }

    func header(number: UInt64) async throws -> BlockHeader? {
        try state.withLock { s in
            let head = try Self.backend(&s)
            return number <= head ? s.blocks[Int(number)].header : nil
        }
    }

    func logs(_ filter: LogFilter, from: UInt64, to: UInt64) async throws -> [EthLog] {
        try state.withLock { s in
            let head = try Self.backend(&s)
            s.getLogsCalls += 1
            s.timeline.append("getLogs \(from)...\(to)")
            guard to >= from, to - from + 1 <= s.maxRange else { throw s.rangeError }
            if to > head && !s.lagTrims {
                throw ChainRPCError.server(
                    code: -32000, message: "block range extends beyond current head block")
            }
            if let fail = s.failLogsFrom, from >= fail {
                s.failLogsFrom = nil
                throw ChainRPCError.unavailable("connection dropped during eth_getLogs")
            }
            // A lagging backend trims the range at its own head, silently.
            return s.blocks.filter { $0.header.number >= from && $0.header.number <= min(to, head) }
                .flatMap(\.logs).filter(filter.matches)
        }
    }

    func logs(_ filter: LogFilter, blockHash: Bytes32) async throws -> [EthLog] {
        try state.withLock { s in
            let head = try Self.backend(&s)
            guard let block = s.blocks.first(where: { $0.header.hash == blockHash }),
                block.header.number <= head
            else {
                throw ChainRPCError.server(code: -32000, message: "unknown block")
            }
            let number = block.header.number
            if let fail = s.failLogsFrom, number >= fail {
                s.failLogsFrom = nil
                throw ChainRPCError.unavailable("connection dropped during eth_getLogs")
            }
            s.getLogsCalls += 1
            s.timeline.append("getLogs \(number)...\(number)")
            return block.logs.filter(filter.matches)
        }
    }

    func subscribe(_ filter: LogFilter) async throws -> any ChainSubscription {
        let subscription = FakeSubscription()
        state.withLock {
            $0.subscriptions.append(subscription)
            $0.lastSubscriptions += 1
        }
        return subscription
    }
}

final class FakeSubscription: ChainSubscription {
    let queue = BoundedQueue<ChainNotification>(capacity: 100_000)

    func push(_ notifications: [ChainNotification]) {
        for n in notifications { precondition(queue.trySend(n) || queue.isFinished, "test queue full") }
    }

    func next(timeout: Duration) async throws -> ChainNotification? {
        if let n = try await queue.next(timeout: timeout) { return n }
        if queue.isFinished { throw ChainRPCError.unavailable("subscription ended") }
        return nil
    }

    func nextIfArrived() -> ChainNotification? { queue.nextIfQueued() }

    func cancel() async { queue.finish() }
}
