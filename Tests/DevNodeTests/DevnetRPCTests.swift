import DevNode
import EVM
import Foundation
import Polymarket
import Testing

@Suite("DevnetRPC")
struct DevnetRPCTests {
    let chain: SimulatedChain
    let rpc: DevnetRPC

    init() throws {
        chain = try makeChain()
        chain.mine(count: 20)
        rpc = DevnetRPC(chain: chain)
    }

    private func result(_ response: String?) throws -> Any? {
        try object(response ?? "")["result"]
    }

    @Test("eth_chainId, net_version, eth_blockNumber, web3_clientVersion")
    func simpleMethods() throws {
        #expect(try result(rpc.handle(request("eth_chainId"))) as? String == "0x89")
        #expect(try result(rpc.handle(request("net_version"))) as? String == "137")
        #expect(
            try result(rpc.handle(request("eth_blockNumber"))) as? String == "0x"
                + String(chain.blockNumber, radix: 16))
        #expect(try result(rpc.handle(request("web3_clientVersion", "[]"))) is String)
        // params may be omitted
        #expect(
            try result(rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"eth_chainId\"}")) as? String
                == "0x89")
    }

    @Test("eth_getBlockByNumber by number and tag, with hashes or whole transactions; null past the head")
    func getBlock() throws {
        let head = chain.block(tag: .latest)!
        let latest = try #require(
            try result(rpc.handle(request("eth_getBlockByNumber", "[\"latest\", false]"))) as? [String: Any])
        #expect(latest["hash"] as? String == head.hash.hex)
        #expect(latest["number"] as? String == JSONWriter.quantity(head.number))
        #expect(latest["parentHash"] as? String == head.parentHash.hex)
        #expect(latest["timestamp"] as? String == JSONWriter.quantity(head.timestamp))
        #expect((latest["logsBloom"] as? String)?.count == 514)
        #expect(latest["transactions"] as? [String] == head.transactions.map(\.hash.hex))

        let n = head.number - 3
        let block = chain.block(number: n)!
        let full = try #require(
            try result(rpc.handle(request("eth_getBlockByNumber", "[\"\(JSONWriter.quantity(n))\", true]")))
                as? [String: Any])
        #expect(full["hash"] as? String == block.hash.hex)
        let txs = try #require(full["transactions"] as? [[String: Any]])
        #expect(txs.map { $0["hash"] as? String } == block.transactions.map(\.hash.hex))
        #expect(txs.first?["to"] as? String == block.transactions.first?.to.lowercased)

        let byHash = try #require(
            try result(rpc.handle(request("eth_getBlockByHash", "[\(quoted(block.hash))]"))) as? [String: Any]
        )
        #expect(byHash["number"] as? String == JSONWriter.quantity(n))

        let future = try object(
            rpc.handle(
                request("eth_getBlockByNumber", "[\"\(JSONWriter.quantity(head.number + 1))\", false]"))!)
        #expect(future["result"] is NSNull)
        #expect(try result(rpc.handle(request("eth_getBlockByNumber", "[\"earliest\"]"))) is [String: Any])
        #expect(try result(rpc.handle(request("eth_getBlockByNumber", "[\"finalized\"]"))) is [String: Any])
    }

    @Test("eth_getLogs returns the chain's logs in the JSON shape a parser reads back exactly")
    func getLogs() throws {
        let registry = try Repository.registry()
        let addresses = registry.contracts.map { "\"\($0.address.lowercased)\"" }.joined(separator: ",")
        let topics = registry.fillTopics.map(quoted).joined(separator: ",")
        let wallets = followed.map { quoted($0.word) }.joined(separator: ",")
        let filter =
            "{\"fromBlock\":\"earliest\",\"toBlock\":\"latest\",\"address\":[\(addresses)],\"topics\":[[\(topics)],null,[\(wallets)]]}"
        let logs = try parseLogs(rpc.handle(request("eth_getLogs", "[\(filter)]")))
        let expected = try chain.logs(
            filter: LogFilter(
                range: .blocks(from: .earliest, to: .latest), addresses: registry.contracts.map(\.address),
                topics: [registry.fillTopics, nil, followed.map(\.word)]))
        #expect(!logs.isEmpty)
        #expect(logs == expected)
        #expect(logs.count == chain.canonicalFills(makers: Set(followed)).count)

        // Every quantity is minimal hex and data is lowercase.
        let text = try #require(rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"0x0\"}]")))
        let raw = try #require(try object(text)["result"] as? [[String: Any]])
        #expect(!raw.isEmpty)
        for log in raw {
            for key in ["blockNumber", "transactionIndex", "logIndex"] {
                let q = try #require(log[key] as? String)
                #expect(q == "0x0" || !q.hasPrefix("0x0"))
            }
            let data = try #require(log["data"] as? String)
            #expect(data == data.lowercased())
            #expect(log["removed"] as? Bool == false)
            #expect(log["address"] as? String == (log["address"] as? String)?.lowercased())
        }

        // blockHash and a single address string.
        let block = chain.block(number: chain.blockNumber - 1)!
        let v2 = registry.contracts.first { $0.name == "CTFExchangeV2" }!
        let one = try parseLogs(
            rpc.handle(
                request(
                    "eth_getLogs",
                    "[{\"blockHash\":\(quoted(block.hash)),\"address\":\"\(v2.address.checksummed)\"}]")))
        #expect(one == block.logs.filter { $0.address == v2.address })
    }

    @Test("error objects: parse error, invalid request, method not found, invalid params, server errors")
    func errors() throws {
        #expect(try errorCode(rpc.handle("{\"jsonrpc\":\"2.0\",")) == -32700)
        #expect(try object(rpc.handle("not json")!)["id"] is NSNull)
        #expect(try errorCode(rpc.handle("[]")) == -32600)
        #expect(try errorCode(rpc.handle("42")) == -32600)
        #expect(try errorCode(rpc.handle("{\"id\":1,\"method\":\"eth_chainId\"}")) == -32600)
        #expect(
            try errorCode(rpc.handle("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"eth_chainId\"}")) == -32600)
        #expect(try errorCode(rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}")) == -32600)
        #expect(
            try errorCode(rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"eth_chainId\"}")) == -32600)
        #expect(
            try errorCode(
                rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":5}"))
                == -32600)
        #expect(
            try errorCode(
                rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":null}"))
                == -32600)
        #expect(try errorCode(rpc.handle(request("eth_sendRawTransaction", "[\"0x00\"]"))) == -32601)
        #expect(
            try errorCode(rpc.handle(request("eth_subscribe", "[\"newHeads\"]"))) == -32601,
            "no subscriptions over HTTP")
        for params in [
            "[\"0x01\"]", "[\"12\"]", "[\"0x\"]", "[\"0xzz\"]", "[\"latest\", \"yes\"]",
            "[\"latest\", false, 3]", "[]",
            "{\"block\":\"latest\"}", "[\"0x10000000000000000\"]",
        ] {
            #expect(try errorCode(rpc.handle(request("eth_getBlockByNumber", params))) == -32602, "\(params)")
        }
        let hash = quoted(chain.block(tag: .latest)!.hash)
        for filter in [
            "{\"blockHash\":\(hash),\"fromBlock\":\"0x1\"}", "{\"address\":\"0x1234\"}", "{\"address\":5}",
            "{\"topics\":[\"0x12\"]}", "{\"topics\":[null,null,null,null,null]}", "{\"topics\":\"0x\"}",
            "{\"fromBlock\":\"0x01\"}", "\"latest\"",
        ] {
            #expect(try errorCode(rpc.handle(request("eth_getLogs", "[\(filter)]"))) == -32602, "\(filter)")
        }
        #expect(
            try errorCode(rpc.handle(request("eth_getLogs", "[{\"blockHash\":\(quoted(.zero))}]"))) == -32000)
        #expect(
            try errorCode(rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"0x5\",\"toBlock\":\"0x4\"}]")))
                == -32000)
    }

    @Test("ids are echoed exactly; notifications get no response; batches answer each request in order")
    func idsAndBatches() throws {
        #expect(
            rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"eth_chainId\"}")?.contains(
                "\"id\":\"abc\"") == true)
        #expect(
            rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":1.50,\"method\":\"eth_chainId\"}")?.contains(
                "\"id\":1.50,") == true)
        #expect(
            rpc.handle("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"eth_chainId\"}")?.contains(
                "\"id\":null") == true)
        #expect(rpc.handle("{\"jsonrpc\":\"2.0\",\"method\":\"eth_chainId\"}") == nil)
        #expect(rpc.handle("{\"jsonrpc\":\"2.0\",\"method\":\"no_such\"}") == nil)
        #expect(rpc.handle("[{\"jsonrpc\":\"2.0\",\"method\":\"eth_chainId\"}]") == nil)

        let batch = try array(
            rpc.handle(
                "[" + request("eth_chainId", id: 1) + "," + request("nope", id: 2) + ",5,"
                    + "{\"jsonrpc\":\"2.0\",\"method\":\"eth_blockNumber\"}," + request("net_version", id: 3)
                    + "]")!)
        #expect(batch.count == 4)
        #expect(batch[0]["id"] as? Int == 1 && batch[0]["result"] as? String == "0x89")
        #expect(
            batch[1]["id"] as? Int == 2 && (batch[1]["error"] as? [String: Any])?["code"] as? Int == -32601)
        #expect(batch[2]["id"] is NSNull && (batch[2]["error"] as? [String: Any])?["code"] as? Int == -32600)
        #expect(batch[3]["id"] as? Int == 3 && batch[3]["result"] as? String == "137")
    }

    @Test("eth_getLogs range and result limits answer -32005 with the providers' wording")
    func limitFaults() throws {
        rpc.faults.update { $0.getLogsMaxRange = 5 }
        let ok = rpc.handle(
            request("eth_getLogs", "[{\"fromBlock\":\"0x42c1d80\",\"toBlock\":\"0x42c1d84\"}]"))
        #expect(try errorCode(ok) == nil)
        let tooWide = try object(
            rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"0x42c1d80\",\"toBlock\":\"0x42c1d85\"}]"))!)
        let error = try #require(tooWide["error"] as? [String: Any])
        #expect(error["code"] as? Int == -32005)
        #expect((error["message"] as? String)?.contains("block range is too large") == true)
        #expect(try errorCode(rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"earliest\"}]"))) == -32005)
        #expect(
            try errorCode(
                rpc.handle(
                    request("eth_getLogs", "[{\"blockHash\":\(quoted(chain.block(tag: .latest)!.hash))}]")))
                == nil)

        rpc.faults.faults = DevnetFaults()
        rpc.faults.update { $0.getLogsMaxResults = 3 }
        let many = try object(rpc.handle(request("eth_getLogs", "[{\"fromBlock\":\"earliest\"}]"))!)
        let manyError = try #require(many["error"] as? [String: Any])
        #expect(manyError["code"] as? Int == -32005)
        #expect(manyError["message"] as? String == "query returned more than 3 results")
    }
}

