import ArgumentParser
import CopyBot

@main
struct CopyBotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copybot",
        abstract: "Copies the Polymarket trades of chosen wallets into your own account.",
        subcommands: [
            RunCommand.self, StatusCommand.self, TradesCommand.self, PositionsCommand.self,
            ReplayCommand.self, DevnetCommand.self, ConfigCommand.self, ABICommand.self,
            KeysCommand.self, OrderCommand.self,
        ]
    )
}
