#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Parses Ethereum JSON-RPC log objects and `eth_subscription` log notifications straight from
/// their UTF-8 bytes into ``EthLog``, without building a JSON tree.
///
/// Accepted shapes:
/// - a log object, as in an `eth_getLogs` result:
///   `{"address":"0x…","topics":["0x…"],"data":"0x…","blockNumber":"0x…","blockHash":"0x…",
///   "transactionHash":"0x…","transactionIndex":"0x…","logIndex":"0x…","removed":false}`;
/// - a notification: `{"jsonrpc":"2.0","method":"eth_subscription",
///   "params":{"subscription":"0x…","result":{<log>}}}`.
///
/// Rules (strict where ambiguity could copy a wrong trade, lenient where providers differ):
/// - Keys may come in any order; unknown keys are skipped whatever their value (validated as
///   JSON); keys may contain escapes. Whitespace is allowed wherever JSON allows it.
/// - A known key that appears twice in the same object is an error (``EthLogParseError/Reason/duplicateField``):
///   last-wins would let a hostile frame show different logs to different parsers.
/// - Required: `address`, `topics`, `data`, `blockNumber`, `blockHash`, `transactionHash`,
///   `transactionIndex`, `logIndex`. `null` in any of them (a pending log) is an error.
///   `removed` is optional: absent or `null` means `false`.
/// - Hex values need a lowercase `0x` prefix; digits may be upper or lower case; escapes inside
///   a hex value are rejected. Addresses are 20 bytes (the EIP-55 checksum is not checked),
///   hashes and topics 32 bytes, `topics` holds at most 4. Quantities are `0x0` or `0x` and
///   1...16 digits without a leading zero.
/// - Notifications need `method` = `"eth_subscription"`, `params.subscription` (a string)
///   and `params.result` (the log); `jsonrpc`, when present, must be `"2.0"`.
/// - Nesting is limited to ``Limits/maxDepth``, `data` to ``Limits/maxDataBytes``, the
///   subscription id to ``Limits/maxSubscriptionIDBytes``; after the object only whitespace may follow.
///
/// Any input, however hostile, yields either a log or an ``EthLogParseError``; the parser never
/// reads outside the buffer, and allocates only the `topics` and `data` arrays (and the
/// subscription id string), each bounded by the input size and the limits.
public enum EthLogParser {
    /// Bounds on what one frame may make the parser do.
    public struct Limits: Hashable, Sendable {
        /// Deepest nesting of objects and arrays, counted from the outermost object (1...64).
        public var maxDepth: Int
        /// Longest `data` accepted, in bytes.
        public var maxDataBytes: Int
        /// Longest subscription id accepted, in bytes as written.
        public var maxSubscriptionIDBytes: Int

        /// Creates limits; the defaults suit any log Polygon or Ethereum can emit.
        public init(maxDepth: Int = 64, maxDataBytes: Int = 4 << 20, maxSubscriptionIDBytes: Int = 256) {
            self.maxDepth = maxDepth
            self.maxDataBytes = maxDataBytes
            self.maxSubscriptionIDBytes = maxSubscriptionIDBytes
        }
    }

    /// Parses a log object (an element of an `eth_getLogs` result) that fills `json`.
    public static func parseLog(
        _ json: UnsafeRawBufferPointer, limits: Limits = Limits()
    )
        throws(EthLogParseError) -> EthLog
    {
        var scanner = JSONScanner(json, maxDepth: limits.maxDepth)
        let log = try parseLog(from: &scanner, limits: limits)
        try finish(&scanner)
        return log
    }

    /// Parses the log object at the scanner's position (for example one element of an
    /// `eth_getLogs` result array) and leaves the scanner just after it.
    ///
    /// The scanner's own depth limit applies (`limits.maxDepth` is not used); after an error
    /// the scanner is left where it was.
    public static func parseLog(
        from scanner: inout JSONScanner, limits: Limits = Limits()
    )
        throws(EthLogParseError) -> EthLog
    {
        var parser = Parser(scanner: scanner, limits: limits)
        var fields = Parser.LogFields()
        try parser.logObject(into: &fields, field: nil)
        scanner = parser.s
        return try fields.finish(at: scanner.offset - 1)
    }

