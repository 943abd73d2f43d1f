import DevNode
import EVM
import Foundation
import Polymarket
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `error` object of a JSON-RPC response text.
private func errorObject(_ text: String) throws -> [String: Any] {
    try #require(try object(text)["error"] as? [String: Any])
}

/// An `eth_getLogs` request over `from...to`.
private func getLogs(_ from: UInt64, _ to: UInt64, id: Int = 1) -> String {
    request(
        "eth_getLogs",
        "[{\"fromBlock\":\"\(JSONWriter.quantity(from))\",\"toBlock\":\"\(JSONWriter.quantity(to))\"}]",
        id: id)
}

@Suite("Fault: reorgs whose orphaned transactions are mined again later")
struct RemineOrphanedTransactionTests {
    @Test(
        "held back transactions leave the new branch and are mined again 1-3 blocks later, same hash and logs"
    )
    func heldBackAndRemined() throws {
        let chain = try makeChain(seed: 21)
        chain.mine(count: 30)
        let orphaned = ((chain.blockNumber - 5)...chain.blockNumber).map { chain.block(number: $0)! }
        let orphanedTxs = orphaned.flatMap(\.transactions)
        let fillsBefore = chain.canonicalFills()
        let report = try chain.reorg(
            depth: 6, newLength: 6, remining: ReorgRemining(probability: 1, delay: 1...3))

        // Left out of the new branch, neither re-included nor dropped: waiting in the mempool.
        #expect(report.deferred == orphanedTxs.map(\.hash))
        #expect(report.reincluded.isEmpty && report.dropped.isEmpty)
        let branchTxs = Set(report.newBlocks.flatMap(\.transactions).map(\.hash))
        #expect(branchTxs.isDisjoint(with: report.deferred))
        #expect(Set(chain.pendingTransactions) == Set(report.deferred))
        let deferred = Set(report.deferred)
        let orphanedFills = chain.orphanedFills()
        #expect(
            Set(orphanedFills.map(\.transactionHash))
                == deferred.intersection(fillsBefore.map(\.transactionHash)))

        // Mined again by the next blocks.
        let head = chain.blockNumber
        chain.mine(count: 3)
        #expect(chain.pendingTransactions.isEmpty)
        let remined = chain.reminedTransactions
        #expect(remined.map(\.transactionHash).sorted() == report.deferred.sorted())
        let orphanedHashes = Set(orphaned.map(\.hash))
        for record in remined {
            #expect((head + 1)...(head + 3) ~= record.reminedBlockNumber)
            #expect(chain.block(number: record.reminedBlockNumber)?.hash == record.reminedBlockHash)
            #expect(orphanedHashes.contains(record.orphanedBlockHash))
        }

