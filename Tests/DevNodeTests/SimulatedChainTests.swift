import DevNode
import EVM
import Polymarket
import Synchronization
import Testing

@Suite("SimulatedChain")
struct SimulatedChainTests {
    @Test("fill logs decode with the real registry into TradeEvents equal to what was generated")
    func logsDecodeIntoGeneratedTrades() throws {
        let registry = try Repository.registry()
        let chain = try makeChain()
        chain.mine(count: 60)
        let fills = chain.canonicalFills()
        #expect(fills.count > 200)
        var byPosition: [String: DevnetFill] = [:]
        for fill in fills { byPosition["\(fill.blockNumber)/\(fill.logIndex)"] = fill }

        var trades = 0
        var matched = 0
        var exchanges = Set<String>()
        var sides = Set<TradeSide>()
        for n in chain.earliestBlockNumber...chain.blockNumber {
            let block = try #require(chain.block(number: n))
            for log in block.logs {
                switch try registry.decode(log) {
                case .trade(let trade):
                    trades += 1
                    let fill = try #require(byPosition["\(log.blockNumber)/\(log.logIndex)"])
                    let t = fill.template
                    #expect(trade.exchange == t.exchangeName)
                    #expect(trade.contract == t.exchange)
                    #expect(trade.wallet == t.maker)
                    #expect(trade.counterparty == t.taker)
                    #expect(trade.orderHash == t.orderHash)
                    #expect(trade.side == t.side)
                    #expect(trade.tokenId == t.tokenId)
                    #expect(trade.shares.units == UInt256(t.shares))
                    #expect(trade.collateral.units == UInt256(t.collateral))
                    #expect(trade.fee.units == UInt256(t.fee))
                    #expect(trade.transactionHash == fill.transactionHash)
                    #expect(trade.blockHash == block.hash)
                    #expect(!trade.removed)
                    // A realistic price: strictly between 0 and 1, on a 0.01 or 0.001 tick.
                    let micros = try #require(trade.price.microsTotal)
                    #expect(micros > 0 && micros < 1_000_000 && micros % 1_000 == 0)
                    #expect(t.shares % 10_000 == 0, "shares have two decimals")
                    exchanges.insert(trade.exchange)
                    sides.insert(trade.side)
                case .event(_, let event, _):
                    #expect(event.name == "OrdersMatched")
                    matched += 1
                }
            }
        }
        #expect(trades == fills.count)
        #expect(matched > 0)
        #expect(exchanges == ["CTFExchangeV2", "NegRiskCTFExchangeV2"])
        #expect(sides == [.buy, .sell])

        // Taker-side fills have the exchange as taker; the followed wallets trade at about the
        // configured share of fills.
        #expect(fills.contains { $0.template.taker == $0.template.exchange })
        let mine = chain.canonicalFills(makers: Set(followed))
        let share = Double(mine.count) / Double(fills.count)
        #expect(share > 0.1 && share < 0.3)
        #expect(mine.allSatisfy { followed.contains($0.maker) })
        // Partial fills: some order hash fills in more than one transaction.
        var transactionsByOrder: [Bytes32: Set<Bytes32>] = [:]
        for fill in fills {
            transactionsByOrder[fill.template.orderHash, default: []].insert(fill.transactionHash)
        }
        #expect(transactionsByOrder.values.contains { $0.count > 1 })
    }

