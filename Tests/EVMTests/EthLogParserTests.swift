import Foundation
import Testing

@testable import EVM

// MARK: - Helpers

/// Byte offset of the first occurrence of `needle` in `haystack`.
func byteOffset(of needle: String, in haystack: String) -> Int {
    let h = Array(haystack.utf8)
    let n = Array(needle.utf8)
    for i in 0...(h.count - n.count) where Array(h[i..<(i + n.count)]) == n { return i }
    Issue.record("\(needle) not found")
    return -1
}

func hexString(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

func bytes32(_ hex: String) -> Bytes32 { try! Bytes32(hex: hex) }

/// Parses `json` (log or notification) through the byte-buffer API.
func parseAny(_ json: String) throws(EthLogParseError) -> (subscription: String?, log: EthLog) {
    let bytes = Array(json.utf8)
    let result: Result<(subscription: String?, log: EthLog), EthLogParseError> = bytes.withUnsafeBytes {
        buffer in
        do throws(EthLogParseError) { return .success(try EthLogParser.parse(buffer)) } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

/// Asserts that parsing `json` as a log (or, with `notification`, as a notification) fails with `reason`.
func expectFailure(
    _ json: String, _ reason: EthLogParseError.Reason, field: String?? = .none, offset: Int? = nil,
    notification: Bool = false, limits: EthLogParser.Limits = .init(),
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        if notification {
            _ = try EthLogParser.parseNotification(json, limits: limits)
        } else {
            _ = try EthLogParser.parseLog(json, limits: limits)
        }
        Issue.record("expected \(reason), but it parsed", sourceLocation: sourceLocation)
    } catch {
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        if case .some(let field) = field {
            #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
        }
        if let offset { #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation) }
        #expect(!error.description.isEmpty)
    }
}

/// The fields of a realistic V2 OrderFilled log, in geth's (alphabetical) order.
struct LogJSON {
    var fields: [(String, String)] = [
        ("address", "\"0xe111180000d2663c0091e4f400237545b87b996b\""),
        ("blockHash", "\"0x1fa4e5a1d3c3c1a0a6a7e1b2f9c0d7e8a9b0c1d2e3f405162738495a6b7c8d9e\""),
        ("blockNumber", "\"0x4b7c2d1\""),
        (
            "data",
            "\"0x" + String(repeating: "0", count: 63) + "1"
                + "0000000000000000000000000000000000000000000000000000000005f5e100"
                + String(repeating: "ab", count: 32)
                + "\""
        ),
        ("logIndex", "\"0x1a4\""),
        ("removed", "false"),
        (
            "topics",
            "[\"0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee\","
                + "\"0x5c1f3b7a9e2d4c6b8a0f1e3d5c7b9a8f6e4d2c0b1a3f5e7d9c8b6a4f2e0d1c3b\","
                + "\"0x00000000000000000000000094baf99c934e366b930d6f427c1c0f42911ed1eb\","
                + "\"0x000000000000000000000000e111180000d2663c0091e4f400237545b87b996b\"]"
        ),
        ("transactionHash", "\"0xc8417610fcb8965b7ad070b752573d9255281810db3ebeb6ae16b4dde61e33cd\""),
        ("transactionIndex", "\"0x3f\""),
    ]

    var json: String { "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}" }

    func setting(_ key: String, _ raw: String?) -> LogJSON {
        var copy = self
        if let i = copy.fields.firstIndex(where: { $0.0 == key }) {
            if let raw { copy.fields[i].1 = raw } else { copy.fields.remove(at: i) }
        } else if let raw {
            copy.fields.append((key, raw))
        }
        return copy
    }

    func notification(subscription: String = "\"0x4a8a4c0517381924f9838102c5a4dcb7\"") -> String {
        "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\(subscription),\"result\":\(json)}}"
    }

    static let expected = EthLog(
        address: try! Address("0xe111180000d2663c0091e4f400237545b87b996b"),
        topics: [
            bytes32("0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee"),
            bytes32("0x5c1f3b7a9e2d4c6b8a0f1e3d5c7b9a8f6e4d2c0b1a3f5e7d9c8b6a4f2e0d1c3b"),
            bytes32("0x00000000000000000000000094baf99c934e366b930d6f427c1c0f42911ed1eb"),
            bytes32("0x000000000000000000000000e111180000d2663c0091e4f400237545b87b996b"),
        ],
        data: try! Hex.decode(
            String(repeating: "0", count: 63) + "1"
                + "0000000000000000000000000000000000000000000000000000000005f5e100"
                + String(repeating: "ab", count: 32)),
        blockNumber: 0x4b7_c2d1,
        blockHash: bytes32("0x1fa4e5a1d3c3c1a0a6a7e1b2f9c0d7e8a9b0c1d2e3f405162738495a6b7c8d9e"),
        transactionHash: bytes32("0xc8417610fcb8965b7ad070b752573d9255281810db3ebeb6ae16b4dde61e33cd"),
        transactionIndex: 0x3f,
        logIndex: 0x1a4,
        removed: false
    )
}

// MARK: - Shapes from real providers

@Suite("EthLogParser: provider shapes")
struct EthLogParserShapeTests {
    @Test("geth / Bor eth_getLogs element (alphabetical keys)")
    func gethLog() throws {
        let log = try EthLogParser.parseLog(LogJSON().json)
        #expect(log == LogJSON.expected)
    }

    @Test("eth_subscription notification (Alchemy / Infura order)")
    func notification() throws {
        let (subscription, log) = try EthLogParser.parseNotification(LogJSON().notification())
        #expect(subscription == "0x4a8a4c0517381924f9838102c5a4dcb7")
        #expect(log == LogJSON.expected)
        let any = try parseAny(LogJSON().notification())
        #expect(any.subscription == "0x4a8a4c0517381924f9838102c5a4dcb7")
        #expect(any.log == LogJSON.expected)
        #expect(try EthLogParser.parse(line: LogJSON().notification() + "\n") == LogJSON.expected)
        #expect(try EthLogParser.parse(line: LogJSON().json + "\r\n") == LogJSON.expected)
        #expect(try parseAny(LogJSON().json).subscription == nil)
    }

    @Test("notification with params first, result before subscription, jsonrpc last")
    func notificationReordered() throws {
        let frame =
            "{\"params\":{\"result\":\(LogJSON().json),\"subscription\":\"0xabc\"},\"method\":\"eth_subscription\",\"jsonrpc\":\"2.0\"}"
        let (subscription, log) = try EthLogParser.parseNotification(frame)
        #expect(subscription == "0xabc")
        #expect(log == LogJSON.expected)
    }

    @Test("notification without jsonrpc and with extra members")
    func notificationExtras() throws {
        let frame =
            "{\"method\":\"eth_subscription\",\"id\":null,\"params\":{\"x\":[1,{\"y\":\"}\"}],\"subscription\":\"0x1\",\"result\":\(LogJSON().json),\"z\":true}}"
        #expect(try EthLogParser.parseNotification(frame).log == LogJSON.expected)
    }

    @Test("Erigon / Reth style: reversed order, blockTimestamp, type, extra nested values")
    func extraKeysReversed() throws {
        var shape = LogJSON()
        shape.fields.reverse()
        shape = shape.setting("blockTimestamp", "\"0x6553f100\"")
            .setting("type", "\"mined\"")
            .setting("transactionLogIndex", "\"0x0\"")
            .setting(
                "extra",
                "{\"a\":[1,2,{\"b\":null}],\"c\":-1.5e+10,\"d\":[[],{}],\"e\":\"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00 \u{65e5}\u{672c}\"}"
            )
        #expect(try EthLogParser.parseLog(shape.json) == LogJSON.expected)
    }

    @Test("pretty-printed with every kind of whitespace")
    func prettyPrinted() throws {
        let shape = LogJSON()
        let json =
            " \r\n{\n"
            + shape.fields.map {
                "\t\"\($0.0)\"  :\r\n  \($0.1.replacingOccurrences(of: ",", with: " ,\n "))"
            }
            .joined(separator: " ,\n") + "\n}\n\t "
        #expect(try EthLogParser.parseLog(json) == LogJSON.expected)
        let frame =
            "{ \"jsonrpc\" : \"2.0\" ,\n \"method\" : \"eth_subscription\" ,\n \"params\" : { \"subscription\" : \"0x1\" , \"result\" : \(json) } }\n"
        #expect(try EthLogParser.parseNotification(frame).log == LogJSON.expected)
    }

    @Test("removed: true, null and absent; empty topics and data; upper-case hex digits")
    func variants() throws {
        #expect(try EthLogParser.parseLog(LogJSON().setting("removed", "true").json).removed)
        #expect(try !EthLogParser.parseLog(LogJSON().setting("removed", "null").json).removed)
        #expect(try !EthLogParser.parseLog(LogJSON().setting("removed", nil).json).removed)
        let empty = try EthLogParser.parseLog(
            LogJSON().setting("topics", "[ ]").setting("data", "\"0x\"").json)
        #expect(empty.topics.isEmpty)
        #expect(empty.data.isEmpty)
        let upper = try EthLogParser.parseLog(
            LogJSON().setting("address", "\"0xE111180000D2663C0091E4F400237545B87B996B\"")
                .setting("blockNumber", "\"0x4B7C2D1\"").json)
        #expect(upper.address == LogJSON.expected.address)
        #expect(upper.blockNumber == 0x4b7_c2d1)
        let zero = try EthLogParser.parseLog(LogJSON().setting("logIndex", "\"0x0\"").json)
        #expect(zero.logIndex == 0)
        let max = try EthLogParser.parseLog(LogJSON().setting("blockNumber", "\"0xffffffffffffffff\"").json)
        #expect(max.blockNumber == .max)
        // Odd-sized data (not a multiple of 16 bytes) goes through every tail of the decoder.
        for n in [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 100] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let log = try EthLogParser.parseLog(LogJSON().setting("data", "\"\(hexString(bytes))\"").json)
            #expect(log.data == bytes)
        }
    }

    @Test("keys written with escapes are still recognised")
    func escapedKeys() throws {
        var shape = LogJSON()
        shape.fields[0].0 = "addr\\u0065ss"
        shape.fields[4].0 = "log\\u0049ndex"
        #expect(try EthLogParser.parseLog(shape.json) == LogJSON.expected)
        // Unknown escaped keys, even ones that do not decode, are skipped.
        let odd = LogJSON().setting("\\ud800x", "1").setting(
            "\\u0061" + String(repeating: "b", count: 300), "2")
        #expect(try EthLogParser.parseLog(odd.json) == LogJSON.expected)
    }

    @Test("subscription ids are decoded")
    func subscriptionEscapes() throws {
        let frame = LogJSON().notification(subscription: "\"0x\\u0031\\ud83d\\ude00\\n\"")
        #expect(try EthLogParser.parseNotification(frame).subscription == "0x1\u{1F600}\n")
    }

    @Test("logs inside an eth_getLogs response, through JSONScanner")
    func getLogsResponse() throws {
        let response =
            "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":[\(LogJSON().json), \(LogJSON().setting("logIndex", "\"0x1a5\"").json)]}"
        let bytes = Array(response.utf8)
        try bytes.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            try scanner.beginObject()
            var logs: [EthLog] = []
            var id = ""
            while let key = try scanner.nextKey() {
                if scanner.equals(key, "result") {
                    try scanner.beginArray()
                    while try scanner.nextElement() { logs.append(try EthLogParser.parseLog(from: &scanner)) }
                } else if scanner.equals(key, "id") {
                    let range = try scanner.scanNumber()
                    id = String(decoding: buffer[range], as: UTF8.self)
                } else {
                    try scanner.skipValue()
                }
            }
            try scanner.finish()
            #expect(id == "7")
            #expect(logs.count == 2)
            #expect(logs[0] == LogJSON.expected)
            #expect(logs[1].logIndex == 0x1a5)
        }
    }
}