@Suite("DevnetRPC hostile answers")
struct DevnetHostileResponseTests {
    @Test(
        "fault: malformed responses of each kind replace the real answer",
        arguments: DevnetMalformedFrame.allCases)
    func malformedResponses(kind: DevnetMalformedFrame) throws {
        let registry = try Repository.registry()
        let chain = try makeChain()
        chain.mine(count: 5)
        let rpc = DevnetRPC(chain: chain)
        rpc.faults.update {
            $0.malformedResponses = 1
            $0.malformedFrameKinds = [kind]
            $0.hugeFrameBytes = 50_000
        }
        let getLogs = request("eth_getLogs", "[{\"fromBlock\":\"earliest\"}]", id: 9)
        let text = try #require(rpc.handle(getLogs))
        switch kind {
        case .invalidJSON:
            #expect((try? object(text)) == nil)
        case .wrongTypes:
            #expect((try? parseLogs(text)) == nil)
        case .unknownSubscription:
            #expect(try object(text)["id"] as? Int != 9)
        case .unconfiguredAddress:
            let logs = try parseLogs(text)
            let expected = try chain.logs(filter: LogFilter(range: .blocks(from: .earliest, to: .latest)))
            #expect(logs.count == expected.count + 1)
            #expect(registry.contract(at: logs[0].address) == nil)
            #expect(Array(logs.dropFirst()) == expected)
        case .hugeFrame:
            #expect(text.utf8.count == 50_000)
            #expect(try object(text)["id"] as? Int == 9)
        }
        rpc.faults.faults = DevnetFaults()
        #expect(try parseLogs(rpc.handle(getLogs)).count > 0)
    }
}

