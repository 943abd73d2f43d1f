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
/// - HTTP: ``handle(_:)`` turns a request body into a response body (nil for notifications).
///   Subscriptions need a connection and are refused there (-32601 "notifications not supported").
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
/// An HTTP server calls ``handle(_:)`` with each POST body and answers 200 with the returned
/// text (204 / empty body when it is nil). The chain outlives both: stopping and starting the
/// servers over the same `SimulatedChain` is a node restart that keeps the chain.
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
    }

    private let registry: Mutex<Registry>

    /// Serves `chain`; `seed` drives the fault decisions and subscription ids.
    public init(
        chain: SimulatedChain, faults: DevnetFaultControl = DevnetFaultControl(), seed: UInt64 = 0xD5_E7
    ) {
        self.chain = chain
        self.faults = faults
        self.registry = Mutex(Registry(rng: DevnetRandom(seed: seed)))
        let observer = chain.addObserver { [weak self] update in self?.deliver(update) }
        registry.withLock { $0.observer = observer }
    }

    deinit {
        if let observer = registry.withLock({ $0.observer }) { chain.removeObserver(observer) }
    }

    // MARK: - Transport entry points

    /// Answers one HTTP request body: a response body, or nil when nothing is to be sent back
    /// (a notification, or a batch of notifications).
    public func handle(_ text: String) -> String? {
        var none: DevnetSession.State? = nil
        return respond(to: text, session: &none)
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
        for session in sessions() { session.deliver(update, faults: faults) }
    }

    // MARK: - Requests

    /// Parses `text` (a request or a batch) and returns the response text.
    func respond(to text: String, session: inout DevnetSession.State?) -> String? {
        let value: JSONValue
        do { value = try JSONParser.parse(text) } catch {
            return Self.response(id: .null, error: .parse("\(error.message) at offset \(error.offset)"))
        }
        if case .array(let requests) = value {
            guard !requests.isEmpty else {
                return Self.response(id: .null, error: .invalidRequest("empty batch"))
            }
            let responses = requests.compactMap { respond(toRequest: $0, session: &session) }
            return responses.isEmpty ? nil : "[" + responses.joined(separator: ",") + "]"
        }
        return respond(toRequest: value, session: &session)
    }

    private func respond(toRequest request: JSONValue, session: inout DevnetSession.State?) -> String? {
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
            result = .success(try call(method, request["params"], session: &session))
        } catch {
            result = .failure(error)
        }
        guard let id else { return nil }  // a notification gets no response
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
        _ method: String, _ params: JSONValue?, session: inout DevnetSession.State?
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
            return "\"" + JSONWriter.quantity(chain.blockNumber) + "\""
        case "eth_getBlockByNumber", "eth_getBlockByHash":
            let args = try RPCParams.positional(params, max: 2)
            guard let first = args.first else {
                throw .invalidParams("missing value for required argument 0")
            }
            let full = try RPCParams.bool(args.count > 1 ? args[1] : nil, default: false, argument: 1)
            let block =
                method == "eth_getBlockByNumber"
                ? chain.block(tag: try RPCParams.blockTag(first, argument: 0))
                : chain.block(hash: try RPCParams.bytes32(first, argument: 0))
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
            let faults = self.faults.faults
            let logs: [EthLog]
            do {
                logs = try chain.logs(
                    filter: filter, maxRange: faults.getLogsMaxRange, maxResults: faults.getLogsMaxResults)
            } catch {
                switch error {
                case .rangeTooLarge, .tooManyResults: throw .limitExceeded(error.description)
                case .unknownBlock: throw .server("unknown block")
                case .invalidRange: throw .server(error.description)
                }
            }
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