// MARK: - Hostile input

@Suite("EthLogParser: hostile input")
struct EthLogParserHostileTests {
    @Test("empty and truncated input")
    func truncated() {
        expectFailure("", .json(.unexpectedEnd), offset: 0)
        expectFailure("   ", .json(.unexpectedEnd), offset: 3)
        let json = LogJSON().json
        let cut = String(json.prefix(json.count - 1))
        expectFailure(cut, .json(.unexpectedEnd), offset: cut.utf8.count)
        // Inside a hex value, inside a key, after a colon.
        let inData = String(json.prefix(byteOffset(of: "5f5e100", in: json)))
        expectFailure(inData, .json(.unexpectedEnd), field: "data")
        expectFailure("{\"addr", .json(.unexpectedEnd), offset: 6)
        expectFailure("{\"address\":", .json(.unexpectedEnd), offset: 11)
        expectFailure("{\"address\"", .json(.unexpectedEnd), offset: 10)
        expectFailure("{\"x\":[1,2", .json(.unexpectedEnd), offset: 9)
        expectFailure("{\"x\":tru", .json(.unexpectedEnd), offset: 8)
        expectFailure("{\"x\":\"\\u00", .json(.unexpectedEnd))
        let frame = LogJSON().notification()
        expectFailure(String(frame.dropLast()), .json(.unexpectedEnd), notification: true)
    }

