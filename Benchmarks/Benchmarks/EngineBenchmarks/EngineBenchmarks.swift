// package-benchmark suite for the copy engine (issue 5: `TradeEvent` in → signed order bytes ready,
// p99 ≤ 200 µs on one core).
import Benchmark
import CopyEngine
import EVM
import Logging
import Polymarket
import Synchronization

/// An exchange that answers at once: a fixed book, and every order accepted (its JSON body built,
/// which is the "order bytes ready" end of the measured path).
final class InstantExchange: ExchangeGateway {
    let book: MarketBook
    let bodies = Mutex(0)

    init(token: UInt256) {
        book = MarketBook(
            tokenId: token, bids: [PriceLevel(price: Fixed6("0.49")!, size: Fixed6(1_000_000))],
            asks: [PriceLevel(price: Fixed6("0.50")!, size: Fixed6(1_000_000))],
            market: MarketID(Bytes32(1, 2, 3, 4)),
            parameters: MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false))
    }

    func book(tokenID: UInt256) async throws -> MarketBook { book }
    func marketParameters(tokenID: UInt256) async throws -> MarketParameters { book.parameters! }
    func market(of tokenID: UInt256) async throws -> MarketID { book.market! }
    func post(_ order: SignedOrder, orderType: OrderType) async throws -> ExchangeOrder {
        let body = try OrderBody.json(
            order, owner: "00000000-0000-4000-8000-000000000000", orderType: orderType)
        bodies.withLock { $0 += body.utf8.count }
        return ExchangeOrder(
            orderHash: order.orderHash, status: .live, matchedShares: .zero, matchedCollateral: .zero)
    }
    func lookup(_ order: SignedOrder) async throws -> ExchangeOrder? { nil }
    func balance() async throws -> Fixed6 { Fixed6(1_000_000) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5))

    Benchmark("Engine, live: TradeEvent → sized, risk-checked, signed, stored, order body ready") {
        benchmark in
        let token = UInt256(0xBEEF)
        let key = PrivateKey.generate()
        let contracts = ExchangeContracts(
            domainVersion: "2", chainId: 137, exchange: Address(hi: 1, mid: 2, lo: 3),
            negRiskExchange: Address(hi: 4, mid: 5, lo: 6))
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let clock = SystemWallClock()
        let engine = CopyEngine(
            configuration: EngineConfiguration(
                mode: .live, defaultPolicy: CopyPolicy(sizing: .fixedCollateral(Fixed6(5))),
                risk: RiskLimits(maxSlippage: Fixed6("0.05")!)),
            store: InMemoryCopyStateStore(), gateway: InstantExchange(token: token),
            signer: BuilderOrderSigner(builder: OrderBuilder(signer: key), contracts: contracts),
            portfolio: Portfolio(ledger: Ledger(cash: Fixed6(1_000_000_000), day: clock.now().utcDay)),
            breaker: CircuitBreaker(clock: clock), killSwitch: FlagKillSwitch(), clock: clock, logger: logger)
        let wallet = Address(hi: 9, mid: 9, lo: 9)
        let shares = FixedPoint6(units: UInt64(100_000_000))
        let collateral = FixedPoint6(units: UInt64(50_000_000))
        var n: UInt64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            n += 1
            let trade = TradeEvent(
                exchange: "CTFExchangeV2", contract: .zero, blockNumber: n, blockHash: Bytes32(0, 0, 0, n),
                transactionHash: Bytes32(1, 0, 0, n), logIndex: 0, orderHash: Bytes32(2, 0, 0, n),
                wallet: wallet,
                counterparty: .zero, side: .buy, tokenId: token, shares: shares, collateral: collateral,
                price: Price.of(collateral: collateral.units, shares: shares.units)!,
                fee: FixedPoint6(units: UInt64(0)), removed: false)
            blackHole(
                await engine.handle(CopyTrade(identity: TradeIdentity(Bytes32(7, 7, 7, n)), trade: trade)))
        }
    }
}
