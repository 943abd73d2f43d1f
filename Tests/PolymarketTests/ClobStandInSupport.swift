import AsyncHTTPClient
import ClobStandIn
import EVM
import Foundation
import Logging
import Polymarket
import Synchronization

/// Records every log message with its metadata (all levels), for the secret-leak test.
final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { label in RecordingLogHandler(label: label, recorder: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct RecordingLogHandler: LogHandler {
    let label: String
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let error = event.error.map { " error: \($0)" } ?? ""
        recorder.append("\(label) \(event.level) \(event.message) \(merged) \(event.source)\(error)")
    }
}

/// A stand-in with one account's credentials, a few markets, and a client pointed at it.
struct StandInEnvironment {
    let key: PrivateKey
    let credentials: ApiCredentials
    let contracts: ExchangeContracts
    let standIn: ClobStandIn
    let http: HTTPClient
    let client: ClobHTTPClient
    let market: ClobStandIn.Market
    let negRiskMarket: ClobStandIn.Market

    static func randomCredentials() -> ApiCredentials {
        var generator = SystemRandomNumberGenerator()
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = Data(secretBytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        let passphrase = (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }
            .joined()
        return ApiCredentials(apiKey: UUID().uuidString.lowercased(), secret: secret, passphrase: passphrase)
    }

    static func contracts() throws -> ExchangeContracts {
        try ExchangeContracts(
            registry: try Repository.registry(), exchange: "CTFExchangeV2",
            negRiskExchange: "NegRiskCTFExchangeV2",
            domainVersion: "2")
    }

    /// Runs `body` against a fresh stand-in; stops everything afterwards.
    static func with<T>(
        timeout: Duration = .milliseconds(400),
        retry: RetryPolicy = RetryPolicy(
            maxAttempts: 4, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200),
            maxRetryAfter: .seconds(3)),
        rateLimiter: any RateLimiter = UnlimitedRate(),
        recorder: LogRecorder? = nil,
        _ body: (StandInEnvironment) async throws -> T
    ) async throws -> T {
        let key = PrivateKey.generate()
        let credentials = randomCredentials()
        let contracts = try contracts()
        let market = ClobStandIn.Market(
            tokenID: UInt256(UInt64.random(in: 1...UInt64.max)),
            bids: [
                BookLevel(price: ExactDecimal("0.48")!, size: ExactDecimal(100)),
                BookLevel(price: ExactDecimal("0.49")!, size: ExactDecimal(50)),
            ],
            asks: [
                BookLevel(price: ExactDecimal("0.52")!, size: ExactDecimal(40)),
                BookLevel(price: ExactDecimal("0.51")!, size: ExactDecimal(60)),
            ],
            tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
        let negRiskMarket = ClobStandIn.Market(
            tokenID: UInt256(UInt64.random(in: 1...UInt64.max)), tickSize: .thousandth,
            minOrderSize: ExactDecimal(5),
            negRisk: true)
        let standIn = ClobStandIn(
            configuration: .init(
                credentials: credentials, account: key.address, contracts: contracts,
                markets: [market, negRiskMarket]),
            logger: recorder?.logger("stand-in") ?? Logger(label: "stand-in"))
        try await standIn.start()
        let http = ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1))
        let client = ClobHTTPClient(
            configuration: .init(baseURL: standIn.baseURL, requestTimeout: timeout, retry: retry), http: http,
            signer: key, credentials: credentials, rateLimiter: rateLimiter,
            logger: recorder?.logger("clob") ?? Logger(label: "clob"))
        let environment = StandInEnvironment(
            key: key, credentials: credentials, contracts: contracts, standIn: standIn, http: http,
            client: client,
            market: market, negRiskMarket: negRiskMarket)
        do {
            let result = try await body(environment)
            try await http.shutdown()
            await standIn.stop()
            return result
        } catch {
            try? await http.shutdown()
            await standIn.stop()
            throw error
        }
    }

    var builder: OrderBuilder { OrderBuilder(signer: key) }

    /// A signed BUY limit order on `market`.
    func order(
        price: String = "0.50", size: String = "10", market: ClobStandIn.Market? = nil, tick: TickSize? = nil,
        minimum: ExactDecimal = ExactDecimal(0), builder: OrderBuilder? = nil, negRisk: Bool? = nil
    ) throws -> SignedOrder {
        let market = market ?? self.market
        return try (builder ?? self.builder).limitOrder(
            LimitOrderRequest(
                tokenId: market.tokenID, side: .buy, price: ExactDecimal(price)!, size: ExactDecimal(size)!),
            market: MarketParameters(
                tickSize: tick ?? market.tickSize, minOrderSize: minimum, negRisk: negRisk ?? market.negRisk),
            contracts: contracts)
    }
}