        // Same transaction, same log content, new place; each exactly once in the canonical logs.
        let canonical = try chain.logs(filter: LogFilter(range: .blocks(from: .earliest, to: .latest)))
        for tx in orphanedTxs {
            let before = orphaned.flatMap(\.logs).filter { $0.transactionHash == tx.hash }
            let now = canonical.filter { $0.transactionHash == tx.hash }
            #expect(now.count == before.count)
            #expect(now.map(\.address) == before.map(\.address))
            #expect(now.map(\.topics) == before.map(\.topics))
            #expect(now.map(\.data) == before.map(\.data))
            #expect(now.allSatisfy { $0.blockNumber > head && !orphanedHashes.contains($0.blockHash) })
        }
        #expect(chain.orphanedFills().isEmpty, "every orphaned fill is canonical again")
        #expect(Set(chain.canonicalFills().map(\.id)).isSuperset(of: fillsBefore.map(\.id)))
    }

    @Test("with a chance below 1 some are held back and the others keep their usual fate")
    func partly() throws {
        let chain = try makeChain(seed: 22)
        chain.mine(count: 40)
        let orphanedCount = ((chain.blockNumber - 9)...chain.blockNumber).reduce(0) {
            $0 + chain.block(number: $1)!.transactions.count
        }
        let report = try chain.reorg(depth: 10, remining: ReorgRemining(probability: 0.5, delay: 2...2))
        #expect(!report.deferred.isEmpty)
        #expect(!report.reincluded.isEmpty || !report.dropped.isEmpty)
        #expect(report.deferred.count + report.reincluded.count + report.dropped.count == orphanedCount)
        let head = chain.blockNumber
        chain.mine(count: 1)
        #expect(chain.reminedTransactions.isEmpty, "not before the delay")
        chain.mine(count: 1)
        #expect(chain.reminedTransactions.count == report.deferred.count)
        #expect(chain.reminedTransactions.allSatisfy { $0.reminedBlockNumber == head + 2 })
    }

    @Test("subscribers get the removed logs at the reorg, then the same logs again in a later block")
    func notifications() throws {
        let chain = try makeChain(seed: 23)
        chain.mine(count: 10)
        let rpc = DevnetRPC(chain: chain)
        let connection = RecordingConnection()
        let session = rpc.openSession(connection)
        session.receive(request("eth_subscribe", "[\"logs\",{}]"))
        _ = connection.take()
        let report = try chain.reorg(
            depth: 2, newLength: 2, remining: ReorgRemining(probability: 1, delay: 1...1))
        let atReorg = try connection.take().map { try object($0)["params"] as? [String: Any] }
        let removed = atReorg.compactMap { ($0?["result"] as? [String: Any]) }.filter {
            $0["removed"] as? Bool == true
        }
        let deferred = Set(report.deferred.map(\.hex))
        #expect(!deferred.isEmpty)
        #expect(Set(removed.compactMap { $0["transactionHash"] as? String }) == deferred)
        chain.mine(count: 1)
        let later = try connection.take().compactMap {
            (try object($0)["params"] as? [String: Any])?["result"] as? [String: Any]
        }
        #expect(Set(later.compactMap { $0["transactionHash"] as? String }).isSuperset(of: deferred))
        #expect(later.allSatisfy { $0["removed"] as? Bool == false })
        session.close()
    }

    @Test("the producer holds orphaned transactions back when the fault is on, and not when it is off")
    func producer() async throws {
        for on in [true, false] {
            let chain = try makeChain(seed: 24)
            let faults = DevnetFaultControl()
            faults.update {
                $0.reorgEvery = 5
                $0.reorgDepth = 2...3
                $0.remineOrphanedTransactions = on ? 1 : 0
                $0.remineDelay = 1...2
            }
            try await DevnetProducer(
                chain: chain, faults: faults, blockInterval: .milliseconds(1), maximumBlocks: 22
            ).run()
            #expect(chain.reminedTransactions.isEmpty != on, "fault \(on ? "on" : "off")")
        }
    }
}

@Suite("Fault: eth_getLogs refusals in each provider's dialect")
struct RangeErrorDialectTests {
    /// What each dialect must answer with a range limit of 5 (6 blocks asked) and a result limit
    /// of 3: the HTTP status, the JSON-RPC code (nil: a plain-text body) and a fragment of the
    /// message (or `data`), for the range refusal then the result refusal.
    struct Expected {
        var status: Int
        var rangeCode: Int?
        var range: String
        var resultsCode: Int?
        var results: String
    }

