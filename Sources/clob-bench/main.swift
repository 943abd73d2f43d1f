// Quick release-mode timing of building + signing CLOB V2 orders on one core, until the
// package-benchmark suite (Benchmarks/Benchmarks/ClobBenchmarks) runs in CI.
// Usage: swift build -c release --product clob-bench && .build/release/clob-bench [count]
import EVM
import Foundation
import Polymarket

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 20_000
let key = PrivateKey.generate()
// Throwaway contract addresses: the timing does not depend on which exchange signs.
let contracts = ExchangeContracts(
    domainVersion: "2", chainId: 137, exchange: Address(hi: 1, mid: 2, lo: 3),
    negRiskExchange: Address(hi: 4, mid: 5, lo: 6))
let builder = OrderBuilder(
    signer: key, salt: { UInt256(UInt64.random(in: 1...(1 << 53))) }, clock: { 1_800_000_000_000 })
let market = MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
let prices = (1...99).map { ExactDecimal(significand: .init($0), scale: 2) }
func run(_ n: Int) throws -> UInt64 {
    var checksum: UInt64 = 0
    for i in 0..<n {
        let request = LimitOrderRequest(
            tokenId: UInt256(UInt64(i) &+ 1), side: i & 1 == 0 ? .buy : .sell, price: prices[i % 99],
            size: ExactDecimal(10 + i % 500))
        let signed = try builder.limitOrder(request, market: market, contracts: contracts)
        checksum &+= signed.orderHash.w3 ^ UInt64(signed.signature[64])
    }
    return checksum
}
_ = try run(1000)  // warm-up
let start = ContinuousClock.now
let checksum = try run(count)
let elapsed = start.duration(to: .now)
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(
    "built and signed \(count) orders in \(String(format: "%.3f", seconds)) s: \(Int(Double(count) / seconds)) orders/s (checksum \(checksum & 0xFF))"
)
