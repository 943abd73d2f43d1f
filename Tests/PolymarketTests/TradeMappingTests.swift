import EVM
import Foundation
import Polymarket
import Testing

@Suite("OrderFilled V1 and V2 → TradeEvent")
struct TradeMappingTests {
    @Test("every fixture log maps to the trade fields computed with eth-abi, OrdersMatched to no trade")
    func fixtureLogs() throws {
        let registry = try Repository.registry()
        let cases = try Repository.fixtureCases("orderfilled_logs.json")
        #expect(cases.count >= 1000)
        var exchanges = Set<String>()
        var sides = Set<String>()
        for (i, testCase) in cases.enumerated() {
            let line = String(
                data: try JSONSerialization.data(withJSONObject: testCase["log"]!), encoding: .utf8)!
            let log = try EthLogParser.parse(line: line)
            let expected = testCase["expected"] as! [String: Any]
            let decoded = try registry.decode(log)
            switch decoded {
            case .trade(let trade):
                #expect(expected["kind"] as? String == "trade", "case \(i)")
                #expect(trade.exchange == expected["exchange"] as! String, "case \(i)")
                #expect(trade.blockNumber == (expected["block"] as! NSNumber).uint64Value, "case \(i)")
                #expect(trade.blockHash.hex == expected["block_hash"] as! String, "case \(i)")
                #expect(trade.transactionHash.hex == expected["tx"] as! String, "case \(i)")
                #expect(trade.logIndex == (expected["log_index"] as! NSNumber).uint64Value, "case \(i)")
                #expect(trade.removed == expected["removed"] as! Bool, "case \(i)")
                #expect(trade.orderHash.hex == expected["order_hash"] as! String, "case \(i)")
                #expect(trade.wallet.checksummed == expected["wallet"] as! String, "case \(i)")
                #expect(trade.counterparty.checksummed == expected["counterparty"] as! String, "case \(i)")
                #expect(trade.side.rawValue == expected["side"] as! String, "case \(i)")
                #expect(trade.tokenId.decimalString == expected["token_id"] as! String, "case \(i)")
                #expect(trade.shares.description == expected["shares"] as! String, "case \(i)")
                #expect(trade.collateral.description == expected["usdc"] as! String, "case \(i)")
                #expect(trade.price.description == expected["price"] as! String, "case \(i)")
                #expect(trade.fee.description == expected["fee"] as! String, "case \(i)")
                #expect(try registry.trade(log) == trade, "case \(i): the hot path agrees")
                exchanges.insert(trade.exchange)
                sides.insert(trade.side.rawValue)
            case .event(let exchange, let event, _):
                #expect(expected["kind"] as? String == "ignored", "case \(i)")
                #expect(event.name == expected["event"] as! String, "case \(i)")
                #expect(exchange == expected["exchange"] as! String, "case \(i)")
                #expect(try registry.trade(log) == nil, "case \(i): OrdersMatched is never a trade")
            }
        }
        #expect(
            exchanges == ["CTFExchangeV1", "NegRiskCTFExchangeV1", "CTFExchangeV2", "NegRiskCTFExchangeV2"])
        #expect(sides == ["BUY", "SELL"])
    }
}

@Suite("Fill logs with hostile content")
struct HostileFillTests {
    let registry: ExchangeRegistry
    let v2: ExchangeContract

    init() throws {
        registry = try Repository.registry()
        v2 = try #require(registry.contracts.first { $0.name == "CTFExchangeV2" })
    }

    /// A well-formed V2 fill log with the given data words.
    func log(topics: [Bytes32]? = nil, words: [UInt256]) -> EthLog {
        let maker = Address(hi: 0x1111, mid: 0x2222, lo: 0x3333)
        let taker = Address(hi: 0x4444, mid: 0x5555, lo: 0x6666)
        return EthLog(
            address: v2.address,
            topics: topics ?? [v2.fillEvent.topic0, Bytes32(1, 2, 3, 4), maker.word, taker.word],
            data: words.flatMap { $0.word.bytes }, blockNumber: 100, blockHash: Bytes32(9, 9, 9, 9),
            transactionHash: Bytes32(8, 8, 8, 8), transactionIndex: 0, logIndex: 3)
    }