    static let expected: [DevnetRangeErrorDialect: Expected] = [
        .devnet: .init(
            status: 200, rangeCode: -32005, range: "block range is too large (maximum 5 blocks)",
            resultsCode: -32005, results: "query returned more than 3 results"),
        .geth: .init(
            status: 200, rangeCode: -32602, range: "exceed maximum block range 5", resultsCode: -32602,
            results: "exceed maximum block range "),
        .gethFork: .init(
            status: 200, rangeCode: -32000, range: "exceed maximum block range: 5", resultsCode: -32000,
            results: "exceed maximum block range: "),
        .erigon: .init(
            status: 200, rangeCode: -32602,
            range: "query block range exceeds server limit, narrow your filter: 5",
            resultsCode: -32602, results: "query returns too many logs, narrow your filter: 3"),
        .erigonLegacy: .init(
            status: 200, rangeCode: -32000,
            range: "query block range exceeds server limit, narrow your filter: 5",
            resultsCode: -32000, results: "query returns too many logs, narrow your filter: 3"),
        .reth: .init(
            status: 200, rangeCode: -32602, range: "query exceeds max block range 5", resultsCode: -32602,
            results: "query exceeds max results 3, retry with the range "),
        .alchemy: .init(
            status: 200, rangeCode: -32602, range: "Log response size exceeded.", resultsCode: -32602,
            results: "this block range should work: [0x"),
        .alchemyFreeTier: .init(
            status: 400, rangeCode: -32600,
            range: "You can make eth_getLogs requests with up to a 5 block range.",
            resultsCode: -32600, results: "this block range should work: [0x"),
        .infura: .init(
            status: 200, rangeCode: -32602, range: "range 6 exceeds limit of 5", resultsCode: -32005,
            results: "query returned more than 3 results. Try with this block range [0x"),
        .quicknode: .init(
            status: 413, rangeCode: -32614, range: "eth_getLogs is limited to a 5 range", resultsCode: -32614,
            results: "eth_getLogs is limited to a "),
        .quicknodePlainText: .init(
            status: 413, rangeCode: nil,
            range: "Request Entity Too Large eth_getLogs and eth_newFilter are limited to a 5 blocks range",
            resultsCode: nil, results: "Request Entity Too Large"),
        .ankr: .init(
            status: 200, rangeCode: -32600, range: "block range is too wide", resultsCode: -32600,
            results: "block range is too wide"),
        .ankrDistance: .init(
            status: 200, rangeCode: -32000, range: "maximum [from, to] blocks distance: 5",
            resultsCode: -32000,
            results: "maximum [from, to] blocks distance: "),
        .drpc: .init(
            status: 400, rangeCode: 35, range: "ranges over 5 blocks are not supported on freetier",
            resultsCode: 35,
            results: "blocks are not supported on freetier"),
        .tenderly: .init(
            status: 200, rangeCode: -32602, range: "range 6 is bigger than range limit 5",
            resultsCode: -32602,
            results: "is bigger than range limit"),
        .chainstack: .init(
            status: 200, rangeCode: -32602, range: "Block range limit exceeded.", resultsCode: -32602,
            results: "Block range limit exceeded."),
        .responseSize: .init(
            status: 200, rangeCode: -32000, range: "response size should not greater than 2097152 bytes",
            resultsCode: -32000, results: "response size should not greater than"),
        .invalidParams: .init(
            status: 200, rangeCode: -32602, range: "invalid params", resultsCode: -32602,
            results: "invalid params"),
        .unfamiliar: .init(
            status: 200, rangeCode: -32099, range: "request exceeds the node's quota of blocks",
            resultsCode: -32099,
            results: "request exceeds the node's quota of blocks"),
    ]

    @Test("the catalogue covers every dialect")
    func catalogue() {
        #expect(Set(Self.expected.keys) == Set(DevnetRangeErrorDialect.allCases))
        #expect(DevnetRangeErrorDialect.allCases.count >= 15)
        for dialect in DevnetRangeErrorDialect.allCases {
            #expect(DevnetRangeErrorDialect.Choice(dialect.rawValue) == .fixed(dialect))
        }
        #expect(DevnetRangeErrorDialect.Choice("random") == .random)
        #expect(DevnetRangeErrorDialect.Choice("nope") == nil)
    }