@Suite("DevnetRPC subscriptions")
struct DevnetSubscriptionTests {
    let chain: SimulatedChain
    let rpc: DevnetRPC

    init() throws {
        chain = try makeChain(seed: 11)
        chain.mine(count: 5)
        rpc = DevnetRPC(chain: chain)
    }

    /// Subscribes and returns the subscription id from the response frame.
    private func subscribe(
        _ session: DevnetSession, _ connection: RecordingConnection, _ params: String, id: Int = 1
    )
        throws -> String
    {
        session.receive(request("eth_subscribe", params, id: id))
        let frames = connection.take()
        #expect(frames.count == 1)
        let response = try object(frames.first ?? "")
        #expect(response["id"] as? Int == id)
        return try #require(response["result"] as? String)
    }

    private func notifications(_ frames: [String]) throws -> [(subscription: String, result: Any)] {
        try frames.map { frame in
            let o = try object(frame)
            #expect(o["method"] as? String == "eth_subscription")
            let params = try #require(o["params"] as? [String: Any])
            return (try #require(params["subscription"] as? String), try #require(params["result"]))
        }
    }

    private var followedLogsFilter: String {
        "[\"logs\",{\"topics\":[null,null,[\(followed.map { quoted($0.word) }.joined(separator: ","))]]}]"
    }

    @Test("notifications go to the subscribing connection only, in chain order, with the getLogs shape")
    func routing() throws {
        let a = RecordingConnection()
        let b = RecordingConnection()
        let sessionA = rpc.openSession(a)
        let sessionB = rpc.openSession(b)
        #expect(sessionA.id != sessionB.id)
        #expect(rpc.openSessionCount == 2)
        let logsID = try subscribe(sessionA, a, followedLogsFilter)
        let headsID = try subscribe(sessionB, b, "[\"newHeads\"]")
        #expect(logsID.hasPrefix("0x") && logsID.count == 34)
        #expect(logsID != headsID)

        let first = chain.blockNumber + 1
        chain.mine(count: 10)
        let expected = try chain.logs(
            filter: LogFilter(
                range: .blocks(from: .number(first), to: .latest), topics: [nil, nil, followed.map(\.word)]))
        #expect(!expected.isEmpty)
        let aFrames = a.take()
        let aNotes = try notifications(aFrames)
        #expect(aNotes.allSatisfy { $0.subscription == logsID })
        let parsed = try aFrames.map { try EthLogParser.parse(line: $0) }
        #expect(parsed == expected)

        let bNotes = try notifications(b.take())
        #expect(bNotes.count == 10)
        #expect(bNotes.allSatisfy { $0.subscription == headsID })
        let numbers = bNotes.compactMap { ($0.result as? [String: Any])?["number"] as? String }
        #expect(numbers == (first...chain.blockNumber).map { JSONWriter.quantity($0) })
        let head = try #require(bNotes.last?.result as? [String: Any])
        #expect(head["hash"] as? String == chain.block(tag: .latest)!.hash.hex)
        #expect(head["transactions"] == nil)
    }

    @Test("unsubscribe stops notifications; unknown ids answer false; close drops the session")
    func unsubscribe() throws {
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        let heads = try subscribe(session, a, "[\"newHeads\"]")
        let logs = try subscribe(session, a, "[\"logs\",{}]", id: 2)
        #expect(session.subscriptionIDs == [heads, logs])
        chain.mine(count: 1)
        #expect(!a.take().isEmpty)

        session.receive(request("eth_unsubscribe", "[\"\(heads)\"]", id: 3))
        #expect(try object(a.take().first ?? "")["result"] as? Bool == true)
        session.receive(request("eth_unsubscribe", "[\"\(heads)\"]", id: 4))
        #expect(try object(a.take().first ?? "")["result"] as? Bool == false)
        chain.mine(count: 1)
        let after = try notifications(a.take())
        #expect(!after.isEmpty)
        #expect(after.allSatisfy { $0.subscription == logs })

        session.close()
        #expect(rpc.openSessionCount == 0)
        chain.mine(count: 1)
        session.receive(request("eth_chainId"))
        #expect(a.take().isEmpty)
    }

    @Test("subscribe errors: unknown kind, bad filter, newHeads with a filter")
    func subscribeErrors() throws {
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        for params in [
            "[\"pendingTransactions2\"]", "[\"logs\",{\"address\":\"0x12\"}]", "[\"newHeads\",{}]", "[]",
            "[5]",
        ] {
            session.receive(request("eth_subscribe", params))
            #expect(try errorCode(a.take().first) == -32602, "\(params)")
        }
        #expect(session.subscriptionIDs.isEmpty)
    }

    @Test("a reorg sends removed copies of the orphaned matching logs, then the new branch's logs and heads")
    func reorgNotifications() throws {
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        let logsID = try subscribe(session, a, "[\"logs\",{}]")
        let headsID = try subscribe(session, a, "[\"newHeads\"]", id: 2)
        chain.mine(count: 10)
        _ = a.take()
        let report = try chain.reorg(depth: 4, newLength: 5)
        let notes = try notifications(a.take())
        let removedCount = report.removedBlocks.reduce(0) { $0 + $1.logs.count }
        let removed = notes.prefix(removedCount)
        #expect(
            removed.allSatisfy {
                $0.subscription == logsID && ($0.result as? [String: Any])?["removed"] as? Bool == true
            })
        let removedHashes = Set(report.removedBlocks.map(\.hash.hex))
        #expect(
            removed.allSatisfy {
                removedHashes.contains((($0.result as? [String: Any])?["blockHash"] as? String) ?? "")
            })
        let rest = notes.dropFirst(removedCount)
        #expect(rest.filter { $0.subscription == headsID }.count == 5)
        let newLogs = rest.filter { $0.subscription == logsID }
        #expect(newLogs.count == report.newBlocks.reduce(0) { $0 + $1.logs.count })
        #expect(newLogs.allSatisfy { ($0.result as? [String: Any])?["removed"] as? Bool == false })
    }

    @Test("fault: duplicate notifications")
    func duplicates() throws {
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        _ = try subscribe(session, a, "[\"newHeads\"]")
        rpc.faults.update { $0.duplicateNotifications = 1 }
        chain.mine(count: 3)
        let frames = a.take()
        #expect(frames.count == 6)
        #expect(frames[0] == frames[1] && frames[2] == frames[3] && frames[4] == frames[5])
    }

    @Test("fault: stale subscriptions stay registered but silent until the client subscribes again")
    func stale() throws {
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        let old = try subscribe(session, a, "[\"newHeads\"]")
        rpc.stallSubscriptions()
        chain.mine(count: 3)
        #expect(a.take().isEmpty)
        #expect(session.subscriptionIDs == [old])
        #expect(session.liveSubscriptionIDs.isEmpty)
        let fresh = try subscribe(session, a, "[\"newHeads\"]", id: 2)
        chain.mine(count: 2)
        let notes = try notifications(a.take())
        #expect(notes.count == 2 && notes.allSatisfy { $0.subscription == fresh })

        rpc.faults.update { $0.staleSubscriptions = 1 }
        chain.mine(count: 2)
        #expect(a.take().isEmpty)
        session.receive(request("eth_unsubscribe", "[\"\(fresh)\"]", id: 3))
        #expect(try object(a.take().first ?? "")["result"] as? Bool == true)
    }

    @Test("fault: malformed frames of every kind come in addition to the real notifications")
    func malformed() throws {
        let registry = try Repository.registry()
        let a = RecordingConnection()
        let session = rpc.openSession(a)
        let id = try subscribe(session, a, "[\"logs\",{}]")
        rpc.faults.update {
            $0.malformedFrames = 0.5
            $0.malformedFrameKinds = DevnetMalformedFrame.allCases
            $0.hugeFrameBytes = 100_000
        }
        let first = chain.blockNumber + 1
        chain.mine(count: 30)
        let expected = try chain.logs(filter: LogFilter(range: .blocks(from: .number(first), to: .latest)))
        var real: [EthLog] = []
        var invalid = 0
        var unknown = 0
        var unconfigured = 0
        var huge = 0
        var wrongTypes = 0
        for frame in a.take() {
            if frame.utf8.count >= 100_000 {
                huge += 1
                continue
            }
            guard let o = try? object(frame) else {
                invalid += 1
                continue
            }
            guard let params = o["params"] as? [String: Any], params["subscription"] as? String == id,
                let log = try? EthLogParser.parse(line: frame)
            else {
                if let params = o["params"] as? [String: Any], let sub = params["subscription"] as? String,
                    sub != id
                {
                    unknown += 1
                } else {
                    wrongTypes += 1
                }
                continue
            }
            if registry.contract(at: log.address) == nil {
                unconfigured += 1
            } else {
                real.append(log)
            }
        }
        #expect(real.count == expected.count)
        #expect(real == expected, "the real notifications are all there, unaltered and in order")
        #expect(invalid > 0)
        #expect(unknown > 0)
        #expect(unconfigured > 0)
        #expect(huge > 0)
        #expect(wrongTypes > 0)
    }

    @Test("the subscription id reaches the client before any notification of it, under concurrent mining")
    func responseBeforeNotification() async throws {
        let producer = DevnetProducer(chain: chain, blockInterval: .milliseconds(1), maximumBlocks: 200)
        let task = Task { try await producer.run() }
        for round in 0..<50 {
            let a = RecordingConnection()
            let session = rpc.openSession(a)
            session.receive(request("eth_subscribe", "[\"newHeads\"]", id: round))
            try await Task.sleep(for: .milliseconds(1))
            let frames = a.all
            #expect(try object(frames[0])["id"] as? Int == round)
            session.close()
        }
        try await task.value
    }
}

