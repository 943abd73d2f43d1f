import ArgumentParser
import AsyncHTTPClient
import CopyBot
import Foundation
import Logging
import NIOCore
import Store

extension StateReports.Format: ExpressibleByArgument {}

/// The store and settings the state commands read, from the configuration.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file.")
    var config: String = CopyBotConfiguration.defaultPath

    @Option(name: .long, help: "Only this account (a name under `accounts:`); all accounts when omitted.")
    var account: String?

    /// The configuration, the reports of the chosen accounts over its store, and the store; `body`
    /// runs with them, and the store is closed after it.
    func withReports(
        _ body: (CopyBotConfiguration, [StateReports], OpenedStore) async throws -> Void
    ) async throws {
        let configuration: CopyBotConfiguration
        do {
            // Reading needs no secrets, in live mode too.
            configuration = try CopyBotConfiguration.load(
                path: config, environment: ProcessInfo.processInfo.environment, requiringSecrets: false)
        } catch {
            throw CommandFailure("\(error)\nrun `copybot config check` for every issue and its fix")
        }
        let accounts = configuration.effectiveAccounts.filter { account == nil || $0.name.name == account }
        if accounts.isEmpty {
            throw ValidationError(
                "no account named \(account ?? "") in \(config); the accounts are: \(configuration.effectiveAccounts.map(\.name.name).joined(separator: ", "))"
            )
        }
        var logger = Logger(label: "copybot")
        logger.logLevel = .warning
        let opened: OpenedStore
        do {
            opened = try await StoreFactory.open(configuration, logger: logger, mustExist: true)
        } catch let error as ApplicationError {
            // No store yet, or an unusable URL: a usage problem. (A server that cannot be reached
            // is an error of its own.)
            throw CommandFailure("\(error)")
        }
        do {
            try await body(
                configuration,
                accounts.map {
                    StateReports(
                        store: opened.store, account: $0.name, startingCash: $0.configuration.startingCash)
                }, opened)
        } catch {
            await opened.close()
            throw error
        }
        await opened.close()
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Mode, chain checkpoint, the running service's state, decisions, exposure and PnL.",
        discussion: """
            Reads the store (safe while the service runs) and, when http.listen is set, asks the \
            running service's /ready endpoint for its live state (subscription, head lag, breaker).
            """)

    @OptionGroup var options: StateOptions

    func run() async throws {
        try await options.withReports { configuration, reports, opened in
            try await Self.status(configuration: configuration, reports: reports, opened: opened)
        }
    }

    static func status(
        configuration: CopyBotConfiguration, reports: [StateReports], opened: OpenedStore
    ) async throws {
        var live: String?
        var funds: [String] = []
        if let listen = configuration.http.listen {
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                var request = HTTPClientRequest(url: "http://\(listen)/ready")
                request.method = .GET
                let response = try await http.execute(request, timeout: .seconds(2))
                let body = try await response.body.collect(upTo: 1 << 16)
                live = "up at \(listen) — /ready \(response.status.code): \(String(buffer: body))"
                funds = StateReports.fundsLines(readyJSON: Array(body.readableBytesView))
            } catch {
                live = nil
            }
            try await http.shutdown()
        }
        let modes = Dictionary(
            configuration.effectiveAccounts.map { ($0.name, $0.configuration.copy.mode.rawValue) },
            uniquingKeysWith: { a, _ in a })
        if reports.count == 1, configuration.accounts.isEmpty {
            print(try await reports[0].status(mode: modes[reports[0].account] ?? "", live: live))
        } else {
            print(try await reports[0].overview(live: live).joined(separator: "\n"))
            for report in reports {
                print("account \(report.account.name):")
                for line in try await report.accountStatus(mode: modes[report.account] ?? "") {
                    print("  " + line)
                }
            }
        }
        if !funds.isEmpty { print(funds.joined(separator: "\n")) }
        if let cluster = try await StateReports.clusterStatus(opened, lease: configuration.cluster.lease) {
            print(cluster.joined(separator: "\n"))
        }
    }
}

struct TradesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trades",
        abstract: "Every trade of a followed wallet with its decision and reason, oldest first.",
        discussion: """
            With --format jsonl, one JSON object per decision: decided_at, trade, block, tx, log_index, \
            exchange, wallet, side, token_id, price, shares, usdc, decision (copied|skipped|failed), \
            reason (the mode, skip rule or failure), explanation, retracted, and for copies an `order` \
            object (side, shares, limit_price, usdc, order_hash, filled_shares, filled_usdc, fee).
            """)

    @OptionGroup var options: StateOptions

    @Option(help: "text or jsonl.")
    var format: StateReports.Format = .text

    @Option(help: "Only the last N decisions.")
    var limit: Int?

    func run() async throws {
        try await options.withReports { _, reports, _ in
            for report in reports {
                for line in try await report.trades(format: format, limit: limit) { print(line) }
            }
        }
    }
}

struct PositionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "positions",
        abstract: "Open positions with cost basis, last seen price and marked PnL.",
        discussion: """
            With --format jsonl, one JSON object per position: token_id, market, shares, cost, \
            average_cost, mark (last price seen, or null), marked_value, unrealised_pnl.
            """)

    @OptionGroup var options: StateOptions

    @Option(help: "text or jsonl.")
    var format: StateReports.Format = .text

    func run() async throws {
        try await options.withReports { configuration, reports, _ in
            for report in reports {
                if format == .text, !configuration.accounts.isEmpty {
                    print("account \(report.account.name):")
                }
                for line in try await report.positions(format: format) { print(line) }
            }
        }
    }
}