    /// Checks one refusal: status, code and wording (in the message or the data).
    private func check(
        _ response: DevnetHTTPServer.Response, status: Int, code: Int?, fragment: String, _ comment: Comment
    ) throws {
        #expect(response.status == status, comment)
        guard let code else {
            #expect(response.contentType.hasPrefix("text/plain"), comment)
            #expect(response.body.contains(fragment), comment)
            return
        }
        let error = try errorObject(response.body)
        #expect(error["code"] as? Int == code, comment)
        let data = (error["data"]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        let text =
            (error["message"] as? String ?? "") + (data.map { String(decoding: $0, as: UTF8.self) } ?? "")
        #expect(text.contains(fragment), "\(comment): \(text)")
    }

    @Test(
        "each dialect refuses a range and a result size in its provider's words",
        arguments: DevnetRangeErrorDialect.allCases)
    func refusal(dialect: DevnetRangeErrorDialect) throws {
        let chain = try makeChain(seed: 31)
        chain.mine(count: 20)
        let rpc = DevnetRPC(chain: chain)
        let expected = try #require(Self.expected[dialect])
        let start = chain.earliestBlockNumber + 2
        rpc.faults.update {
            $0.getLogsMaxRange = 5
            $0.rangeErrorDialect = .fixed(dialect)
        }
        #expect(rpc.rangeErrorDialect == dialect)
        #expect(rpc.handleHTTP(getLogs(start, start + 4)).status == 200, "within the limit")
        let range = rpc.handleHTTP(getLogs(start, start + 5, id: 4))
        try check(range, status: expected.status, code: expected.rangeCode, fragment: expected.range, "range")
        if expected.rangeCode != nil { #expect(try object(range.body)["id"] as? Int == 4) }

        rpc.faults.update {
            $0.getLogsMaxRange = nil
            $0.getLogsMaxResults = 3
        }
        let results = rpc.handleHTTP(getLogs(start, start + 5))
        try check(
            results, status: expected.status, code: expected.resultsCode, fragment: expected.results,
            "results")

        // Not the devnet's own answer (the switch changes what goes out).
        if dialect != .devnet {
            rpc.faults.update { $0.rangeErrorDialect = .fixed(.devnet) }
            #expect(rpc.handleHTTP(getLogs(start, start + 5)) != results)
        }

        // Over WebSocket: the same JSON-RPC error, no HTTP status to carry.
        rpc.faults.update { $0.rangeErrorDialect = .fixed(dialect) }
        let connection = RecordingConnection()
        let session = rpc.openSession(connection)
        session.receive(getLogs(start, start + 5, id: 8))
        let frame = try object(try #require(connection.take().first))
        #expect(frame["id"] as? Int == 8)
        #expect((frame["error"] as? [String: Any])?["code"] as? Int == (expected.resultsCode ?? -32614))
        session.close()
    }

    @Test(
        "a suggested range is one the node accepts",
        arguments: [
            DevnetRangeErrorDialect.alchemy, .alchemyFreeTier, .infura, .reth,
        ])
    func suggestions(dialect: DevnetRangeErrorDialect) throws {
        let chain = try makeChain(seed: 32)
        chain.mine(count: 20)
        let rpc = DevnetRPC(chain: chain)
        let start = chain.earliestBlockNumber + 1
        rpc.faults.update {
            $0.getLogsMaxResults = 25
            $0.rangeErrorDialect = .fixed(dialect)
        }
        let refusal = rpc.handleHTTP(getLogs(start, start + 15))
        let message = try errorObject(refusal.body)["message"] as? String ?? ""
        let numbers = message.matches(of: /(0x[0-9a-fA-F]+|\d+)(?:[,\-\]]|$)/).map { String($0.output.1) }
        let bounds = numbers.suffix(2).compactMap {
            $0.hasPrefix("0x") ? UInt64($0.dropFirst(2), radix: 16) : UInt64($0)
        }
        try #require(bounds.count == 2, "\(message)")
        #expect(bounds[0] == start)
        #expect(bounds[1] >= start && bounds[1] < start + 15)
        let accepted = rpc.handleHTTP(getLogs(bounds[0], bounds[1]))
        #expect(try errorCode(accepted.body) == nil, "\(accepted.body.prefix(200))")
        #expect(try parseLogs(accepted.body).count <= 25)
        // One block more no longer fits: the suggestion is the widest.
        #expect(try errorCode(rpc.handleHTTP(getLogs(bounds[0], bounds[1] + 1)).body) != nil)
    }

    @Test("random: each node draws one dialect from its seed when it starts, and keeps it")
    func random() throws {
        let chain = try makeChain(seed: 33)
        chain.mine(count: 10)
        var drawn: [DevnetRangeErrorDialect] = []
        for seed in UInt64(0)..<40 {
            let faults = DevnetFaultControl()
            faults.update {
                $0.getLogsMaxRange = 2
                $0.rangeErrorDialect = .random
            }
            let rpc = DevnetRPC(chain: chain, faults: faults, seed: seed)
            let again = DevnetRPC(chain: chain, faults: DevnetFaultControl(faults.faults), seed: seed)
            #expect(rpc.rangeErrorDialect == again.rangeErrorDialect, "the same seed draws the same dialect")
            let answer = rpc.handleHTTP(getLogs(chain.earliestBlockNumber, chain.earliestBlockNumber + 5))
            #expect(
                rpc.handleHTTP(getLogs(chain.earliestBlockNumber, chain.earliestBlockNumber + 5)) == answer)
            // The answer is the drawn dialect's.
            let fixed = DevnetFaultControl(faults.faults)
            fixed.update { $0.rangeErrorDialect = .fixed(rpc.rangeErrorDialect) }
            let reference = DevnetRPC(chain: chain, faults: fixed, seed: 99)
            #expect(
                reference.handleHTTP(getLogs(chain.earliestBlockNumber, chain.earliestBlockNumber + 5))
                    == answer)
            drawn.append(rpc.rangeErrorDialect)
        }
        #expect(Set(drawn).count >= 8, "seeds spread over the catalogue: \(Set(drawn))")
    }
}

