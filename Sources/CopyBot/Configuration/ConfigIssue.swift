/// One problem found in copybot's configuration: where it is, what is wrong, and how to fix it.
///
/// Issues never carry a secret value: messages about keys, API secrets or passwords name the
/// setting and the source, never what was found there.
public struct ConfigIssue: Hashable, Sendable, CustomStringConvertible {
    /// How bad the problem is.
    public enum Severity: String, Hashable, Sendable, Comparable {
        /// The service refuses to start.
        case error
        /// The service starts, but probably not as intended.
        case warning

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            lhs == .error && rhs == .warning
        }
    }

    /// The key path at fault, e.g. `chain.ws_urls[1]`, `follow.wallets[0].address`, or an
    /// environment variable name such as `COPYBOT_PRIVATE_KEY_FILE`.
    public var keyPath: String
    /// What is wrong.
    public var message: String
    /// How to fix it.
    public var fix: String
    /// Error or warning.
    public var severity: Severity

    /// Creates an issue.
    public init(_ keyPath: String, _ message: String, fix: String, severity: Severity = .error) {
        self.keyPath = keyPath
        self.message = message
        self.fix = fix
        self.severity = severity
    }

    /// Creates a warning.
    public static func warning(_ keyPath: String, _ message: String, fix: String) -> ConfigIssue {
        ConfigIssue(keyPath, message, fix: fix, severity: .warning)
    }

    /// Whether the service refuses to start because of this issue.
    public var isError: Bool { severity == .error }

    /// `<key path>: <message>` and, on the next line, `  fix: <how>`; warnings say so.
    public var description: String {
        let prefix = severity == .warning ? "warning: " : ""
        return "\(keyPath): \(prefix)\(message)\n  fix: \(fix)"
    }
}

/// The configuration could not be used: every issue found, errors first.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file that was read.
    public var path: String
    /// Every issue found (errors and warnings), errors first, then in key order of discovery.
    public var issues: [ConfigIssue]

    /// Creates the error.
    public init(path: String, issues: [ConfigIssue]) {
        self.path = path
        self.issues = issues
    }

    /// Only the errors.
    public var errors: [ConfigIssue] { issues.filter(\.isError) }

    public var description: String {
        let errors = self.errors
        var text = "invalid configuration \(path): \(errors.count) error\(errors.count == 1 ? "" : "s")"
        for issue in errors { text += "\n" + issue.description }
        return text
    }
}
