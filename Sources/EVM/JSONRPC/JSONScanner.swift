#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why the bytes are not the JSON a ``JSONScanner`` was asked to read, and where.
public struct JSONScanError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Hashable, Sendable {
        /// The input ended inside a value.
        case unexpectedEnd
        /// A byte that cannot start or continue the expected token; `expected` names what could.
        case unexpectedByte(UInt8, expected: String)
        /// Objects and arrays nested deeper than the limit.
        case tooDeep(limit: Int)
        /// A backslash escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
        case invalidEscape
        /// A `\u` escape that is a lone or reversed UTF-16 surrogate (only when decoding a string).
        case invalidUnicodeEscape
        /// A raw control character (below U+0020) inside a string.
        case controlCharacterInString
        /// Bytes that are not well-formed UTF-8 inside a string.
        case invalidUTF8
        /// A number that does not follow the JSON grammar.
        case invalidNumber
        /// Something other than whitespace after the top-level value.
        case trailingData
        /// A string longer (in bytes, as written) than the caller allows.
        case stringTooLong(limit: Int)
    }

    /// What went wrong.
    public var kind: Kind
    /// The byte offset in the input where it went wrong.
    public var offset: Int

    /// Creates an error.
    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    /// What went wrong and at which byte, for logs and error lines.
    public var description: String {
        let what: String
        switch kind {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let byte, let expected):
            what = "unexpected \(JSONScanError.describe(byte)), expected \(expected)"
        case .tooDeep(let limit): what = "nesting deeper than \(limit) levels"
        case .invalidEscape: what = "invalid escape sequence in string"
        case .invalidUnicodeEscape: what = "invalid \\u escape (unpaired UTF-16 surrogate)"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .invalidUTF8: what = "invalid UTF-8 in string"
        case .invalidNumber: what = "invalid number"
        case .trailingData: what = "unexpected data after the JSON value"
        case .stringTooLong(let limit): what = "string longer than \(limit) bytes"
        }
        return "\(what) at byte \(offset)"
    }

    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        let hex = String(byte, radix: 16, uppercase: true)
        return "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
    }
}

/// The kind of JSON value that starts at the scanner's position.
public enum JSONValueKind: Hashable, Sendable {
    /// `{ … }`
    case object
    /// `[ … ]`
    case array
    /// `" … "`
    case string
    /// `-1.5e3` and the like.
    case number
    /// `true` or `false`.
    case bool
    /// `null`
    case null
}

/// A string token: the bytes between its quotes, as written (escapes not yet decoded).
public struct JSONStringToken: Hashable, Sendable {
    /// Offset of the first byte after the opening quote.
    public var start: Int
    /// Offset of the closing quote.
    public var end: Int
    /// Whether the raw bytes contain a backslash escape.
    public var hasEscapes: Bool

    /// Creates a token.
    @inlinable
    public init(start: Int, end: Int, hasEscapes: Bool) {
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }

    /// Number of raw bytes between the quotes.
    @inlinable
    public var rawCount: Int { end - start }
}

/// A forward-only, allocation-free JSON tokenizer over UTF-8 bytes.
///
/// It does not build a tree: a parser walks the shape it expects, reading the values it wants
/// and skipping (but fully validating) the others:
///
/// ```swift
/// var scanner = JSONScanner(buffer)
/// try scanner.beginObject()
/// while let key = try scanner.nextKey() {
///     if scanner.equals(key, "id") { id = try scanner.readString() } else { try scanner.skipValue() }
/// }
/// try scanner.finish()
/// ```
///
/// `nextKey()` and `nextElement()` consume the separators, so a value must be read or skipped
/// after each key or element they report. Nesting is limited to ``maxDepth`` levels (at most 64),
/// every failure is a ``JSONScanError`` carrying its byte offset, and the scanner never reads
/// outside the buffer, whatever the bytes. The buffer must outlive the scanner.
public struct JSONScanner {
    /// The bytes being scanned.
    public let buffer: UnsafeRawBufferPointer
    /// Offset of the next byte to read (0...`buffer.count`).
    public internal(set) var offset: Int
    /// How many objects and arrays enclose the current position.
    public private(set) var depth: Int
    /// The deepest nesting allowed (1...64).
    public let maxDepth: Int
    /// Set just after `{` or `[`: the next key or element takes no comma.
    @usableFromInline var atContainerStart: Bool

    /// The deepest nesting any scanner accepts.
    public static let depthLimit = 64

    /// Creates a scanner at the start of `buffer`; `maxDepth` is clamped to 1...64.
    public init(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = 64) {
        self.buffer = buffer
        self.offset = 0
        self.depth = 0
        self.maxDepth = min(max(maxDepth, 1), JSONScanner.depthLimit)
        self.atContainerStart = false
    }

