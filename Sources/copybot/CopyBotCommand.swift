import ArgumentParser
import CopyBot

@main
struct CopyBotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copybot",
        abstract: "Copies the Polymarket trades of chosen wallets into your own account.",
        subcommands: [ABICommand.self, ConfigCommand.self]
    )
}
