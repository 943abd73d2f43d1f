import EVM
import Synchronization

/// The client side of one connection, as the transport (WebSocket server) provides it.
///
/// The devnet pushes every frame for the connection through `send`: responses to the requests
/// the client sent on it (``DevnetSession/receive(_:)``) and `eth_subscription` notifications,
/// in the order they must reach the client. Calls for one connection never overlap.
public protocol DevnetConnection: Sendable {
    /// Queues one text frame for the client, after every frame queued before it. Must not block
    /// for long and must not call back into the devnet. Returns false when the connection is gone.
    @discardableResult
    func send(_ text: String) -> Bool
}

/// JSON-RPC 2.0 over text for a ``SimulatedChain``, independent of the transport.
///
/// - HTTP: ``handleHTTP(_:)`` turns a request body into an HTTP answer (status, content type,
///   body); ``handle(_:)`` gives just the body (nil for notifications). Subscriptions need a
///   connection and are refused there (-32601 "notifications not supported"). The HTTP-only
///   faults act here: ``DevnetFaults/transientErrorRate``, ``DevnetFaults/laggingBackends``, and
///   the HTTP status of a ``DevnetRangeErrorDialect``.
/// - WebSocket: ``openSession(_:)`` when a client connects, ``DevnetSession/receive(_:)`` for each
///   text message (the response goes out through the connection), ``DevnetSession/close()`` when it
///   disconnects. Chain updates reach the session's subscriptions through the same connection.
///
/// Methods: `eth_chainId`, `net_version`, `eth_blockNumber`, `eth_getBlockByNumber`,
/// `eth_getBlockByHash`, `eth_getLogs`, `eth_subscribe` (`logs` with a filter, `newHeads`),
/// `eth_unsubscribe`, `web3_clientVersion`; batches. Faults come from ``faults``.
///
/// Binding a WebSocket server (here the loopback libwebsockets server) takes a connection type
/// and one loop over its events:
///
/// ```swift
/// struct Client: DevnetConnection {
///     let server: LoopbackWebSocketServer
///     let id: LoopbackClientID
///     func send(_ text: String) -> Bool { server.send(text, to: id) }
/// }
/// var sessions: [LoopbackClientID: DevnetSession] = [:]
/// for await event in server.events {
///     switch event {
///     case .connected(let id): sessions[id] = rpc.openSession(Client(server: server, id: id))
///     case .text(let id, let text): sessions[id]?.receive(text)
///     case .binary: break
///     case .disconnected(let id): sessions.removeValue(forKey: id)?.close()
///     }
/// }
/// ```
///
/// An HTTP server calls ``handleHTTP(_:)`` with each POST body and sends the answer as it is
/// (``DevnetHTTPServer/init(host:port:maximumBodyBytes:responseHandler:)`` does). The chain
/// outlives both: stopping and starting the servers over the same `SimulatedChain` is a node
/// restart that keeps the chain.
public final class DevnetRPC: Sendable {
    /// The chain served.
    public let chain: SimulatedChain
    /// The fault switches in force.
    public let faults: DevnetFaultControl

    private struct Registry: Sendable {
        var sessions: [Int: DevnetSession] = [:]
        var nextSessionID = 1
        var rng: DevnetRandom
        var observer: ChainObserverID?
        var pool: BackendPool
    }

    private let registry: Mutex<Registry>
    /// The dialect `.random` stands for on this node, drawn from the seed when it starts.
    private let drawnDialect: DevnetRangeErrorDialect

    /// Serves `chain`; `seed` drives the fault decisions and subscription ids, and picks the
    /// node's dialect for ``DevnetRangeErrorDialect/Choice/random``.
    public init(
        chain: SimulatedChain, faults: DevnetFaultControl = DevnetFaultControl(), seed: UInt64 = 0xD5_E7
    ) {
        self.chain = chain
        self.faults = faults
        self.registry = Mutex(
            Registry(rng: DevnetRandom(seed: seed), pool: BackendPool(head: chain.block(tag: .latest))))
        var dialects = DevnetRandom(seed: seed ^ 0xD1A1_EC75)
        drawnDialect = DevnetRangeErrorDialect.allCases.randomElement(using: &dialects) ?? .devnet
        let observer = chain.addObserver { [weak self] update in self?.deliver(update) }
        registry.withLock { $0.observer = observer }
    }

    /// The dialect `eth_getLogs` refusals are worded in now: the fixed one of
    /// ``DevnetFaults/rangeErrorDialect``, or for `.random` the one this node drew when it started
    /// (the same for the node's whole life, restarts of its servers included).
    public var rangeErrorDialect: DevnetRangeErrorDialect {
        switch faults.faults.rangeErrorDialect {
        case .fixed(let dialect): dialect
        case .random: drawnDialect
        }
    }

