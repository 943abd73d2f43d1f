import EVM

/// A JSON-RPC 2.0 error object.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The JSON-RPC error code (-32700, -32600, -32601, -32602, -32000, -32005).
    public var code: Int
    /// A human-readable explanation.
    public var message: String
    /// The optional `data` member, as raw JSON text (nil: no `data` member).
    public var data: String?
    /// When set, an HTTP server answers the whole request with this status instead of 200, as some
    /// providers do for their limits (see ``DevnetRangeErrorDialect``).
    var httpStatus: Int? = nil
    /// When set, an HTTP server sends this text (`text/plain`) as the whole body instead of the
    /// JSON-RPC response.
    var plainTextBody: String? = nil

    /// An error object; `data` is raw JSON text.
    public init(code: Int, message: String, data: String? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// -32700: the text is not JSON.
    public static func parse(_ detail: String) -> RPCError {
        RPCError(code: -32700, message: "parse error: \(detail)")
    }
    /// -32600: JSON, but not a request object.
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: -32600, message: "invalid request: \(detail)")
    }
    /// -32601: no such method (geth's wording).
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: -32601, message: "the method \(method) does not exist/is not available")
    }
    /// -32602: the parameters are wrong; `argument` is the zero-based position at fault.
    public static func invalidParams(_ detail: String, argument: Int? = nil) -> RPCError {
        RPCError(code: -32602, message: argument.map { "invalid argument \($0): \(detail)" } ?? detail)
    }
    /// -32000: a server-side condition (unknown block, invalid range).
    public static func server(_ message: String) -> RPCError { RPCError(code: -32000, message: message) }
    /// -32005: a provider limit was exceeded.
    public static func limitExceeded(_ message: String) -> RPCError {
        RPCError(code: -32005, message: message)
    }

    public var description: String { "\(code): \(message)" }

    /// Appends `{"code":..,"message":..}` (and `"data":..` when there is one).
    func write(to out: inout String) {
        out += "{\"code\":\(code),\"message\":"
        JSONWriter.string(message, to: &out)
        if let data {
            out += ",\"data\":"
            out += data
        }
        out += "}"
    }
}

/// Reading the parameters of Ethereum JSON-RPC methods with geth's strictness.
enum RPCParams {
    /// The positional parameters; absent params are an empty list, an object is refused.
    static func positional(_ params: JSONValue?, max: Int) throws(RPCError) -> [JSONValue] {
        let list: [JSONValue]
        switch params {
        case nil, .null?: list = []
        case .array(let a)?: list = a
        default: throw .invalidParams("expected an array of positional parameters")
        }
        guard list.count <= max else { throw .invalidParams("too many arguments, want at most \(max)") }
        return list
    }

    /// A JSON-RPC quantity: `0x` and 1 to 16 hex digits without leading zeros.
    static func quantity(_ value: JSONValue, argument: Int) throws(RPCError) -> UInt64 {
        guard case .string(let s) = value else {
            throw .invalidParams("expected a hex quantity string", argument: argument)
        }
        guard s.hasPrefix("0x") || s.hasPrefix("0X") else {
            throw .invalidParams("hex string without 0x prefix", argument: argument)
        }
        let digits = s.dropFirst(2)
        guard !digits.isEmpty else { throw .invalidParams("hex string \"0x\"", argument: argument) }
        guard digits.count == 1 || !digits.hasPrefix("0") else {
            throw .invalidParams("hex number with leading zero digits", argument: argument)
        }
        guard digits.count <= 16 else { throw .invalidParams("hex number > 64 bits", argument: argument) }
        guard let n = UInt64(digits, radix: 16) else {
            throw .invalidParams("invalid hex string", argument: argument)
        }
        return n
    }

    static func blockTag(_ value: JSONValue, argument: Int) throws(RPCError) -> DevnetBlockTag {
        if case .string(let s) = value {
            switch s {
            case "latest": return .latest
            case "pending": return .pending
            case "earliest": return .earliest
            case "finalized": return .finalized
            case "safe": return .safe
            default: break
            }
        }
        return .number(try quantity(value, argument: argument))
    }

    static func bytes32(_ value: JSONValue, argument: Int) throws(RPCError) -> Bytes32 {
        guard case .string(let s) = value else {
            throw .invalidParams("expected a 32-byte hex string", argument: argument)
        }
        do { return try Bytes32(hex: s) } catch {
            throw .invalidParams("invalid 32-byte hex \(s.prefix(80)): \(error)", argument: argument)
        }
    }

    static func address(_ value: JSONValue, argument: Int) throws(RPCError) -> Address {
        guard case .string(let s) = value else {
            throw .invalidParams("expected an address string", argument: argument)
        }
        do { return try Address(s) } catch {
            throw .invalidParams("invalid address \(s.prefix(80))", argument: argument)
        }
    }

    static func bool(_ value: JSONValue?, default fallback: Bool, argument: Int) throws(RPCError) -> Bool {
        switch value {
        case nil, .null?: return fallback
        case .bool(let b)?: return b
        default: throw .invalidParams("expected a boolean", argument: argument)
        }
    }

    /// A filter object: `fromBlock`, `toBlock`, `blockHash`, `address`, `topics` (others ignored).
    static func filter(_ value: JSONValue, argument: Int) throws(RPCError) -> LogFilter {
        guard case .object = value else {
            throw .invalidParams("expected a filter object", argument: argument)
        }
        var filter = LogFilter()
        let from = value["fromBlock"].flatMap { $0 == .null ? nil : $0 }
        let to = value["toBlock"].flatMap { $0 == .null ? nil : $0 }
        if let hash = value["blockHash"], hash != .null {
            guard from == nil, to == nil else {
                throw .invalidParams(
                    "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other",
                    argument: argument)
            }
            filter.range = .blockHash(try bytes32(hash, argument: argument))
        } else {
            filter.range = .blocks(
                from: try from.map { (v) throws(RPCError) in try blockTag(v, argument: argument) } ?? .latest,
                to: try to.map { (v) throws(RPCError) in try blockTag(v, argument: argument) } ?? .latest)
        }
        switch value["address"] {
        case nil, .null?: break
        case .string?: filter.addresses = [try address(value["address"]!, argument: argument)]
        case .array(let list)?:
            for item in list { filter.addresses.append(try address(item, argument: argument)) }
        default: throw .invalidParams("address must be a string or an array of strings", argument: argument)
        }
        switch value["topics"] {
        case nil, .null?: break
        case .array(let positions)?:
            guard positions.count <= 4 else { throw .invalidParams("exceed max topics", argument: argument) }
            for position in positions {
                switch position {
                case .null: filter.topics.append(nil)
                case .string: filter.topics.append([try bytes32(position, argument: argument)])
                case .array(let options):
                    var values: [Bytes32] = []
                    var wildcard = false
                    for option in options {
                        if option == .null {
                            wildcard = true
                        } else {
                            values.append(try bytes32(option, argument: argument))
                        }
                    }
                    filter.topics.append(wildcard || values.isEmpty ? nil : values)
                default: throw .invalidParams("invalid topic(s)", argument: argument)
                }
            }
        default: throw .invalidParams("topics must be an array", argument: argument)
        }
        return filter
    }
}
