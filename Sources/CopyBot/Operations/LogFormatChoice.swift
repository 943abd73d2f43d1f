import Foundation
import Logging

/// How `copybot run` writes its log: `log.format` or `--log-format`.
public enum LogFormatChoice: String, Hashable, Sendable, CaseIterable {
    /// Text when standard error is a terminal, JSON lines otherwise (under systemd, in a container).
    case auto
    /// Human-readable lines (swift-log's stream handler).
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json

    /// The choice of a configuration file's `log.format`.
    public init(_ format: CopyBotConfiguration.Log.Format) {
        switch format {
        case .auto: self = .auto
        case .text: self = .text
        case .json: self = .json
        }
    }

    /// `text` or `json`: ``auto`` resolved for a standard error that is (not) a terminal.
    public func resolved(isTerminal: Bool) -> LogFormatChoice {
        switch self {
        case .auto: isTerminal ? .text : .json
        case .text, .json: self
        }
    }

    /// Whether this process's standard error is a terminal.
    public static var standardErrorIsTerminal: Bool {
        isatty(FileHandle.standardError.fileDescriptor) != 0
    }

    /// A handler factory for `LoggingSystem.bootstrap` (or `Logger(label:factory:)`) writing to
    /// standard error in `format`, at `level` and above.
    ///
    /// - Parameters:
    ///   - format: The format; ``auto`` picks by `isTerminal`.
    ///   - level: The lowest level written.
    ///   - isTerminal: Whether standard error is a terminal (``standardErrorIsTerminal``).
    ///   - sink: Where JSON lines go (text always goes to standard error).
    public static func makeLogHandler(
        format: LogFormatChoice, level: Logger.Level, isTerminal: Bool, sink: LogLineSink = .standardError
    ) -> @Sendable (String) -> any LogHandler {
        switch format.resolved(isTerminal: isTerminal) {
        case .json:
            return { label in JSONLogHandler(label: label, level: level, sink: sink) }
        case .auto, .text:
            return { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
