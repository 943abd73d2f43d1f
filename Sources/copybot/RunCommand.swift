import ArgumentParser
import Chain
import CopyBot
import Dispatch
import Foundation
import Logging

extension LogFormatChoice: ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the service: listen for the followed wallets' fills and handle each once.",
        discussion: """
            Loads and validates the configuration (refusing to start on any error; see \
            `copybot config check`), then listens until SIGTERM or SIGINT, which stop it cleanly. \
            SIGHUP reloads the followed wallets (with their sizing) and the exchange contracts \
            without a restart. \
            Paper mode unless copy.mode is live.
            """)

    @Option(name: .long, help: "The configuration file.")
    var config: String = CopyBotConfiguration.defaultPath

    @Option(
        name: .long,
        help:
            "The log format: text, json (one object per line) or auto (text on a terminal); overrides log.format."
    )
    var logFormat: LogFormatChoice?

    @Option(
        name: .long,
        help:
            "What this process does: all, listener (elected; queues trades) or executor (decides queued trades); overrides cluster.role. listener and executor need a PostgreSQL store."
    )
    var role: CopyBotConfiguration.Cluster.Role?

    func run() async throws {
        LibWebSocketsLogging.setLevel(.errors)
        var configuration: CopyBotConfiguration
        do {
            configuration = try CopyBotConfiguration.load(
                path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(
                Data(("\(error)\nrun `copybot config check` for every issue and its fix\n").utf8))
            throw ExitCode(1)
        }
        if let role {
            configuration.cluster.role = role
            if role != .all, case .sqlite? = configuration.store.location {
                FileHandle.standardError.write(
                    Data(
                        "--role \(role.rawValue) needs a PostgreSQL store (store.url: postgres://…); SQLite serves one process: use --role all\n"
                            .utf8))
                throw ExitCode(1)
            }
        }
        let level = Logger.Level(rawValue: configuration.log.level.rawValue) ?? .info
        LoggingSystem.bootstrap(
            LogFormatChoice.makeLogHandler(
                format: logFormat ?? LogFormatChoice(configuration.log.format), level: level,
                isTerminal: LogFormatChoice.standardErrorIsTerminal))
        let logger = Logger(label: "copybot")
        let path = config
        let application = CopyBotApplication(
            configuration: configuration, logger: logger,
            reload: {
                try CopyBotConfiguration.load(path: path, environment: ProcessInfo.processInfo.environment)
            })
        // SIGTERM and SIGINT start a graceful shutdown (the service group handles them).
        do {
            try await application.run()
        } catch {
            logger.critical("copybot stopped: \(error)")
            throw ExitCode(1)
        }
    }
}

extension CopyBotConfiguration.Cluster.Role: ExpressibleByArgument {}