    @Test("not an object, trailing data, bad separators")
    func syntax() {
        expectFailure("[]", .wrongType(expected: "a log object"), offset: 0)
        expectFailure("null", .wrongType(expected: "a log object"), offset: 0)
        expectFailure(LogJSON().json + " x", .json(.trailingData), offset: LogJSON().json.utf8.count + 1)
        expectFailure(LogJSON().json + "{}", .json(.trailingData))
        expectFailure(
            "{\"x\":1,}", .json(.unexpectedByte(UInt8(ascii: "}"), expected: "a string key")), offset: 7)
        expectFailure("{\"x\" 1}", .json(.unexpectedByte(UInt8(ascii: "1"), expected: "':'")), offset: 5)
        expectFailure("{\"x\":1 \"y\":2}", .json(.unexpectedByte(UInt8(ascii: "\""), expected: "',' or '}'")))
        expectFailure("{\"x\":[1 2]}", .json(.unexpectedByte(UInt8(ascii: "2"), expected: "',' or ']'")))
        expectFailure("{\"x\":[1,]}", .json(.unexpectedByte(UInt8(ascii: "]"), expected: "a JSON value")))
        expectFailure("{\"x\":{\"a\":1]}", .json(.unexpectedByte(UInt8(ascii: "]"), expected: "',' or '}'")))
        expectFailure("{x:1}", .json(.unexpectedByte(UInt8(ascii: "x"), expected: "a string key")), offset: 1)
        expectFailure("{\"x\":'a'}", .json(.unexpectedByte(UInt8(ascii: "'"), expected: "a JSON value")))
        expectFailure("{\"x\":nul}", .json(.unexpectedByte(UInt8(ascii: "}"), expected: "'null'")), offset: 8)
        expectFailure("{\"x\":True}", .json(.unexpectedByte(UInt8(ascii: "T"), expected: "a JSON value")))
    }

    @Test("numbers in skipped values follow the JSON grammar")
    func numbers() {
        for bad in ["01", "1.", "-", "1e", "1e+", ".5", "+1", "0x10", "--1", "1.e5"] {
            do {
                _ = try EthLogParser.parseLog(LogJSON().setting("n", bad).json)
                Issue.record("\(bad) accepted")
            } catch {
                switch error.reason {
                case .json(.invalidNumber), .json(.unexpectedByte): break
                default: Issue.record("\(bad): \(error)")
                }
            }
        }
        for good in ["0", "-0", "1.5", "-12.25e-3", "1E9", "123456789012345678901234567890"] {
            #expect(throws: Never.self) { try EthLogParser.parseLog(LogJSON().setting("n", good).json) }
        }
    }

