import CopyBot
import Foundation
import Logging
import Synchronization
import Testing

/// The JSON-lines log format of `copybot run`.
@Suite("JSON log handler")
struct JSONLogHandlerTests {
    /// Collects the lines a handler writes.
    final class Lines: Sendable {
        private let box = Mutex<[String]>([])
        var all: [String] { box.withLock { $0 } }
        var sink: LogLineSink { LogLineSink { line in self.box.withLock { $0.append(line) } } }

        /// Each line parsed as a JSON object (failing the test when one is not).
        func objects() throws -> [[String: Any]] {
            try all.map { line in
                #expect(line.hasSuffix("\n"))
                #expect(line.dropLast().contains("\n") == false, "one object per line")
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                return try #require(object as? [String: Any])
            }
        }
    }

    static let fixedDate = Date(timeIntervalSince1970: 1_767_225_600.042)  // 2026-01-01T00:00:00.042Z

    static func logger(
        _ lines: Lines, level: Logger.Level = .trace, metadata: Logger.Metadata = [:],
        provider: Logger.MetadataProvider? = nil
    ) -> Logger {
        var logger = Logger(label: "copybot.test") { label in
            var handler = JSONLogHandler(
                label: label, level: level, sink: lines.sink, metadataProvider: provider, clock: { fixedDate }
            )
            handler.metadata = metadata
            return handler
        }
        logger.logLevel = level
        return logger
    }

    @Test("every line is one JSON object with ts, level, label, msg and source")
    func fields() throws {
        let lines = Lines()
        let logger = Self.logger(lines)
        logger.info("hello")
        logger.error("boom", metadata: ["code": "7"])
        let objects = try lines.objects()
        #expect(objects.count == 2)
        #expect(objects[0]["ts"] as? String == "2026-01-01T00:00:00.042Z")
        #expect(objects[0]["level"] as? String == "info")
        #expect(objects[0]["label"] as? String == "copybot.test")
        #expect(objects[0]["msg"] as? String == "hello")
        #expect(objects[0]["source"] as? String == "CopyBotTests")
        #expect(objects[1]["level"] as? String == "error")
        #expect(objects[1]["code"] as? String == "7")
    }

    @Test("the system clock gives ISO-8601 UTC with milliseconds")
    func timestamp() throws {
        let lines = Lines()
        var logger = Logger(label: "t") { JSONLogHandler(label: $0, sink: lines.sink) }
        logger.logLevel = .info
        let start = Date()
        logger.info("now")
        let ts = try #require(try lines.objects().first?["ts"] as? String)
        let pattern = try NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#)
        #expect(pattern.firstMatch(in: ts, range: NSRange(ts.startIndex..., in: ts)) != nil, "\(ts)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: ts))
        #expect(abs(parsed.timeIntervalSince(start)) < 5)
        // Dates around leap days, year ends and before 1970.
        for (seconds, expected) in [
            (951_782_400.0, "2000-02-29T00:00:00.000Z"), (1_709_251_199.999, "2024-02-29T23:59:59.999Z"),
            (1_735_689_599.5, "2024-12-31T23:59:59.500Z"), (-1.0, "1969-12-31T23:59:59.000Z"),
            (0, "1970-01-01T00:00:00.000Z"),
        ] {
            let lines = Lines()
            let logger = Logger(label: "t") {
                JSONLogHandler(label: $0, sink: lines.sink, clock: { Date(timeIntervalSince1970: seconds) })
            }
            logger.info("x")
            #expect(try lines.objects().first?["ts"] as? String == expected)
        }
    }

    @Test("quotes, backslashes, newlines, control characters and unicode round-trip")
    func escaping() throws {
        let lines = Lines()
        let logger = Self.logger(lines)
        let nasty = "say \"hi\"\\ \n\r\t\u{08}\u{0C}\u{01}\u{1F}\u{7F} é 日本 🚀 \u{2028}\u{2029} </script>"
        logger.warning("\(nasty)", metadata: ["nasty \"key\"\n": "\(nasty)", "plain": "ok"])
        let raw = try #require(lines.all.first)
        #expect(!raw.dropLast().contains("\n"))
        #expect(raw.contains(#"\""#))
        #expect(raw.contains(#"\u0001"#))
        let object = try #require(try lines.objects().first)
        #expect(object["msg"] as? String == nasty)
        #expect(object["nasty \"key\"\n"] as? String == nasty)
        #expect(object["plain"] as? String == "ok")
    }

    @Test("metadata: provider, then handler, then call; the call wins; nested values flattened")
    func metadata() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["trace": "t-1", "shared": "provider"] }
        var logger = Self.logger(
            lines, metadata: ["component": "engine", "shared": "handler"], provider: provider)
        logger[metadataKey: "wallet"] = "0xabc"
        logger.info(
            "decided",
            metadata: [
                "shared": "call", "order": ["id": "42", "side": "BUY"], "sizes": ["1", "2"],
                "count": .stringConvertible(7), "msg": "not the message",
            ])
        logger.info("second")
        let objects = try lines.objects()
        let first = objects[0]
        #expect(first["msg"] as? String == "decided")
        #expect(first["_msg"] as? String == "not the message")
        #expect(first["shared"] as? String == "call")
        #expect(first["component"] as? String == "engine")
        #expect(first["wallet"] as? String == "0xabc")
        #expect(first["trace"] as? String == "t-1")
        #expect(first["order.id"] as? String == "42")
        #expect(first["order.side"] as? String == "BUY")
        #expect(first["sizes"] as? String == "[1, 2]")
        #expect(first["count"] as? String == "7")
        // Call metadata does not stick; handler metadata beats the provider.
        #expect(objects[1]["shared"] as? String == "handler")
        #expect(objects[1]["order.id"] == nil)
        // Every value is a string.
        for (key, value) in first { #expect(value is String, "\(key)") }
    }

    @Test("levels below the handler's are not written")
    func levels() throws {
        let lines = Lines()
        let logger = Self.logger(lines, level: .warning)
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        #expect(try lines.objects().map { $0["level"] as? String } == ["warning", "error", "critical"])
    }

    @Test("format choice: auto is text on a terminal and JSON otherwise")
    func formatChoice() throws {
        #expect(LogFormatChoice.auto.resolved(isTerminal: true) == .text)
        #expect(LogFormatChoice.auto.resolved(isTerminal: false) == .json)
        #expect(LogFormatChoice.json.resolved(isTerminal: true) == .json)
        #expect(LogFormatChoice.text.resolved(isTerminal: false) == .text)
        #expect(LogFormatChoice(CopyBotConfiguration.Log.Format.json) == .json)

        let lines = Lines()
        let json = LogFormatChoice.makeLogHandler(
            format: .auto, level: .notice, isTerminal: false, sink: lines.sink)
        let handler = json("copybot")
        #expect(handler is JSONLogHandler)
        #expect(handler.logLevel == .notice)
        let logger = Logger(label: "copybot", factory: json)
        logger.info("dropped")
        logger.notice("kept")
        #expect(try lines.objects().map { $0["msg"] as? String } == ["kept"])

        let text = LogFormatChoice.makeLogHandler(format: .auto, level: .debug, isTerminal: true)("copybot")
        #expect(text is StreamLogHandler)
        #expect(text.logLevel == .debug)
    }
}