    /// Parses an `eth_subscription` notification carrying a log that fills `json`.
    public static func parseNotification(
        _ json: UnsafeRawBufferPointer, limits: Limits = Limits()
    )
        throws(EthLogParseError) -> (subscription: String, log: EthLog)
    {
        var parser = Parser(scanner: JSONScanner(json, maxDepth: limits.maxDepth), limits: limits)
        var fields = Parser.LogFields()
        let subscription = try parser.root(allowLog: false, allowNotification: true, into: &fields)
        let end = parser.s.offset - 1
        try finish(&parser.s)
        return (subscription ?? "", try fields.finish(at: end))
    }

    /// Parses either shape: a log object or an `eth_subscription` notification (the
    /// subscription id is `nil` for a bare log).
    public static func parse(
        _ json: UnsafeRawBufferPointer, limits: Limits = Limits()
    )
        throws(EthLogParseError) -> (subscription: String?, log: EthLog)
    {
        var parser = Parser(scanner: JSONScanner(json, maxDepth: limits.maxDepth), limits: limits)
        var fields = Parser.LogFields()
        let subscription = try parser.root(allowLog: true, allowNotification: true, into: &fields)
        let end = parser.s.offset - 1
        try finish(&parser.s)
        return (subscription, try fields.finish(at: end))
    }

