import ArgumentParser
import AsyncHTTPClient
import Chain
import CopyBot
import EVM
import Foundation
import Logging
import Polymarket

extension Replay.Format: ExpressibleByArgument {}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run history through the listener and decoder, to judge a wallet before following it.",
        discussion: """
            Reads the fills of the followed wallets (--wallet, repeatable; none means every fill) from \
            --from-block to --to-block (default: the node's head) with eth_getLogs, through the same \
            checkpointed listener and decoder as `copybot run`, in a temporary store. Nothing is traded.
            With --format jsonl, one JSON object per trade goes to standard output (keys: block, tx, \
            log_index, exchange, wallet, side, token_id, price, shares, usdc, ...); progress and the \
            summary go to standard error.
            """)

    @Option(name: .customLong("from-block"), help: "The first block to read.")
    var fromBlock: UInt64

    @Option(name: .customLong("to-block"), help: "The last block to read (default: the head).")
    var toBlock: UInt64?

    @Option(name: .customLong("wallet"), help: "A wallet to follow (repeatable).")
    var wallets: [String] = []

    @Option(help: "text or jsonl.")
    var format: Replay.Format = .text

    @Option(
        name: .customLong("http-url"), help: "A node's HTTP JSON-RPC endpoint (repeatable, tried in turn).")
    var httpURLs: [String] = ["http://127.0.0.1:8545"]

    @OptionGroup var contracts: ContractOptions

    func run() async throws {
        LibWebSocketsLogging.setLevel(.errors)
        var addresses: [Address] = []
        for wallet in wallets {
            do { addresses.append(try Address(wallet)) } catch {
                throw ValidationError("--wallet \(wallet): \(error)")
            }
        }
        if let toBlock, toBlock < fromBlock {
            throw ValidationError("--to-block \(toBlock) is before --from-block \(fromBlock)")
        }
        let registry = try contracts.loadRegistry()
        var logger = Logger(label: "copybot.replay")
        logger.logLevel = .warning
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let node = NodeClient(
            configuration: .init(webSocketURLs: [], httpURLs: httpURLs), httpClient: http, logger: logger)
        let terminal = isatty(STDERR_FILENO) == 1
        let replay = Replay(registry: registry, rpc: node, logger: logger)
        let result: Result<Replay.Summary, any Error>
        let progress: (@Sendable (Replay.Progress) -> Void)? =
            terminal
            ? { @Sendable (progress: Replay.Progress) in Self.standardError("\r\u{1B}[2K" + progress.line) }
            : nil
        let options = Replay.Options(
            fromBlock: fromBlock, toBlock: toBlock, wallets: addresses, format: format)
        do {
            let summary = try await replay.run(
                options, output: { @Sendable line in print(line) }, progress: progress)
            result = .success(summary)
        } catch {
            result = .failure(error)
        }
        try await http.shutdown()
        if terminal { Self.standardError("\r\u{1B}[2K") }
        let summary = try result.get()
        Self.standardError(
            """
            replay: blocks \(summary.fromBlock)...\(summary.toBlock) in \(String(format: "%.1f", summary.seconds))s: \
            \(summary.trades) trades (\(summary.buys) BUY, \(summary.sells) SELL), \
            \(summary.volumeUnits.fixedPointString(scale: 6)) USDC traded by \(summary.byWallet.count) wallets\
            \(summary.rejected.isEmpty ? "" : "; undecodable logs: \(summary.rejected)")

            """)
    }

    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