    @Test("blocks link by parent hash, space timestamps by the block time, and number logs and transactions")
    func blockStructure() throws {
        let chain = try makeChain()
        chain.mine(count: 30)
        var parent = try #require(chain.block(tag: .earliest))
        #expect(parent.number == 70_000_000)
        for n in parent.number + 1...chain.blockNumber {
            let block = try #require(chain.block(number: n))
            #expect(block.parentHash == parent.hash)
            #expect(block.timestamp == parent.timestamp + 2)
            #expect(block.hash != parent.hash)
            #expect(block.logs.map(\.logIndex) == (0..<UInt64(block.logs.count)).map { $0 })
            var expectedIndex: UInt64 = 0
            var position = 0
            for tx in block.transactions {
                for _ in tx.logs {
                    #expect(block.logs[position].transactionHash == tx.hash)
                    #expect(block.logs[position].transactionIndex == expectedIndex)
                    #expect(block.logs[position].blockNumber == n)
                    #expect(block.logs[position].blockHash == block.hash)
                    position += 1
                }
                expectedIndex += 1
            }
            #expect(position == block.logs.count)
            #expect(chain.block(hash: block.hash) == block)
            parent = block
        }
        #expect(chain.block(tag: .latest)?.number == chain.blockNumber)
        #expect(chain.block(tag: .pending)?.number == chain.blockNumber)
        #expect(chain.block(number: chain.blockNumber + 1) == nil)
        #expect(chain.block(number: 69_999_999) == nil)
        // Not finalized yet: the finalized tag stays at the earliest block until 128 blocks exist.
        #expect(chain.block(tag: .finalized)?.number == 70_000_000)
        chain.mine(count: 200)
        #expect(chain.block(tag: .finalized)?.number == chain.blockNumber - 128)
        #expect(chain.block(tag: .safe)?.number == chain.blockNumber - 128)
    }

