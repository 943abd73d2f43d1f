import EVM

/// JSON-RPC 2.0 text for the calls the listener makes, and parsing of what nodes answer.
///
/// Requests are built as text. Answers are read with ``JSONScanner`` in one pass over the
/// envelope; a log result goes straight to ``EthLogParser``, so a frame is never turned into
/// dictionaries.
public enum JSONRPCCodec {
    /// A request's text: `{"jsonrpc":"2.0","id":id,"method":method,"params":params}`.
    public static func request(id: UInt64, method: String, params: String) -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"\(method)\",\"params\":\(params)}"
    }

    /// `0x`-prefixed hex quantity without leading zeros.
    public static func quantity(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// The filter object of `eth_getLogs` / `eth_subscribe("logs")`.
    public static func filterJSON(
        _ filter: LogFilter, from: UInt64? = nil, to: UInt64? = nil, blockHash: Bytes32? = nil
    ) -> String {
        var out = "{"
        if let blockHash { out += "\"blockHash\":\"\(blockHash.hex)\"," }
        if let from { out += "\"fromBlock\":\"\(quantity(from))\"," }
        if let to { out += "\"toBlock\":\"\(quantity(to))\"," }
        out += "\"address\":[" + filter.addresses.map { "\"\($0.lowercased)\"" }.joined(separator: ",") + "]"
        out += ",\"topics\":["
        out += filter.topics.map { position in
            guard let position else { return "null" }
            return "[" + position.map { "\"\($0.hex)\"" }.joined(separator: ",") + "]"
        }.joined(separator: ",")
        out += "]}"
        return out
    }

    /// A parsed incoming message.
    public enum Message: Sendable {
        /// An answer to request `id`: the raw bytes of its `result`, or its error.
        case response(id: UInt64, result: Result<[UInt8], JSONRPCError>)
        /// An `eth_subscription` notification: the subscription id and the raw bytes of `result`.
        case notification(subscription: String, result: [UInt8])
    }

    /// A JSON-RPC error object.
    public struct JSONRPCError: Error, Hashable, Sendable, CustomStringConvertible {
        public var code: Int
        public var message: String
        /// The error's `data` member as JSON text (at most 1 KiB), if any: some providers put
        /// the detail there, not in `message`.
        public var data: String?

        /// Creates an error object.
        public init(code: Int, message: String, data: String? = nil) {
            self.code = code
            self.message = message
            self.data = data
        }

        /// The message with the data, as one text.
        public var text: String { data.map { "\(message) (data: \($0))" } ?? message }

        public var description: String { "\(code): \(text)" }
    }

    /// Why a frame could not be understood.
    public struct MalformedMessage: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "malformed JSON-RPC message: \(reason)" }
    }

    /// Reads one frame: a response (with a numeric id) or a subscription notification.
    public static func parseMessage(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> Message {
        var scanner = JSONScanner(bytes, maxDepth: 64)
        var id: UInt64? = nil
        var result: Range<Int>? = nil
        var error: JSONRPCError? = nil
        var method: String? = nil
        var subscription: String? = nil
        var notificationResult: Range<Int>? = nil
        do throws(JSONScanError) {
            try scanner.beginObject()
            while let key = try scanner.nextKey() {
                if scanner.equals(key, "id") {
                    if try scanner.peekKind() == .number {
                        let digits = try scanner.scanNumber()
                        id = UInt64(
                            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[digits]), as: UTF8.self))
                    } else {
                        try scanner.skipValue()
                    }
                } else if scanner.equals(key, "result") {
                    scanner.skipWhitespace()
                    let start = scanner.offset
                    try scanner.skipValue()
                    result = start..<scanner.offset
                } else if scanner.equals(key, "error") {
                    error = try parseError(&scanner)
                } else if scanner.equals(key, "method") {
                    method = try scanner.readString(maxBytes: 64)
                } else if scanner.equals(key, "params") {
                    guard try scanner.peekKind() == .object else {
                        try scanner.skipValue()
                        continue
                    }
                    try scanner.beginObject()
                    while let inner = try scanner.nextKey() {
                        if scanner.equals(inner, "subscription") {
                            subscription = try scanner.readString(maxBytes: 256)
                        } else if scanner.equals(inner, "result") {
                            scanner.skipWhitespace()
                            let start = scanner.offset
                            try scanner.skipValue()
                            notificationResult = start..<scanner.offset
                        } else {
                            try scanner.skipValue()
                        }
                    }
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.finish()
        } catch {
            throw MalformedMessage(reason: "\(error)")
        }
        if method == "eth_subscription" {
            guard let subscription, let notificationResult else {
                throw MalformedMessage(
                    reason: "eth_subscription without params.subscription and params.result")
            }
            return .notification(subscription: subscription, result: Array(bytes[notificationResult]))
        }
        guard let id else {
            throw MalformedMessage(reason: "neither a response with a numeric id nor a notification")
        }
        if let error { return .response(id: id, result: .failure(error)) }
        guard let result else {
            throw MalformedMessage(reason: "response \(id) has neither result nor error")
        }
        return .response(id: id, result: .success(Array(bytes[result])))
    }

    private static func parseError(_ scanner: inout JSONScanner) throws(JSONScanError) -> JSONRPCError {
        var code = 0
        var message = ""
        var data: String? = nil
        guard try scanner.peekKind() == .object else {
            try scanner.skipValue()
            return JSONRPCError(code: 0, message: "error is not an object")
        }
        try scanner.beginObject()
        while let key = try scanner.nextKey() {
            if scanner.equals(key, "code"), try scanner.peekKind() == .number {
                let range = try scanner.scanNumber()
                code =
                    Int(
                        String(
                            decoding: UnsafeRawBufferPointer(rebasing: scanner.buffer[range]), as: UTF8.self))
                    ?? 0
            } else if scanner.equals(key, "message"), try scanner.peekKind() == .string {
                message = try scanner.readString(maxBytes: 4096)
            } else if scanner.equals(key, "data") {
                scanner.skipWhitespace()
                let start = scanner.offset
                try scanner.skipValue()
                let raw = UnsafeRawBufferPointer(
                    rebasing: scanner.buffer[start..<min(scanner.offset, start + 1024)])
                data = String(decoding: raw, as: UTF8.self)
            } else {
                try scanner.skipValue()
            }
        }
        return JSONRPCError(code: code, message: message, data: data)
    }

    /// Reads a hex quantity string (`"0x1a"`) as the whole JSON value.
    public static func parseQuantity(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> UInt64 {
        var scanner = JSONScanner(bytes)
        let text: String
        do throws(JSONScanError) {
            text = try scanner.readString(maxBytes: 20)
            try scanner.finish()
        } catch {
            throw MalformedMessage(reason: "\(error)")
        }
        return try quantity(text)
    }

    /// A hex quantity's value; at most 16 digits.
    public static func quantity(_ text: String) throws(MalformedMessage) -> UInt64 {
        guard text.hasPrefix("0x"), text.count > 2, text.count <= 18,
            let value = UInt64(text.dropFirst(2), radix: 16)
        else {
            throw MalformedMessage(reason: "invalid quantity '\(text.prefix(40))'")
        }
        return value
    }

    /// Reads a block header object, or nil for JSON `null` (no such block).
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> BlockHeader? {
        var scanner = JSONScanner(bytes)
        var number: UInt64? = nil
        var hash: Bytes32? = nil
        var parent: Bytes32? = nil
        var timestamp: UInt64 = 0
        do {
            if try scanner.peekKind() == .null {
                _ = try scanner.readNull()
                try scanner.finish()
                return nil
            }
            try scanner.beginObject()
            while let key = try scanner.nextKey() {
                if scanner.equals(key, "number") {
                    number = try quantity(try scanner.readString(maxBytes: 20))
                } else if scanner.equals(key, "hash") {
                    hash = try word(try scanner.readString(maxBytes: 66))
                } else if scanner.equals(key, "parentHash") {
                    parent = try word(try scanner.readString(maxBytes: 66))
                } else if scanner.equals(key, "timestamp") {
                    timestamp = try quantity(try scanner.readString(maxBytes: 20))
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.finish()
        } catch let error as MalformedMessage {
            throw error
        } catch {
            throw MalformedMessage(reason: "\(error)")
        }
        guard let number, let hash, let parent else {
            throw MalformedMessage(reason: "block header without number, hash or parentHash")
        }
        return BlockHeader(number: number, hash: hash, parentHash: parent, timestamp: timestamp)
    }

    private static func word(_ text: String) throws(MalformedMessage) -> Bytes32 {
        do { return try Bytes32(hex: text) } catch {
            throw MalformedMessage(reason: "invalid 32-byte hex '\(text.prefix(80))'")
        }
    }

    /// Reads an `eth_getLogs` result: an array of log objects.
    public static func parseLogs(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> [EthLog] {
        var scanner = JSONScanner(bytes)
        var logs: [EthLog] = []
        do {
            try scanner.beginArray()
            while try scanner.nextElement() {
                do {
                    logs.append(try EthLogParser.parseLog(from: &scanner))
                } catch {
                    throw MalformedMessage(reason: "log \(logs.count): \(error)")
                }
            }
            try scanner.finish()
        } catch let error as MalformedMessage {
            throw error
        } catch {
            throw MalformedMessage(reason: "\(error)")
        }
        return logs
    }

    /// Reads a JSON string result (a subscription id).
    public static func parseString(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> String {
        var scanner = JSONScanner(bytes)
        do throws(JSONScanError) {
            let text = try scanner.readString(maxBytes: 256)
            try scanner.finish()
            return text
        } catch {
            throw MalformedMessage(reason: "\(error)")
        }
    }
}
