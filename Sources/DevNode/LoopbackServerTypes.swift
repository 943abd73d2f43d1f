/// Identifies one client connection of a ``LoopbackWebSocketServer`` (unique for the server's life).
public struct LoopbackClientID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A counter: the first client accepted is 1.
    public let rawValue: Int

    /// Wraps a raw identifier.
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "client#\(rawValue)" }
}

/// What a ``LoopbackWebSocketServer`` reports.
public enum LoopbackServerEvent: Sendable, Equatable {
    /// A client completed the WebSocket handshake.
    case connected(LoopbackClientID)
    /// A complete text message from a client.
    case text(LoopbackClientID, String)
    /// A complete binary message from a client.
    case binary(LoopbackClientID, [UInt8])
    /// A client's connection ended (either side closed it, or the server stopped).
    case disconnected(LoopbackClientID)
}

/// Errors of the loopback server.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libwebsockets could not create the context or listen (e.g. the port is taken).
    case listenFailed(host: String, port: Int)
    /// The service thread could not be started.
    case threadStartFailed(code: Int32)
    /// `start()` while already running.
    case alreadyRunning

    public var description: String {
        switch self {
        case .listenFailed(let host, let port): "cannot listen on \(host):\(port)"
        case .threadStartFailed(let code): "cannot start the server thread (error \(code))"
        case .alreadyRunning: "the server is already running"
        }
    }
}

/// A certificate and private key (PEM files) for a server speaking `wss://`.
public struct LoopbackTLSFiles: Sendable, Equatable {
    /// The PEM certificate (chain) file.
    public var certificatePath: String
    /// The PEM private key file (unencrypted).
    public var privateKeyPath: String

    /// The two file paths.
    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// What a client sent in its WebSocket upgrade request.
public struct LoopbackHandshake: Sendable, Equatable {
    /// The request path (without the query string).
    public var path: String
    /// Header values by lowercased name: `host`, `origin`, `authorization`, `user-agent` when
    /// present, plus the custom headers the server was asked to capture.
    public var headers: [String: String]

    /// A handshake record.
    public init(path: String, headers: [String: String]) {
        self.path = path
        self.headers = headers
    }
}
