import EVM
import Foundation
import Testing

@testable import Polymarket

/// The `GET /book` parser against books generated with what they must parse to: levels as
/// strings or numbers, members in any order, unknown members (nested too) skipped, whitespace
/// anywhere; and broken answers refused with `invalidResponse`, never a crash.
@Suite("OrderBookParser")
struct OrderBookParserTests {
    /// A small deterministic generator (xorshift64*).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
    }

    static func space(_ g: inout Generator) -> String {
        ["", "", " ", "\n  ", "\t"][Int.random(in: 0..<5, using: &g)]
    }

    /// A level's text and JSON (a string or a plain number).
    static func value(_ text: String, _ g: inout Generator) -> String {
        Bool.random(using: &g) ? "\"\(text)\"" : text
    }

    static func object(_ members: [(String, String)], _ g: inout Generator) -> String {
        "{"
            + members.shuffled(using: &g).map { "\(space(&g))\"\($0.0)\"\(space(&g)):\(space(&g))\($0.1)" }
            .joined(separator: ",") + space(&g) + "}"
    }

    @Test("500 generated books parse to exactly the levels and parameters they were made from")
    func generatedBooks() throws {
        var g = Generator(state: 2_026)
        for _ in 0..<500 {
            func levels() -> ([BookLevel], String) {
                let count = Int.random(in: 0...120, using: &g)
                var levels: [BookLevel] = []
                var items: [String] = []
                for _ in 0..<count {
                    let price = "0.\(String(format: "%02d", Int.random(in: 1...99, using: &g)))"
                    let size =
                        "\(Int.random(in: 1...100_000, using: &g)).\(Int.random(in: 0...99, using: &g))"
                    levels.append(BookLevel(price: ExactDecimal(price)!, size: ExactDecimal(size)!))
                    var members = [("price", Self.value(price, &g)), ("size", Self.value(size, &g))]
                    if Bool.random(using: &g) {
                        members.append(("extra", "[1, {\"a\": [null, true]}, \"x\\\"y\"]"))
                    }
                    items.append(Self.object(members, &g))
                }
                return (levels, "[" + items.joined(separator: "," + Self.space(&g)) + "]")
            }
            let (bids, bidsJSON) = levels()
            let (asks, asksJSON) = levels()
            let tick = ["0.1", "0.01", "0.001", "0.0001"].randomElement(using: &g)!
            let minimum = ["5", "1", "0.5"].randomElement(using: &g)!
            let negRisk = Bool.random(using: &g)
            let market = "0x" + String(repeating: "ab", count: 32)
            var members = [
                ("market", "\"\(market)\""), ("asset_id", "\"123\""), ("bids", bidsJSON), ("asks", asksJSON),
                ("tick_size", Self.value(tick, &g)), ("min_order_size", Self.value(minimum, &g)),
                ("neg_risk", negRisk ? "true" : "false"), ("hash", "\"h\\u0041sh\""),
                ("timestamp", "\"1764\""),
            ]
            if Bool.random(using: &g) {
                members.append(("last_trade_price", "{\"x\": [1, 2, {\"y\": null}]}"))
            }
            let body = Array(Self.object(members, &g).utf8)
            let book = try OrderBookParser.parse(body, tokenID: UInt256(7), status: 200)
            #expect(book.bids == bids)
            #expect(book.asks == asks)
            #expect(book.market == market)
            #expect(book.tokenID == UInt256(7))
            #expect(book.parameters.tickSize == TickSize(text: tick))
            #expect(book.parameters.minOrderSize == ExactDecimal(minimum))
            #expect(book.parameters.negRisk == negRisk)
            #expect(book.hash == "hAsh")
            #expect(book.timestamp == "1764")
        }
    }

    @Test(
        "broken answers are invalidResponse",
        arguments: [
            "", "[]", "\"book\"", "{", "{\"tick_size\": \"0.01\", \"bids\": [", "{\"bids\": []}",
            "{\"tick_size\": \"0.3\"}", "{\"tick_size\": \"0.01\", \"bids\": {}}",
            "{\"tick_size\": \"0.01\", \"bids\": [[\"0.5\", \"1\"]]}",
            "{\"tick_size\": \"0.01\", \"asks\": [{\"price\": \"0.5\"}]}",
            "{\"tick_size\": \"0.01\", \"asks\": [{\"price\": \"abc\", \"size\": \"1\"}]}",
            "{\"tick_size\": \"0.01\"} trailing", "{\"tick_size\": \"0.01\",}",
        ])
    func broken(_ text: String) {
        #expect(throws: ClobError.self) {
            _ = try OrderBookParser.parse(Array(text.utf8), tokenID: UInt256(1), status: 200)
        }
        do {
            _ = try OrderBookParser.parse(Array(text.utf8), tokenID: UInt256(1), status: 200)
        } catch {
            #expect(error.kind == .invalidResponse)
        }
    }

    @Test("a level's price and size read the same as their text: escaped, past 19 digits, or numbers")
    func levelText() throws {
        let size = "123456789012345678901234.5"  // more digits than a 64-bit word holds
        let body = """
            {"tick_size":"0.01","bids":[{"price":"\\u0030.4\\u0035","size":"\(size)"}],\
            "asks":[{"price":0.55,"size":10.250}]}
            """
        let book = try OrderBookParser.parse(Array(body.utf8), tokenID: UInt256(1), status: 200)
        #expect(
            book.bids == [
                BookLevel(price: try #require(ExactDecimal("0.45")), size: try #require(ExactDecimal(size)))
            ])
        #expect(
            book.asks == [
                BookLevel(
                    price: try #require(ExactDecimal("0.55")), size: try #require(ExactDecimal("10.25")))
            ])
        #expect(book.bids.first?.size.description == size)
    }

    @Test("null levels are an empty side")
    func nullLevels() throws {
        let book = try OrderBookParser.parse(
            Array("{\"tick_size\":\"0.01\",\"bids\":null,\"asks\":[]}".utf8), tokenID: UInt256(1), status: 200
        )
        #expect(book.bids.isEmpty && book.asks.isEmpty)
        #expect(book.parameters.minOrderSize == ExactDecimal(0))
    }
}
