import EVM
import Foundation
import Logging

/// Where log lines go: a function that writes one complete line (the newline included).
public struct LogLineSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    /// Creates a sink calling `write` with each line, newline included.
    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.writeLine = write
    }

    /// Writes `line` (which ends with a newline).
    public func write(_ line: String) { writeLine(line) }

    /// Standard error, one `write(2)` per line where the system allows, so lines of concurrent
    /// loggers do not interleave.
    public static var standardError: LogLineSink {
        LogLineSink { line in
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(
                        FileHandle.standardError.fileDescriptor, buffer.baseAddress! + offset,
                        buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}

/// A `LogHandler` writing one JSON object per line, for journald, Loki and the like.
///
/// Keys: `ts` (ISO-8601 UTC with milliseconds, `2026-01-31T12:00:00.123Z`), `level`, `label`,
/// `msg`, `source` (the module that logged), then the metadata flattened into string fields:
/// the metadata provider's, then the handler's, then the call's, later ones winning (plus
/// `error` when the call passed one and the metadata has no `error`); nested
/// dictionaries become dotted keys (`order.id`), arrays their `[a, b]` description. A metadata key
/// equal to one of the fixed keys is written with a leading underscore (`_msg`). Strings are JSON
/// escaped; non-ASCII text is written as UTF-8.
public struct JSONLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// The lowest level written.
    public var logLevel: Logger.Level
    /// Metadata added to every line of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed at each log call (e.g. from task-locals).
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: LogLineSink
    private let clock: @Sendable () -> Date

    /// The keys every line has; metadata cannot overwrite them.
    static let reservedKeys: Set<String> = ["ts", "level", "label", "msg", "source"]

    /// Creates a handler.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - level: The lowest level written.
    ///   - sink: Where lines go (standard error by default).
    ///   - metadataProvider: Metadata computed at each call.
    ///   - clock: The time of a line (the system clock by default).
    public init(
        label: String, level: Logger.Level = .info, sink: LogLineSink = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    /// Metadata of this handler by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line (the `Logger` has already checked ``logLevel``).
    public func log(event: LogEvent) {
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { _, handler in handler }
        if let call = event.metadata { merged.merge(call) { _, call in call } }
        if let error = event.error, merged["error"] == nil { merged["error"] = .string("\(error)") }
        var fields: [(String, String)] = []
        for (key, value) in merged { Self.flatten(key: key, value: value, into: &fields) }
        fields.sort { $0.0 < $1.0 }

        var line = "{"
        Self.append(key: "ts", value: Self.timestamp(clock()), to: &line, first: true)
        Self.append(key: "level", value: event.level.rawValue, to: &line)
        Self.append(key: "label", value: label, to: &line)
        Self.append(key: "msg", value: event.message.description, to: &line)
        Self.append(key: "source", value: event.source, to: &line)
        for (key, value) in fields {
            Self.append(key: Self.reservedKeys.contains(key) ? "_" + key : key, value: value, to: &line)
        }
        line += "}\n"
        sink.write(line)
    }

    // MARK: Encoding

    static func flatten(key: String, value: Logger.Metadata.Value, into fields: inout [(String, String)]) {
        switch value {
        case .string(let string): fields.append((key, string))
        case .stringConvertible(let convertible): fields.append((key, convertible.description))
        case .array(let array):
            fields.append((key, "[" + array.map(\.description).joined(separator: ", ") + "]"))
        case .dictionary(let dictionary):
            if dictionary.isEmpty { fields.append((key, "[:]")) }
            for (inner, value) in dictionary { flatten(key: key + "." + inner, value: value, into: &fields) }
        }
    }

    static func append(key: String, value: String, to line: inout String, first: Bool = false) {
        if !first { line += "," }
        escape(key, into: &line)
        line += ":"
        escape(value, into: &line)
    }

    /// `string` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func escape(_ string: String, into out: inout String) {
        JSONString.write(string, to: &out)
    }

    /// `2026-01-31T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let (days, dayMilliseconds) = totalMilliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (dayIndex, milliseconds) =
            dayMilliseconds < 0 ? (days - 1, dayMilliseconds + 86_400_000) : (days, dayMilliseconds)
        let (year, month, day) = civil(daysSinceEpoch: dayIndex)
        let seconds = milliseconds / 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(seconds / 3600, 2) + ":"
            + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2) + "." + pad(milliseconds % 1000, 3) + "Z"
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    static func civil(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
