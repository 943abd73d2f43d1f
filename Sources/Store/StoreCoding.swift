import CopyEngine
import EVM
import Foundation
import Polymarket

/// The stored forms both SQL stores share: rich values as JSON text of their `Codable` forms
/// (exact: amounts as six-decimal text, 256-bit numbers as decimal text), amounts as six-decimal
/// text, 32-byte words as 32 bytes.
enum StoreCoding {
    /// The JSON text of `value` (sorted keys). The values on the way to every order have
    /// overloads that write the same text directly (below).
    static func json(_ value: some Encodable) throws -> String { try encoded(value) }

    /// The JSON text of `value` as `JSONEncoder` writes it, sorted keys.
    static func encoded(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("\(T.self) \(text): \(error)")
        }
    }

    static func fixed6(_ text: String) throws -> Fixed6 {
        guard let value = Fixed6(text) else { throw StoreError.corrupt("amount \(text)") }
        return value
    }

    static func data(_ word: Bytes32) -> Data { Data(word.bytes) }

    static func bytes32(_ data: Data) throws -> Bytes32 {
        guard let word = Bytes32(bytes: data) else {
            throw StoreError.corrupt("expected 32 bytes, found \(data.count)")
        }
        return word
    }
}

// MARK: - Written directly

/// The JSON text of the values stored on the way to every order (with its intent, and again with
/// the conclusion of its answer), written directly: the same bytes as `JSONEncoder` with sorted
/// keys writes (`StoreCodingTests` compares them), at a small part of its cost. A value with a
/// string that would need escaping goes through the encoder.
extension StoreCoding {
    static func json(_ trade: TradeSummary) throws -> String {
        guard JSONText.isPlain(trade.exchange) else { return try encoded(trade) }
        var out = JSONText()
        out.field("blockNumber", number: "\(trade.blockNumber)")
        out.field("collateral", trade.collateral.description)
        out.field("exchange", trade.exchange)
        out.field("logIndex", number: "\(trade.logIndex)")
        out.field("price", trade.price.description)
        out.field("shares", trade.shares.description)
        out.field("side", trade.side.text)
        out.field("tokenId", trade.tokenId.decimalString)
        out.field("transactionHash", trade.transactionHash.hex)
        out.field("wallet", trade.wallet.lowercased)
        return out.closed()
    }

    static func json(_ intent: OrderIntent) throws -> String {
        var out = JSONText()
        out.field("collateral", intent.collateral.fixedString)
        out.field("limitPrice", intent.limitPrice.fixedString)
        if let market = intent.market { out.field("market", market.condition.hex) }
        out.field("minOrderSize", intent.minOrderSize.fixedString)
        out.field("negRisk", number: "\(intent.negRisk)")
        out.field("orderType", intent.orderType.rawValue)
        out.field("shares", intent.shares.fixedString)
        out.field("side", intent.side.text)
        out.field("targetPrice", intent.targetPrice.fixedString)
        out.field("tickSize", intent.tickSize.rawValue)
        out.field("tokenId", intent.tokenId.decimalString)
        return out.closed()
    }

    static func json(_ order: SignedOrder) throws -> String {
        var payload = JSONText()
        let version: String
        switch order.payload {
        case .v1(let o):
            version = "v1"
            payload.field("expiration", o.expiration.decimalString)
            payload.field("feeRateBps", o.feeRateBps.decimalString)
            payload.field("maker", o.maker.lowercased)
            payload.field("makerAmount", o.makerAmount.decimalString)
            payload.field("nonce", o.nonce.decimalString)
            payload.field("salt", o.salt.decimalString)
            payload.field("side", o.side.text)
            payload.field("signatureType", number: "\(o.signatureType.rawValue)")
            payload.field("signer", o.signer.lowercased)
            payload.field("taker", o.taker.lowercased)
            payload.field("takerAmount", o.takerAmount.decimalString)
            payload.field("tokenId", o.tokenId.decimalString)
        case .v2(let o):
            version = "v2"
            payload.field("builder", o.builder.hex)
            payload.field("expiration", o.expiration.decimalString)
            payload.field("maker", o.maker.lowercased)
            payload.field("makerAmount", o.makerAmount.decimalString)
            payload.field("metadata", o.metadata.hex)
            payload.field("salt", o.salt.decimalString)
            payload.field("side", o.side.text)
            payload.field("signatureType", number: "\(o.signatureType.rawValue)")
            payload.field("signer", o.signer.lowercased)
            payload.field("takerAmount", o.takerAmount.decimalString)
            payload.field("timestamp", o.timestamp.decimalString)
            payload.field("tokenId", o.tokenId.decimalString)
        }
        var out = JSONText()
        out.field("orderHash", order.orderHash.hex)
        out.field("payload", number: "{\"\(version)\":{\"_0\":\(payload.closed())}}")
        out.field("signature", order.signatureHex)
        return out.closed()
    }

    static func json(_ matched: MatchedTotals) throws -> String {
        var out = JSONText()
        out.field("collateral", matched.collateral.fixedString)
        out.field("fee", matched.fee.fixedString)
        out.field("pricedFromTarget", number: "\(matched.pricedFromTarget)")
        out.field("shares", matched.shares.fixedString)
        return out.closed()
    }
}

/// A JSON object written field by field, in the order given (the callers give sorted keys).
struct JSONText {
    private var text = "{"

    /// Whether `string` is written as it is between quotes: printable ASCII without `"` or `\`.
    static func isPlain(_ string: String) -> Bool {
        string.utf8.allSatisfy {
            $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\")
        }
    }

    /// A string field; `value` must be plain (hex, decimal, or a fixed name).
    mutating func field(_ key: String, _ value: String) {
        field(key, number: "\"\(value)\"")
    }

    /// A field written as it is (a number, a boolean or an object).
    mutating func field(_ key: String, number value: String) {
        if text != "{" { text += "," }
        text += "\"\(key)\":\(value)"
    }

    /// The object's text.
    func closed() -> String { text + "}" }
}
