// End to end on loopback (issue 5: p99 ≤ 5 ms): from the devnet mining a block with a followed
// wallet's fill to the CLOB stand-in receiving the copy's `POST /order`, through the whole
// service (libwebsockets subscription → decoder → pipeline → engine in live mode → CLOB client).
//
// The devnet and the CLOB stand-in run in a second process (this executable with `--peers`), as
// the node and the CLOB are other machines in production: in one process their request handlers
// would take turns on the service's own task threads. Both ends of each measurement are taken in
// that process, on one clock.
//
// The store's log starts at its working size, kept from a previous open, as in a deployment past
// its first minutes; `--fresh-store` starts from a new file instead, whose log grows through the
// whole run (each synced commit then also syncs the file's new size).
//
// With `--followed P`, a fill's wallet is the followed one with probability P (default 0.05, about
// 175 copies in 1,000 blocks); a larger P gives more blocks with several copies of one token, to
// measure those copies on more than a handful.
//
// swift run -c release --scratch-path .build-bench loopback-latency [blocks] [--fresh-store] [--followed P]
import ClobStandIn
import CopyBot
import CopyEngine
import DevNode
import EVM
import Foundation
import GRDB
import Logging
import Polymarket
import Store
import Synchronization

/// The followed wallet of the run.
let followedWallet = Address(hi: 0x1A7E_0000_0000_0000, mid: 1, lo: 1)

@main
struct LoopbackLatency {
    static func repositoryRoot() -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }

    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var followed = 0.05
        if let flag = arguments.firstIndex(of: "--followed"), flag + 1 < arguments.count,
            let value = Double(arguments[flag + 1]), value > 0, value <= 1
        {
            followed = value
            arguments.removeSubrange(flag...(flag + 1))
        }
        if arguments.first == "--peers" {
            try await Peers.run(
                blocks: arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000, followed: followed)
        } else {
            let fresh = arguments.contains("--fresh-store")
            arguments.removeAll { $0 == "--fresh-store" }
            try await Service.run(
                blocks: arguments.first.flatMap { Int($0) } ?? 1_000, freshStore: fresh, followed: followed)
        }
    }
}

/// The devnet and the CLOB stand-in (the `--peers` process). It prints `PEERS <ws> <http> <clob>`,
/// mines on a line from its standard input, and then prints what it saw, times as
/// nanoseconds since the peers started (one clock, so they subtract).
enum Peers {
    /// One line to the service process, unbuffered.
    static func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    static func run(blocks: Int, followed: Double) async throws {
        let environment = ProcessInfo.processInfo.environment
        let root = LoopbackLatency.repositoryRoot()
        let registry = try ExchangeRegistry.load(
            contractsFile: root.appendingPathComponent("Config/contracts.polygon.yaml").path,
            abiDirectory: root.appendingPathComponent("abi").path)
        let start = ContinuousClock.now
        func nanoseconds(_ at: ContinuousClock.Instant) -> Int64 {
            let elapsed = at - start
            return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        }

        var devnetConfiguration = Devnet.Configuration()
        devnetConfiguration.webSocketPort = 0
        devnetConfiguration.httpPort = 0
        devnetConfiguration.blockInterval = .milliseconds(100)
        devnetConfiguration.maximumBlocks = blocks
        devnetConfiguration.chain.followedWallets = [followedWallet]
        devnetConfiguration.chain.followedProbability = followed
        devnetConfiguration.chain.genesisTimestamp = UInt64(Date().timeIntervalSince1970)
        let devnet = try Devnet(registry: registry, configuration: devnetConfiguration)
        let minedAt = Mutex<[UInt64: ContinuousClock.Instant]>([:])
        _ = devnet.chain.addObserver { update in
            let now = ContinuousClock.now
            minedAt.withLock { for block in update.newBlocks { $0[block.number] = now } }
        }
        try await devnet.start()

        func level(_ cents: Int) -> BookLevel {
            BookLevel(
                price: ExactDecimal("0.\(String(format: "%02d", cents))")!, size: ExactDecimal(1_000_000))
        }
        let credentials = ApiCredentials(
            apiKey: environment["LOOPBACK_API_KEY"] ?? "", secret: environment["LOOPBACK_API_SECRET"] ?? "",
            passphrase: environment["LOOPBACK_API_PASSPHRASE"] ?? "")
        var standInConfiguration = ClobStandIn.Configuration(
            credentials: credentials, account: try Address(environment["LOOPBACK_ACCOUNT"] ?? ""),
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

        emit("PEERS \(devnet.webSocketURL) \(devnet.httpURL) \(standIn.baseURL)")
        _ = readLine()
        try await devnet.run()
        try await Task.sleep(for: .seconds(2))  // the last blocks' copies

        for (block, at) in minedAt.withLock({ $0 }) { emit("MINED \(block) \(nanoseconds(at))") }
        for order in standIn.acceptedOrders {
            emit("ORDER \(order.orderHash) \(order.order.tokenId) \(nanoseconds(order.receivedAt))")
        }
        for (token, at) in standIn.firstBookRequests { emit("BOOK \(token) \(nanoseconds(at))") }
        emit("DONE")
        await standIn.stop()
        await devnet.shutdown()
    }
}

/// Lines from a child's standard output, read on a thread of their own (not a task thread).
final class LineReader: Sendable {
    let lines: AsyncStream<String>

