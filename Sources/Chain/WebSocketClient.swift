import CLibWebSockets
import Logging
import Synchronization

/// A WebSocket client for one URL that stays connected for as long as it runs.
///
/// It connects when started and reconnects forever with jittered exponential backoff (reset once a
/// connection is established); it pings an idle connection and drops it when no answer comes; it
/// reassembles fragmented messages up to ``WebSocketConfiguration/maxMessageBytes``; and it never
/// drops a received message: when the consumer of ``events`` falls behind, it stops reading from the
/// socket until the consumer catches up.
///
/// libwebsockets runs on one dedicated thread that creates, services and destroys its context;
/// the methods of this class only queue work for that thread and wake it.
///
/// ```swift
/// let client = try WebSocketClient(configuration: .init(url: "wss://node.example/ws"))
/// client.start()
/// for await event in client.events { … }
/// await client.shutdown()
/// ```
public final class WebSocketClient: WebSocketTransport {
    /// The configuration this client was created with.
    public let configuration: WebSocketConfiguration
    /// The parsed URL.
    public let url: WebSocketURL
    /// Connection changes and received messages, in order (see ``WebSocketEventStream``).
    public let events: WebSocketEventStream

    private let logger: Logger
    private let mailbox: ClientMailbox
    private let buffer: EventBuffer
    private let lifecycle = Mutex(Lifecycle.idle)

    private enum Lifecycle {
        case idle
        case running(ServiceThread)
        case shutDown(ServiceThread?)
    }

    /// Creates a client; nothing happens on the network until ``start()``.
    /// - Throws: ``WebSocketError/invalidURL(_:)`` or ``WebSocketError/invalidConfiguration(_:)``.
    public init(
        configuration: WebSocketConfiguration,
        logger: Logger = Logger(label: "copybot.chain.websocket")
    ) throws(WebSocketError) {
        try configuration.validate()
        self.configuration = configuration
        self.url = try WebSocketURL(parsing: configuration.url)
        var logger = logger
        logger[metadataKey: "ws.url"] = "\(url.redacted)"
        self.logger = logger
        let mailbox = ClientMailbox()
        self.mailbox = mailbox
        self.buffer = EventBuffer(
            highWaterCount: configuration.maxBufferedEvents,
            highWaterBytes: configuration.maxBufferedBytes,
            onBelowLowWater: { mailbox.requestResumeReading() })
        self.events = WebSocketEventStream(buffer: buffer)
    }

    /// Starts the service thread, which connects and keeps reconnecting until ``shutdown()``.
    /// Calling it again, or after shutdown, has no effect.
    public func start() {
        lifecycle.withLock { state in
            guard case .idle = state else { return }
            let loop = ClientServiceLoop(
                configuration: configuration, url: url, logger: logger, mailbox: mailbox, buffer: buffer)
            do throws(ServiceThread.StartError) {
                let thread = try ServiceThread.start(name: configuration.threadName) { loop.run() }
                state = .running(thread)
            } catch {
                logger.error("cannot start the WebSocket service thread: \(error)")
                buffer.push(.error(.threadStartFailed(code: error.code)))
                buffer.finish()
                mailbox.markStopped()
                state = .shutDown(nil)
            }
        }
    }

    /// Queues `message` for the current connection; it is written in order by the service thread.
    ///
    /// A message accepted here may still be lost if the connection drops before it is written; a
    /// ``WebSocketEvent/disconnected(reason:)`` event then follows.
    /// - Throws: ``WebSocketError/notConnected`` when no connection is established,
    ///   ``WebSocketError/sendQueueFull(limitBytes:)`` when too much is already queued,
    ///   ``WebSocketError/shutDown`` after ``shutdown()``.
    public func send(_ message: WebSocketMessage) throws(WebSocketError) {
        try mailbox.enqueue(message, limitBytes: configuration.maxQueuedSendBytes)
    }

    /// Counters for metrics: connections, failures, messages, bytes, read pauses.
    public var statistics: WebSocketStatistics {
        mailbox.statistics.withLock { $0 }
    }

    /// Stops reconnecting, closes the connection, destroys the libwebsockets context and waits for
    /// the service thread to exit. ``events`` ends once the events already received are consumed.
    /// Safe to call more than once and from several tasks.
    public func shutdown() async {
        let thread: ServiceThread? = lifecycle.withLock { state in
            switch state {
            case .idle:
                state = .shutDown(nil)
                mailbox.markStopped()
                buffer.finish()
                return nil
            case .running(let thread):
                state = .shutDown(thread)
                return thread
            case .shutDown(let thread):
                return thread
            }
        }
        mailbox.requestStop()
        await thread?.join()
    }

    deinit {
        // Without shutdown(): the thread stops on its own and is reaped by the system.
        mailbox.requestStop()
    }
}

/// What API callers and the service thread share: the outgoing queue, the wake-up requests, the
/// statistics, and the context pointer (valid while set; only used under the lock, to wake the
/// service thread with `lws_cancel_service`, the one lws call that is safe from other threads).
final class ClientMailbox: Sendable {
    struct State {
        var context: LWSContextHandle?
        var stopRequested = false
        var resumeReading = false
        var established = false
        var outgoing = FIFO<WebSocketMessage>()
        var outgoingBytes = 0
    }

    let state = Mutex(State())
    let statistics = Mutex(WebSocketStatistics())

    private static func wake(_ state: State) {
        if let context = state.context { lws_cancel_service(context.pointer) }
    }

    func enqueue(_ message: WebSocketMessage, limitBytes: Int) throws(WebSocketError) {
        let result: WebSocketError? = state.withLock { s in
            if s.stopRequested { return .shutDown }
            if !s.established { return .notConnected }
            let size = message.byteCount
            if s.outgoingBytes > 0, s.outgoingBytes + size > limitBytes {
                return .sendQueueFull(limitBytes: limitBytes)
            }
            s.outgoing.append(message)
            s.outgoingBytes += size
            Self.wake(s)
            return nil
        }
        if let result { throw result }
    }

    func requestResumeReading() {
        state.withLock { s in
            s.resumeReading = true
            Self.wake(s)
        }
    }

    func requestStop() {
        state.withLock { s in
            s.stopRequested = true
            Self.wake(s)
        }
    }

    func markStopped() {
        state.withLock { s in
            s.stopRequested = true
            s.established = false
            s.outgoing.removeAll()
            s.outgoingBytes = 0
        }
    }
}

/// An lws context pointer handed to other threads solely for `lws_cancel_service`, and only while
/// the owner keeps it published under its lock (it is withdrawn before the context is destroyed).
struct LWSContextHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