    @Test("nesting is limited to 64 levels, in skipped values too")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        expectFailure(LogJSON().setting("x", deep).json, .json(.tooDeep(limit: 64)))
        let deepObjects =
            String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)
        expectFailure(LogJSON().setting("x", deepObjects).json, .json(.tooDeep(limit: 64)))
        // The log object is level 1: 63 more levels fit, 64 do not.
        let fits = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(throws: Never.self) { try EthLogParser.parseLog(LogJSON().setting("x", fits).json) }
        let over = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        expectFailure(LogJSON().setting("x", over).json, .json(.tooDeep(limit: 64)), offset: nil)
        // In a notification the log is at level 3.
        let fitsInResult = String(repeating: "[", count: 61) + String(repeating: "]", count: 61)
        #expect(throws: Never.self) {
            try EthLogParser.parseNotification(LogJSON().setting("x", fitsInResult).notification())
        }
        expectFailure(
            LogJSON().setting("x", fits).notification(), .json(.tooDeep(limit: 64)), notification: true)
        // A custom, lower limit.
        expectFailure(
            LogJSON().setting("x", "[[[]]]").json, .json(.tooDeep(limit: 3)), limits: .init(maxDepth: 3))
        expectFailure(String(repeating: "[", count: 10_000), .wrongType(expected: "a log object"))
    }

    @Test("huge strings are skipped without trouble; huge data and subscription ids are refused")
    func hugeStrings() {
        let big = String(repeating: "x", count: 4_000_000)
        #expect(throws: Never.self) {
            try EthLogParser.parseLog(LogJSON().setting("junk", "\"\(big)\"").json)
        }
        let bigData = "\"0x" + String(repeating: "ab", count: 1000) + "\""
        expectFailure(
            LogJSON().setting("data", bigData).json, .dataTooLarge(limit: 999), field: "data",
            limits: .init(maxDataBytes: 999))
        #expect(throws: Never.self) {
            try EthLogParser.parseLog(
                LogJSON().setting("data", bigData).json, limits: .init(maxDataBytes: 1000))
        }
        let longID = "\"" + String(repeating: "a", count: 257) + "\""
        expectFailure(
            LogJSON().notification(subscription: longID), .json(.stringTooLong(limit: 256)),
            field: "params.subscription", notification: true)
        let unterminated = "{\"x\":\"" + String(repeating: "y", count: 100_000)
        expectFailure(unterminated, .json(.unexpectedEnd), offset: unterminated.utf8.count)
    }

    @Test("strings: control characters, bad escapes, invalid UTF-8")
    func strings() {
        expectFailure("{\"x\":\"a\u{01}b\"}", .json(.controlCharacterInString), offset: 7)
        expectFailure("{\"x\":\"a\nb\"}", .json(.controlCharacterInString), offset: 7)
        expectFailure("{\"x\":\"a\\qb\"}", .json(.invalidEscape), offset: 7)
        expectFailure("{\"x\":\"\\u12G4\"}", .json(.invalidEscape), offset: 6)
        expectFailure(
            LogJSON().notification(subscription: "\"\\ud800\""), .json(.invalidUnicodeEscape),
            field: "params.subscription", notification: true)
        expectFailure(
            LogJSON().notification(subscription: "\"\\udc00\\ud800\""), .json(.invalidUnicodeEscape),
            notification: true)
        func withBytes(_ bytes: [UInt8]) -> String {
            // Build invalid UTF-8 through the byte API.
            String(decoding: bytes, as: UTF8.self)
        }
        let invalid: [[UInt8]] = [
            [0xFF], [0xC0, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82, 0x41],
        ]
        for sequence in invalid {
            let prefix = Array("{\"x\":\"a".utf8)
            let json = prefix + sequence + Array("\",\"y\":1}".utf8)
            let result: EthLogParseError? = json.withUnsafeBytes { buffer in
                do throws(EthLogParseError) {
                    _ = try EthLogParser.parseLog(buffer)
                    return nil
                } catch { return error }
            }
            #expect(result?.reason == .json(.invalidUTF8), "\(sequence): \(String(describing: result))")
            #expect(result?.offset == prefix.count)
        }
        // Invalid UTF-8 outside strings is a syntax error; valid multi-byte text is fine.
        let outside = Array("{\"x\":".utf8) + [0xC3, 0xA9] + Array("}".utf8)
        let error: EthLogParseError? = outside.withUnsafeBytes { buffer in
            do throws(EthLogParseError) {
                _ = try EthLogParser.parseLog(buffer)
                return nil
            } catch { return error }
        }
        #expect(error?.reason == .json(.unexpectedByte(0xC3, expected: "a JSON value")))
        #expect(throws: Never.self) {
            try EthLogParser.parseLog(LogJSON().setting("x", "\"\u{E9}\u{65E5}\u{1F600}\u{10FFFF}\"").json)
        }
    }

    @Test("hex values: prefix, characters, odd length")
    func hex() {
        let json = LogJSON().setting("address", "\"0xe111180000d2663c0091e4f400237545b87b99zz\"").json
        expectFailure(json, .invalidHexCharacter, field: "address", offset: byteOffset(of: "zz", in: json))
        expectFailure(
            LogJSON().setting("address", "\"e111180000d2663c0091e4f400237545b87b996b\"").json,
            .missingHexPrefix,
            field: "address")
        expectFailure(
            LogJSON().setting("address", "\"0Xe111180000d2663c0091e4f400237545b87b996b\"").json,
            .missingHexPrefix,
            field: "address")
        let spaced = LogJSON().setting(
            "blockHash", "\"0x 1fa4e5a1d3c3c1a0a6a7e1b2f9c0d7e8a9b0c1d2e3f405162738495a6b7c8d9\""
        )
        .json
        expectFailure(
            spaced, .invalidHexCharacter, field: "blockHash", offset: byteOffset(of: "0x 1f", in: spaced) + 2)
        let escaped = LogJSON().setting("transactionIndex", "\"0x\\u0031\"").json
        expectFailure(escaped, .invalidHexCharacter, field: "transactionIndex")
        expectFailure(LogJSON().setting("data", "\"0xabc\"").json, .oddHexLength(digits: 3), field: "data")
        let badData = LogJSON().setting("data", "\"0x" + String(repeating: "00", count: 40) + "g0\"").json
        expectFailure(badData, .invalidHexCharacter, field: "data", offset: byteOffset(of: "g0", in: badData))
        expectFailure(LogJSON().setting("data", "\"\"").json, .missingHexPrefix, field: "data")
        expectFailure(
            LogJSON().setting("blockHash", "\"0x1\"").json, .oddHexLength(digits: 1), field: "blockHash")
    }

    @Test("fixed sizes: addresses, hashes and topics of the wrong length")
    func lengths() {
        expectFailure(
            LogJSON().setting("address", "\"0xe111180000d2663c0091e4f400237545b87b99\"").json,
            .wrongLength(expectedBytes: 20, actualBytes: 19), field: "address")
        expectFailure(
            LogJSON().setting("address", "\"0x\(String(repeating: "1", count: 64))\"").json,
            .wrongLength(expectedBytes: 20, actualBytes: 32), field: "address")
        expectFailure(
            LogJSON().setting("transactionHash", "\"0x\(String(repeating: "1", count: 62))\"").json,
            .wrongLength(expectedBytes: 32, actualBytes: 31), field: "transactionHash")
        expectFailure(
            LogJSON().setting(
                "topics",
                "[\"0x\(String(repeating: "1", count: 64))\",\"0x\(String(repeating: "2", count: 66))\"]"
            )
            .json,
            .wrongLength(expectedBytes: 32, actualBytes: 33), field: "topics[1]")
        expectFailure(
            LogJSON().setting("topics", "[\"0x\(String(repeating: "1", count: 40))\"]").json,
            .wrongLength(expectedBytes: 32, actualBytes: 20), field: "topics[0]")
        let t = "\"0x\(String(repeating: "1", count: 64))\""
        let five = LogJSON().setting("topics", "[\(t),\(t),\(t),\(t), \(t)]").json
        expectFailure(
            five, .tooManyTopics, field: "topics[4]", offset: byteOffset(of: ", \"0x", in: five) + 2)
        expectFailure(
            LogJSON().setting("topics", "[1]").json, .wrongType(expected: "a 32-byte hex string"),
            field: "topics[0]")
        expectFailure(
            LogJSON().setting("topics", "\"0x\"").json, .wrongType(expected: "an array of topics"),
            field: "topics")
    }

    @Test("quantities: leading zeros, more than 16 digits, empty, wrong type")
    func quantities() {
        expectFailure(
            LogJSON().setting("blockNumber", "\"0x01\"").json, .quantityLeadingZero, field: "blockNumber")
        expectFailure(
            LogJSON().setting("blockNumber", "\"0x00\"").json, .quantityLeadingZero, field: "blockNumber")
        expectFailure(
            LogJSON().setting("logIndex", "\"0x10000000000000000\"").json, .quantityTooLarge,
            field: "logIndex")
        expectFailure(
            LogJSON().setting("logIndex", "\"0x" + String(repeating: "f", count: 1000) + "\"").json,
            .quantityTooLarge,
            field: "logIndex")
        expectFailure(
            LogJSON().setting("transactionIndex", "\"0x\"").json, .emptyQuantity, field: "transactionIndex")
        expectFailure(
            LogJSON().setting("transactionIndex", "\"0x-1\"").json, .invalidHexCharacter,
            field: "transactionIndex")
        expectFailure(
            LogJSON().setting("blockNumber", "79151825").json, .wrongType(expected: "a hex quantity string"),
            field: "blockNumber")
        expectFailure(
            LogJSON().setting("removed", "\"false\"").json, .wrongType(expected: "true or false"),
            field: "removed")
        expectFailure(
            LogJSON().setting("removed", "fals").json,
            .json(.unexpectedByte(UInt8(ascii: ","), expected: "'false'")))
    }

    @Test("missing and null required fields (pending logs)")
    func missingAndNull() {
        for key in [
            "address", "topics", "data", "blockNumber", "blockHash", "transactionHash", "transactionIndex",
            "logIndex",
        ] {
            let json = LogJSON().setting(key, nil).json
            expectFailure(json, .missingField, field: .some(key), offset: json.utf8.count - 1)
            expectFailure(LogJSON().setting(key, "null").json, .nullField, field: .some(key))
            expectFailure(
                LogJSON().setting(key, nil).notification(), .missingField, field: .some(key),
                notification: true)
        }
        expectFailure("{}", .missingField, field: "address", offset: 1)
    }

    @Test("duplicate keys are errors")
    func duplicates() {
        var shape = LogJSON()
        shape.fields.append(("blockNumber", "\"0x1\""))
        let json = shape.json
        expectFailure(
            json, .duplicateField, field: "blockNumber",
            offset: byteOffset(of: ",\"blockNumber\":\"0x1\"", in: json) + 1)
        shape = LogJSON()
        shape.fields.append(("removed", "true"))
        expectFailure(shape.json, .duplicateField, field: "removed")
        // Unknown keys may repeat.
        #expect(throws: Never.self) {
            try EthLogParser.parseLog(
                LogJSON().setting("a", "1").json.replacingOccurrences(of: "}", with: ",\"a\":2}"))
        }
        let frame =
            "{\"method\":\"eth_subscription\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":\(LogJSON().json)}}"
        expectFailure(frame, .duplicateField, field: "method", notification: true)
        let twoResults =
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":\(LogJSON().json),\"result\":\(LogJSON().json)}}"
        expectFailure(twoResults, .duplicateField, field: "params.result", notification: true)
        let twoIDs =
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"subscription\":\"0x2\",\"result\":\(LogJSON().json)}}"
        expectFailure(twoIDs, .duplicateField, field: "params.subscription", notification: true)
    }

    @Test("notification envelopes")
    func envelopes() {
        let log = LogJSON().json
        expectFailure(
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscribe\",\"params\":{\"subscription\":\"0x1\",\"result\":\(log)}}",
            .notASubscription, field: "method", offset: 26, notification: true)
        expectFailure(
            "{\"jsonrpc\":\"1.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":\(log)}}",
            .unsupportedJSONRPCVersion, field: "jsonrpc", notification: true)
        expectFailure(
            "{\"jsonrpc\":\"2.0\",\"params\":{\"subscription\":\"0x1\",\"result\":\(log)}}", .missingField,
            field: "method",
            notification: true)
        expectFailure(
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\"}", .missingField, field: "params",
            notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":{\"result\":\(log)}}", .missingField,
            field: "params.subscription",
            notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\"}}", .missingField,
            field: "params.result",
            notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":null}}",
            .nullField,
            field: "params.result", notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":7,\"result\":\(log)}}",
            .wrongType(expected: "a string"), field: "params.subscription", notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":[],\"x\":1}", .wrongType(expected: "an object"),
            field: "params",
            notification: true)
        expectFailure(
            "{\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":[\(log)]}}",
            .wrongType(expected: "a log object"), field: "params.result", notification: true)
        // A newHeads notification is not a log.
        expectFailure(
            "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":{\"number\":\"0x1\",\"hash\":\"0x2\"}}}",
            .missingField, field: "address", notification: true)
        // A bare log is not a notification, and the either-shape parser refuses a mix.
        expectFailure(log, .missingField, field: "method", notification: true)
        let mixed = "{\"method\":\"eth_subscription\"," + log.dropFirst()
        #expect(throws: EthLogParseError.self) { try parseAny(mixed) }
        do {
            _ = try parseAny(mixed)
        } catch {
            #expect(error.reason == .ambiguousShape)
        }
        do {
            _ = try parseAny("{\"address\":\"0xe111180000d2663c0091e4f400237545b87b996b\",\"params\":{}}")
        } catch {
            #expect(error.reason == .ambiguousShape)
        }
    }

    @Test("errors describe what, where and which field")
    func descriptions() {
        do {
            _ = try EthLogParser.parseLog(LogJSON().setting("blockNumber", "\"0x01\"").json)
        } catch {
            #expect(error.description.hasPrefix("blockNumber: quantity has leading zeros at byte "))
        }
        do {
            _ = try EthLogParser.parseLog("{\"x\":")
        } catch {
            #expect(error.description == "unexpected end of input at byte 5")
        }
        #expect(
            JSONScanError(.unexpectedByte(0x07, expected: "x"), at: 3).description
                == "unexpected byte 0x07, expected x at byte 3")
    }
}

