import Benchmark
import EVM
import Foundation
import Polymarket

/// The repository root, found from this file so the benchmark reads the real `Config/` and `abi/`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A representative NegRisk CTF Exchange V2 `OrderFilled` log (made-up values: a SELL of 73.226073 shares
/// at 0.284) as an Alchemy-style `eth_subscription` frame: 4 topics, 224 bytes of data.
let orderFilledV2Frame =
    "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x4a8a4c0517381924f9838102c5a4dcb7\","
    + "\"result\":{\"address\":\"0xe2222d279d744050d28e00520010520000310F59\","
    + "\"blockHash\":\"0xe7d117938e7ca5dbac8785750d0c1217cad89578c51e5547476cec0a8c731b11\",\"blockNumber\":\"0x2e59a84\","
    + "\"data\":\"0x0000000000000000000000000000000000000000000000000000000000000001"
    + "83793f46961e4c27bbe442acbffa71811877877bf5c84aecc94e203366b2fa9c"
    + "00000000000000000000000000000000000000000000000000000000045d5759"
    + "00000000000000000000000000000000000000000000000000000000013d532d"
    + "0000000000000000000000000000000000000000000000000000000000000000"
    + "0000000000000000000000000000000000000000000000000000000000000000"
    + "48b67b2a183bfd889fb5f7feecfb7fdac44a287fb91b23356210375e7698714f\","
    + "\"logIndex\":\"0x0\",\"removed\":false,"
    + "\"topics\":[\"0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee\","
    + "\"0xcc99f773454c60cb7ea2d3a9a585bd37f74faa31ea9448a686fe0ea73637afc0\","
    + "\"0x000000000000000000000000e1fabe968909c49017106cf0f4dde902e1bff370\","
    + "\"0x000000000000000000000000640bf6b85f1756437d0690d57999916e40230264\"],"
    + "\"transactionHash\":\"0xba508b379a0634319b2b465542a5a5c3291faa459867823db327c4dfdbff93e5\","
    + "\"transactionIndex\":\"0xfb\"}}}"

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    let registry: ExchangeRegistry
    do {
        registry = try ExchangeRegistry.load(
            contractsFile: repositoryRoot.appendingPathComponent("Config/contracts.polygon.yaml").path,
            abiDirectory: repositoryRoot.appendingPathComponent("abi").path)
    } catch {
        fatalError("cannot load the exchange registry: \(error)")
    }
    let frame = Array(orderFilledV2Frame.utf8)
    // Fail loudly rather than measure a path that does not produce a trade.
    let check = frame.withUnsafeBytes { try! registry.trade(EthLogParser.parseNotification($0).log) }
    precondition(check?.exchange == "NegRiskCTFExchangeV2", "the frame did not decode to a V2 trade")

    Benchmark("eth_subscription OrderFilled V2 frame → TradeEvent") { benchmark in
        frame.withUnsafeBytes { frame in
            for _ in benchmark.scaledIterations {
                blackHole(try! registry.trade(EthLogParser.parseNotification(frame).log))
            }
        }
    }
}
