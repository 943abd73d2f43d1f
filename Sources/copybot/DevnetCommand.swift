import ArgumentParser
import Chain
import DevNode
import EVM
import Foundation
import Polymarket

struct DevnetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devnet",
        abstract:
            "Run a local simulated Polygon node producing Polymarket V2 fills (offline tour and tests).",
        discussion: """
            Serves WebSocket JSON-RPC (eth_subscribe logs/newHeads) and HTTP JSON-RPC (eth_getLogs, \
            eth_blockNumber, eth_getBlockByNumber, eth_chainId) on 127.0.0.1, mining a block every \
            --block-time seconds with real ABI-encoded OrderFilled logs. --wallet makes some fills \
            come from wallets you follow; without it, two demo wallets are made up and printed. The \
            fault switches reproduce what real providers do.
            """)

    @Option(name: .customLong("ws-port")) var webSocketPort = 8546
    @Option(name: .customLong("http-port")) var httpPort = 8545
    @Option(name: .customLong("block-time"), help: "Seconds between blocks (fractions allowed).")
    var blockTime = 2.0
    @Option(help: "Seed of the simulation (same seed, same chain).") var seed: UInt64 = 1
    @Option(name: .customLong("wallet"), help: "A wallet some fills come from (repeatable).")
    var wallets: [String] = []
    @Option(name: .customLong("followed-share"), help: "Share of fills made by --wallet wallets.")
    var followedShare = 0.2
    @Option(help: "Mine this many blocks before serving (history for `copybot replay`).")
    var premine = 0
    @Option(name: .customLong("max-blocks"), help: "Stop producing after this many blocks.")
    var maxBlocks: Int?
    @Option(
        name: .customLong("drop-every"),
        help: "Fault: drop every WebSocket connection about this often (seconds).")
    var dropEvery: Double?
    @Option(
        name: .customLong("getlogs-max-range"), help: "Fault: refuse eth_getLogs over more blocks than this.")
    var getLogsMaxRange: UInt64?
    @Option(
        name: .customLong("duplicate-notifications"), help: "Fault: probability a notification is sent twice."
    )
    var duplicates = 0.0
    @Option(
        name: .customLong("stale-subscriptions"),
        help: "Fault: per block, probability a subscription silently dies.")
    var stale = 0.0
    @Option(
        name: .customLong("malformed-frames"), help: "Fault: probability of a hostile frame per notification."
    )
    var malformed = 0.0
    @Option(name: .customLong("reorg-every"), help: "Fault: a reorg about every N blocks.")
    var reorgEvery: Int?
    @Option(name: .customLong("reorg-depth"), help: "Fault: the deepest reorg.")
    var reorgDepth = 8
    @Option(
        name: .customLong("remine-orphaned"),
        help: """
            Fault: probability that a transaction orphaned by a reorg is left out of the new branch \
            and mined again --remine-delay blocks later (same hash and logs, new block and position).
            """)
    var remineOrphaned = 0.0
    @Option(
        name: .customLong("remine-delay"),
        help: "Fault: the most blocks after the new head a held-back transaction is mined again (at least 1)."
    )
    var remineDelay = 4
    @Option(
        name: .customLong("getlogs-max-results"),
        help: "Fault: refuse eth_getLogs matching more logs than this.")
    var getLogsMaxResults: Int?
    @Option(
        name: .customLong("range-error-dialect"),
        help: ArgumentHelp(
            "Fault: how eth_getLogs range/result refusals are worded: a provider's dialect, or random (one per node, from --seed).",
            discussion: "One of: random, "
                + DevnetRangeErrorDialect.allCases.map(\.rawValue).joined(separator: ", ") + ".",
            valueName: "dialect"))
    var rangeErrorDialect = DevnetRangeErrorDialect.Choice.fixed(.devnet)
    @Option(
        name: .customLong("lagging-backends"),
        help: """
            Fault: serve HTTP through a load balancer over this many backends, each lagging the head \
            by 0...--backend-max-lag blocks (changing over time). WebSocket stays on the fresh node.
            """)
    var laggingBackends: Int?
    @Option(name: .customLong("backend-max-lag"), help: "Fault: the most blocks a lagging backend is behind.")
    var backendMaxLag = 3
    @Option(
        name: .customLong("lagging-getlogs"),
        help: """
            Fault: what a lagging backend does with an eth_getLogs range past its head: trim (answer up \
            to its head), refuse (geth's -32602), or mixed (per backend).
            """)
    var laggingGetLogs = DevnetLaggingBackends.PastHead.mixed
    @Option(
        name: .customLong("transient-error-rate"),
        help: """
            Fault: fraction of HTTP JSON-RPC requests answered by HTTP 429, HTTP 503 or -32000 "header not \
            found" without being run.
            """)
    var transientErrorRate = 0.0
    @OptionGroup var contracts: ContractOptions

    func run() async throws {
        LibWebSocketsLogging.setLevel(.errors)
        var followed: [Address] = []
        for wallet in wallets {
            do { followed.append(try Address(wallet)) } catch {
                throw ValidationError("--wallet \(wallet): \(error)")
            }
        }
        if followed.isEmpty {
            followed = (1...2).map { i in
                Address(bytes: Keccak256.hash(utf8: "copybot devnet demo wallet \(i)").bytes.suffix(20))!
            }
        }
        var configuration = Devnet.Configuration()
        configuration.webSocketPort = webSocketPort
        configuration.httpPort = httpPort
        configuration.blockInterval = .milliseconds(Int(blockTime * 1000))
        configuration.maximumBlocks = maxBlocks
        configuration.chain.seed = seed
        configuration.chain.followedWallets = followed
        configuration.chain.followedProbability = followedShare
        // Block timestamps follow the wall clock (at whole seconds a block), premined history
        // included, so copybot's stale-trade cut-off sees realistic ages.
        configuration.chain.blockTime = max(1, UInt64(blockTime.rounded()))
        configuration.chain.genesisTimestamp =
            UInt64(Date().timeIntervalSince1970) - UInt64(premine) * configuration.chain.blockTime
        configuration.faults.dropConnectionEvery = dropEvery.map { .milliseconds(Int($0 * 1000)) }
        configuration.faults.getLogsMaxRange = getLogsMaxRange
        configuration.faults.duplicateNotifications = duplicates
        configuration.faults.staleSubscriptions = stale
        configuration.faults.malformedFrames = malformed
        configuration.faults.reorgEvery = reorgEvery
        configuration.faults.reorgDepth = 1...max(1, reorgDepth)
        configuration.faults.remineOrphanedTransactions = remineOrphaned
        configuration.faults.remineDelay = 1...max(1, remineDelay)
        configuration.faults.getLogsMaxResults = getLogsMaxResults
        configuration.faults.rangeErrorDialect = rangeErrorDialect
        configuration.faults.laggingBackends = laggingBackends.map {
            DevnetLaggingBackends(
                count: max(1, $0), maximumLag: max(0, backendMaxLag), pastHead: laggingGetLogs)
        }
        configuration.faults.transientErrorRate = transientErrorRate
        let devnet = try Devnet(registry: try contracts.loadRegistry(), configuration: configuration)
        if premine > 0 { _ = devnet.chain.mine(count: premine) }
        try await devnet.start()
        FileHandle.standardOutput.write(
            Data(
                """
                copybot devnet: chain id \(configuration.chain.chainId), a block every \(blockTime) s from block \(devnet.chain.blockNumber)
                  WebSocket  \(devnet.webSocketURL)
                  HTTP       \(devnet.httpURL)
                  wallets with fills (follow them in Config/copybot.yaml, or COPYBOT_FOLLOW_WALLETS=…):
                \(followed.map { "    \($0)" }.joined(separator: "\n"))
                Ctrl-C stops it.

                """.utf8))
        try await devnet.run()
        await devnet.shutdown()
    }
}

extension DevnetRangeErrorDialect.Choice: ExpressibleByArgument {}

extension DevnetLaggingBackends.PastHead: ExpressibleByArgument {}