@Suite("Fault: a load-balanced HTTP endpoint with lagging backends")
struct LaggingBackendTests {
    /// A chain and an RPC with the pool on, after enough updates for every lag to be possible.
    private func setUp(
        seed: UInt64 = 41, pastHead: DevnetLaggingBackends.PastHead = .trim
    ) throws -> (SimulatedChain, DevnetRPC) {
        let chain = try makeChain(seed: seed)
        chain.mine(count: 10)
        let rpc = DevnetRPC(chain: chain, seed: seed)
        rpc.faults.update {
            $0.laggingBackends = DevnetLaggingBackends(count: 4, maximumLag: 3, pastHead: pastHead)
        }
        for _ in 0..<10 { chain.mine(count: 1) }
        return (chain, rpc)
    }

    @Test("eth_blockNumber is each backend's own head, 0-3 blocks behind; WebSocket stays on the fresh node")
    func blockNumber() throws {
        let (chain, rpc) = try setUp()
        let head = chain.blockNumber
        var seen: [UInt64] = []
        for i in 0..<200 {
            let answer = try #require(
                try object(rpc.handleHTTP(request("eth_blockNumber", id: i)).body)["result"] as? String)
            seen.append(try #require(UInt64(answer.dropFirst(2), radix: 16)))
        }
        #expect(seen.allSatisfy { $0 <= head && $0 + 3 >= head })
        #expect(seen.contains { $0 < head }, "some backend lags")
        #expect(rpc.backendLags.count == 4 && rpc.backendLags.allSatisfy { (0...3) ~= $0 })

        let connection = RecordingConnection()
        let session = rpc.openSession(connection)
        for i in 0..<50 { session.receive(request("eth_blockNumber", id: i)) }
        let answers = try connection.take().map { try object($0)["result"] as? String }
        #expect(answers.allSatisfy { $0 == JSONWriter.quantity(head) })
        session.close()
    }

