import AsyncHTTPClient
import EVM
import Logging
import Synchronization

/// Counters of what the node sent that copybot could not use (all counted, none fatal).
public struct NodeClientStatistics: Hashable, Sendable {
    /// Frames that were not valid JSON-RPC, or whose result had the wrong shape.
    public var malformedFrames = 0
    /// Notifications for a subscription id this connection does not hold.
    public var unknownSubscriptions = 0
    /// Responses to requests nobody is waiting for.
    public var unexpectedResponses = 0
    /// Transport errors reported while connected (oversized frames, invalid UTF-8...).
    public var transportErrors = 0
    /// Subscriptions opened.
    public var subscriptions = 0
}

/// The node as the ``EventSource`` sees it: queries over HTTP JSON-RPC (several endpoints, with
/// failover), live `logs` + `newHeads` subscriptions over a libwebsockets WebSocket (several URLs,
/// tried in turn).
public final class NodeClient: ChainRPC {
    /// Connection settings.
    public struct Configuration: Sendable {
        /// `ws://` or `wss://` endpoints for subscriptions, tried in order on failure.
        public var webSocketURLs: [String]
        /// `http://` or `https://` endpoints for queries.
        public var httpURLs: [String]
        /// How long to wait for a connection and for subscription answers.
        public var subscribeTimeout: Duration = .seconds(15)
        /// Per HTTP request.
        public var requestTimeout: Duration = .seconds(30)
        /// The largest frame accepted; a bigger one is an error, not an allocation.
        public var maxMessageBytes: Int = 16 << 20
        /// Notifications held for a slow listener before the socket stops being read.
        public var bufferedNotifications: Int = 4_096
        /// Accept self-signed TLS certificates (tests only).
        public var tlsAllowSelfSigned = false

        /// Creates a configuration.
        public init(webSocketURLs: [String], httpURLs: [String]) {
            self.webSocketURLs = webSocketURLs
            self.httpURLs = httpURLs
        }
    }

    private let configuration: Configuration
    private let http: HTTPJSONRPC
    private let logger: Logger
    private let state = Mutex((webSocketIndex: 0, statistics: NodeClientStatistics()))

    /// Creates a client; `httpClient` is shared and owned by the caller.
    public init(configuration: Configuration, httpClient: HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.http = HTTPJSONRPC(
            endpoints: configuration.httpURLs, client: httpClient, timeout: configuration.requestTimeout,
            logger: logger)
    }

    /// What went wrong so far, for metrics.
    public var statistics: NodeClientStatistics { state.withLock { $0.statistics } }

    func count(_ body: (inout NodeClientStatistics) -> Void) { state.withLock { body(&$0.statistics) } }

    // MARK: Queries

    public func headNumber() async throws -> UInt64 {
        let bytes = try await http.call("eth_blockNumber", params: "[]")
        return try decode(bytes) { (buffer) throws(JSONRPCCodec.MalformedMessage) in
            try JSONRPCCodec.parseQuantity(buffer)
        }
    }

    public func header(number: UInt64) async throws -> BlockHeader? {
        let bytes = try await http.call(
            "eth_getBlockByNumber", params: "[\"\(JSONRPCCodec.quantity(number))\",false]")
        let header = try decode(bytes) { (buffer) throws(JSONRPCCodec.MalformedMessage) in
            try JSONRPCCodec.parseHeader(buffer)
        }
        if let header, header.number != number {
            count { $0.malformedFrames += 1 }
            throw ChainRPCError.malformed("asked for block \(number), got \(header.number)")
        }
        return header
    }

    public func logs(_ filter: LogFilter, from: UInt64, to: UInt64) async throws -> [EthLog] {
        let bytes = try await http.call(
            "eth_getLogs", params: "[" + JSONRPCCodec.filterJSON(filter, from: from, to: to) + "]")
        return try decode(bytes) { (buffer) throws(JSONRPCCodec.MalformedMessage) in
            try JSONRPCCodec.parseLogs(buffer)
        }
    }

    public func logs(_ filter: LogFilter, blockHash: Bytes32) async throws -> [EthLog] {
        let bytes = try await http.call(
            "eth_getLogs", params: "[" + JSONRPCCodec.filterJSON(filter, blockHash: blockHash) + "]")
        return try decode(bytes) { (buffer) throws(JSONRPCCodec.MalformedMessage) in
            try JSONRPCCodec.parseLogs(buffer)
        }
    }