// MARK: - Randomized properties

/// Builds random logs and serializes them the many ways providers could.
struct RandomLogWriter {
    var rng: SplitMix64

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }

    mutating func log() -> EthLog {
        let topicCount = int(0...4)
        let dataCount = chance(0.2) ? int(0...40) : 32 * int(0...12)
        func b32(_ w: inout RandomLogWriter) -> Bytes32 {
            w.bytes(32).withUnsafeBytes { Bytes32(loadingFrom: $0, at: 0) }
        }
        return EthLog(
            address: bytes(20).withUnsafeBytes { Address(loadingFrom: $0, at: 0) },
            topics: (0..<topicCount).map { _ in b32(&self) },
            data: bytes(dataCount),
            blockNumber: quantityValue(),
            blockHash: b32(&self),
            transactionHash: b32(&self),
            transactionIndex: quantityValue(),
            logIndex: quantityValue(),
            removed: chance(0.3)
        )
    }

    mutating func quantityValue() -> UInt64 {
        switch int(0...3) {
        case 0: 0
        case 1: UInt64(int(0...255))
        case 2: UInt64.random(in: 0...UInt64.max, using: &rng)
        default: UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64(int(0...63))
        }
    }

    mutating func whitespace() -> String {
        guard chance(0.3) else { return "" }
        return [" ", "\n", "\t", "\r\n", "  ", " \n\t "][int(0...5)]
    }

    mutating func hex(_ bytes: [UInt8]) -> String {
        var s = Hex.encode(bytes)
        if chance(0.2) { s = "0x" + s.dropFirst(2).uppercased() }
        return "\"" + s + "\""
    }

    mutating func quantity(_ v: UInt64) -> String {
        var s = String(v, radix: 16)
        if chance(0.2) { s = s.uppercased() }
        return "\"0x" + s + "\""
    }

    mutating func randomString() -> String {
        let pieces = [
            "a", "Z", " ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9",
            "\\uD83D\\uDE00", "\u{E9}",
            "\u{65E5}", "\u{1F600}", "}", "]", ",", ":", "{", "[", "0x", "address",
        ]
        return "\"" + (0..<int(0...12)).map { _ in pieces[int(0...(pieces.count - 1))] }.joined() + "\""
    }

    mutating func randomValue(depth: Int) -> String {
        switch int(0...(depth > 4 ? 5 : 7)) {
        case 0: return "null"
        case 1: return chance(0.5) ? "true" : "false"
        case 2: return ["0", "-1", "3.25", "-0.5e-7", "12E+3", "123456789012345678901234567890"][int(0...5)]
        case 3, 4, 5: return randomString()
        case 6:
            return "["
                + (0..<int(0...4)).map { _ in whitespace() + randomValue(depth: depth + 1) + whitespace() }
                .joined(separator: ",") + "]"
        default:
            return "{"
                + (0..<int(0...4)).map { _ in
                    whitespace() + randomString() + whitespace() + ":" + whitespace()
                        + randomValue(depth: depth + 1)
                }.joined(separator: ",") + "}"
        }
    }

    mutating func object(_ members: [(String, String)]) -> String {
        var members = members
        members.shuffle(using: &rng)
        return "{" + whitespace()
            + members.map { "\"\($0.0)\"" + whitespace() + ":" + whitespace() + $0.1 + whitespace() }
            .joined(separator: "," + whitespace()) + "}"
    }

    mutating func logJSON(_ log: EthLog) -> String {
        var members: [(String, String)] = [
            ("address", hex(log.address.bytes)),
            (
                "topics",
                "[" + whitespace() + log.topics.map { hex($0.bytes) }.joined(separator: "," + whitespace())
                    + "]"
            ),
            ("data", hex(log.data)),
            ("blockNumber", quantity(log.blockNumber)),
            ("blockHash", hex(log.blockHash.bytes)),
            ("transactionHash", hex(log.transactionHash.bytes)),
            ("transactionIndex", quantity(log.transactionIndex)),
            ("logIndex", quantity(log.logIndex)),
        ]
        if log.removed || chance(0.7) { members.append(("removed", log.removed ? "true" : "false")) }
        let extras = [
            "blockTimestamp", "type", "extra", "transactionLogIndex", "x", "Address", "topics0", "datas",
        ]
        for _ in 0..<int(0...3) {
            members.append((extras[int(0...(extras.count - 1))], randomValue(depth: 1)))
        }
        return object(members)
    }

    mutating func frame(_ log: EthLog, subscription: String) -> String {
        var params: [(String, String)] = [("subscription", "\"\(subscription)\""), ("result", logJSON(log))]
        if chance(0.2) { params.append(("other", randomValue(depth: 2))) }
        var members: [(String, String)] = [("method", "\"eth_subscription\""), ("params", object(params))]
        if chance(0.8) { members.append(("jsonrpc", "\"2.0\"")) }
        if chance(0.2) { members.append(("id", randomValue(depth: 1))) }
        return whitespace() + object(members) + whitespace()
    }
}

