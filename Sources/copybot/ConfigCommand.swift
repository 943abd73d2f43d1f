import ArgumentParser
import CopyBot
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with copybot's configuration.",
        subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and explain every problem.",
            discussion: """
                Reads the YAML file, applies the COPYBOT_<KEY_PATH> environment overrides, loads the \
                secrets (COPYBOT_PRIVATE_KEY[_FILE], COPYBOT_CLOB_API_*, or the owner-only files named \
                under secrets:) and checks everything the service checks before it starts. Each \
                problem is printed as `<key path>: <message>` with a `fix:` line. The exit status is 1 \
                when there is any error, 0 otherwise (warnings allowed). Secret values are never printed.
                """)

        @Option(name: .long, help: "The configuration file.")
        var config: String = CopyBotConfiguration.defaultPath

        func run() throws {
            let result = ConfigCheckCommand(path: config, environment: ProcessInfo.processInfo.environment)
                .run()
            print(result.output, terminator: "")
            if result.exitCode != 0 { throw ExitCode(result.exitCode) }
        }
    }
}