    private func decode<T>(
        _ bytes: [UInt8], _ parse: (UnsafeRawBufferPointer) throws(JSONRPCCodec.MalformedMessage) -> T
    ) throws -> T {
        do {
            return try bytes.withUnsafeBytes { buffer in
                Result { () throws(JSONRPCCodec.MalformedMessage) in try parse(buffer) }
            }.get()
        } catch {
            count { $0.malformedFrames += 1 }
            throw ChainRPCError.malformed(error.reason)
        }
    }

    // MARK: Subscriptions

    public func subscribe(_ filter: LogFilter) async throws -> any ChainSubscription {
        guard !configuration.webSocketURLs.isEmpty else {
            throw ChainRPCError.unavailable("no WebSocket endpoint configured (chain.ws_urls)")
        }
        let index = state.withLock { $0.webSocketIndex }
        let url = configuration.webSocketURLs[index % configuration.webSocketURLs.count]
        do {
            let subscription = try await WebSocketSubscription.open(
                url: url, filter: filter, configuration: configuration, client: self, logger: logger)
            count { $0.subscriptions += 1 }
            return subscription
        } catch {
            // Try the next endpoint next time.
            state.withLock { $0.webSocketIndex = (index + 1) % max(configuration.webSocketURLs.count, 1) }
            throw error
        }
    }
}

/// One WebSocket connection carrying a `logs` and a `newHeads` subscription. It does not
/// reconnect: when the connection drops, ``next(timeout:)`` throws and the ``EventSource``
/// resubscribes (and resyncs from its checkpoint).
final class WebSocketSubscription: ChainSubscription {
    private let socket: WebSocketClient
    private let queue: BoundedQueue<ChainNotification>
    private let pump: Task<Void, Never>
    private let ids: (logs: String, heads: String)

    private init(
        socket: WebSocketClient, queue: BoundedQueue<ChainNotification>, pump: Task<Void, Never>,
        ids: (String, String)
    ) {
        self.socket = socket
        self.queue = queue
        self.pump = pump
        self.ids = ids
    }

