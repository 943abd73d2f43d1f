/// A parsed `ws://` or `wss://` URL, split the way libwebsockets wants it.
public struct WebSocketURL: Sendable, Equatable {
    /// `true` for `wss://`.
    public var isSecure: Bool
    /// The host name or IP literal, without IPv6 brackets.
    public var host: String
    /// The TCP port (explicit, or 80 / 443 by scheme).
    public var port: Int
    /// The path and query, starting with `/`.
    public var path: String

    /// Parses `ws[s]://host[:port][/path][?query]`. User info (`user:pass@`) and fragments are
    /// rejected: credentials belong in ``WebSocketConfiguration/headers``.
    public init(parsing text: String) throws(WebSocketError) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("wss://") {
            isSecure = true
            rest = text.dropFirst(6)
        } else if lowered.hasPrefix("ws://") {
            isSecure = false
            rest = text.dropFirst(5)
        } else {
            throw .invalidURL("the scheme must be ws:// or wss://")
        }
        if rest.contains("#") { throw .invalidURL("fragments are not allowed") }
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" })
        let tail = rest.dropFirst(authority.count)
        path = tail.isEmpty ? "/" : (tail.first == "?" ? "/" + tail : String(tail))
        if authority.contains("@") { throw .invalidURL("user info is not allowed; use headers") }
        let hostPart: Substring
        var portPart: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidURL("unterminated IPv6 literal")
            }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw .invalidURL("junk after the IPv6 literal") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw .invalidURL("the host is missing") }
        guard hostPart.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw .invalidURL("the host must be ASCII without spaces")
        }
        host = String(hostPart)
        if let portPart {
            guard let value = Int(portPart), (1...65535).contains(value) else {
                throw .invalidURL("the port must be 1...65535")
            }
            port = value
        } else {
            port = isSecure ? 443 : 80
        }
        guard path.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw .invalidURL("the path must be ASCII without spaces (percent-encode it)")
        }
    }

    /// The value of the HTTP `Host` header.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isSecure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Scheme, host and port only: safe to log (node URLs often carry an API key in the path).
    public var redacted: String {
        "\(isSecure ? "wss" : "ws")://\(hostHeader)\(path == "/" ? "" : "/…")"
    }
}