@Suite("DevnetProducer")
struct DevnetProducerTests {
    @Test("mines a block per interval and stops after maximumBlocks")
    func minesBlocks() async throws {
        let chain = try makeChain()
        let start = chain.blockNumber
        try await DevnetProducer(chain: chain, blockInterval: .milliseconds(2), maximumBlocks: 10).run()
        #expect(chain.blockNumber == start + 10)
    }

    @Test("returns when cancelled")
    func cancellation() async throws {
        let chain = try makeChain()
        let producer = DevnetProducer(chain: chain, blockInterval: .milliseconds(5))
        let task = Task { try await producer.run() }
        // Wait for a few blocks (the test machine may be busy), then cancel.
        let start = chain.blockNumber
        for _ in 0..<1_000 where chain.blockNumber < start + 3 { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        try await task.value
        let height = chain.blockNumber
        #expect(height > chain.earliestBlockNumber)
        try await Task.sleep(for: .milliseconds(30))
        #expect(chain.blockNumber == height)
    }

    @Test("reorgs every N blocks when the fault is on")
    func reorgs() async throws {
        let chain = try makeChain()
        let updates = RecordingConnection()
        let rpc = DevnetRPC(chain: chain)
        let session = rpc.openSession(updates)
        session.receive(request("eth_subscribe", "[\"logs\",{}]"))
        let faults = DevnetFaultControl()
        faults.update {
            $0.reorgEvery = 5
            $0.reorgDepth = 2...3
        }
        try await DevnetProducer(
            chain: chain, faults: faults, blockInterval: .milliseconds(1), maximumBlocks: 20
        ).run()
        #expect(updates.all.contains { $0.contains("\"removed\":true") })
        #expect(!chain.orphanedFills().isEmpty || chain.canonicalFills().count > 0)
        session.close()
    }
}