    /// side, tokenId, makerAmountFilled, takerAmountFilled, fee, builder, metadata.
    func words(
        side: UInt64 = 0, maker: UInt256 = UInt256(520_000), taker: UInt256 = UInt256(1_000_000)
    ) -> [UInt256] {
        [UInt256(side), UInt256(77), maker, taker, UInt256(0), .zero, .zero]
    }

    @Test("a valid BUY maps: collateral from the maker amount, price half-up")
    func valid() throws {
        let trade = try #require(try registry.trade(log(words: words())))
        #expect(trade.side == .buy)
        #expect(trade.collateral.description == "0.520000")
        #expect(trade.shares.description == "1.000000")
        #expect(trade.price.description == "0.520000")
        #expect(trade.price.microsTotal == 520_000)
        let third = try #require(try registry.trade(log(words: words(maker: UInt256(1), taker: UInt256(3)))))
        #expect(third.price.description == "0.333333")
        let twoThirds = try #require(
            try registry.trade(log(words: words(maker: UInt256(2), taker: UInt256(3)))))
        #expect(twoThirds.price.description == "0.666667")
    }

    @Test("wrong topic counts")
    func topicCounts() throws {
        let good = log(words: words())
        #expect(throws: TradeDecodingError.topicCount(expected: 4, actual: 3)) {
            try registry.trade(log(topics: Array(good.topics.prefix(3)), words: words()))
        }
        #expect(throws: TradeDecodingError.topicCount(expected: 4, actual: 5)) {
            try registry.trade(log(topics: good.topics + [.zero], words: words()))
        }
        #expect(throws: TradeDecodingError.noTopics) { try registry.decode(log(topics: [], words: words())) }
    }

    @Test("short data, bad side, dirty address, zero shares, unknown topic and contract")
    func badFields() throws {
        #expect(throws: TradeDecodingError.dataTooShort(expected: 224, actual: 192)) {
            try registry.trade(log(words: Array(words().prefix(6))))
        }
        #expect(throws: TradeDecodingError.invalidField("side", "value does not fit uint8")) {
            try registry.trade(log(words: words(side: 256)))
        }
        #expect(throws: TradeDecodingError.invalidField("side", "side must be 0 (BUY) or 1 (SELL)")) {
            try registry.trade(log(words: words(side: 2)))
        }
        #expect(throws: TradeDecodingError.invalidField("takerAmountFilled", "zero shares")) {
            try registry.trade(log(words: words(taker: .zero)))
        }
        var dirty = log(words: words())
        dirty.topics[2] = Bytes32(0, 1 << 40, 0, 0)
        #expect(throws: TradeDecodingError.invalidField("maker", "address with non-zero high bytes")) {
            try registry.trade(dirty)
        }
        var unknown = log(words: words())
        unknown.topics[0] = Bytes32(5, 5, 5, 5)
        #expect(
            throws: TradeDecodingError.unknownEvent(exchange: "CTFExchangeV2", topic0: Bytes32(5, 5, 5, 5))
        ) {
            try registry.decode(unknown)
        }
        var elsewhere = log(words: words())
        elsewhere.address = .zero
        #expect(throws: TradeDecodingError.unknownContract(.zero)) { try registry.decode(elsewhere) }
    }

    @Test("amounts beyond 64 bits are exact and prices are computed wide")
    func wideAmounts() throws {
        let huge = UInt256(0, 0, 1, 0)  // 2^64
        let trade = try #require(try registry.trade(log(words: words(maker: huge, taker: UInt256(3)))))
        #expect(trade.collateral.units == huge)
        // 2^64 / 3 = 6148914691236517205.333.. → ×10^6, half-up.
        #expect(trade.price.description == "6148914691236517205.333333")
        let all = try #require(try registry.trade(log(words: words(maker: .max, taker: UInt256(1)))))
        #expect(all.price.whole == .max && all.price.micros == 0, "prices are never saturated")
        #expect(all.price.microsTotal == nil)
        #expect(trade.price.microsTotal == nil, "2^64/3 does not fit 64 bits of millionths")
    }
}