    @Test("blocks past a backend's head are null; by hash unknown; getLogs by blockHash: unknown block")
    func missingBlocks() throws {
        let (chain, rpc) = try setUp()
        let head = try #require(chain.block(tag: .latest))
        var nullByNumber = 0
        var nullByHash = 0
        var unknownBlock = 0
        for i in 0..<100 {
            let byNumber = try object(
                rpc.handleHTTP(
                    request("eth_getBlockByNumber", "[\"\(JSONWriter.quantity(head.number))\",false]", id: i)
                ).body)
            if byNumber["result"] is NSNull {
                nullByNumber += 1
            } else {
                #expect((byNumber["result"] as? [String: Any])?["hash"] as? String == head.hash.hex)
            }
            let byHash = try object(
                rpc.handleHTTP(request("eth_getBlockByHash", "[\(quoted(head.hash)),false]")).body)
            if byHash["result"] is NSNull { nullByHash += 1 }
            let logs = rpc.handleHTTP(request("eth_getLogs", "[{\"blockHash\":\(quoted(head.hash))}]"))
            if let error = try object(logs.body)["error"] as? [String: Any] {
                #expect(error["code"] as? Int == -32000 && error["message"] as? String == "unknown block")
                unknownBlock += 1
            } else {
                #expect(try parseLogs(logs.body) == head.logs)
            }
        }
        // (Every backend may lag at once, as in a real pool: no upper bound.)
        #expect(nullByNumber > 0)
        #expect(nullByHash > 0)
        #expect(unknownBlock > 0)
    }

    @Test(
        "eth_getLogs past a backend's head: trimmed silently, refused with geth's words, or both",
        arguments: DevnetLaggingBackends.PastHead.allCases)
    func getLogsPastHead(mode: DevnetLaggingBackends.PastHead) throws {
        let (chain, rpc) = try setUp(seed: 42, pastHead: mode)
        var trimmed = 0
        var refused = 0
        for i in 0..<200 {
            // New blocks now and then, so the lags drift.
            if i % 10 == 0 { chain.mine(count: 1) }
            let head = chain.blockNumber
            let full = try chain.logs(
                filter: LogFilter(range: .blocks(from: .number(head - 4), to: .number(head))))
            let text = rpc.handleHTTP(getLogs(head - 4, head, id: i)).body
            if let error = try object(text)["error"] as? [String: Any] {
                #expect(error["code"] as? Int == -32602)
                #expect(error["message"] as? String == "block range extends beyond current head block")
                refused += 1
            } else {
                let logs = try parseLogs(text)
                #expect(
                    Array(full.prefix(logs.count)) == logs, "a prefix: the blocks up to the backend's head")
                if logs.count < full.count { trimmed += 1 }
            }
        }
        switch mode {
        case .trim: #expect(trimmed > 0 && refused == 0)
        case .refuse: #expect(refused > 0 && trimmed == 0)
        case .mixed: #expect(trimmed > 0 && refused > 0)
        }
    }

    @Test("lags drift over time within bounds, and a lagging backend still serves the branch a reorg left")
    func driftAndStaleBranch() throws {
        let (chain, rpc) = try setUp(seed: 43)
        var vectors: Set<[Int]> = []
        for _ in 0..<30 {
            chain.mine(count: 1)
            let lags = rpc.backendLags
            #expect(lags.allSatisfy { (0...3) ~= $0 })
            vectors.insert(lags)
        }
        #expect(vectors.count > 3, "the lags change over time")

        // A backend at least 2 updates behind (so still behind after the reorg's update), then a
        // reorg of the last 3 blocks.
        var lagging = rpc.backendLags.contains { $0 >= 2 }
        for _ in 0..<100 where !lagging {
            chain.mine(count: 1)
            lagging = rpc.backendLags.contains { $0 >= 2 }
        }
        try #require(lagging)
        let number = chain.blockNumber - 2
        let old = try #require(chain.block(number: number))
        try chain.reorg(depth: 3, newLength: 3)
        let new = try #require(chain.block(number: number))
        #expect(new.hash != old.hash)
        var hashes: Set<String> = []
        for i in 0..<100 {
            let answer = try object(
                rpc.handleHTTP(
                    request("eth_getBlockByNumber", "[\"\(JSONWriter.quantity(number))\",false]", id: i)
                ).body)
            if let block = answer["result"] as? [String: Any], let hash = block["hash"] as? String {
                hashes.insert(hash)
            }
        }
        #expect(
            hashes.contains(old.hash.hex), "a backend that has not seen the reorg yet serves the old branch")
        #expect(hashes.isSubset(of: [old.hash.hex, new.hash.hex]))
    }
}

