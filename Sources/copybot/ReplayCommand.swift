import ArgumentParser
import AsyncHTTPClient
import Chain
import CopyBot
import CopyEngine
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
            checkpointed listener and decoder as `copybot run`, in a store in memory. Nothing is traded.
            With --format jsonl, one JSON object per trade goes to standard output (keys: block, tx, \
            log_index, exchange, wallet, side, token_id, price, shares, usdc, ...); progress and the \
            summary go to standard error.
            Each trade is also copied on paper with the sizing and risk settings of --config (the \
            defaults without it), priced at the target's own price since history has no order books; \
            the summary ends with what was copied, what was skipped and why, and the paper PnL marked at \
            the last price seen. --no-simulate only lists the trades.
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

    @Option(help: "A configuration file for sizing, risk limits and (without --wallet) the wallets.")
    var config: String?

    @Flag(inversion: .prefixedNo, help: "Copy each trade on paper and summarise the result.")
    var simulate = true

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
        var settings = CopyBotConfiguration()
        if let config {
            do {
                // Replay only simulates: live mode's secrets are not needed.
                settings = try CopyBotConfiguration.load(
                    path: config, environment: ProcessInfo.processInfo.environment, requiringSecrets: false)
            } catch {
                throw CommandFailure("--config \(config): \(error)")
            }
            if addresses.isEmpty { addresses = settings.allFollowedWallets }
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
        var options = Replay.Options(
            fromBlock: fromBlock, toBlock: toBlock, wallets: addresses, format: format)
        if simulate {
            options.simulation = Replay.Simulation(
                engine: settings.engineConfiguration(), startingCash: settings.startingCash)
        }
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
        if let simulation = summary.simulation { Self.standardError(Self.describe(simulation)) }
    }

    /// The paper copy's summary, for people.
    static func describe(_ s: Replay.SimulationSummary) -> String {
        func reasons(_ counts: [String: Int]) -> String {
            counts.isEmpty
                ? ""
                : " ("
                    + counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map {
                        "\($0.key) \($0.value)"
                    }
                    .joined(separator: ", ") + ")"
        }
        let stats = s.statistics
        let ledger = s.ledger
        return """
            paper copy: \(stats.copied) copied, \(stats.skipped) skipped\(reasons(stats.skippedByRule)), \
            \(stats.failed) failed\(reasons(stats.failedByReason))\
            \(stats.retractedAfterCopy > 0 ? ", \(stats.retractedAfterCopy) copies retracted by reorgs" : "")
            paper PnL: \(s.pnl) USDC on \(s.startingCash) (realised \(ledger.realised), marked \(ledger.unrealised), \
            fees \(ledger.fees)); cash \(ledger.cash), \(ledger.positions.count) open positions, exposure \
            \(ledger.totalExposure); fills priced at the target's price (no books in history)

            """
    }

    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