    // MARK: Bytes

    @inline(__always)
    func byte(_ i: Int) -> UInt8 { buffer.load(fromByteOffset: i, as: UInt8.self) }

    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    /// Advances past JSON whitespace (space, tab, CR, LF).
    @inline(__always)
    public mutating func skipWhitespace() {
        while offset < buffer.count, JSONScanner.isWhitespace(byte(offset)) { offset += 1 }
    }

    /// The next non-whitespace byte, without consuming it.
    @inline(__always)
    public mutating func peekByte() throws(JSONScanError) -> UInt8 {
        skipWhitespace()
        guard offset < buffer.count else { throw JSONScanError(.unexpectedEnd, at: offset) }
        return byte(offset)
    }

    /// The kind of the value at the current position (after whitespace), without consuming it.
    public mutating func peekKind() throws(JSONScanError) -> JSONValueKind {
        let c = try peekByte()
        switch c {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw JSONScanError(.unexpectedByte(c, expected: "a JSON value"), at: offset)
        }
    }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ expected: String) throws(JSONScanError) {
        let b = try peekByte()
        guard b == c else { throw JSONScanError(.unexpectedByte(b, expected: expected), at: offset) }
        offset += 1
    }

    /// Checks that only whitespace follows the top-level value.
    public mutating func finish() throws(JSONScanError) {
        skipWhitespace()
        guard offset == buffer.count else { throw JSONScanError(.trailingData, at: offset) }
    }

    // MARK: Containers

    @inline(__always)
    mutating func enter() throws(JSONScanError) {
        guard depth < maxDepth else { throw JSONScanError(.tooDeep(limit: maxDepth), at: offset) }
        depth += 1
        offset += 1
        atContainerStart = true
    }

    /// Consumes `{` and enters the object.
    public mutating func beginObject() throws(JSONScanError) {
        let b = try peekByte()
        guard b == UInt8(ascii: "{") else {
            throw JSONScanError(.unexpectedByte(b, expected: "'{'"), at: offset)
        }
        try enter()
    }

    /// Consumes `[` and enters the array.
    public mutating func beginArray() throws(JSONScanError) {
        let b = try peekByte()
        guard b == UInt8(ascii: "[") else {
            throw JSONScanError(.unexpectedByte(b, expected: "'['"), at: offset)
        }
        try enter()
    }

    /// Moves to the next member of the current object: consumes the comma, the key and the
    /// colon and returns the key, positioned at its value; or consumes `}` and returns `nil`.
    public mutating func nextKey() throws(JSONScanError) -> JSONStringToken? {
        guard try nextMember() else { return nil }
        let key = try scanString()
        try expect(UInt8(ascii: ":"), "':'")
        return key
    }

    /// The first half of ``nextKey()``: consumes the comma and returns `true` positioned at the
    /// key's opening quote, or consumes `}` and returns `false`.
    @usableFromInline
    mutating func nextMember() throws(JSONScanError) -> Bool {
        var c = try peekByte()
        if atContainerStart {
            atContainerStart = false
            if c == UInt8(ascii: "}") {
                offset += 1
                depth -= 1
                return false
            }
        } else if c == UInt8(ascii: ",") {
            offset += 1
            c = try peekByte()
        } else if c == UInt8(ascii: "}") {
            offset += 1
            depth -= 1
            return false
        } else {
            throw JSONScanError(.unexpectedByte(c, expected: "',' or '}'"), at: offset)
        }
        guard c == UInt8(ascii: "\"") else {
            throw JSONScanError(.unexpectedByte(c, expected: "a string key"), at: offset)
        }
        return true
    }

    /// Consumes the `:` after a key whose closing quote is just before `offset`.
    @usableFromInline
    mutating func colon() throws(JSONScanError) {
        if offset < buffer.count && byte(offset) == UInt8(ascii: ":") {
            offset += 1
            return
        }
        try expect(UInt8(ascii: ":"), "':'")
    }

    /// Moves to the next element of the current array: consumes the comma and returns `true`,
    /// positioned at the element; or consumes `]` and returns `false`.
    public mutating func nextElement() throws(JSONScanError) -> Bool {
        let c = try peekByte()
        if atContainerStart {
            atContainerStart = false
            if c == UInt8(ascii: "]") {
                offset += 1
                depth -= 1
                return false
            }
            return true
        }
        if c == UInt8(ascii: ",") {
            offset += 1
            return true
        }
        if c == UInt8(ascii: "]") {
            offset += 1
            depth -= 1
            return false
        }
        throw JSONScanError(.unexpectedByte(c, expected: "',' or ']'"), at: offset)
    }

    // MARK: Scalars

    /// Reads `true` or `false`.
    public mutating func readBool() throws(JSONScanError) -> Bool {
        let c = try peekByte()
        if c == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        if c == UInt8(ascii: "f") {
            try literal("false")
            return false
        }
        throw JSONScanError(.unexpectedByte(c, expected: "true or false"), at: offset)
    }

    /// Consumes `null` if that is the next value and says whether it did.
    public mutating func readNull() throws(JSONScanError) -> Bool {
        guard try peekByte() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Consumes the literal `word` (`true`, `false` or `null`) at the current position.
    @inline(__always)
    mutating func literal(_ word: StaticString) throws(JSONScanError) {
        let n = word.utf8CodeUnitCount
        let p = word.utf8Start
        for i in 0..<n {
            guard offset + i < buffer.count else { throw JSONScanError(.unexpectedEnd, at: offset + i) }
            let b = byte(offset + i)
            guard b == p[i] else {
                throw JSONScanError(.unexpectedByte(b, expected: "'\(word)'"), at: offset + i)
            }
        }
        offset += n
    }

    /// Skips a number, validating it against the JSON grammar, and returns its byte range.
    @discardableResult
    public mutating func scanNumber() throws(JSONScanError) -> Range<Int> {
        let start = offset
        var i = offset
        let n = buffer.count
        if i < n, byte(i) == UInt8(ascii: "-") { i += 1 }
        guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
        let first = byte(i)
        if first == UInt8(ascii: "0") {
            i += 1
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            i += 1
            while i < n, byte(i) &- UInt8(ascii: "0") < 10 { i += 1 }
        } else {
            throw JSONScanError(.invalidNumber, at: i)
        }
        if i < n, byte(i) == UInt8(ascii: ".") {
            i += 1
            guard i < n, byte(i) &- UInt8(ascii: "0") < 10 else { throw JSONScanError(.invalidNumber, at: i) }
            while i < n, byte(i) &- UInt8(ascii: "0") < 10 { i += 1 }
        }
        if i < n, byte(i) | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, byte(i) == UInt8(ascii: "+") || byte(i) == UInt8(ascii: "-") { i += 1 }
            guard i < n, byte(i) &- UInt8(ascii: "0") < 10 else { throw JSONScanError(.invalidNumber, at: i) }
            while i < n, byte(i) &- UInt8(ascii: "0") < 10 { i += 1 }
        }
        offset = i
        return start..<i
    }

    // MARK: Strings

    /// Reads a string token without decoding it: the raw bytes are validated (escapes,
    /// control characters, UTF-8) but left in place. Positioned after the closing quote.
    public mutating func readStringToken() throws(JSONScanError) -> JSONStringToken {
        let c = try peekByte()
        guard c == UInt8(ascii: "\"") else {
            throw JSONScanError(.unexpectedByte(c, expected: "a string"), at: offset)
        }
        return try scanString()
    }

    /// Reads and decodes a string; `maxBytes` bounds its raw (as written) length.
    public mutating func readString(maxBytes: Int = .max) throws(JSONScanError) -> String {
        let start = offset
        let token = try readStringToken()
        guard token.rawCount <= maxBytes else {
            throw JSONScanError(.stringTooLong(limit: maxBytes), at: start)
        }
        return try decodeString(token)
    }

    /// The decoded text of a token read from this buffer.
    public func decodeString(_ token: JSONStringToken) throws(JSONScanError) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: buffer[token.start..<token.end])
        if !token.hasEscapes { return String(decoding: raw, as: UTF8.self) }
        let bytes = try unescape(token)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the decoded text of `token` is exactly `literal` (an ASCII key, say).
    @inline(__always)
    public func equals(_ token: JSONStringToken, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        if token.hasEscapes { return slowEquals(token, literal) }
        guard token.rawCount == n else { return false }
        return memcmp(buffer.baseAddress! + token.start, literal.utf8Start, n) == 0
    }

    func slowEquals(_ token: JSONStringToken, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        // Each character takes at most 12 bytes written (a surrogate pair): longer cannot match.
        guard token.rawCount <= 12 * n, let bytes = try? unescape(token) else { return false }
        guard bytes.count == n else { return false }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress!, literal.utf8Start, n) == 0 }
    }

    /// Decodes the escapes of a validated token into UTF-8 bytes.
    public func unescape(_ token: JSONStringToken) throws(JSONScanError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.rawCount)
        var i = token.start
        while i < token.end {
            let c = byte(i)
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            let e = byte(i + 1)
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default:  // "u": validated by scanString
                var scalar = hex4(i + 2)
                var width = 6
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard i + 12 <= token.end, byte(i + 6) == UInt8(ascii: "\\"),
                        byte(i + 7) == UInt8(ascii: "u")
                    else { throw JSONScanError(.invalidUnicodeEscape, at: i) }
                    let low = hex4(i + 8)
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw JSONScanError(.invalidUnicodeEscape, at: i)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    width = 12
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw JSONScanError(.invalidUnicodeEscape, at: i)
                }
                out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
                i += width
                continue
            }
            i += 2
        }
        return out
    }

    func hex4(_ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | UInt32(FastHex.nibble(byte(at + k))) }
        return v
    }

    /// Scans the string whose opening quote is at `offset`; leaves `offset` after the closing quote.
    @usableFromInline
    mutating func scanString() throws(JSONScanError) -> JSONStringToken {
        let start = offset + 1
        var i = start
        let n = buffer.count
        var escapes = false
        while true {
            // Eight bytes at a time up to the first special one ('"', '\', < 0x20, >= 0x80).
            while i + 8 <= n {
                let x = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let special = FastHex.specialStringBytes(x)
                if special != 0 {
                    i += special.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
            guard i < n else { throw JSONScanError(.unexpectedEnd, at: i) }
            let c = byte(i)
            if c == UInt8(ascii: "\"") {
                offset = i + 1
                return JSONStringToken(start: start, end: i, hasEscapes: escapes)
            }
            if c == UInt8(ascii: "\\") {
                escapes = true
                guard i + 1 < n else { throw JSONScanError(.unexpectedEnd, at: i + 1) }
                switch byte(i + 1) {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 6 <= n else { throw JSONScanError(.unexpectedEnd, at: n) }
                    for k in 2..<6 where FastHex.nibble(byte(i + k)) > 15 {
                        throw JSONScanError(.invalidEscape, at: i)
                    }
                    i += 6
                default:
                    throw JSONScanError(.invalidEscape, at: i)
                }
            } else if c < 0x20 {
                throw JSONScanError(.controlCharacterInString, at: i)
            } else if c >= 0x80 {
                i += try utf8SequenceLength(at: i)
            } else {
                i += 1
            }
        }
    }

    /// Validates the multi-byte UTF-8 sequence starting at `i` and returns its length.
    func utf8SequenceLength(at i: Int) throws(JSONScanError) -> Int {
        let n = buffer.count
        let c = byte(i)
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw JSONScanError(.invalidUTF8, at: i)
        }
        guard i + length <= n else {
            // Report a truncated sequence as the end of input if what is there is well-formed.
            for k in 1..<(n - i) where byte(i + k) & 0xC0 != 0x80 { throw JSONScanError(.invalidUTF8, at: i) }
            throw JSONScanError(.unexpectedEnd, at: n)
        }
        let second = byte(i + 1)
        guard second >= low && second <= high else { throw JSONScanError(.invalidUTF8, at: i) }
        if length > 2 {
            for k in 2..<length where byte(i + k) & 0xC0 != 0x80 { throw JSONScanError(.invalidUTF8, at: i) }
        }
        return length
    }

    // MARK: Skipping

    /// Skips one complete value of any kind, validating it, without recursion or allocation.
    public mutating func skipValue() throws(JSONScanError) {
        // One bit per open container opened here: 1 = object, 0 = array.
        var stack: UInt64 = 0
        var level = 0
        let room = maxDepth - depth
        atContainerStart = false
        value: while true {
            // Expecting a value.
            let c = try peekByte()
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard level < room else { throw JSONScanError(.tooDeep(limit: maxDepth), at: offset) }
                let isObject = c == UInt8(ascii: "{")
                offset += 1
                level += 1
                stack = stack << 1 | (isObject ? 1 : 0)
                let d = try peekByte()
                if d == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    offset += 1
                    level -= 1
                    stack >>= 1
                } else {
                    if isObject { try memberKey(d) }
                    continue value
                }
            case UInt8(ascii: "\""): _ = try scanString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
            default: throw JSONScanError(.unexpectedByte(c, expected: "a JSON value"), at: offset)
            }
            // After a value: close containers or move to the next member.
            while level > 0 {
                let d = try peekByte()
                let inObject = stack & 1 == 1
                if d == UInt8(ascii: ",") {
                    offset += 1
                    if inObject { try memberKey(try peekByte()) }
                    continue value
                }
                guard d == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw JSONScanError(
                        .unexpectedByte(d, expected: inObject ? "',' or '}'" : "',' or ']'"), at: offset)
                }
                offset += 1
                level -= 1
                stack >>= 1
            }
            return
        }
    }

    /// Reads `"key":` inside a skipped object; `c` is the byte at `offset`.
    @inline(__always)
    mutating func memberKey(_ c: UInt8) throws(JSONScanError) {
        guard c == UInt8(ascii: "\"") else {
            throw JSONScanError(.unexpectedByte(c, expected: "a string key"), at: offset)
        }
        _ = try scanString()
        try expect(UInt8(ascii: ":"), "':'")
    }
}
