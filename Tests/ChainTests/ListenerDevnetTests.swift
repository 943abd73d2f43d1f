import AsyncHTTPClient
import Chain
import DevNode
import EVM
import Foundation
import Logging
import Polymarket
import Store
import Synchronization
import Testing

/// The listener end to end over real sockets on 127.0.0.1: `NodeClient` (libwebsockets
/// subscription + HTTP `eth_getLogs`) against `copybot devnet`'s node, with the faults real
/// providers show, checked against the simulated chain's own record of the canonical fills.
extension LibWebSocketsTests {
    @Suite("Listener against the devnet", .serialized, .timeLimit(.minutes(10)))
    struct ListenerDevnetTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
        static let followed: [Address] = (1...3).map {
            Address(hi: 0xF0110000_00000000 | UInt64($0), mid: 7, lo: UInt32($0))
        }

        static func registry() throws -> ExchangeRegistry {
            try ExchangeRegistry.load(
                contractsFile: root.appendingPathComponent("Config/contracts.polygon.yaml").path,
                abiDirectory: root.appendingPathComponent("abi").path)
        }

        /// What the consumer saw.
        final class Seen: Sendable {
            struct State {
                var delivered: [EthLog] = []
                var retracted: [EthLog] = []
                /// Deliveries (true) and retractions (false), in the order they were handed out.
                var events: [(log: EthLog, delivered: Bool)] = []
            }

            let state = Mutex(State())
            var delivered: [EthLog] { state.withLock { $0.delivered } }
            var retracted: [EthLog] { state.withLock { $0.retracted } }
            var events: [(log: EthLog, delivered: Bool)] { state.withLock { $0.events } }
        }

        /// (transaction, order hash): the fill identity the devnet's oracle uses.
        static func key(_ log: EthLog) -> String {
            log.transactionHash.hex + "/" + (log.topics.count > 1 ? log.topics[1].hex : "")
        }

