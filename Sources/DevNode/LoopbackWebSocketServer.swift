import CLibWebSockets
import Chain
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A WebSocket server on the loopback interface, built on libwebsockets, for tests and the
/// simulated node: it accepts clients, reports their messages, and can send (whole or fragmented),
/// broadcast, drop a client abruptly, play dead (stop reading, so pings go unanswered), stop and
/// restart on the same port.
///
/// Like the client, it runs libwebsockets on one dedicated thread; these methods only queue commands
/// for that thread and wake it with `lws_cancel_service`.
public final class LoopbackWebSocketServer: Sendable {
    /// The interface address to listen on.
    public let host: String
    /// Connection changes and client messages, for the life of this object (across restarts).
    /// Unbounded: meant for tests and a simulated node, where clients send little. Consume it from
    /// one long-lived task: cancelling an iteration ends an `AsyncStream` for good.
    public let events: AsyncStream<LoopbackServerEvent>

    private let eventsContinuation: AsyncStream<LoopbackServerEvent>.Continuation
    private let mailbox: ServerMailbox
    private let lifecycle: Mutex<Lifecycle>
    private let maxMessageBytes: Int
    private let tls: LoopbackTLSFiles?
    private let capturedHeaders: [String]
    private let threadName: String

    private struct Lifecycle {
        var port: Int
        var thread: ServiceThread?
        var starting = false
    }

    /// A server for `host:port`; port 0 picks a free port at the first ``start()`` and keeps it for
    /// later restarts. Messages from clients above `maxMessageBytes` drop that client. With `tls`
    /// it speaks `wss://` only. `capturedHeaders` names non-standard request headers (e.g.
    /// `x-api-key`) to record in each client's ``handshake(of:)``. `threadName` names the service
    /// thread (at most 15 characters are kept).
    public init(
        host: String = "127.0.0.1", port: Int = 0, maxMessageBytes: Int = 16 * 1024 * 1024,
        tls: LoopbackTLSFiles? = nil, capturedHeaders: [String] = [], threadName: String = "lws-devnode"
    ) {
        self.host = host
        self.threadName = threadName
        self.capturedHeaders = capturedHeaders.map { $0.lowercased() }
        self.maxMessageBytes = maxMessageBytes
        self.tls = tls
        let (stream, continuation) = AsyncStream.makeStream(
            of: LoopbackServerEvent.self, bufferingPolicy: .unbounded)
        self.events = stream
        self.eventsContinuation = continuation
        self.mailbox = ServerMailbox()
        self.lifecycle = Mutex(Lifecycle(port: port))
    }

    /// The listening port: the bound one once started, else the one asked for (0 = any).
    public var port: Int { lifecycle.withLock { $0.port } }

    /// Clients connected right now.
    public var clients: [LoopbackClientID] {
        mailbox.state.withLock { $0.clients.sorted() }
    }

    /// Starts listening and returns the bound port.
    /// - Throws: ``ServerError/listenFailed(host:port:)`` (e.g. the port is taken),
    ///   ``ServerError/alreadyRunning``.
    @discardableResult
    public func start() async throws(ServerError) -> Int {
        let port = try lifecycle.withLock { s throws(ServerError) in
            if s.thread != nil || s.starting { throw .alreadyRunning }
            s.starting = true
            return s.port
        }
        mailbox.reset()
        let ready = OneShot<Result<Int, ServerError>>()
        let loop = ServerServiceLoop(
            host: host, port: port, maxMessageBytes: maxMessageBytes, tls: tls,
            capturedHeaders: capturedHeaders, mailbox: mailbox,
            events: eventsContinuation, ready: ready)
        let thread: ServiceThread
        do {
            thread = try ServiceThread.start(name: threadName, body: { loop.run() })
        } catch {
            lifecycle.withLock { $0.starting = false }
            throw .threadStartFailed(code: error.code)
        }
        switch await ready.value {
        case .success(let boundPort):
            lifecycle.withLock { s in
                s.thread = thread
                s.port = boundPort
                s.starting = false
            }
            return boundPort
        case .failure(let error):
            await thread.join()
            lifecycle.withLock { $0.starting = false }
            throw error
        }
    }

    /// Stops listening, drops every client and waits for the service thread to exit. The server can
    /// be started again (on the same port).
    public func stop() async {
        guard
            let thread = lifecycle.withLock({ s in
                defer { s.thread = nil }; return s.thread
            })
        else { return }
        mailbox.requestStop()
        await thread.join()
    }

    /// The upgrade request of a client (kept after it disconnects), or `nil` for an unknown client.
    public func handshake(of client: LoopbackClientID) -> LoopbackHandshake? {
        mailbox.state.withLock { $0.handshakes[client] }
    }

    /// Sends a text message to one client. Returns `false` if that client is not connected.
    @discardableResult
    public func send(_ text: String, to client: LoopbackClientID) -> Bool {
        mailbox.submit(.send(client, [OutgoingFrame(payload: Array(text.utf8), flags: LWS_WRITE_TEXT)]))
    }