@Suite("EthLogParser: randomized properties")
struct EthLogParserPropertyTests {
    @Test("random logs round-trip through random serializations", arguments: [1 as UInt64, 2, 3, 4])
    func roundTrip(seed: UInt64) throws {
        var writer = RandomLogWriter(rng: SplitMix64(seed: seed))
        for i in 0..<500 {
            let log = writer.log()
            let subscription = "0x" + String(UInt64.random(in: 0...UInt64.max, using: &writer.rng), radix: 16)
            let json = writer.logJSON(log)
            let frame = writer.frame(log, subscription: subscription)
            do {
                #expect(try EthLogParser.parseLog(json) == log, "seed \(seed) case \(i): \(json)")
                let parsed = try EthLogParser.parseNotification(frame)
                #expect(parsed.log == log, "seed \(seed) case \(i): \(frame)")
                #expect(parsed.subscription == subscription)
                #expect(try EthLogParser.parse(line: frame) == log)
                #expect(try EthLogParser.parse(line: json) == log)
            } catch {
                Issue.record("seed \(seed) case \(i): \(error)\n\(json)\n\(frame)")
                return
            }
        }
    }

    @Test("truncations always fail; byte flips never crash", arguments: [11 as UInt64, 12])
    func mutations(seed: UInt64) {
        var writer = RandomLogWriter(rng: SplitMix64(seed: seed))
        let specials: [UInt8] =
            Array("\"\\{}[],:0x \n".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, 0xFF]
        var parsedAfterFlip = 0
        for _ in 0..<150 {
            let log = writer.log()
            let frame = Array(writer.frame(log, subscription: "0x1").utf8)
            let end = frame.lastIndex(of: UInt8(ascii: "}"))!
            // Every cut before the closing brace leaves an incomplete object.
            for _ in 0..<20 {
                let cut = writer.int(0...end)
                let prefix = Array(frame[..<cut])
                let failed = prefix.withUnsafeBytes { buffer -> Bool in
                    do throws(EthLogParseError) {
                        _ = try EthLogParser.parse(buffer)
                        return false
                    } catch {
                        return error.offset >= 0 && error.offset <= cut
                    }
                }
                #expect(failed, "prefix of \(cut) bytes parsed")
            }
            // Flips: any outcome but a crash, a hang or an offset outside the input.
            for _ in 0..<40 {
                var mutated = frame
                for _ in 0..<writer.int(1...3) {
                    let at = writer.int(0...(mutated.count - 1))
                    mutated[at] =
                        writer.chance(0.5)
                        ? specials[writer.int(0...(specials.count - 1))]
                        : UInt8.random(in: 0...255, using: &writer.rng)
                }
                if writer.chance(0.1) {
                    mutated.insert(UInt8(ascii: "["), at: writer.int(0...(mutated.count - 1)))
                }
                mutated.withUnsafeBytes { buffer in
                    do throws(EthLogParseError) {
                        _ = try EthLogParser.parse(buffer)
                        parsedAfterFlip += 1
                    } catch {
                        #expect(error.offset >= 0 && error.offset <= buffer.count)
                        #expect(!error.description.isEmpty)
                    }
                }
            }
        }
        // Some flips land in skipped or hex content and still parse: the generator is not vacuous.
        #expect(parsedAfterFlip > 0)
    }