    /// How many chain updates each backend of the load-balanced endpoint lags now (empty when
    /// ``DevnetFaults/laggingBackends`` is off or no HTTP request or chain update has seen it yet).
    public var backendLags: [Int] {
        let configuration = faults.faults.laggingBackends
        return registry.withLock { r in
            r.pool.configure(configuration, rng: &r.rng)
            return r.pool.backends.map(\.lag)
        }
    }

    deinit {
        if let observer = registry.withLock({ $0.observer }) { chain.removeObserver(observer) }
    }

    // MARK: - Transport entry points

    /// Answers one HTTP request body: the body of ``handleHTTP(_:)``'s answer, or nil when it is
    /// empty (a notification, or a batch of notifications).
    public func handle(_ text: String) -> String? {
        let response = handleHTTP(text)
        return response.body.isEmpty ? nil : response.body
    }

    /// Answers one HTTP request body with the whole HTTP answer. Usually 200 with the JSON-RPC
    /// response; the HTTP faults change that: a transient failure (429, 503, or "header not
    /// found") in place of any answer, a lagging backend's view of the chain, a dialect's 413 or
    /// 400 for a refused `eth_getLogs`.
    public func handleHTTP(_ text: String) -> DevnetHTTPServer.Response {
        let faults = self.faults.faults
        if faults.transientErrorRate > 0 {
            let failure = registry.withLock { r -> (DevnetTransientError, Int)? in
                guard r.rng.chance(faults.transientErrorRate),
                    let kind = faults.transientErrorKinds.randomElement(using: &r.rng)
                else { return nil }
                return (kind, r.rng.int(in: 0...3))
            }
            if let (kind, variant) = failure {
                return TransientFailures.response(kind, variant: variant, to: text)
            }
        }
        var view = NodeView.fresh
        if let lagging = faults.laggingBackends {
            view = registry.withLock { r in
                r.pool.configure(lagging, rng: &r.rng)
                return r.pool.view(of: r.rng.int(in: 0...(r.pool.backends.count - 1)), chain: chain)
            }
        }
        var none: DevnetSession.State? = nil
        let reply = respond(to: text, session: &none, view: view)
        if let plain = reply.plainTextBody {
            return DevnetHTTPServer.Response(
                status: reply.httpStatus ?? 200, contentType: "text/plain; charset=utf-8", body: plain)
        }
        return DevnetHTTPServer.Response(status: reply.httpStatus ?? 200, body: reply.text ?? "")
    }

    /// Starts serving a WebSocket client that pushes frames through `connection`.
    public func openSession(_ connection: any DevnetConnection) -> DevnetSession {
        registry.withLock { r in
            let session = DevnetSession(
                id: r.nextSessionID, rpc: self, connection: connection, seed: r.rng.next())
            r.sessions[session.id] = session
            r.nextSessionID += 1
            return session
        }
    }

    /// The sessions open now.
    public var openSessionCount: Int { registry.withLock { $0.sessions.count } }

    /// Kills every current subscription of every session without telling anyone (the
    /// `staleSubscriptions` fault, at once): sockets stay open, notifications stop, until the
    /// client subscribes again.
    public func stallSubscriptions() {
        for session in sessions() { session.stallSubscriptions() }
    }

    func sessionClosed(_ id: Int) {
        _ = registry.withLock { $0.sessions.removeValue(forKey: id) }
    }

    private func sessions() -> [DevnetSession] {
        registry.withLock { r in r.sessions.keys.sorted().compactMap { r.sessions[$0] } }
    }

    private func deliver(_ update: ChainUpdate) {
        let faults = self.faults.faults
        registry.withLock { r in
            r.pool.configure(faults.laggingBackends, rng: &r.rng)
            r.pool.record(update, rng: &r.rng)
        }
        for session in sessions() { session.deliver(update, faults: faults) }
    }

    // MARK: - Requests

    /// The answer to a request text: the JSON-RPC response text (nil for notifications only), and
    /// what an HTTP server must do instead of a plain 200 (from the first request that says).
    struct Reply {
        var text: String?
        var httpStatus: Int? = nil
        var plainTextBody: String? = nil
    }