@Suite("Fault: transient HTTP errors")
struct TransientErrorTests {
    @Test(
        "each kind: 429 with a provider's rate-limit body, 503, or header not found",
        arguments: DevnetTransientError.allCases)
    func kinds(kind: DevnetTransientError) throws {
        let chain = try makeChain(seed: 51)
        chain.mine(count: 5)
        let rpc = DevnetRPC(chain: chain)
        rpc.faults.update {
            $0.transientErrorRate = 1
            $0.transientErrorKinds = [kind]
        }
        var bodies: Set<String> = []
        for i in 0..<40 {
            let response = rpc.handleHTTP(request("eth_blockNumber", id: i))
            switch kind {
            case .rateLimited:
                #expect(response.status == 429)
                let o = try object(response.body)
                #expect(o["id"] as? Int == i && o["error"] is [String: Any])
            case .unavailable:
                #expect(response.status == 503)
                if response.contentType == "application/json" {
                    #expect(try errorObject(response.body)["code"] as? Int == -32011)
                } else {
                    #expect(response.body.contains("503 Service Unavailable"))
                }
            case .headerNotFound:
                #expect(response.status == 200)
                let o = try object(response.body)
                #expect(o["id"] as? Int == i)
                #expect((o["error"] as? [String: Any])?["message"] as? String == "header not found")
                #expect((o["error"] as? [String: Any])?["code"] as? Int == -32000)
            }
            bodies.insert(response.body.replacingOccurrences(of: "\"id\":\(i)", with: ""))
        }
        #expect(bodies.count >= (kind == .headerNotFound ? 1 : 2), "several providers' bodies")
        if kind == .headerNotFound {
            let batch = try array(
                rpc.handleHTTP(
                    "[" + request("eth_chainId", id: 1) + "," + request("eth_blockNumber", id: 2) + "]"
                ).body)
            #expect(batch.map { $0["id"] as? Int } == [1, 2])
            #expect(
                batch.allSatisfy {
                    ($0["error"] as? [String: Any])?["message"] as? String == "header not found"
                })
        }
    }

    @Test("that fraction of HTTP requests fails; asking again works; WebSocket is never affected")
    func rate() throws {
        let chain = try makeChain(seed: 52)
        chain.mine(count: 5)
        let rpc = DevnetRPC(chain: chain)
        rpc.faults.update { $0.transientErrorRate = 0.3 }
        var failed = 0
        for i in 0..<400 {
            let response = rpc.handleHTTP(request("eth_chainId", id: i))
            if response.status != 200 || (try? object(response.body)["result"] as? String) != "0x89" {
                failed += 1
            }
        }
        #expect(failed > 70 && failed < 170, "about 30%: \(failed)")

        let connection = RecordingConnection()
        let session = rpc.openSession(connection)
        session.receive(request("eth_subscribe", "[\"newHeads\"]", id: 0))
        for i in 1...100 { session.receive(request("eth_chainId", id: i)) }
        let frames = try connection.take().map { try object($0) }
        #expect(frames.count == 101)
        #expect(frames[0]["result"] is String, "the subscription handshake")
        #expect(frames.dropFirst().allSatisfy { $0["result"] as? String == "0x89" })
        session.close()
    }
}

