import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server for JSON-RPC: every `POST` body goes to a handler whose answer is the
/// response body. Keep-alive, loopback only, bodies bounded.
public final class DevnetHTTPServer: Sendable {
    /// Turns a request body into a response body (nil: an empty 200).
    public typealias Handler = @Sendable (String) -> String?

    private let host: String
    private let requestedPort: Int
    private let maximumBodyBytes: Int
    private let handler: Handler
    private let state = Mutex<(channel: (any Channel)?, port: Int)>((nil, 0))

    /// A server for `host:port` (0 picks a free port on the first start and keeps it).
    public init(
        host: String = "127.0.0.1", port: Int = 0, maximumBodyBytes: Int = 8 << 20, handler: @escaping Handler
    ) {
        self.host = host
        self.requestedPort = port
        self.maximumBodyBytes = maximumBodyBytes
        self.handler = handler
    }

    /// The bound port once started.
    public var port: Int { state.withLock { $0.port } }

    /// Starts listening; returns the port.
    public func start() async throws -> Int {
        let port = state.withLock { $0.port == 0 ? requestedPort : $0.port }
        let handler = self.handler
        let limit = maximumBodyBytes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(JSONRPCHTTPHandler(handler: handler, maximumBodyBytes: limit))
                }
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        state.withLock { $0 = (channel, bound) }
        return bound
    }

    /// Stops listening (open keep-alive connections are closed by their idle clients).
    public func stop() async {
        let channel = state.withLock { s -> (any Channel)? in
            defer { s.channel = nil }
            return s.channel
        }
        try? await channel?.close().get()
    }
}

/// One connection's request handling.
final class JSONRPCHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: DevnetHTTPServer.Handler
    private let maximumBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(handler: @escaping DevnetHTTPServer.Handler, maximumBodyBytes: Int) {
        self.handler = handler
        self.maximumBodyBytes = maximumBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes > maximumBodyBytes {
                tooLarge = true
            } else {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            let status: HTTPResponseStatus
            var answer: String? = nil
            if head.method != .POST {
                status = .methodNotAllowed
                answer = "{\"error\":\"POST JSON-RPC requests here\"}"
            } else if tooLarge {
                status = .payloadTooLarge
            } else {
                status = .ok
                answer = handler(String(buffer: body))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            let bytes = ByteBuffer(string: answer ?? "")
            headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
            if head.isKeepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let written = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
            }
            self.head = nil
        }
    }
}
