/// `copybot config check [--config PATH]`: validates the configuration and explains every issue.
public struct ConfigCheckCommand: Sendable {
    /// The configuration file.
    public var path: String
    /// The environment the service would run with.
    public var environment: [String: String]

    /// Creates the command.
    public init(path: String = CopyBotConfiguration.defaultPath, environment: [String: String]) {
        self.path = path
        self.environment = environment
    }

    /// What the command prints and its exit status.
    public struct Result: Hashable, Sendable {
        /// The text for standard output.
        public var output: String
        /// 0 when the service may start (warnings allowed), 1 on any error.
        public var exitCode: Int32
    }

    /// Runs the check.
    public func run() -> Result {
        let report = CopyBotConfiguration.check(path: path, environment: environment)
        return Self.render(report)
    }

    /// Each issue as `<key path>: <message>` and `  fix: <how>`, then a summary line; when valid,
    /// "configuration OK" and a short summary of what would run.
    public static func render(_ report: ConfigurationReport) -> Result {
        var lines: [String] = []
        for issue in report.issues { lines.append(issue.description) }
        let errors = report.errors.count
        let warnings = report.warnings.count
        let counts =
            "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
        if report.isValid {
            if !lines.isEmpty { lines.append("") }
            lines.append("configuration OK (\(report.path); \(counts))")
            lines.append(report.configuration.summary)
            return Result(output: lines.joined(separator: "\n") + "\n", exitCode: 0)
        }
        lines.append("")
        lines.append("\(report.path): \(counts); copybot will not start until the errors are fixed")
        return Result(output: lines.joined(separator: "\n") + "\n", exitCode: 1)
    }
}
