// package-benchmark suite for CLOB order building and signing (issue 4: ≥ 10,000 orders/s on one core).
// Until the Benchmarks package is merged, `swift build -c release --product clob-bench` times the same loop.
import Benchmark
import EVM
import Polymarket

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5))

    Benchmark("CLOB V2 limit order: build + EIP-712 hash + secp256k1 sign") { benchmark in
        let key = PrivateKey.generate()
        // Throwaway contract addresses: the cost does not depend on which exchange signs.
        let contracts = ExchangeContracts(
            domainVersion: "2", chainId: 137, exchange: Address(hi: 1, mid: 2, lo: 3),
            negRiskExchange: Address(hi: 4, mid: 5, lo: 6))
        let builder = OrderBuilder(signer: key, clock: { 1_800_000_000_000 })
        let market = MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
        let request = LimitOrderRequest(
            tokenId: UInt256(123_456_789), side: .buy, price: ExactDecimal("0.53")!, size: ExactDecimal(25))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try builder.limitOrder(request, market: market, contracts: contracts))
        }
    }

    Benchmark("GET /book answer, 99 bids and 99 asks → OrderBook") { benchmark in
        // The shape of the CLOB's answer (and of the loopback stand-in's): prices and sizes as strings.
        func levels(_ cents: [Int]) -> String {
            cents.map { "{\"price\":\"0.\(String(format: "%02d", $0))\",\"size\":\"1000000\"}" }
                .joined(separator: ",")
        }
        let body = Array(
            """
            {"market":"0x\(String(repeating: "ab", count: 32))","asset_id":"123456789",\
            "timestamp":"1800000000000","hash":"\(String(repeating: "cd", count: 20))",\
            "bids":[\(levels(Array(1...99)))],"asks":[\(levels(Array((1...99).reversed())))],\
            "min_order_size":"5","tick_size":"0.01","neg_risk":false}
            """.utf8)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try OrderBookParser.parse(body, tokenID: UInt256(123_456_789), status: 200))
        }
    }

    Benchmark("CLOB V2 POST /order body JSON") { benchmark in
        let key = PrivateKey.generate()
        let contracts = ExchangeContracts(
            domainVersion: "2", chainId: 137, exchange: Address(hi: 1, mid: 2, lo: 3),
            negRiskExchange: Address(hi: 4, mid: 5, lo: 6))
        let signed = try OrderBuilder(signer: key).limitOrder(
            LimitOrderRequest(
                tokenId: UInt256(1), side: .sell, price: ExactDecimal("0.4")!, size: ExactDecimal(10)),
            market: MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false),
            contracts: contracts)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(
                try OrderBody.json(signed, owner: "00000000-0000-4000-8000-000000000000", orderType: .gtc))
        }
    }
}
