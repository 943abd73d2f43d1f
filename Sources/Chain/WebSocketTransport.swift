/// A message-oriented, self-reconnecting duplex channel: what the JSON-RPC layer needs from a
/// WebSocket. ``WebSocketClient`` is the libwebsockets implementation; tests can substitute their own.
public protocol WebSocketTransport: AnyObject, Sendable {
    /// The sequence of events this transport reports.
    associatedtype Events: AsyncSequence<WebSocketEvent, Never> & Sendable

    /// Connection state changes and received messages, in order, never dropped. It ends after
    /// `shutdown()` once everything already received has been consumed.
    var events: Events { get }

    /// Starts connecting (and reconnecting forever). Calling it again has no effect.
    func start()

    /// Queues a message for the current connection.
    /// - Throws: ``WebSocketError/notConnected``, ``WebSocketError/sendQueueFull(limitBytes:)`` or
    ///   ``WebSocketError/shutDown``.
    func send(_ message: WebSocketMessage) throws(WebSocketError)

    /// Closes the connection, stops reconnecting and releases every resource. Idempotent.
    func shutdown() async
}

extension WebSocketTransport {
    /// Queues a text message for the current connection.
    public func send(_ text: String) throws(WebSocketError) {
        try send(.text(text))
    }
}
