import Benchmark
import EVM

/// The 224 bytes of data of a representative NegRisk CTF Exchange V2 `OrderFilled` log (made-up values,
/// realistic sizes):
/// side, tokenId, makerAmountFilled, takerAmountFilled, fee, builder, metadata.
let orderFilledV2Data =
    "0x0000000000000000000000000000000000000000000000000000000000000001"
    + "83793f46961e4c27bbe442acbffa71811877877bf5c84aecc94e203366b2fa9c"
    + "00000000000000000000000000000000000000000000000000000000045d5759"
    + "00000000000000000000000000000000000000000000000000000000013d532d"
    + "0000000000000000000000000000000000000000000000000000000000000000"
    + "0000000000000000000000000000000000000000000000000000000000000000"
    + "48b67b2a183bfd889fb5f7feecfb7fdac44a287fb91b23356210375e7698714f"

/// That log as an Alchemy-style `eth_subscription` frame (4 topics; 1,235 bytes).
func orderFilledFrame(data: String) -> String {
    "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x4a8a4c0517381924f9838102c5a4dcb7\","
        + "\"result\":{\"address\":\"0xe2222d279d744050d28e00520010520000310F59\","
        + "\"blockHash\":\"0xe7d117938e7ca5dbac8785750d0c1217cad89578c51e5547476cec0a8c731b11\",\"blockNumber\":\"0x2e59a84\","
        + "\"data\":\"\(data)\",\"logIndex\":\"0x0\",\"removed\":false,"
        + "\"topics\":[\"0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee\","
        + "\"0xcc99f773454c60cb7ea2d3a9a585bd37f74faa31ea9448a686fe0ea73637afc0\","
        + "\"0x000000000000000000000000e1fabe968909c49017106cf0f4dde902e1bff370\","
        + "\"0x000000000000000000000000640bf6b85f1756437d0690d57999916e40230264\"],"
        + "\"transactionHash\":\"0xba508b379a0634319b2b465542a5a5c3291faa459867823db327c4dfdbff93e5\","
        + "\"transactionIndex\":\"0xfb\"}}}"
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    Benchmark("Keccak256 32 bytes") { benchmark in
        var input = [UInt8](repeating: 0x5A, count: 32)
        for i in benchmark.scaledIterations {
            input[0] = UInt8(truncatingIfNeeded: i)
            blackHole(Keccak256.hash(input))
        }
    }

    Benchmark("Keccak256 1 KB") { benchmark in
        var input = [UInt8](repeating: 0x5A, count: 1024)
        for i in benchmark.scaledIterations {
            input[0] = UInt8(truncatingIfNeeded: i)
            blackHole(Keccak256.hash(input))
        }
    }

    let v2 = Array(orderFilledFrame(data: orderFilledV2Data).utf8)
    Benchmark("Parse eth_subscription OrderFilled V2 frame (224 B data) → EthLog") { benchmark in
        v2.withUnsafeBytes { frame in
            for _ in benchmark.scaledIterations {
                blackHole(try! EthLogParser.parseNotification(frame))
            }
        }
    }

    // The same frame with 320 bytes of data (10 words), the size the performance target names.
    let big = Array(orderFilledFrame(data: orderFilledV2Data + String(repeating: "ab", count: 96)).utf8)
    Benchmark("Parse eth_subscription frame (4 topics, 320 B data) → EthLog") { benchmark in
        big.withUnsafeBytes { frame in
            for _ in benchmark.scaledIterations {
                blackHole(try! EthLogParser.parseNotification(frame))
            }
        }
    }

    let hex = Array(("0x" + String(repeating: "0123456789abcdef", count: 40)).utf8)
    Benchmark("Hex.decode 320 bytes") { benchmark in
        hex.withUnsafeBytes { text in
            for _ in benchmark.scaledIterations {
                blackHole(try! Hex.decode(text))
            }
        }
    }
}