        /// Runs a devnet with `faults` for `blocks` blocks and a listener against it, then checks the
        /// delivered set against the chain's canonical fills of the followed wallets.
        func run(
            blocks: Int, seed: UInt64, faults: DevnetFaults, restartNode: Bool = false,
            quiet: (@Sendable (inout DevnetFaults) -> Void)? = nil,
            check: (SimulatedChain, Seen, EventSourceStatus, NodeClientStatistics) throws -> Void
        ) async throws {
            let registry = try Self.registry()
            var configuration = Devnet.Configuration()
            configuration.webSocketPort = 0
            configuration.httpPort = 0
            configuration.blockInterval = .milliseconds(15)
            configuration.maximumBlocks = blocks
            configuration.chain.seed = seed
            configuration.chain.followedWallets = Self.followed
            configuration.chain.followedProbability = 0.2
            configuration.chain.fillsPerBlock = 9...15
            configuration.faults = faults
            let devnet = try Devnet(registry: registry, configuration: configuration)
            try await devnet.start()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "copybot-listener-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteStore(path: directory.appendingPathComponent("c.sqlite").path)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var logger = Logger(label: "test")
            logger.logLevel =
                ProcessInfo.processInfo.environment["LISTENER_LOG"].flatMap(Logger.Level.init(rawValue:))
                ?? .critical
            var nodeConfiguration = NodeClient.Configuration(
                webSocketURLs: [devnet.webSocketURL], httpURLs: [devnet.httpURL])
            nodeConfiguration.subscribeTimeout = .seconds(5)
            nodeConfiguration.requestTimeout = .seconds(10)
            let node = NodeClient(configuration: nodeConfiguration, httpClient: http, logger: logger)
            var sourceConfiguration = EventSourceConfiguration(
                stream: "polygon",
                filter: LogFilter(
                    addresses: registry.contracts.map(\.address),
                    topics: [registry.fillTopics, nil, Self.followed.map(\.word)]))
            sourceConfiguration.start = .block(devnet.chain.blockNumber)
            sourceConfiguration.staleAfter = .milliseconds(700)
            sourceConfiguration.verifyEvery = 3
            sourceConfiguration.initialRange = 50
            sourceConfiguration.initialBackoff = .milliseconds(20)
            sourceConfiguration.maximumBackoff = .milliseconds(200)
            let source = EventSource(
                rpc: node, store: store, configuration: sourceConfiguration, logger: logger)
            let seen = Seen()
            let listener = Task { try await source.run() }
            let consumer = Task {
                while let event = try await source.events.next() {
                    switch event {
                    case .log(let log, _):
                        seen.state.withLock {
                            $0.delivered.append(log)
                            $0.events.append((log, true))
                        }
                    case .retracted(let log, _):
                        seen.state.withLock {
                            $0.retracted.append(log)
                            $0.events.append((log, false))
                        }
                    }
                    try await source.acknowledge([event])
                }
            }
            let producer = Task { try await devnet.run() }
            if restartNode {
                try await Task.sleep(for: .seconds(2))
                try await devnet.restart(downtime: .milliseconds(500))
            }
            try await producer.value
            if let quiet { devnet.faults.update(quiet) }
            // The chain stopped: wait until the checkpoint is the head, by number and hash (a last
            // reorg can leave the head at the same height on another branch). With no new heads the
            // subscription goes stale, and the resubscribe resyncs to the head.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(120)
            var settledOnce = false
            while clock.now < deadline {
                let head = devnet.chain.block(tag: .latest)
                // ... and until the consumer has handled (acknowledged) everything stored.
                if let checkpoint = source.status.checkpoint, checkpoint.number == head?.number,
                    checkpoint.hash == head?.hash, try await store.pendingEvents(stream: "polygon").isEmpty
                {
                    // Settled? A late notification of an orphaned log is retracted by the next
                    // resync, which the quiet chain triggers within `staleAfter`: look again then.
                    if settledOnce { break }
                    settledOnce = true
                    try await Task.sleep(for: .milliseconds(1_500))
                    continue
                }
                settledOnce = false
                try await Task.sleep(for: .milliseconds(100))
            }
            // The last blocks are confirmed by the next head; stopping the faults lets the final resync run.
            devnet.faults.update { $0 = DevnetFaults() }
            listener.cancel()
            _ = await listener.result
            consumer.cancel()
            _ = await consumer.result
            try await http.shutdown()
            await devnet.shutdown()
            try check(devnet.chain, seen, source.status, node.statistics)
        }

        /// The delivered fills minus the retracted ones are exactly the canonical fills of the
        /// followed wallets, none delivered twice (unless retracted in between).
        static func expectExactlyCanonical(_ chain: SimulatedChain, _ seen: Seen) {
            let canonical = chain.canonicalFills(makers: Set(followed))
            let canonicalKeys = Set(
                canonical.map { $0.transactionHash.hex + "/" + $0.template.orderHash.hex })
            // Replay the events in order. A fill moved by a reorg (its transaction re-included
            // elsewhere) is delivered again at its new position; delivered again at the position it
            // is live at, without a retraction between, is a duplicate.
            var live: [String: EthLog] = [:]
            var duplicates = 0
            for (log, delivered) in seen.events {
                if delivered {
                    if let current = live[key(log)], current.blockHash == log.blockHash,
                        current.logIndex == log.logIndex
                    {
                        duplicates += 1
                    }
                    live[key(log)] = log
                } else {
                    live[key(log)] = nil
                }
            }
            let final = Set(live.keys)
            #expect(duplicates == 0, "fills delivered twice at one position without a retraction in between")
            // Every live fill was last delivered where the chain has it now.
            let stale = live.values.filter { chain.block(number: $0.blockNumber)?.hash != $0.blockHash }
            #expect(stale.isEmpty, "\(stale.count) fills last delivered at a position off the chain")
            let missing = canonicalKeys.subtracting(final)
            if !missing.isEmpty, ProcessInfo.processInfo.environment["LISTENER_DEBUG"] != nil {
                let byKey = Dictionary(
                    canonical.map { ($0.transactionHash.hex + "/" + $0.template.orderHash.hex, $0) },
                    uniquingKeysWith: { a, _ in a })
                let deliveredKeys = Set(seen.delivered.map(key)), retractedKeys = Set(seen.retracted.map(key))
                let blocks = missing.compactMap { byKey[$0]?.blockNumber }.sorted()
                print(
                    "DEBUG missing blocks \(blocks.first ?? 0)...\(blocks.last ?? 0) count \(blocks.count); delivered \(missing.filter(deliveredKeys.contains).count) retracted \(missing.filter(retractedKeys.contains).count); head \(chain.blockNumber)"
                )
                print("DEBUG distinct blocks: \(Set(blocks).sorted().prefix(40))")
            }
            let extraKeys = final.subtracting(canonicalKeys)
            if !extraKeys.isEmpty, ProcessInfo.processInfo.environment["LISTENER_DEBUG"] != nil {
                for log in seen.delivered where extraKeys.contains(key(log)) {
                    let now = chain.block(number: log.blockNumber)?.hash
                    print(
                        "DEBUG extra: block \(log.blockNumber) idx \(log.logIndex) hash \(log.blockHash.hex.prefix(10)) node \(now?.hex.prefix(10) ?? "none") head \(chain.blockNumber) deliveredAt \(seen.delivered.firstIndex(of: log) ?? -1)/\(seen.delivered.count)"
                    )
                }
            }
            let extra = final.subtracting(canonicalKeys)
            #expect(missing.isEmpty, "missing \(missing.count) (\(missing.prefix(3)))")
            #expect(extra.isEmpty, "delivered but not canonical: \(extra.count) (\(extra.prefix(3)))")
            #expect(canonical.count > 100, "the run produced enough followed fills (\(canonical.count))")
        }

