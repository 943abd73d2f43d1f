import EVM
import Foundation
import Polymarket

/// JSON text the stand-in writes and reads.
enum StandInJSON {
    static func string(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"" + out + "\""
    }

    static func levels(_ levels: [BookLevel]) -> String {
        "[" + levels.map { "{\"price\":\"\($0.price)\",\"size\":\"\($0.size)\"}" }.joined(separator: ",")
            + "]"
    }

    /// A `GET /book` answer, split where its timestamp goes.
    static func book(_ m: ClobStandIn.Market) -> (head: String, tail: String) {
        (
            "{\"market\":\(string(m.conditionID)),\"asset_id\":\"\(m.tokenID.decimalString)\",\"timestamp\":\"",
            "\",\"hash\":\"standin\",\"bids\":\(levels(m.bids)),\"asks\":\(levels(m.asks)),\"min_order_size\":\"\(m.minOrderSize)\","
                + "\"tick_size\":\"\(m.tickSize.rawValue)\",\"neg_risk\":\(m.negRisk)}"
        )
    }

    /// A `GET /data/order/{id}` answer (clob-client `OpenOrder`): `price` is the order's limit
    /// price, `created_at` a number of Unix seconds, `associate_trades` the ids of its trades.
    static func record(_ a: ClobStandIn.AcceptedOrder, market: ClobStandIn.Market?) -> String {
        let o = a.order
        let matched = UInt256(uint128: a.matchedShares).fixedPointString(scale: 6)
        let shares = o.side == .buy ? o.takerAmount : o.makerAmount
        let price =
            MarketOrderAmounts.worstPrice(
                side: o.side, OrderAmounts(makerAmount: o.makerAmount, takerAmount: o.takerAmount),
                tick: market?.tickSize ?? .tenThousandth
            ).map { ExactDecimal(units: $0, places: 6).description } ?? "0"
        let trades = a.tradeIDs.map { string($0) }.joined(separator: ",")
        return "{\"id\":\(string(a.orderHash)),\"status\":\"\(a.status)\",\"owner\":\(string(a.owner)),"
            + "\"maker_address\":\"\(o.maker.checksummed)\",\"market\":\(string(market?.conditionID ?? "")),"
            + "\"asset_id\":\"\(o.tokenId.decimalString)\",\"side\":\"\(o.side.text)\","
            + "\"original_size\":\"\(shares.fixedPointString(scale: 6))\",\"size_matched\":\"\(matched)\","
            + "\"price\":\"\(price)\",\"associate_trades\":[\(trades)],\"outcome\":\"\",\"created_at\":\(a.createdAt),"
            + "\"expiration\":\"\(o.expiration.decimalString)\",\"order_type\":\(string(a.orderType))}"
    }

    /// A `GET /data/trades` entry (rs-clob-client `TradeResponse`): amounts as decimal text, one
    /// `maker_orders` entry per book level taken.
    static func trade(_ t: ClobStandIn.Trade) -> String {
        func units(_ value: UInt128) -> String { UInt256(uint128: value).fixedPointString(scale: 6) }
        let makers = t.makerFills.map { m in
            "{\"order_id\":\(string(m.orderID)),\"owner\":\(string(m.owner)),"
                + "\"maker_address\":\"\(m.makerAddress.checksummed)\",\"matched_amount\":\"\(units(m.shares))\","
                + "\"price\":\"\(m.price)\",\"fee_rate_bps\":\"0\",\"asset_id\":\"\(m.tokenID.decimalString)\","
                + "\"outcome\":\"\",\"side\":\"\(m.side.text)\"}"
        }.joined(separator: ",")
        return
            "{\"id\":\(string(t.id)),\"taker_order_id\":\(string(t.takerOrderID)),\"market\":\(string(t.market)),"
            + "\"asset_id\":\"\(t.tokenID.decimalString)\",\"side\":\"\(t.side.text)\",\"size\":\"\(units(t.shares))\","
            + "\"fee_rate_bps\":\"0\",\"price\":\"\(t.price)\",\"status\":\(string(t.status)),"
            + "\"match_time\":\"\(t.matchTime)\",\"last_update\":\"\(t.matchTime)\",\"outcome\":\"\",\"bucket_index\":0,"
            + "\"owner\":\(string(t.owner)),\"maker_address\":\"\(t.makerAddress.checksummed)\","
            + "\"transaction_hash\":\(string(t.transactionHash)),\"trader_side\":\"TAKER\",\"maker_orders\":[\(makers)]}"
    }

    /// 32 random bytes as `0x` hex (made-up maker order ids and transaction hashes).
    static func randomHash() -> String {
        var generator = SystemRandomNumberGenerator()
        return "0x"
            + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            .joined()
    }

    /// The V2 order of a `POST /order` body.
    static func order(_ o: [String: Any]) -> OrderV2? {
        func text(_ key: String) -> String? {
            switch o[key] {
            case let s as String: s
            case let n as NSNumber: n.stringValue
            default: nil
            }
        }
        guard let salt = text("salt").flatMap({ UInt256(decimal: $0) }),
            let maker = text("maker").flatMap({ try? Address($0) }),
            let signer = text("signer").flatMap({ try? Address($0) }),
            let tokenId = text("tokenId").flatMap({ UInt256(decimal: $0) }),
            let makerAmount = text("makerAmount").flatMap({ UInt256(decimal: $0) }),
            let takerAmount = text("takerAmount").flatMap({ UInt256(decimal: $0) }),
            let sideText = text("side"), sideText == "BUY" || sideText == "SELL",
            let typeRaw = text("signatureType").flatMap({ UInt8($0) }),
            let type = SignatureType(rawValue: typeRaw),
            let timestamp = text("timestamp").flatMap({ UInt256(decimal: $0) }),
            let metadata = text("metadata").flatMap({ try? Bytes32(hex: $0) }),
            let builder = text("builder").flatMap({ try? Bytes32(hex: $0) }),
            let expiration = text("expiration").flatMap({ UInt256(decimal: $0) })
        else { return nil }
        return OrderV2(
            salt: salt, maker: maker, signer: signer, tokenId: tokenId, makerAmount: makerAmount,
            takerAmount: takerAmount, side: sideText == "BUY" ? .buy : .sell, signatureType: type,
            timestamp: timestamp,
            metadata: metadata, builder: builder, expiration: expiration)
    }
}
