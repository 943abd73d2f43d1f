import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server for JSON-RPC: every `POST` body goes to a handler whose answer is the
/// response (status and body). Keep-alive, loopback only, bodies bounded.
public final class DevnetHTTPServer: Sendable {
    /// One HTTP answer: a status, a content type and a body.
    public struct Response: Hashable, Sendable {
        /// The HTTP status code (200 for every JSON-RPC answer, errors included, unless a fault
        /// says otherwise: 413, 429, 503...).
        public var status: Int
        /// The `Content-Type` header.
        public var contentType: String
        /// The body (empty for a request made only of notifications).
        public var body: String

        /// An answer; JSON by default.
        public init(status: Int = 200, contentType: String = "application/json", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    /// Turns a request body into a response body (nil: an empty 200).
    public typealias Handler = @Sendable (String) -> String?
    /// Turns a request body into a whole HTTP answer (status, content type, body).
    public typealias ResponseHandler = @Sendable (String) -> Response

    private let host: String
    private let requestedPort: Int
    private let maximumBodyBytes: Int
    private let handler: ResponseHandler
    private let state = Mutex<(channel: (any Channel)?, port: Int)>((nil, 0))

    /// A server for `host:port` (0 picks a free port on the first start and keeps it) whose
    /// answers are always 200 with the handler's body.
    public convenience init(
        host: String = "127.0.0.1", port: Int = 0, maximumBodyBytes: Int = 8 << 20, handler: @escaping Handler
    ) {
        self.init(host: host, port: port, maximumBodyBytes: maximumBodyBytes) { body in
            Response(body: handler(body) ?? "")
        }
    }

    /// A server for `host:port` (0 picks a free port on the first start and keeps it) whose
    /// handler chooses the whole answer, status included (a provider's 413, 429 or 503).
    public init(
        host: String = "127.0.0.1", port: Int = 0, maximumBodyBytes: Int = 8 << 20,
        responseHandler: @escaping ResponseHandler
    ) {
        self.host = host
        self.requestedPort = port
        self.maximumBodyBytes = maximumBodyBytes
        self.handler = responseHandler
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

    private let handler: DevnetHTTPServer.ResponseHandler
    private let maximumBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(handler: @escaping DevnetHTTPServer.ResponseHandler, maximumBodyBytes: Int) {
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
            let response: DevnetHTTPServer.Response
            if head.method != .POST {
                response = .init(status: 405, body: "{\"error\":\"POST JSON-RPC requests here\"}")
            } else if tooLarge {
                response = .init(status: 413, body: "")
            } else {
                response = handler(String(buffer: body))
            }
            let status = HTTPResponseStatus(statusCode: response.status)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            let bytes = ByteBuffer(string: response.body)
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
