import EVM
import Polymarket
import Synchronization

/// `copybot devnet`: a simulated Polygon node on 127.0.0.1 — WebSocket JSON-RPC (libwebsockets)
/// for subscriptions and HTTP JSON-RPC for queries — producing blocks of Polymarket V2 fills,
/// with switches for the faults a real provider shows.
public final class Devnet: Sendable {
    /// Where and how the node runs.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port (kept across restarts).
        public var webSocketPort = 8546
        public var httpPort = 8545
        public var chain = SimulatedChainConfiguration()
        /// A new block this often.
        public var blockInterval: Duration = .seconds(2)
        /// Stop producing after this many blocks (nil: forever).
        public var maximumBlocks: Int? = nil
        public var faults = DevnetFaults()

        /// Creates the default configuration.
        public init() {}
    }

    public let chain: SimulatedChain
    public let rpc: DevnetRPC
    public let faults: DevnetFaultControl
    private let configuration: Configuration
    private let webSocket: LoopbackWebSocketServer
    private let http: DevnetHTTPServer
    private let sessions = Mutex<[LoopbackClientID: DevnetSession]>([:])
    private let pump = Mutex<Task<Void, Never>?>(nil)

    /// Builds the chain for the exchanges of `registry`; nothing listens until ``start()``.
    public init(registry: ExchangeRegistry, configuration: Configuration) throws {
        self.configuration = configuration
        chain = try SimulatedChain(registry: registry, configuration: configuration.chain)
        faults = DevnetFaultControl(configuration.faults)
        let rpc = DevnetRPC(chain: chain, faults: faults, seed: configuration.chain.seed &+ 1)
        self.rpc = rpc
        webSocket = LoopbackWebSocketServer(
            host: configuration.host, port: configuration.webSocketPort, maxMessageBytes: 1 << 20)
        http = DevnetHTTPServer(host: configuration.host, port: configuration.httpPort) { body in
            rpc.handleHTTP(body)
        }
    }

    /// `ws://host:port` once started.
    public var webSocketURL: String { "ws://\(configuration.host):\(webSocket.port)" }
    /// `http://host:port` once started.
    public var httpURL: String { "http://\(configuration.host):\(http.port)" }

    /// Starts both servers (the chain keeps its state across stop/start, like a restarted node).
    public func start() async throws {
        _ = try await webSocket.start()
        _ = try await http.start()
        let server = webSocket
        let rpc = self.rpc
        let task = Task { [self] in
            for await event in server.events {
                switch event {
                case .connected(let id):
                    let session = rpc.openSession(Connection(server: server, id: id))
                    sessions.withLock { $0[id] = session }
                case .text(let id, let text):
                    sessions.withLock { $0[id] }?.receive(text)
                case .binary(let id, _):
                    _ = server.disconnect(id)
                case .disconnected(let id):
                    sessions.withLock { $0.removeValue(forKey: id) }?.close()
                }
            }
        }
        pump.withLock { $0 = task }
    }

    /// Stops both servers; every client is disconnected.
    public func stop() async {
        await webSocket.stop()
        await http.stop()
        let remaining = sessions.withLock { s -> [DevnetSession] in
            defer { s = [:] }
            return Array(s.values)
        }
        for session in remaining { session.close() }
    }

    /// A node restart: both servers go away for `downtime`, then come back on the same ports.
    public func restart(downtime: Duration = .milliseconds(200)) async throws {
        await stop()
        try await Task.sleep(for: downtime)
        try await start()
    }

    /// Drops every WebSocket connection at once, as a provider's load balancer does.
    public func dropConnections() {
        for id in webSocket.clients { _ = webSocket.disconnect(id) }
    }

    /// Produces blocks (and the faults that act over time) until cancelled or the block limit.
    public func run() async throws {
        let producer = DevnetProducer(
            chain: chain, faults: faults, blockInterval: configuration.blockInterval,
            maximumBlocks: configuration.maximumBlocks, seed: configuration.chain.seed &+ 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await producer.run() }
            group.addTask { [self] in
                while !Task.isCancelled {
                    guard let every = faults.faults.dropConnectionEvery else {
                        try await Task.sleep(for: .milliseconds(200))
                        continue
                    }
                    try await Task.sleep(for: every * Double.random(in: 0.5...1.5))
                    dropConnections()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Stops everything.
    public func shutdown() async {
        pump.withLock { $0 }?.cancel()
        await stop()
    }
}

/// A WebSocket client of the devnet, as its session sees it.
private struct Connection: DevnetConnection {
    let server: LoopbackWebSocketServer
    let id: LoopbackClientID

    func send(_ text: String) -> Bool { server.send(text, to: id) }
}