    /// Parses `text` (a request or a batch) and answers it as `view` sees the chain.
    func respond(to text: String, session: inout DevnetSession.State?, view: NodeView = .fresh) -> Reply {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            return Reply(
                text: Self.response(id: .null, error: .parse("\(error.message) at offset \(error.offset)")))
        }
        var reply = Reply(text: nil)
        if case .array(let requests) = value {
            guard !requests.isEmpty else {
                return Reply(text: Self.response(id: .null, error: .invalidRequest("empty batch")))
            }
            let responses = requests.compactMap {
                respond(toRequest: $0, session: &session, view: view, reply: &reply)
            }
            reply.text = responses.isEmpty ? nil : "[" + responses.joined(separator: ",") + "]"
            return reply
        }
        reply.text = respond(toRequest: value, session: &session, view: view, reply: &reply)
        return reply
    }

    private func respond(
        toRequest request: JSONValue, session: inout DevnetSession.State?, view: NodeView, reply: inout Reply
    ) -> String? {
        guard case .object = request else {
            return Self.response(id: .null, error: .invalidRequest("a request must be an object"))
        }
        let id = request["id"]
        switch id {
        case nil, .null?, .number?, .string?: break
        default:
            return Self.response(id: .null, error: .invalidRequest("id must be a string, a number or null"))
        }
        guard request["jsonrpc"] == .string("2.0") else {
            return Self.response(id: id ?? .null, error: .invalidRequest("jsonrpc must be \"2.0\""))
        }
        guard case .string(let method)? = request["method"] else {
            return Self.response(id: id ?? .null, error: .invalidRequest("method must be a string"))
        }
        switch request["params"] {
        case nil, .array?, .object?: break
        default:
            return Self.response(
                id: id ?? .null, error: .invalidRequest("params must be an array or an object"))
        }
        let result: Result<String, RPCError>
        do throws(RPCError) {
            result = .success(try call(method, request["params"], session: &session, view: view))
        } catch {
            result = .failure(error)
        }
        guard let id else { return nil }  // a notification gets no response
        if case .failure(let error) = result, reply.httpStatus == nil, let status = error.httpStatus {
            reply.httpStatus = status
            reply.plainTextBody = error.plainTextBody
        }
        if case .success(let text) = result,
            let hostile = hostileResponse(id: id, method: method, result: text)
        {
            return hostile
        }
        switch result {
        case .success(let text): return Self.response(id: id, result: text)
        case .failure(let error): return Self.response(id: id, error: error)
        }
    }

    /// A hostile replacement for a successful response, when the `malformedResponses` fault fires.
    private func hostileResponse(id: JSONValue, method: String, result: String) -> String? {
        let faults = self.faults.faults
        guard faults.malformedResponses > 0, method != "eth_subscribe", method != "eth_unsubscribe" else {
            return nil
        }
        return registry.withLock { r -> String? in
            guard r.rng.chance(faults.malformedResponses),
                let kind = faults.malformedFrameKinds.randomElement(using: &r.rng)
            else { return nil }
            return HostileFrames.response(
                kind, id: id, method: method, realResult: result, hugeBytes: faults.hugeFrameBytes,
                rng: &r.rng)
        }
    }

    private func call(
        _ method: String, _ params: JSONValue?, session: inout DevnetSession.State?, view: NodeView
    ) throws(RPCError)
        -> String
    {
        switch method {
        case "eth_chainId":
            _ = try RPCParams.positional(params, max: 0)
            return "\"" + JSONWriter.quantity(chain.chainId) + "\""
        case "net_version":
            _ = try RPCParams.positional(params, max: 0)
            return "\"\(chain.chainId)\""
        case "web3_clientVersion":
            _ = try RPCParams.positional(params, max: 0)
            return "\"copybot-devnet/1.0\""
        case "eth_blockNumber":
            _ = try RPCParams.positional(params, max: 0)
            return "\"" + JSONWriter.quantity(view.headNumber(chain)) + "\""
        case "eth_getBlockByNumber", "eth_getBlockByHash":
            let args = try RPCParams.positional(params, max: 2)
            guard let first = args.first else {
                throw .invalidParams("missing value for required argument 0")
            }
            let full = try RPCParams.bool(args.count > 1 ? args[1] : nil, default: false, argument: 1)
            let block =
                method == "eth_getBlockByNumber"
                ? view.block(
                    number: view.number(of: try RPCParams.blockTag(first, argument: 0), chain), chain)
                : view.block(hash: try RPCParams.bytes32(first, argument: 0), chain)
            guard let block else { return "null" }
            var out = ""
            JSONWriter.writeBlock(block, fullTransactions: full, to: &out)
            return out
        case "eth_getLogs":
            let args = try RPCParams.positional(params, max: 1)
            guard let first = args.first else {
                throw .invalidParams("missing value for required argument 0")
            }
            let filter = try RPCParams.filter(first, argument: 0)
            let logs = try getLogs(filter, view: view)
            var out = ""
            out.reserveCapacity(logs.count * 1_000 + 2)
            JSONWriter.write(logs, to: &out)
            return out
        case "eth_subscribe":
            guard session != nil else { throw RPCError(code: -32601, message: "notifications not supported") }
            let args = try RPCParams.positional(params, max: 2)
            guard case .string(let kind)? = args.first else {
                throw .invalidParams("expected a subscription name", argument: 0)
            }
            let subscription: DevnetSession.Subscription.Kind
            switch kind {
            case "newHeads":
                guard args.count == 1 else { throw .invalidParams("too many arguments, want at most 1") }
                subscription = .newHeads
            case "logs":
                var filter = args.count > 1 ? try RPCParams.filter(args[1], argument: 1) : LogFilter()
                filter.range = .blocks(from: .latest, to: .latest)
                subscription = .logs(filter)
            default:
                throw .invalidParams("no \"\(kind)\" subscription in eth namespace", argument: 0)
            }
            let id = session!.subscribe(subscription)
            return "\"" + id + "\""
        case "eth_unsubscribe":
            guard session != nil else { throw RPCError(code: -32601, message: "notifications not supported") }
            let args = try RPCParams.positional(params, max: 1)
            guard case .string(let id)? = args.first else {
                throw .invalidParams("expected a subscription id", argument: 0)
            }
            return session!.unsubscribe(id) ? "true" : "false"
        default:
            throw .methodNotFound(method)
        }
    }

    /// `eth_getLogs` as `view` answers it, refusals worded in the node's dialect.
    private func getLogs(_ filter: LogFilter, view: NodeView) throws(RPCError) -> [EthLog] {
        let faults = self.faults.faults
        let dialect = rangeErrorDialect
        // The bounds as the node resolves them (a blockHash query is its block).
        let from: UInt64
        let to: UInt64
        switch filter.range {
        case .blockHash(let hash):
            guard let block = view.block(hash: hash, chain) else { throw .server("unknown block") }
            (from, to) = (block.number, block.number)
        case .blocks(let fromTag, let toTag):
            (from, to) = (view.number(of: fromTag, chain), view.number(of: toTag, chain))
            guard from <= to else {
                throw .server(LogQueryError.invalidRange(from: from, to: to).description)
            }
            if let limit = faults.getLogsMaxRange, to - from >= limit {
                let blocks = (to - from).addingReportingOverflow(1)
                let end = from.addingReportingOverflow(max(1, limit) - 1)
                throw dialect.refusal(
                    .range(blocks: blocks.overflow ? .max : blocks.partialValue, limit: limit), from: from,
                    to: to,
                    fitting: from...(end.overflow ? .max : end.partialValue))
            }
            // geth: "block range extends beyond current head block" (go-ethereum
            // eth/filters/filter.go; ethereum/execution-apis tests/eth_getLogs/
            // filter-error-future-block-range.io), -32602.
            if view.refusesPastHead && to > view.headNumber(chain) {
                throw .invalidParams("block range extends beyond current head block")
            }
        }
        let refuseResults = { (limit: Int) throws(RPCError) -> Never in
            throw dialect.refusal(
                .results(limit: limit), from: from, to: to,
                fitting: self.fittingRange(filter, view: view, from: from, to: to, limit: limit))
        }
        guard view.head != nil else {
            // The fresh node: one atomic query of the chain.
            do {
                return try chain.logs(filter: filter, maxRange: nil, maxResults: faults.getLogsMaxResults)
            } catch {
                switch error {
                case .tooManyResults(let limit): try refuseResults(limit)
                case .unknownBlock: throw .server("unknown block")
                case .rangeTooLarge, .invalidRange: throw .server(error.description)
                }
            }
        }
        var result: [EthLog] = []
        let first = max(from, chain.earliestBlockNumber)
        let last = min(to, view.headNumber(chain))
        guard first <= last else { return [] }
        for n in first...last {
            guard let block = view.block(number: n, chain) else { continue }
            for log in block.logs where filter.matches(log) {
                result.append(log)
                if let limit = faults.getLogsMaxResults, result.count > limit { try refuseResults(limit) }
            }
        }
        return result
    }

    /// The widest range from `from` whose logs fit in `limit`, as a provider suggests it (at
    /// least one block).
    private func fittingRange(
        _ filter: LogFilter, view: NodeView, from: UInt64, to: UInt64, limit: Int
    ) -> ClosedRange<UInt64> {
        var count = 0
        let last = min(to, view.headNumber(chain))
        guard from < last else { return from...from }
        for n in from...last {
            let matching = view.block(number: n, chain)?.logs.count(where: filter.matches) ?? 0
            count += matching
            if count > limit { return from...max(from, n - 1) }
        }
        return from...last
    }

    static func response(id: JSONValue, result: String) -> String {
        var out = "{\"jsonrpc\":\"2.0\",\"id\":"
        id.write(to: &out)
        out += ",\"result\":"
        out += result
        out += "}"
        return out
    }

    static func response(id: JSONValue, error: RPCError) -> String {
        var out = "{\"jsonrpc\":\"2.0\",\"id\":"
        id.write(to: &out)
        out += ",\"error\":"
        error.write(to: &out)
        out += "}"
        return out
    }
}