    @Test("every single-byte deletion of a frame fails or parses, never crashes")
    func deletions() {
        let frame = Array(LogJSON().notification().utf8)
        for i in 0..<frame.count {
            var mutated = frame
            mutated.remove(at: i)
            mutated.withUnsafeBytes { buffer in
                do throws(EthLogParseError) { _ = try EthLogParser.parse(buffer) } catch {
                    #expect(error.offset <= buffer.count)
                }
            }
        }
    }
}

// MARK: - Lower layers

@Suite("JSONScanner and fast hex")
struct JSONScannerTests {
    func scan(_ json: String, _ body: (inout JSONScanner) throws -> Void) throws {
        let bytes = Array(json.utf8)
        try bytes.withUnsafeBytes { buffer in
            var scanner = JSONScanner(buffer)
            try body(&scanner)
        }
    }

    @Test("skipValue accepts valid JSON of every kind")
    func skipValid() throws {
        let values = [
            "null", "true", "false", "0", "-0.0e0", "\"\"", "\"\\u0000\"", "[]", "{}", "[[],[{}],{\"a\":[]}]",
            "{\"a\":{\"b\":{\"c\":[1,\"x\",null,true,false,-2.5E-3]}}}", " [ 1 , { \"k\" : \"v\" } ] ",
            "\"\u{1F600}\u{65E5}\\ud83d\\ude00\"",
        ]
        for value in values {
            try scan(value) { s in
                try s.skipValue()
                try s.finish()
            }
        }
    }