    /// Parses one line of text holding either shape (a trailing newline is fine).
    public static func parse(line: String, limits: Limits = Limits()) throws(EthLogParseError) -> EthLog {
        var line = line
        let result: Result<EthLog, EthLogParseError> = line.withUTF8 { utf8 in
            do throws(EthLogParseError) {
                return .success(try parse(UnsafeRawBufferPointer(utf8), limits: limits).log)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses a log object held in a string.
    public static func parseLog(_ json: String, limits: Limits = Limits()) throws(EthLogParseError) -> EthLog
    {
        var json = json
        let result: Result<EthLog, EthLogParseError> = json.withUTF8 { utf8 in
            do throws(EthLogParseError) {
                return .success(try parseLog(UnsafeRawBufferPointer(utf8), limits: limits))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses an `eth_subscription` notification held in a string.
    public static func parseNotification(
        _ json: String, limits: Limits = Limits()
    )
        throws(EthLogParseError) -> (subscription: String, log: EthLog)
    {
        var json = json
        let result: Result<(subscription: String, log: EthLog), EthLogParseError> = json.withUTF8 { utf8 in
            do throws(EthLogParseError) {
                return .success(try parseNotification(UnsafeRawBufferPointer(utf8), limits: limits))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    static func finish(_ scanner: inout JSONScanner) throws(EthLogParseError) {
        do { try scanner.finish() } catch { throw EthLogParseError(.json(error.kind), at: error.offset) }
    }
}

/// The keys the parser knows, in every object it reads.
enum EthLogKey: UInt8 {
    case address, topics, data, blockNumber, blockHash, transactionHash, transactionIndex, logIndex, removed
    case jsonrpc, method, params, subscription, result

    var name: String {
        switch self {
        case .address: "address"
        case .topics: "topics"
        case .data: "data"
        case .blockNumber: "blockNumber"
        case .blockHash: "blockHash"
        case .transactionHash: "transactionHash"
        case .transactionIndex: "transactionIndex"
        case .logIndex: "logIndex"
        case .removed: "removed"
        case .jsonrpc: "jsonrpc"
        case .method: "method"
        case .params: "params"
        case .subscription: "params.subscription"
        case .result: "params.result"
        }
    }

    var bit: UInt16 { 1 << rawValue }

    /// The log fields that must be present.
    static let requiredLogFields: [EthLogKey] = [
        .address, .topics, .data, .blockNumber, .blockHash, .transactionHash, .transactionIndex, .logIndex,
    ]
    static let requiredLogMask: UInt16 = 0xFF

    @inline(__always)
    static func same(_ p: UnsafeRawPointer, _ literal: StaticString) -> Bool {
        memcmp(p, literal.utf8Start, literal.utf8CodeUnitCount) == 0
    }

    /// The known key (and its length) spelled by the bytes at `p` up to a closing quote, if
    /// `available` bytes hold it and that quote.
    @inline(__always)
    static func match(_ p: UnsafeRawPointer, available: Int) -> (EthLogKey, Int)? {
        @inline(__always)
        func has(_ literal: StaticString) -> Bool {
            let n = literal.utf8CodeUnitCount
            return available > n && memcmp(p, literal.utf8Start, n) == 0
                && p.load(fromByteOffset: n, as: UInt8.self) == UInt8(ascii: "\"")
        }
        guard available > 0 else { return nil }
        switch p.load(as: UInt8.self) {
        case UInt8(ascii: "a"): if has("address") { return (.address, 7) }
        case UInt8(ascii: "b"):
            if has("blockHash") { return (.blockHash, 9) }
            if has("blockNumber") { return (.blockNumber, 11) }
        case UInt8(ascii: "d"): if has("data") { return (.data, 4) }
        case UInt8(ascii: "j"): if has("jsonrpc") { return (.jsonrpc, 7) }
        case UInt8(ascii: "l"): if has("logIndex") { return (.logIndex, 8) }
        case UInt8(ascii: "m"): if has("method") { return (.method, 6) }
        case UInt8(ascii: "p"): if has("params") { return (.params, 6) }
        case UInt8(ascii: "r"):
            if has("removed") { return (.removed, 7) }
            if has("result") { return (.result, 6) }
        case UInt8(ascii: "s"): if has("subscription") { return (.subscription, 12) }
        case UInt8(ascii: "t"):
            if has("topics") { return (.topics, 6) }
            if has("transactionHash") { return (.transactionHash, 15) }
            if has("transactionIndex") { return (.transactionIndex, 16) }
        default: break
        }
        return nil
    }

    /// The key whose UTF-8 text is the `count` bytes at `p`.
    @inline(__always)
    static func classify(_ p: UnsafeRawPointer, _ count: Int) -> EthLogKey? {
        switch count {
        case 4: return same(p, "data") ? .data : nil
        case 6:
            if same(p, "topics") { return .topics }
            if same(p, "method") { return .method }
            if same(p, "params") { return .params }
            if same(p, "result") { return .result }
            return nil
        case 7:
            if same(p, "address") { return .address }
            if same(p, "removed") { return .removed }
            if same(p, "jsonrpc") { return .jsonrpc }
            return nil
        case 8: return same(p, "logIndex") ? .logIndex : nil
        case 9: return same(p, "blockHash") ? .blockHash : nil
        case 11: return same(p, "blockNumber") ? .blockNumber : nil
        case 12: return same(p, "subscription") ? .subscription : nil
        case 15: return same(p, "transactionHash") ? .transactionHash : nil
        case 16: return same(p, "transactionIndex") ? .transactionIndex : nil
        default: return nil
        }
    }
}

extension EthLogParser {
    /// The parse of one frame: a scanner plus the log-specific readers.
    struct Parser {
        var s: JSONScanner
        let limits: Limits
        let base: UnsafeRawPointer
        let end: Int

        init(scanner: JSONScanner, limits: Limits) {
            self.s = scanner
            self.limits = limits
            // An empty buffer may have no address; nothing is ever read from it then.
            self.base = scanner.buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            self.end = scanner.buffer.count
        }

        @inline(__always)
        func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

        // MARK: Scanner calls with errors mapped

        @inline(__always)
        mutating func scan<T>(
            _ field: @autoclosure () -> String? = nil,
            _ body: (inout JSONScanner) throws(JSONScanError) -> T
        ) throws(EthLogParseError) -> T {
            do {
                return try body(&s)
            } catch {
                throw EthLogParseError(.json(error.kind), at: error.offset, field: field())
            }
        }

        /// The key at the current member of an object, or nil at its end.
        ///
        /// Known keys written plainly are recognised in place (the key and its closing quote
        /// compared at once); anything else is scanned as a string and, if escaped, decoded.
        @inline(__always)
        mutating func nextKey(
            in field: @autoclosure () -> String?
        ) throws(EthLogParseError) -> (
            key: EthLogKey?, offset: Int
        )? {
            guard try scan(field(), { s throws(JSONScanError) in try s.nextMember() }) else { return nil }
            let quote = s.offset
            if let (key, length) = EthLogKey.match(base + (quote + 1), available: end - (quote + 1)) {
                s.offset = quote + 2 + length
                try scan(field(), { s throws(JSONScanError) in try s.colon() })
                return (key, quote)
            }
            let token = try scan(field(), { s throws(JSONScanError) in try s.scanString() })
            try scan(field(), { s throws(JSONScanError) in try s.colon() })
            let key: EthLogKey?
            if token.hasEscapes {
                // No known key is longer than 16 characters, nor 12 bytes per character escaped;
                // an escaped key that does not decode (a lone surrogate) is just not a known one.
                if token.rawCount <= 12 * 16, let text = try? s.unescape(token) {
                    key = text.withUnsafeBytes { EthLogKey.classify($0.baseAddress ?? base, $0.count) }
                } else {
                    key = nil
                }
            } else {
                key = EthLogKey.classify(base + token.start, token.rawCount)
            }
            return (key, quote)
        }

        /// The first byte of the value at the current position.
        @inline(__always)
        mutating func peek(_ field: @autoclosure () -> String?) throws(EthLogParseError) -> UInt8 {
            try scan(field(), { s throws(JSONScanError) in try s.peekByte() })
        }

        mutating func skipValue() throws(EthLogParseError) {
            try scan(nil, { s throws(JSONScanError) in try s.skipValue() })
        }

        // MARK: Root objects

        /// The top-level object: a log (when `allowLog`) or a notification (when
        /// `allowNotification`). The log's fields land in `fields` either way.
        mutating func root(
            allowLog: Bool, allowNotification: Bool, into fields: inout LogFields
        )
            throws(EthLogParseError) -> String?
        {
            try scan(nil, { s throws(JSONScanError) in try s.beginObject() })
            var seen: UInt16 = 0
            var subscription: String? = nil
            var firstNotificationKey = -1
            var sawLogKey = false
            while let (key, keyOffset) = try nextKey(in: nil) {
                guard let key else {
                    try skipValue()
                    continue
                }
                switch key {
                case .jsonrpc, .method, .params:
                    guard allowNotification else {
                        try skipValue()
                        continue
                    }
                    guard !sawLogKey else { throw EthLogParseError(.ambiguousShape, at: keyOffset) }
                    guard seen & key.bit == 0 else {
                        throw EthLogParseError(.duplicateField, at: keyOffset, field: key.name)
                    }
                    seen |= key.bit
                    if firstNotificationKey < 0 { firstNotificationKey = keyOffset }
                    switch key {
                    case .jsonrpc:
                        try expectString(key, "2.0", else: .unsupportedJSONRPCVersion)
                    case .method:
                        try expectString(key, "eth_subscription", else: .notASubscription)
                    default:
                        subscription = try paramsObject(into: &fields)
                    }
                case .subscription, .result:
                    try skipValue()
                default:
                    guard allowLog else {
                        try skipValue()
                        continue
                    }
                    guard firstNotificationKey < 0 else {
                        throw EthLogParseError(.ambiguousShape, at: keyOffset)
                    }
                    sawLogKey = true
                    try logField(key, keyOffset, into: &fields)
                }
            }
            if allowLog && firstNotificationKey < 0 { return nil }
            guard seen & EthLogKey.method.bit != 0 else {
                throw EthLogParseError(.missingField, at: s.offset - 1, field: "method")
            }
            guard let subscription else {
                throw EthLogParseError(.missingField, at: s.offset - 1, field: "params")
            }
            return subscription
        }

        /// Reads a string that must equal `expected`.
        mutating func expectString(
            _ key: EthLogKey, _ expected: StaticString, else reason: EthLogParseError.Reason
        )
            throws(EthLogParseError)
        {
            let c = try peek(key.name)
            let at = s.offset
            if c == UInt8(ascii: "n") { throw EthLogParseError(.nullField, at: at, field: key.name) }
            guard c == UInt8(ascii: "\"") else {
                throw EthLogParseError(.wrongType(expected: "a string"), at: at, field: key.name)
            }
            let token = try scan(key.name, { s throws(JSONScanError) in try s.readStringToken() })
            guard s.equals(token, expected) else { throw EthLogParseError(reason, at: at, field: key.name) }
        }

        /// `{"subscription": "…", "result": {log}}` in any order, other keys skipped; returns the
        /// subscription id and leaves the log's fields in `fields`.
        mutating func paramsObject(into fields: inout LogFields) throws(EthLogParseError) -> String {
            let c = try peek("params")
            if c == UInt8(ascii: "n") { throw EthLogParseError(.nullField, at: s.offset, field: "params") }
            guard c == UInt8(ascii: "{") else {
                throw EthLogParseError(.wrongType(expected: "an object"), at: s.offset, field: "params")
            }
            try scan("params", { s throws(JSONScanError) in try s.beginObject() })
            var subscription: String? = nil
            var sawResult = false
            while let (key, keyOffset) = try nextKey(in: "params") {
                switch key {
                case .subscription:
                    guard subscription == nil else {
                        throw EthLogParseError(.duplicateField, at: keyOffset, field: "params.subscription")
                    }
                    subscription = try subscriptionID()
                case .result:
                    guard !sawResult else {
                        throw EthLogParseError(.duplicateField, at: keyOffset, field: "params.result")
                    }
                    sawResult = true
                    try logObject(into: &fields, field: "params.result")
                default:
                    try skipValue()
                }
            }
            guard let subscription else {
                throw EthLogParseError(.missingField, at: s.offset - 1, field: "params.subscription")
            }
            guard sawResult else {
                throw EthLogParseError(.missingField, at: s.offset - 1, field: "params.result")
            }
            return subscription
        }

        mutating func subscriptionID() throws(EthLogParseError) -> String {
            let field = "params.subscription"
            let c = try peek(field)
            if c == UInt8(ascii: "n") { throw EthLogParseError(.nullField, at: s.offset, field: field) }
            guard c == UInt8(ascii: "\"") else {
                throw EthLogParseError(.wrongType(expected: "a string"), at: s.offset, field: field)
            }
            let limit = limits.maxSubscriptionIDBytes
            return try scan(field, { s throws(JSONScanError) in try s.readString(maxBytes: limit) })
        }

        // MARK: Log objects

        /// The fields of a log as they are read; ``finish(at:)`` checks that all are there.
        struct LogFields {
            var address = Address.zero
            var topics: [Bytes32] = []
            var data: [UInt8] = []
            var blockNumber: UInt64 = 0
            var blockHash = Bytes32.zero
            var transactionHash = Bytes32.zero
            var transactionIndex: UInt64 = 0
            var logIndex: UInt64 = 0
            var removed = false
            var seen: UInt16 = 0

            /// The log; `offset` (the end of its object) is where a missing field is reported.
            consuming func finish(at offset: Int) throws(EthLogParseError) -> EthLog {
                guard seen & EthLogKey.requiredLogMask == EthLogKey.requiredLogMask else {
                    let missing = EthLogKey.requiredLogFields.first { seen & $0.bit == 0 }!
                    throw EthLogParseError(.missingField, at: offset, field: missing.name)
                }
                return EthLog(
                    address: address, topics: topics, data: data, blockNumber: blockNumber,
                    blockHash: blockHash,
                    transactionHash: transactionHash, transactionIndex: transactionIndex, logIndex: logIndex,
                    removed: removed)
            }
        }

        /// A whole log object at the current position, read into `fields`.
        mutating func logObject(into fields: inout LogFields, field: String?) throws(EthLogParseError) {
            let c = try peek(field)
            if c == UInt8(ascii: "n") && field != nil {
                throw EthLogParseError(.nullField, at: s.offset, field: field)
            }
            guard c == UInt8(ascii: "{") else {
                throw EthLogParseError(.wrongType(expected: "a log object"), at: s.offset, field: field)
            }
            try scan(nil, { s throws(JSONScanError) in try s.beginObject() })
            while let (key, keyOffset) = try nextKey(in: nil) {
                switch key {
                case .some(let key) where key.rawValue <= EthLogKey.removed.rawValue:
                    try logField(key, keyOffset, into: &fields)
                default:
                    try skipValue()
                }
            }
        }

        /// Reads the value of log field `key`.
        @inline(__always)
        mutating func logField(
            _ key: EthLogKey, _ keyOffset: Int, into fields: inout LogFields
        )
            throws(EthLogParseError)
        {
            guard fields.seen & key.bit == 0 else {
                throw EthLogParseError(.duplicateField, at: keyOffset, field: key.name)
            }
            fields.seen |= key.bit
            switch key {
            case .address: fields.address = try address()
            case .topics: fields.topics = try topics()
            case .data: fields.data = try data()
            case .blockNumber: fields.blockNumber = try quantity(key)
            case .blockHash: fields.blockHash = try bytes32(key.name)
            case .transactionHash: fields.transactionHash = try bytes32(key.name)
            case .transactionIndex: fields.transactionIndex = try quantity(key)
            case .logIndex: fields.logIndex = try quantity(key)
            case .removed:
                let at = s.offset
                switch try peek("removed") {
                case UInt8(ascii: "t"), UInt8(ascii: "f"):
                    fields.removed = try scan("removed", { s throws(JSONScanError) in try s.readBool() })
                case UInt8(ascii: "n"):
                    _ = try scan("removed", { s throws(JSONScanError) in try s.readNull() })
                    fields.removed = false
                default:
                    throw EthLogParseError(.wrongType(expected: "true or false"), at: at, field: "removed")
                }
            default: try skipValue()
            }
        }

        // MARK: Hex values

        /// The string token of a hex value, with null, type and prefix errors reported.
        /// Returns the range of the digits after `0x`.
        mutating func hexDigits(
            _ field: @autoclosure () -> String, expected: String
        ) throws(EthLogParseError)
            -> Range<Int>
        {
            let c = try peek(field())
            let at = s.offset
            if c == UInt8(ascii: "n") {
                _ = try scan(field(), { s throws(JSONScanError) in try s.readNull() })
                throw EthLogParseError(.nullField, at: at, field: field())
            }
            guard c == UInt8(ascii: "\"") else {
                throw EthLogParseError(.wrongType(expected: expected), at: at, field: field())
            }
            let token = try scan(field(), { s throws(JSONScanError) in try s.readStringToken() })
            guard token.rawCount >= 2, byte(token.start) == UInt8(ascii: "0"),
                byte(token.start + 1) == UInt8(ascii: "x")
            else { throw EthLogParseError(.missingHexPrefix, at: at, field: field()) }
            let digits = (token.start + 2)..<token.end
            if let bad = FastHex.firstInvalid(base, digits) {
                throw EthLogParseError(.invalidHexCharacter, at: bad, field: field())
            }
            return digits
        }

        /// Checks a byte string's digits for even length and the expected size.
        func checkLength(
            _ digits: Range<Int>, bytes: Int, at: Int, field: @autoclosure () -> String
        )
            throws(EthLogParseError)
        {
            guard digits.count % 2 == 0 else {
                throw EthLogParseError(.oddHexLength(digits: digits.count), at: at, field: field())
            }
            guard digits.count == 2 * bytes else {
                throw EthLogParseError(
                    .wrongLength(expectedBytes: bytes, actualBytes: digits.count / 2), at: at, field: field())
            }
        }

        /// Whether `"0x` followed by `digits` hex digits and `"` can be at `o`.
        @inline(__always)
        func fastHexString(at o: Int, digits: Int) -> Bool {
            o + digits + 4 <= end && byte(o) == UInt8(ascii: "\"") && byte(o + 1) == UInt8(ascii: "0")
                && byte(o + 2) == UInt8(ascii: "x") && byte(o + 3 + digits) == UInt8(ascii: "\"")
        }

        mutating func bytes32(_ field: @autoclosure () -> String) throws(EthLogParseError) -> Bytes32 {
            s.skipWhitespace()
            let o = s.offset
            if fastHexString(at: o, digits: 64), let value = FastHex.bytes32(base, o + 3) {
                s.offset = o + 68
                return value
            }
            let digits = try hexDigits(field(), expected: "a 32-byte hex string")
            try checkLength(digits, bytes: 32, at: o, field: field())
            return FastHex.bytes32(base, digits.lowerBound)!
        }

        mutating func address() throws(EthLogParseError) -> Address {
            s.skipWhitespace()
            let o = s.offset
            if fastHexString(at: o, digits: 40), let value = FastHex.address(base, o + 3) {
                s.offset = o + 44
                return value
            }
            let digits = try hexDigits("address", expected: "a 20-byte hex string")
            try checkLength(digits, bytes: 20, at: o, field: "address")
            return FastHex.address(base, digits.lowerBound)!
        }

        mutating func quantity(_ key: EthLogKey) throws(EthLogParseError) -> UInt64 {
            s.skipWhitespace()
            let o = s.offset
            if o + 4 < end, byte(o) == UInt8(ascii: "\""), byte(o + 1) == UInt8(ascii: "0"),
                byte(o + 2) == UInt8(ascii: "x")
            {
                let first = o + 3
                let limit = min(end, first + 16)
                var i = first
                var value: UInt64 = 0
                while i < limit {
                    let d = FastHex.nibble(byte(i))
                    if d > 15 { break }
                    value = value << 4 | UInt64(d)
                    i += 1
                }
                if i < end, byte(i) == UInt8(ascii: "\""), i > first,
                    i == first + 1 || byte(first) != UInt8(ascii: "0")
                {
                    s.offset = i + 1
                    return value
                }
            }
            let digits = try hexDigits(key.name, expected: "a hex quantity string")
            guard !digits.isEmpty else { throw EthLogParseError(.emptyQuantity, at: o, field: key.name) }
            guard digits.count == 1 || byte(digits.lowerBound) != UInt8(ascii: "0") else {
                throw EthLogParseError(.quantityLeadingZero, at: digits.lowerBound, field: key.name)
            }
            guard digits.count <= 16 else {
                throw EthLogParseError(.quantityTooLarge, at: o, field: key.name)
            }
            var value: UInt64 = 0
            for i in digits { value = value << 4 | UInt64(FastHex.nibble(byte(i))) }
            return value
        }

        mutating func data() throws(EthLogParseError) -> [UInt8] {
            s.skipWhitespace()
            let o = s.offset
            if o + 3 < end, byte(o) == UInt8(ascii: "\""), byte(o + 1) == UInt8(ascii: "0"),
                byte(o + 2) == UInt8(ascii: "x"),
                let q = memchr(base + (o + 3), Int32(UInt8(ascii: "\"")), end - (o + 3))
            {
                let digits = base.distance(to: UnsafeRawPointer(q)) - (o + 3)
                let count = digits / 2
                if digits % 2 == 0 && count <= limits.maxDataBytes {
                    if count == 0 {
                        s.offset = o + 4
                        return []
                    }
                    let base = self.base
                    var ok = true
                    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                        ok = FastHex.decode(
                            base, o + 3, byteCount: count, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                        initialized = ok ? count : 0
                    }
                    if ok {
                        s.offset = o + 4 + digits
                        return bytes
                    }
                }
            }
            let digits = try hexDigits("data", expected: "a hex string")
            guard digits.count % 2 == 0 else {
                throw EthLogParseError(.oddHexLength(digits: digits.count), at: o, field: "data")
            }
            let count = digits.count / 2
            guard count <= limits.maxDataBytes else {
                throw EthLogParseError(.dataTooLarge(limit: limits.maxDataBytes), at: o, field: "data")
            }
            let base = self.base
            return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                for k in 0..<count {
                    let i = digits.lowerBound + 2 * k
                    buffer[k] =
                        FastHex.nibble(base.load(fromByteOffset: i, as: UInt8.self)) << 4
                        | FastHex.nibble(base.load(fromByteOffset: i + 1, as: UInt8.self))
                }
                initialized = count
            }
        }

        mutating func topics() throws(EthLogParseError) -> [Bytes32] {
            let c = try peek("topics")
            let at = s.offset
            if c == UInt8(ascii: "n") { throw EthLogParseError(.nullField, at: at, field: "topics") }
            guard c == UInt8(ascii: "[") else {
                throw EthLogParseError(.wrongType(expected: "an array of topics"), at: at, field: "topics")
            }
            try scan("topics", { s throws(JSONScanError) in try s.beginArray() })
            var t = (Bytes32.zero, Bytes32.zero, Bytes32.zero, Bytes32.zero)
            var count = 0
            while try scan("topics", { s throws(JSONScanError) in try s.nextElement() }) {
                let index = count
                switch count {
                case 0: t.0 = try bytes32("topics[\(index)]")
                case 1: t.1 = try bytes32("topics[\(index)]")
                case 2: t.2 = try bytes32("topics[\(index)]")
                case 3: t.3 = try bytes32("topics[\(index)]")
                default:
                    s.skipWhitespace()
                    throw EthLogParseError(.tooManyTopics, at: s.offset, field: "topics[\(index)]")
                }
                count += 1
            }
            switch count {
            case 0: return []
            case 1: return [t.0]
            case 2: return [t.0, t.1]
            case 3: return [t.0, t.1, t.2]
            default: return [t.0, t.1, t.2, t.3]
            }
        }
    }
}
