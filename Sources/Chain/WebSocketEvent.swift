/// One complete WebSocket message.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message (valid UTF-8).
    case text(String)
    /// A binary message.
    case binary([UInt8])

    /// The payload size in bytes.
    public var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }
}

/// What a WebSocket transport reports, in order.
public enum WebSocketEvent: Sendable, Equatable {
    /// A connection is established (first or after a reconnect); sending is possible.
    case connected
    /// A complete message arrived (fragments already reassembled).
    case message(WebSocketMessage)
    /// The established connection ended. Messages sent before this event may not have arrived;
    /// the client reconnects by itself.
    case disconnected(reason: String)
    /// A problem that did not stop the client: a failed connection attempt, an oversized or
    /// malformed message. The client carries on (reconnecting when the connection was dropped).
    case error(WebSocketError)
}

/// Errors of the WebSocket transport.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not a usable `ws://` / `wss://` URL.
    case invalidURL(String)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// `send` while no connection is established.
    case notConnected
    /// `send` after `shutdown()`.
    case shutDown
    /// The outgoing queue holds `limitBytes` already; the message was not accepted.
    case sendQueueFull(limitBytes: Int)
    /// A received message exceeded the limit; the connection was dropped.
    case messageTooLarge(limit: Int)
    /// A text message that is not valid UTF-8 was received and discarded.
    case invalidUTF8(byteCount: Int)
    /// A connection attempt failed (DNS, TCP, TLS, HTTP upgrade); `reason` is from libwebsockets.
    case connectionFailed(reason: String)
    /// libwebsockets could not create its context (e.g. TLS initialisation failed).
    case contextCreationFailed
    /// The service thread could not be started.
    case threadStartFailed(code: Int32)

    public var description: String {
        switch self {
        case .invalidURL(let why): "invalid WebSocket URL: \(why)"
        case .invalidConfiguration(let why): "invalid WebSocket configuration: \(why)"
        case .notConnected: "the WebSocket is not connected"
        case .shutDown: "the WebSocket client is shut down"
        case .sendQueueFull(let limit): "the WebSocket send queue is full (\(limit) bytes)"
        case .messageTooLarge(let limit): "a received WebSocket message exceeds \(limit) bytes"
        case .invalidUTF8(let count): "a received text message of \(count) bytes is not valid UTF-8"
        case .connectionFailed(let reason): "WebSocket connection failed: \(reason)"
        case .contextCreationFailed: "libwebsockets could not create its context"
        case .threadStartFailed(let code): "could not start the WebSocket service thread (error \(code))"
        }
    }
}

/// Counters of a ``WebSocketClient``, for metrics.
public struct WebSocketStatistics: Sendable, Equatable {
    /// Connections established.
    public var connections = 0
    /// Connection attempts that failed before being established.
    public var connectionFailures = 0
    /// Established connections that ended.
    public var disconnections = 0
    /// Complete messages received and delivered.
    public var messagesReceived = 0
    /// Payload bytes of delivered messages.
    public var bytesReceived = 0
    /// Messages written to the socket.
    public var messagesSent = 0
    /// Payload bytes written.
    public var bytesSent = 0
    /// Messages rejected for exceeding `maxMessageBytes`.
    public var oversizedMessages = 0
    /// Text messages rejected as invalid UTF-8.
    public var invalidMessages = 0
    /// Times reading was paused because the consumer fell behind.
    public var readPauses = 0

    /// All zero.
    public init() {}
}