    @Test("reading keys, strings, booleans and nulls")
    func reading() throws {
        try scan("{\"a\\u0062\":\"x\\ty\",\"n\":null,\"t\":true,\"arr\":[false]}") { s in
            try s.beginObject()
            let k1 = try #require(try s.nextKey())
            #expect(k1.hasEscapes)
            #expect(s.equals(k1, "ab"))
            #expect(!s.equals(k1, "a"))
            #expect(try s.peekKind() == .string)
            #expect(try s.readString() == "x\ty")
            let k2 = try #require(try s.nextKey())
            #expect(s.equals(k2, "n"))
            #expect(try s.readNull())
            _ = try s.nextKey()
            #expect(try !s.readNull())
            #expect(try s.readBool())
            _ = try s.nextKey()
            try s.beginArray()
            #expect(try s.nextElement())
            #expect(try !s.readBool())
            #expect(try !s.nextElement())
            #expect(try s.nextKey() == nil)
            #expect(s.depth == 0)
            try s.finish()
        }
    }

    @Test("32-digit vector decoding matches the scalar decoder for every byte at every position")
    func exhaustiveHexValidation() {
        let valid = Array("0123456789abcdefABCDEF9876543210".utf8)
        var window = valid
        for position in 0..<32 {
            for byte in 0...255 {
                window = valid
                window[position] = UInt8(byte)
                let isHex = Hex.nibble(UInt8(byte)) <= 15
                window.withUnsafeBytes { buffer in
                    let fast = FastHex.decode32(buffer.baseAddress!, 0)
                    #expect((fast != nil) == isHex, "byte \(byte) at \(position)")
                    if let fast, isHex {
                        let expected = try! Hex.decode(UnsafeRawBufferPointer(buffer))
                        #expect((0..<16).map { fast[$0] } == expected)
                    }
                    let half = FastHex.decode16(buffer.baseAddress!, position < 16 ? 0 : 16)
                    #expect((half != nil) == isHex)
                }
            }
        }
    }

    @Test("string scanning finds the first special byte at every position")
    func stringScanning() throws {
        for length in 0..<40 {
            for special in ["\"", "\\n"] {
                let body = String(repeating: "a", count: length)
                let json = "\"" + body + (special == "\"" ? "" : special) + "\""
                try scan(json) { s in
                    let token = try s.readStringToken()
                    #expect(token.start == 1)
                    #expect(token.end == json.utf8.count - 1)
                    #expect(token.hasEscapes == (special != "\""))
                    try s.finish()
                }
            }
        }
    }
}

// MARK: - Conformance fixture

@Suite("EthLogParser: OrderFilled fixture")
struct EthLogParserFixtureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/orderfilled_logs.json")

    @Test(
        "every log of Tests/Fixtures/orderfilled_logs.json parses to its expected position",
        .enabled(if: FileManager.default.fileExists(atPath: fixture.path)))
    func fixtureLogs() throws {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
        let cases = root["cases"] as! [[String: Any]]
        #expect(cases.count > 0)
        for (i, item) in cases.enumerated() {
            let object = item["log"] as! [String: Any]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let log: EthLog
            do { log = try EthLogParser.parseLog(json) } catch {
                Issue.record("case \(i): \(error)")
                continue
            }
            // Against the log object itself, read by Foundation.
            #expect(log.address == (try Address((object["address"] as! String).lowercased())))
            #expect(log.topics == (object["topics"] as! [String]).map { bytes32($0) })
            #expect(log.data == (try Hex.decode(object["data"] as! String)))
            #expect(log.removed == (object["removed"] as? Bool ?? false))
            #expect(
                log.transactionIndex
                    == UInt64((object["transactionIndex"] as! String).dropFirst(2), radix: 16))
            // Against the expected block / tx / log_index fields.
            let expected = item["expected"] as! [String: Any]
            if let block = expected["block"] as? NSNumber {
                #expect(log.blockNumber == block.uint64Value, "case \(i)")
            }
            if let hash = expected["block_hash"] as? String { #expect(log.blockHash == bytes32(hash)) }
            if let tx = expected["tx"] as? String { #expect(log.transactionHash == bytes32(tx), "case \(i)") }
            if let index = expected["log_index"] as? NSNumber {
                #expect(log.logIndex == index.uint64Value, "case \(i)")
            }
            if let removed = expected["removed"] as? Bool { #expect(log.removed == removed) }
            // The same log wrapped as a notification.
            let frame =
                "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x9\",\"result\":\(json)}}"
            #expect(try EthLogParser.parseNotification(frame).log == log)
        }
    }
}