@Suite("Fault switches together, and over the wire")
struct FaultSwitchCombinationTests {
    @Test("the HTTP server sends the dialect's status and body and the transient failures as they are")
    func overTheWire() async throws {
        let chain = try makeChain(seed: 61)
        chain.mine(count: 10)
        let rpc = DevnetRPC(chain: chain)
        let server = DevnetHTTPServer(port: 0) { rpc.handleHTTP($0) }
        let port = try await server.start()
        do {
            try await exchange(rpc: rpc, chain: chain, port: port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    private func exchange(rpc: DevnetRPC, chain: SimulatedChain, port: Int) async throws {
        func post(_ body: String) async throws -> (Int, String, String) {
            var urlRequest = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/")!)
            urlRequest.httpMethod = "POST"
            urlRequest.httpBody = Data(body.utf8)
            urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type")
            let (data, response) = try await URLSession.shared.data(for: urlRequest)
            let http = try #require(response as? HTTPURLResponse)
            return (
                http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "",
                String(decoding: data, as: UTF8.self)
            )
        }
        let start = chain.earliestBlockNumber
        rpc.faults.update {
            $0.getLogsMaxRange = 3
            $0.rangeErrorDialect = .fixed(.quicknode)
        }
        let (status, _, body) = try await post(getLogs(start, start + 5))
        #expect(status == 413)
        #expect(try errorObject(body)["code"] as? Int == -32614)
        rpc.faults.update { $0.rangeErrorDialect = .fixed(.quicknodePlainText) }
        let (plainStatus, type, plain) = try await post(getLogs(start, start + 5))
        #expect(
            plainStatus == 413 && type.hasPrefix("text/plain") && plain.hasPrefix("Request Entity Too Large"))
        rpc.faults.update {
            $0.transientErrorRate = 1
            $0.transientErrorKinds = [.rateLimited]
        }
        #expect(try await post(request("eth_chainId")).0 == 429)
        rpc.faults.faults = DevnetFaults()
        let (okStatus, _, ok) = try await post(request("eth_chainId"))
        #expect(okStatus == 200)
        #expect(try object(ok)["result"] as? String == "0x89")
    }

    @Test(
        "every switch at once, with reorgs, remining, range limits and hostile answers: only known answers, and the chain's canonical logs stay exact"
    )
    func allAtOnce() async throws {
        let chain = try makeChain(seed: 62)
        chain.mine(count: 20)
        let faults = DevnetFaultControl()
        faults.update {
            $0.getLogsMaxRange = 6
            $0.getLogsMaxResults = 40
            $0.rangeErrorDialect = .random
            $0.laggingBackends = DevnetLaggingBackends(count: 3, maximumLag: 3, pastHead: .mixed)
            $0.transientErrorRate = 0.2
            $0.malformedResponses = 0.05
            $0.reorgEvery = 4
            $0.reorgDepth = 1...4
            $0.remineOrphanedTransactions = 0.5
            $0.remineDelay = 1...3
        }
        let rpc = DevnetRPC(chain: chain, faults: faults, seed: 7)
        let producer = Task {
            try await DevnetProducer(
                chain: chain, faults: faults, blockInterval: .milliseconds(2), maximumBlocks: 60
            ).run()
        }
        var statuses: Set<Int> = []
        var answered = 0
        while !producer.isCancelled, answered < 600 {
            let head = chain.blockNumber
            let response = rpc.handleHTTP(getLogs(head - UInt64(answered % 9), head, id: answered))
            statuses.insert(response.status)
            #expect([200, 400, 413, 429, 503].contains(response.status))
            answered += 1
            if answered % 50 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await producer.value
        #expect(statuses.contains(200) && (statuses.contains(429) || statuses.contains(503)))
        #expect(!chain.reminedTransactions.isEmpty || !chain.pendingTransactions.isEmpty)
        // With the faults off, the node answers exactly the chain's canonical logs.
        faults.faults = DevnetFaults()
        let all = try chain.logs(filter: LogFilter(range: .blocks(from: .earliest, to: .latest)))
        #expect(try parseLogs(rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"earliest\"}]"))) == all)
        let hashes = all.map(\.transactionHash)
        for record in chain.reminedTransactions where chain.block(hash: record.reminedBlockHash) != nil {
            #expect(hashes.contains(record.transactionHash))
        }
    }
}
