import ArgumentParser
import CopyBot
import Foundation
import Polymarket

/// Where the exchange contracts and their ABIs are configured.
struct ContractOptions: ParsableArguments {
    @Option(name: .long, help: "The contracts file (exchange names, addresses, ABI files, block ranges).")
    var contracts: String = "Config/contracts.polygon.yaml"

    @Option(
        name: .customLong("abi-dir"),
        help: "The directory holding the ABI JSON files the contracts file names.")
    var abiDirectory: String = "abi"

    func loadRegistry() throws -> ExchangeRegistry {
        do {
            return try ExchangeRegistry.load(contractsFile: contracts, abiDirectory: abiDirectory)
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct ABICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abi",
        abstract: "Show the loaded exchange ABIs and decode raw logs.",
        subcommands: [List.self, Topics.self, Decode.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the configured exchanges, their events and topic0s.")

        @OptionGroup var options: ContractOptions

        func run() throws {
            print(ABIReport(registry: try options.loadRegistry()).list(), terminator: "")
        }
    }

    struct Topics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the fill-event topic0s copybot subscribes to.")

        @OptionGroup var options: ContractOptions

        func run() throws {
            print(ABIReport(registry: try options.loadRegistry()).topics(), terminator: "")
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode logs read from standard input, one JSON object per line.",
            discussion: """
                Each input line is an eth JSON-RPC log object (as eth_getLogs returns) or an \
                eth_subscription notification carrying one. Each decoded event is written to standard \
                output as one JSON line; fills carry the trade fields (block, tx, log_index, exchange, \
                wallet, side, token_id, price, shares, usdc, ...). A line that cannot be decoded gives \
                an error line on standard error naming the line number and the reason; decoding goes on.
                The exit status is 0 when every line decoded, 1 otherwise.
                """)

        @OptionGroup var options: ContractOptions

        func run() throws {
            let command = LogDecodeCommand(registry: try options.loadRegistry())
            let lines = sequence(state: ()) { _ in readLine(strippingNewline: true) }
            let summary = command.run(
                lines: lines,
                output: { print($0) },
                errors: { FileHandle.standardError.write(Data(("error: " + $0 + "\n").utf8)) }
            )
            if summary.errors > 0 { throw ExitCode(1) }
        }
    }
}