    /// Sends a binary message to one client. Returns `false` if that client is not connected.
    @discardableResult
    public func send(binary bytes: [UInt8], to client: LoopbackClientID) -> Bool {
        mailbox.submit(.send(client, [OutgoingFrame(payload: bytes, flags: LWS_WRITE_BINARY)]))
    }

    /// Sends one text message as a sequence of WebSocket frames (the first `TEXT`, the others
    /// `CONTINUATION`, all but the last with no FIN), one fragment per write. Fragments may share
    /// storage (e.g. `Array(repeating: chunk, count: n)`), so a huge message costs little memory.
    @discardableResult
    public func send(textFragments fragments: [[UInt8]], to client: LoopbackClientID) -> Bool {
        guard !fragments.isEmpty else { return send("", to: client) }
        let frames = fragments.indices.map { index in
            let flags = lws_write_ws_flags(
                Int32(LWS_WRITE_TEXT.rawValue), index == 0 ? 1 : 0, index == fragments.count - 1 ? 1 : 0)
            return OutgoingFrame(
                payload: fragments[index], flags: lws_write_protocol(rawValue: UInt32(flags)))
        }
        return mailbox.submit(.send(client, frames))
    }

    /// Sends `text` split into fragments of at most `fragmentSize` bytes (see
    /// ``send(textFragments:to:)``); the split may fall inside a UTF-8 sequence, as on the wire.
    @discardableResult
    public func send(_ text: String, fragmentSize: Int, to client: LoopbackClientID) -> Bool {
        let bytes = Array(text.utf8)
        let size = max(1, fragmentSize)
        let fragments = stride(from: 0, to: bytes.count, by: size).map {
            Array(bytes[$0..<min($0 + size, bytes.count)])
        }
        return send(textFragments: fragments, to: client)
    }

    /// Sends a text message to every connected client.
    public func broadcast(_ text: String) {
        _ = mailbox.submit(.broadcast(OutgoingFrame(payload: Array(text.utf8), flags: LWS_WRITE_TEXT)))
    }

    /// Drops a client's connection abruptly: the socket is shut down with no close frame, as when
    /// a network path dies. Returns `false` if that client is not connected.
    @discardableResult
    public func disconnect(_ client: LoopbackClientID) -> Bool {
        mailbox.submit(.disconnect(client))
    }

    /// `false` makes the server play dead: it stops reading from every client (current and future),
    /// so their pings go unanswered while the TCP connections stay up. `true` resumes reading.
    public func setResponsive(_ responsive: Bool) {
        _ = mailbox.submit(.setReading(responsive))
    }

    deinit {
        mailbox.requestStop()
        eventsContinuation.finish()
    }
}

/// One WebSocket frame to write: payload plus lws write flags.
struct OutgoingFrame: Sendable {
    var payload: [UInt8]
    var flags: lws_write_protocol
}

/// Commands from API callers to the service thread.
enum ServerCommand: Sendable {
    case send(LoopbackClientID, [OutgoingFrame])
    case broadcast(OutgoingFrame)
    case disconnect(LoopbackClientID)
    case setReading(Bool)
}

/// What API callers and the service thread share, under one lock.
final class ServerMailbox: Sendable {
    struct State {
        var context: ContextHandle?
        var stopRequested = false
        var commands: [ServerCommand] = []
        var clients: Set<LoopbackClientID> = []
        var handshakes: [LoopbackClientID: LoopbackHandshake] = [:]
        var reading = true
        var nextClientID = 1
    }

    let state = Mutex(State())

    func reset() {
        state.withLock { s in
            s.stopRequested = false
            s.commands = []
            s.clients = []
        }
    }

    /// Queues a command and wakes the service thread; `false` if it targets an unknown client or the
    /// server is not running.
    func submit(_ command: ServerCommand) -> Bool {
        state.withLock { s in
            guard let context = s.context, !s.stopRequested else { return false }
            switch command {
            case .send(let client, _), .disconnect(let client):
                guard s.clients.contains(client) else { return false }
            case .setReading(let reading):
                s.reading = reading
            case .broadcast:
                break
            }
            s.commands.append(command)
            lws_cancel_service(context.pointer)
            return true
        }
    }

    func requestStop() {
        state.withLock { s in
            s.stopRequested = true
            if let context = s.context { lws_cancel_service(context.pointer) }
        }
    }
}

/// An lws context pointer published to other threads solely for `lws_cancel_service`, and only
/// while the service thread keeps it published under the mailbox lock.
struct ContextHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A value produced once by one thread and awaited by one task.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiter: CheckedContinuation<Value, Never>?
    }

    private let state = Mutex(State())

    func fulfill(_ value: Value) {
        let waiter = state.withLock { s in
            s.value = value
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: value)
    }

    var value: Value {
        get async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
                let ready = state.withLock { s in
                    if s.value == nil { s.waiter = continuation }
                    return s.value
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
