import AsyncHTTPClient
import ClobStandIn
import CopyBot
import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import ServiceLifecycle
import Synchronization
import Testing

@testable import CopyBot

/// The CLOB keep-warm: one connection kept open across quiet spells longer than the HTTP client's
/// idle timeout (real sockets, the stand-in on 127.0.0.1), and the clock check.
@Suite("CLOB keep-warm", .timeLimit(.minutes(1)))
struct ClobKeepWarmTests {
    static let token = UInt256(0xC0FFEE)

    /// The pings the keep-warm observed: round trip and clock difference.
    final class Pings: Sendable {
        private let box = Mutex<[(Duration, Int64)]>([])
        func append(_ roundTrip: Duration, _ skew: Int64) { box.withLock { $0.append((roundTrip, skew)) } }
        var all: [(Duration, Int64)] { box.withLock { $0 } }
    }

    /// A stand-in whose clock is `offset` seconds off, a client on an HTTP client that closes
    /// connections idle for 2 s, and the keep-warm over it (logging into `lines`).
    static func withStandIn(
        clockOffset: Int64 = 0, lines: JSONLogHandlerTests.Lines = .init(),
        observed: Pings = Pings(),
        _ body: (ClobStandIn, ClobHTTPClient, ClobKeepWarm) async throws -> Void
    ) async throws {
        let key = PrivateKey.generate()
        let credentials = ServiceTestSupport.randomCredentials()
        let contracts = try ExchangeContracts(
            registry: try ServiceTestSupport.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2", domainVersion: "2")
        var configuration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address, contracts: contracts,
            markets: [ClobStandIn.Market(tokenID: token)])
        configuration.clockOffsetSeconds = clockOffset
        let standIn = ClobStandIn(configuration: configuration)
        try await standIn.start()
        let http = ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1), idleTimeout: .seconds(2))
        let client = ClobHTTPClient(
            configuration: .init(baseURL: standIn.baseURL, requestTimeout: .seconds(2)), http: http,
            signer: key, credentials: credentials)
        var logger = Logger(label: "keep-warm") { JSONLogHandler(label: $0, sink: lines.sink) }
        logger.logLevel = .info
        let keepWarm = ClobKeepWarm(
            client: client, clock: SystemWallClock(), logger: logger, interval: .milliseconds(100)
        ) { roundTrip, skew in observed.append(roundTrip, skew) }
        do {
            try await body(standIn, client, keepWarm)
        } catch {
            try? await http.shutdown()
            await standIn.stop()
            throw error
        }
        try await http.shutdown()
        await standIn.stop()
    }

    @Test("GET /time reads the CLOB's clock")
    func serverTime() async throws {
        try await Self.withStandIn(clockOffset: 3_600) { _, client, _ in
            let local = Int64(Date().timeIntervalSince1970)
            let server = try await client.serverTime()
            #expect(abs(server - local - 3_600) <= 1, "\(server) vs \(local)")
        }
    }

    @Test("without it, a quiet spell past the idle timeout costs a new connection")
    func coldWithout() async throws {
        try await Self.withStandIn { standIn, client, _ in
            _ = try await client.book(tokenID: Self.token)
            try await Task.sleep(for: .milliseconds(4_500))
            _ = try await client.book(tokenID: Self.token)
            #expect(standIn.connectionCount == 2)
        }
    }

    @Test("with it, the book after the quiet spell comes on a connection opened before it")
    func warmWith() async throws {
        try await Self.withStandIn { standIn, client, keepWarm in
            let group = ServiceGroup(
                configuration: .init(services: [keepWarm], logger: Logger(label: "keep-warm-group")))
            let running = Task { try await group.run() }
            // Its first request opens a connection before any book is read.
            for _ in 0..<200 where standIn.requestCount(.time) == 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
            _ = try await client.book(tokenID: Self.token)
            try await Task.sleep(for: .milliseconds(4_500))
            // Stopped gracefully (a ping in flight is answered first) so that none overlaps the book;
            // the book then comes moments after the last ping, on its connection. (Connections opened
            // during the spell are not the question: on a loaded machine a ping can time out and
            // close one.)
            await group.triggerGracefulShutdown()
            try await running.value
            try await Task.sleep(for: .milliseconds(50))
            let before = standIn.connectionCount
            _ = try await client.book(tokenID: Self.token)
            #expect(
                standIn.requestCount(.time) >= 3,
                "pinged through the quiet spell (every 100 ms; fewer on a loaded machine)")
            #expect(standIn.connectionCount == before, "no new connection for the book")
        }
    }

    @Test("a clock off by more than the limit is a warning, once; back within it, a note")
    func skew() async throws {
        let lines = JSONLogHandlerTests.Lines()
        let observed = Pings()
        try await Self.withStandIn(clockOffset: -120, lines: lines, observed: observed) {
            _, _, keepWarm in
            let running = Task { try await keepWarm.run() }
            // Three answered pings (the stand-in counts a request before the client has its answer).
            for _ in 0..<200 where observed.all.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
            running.cancel()
            _ = try? await running.value
        }
        // Each answered ping is observed (for the metrics): its round trip and the difference.
        let pings = observed.all
        #expect(pings.count >= 3)
        #expect(pings.allSatisfy { $0.0 > .zero && $0.0 < .seconds(2) && abs($0.1 + 120) <= 1 }, "\(pings)")
        let objects = try lines.objects()
        #expect(objects.count == 1, "one warning for several answers: \(lines.all)")
        #expect(objects.first?["level"] as? String == "warning")
        let message = try #require(objects.first?["msg"] as? String)
        // The CLOB's clock is read in whole seconds: 120 s off reads as 119–121.
        #expect(
            ["119", "120", "121"].contains { message.contains("\($0) s ahead of the CLOB's") }, "\(message)")

        #expect(ClobKeepWarm.skewReport(2, limit: 5, reported: false) == nil)
        #expect(ClobKeepWarm.skewReport(6, limit: 5, reported: false)?.message.contains("6 s behind") == true)
        #expect(ClobKeepWarm.skewReport(9, limit: 5, reported: true) == nil, "reported already")
        #expect(ClobKeepWarm.skewReport(-1, limit: 5, reported: true)?.reported == false, "back within")
    }
}