    @Test("eth_getLogs filters: address single/array, positional topics with null and OR, ranges, blockHash")
    func logFilterSemantics() throws {
        let registry = try Repository.registry()
        let chain = try makeChain()
        chain.mine(count: 40)
        let start = chain.earliestBlockNumber
        let head = chain.blockNumber
        var all: [EthLog] = []
        for n in start...head { all += chain.block(number: n)!.logs }
        let v2 = registry.contracts.first { $0.name == "CTFExchangeV2" }!
        let negRisk = registry.contracts.first { $0.name == "NegRiskCTFExchangeV2" }!
        let fillTopic = v2.fillEvent.topic0
        let matchedTopic = v2.abi.events(named: "OrdersMatched")[0].topic0
        let wallets = followed.map(\.word)
        let range = LogFilter.Range.blocks(from: .earliest, to: .latest)

        func check(_ filter: LogFilter, _ expected: (EthLog) -> Bool, _ comment: Comment) throws {
            let got = try chain.logs(filter: filter)
            #expect(got == all.filter(expected), comment)
        }
        try check(LogFilter(range: range), { _ in true }, "everything")
        try check(
            LogFilter(range: range, addresses: [v2.address]), { $0.address == v2.address }, "one address")
        try check(
            LogFilter(range: range, addresses: [v2.address, negRisk.address]), { _ in true }, "both addresses"
        )
        try check(
            LogFilter(range: range, addresses: [Address(hi: 1, mid: 2, lo: 3)]), { _ in false },
            "another address")
        try check(LogFilter(range: range, topics: [[fillTopic]]), { $0.topics[0] == fillTopic }, "topic0")
        try check(
            LogFilter(range: range, topics: [[fillTopic, matchedTopic]]), { _ in true }, "topic0 OR")
        try check(
            LogFilter(range: range, topics: [[fillTopic], nil, wallets]),
            { $0.topics[0] == fillTopic && wallets.contains($0.topics[2]) }, "followed wallets in topic2")
        try check(
            LogFilter(range: range, topics: [nil, nil, wallets]),
            { $0.topics.count > 2 && wallets.contains($0.topics[2]) }, "null wildcard")
        try check(
            LogFilter(range: range, topics: [[], [], wallets]),
            { $0.topics.count > 2 && wallets.contains($0.topics[2]) }, "empty array is a wildcard")
        // OrdersMatched has three topics: a fourth-position wildcard excludes it.
        try check(
            LogFilter(range: range, topics: [nil, nil, nil, nil]), { $0.topics.count >= 4 }, "topic count")
        #expect(all.contains { $0.topics.count == 3 })

        // Ranges.
        let mid = start + 10
        try check(
            LogFilter(range: .blocks(from: .number(mid), to: .number(mid + 4))),
            { $0.blockNumber >= mid && $0.blockNumber <= mid + 4 }, "numbers")
        try check(LogFilter(), { $0.blockNumber == head }, "default is the latest block")
        try check(
            LogFilter(range: .blocks(from: .number(head - 2), to: .number(head + 100))),
            { $0.blockNumber >= head - 2 }, "toBlock beyond the head is clamped")
        #expect(
            try chain.logs(filter: LogFilter(range: .blocks(from: .number(head + 1), to: .number(head + 5))))
                .isEmpty)
        #expect(throws: LogQueryError.invalidRange(from: mid + 1, to: mid)) {
            try chain.logs(filter: LogFilter(range: .blocks(from: .number(mid + 1), to: .number(mid))))
        }

        // By block hash.
        let block = chain.block(number: mid)!
        try check(LogFilter(range: .blockHash(block.hash)), { $0.blockHash == block.hash }, "blockHash")
        #expect(throws: LogQueryError.unknownBlock(.zero)) {
            try chain.logs(filter: LogFilter(range: .blockHash(.zero)))
        }
    }

    @Test("range and result limits")
    func limits() throws {
        let chain = try makeChain()
        chain.mine(count: 30)
        let start = chain.earliestBlockNumber
        let ten = LogFilter(range: .blocks(from: .number(start), to: .number(start + 9)))
        #expect(throws: Never.self) { try chain.logs(filter: ten, maxRange: 10) }
        let eleven = LogFilter(range: .blocks(from: .number(start), to: .number(start + 10)))
        #expect(throws: LogQueryError.rangeTooLarge(blocks: 11, limit: 10)) {
            try chain.logs(filter: eleven, maxRange: 10)
        }
        let count = try chain.logs(filter: eleven).count
        #expect(throws: LogQueryError.tooManyResults(limit: count - 1)) {
            try chain.logs(filter: eleven, maxResults: count - 1)
        }
        #expect(try chain.logs(filter: eleven, maxResults: count).count == count)
    }

    @Test(
        "a reorg orphans logs (removed copies to observers), re-includes some transactions elsewhere, drops others"
    )
    func reorg() throws {
        let chain = try makeChain(seed: 7)
        let updates = Mutex<[ChainUpdate]>([])
        chain.addObserver { update in updates.withLock { $0.append(update) } }
        chain.mine(count: 40)
        let before = chain.canonicalFills()
        let headBefore = chain.blockNumber
        let keptBlock = chain.block(number: headBefore - 10)!

        let report = try chain.reorg(depth: 10, newLength: 11)
        #expect(report.removedBlocks.count == 10)
        #expect(report.newBlocks.count == 11)
        #expect(chain.blockNumber == headBefore + 1)
        #expect(report.newBlocks[0].parentHash == keptBlock.hash)
        #expect(!report.reincluded.isEmpty)
        #expect(!report.dropped.isEmpty)
        for removed in report.removedBlocks {
            #expect(chain.block(hash: removed.hash) == nil, "orphaned blocks are unknown")
            #expect(chain.block(number: removed.number)?.hash != removed.hash)
        }

        // Observers: the removed logs (newest first, removed: true), then the new branch.
        let last = try #require(updates.withLock { $0.last })
        let orphanedLogs = report.removedBlocks.flatMap(\.logs)
        #expect(last.removedLogs.count == orphanedLogs.count)
        #expect(last.removedLogs.allSatisfy { $0.removed })
        #expect(last.removedLogs.map(\.logIndex) == orphanedLogs.reversed().map(\.logIndex))
        #expect(last.removedLogs.map(\.blockHash) == orphanedLogs.reversed().map(\.blockHash))
        #expect(last.newBlocks.map(\.hash) == report.newBlocks.map(\.hash))

        // The canonical set: fills of dropped transactions are gone, re-included ones keep their
        // identity and fields at a new position.
        let after = chain.canonicalFills()
        let afterByID = Dictionary(after.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let dropped = Set(report.dropped)
        let reincluded = Set(report.reincluded)
        var moved = 0
        for fill in before where fill.blockNumber > keptBlock.number {
            if dropped.contains(fill.transactionHash) {
                #expect(afterByID[fill.id] == nil)
            } else {
                #expect(reincluded.contains(fill.transactionHash))
                let now = try #require(afterByID[fill.id])
                #expect(now.template == fill.template, "same order, maker, amounts")
                #expect(now.blockHash != fill.blockHash)
                if now.blockNumber != fill.blockNumber || now.logIndex != fill.logIndex { moved += 1 }
            }
        }
        #expect(moved > 0)
        for fill in before where fill.blockNumber <= keptBlock.number { #expect(afterByID[fill.id] == fill) }

        // The oracle: what was orphaned and not re-included.
        let orphaned = chain.orphanedFills()
        #expect(Set(orphaned.map(\.transactionHash)) == dropped.intersection(before.map(\.transactionHash)))
        #expect(orphaned.allSatisfy { afterByID[$0.id] == nil })
        #expect(chain.orphanedFills(makers: Set(followed)).allSatisfy { followed.contains($0.maker) })

        // Queries see only the new branch.
        let logs = try chain.logs(
            filter: LogFilter(range: .blocks(from: .number(keptBlock.number + 1), to: .latest)))
        #expect(logs == report.newBlocks.flatMap(\.logs))
    }

    @Test("reorgs up to the finality depth; deeper ones are refused", arguments: [1, 32, 64, 128])
    func reorgDepths(depth: Int) throws {
        let chain = try makeChain()
        chain.mine(count: 150)
        let head = chain.blockNumber
        let report = try chain.reorg(depth: depth)
        #expect(report.removedBlocks.count == depth)
        #expect(chain.blockNumber >= head)
        #expect(throws: ReorgError.invalidDepth(129, maximum: 128)) { try chain.reorg(depth: 129) }
        #expect(throws: ReorgError.self) { try chain.reorg(depth: 0) }
    }

    @Test("the same seed and calls give the same chain; another seed another chain")
    func determinism() throws {
        func run(_ seed: UInt64) throws -> (Bytes32, [EthLog], [DevnetFill]) {
            let chain = try makeChain(seed: seed)
            chain.mine(count: 20)
            try chain.reorg(depth: 5)
            chain.mine(count: 5)
            let logs = try chain.logs(filter: LogFilter(range: .blocks(from: .earliest, to: .latest)))
            return (chain.block(tag: .latest)!.hash, logs, chain.canonicalFills(makers: Set(followed)))
        }
        let a = try run(1)
        let b = try run(1)
        let c = try run(2)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(a.2 == b.2)
        #expect(a.0 != c.0)
        #expect(a.1 != c.1)
    }

    @Test("a history limit moves earliest and forgets old blocks")
    func historyLimit() throws {
        let chain = try makeChain { $0.historyLimit = 200 }
        chain.mine(count: 1_000)
        let earliest = chain.earliestBlockNumber
        #expect(earliest > 70_000_000)
        #expect(chain.blockNumber - earliest + 1 <= 200 + 25)
        #expect(chain.block(number: earliest - 1) == nil)
        #expect(chain.block(tag: .earliest)?.number == earliest)
        let logs = try chain.logs(filter: LogFilter(range: .blocks(from: .number(0), to: .latest)))
        #expect(logs.first?.blockNumber ?? 0 >= earliest)
    }

    @Test("configuration: fills per block, no taker fills or OrdersMatched")
    func configuration() throws {
        let chain = try makeChain {
            $0.fillsPerBlock = 5...5
            $0.takerFills = false
            $0.ordersMatched = false
        }
        chain.mine(count: 10)
        for block in (1...10).map({ chain.block(number: 70_000_000 + UInt64($0))! }) {
            #expect(block.fills.count == 5)
            #expect(block.logs.count == 5)
            #expect(block.fills.allSatisfy { $0.template.taker != $0.template.exchange })
        }
        #expect(throws: DevnetSetupError.self) {
            try makeChain { $0.exchangeNames = ["NoSuchExchange"] }
        }
        #expect(throws: DevnetSetupError.self) {
            try makeChain { $0.exchangeNames = ["CTFExchangeV1"] }  // V1 layout has no side/tokenId
        }
    }
}