        @Test(
            "5,000+ followed fills among 20,000+ others with every fault at once: exactly the canonical set")
        func everythingAtOnce() async throws {
            var faults = DevnetFaults()
            faults.getLogsMaxRange = 7
            faults.duplicateNotifications = 0.2
            faults.staleSubscriptions = 0.005
            faults.dropConnectionEvery = .seconds(3)
            faults.malformedFrames = 0.02
            faults.malformedFrameKinds = DevnetMalformedFrame.allCases.filter { $0 != .hugeFrame }
            faults.reorgEvery = 60
            faults.reorgDepth = 1...64
            // Alone on the machine: under the load of a whole cluster the subscription may never
            // go live, and the faults it must survive would go unexercised.
            try await ExclusiveRun.run("heavy-tests") {
                try await run(blocks: 2_400, seed: 10, faults: faults, restartNode: true) {
                    chain, seen, status, statistics in
                    Self.expectExactlyCanonical(chain, seen)
                    let followedFills = chain.canonicalFills(makers: Set(Self.followed)).count
                    let others = chain.canonicalFills().count - followedFills
                    #expect(followedFills >= 5_000, "followed fills: \(followedFills)")
                    #expect(others >= 20_000, "other fills: \(others)")
                    let orphaned = Set(
                        chain.orphanedFills(makers: Set(Self.followed)).map {
                            $0.transactionHash.hex + "/" + $0.template.orderHash.hex
                        })
                    let deliveredKeys = Set(seen.delivered.map(Self.key))
                    #expect(
                        deliveredKeys.intersection(orphaned).isSubset(of: Set(seen.retracted.map(Self.key))),
                        "every delivered orphan retracted")
                    // The chain reorganised (whether the listener met a reorg above its checkpoint or
                    // read past it in a resync depends on timing; either way the set above is exact).
                    #expect(!orphaned.isEmpty, "the devnet reorganised")
                    #expect(status.rangeSplits > 0)
                    #expect(status.reconnects + status.staleResubscribes > 0)
                    #expect(statistics.malformedFrames + statistics.unknownSubscriptions > 0)
                }
            }
        }

        /// Every retracted fill's block is off the final chain: a block a lagging backend did not
        /// have yet was never taken as orphaned.
        static func expectRetractionsOnlyOfOrphans(_ chain: SimulatedChain, _ seen: Seen) {
            let wrong = seen.retracted.filter { chain.block(number: $0.blockNumber)?.hash == $0.blockHash }
            #expect(wrong.isEmpty, "\(wrong.count) fills retracted from blocks still on the chain")
        }

        @Test(
            "real providers: unfamiliar range errors, lagging load-balanced backends, transient 429/503, re-mined reorgs"
        )
        func realProviders() async throws {
            var faults = DevnetFaults()
            faults.getLogsMaxRange = 7
            faults.rangeErrorDialect = .random
            faults.laggingBackends = DevnetLaggingBackends(count: 4, maximumLag: 3, pastHead: .mixed)
            faults.transientErrorRate = 0.05
            faults.reorgEvery = 50
            faults.reorgDepth = 1...12
            faults.remineOrphanedTransactions = 0.7
            faults.remineDelay = 1...4
            faults.duplicateNotifications = 0.1
            faults.dropConnectionEvery = .seconds(4)
            try await ExclusiveRun.run("heavy-tests") {
                // The devnet counts a backend's lag in chain updates, so once the chain stops a
                // lagging backend would stay behind (on an orphaned branch, after a last reorg)
                // for good; a real pool's backends catch up within a block time.
                try await run(
                    blocks: 700, seed: 23, faults: faults, quiet: { $0.laggingBackends = nil }
                ) { chain, seen, status, statistics in
                    Self.expectExactlyCanonical(chain, seen)
                    Self.expectRetractionsOnlyOfOrphans(chain, seen)
                    #expect(
                        !chain.reminedTransactions.isEmpty, "the devnet mined orphaned transactions again")
                    // HTTP trouble is retried in place: reconnects come from the socket's own drops.
                    #expect(status.queryFailures > 0)
                    #expect(status.rangeSplits > 0)
                }
            }
        }

        @Test(
            "drops, a node restart, range limits, duplicates, stale subscriptions and hostile frames: every fill once"
        )
        func faultsWithoutReorgs() async throws {
            var faults = DevnetFaults()
            faults.getLogsMaxRange = 7
            faults.duplicateNotifications = 0.2
            faults.staleSubscriptions = 0.01
            faults.dropConnectionEvery = .milliseconds(1500)
            faults.malformedFrames = 0.05
            faults.malformedFrameKinds = DevnetMalformedFrame.allCases.filter { $0 != .hugeFrame }
            try await run(blocks: 400, seed: 11, faults: faults, restartNode: true) {
                chain, seen, status, statistics in
                Self.expectExactlyCanonical(chain, seen)
                #expect(seen.retracted.isEmpty)
                // In chain order: without reorgs, (block, log index) never goes back.
                let positions = seen.delivered.map { ($0.blockNumber, $0.logIndex) }
                #expect(
                    zip(positions, positions.dropFirst()).allSatisfy { $0 <= $1 }, "delivered in chain order")
                #expect(status.reconnects + status.staleResubscribes > 0)
                #expect(status.rangeSplits > 0)
                #expect(
                    statistics.malformedFrames + statistics.unknownSubscriptions > 0,
                    "hostile frames were counted")
            }
        }

        @Test(
            "reorgs up to 64 blocks deep: the canonical set, and a retraction for every orphaned fill delivered"
        )
        func reorgs() async throws {
            var faults = DevnetFaults()
            faults.reorgEvery = 40
            faults.reorgDepth = 1...64
            faults.duplicateNotifications = 0.1
            try await run(blocks: 400, seed: 12, faults: faults) { chain, seen, status, _ in
                Self.expectExactlyCanonical(chain, seen)
                let orphaned = Set(
                    chain.orphanedFills(makers: Set(Self.followed)).map {
                        $0.transactionHash.hex + "/" + $0.template.orderHash.hex
                    })
                let deliveredKeys = Set(seen.delivered.map(Self.key))
                let retractedKeys = Set(seen.retracted.map(Self.key))
                #expect(
                    deliveredKeys.intersection(orphaned).isSubset(of: retractedKeys),
                    "every delivered orphan retracted")
                #expect(status.reorgs > 0)
            }
        }
    }
}
