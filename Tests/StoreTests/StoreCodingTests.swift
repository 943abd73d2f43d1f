import CopyEngine
import EVM
import Foundation
import Polymarket
import Testing

@testable import Store

@Suite("Stored JSON written directly")
struct StoreCodingTests {
    /// `value` as `JSONEncoder` writes it (sorted keys): what the direct writers must match.
    static func encoderText<T: Encodable>(_ value: T) throws -> String { try StoreCoding.encoded(value) }

    @Test(
        "trade summaries: the same bytes as JSONEncoder; an exchange name that needs escaping goes through it"
    )
    func trades() throws {
        var trades = [
            summary(1), summary(1 << 62, shares: "0.000001", price: "0.999999"),
            summary(7, shares: "123456789.5"),
        ]
        for name in ["neg_risk_v1", "a/b c-d.e", "quote\"d", "back\\slash", "tab\tname", "é", "\u{7F}"] {
            var trade = summary(3)
            trade.exchange = name
            trades.append(trade)
        }
        var selling = summary(4)
        selling.side = .sell
        selling.wallet = Address(hi: .max, mid: .max, lo: .max)
        trades.append(selling)
        for trade in trades {
            let text = try StoreCoding.json(trade)
            #expect(text == (try Self.encoderText(trade)))
            #expect(try StoreCoding.decode(TradeSummary.self, text) == trade)
        }
    }

    @Test(
        "order intents: the same bytes as JSONEncoder, with and without a market, every tick size and order type"
    )
    func intents() throws {
        var intents: [OrderIntent] = []
        for tick in TickSize.allCases {
            for type in [OrderType.gtc, .gtd, .fok, .fak] {
                var intent = orderIntent(side: type == .fok ? .sell : .buy, token: .max, market: nil)
                intent.tickSize = tick
                intent.orderType = type
                intent.negRisk = type == .gtd
                intents.append(intent)
            }
        }
        intents.append(orderIntent())
        var negative = orderIntent(shares: "0.01", price: "0.99")
        negative.collateral = d("-1.5")
        intents.append(negative)
        for intent in intents {
            let text = try StoreCoding.json(intent)
            #expect(text == (try Self.encoderText(intent)))
            #expect(try StoreCoding.decode(OrderIntent.self, text) == intent)
        }
    }

    @Test("signed orders, V1 and V2: the same bytes as JSONEncoder")
    func signedOrders() throws {
        let v1 = SignedOrder(
            payload: .v1(
                OrderV1(
                    salt: .max, maker: followed, signer: otherFollowed, taker: Address(hi: 1, mid: 2, lo: 3),
                    tokenId: UInt256(42), makerAmount: .zero, takerAmount: UInt256(5), expiration: UInt256(9),
                    nonce: UInt256(7), feeRateBps: UInt256(100), side: .sell, signatureType: .eoa)),
            signature: [], orderHash: .zero)
        var v2 = signedOrder(3)
        if case .v2(var order) = v2.payload {
            order.side = .sell
            order.signatureType = .poly1271
            v2 = SignedOrder(payload: .v2(order), signature: [0xFF], orderHash: v2.orderHash)
        }
        for order in [signedOrder(1), signedOrder(.max), v1, v2] {
            let text = try StoreCoding.json(order)
            #expect(text == (try Self.encoderText(order)))
            #expect(try StoreCoding.decode(SignedOrder.self, text) == order)
        }
    }

    @Test("matched totals: the same bytes as JSONEncoder")
    func matchedTotals() throws {
        for totals in [
            MatchedTotals.zero, matched("20", "10.6"),
            matched("0.000001", "0", fee: "0.25", fromTarget: true),
        ] {
            let text = try StoreCoding.json(totals)
            #expect(text == (try Self.encoderText(totals)))
            #expect(try StoreCoding.decode(MatchedTotals.self, text) == totals)
        }
    }
}