    init(_ handle: FileHandle) {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        let thread = Thread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            continuation.finish()
        }
        thread.start()
    }
}

/// The service under measurement (this process).
enum Service {
    /// Gives the new store at `path` the log a running deployment has: grown to its working size
    /// (past the 1,000 pages between checkpoints) and kept by the store when it closed, so that
    /// the measured run writes it in place, as a deployment does after its first minutes.
    static func growLog(at path: String) async throws {
        let store = try SQLiteStore(path: path)  // the schema, and a connection that keeps the log
        let filler = try DatabaseQueue(path: path)
        for _ in 0..<300 {
            try await filler.write { db in
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS warm_up (b BLOB)")
                try db.execute(sql: "INSERT INTO warm_up VALUES (zeroblob(16000))")
            }
        }
        try await filler.write { db in try db.execute(sql: "DROP TABLE warm_up") }
        try filler.close()
        withExtendedLifetime(store) {}  // the last connection: the log is kept when it closes
    }

    static func run(blocks: Int, freshStore: Bool, followed: Double) async throws {
        let root = LoopbackLatency.repositoryRoot()
        let contracts = root.appendingPathComponent("Config/contracts.polygon.yaml").path
        let abi = root.appendingPathComponent("abi").path

        // The account (a key made for this run) and its API credentials, given to the stand-in.
        let key = PrivateKey.generate()
        let credentials = ApiCredentials(
            apiKey: UUID().uuidString.lowercased(), secret: "c2VjcmV0", passphrase: "p")
        let peers = Process()
        peers.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        peers.arguments = ["--peers", "\(blocks)", "--followed", "\(followed)"]
        var environment = ProcessInfo.processInfo.environment
        environment["LOOPBACK_ACCOUNT"] = key.address.checksummed
        environment["LOOPBACK_API_KEY"] = credentials.apiKey
        environment["LOOPBACK_API_SECRET"] = credentials.secret
        environment["LOOPBACK_API_PASSPHRASE"] = credentials.passphrase
        peers.environment = environment
        let input = Pipe()
        let output = Pipe()
        peers.standardInput = input
        peers.standardOutput = output
        try peers.run()
        var lines = LineReader(output.fileHandleForReading).lines.makeAsyncIterator()
        var urls: [String] = []
        while let line = await lines.next() {
            if line.hasPrefix("PEERS ") {
                urls = line.split(separator: " ").dropFirst().map(String.init)
                break
            }
        }
        guard urls.count == 3 else {
            print("the peers process did not start")
            return
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-latency-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = CopyBotConfiguration()
        configuration.chain.wsURLs = [urls[0]]
        configuration.chain.httpURLs = [urls[1]]
        configuration.contracts.file = contracts
        configuration.contracts.abiDirectory = abi
        let storePath = directory.appendingPathComponent("copybot.sqlite").path
        if !freshStore { try await growLog(at: storePath) }
        FileHandle.standardError.write(
            Data(
                "store: \(freshStore ? "fresh (its log grows through the run)" : "log at its working size, kept from a previous open")\n"
                    .utf8))
        configuration.store.url = "sqlite:\(storePath)"
        configuration.follow.wallets = [.init(address: followedWallet)]
        configuration.copy.mode = .live
        configuration.copy.startingUSDC = 1_000_000
        configuration.copy.risk.maxTotalExposureUSDC = 1_000_000
        configuration.copy.risk.maxPositionUSDCPerMarket = 1_000_000
        configuration.copy.risk.maxPositionUSDCPerToken = 1_000_000
        configuration.copy.risk.dailyLossLimitUSDC = 1_000_000
        configuration.copy.risk.killSwitchFile = directory.appendingPathComponent("KILL").path
        configuration.clob.url = urls[2]
        configuration.clob.requestsPerSecond = 1_000
        configuration.credentials = .init(privateKey: key, api: credentials)
        configuration.http.listen = nil
        var logger = Logger(label: "latency")
        logger.logLevel = .error
        let application = CopyBotApplication(configuration: configuration, logger: logger)
        let app = Task { try await application.run() }
        try await Task.sleep(for: .seconds(2))
        FileHandle.standardError.write(Data("mining \(blocks) blocks, 100 ms apart…\n".utf8))
        input.fileHandleForWriting.write(Data("go\n".utf8))

        var mined: [UInt64: Int64] = [:]
        var received: [(hash: String, token: UInt256, at: Int64)] = []
        var firstBook: [UInt256: Int64] = [:]
        while let line = await lines.next() {
            let fields = line.split(separator: " ").map(String.init)
            switch fields.first {
            case "MINED": mined[UInt64(fields[1])!] = Int64(fields[2])!
            case "ORDER": received.append((fields[1], UInt256(decimal: fields[2])!, Int64(fields[3])!))
            case "BOOK": firstBook[UInt256(decimal: fields[1])!] = Int64(fields[2])!
            default: break
            }
            if line == "DONE" { break }
        }
        app.cancel()
        _ = try? await app.value
        peers.waitUntilExit()

        // Each copy's order back to its trade's block.
        let store = try SQLiteStore(
            path: configuration.store.url.replacingOccurrences(of: "sqlite:", with: ""))
        var tradeOfOrder: [String: (block: UInt64, side: Side)] = [:]
        var decisionsInBlock: [UInt64: Int] = [:]
        for entry in try await store.decisionEntries(account: .default, limit: nil, afterRowID: nil) {
            decisionsInBlock[entry.record.trade.blockNumber, default: 0] += 1
            if case .copied(let order) = entry.record.decision, let hash = order.orderHash {
                tradeOfOrder[hash.hex] = (entry.record.trade.blockNumber, entry.record.trade.side)
            }
        }
        func ms(_ nanoseconds: Int64) -> Double { Double(nanoseconds) / 1e6 }
        // Each copy: its latency and its block (a block with several copies of one token makes the
        // later ones wait for the earlier ones' orders).
        var copies: [(latency: Double, block: UInt64)] = []
        // Copies whose block had an earlier copy of the same token: each waits for that order's answer.
        var afterSameToken: [Double] = []
        // Of those, the ones on the side of the copy before them (decided beside it once its order
        // is on its way) and the ones on the other side (waiting for its answer).
        var afterSameSide: [Double] = []
        var afterOtherSide: [Double] = []
        var buysAfterSells: [Double] = []
        // The side of the last copy of each token in each block.
        var lastSide: [UInt64: [UInt256: Side]] = [:]
        var toBook: [Double] = []
        var seenTokens = Set<UInt256>()
        for order in received {
            guard let (block, side) = tradeOfOrder[order.hash], let at = mined[block] else { continue }
            copies.append((ms(order.at - at), block))
            if let before = lastSide[block]?[order.token] {
                afterSameToken.append(ms(order.at - at))
                if side == before {
                    afterSameSide.append(ms(order.at - at))
                } else {
                    afterOtherSide.append(ms(order.at - at))
                    if side == .buy { buysAfterSells.append(ms(order.at - at)) }
                }
            }
            lastSide[block, default: [:]][order.token] = side
            // The first copy of a token is the one whose book request this trade made.
            if seenTokens.insert(order.token).inserted, let book = firstBook[order.token] {
                toBook.append(ms(book - at))
            }
        }
        toBook.sort()
        if !toBook.isEmpty {
            print(
                "block mined → GET /book received (first copy of each token, \(toBook.count)): p50 \(String(format: "%.2f", toBook[toBook.count / 2])) ms, max \(String(format: "%.2f", toBook.last!)) ms"
            )
        }
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
        summary("copies after an earlier copy of their token in their block", afterSameToken)
        summary("  of those, on the earlier copy's side", afterSameSide)
        summary("  of those, on the other side", afterOtherSide)
        summary("  of those, a BUY after a SELL", buysAfterSells)
        // Other decisions in the block (skips) share the store's writer and the machine with the copy.
        summary(
            "copies that are their block's only decision",
            copies.filter { copiesInBlock[$0.block] == 1 && decisionsInBlock[$0.block] == 1 }.map(\.latency))
        // Their block's other decisions came in the same notifications, and are stored with them.
        summary(
            "copies whose block had other decisions",
            copies.filter { (decisionsInBlock[$0.block] ?? 0) > 1 }.map(\.latency))
        let slowest = copies.sorted { $0.latency > $1.latency }.prefix(5).map {
            "\(String(format: "%.2f", $0.latency)) ms (\(copiesInBlock[$0.block] ?? 0) in its block)"
        }
        print("slowest: \(slowest.joined(separator: ", "))")
    }
}
