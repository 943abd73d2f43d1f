// End to end on loopback (issue 5: p99 ≤ 5 ms): from the devnet mining a block with a followed
// wallet's fill to the CLOB stand-in receiving the copy's `POST /order`, through the whole
// service (libwebsockets subscription → decoder → pipeline → engine in live mode → CLOB client).
// swift run -c release --scratch-path .build-bench loopback-latency [blocks]
import ClobStandIn
import CopyBot
import CopyEngine
import DevNode
import EVM
import Foundation
import Logging
import Polymarket
import Store
import Synchronization

@main
struct LoopbackLatency {
    static func main() async throws {
        let blocks = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let contracts = root.appendingPathComponent("Config/contracts.polygon.yaml").path
        let abi = root.appendingPathComponent("abi").path
        let registry = try ExchangeRegistry.load(contractsFile: contracts, abiDirectory: abi)
        let wallet = Address(hi: 0x1A7E_0000_0000_0000, mid: 1, lo: 1)

        var devnetConfiguration = Devnet.Configuration()
        devnetConfiguration.webSocketPort = 0
        devnetConfiguration.httpPort = 0
        devnetConfiguration.blockInterval = .milliseconds(100)
        devnetConfiguration.maximumBlocks = blocks
        devnetConfiguration.chain.followedWallets = [wallet]
        devnetConfiguration.chain.followedProbability = 0.05
        devnetConfiguration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: devnetConfiguration)
        let minedAt = Mutex<[UInt64: ContinuousClock.Instant]>([:])
        _ = devnet.chain.addObserver { update in
            let now = ContinuousClock.now
            minedAt.withLock { for block in update.newBlocks { $0[block.number] = now } }
        }
        try await devnet.start()

        let key = PrivateKey.generate()
        let credentials = ApiCredentials(
            apiKey: UUID().uuidString.lowercased(), secret: "c2VjcmV0", passphrase: "p")
        func level(_ cents: Int) -> BookLevel {
            BookLevel(
                price: ExactDecimal("0.\(String(format: "%02d", cents))")!, size: ExactDecimal(1_000_000))
        }
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address,
            contracts: try ExchangeContracts(
                registry: registry, exchange: "CTFExchangeV2", negRiskExchange: "NegRiskCTFExchangeV2",
                domainVersion: "2"),
            markets: devnet.chain.tradedTokens.map {
                ClobStandIn.Market(
                    tokenID: $0.tokenId, bids: (1...99).map(level), asks: (1...99).reversed().map(level),
                    tickSize: $0.tickMicros == 1_000 ? .thousandth : .hundredth, negRisk: $0.negRisk)
            })
        standInConfiguration.matchesTakerOrders = true
        let standIn = ClobStandIn(configuration: standInConfiguration)
        try await standIn.start()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-latency-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = CopyBotConfiguration()
        configuration.chain.wsURLs = [devnet.webSocketURL]
        configuration.chain.httpURLs = [devnet.httpURL]
        configuration.contracts.file = contracts
        configuration.contracts.abiDirectory = abi
        configuration.store.url = "sqlite:\(directory.appendingPathComponent("copybot.sqlite").path)"
        configuration.follow.wallets = [.init(address: wallet)]
        configuration.copy.mode = .live
        configuration.copy.startingUSDC = 1_000_000
        configuration.copy.risk.maxTotalExposureUSDC = 1_000_000
        configuration.copy.risk.maxPositionUSDCPerMarket = 1_000_000
        configuration.copy.risk.maxPositionUSDCPerToken = 1_000_000
        configuration.copy.risk.dailyLossLimitUSDC = 1_000_000
        configuration.copy.risk.killSwitchFile = directory.appendingPathComponent("KILL").path
        configuration.clob.url = standIn.baseURL
        configuration.clob.requestsPerSecond = 1_000
        configuration.credentials = .init(privateKey: key, api: credentials)
        configuration.http.listen = nil
        var logger = Logger(label: "latency")
        logger.logLevel = .error
        let application = CopyBotApplication(configuration: configuration, logger: logger)
        let app = Task { try await application.run() }
        try await Task.sleep(for: .seconds(2))
        FileHandle.standardError.write(Data("mining \(blocks) blocks, 100 ms apart…\n".utf8))
        try await devnet.run()
        try await Task.sleep(for: .seconds(2))
        app.cancel()
        _ = try? await app.value

        // Each copy's order back to its trade's block.
        let store = try SQLiteStore(
            path: configuration.store.url.replacingOccurrences(of: "sqlite:", with: ""))
        var blockOfOrder: [String: UInt64] = [:]
        for entry in try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil) {
            if case .copied(let order) = entry.record.decision, let hash = order.orderHash {
                blockOfOrder[hash.hex] = entry.record.trade.blockNumber
            }
        }
        let mined = minedAt.withLock { $0 }
        var toBook: [Double] = []
        let books = standIn.firstBookRequests
        var seenTokens = Set<UInt256>()
        func ms(_ d: Duration) -> Double {
            Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
        }
        // Each copy: its latency and its block (a block with several copies makes the later ones
        // wait for the earlier ones' writes and CPU).
        var copies: [(latency: Double, block: UInt64)] = []
        for order in standIn.acceptedOrders {
            guard let block = blockOfOrder[order.orderHash], let at = mined[block] else { continue }
            copies.append((ms(order.receivedAt - at), block))
            // The first copy of a token is the one whose book request this trade made.
            if seenTokens.insert(order.order.tokenId).inserted, let book = books[order.order.tokenId] {
                toBook.append(ms(book - at))
            }
        }
        toBook.sort()
        if !toBook.isEmpty {
            print(
                "block mined → GET /book received (first copy of each token, \(toBook.count)): p50 \(String(format: "%.2f", toBook[toBook.count / 2])) ms, max \(String(format: "%.2f", toBook.last!)) ms"
            )
        }
        await standIn.stop()
        await devnet.shutdown()
        guard !copies.isEmpty else {
            print("no copies measured")
            return
        }
        let copiesInBlock = Dictionary(grouping: copies, by: \.block).mapValues(\.count)
        func summary(_ label: String, _ values: [Double]) {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return }
            func percentile(_ p: Double) -> String {
                String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
            }
            print(
                "block mined → POST /order received, \(label) (\(sorted.count)): p50 \(percentile(0.5)) ms, p90 \(percentile(0.9)) ms, p99 \(percentile(0.99)) ms, max \(String(format: "%.2f", sorted.last!)) ms"
            )
        }
        summary("all copies", copies.map(\.latency))
        summary("copies alone in their block", copies.filter { copiesInBlock[$0.block] == 1 }.map(\.latency))
        let slowest = copies.sorted { $0.latency > $1.latency }.prefix(5).map {
            "\(String(format: "%.2f", $0.latency)) ms (\(copiesInBlock[$0.block] ?? 0) in its block)"
        }
        print("slowest: \(slowest.joined(separator: ", "))")
    }
}