    /// Connects, subscribes to both streams and starts routing notifications.
    static func open(
        url: String, filter: LogFilter, configuration: NodeClient.Configuration, client: NodeClient,
        logger: Logger
    ) async throws -> WebSocketSubscription {
        let socket = try WebSocketClient(
            configuration: WebSocketConfiguration(
                url: url, maxMessageBytes: configuration.maxMessageBytes,
                connectTimeout: configuration.subscribeTimeout,
                tlsAllowSelfSigned: configuration.tlsAllowSelfSigned),
            logger: logger)
        socket.start()
        let queue = BoundedQueue<ChainNotification>(capacity: configuration.bufferedNotifications)
        let handshake = BoundedQueue<(UInt64, Result<[UInt8], JSONRPCCodec.JSONRPCError>)>(capacity: 16)
        let idBox = Mutex<(logs: String?, heads: String?)>((nil, nil))
        let pump = Task {
            var connectedOnce = false
            for await event in socket.events {
                switch event {
                case .connected:
                    if connectedOnce {
                        // A reconnect is a new connection without our subscriptions: end here.
                        queue.finish(throwing: ChainRPCError.unavailable("the WebSocket reconnected"))
                        handshake.finish(throwing: ChainRPCError.unavailable("the WebSocket reconnected"))
                        return
                    }
                    connectedOnce = true
                    do {
                        // `newHeads` first: a node that notifies its subscriptions in the order
                        // they were made (as geth's filter system usually does for one block) then
                        // sends a block's header before its logs, and the listener takes the logs
                        // of a block whose header it has without asking the node for it again.
                        try socket.send(
                            JSONRPCCodec.request(id: 2, method: "eth_subscribe", params: "[\"newHeads\"]"))
                        try socket.send(
                            JSONRPCCodec.request(
                                id: 1, method: "eth_subscribe",
                                params: "[\"logs\"," + JSONRPCCodec.filterJSON(filter) + "]"))
                    } catch {
                        handshake.finish(throwing: ChainRPCError.unavailable("\(error)"))
                    }
                case .disconnected(let reason):
                    guard connectedOnce else { continue }
                    queue.finish(throwing: ChainRPCError.unavailable("connection lost: \(reason)"))
                    handshake.finish(throwing: ChainRPCError.unavailable("connection lost: \(reason)"))
                    return
                case .error(let error):
                    client.count { $0.transportErrors += 1 }
                    logger.warning("node WebSocket: \(error)")
                case .message(let message):
                    guard case .text(var text) = message else {
                        client.count { $0.malformedFrames += 1 }
                        continue
                    }
                    let parsed = text.withUTF8 { utf8 in
                        Result { () throws(JSONRPCCodec.MalformedMessage) in
                            try JSONRPCCodec.parseMessage(UnsafeRawBufferPointer(utf8))
                        }
                    }
                    switch parsed {
                    case .failure(let error):
                        client.count { $0.malformedFrames += 1 }
                        logger.warning("node sent \(error)")
                    case .success(.response(let id, let result)):
                        // Route by subscription id from the moment the answer is read, so no
                        // notification that follows it can be mistaken for a stranger's.
                        if id == 1 || id == 2, case .success(let bytes) = result,
                            let subscriptionID = try? bytes.withUnsafeBytes({
                                try JSONRPCCodec.parseString($0)
                            })
                        {
                            idBox.withLock {
                                if id == 1 { $0.logs = subscriptionID } else { $0.heads = subscriptionID }
                            }
                        }
                        if !handshake.trySend((id, result)) { client.count { $0.unexpectedResponses += 1 } }
                    case .success(.notification(let subscription, let result)):
                        let known = idBox.withLock { $0 }
                        let notification: ChainNotification?
                        do {
                            if subscription == known.logs {
                                notification = .log(
                                    try result.withUnsafeBytes { buffer in
                                        try EthLogParser.parseLog(buffer)
                                    })
                            } else if subscription == known.heads {
                                notification = try result.withUnsafeBytes { buffer in
                                    try JSONRPCCodec.parseHeader(buffer)
                                }.map(ChainNotification.head)
                            } else {
                                client.count { $0.unknownSubscriptions += 1 }
                                notification = nil
                            }
                        } catch {
                            client.count { $0.malformedFrames += 1 }
                            logger.warning("node sent an unusable notification: \(error)")
                            notification = nil
                        }
                        if let notification {
                            do { try await queue.send(notification) } catch { return }
                        }
                    }
                }
            }
            queue.finish(throwing: ChainRPCError.unavailable("the WebSocket closed"))
        }
        do {
            var logsID: String? = nil
            var headsID: String? = nil
            while logsID == nil || headsID == nil {
                guard let (id, result) = try await handshake.next(timeout: configuration.subscribeTimeout)
                else {
                    throw ChainRPCError.unavailable(
                        "no subscription answer from \(url.prefix(40)) within \(configuration.subscribeTimeout)"
                    )
                }
                switch result {
                case .failure(let error): throw ChainRPCError.server(code: error.code, message: error.message)
                case .success(let bytes):
                    let text = try bytes.withUnsafeBytes { try JSONRPCCodec.parseString($0) }
                    if id == 1 { logsID = text } else if id == 2 { headsID = text }
                }
            }
            handshake.finish()
            return WebSocketSubscription(socket: socket, queue: queue, pump: pump, ids: (logsID!, headsID!))
        } catch {
            pump.cancel()
            await socket.shutdown()
            throw error
        }
    }

    func next(timeout: Duration) async throws -> ChainNotification? {
        if let notification = try await queue.next(timeout: timeout) { return notification }
        if queue.isFinished { throw ChainRPCError.unavailable("subscription ended") }
        return nil
    }

    func nextIfArrived() -> ChainNotification? {
        queue.nextIfQueued()
    }

    func cancel() async {
        try? socket.send(JSONRPCCodec.request(id: 3, method: "eth_unsubscribe", params: "[\"\(ids.logs)\"]"))
        try? socket.send(JSONRPCCodec.request(id: 4, method: "eth_unsubscribe", params: "[\"\(ids.heads)\"]"))
        queue.finish()
        pump.cancel()
        await socket.shutdown()
    }
}
