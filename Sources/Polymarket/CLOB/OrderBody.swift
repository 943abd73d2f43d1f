import EVM

/// The `POST /order` JSON body, byte for byte as the official client writes it
/// (`json.dumps(…, separators=(",", ":"), ensure_ascii=False)` of `order_to_json_v1/v2`).
///
/// Key order: `order` {V2: salt, maker, signer, tokenId, makerAmount, takerAmount, side, expiration,
/// signatureType, timestamp, metadata, builder, signature}, `owner`, `orderType`, `deferExec`, `postOnly`.
/// `salt` and `signatureType` are JSON numbers; amounts, ids and times are strings.
public enum OrderBody {
    /// The body for one signed order. Throws for post-only FOK/FAK orders, as the client does.
    public static func json(
        _ signed: SignedOrder, owner: String, orderType: OrderType, postOnly: Bool = false,
        deferExec: Bool = false
    ) throws(OrderError) -> String {
        if postOnly, orderType == .fok || orderType == .fak { throw .postOnlyNotAllowed(orderType) }
        var out = "{\"order\":"
        orderObject(signed, into: &out)
        out += ",\"owner\":"
        appendString(owner, to: &out)
        out += ",\"orderType\":\"\(orderType.rawValue)\",\"deferExec\":\(deferExec),\"postOnly\":\(postOnly)}"
        return out
    }

    /// The `order` object alone.
    static func orderObject(_ signed: SignedOrder, into out: inout String) {
        switch signed.payload {
        case .v2(let o):
            out += "{\"salt\":\(o.salt.decimalString),\"maker\":\"\(o.maker.checksummed)\""
            out += ",\"signer\":\"\(o.signer.checksummed)\",\"tokenId\":\"\(o.tokenId.decimalString)\""
            out +=
                ",\"makerAmount\":\"\(o.makerAmount.decimalString)\",\"takerAmount\":\"\(o.takerAmount.decimalString)\""
            out += ",\"side\":\"\(o.side.text)\",\"expiration\":\"\(o.expiration.decimalString)\""
            out +=
                ",\"signatureType\":\(o.signatureType.rawValue),\"timestamp\":\"\(o.timestamp.decimalString)\""
            out += ",\"metadata\":\"\(o.metadata.hex)\",\"builder\":\"\(o.builder.hex)\""
            out += ",\"signature\":\"\(signed.signatureHex)\"}"
        case .v1(let o):
            out += "{\"salt\":\(o.salt.decimalString),\"maker\":\"\(o.maker.checksummed)\""
            out += ",\"signer\":\"\(o.signer.checksummed)\",\"taker\":\"\(o.taker.checksummed)\""
            out += ",\"tokenId\":\"\(o.tokenId.decimalString)\""
            out +=
                ",\"makerAmount\":\"\(o.makerAmount.decimalString)\",\"takerAmount\":\"\(o.takerAmount.decimalString)\""
            out += ",\"side\":\"\(o.side.text)\",\"expiration\":\"\(o.expiration.decimalString)\""
            out += ",\"nonce\":\"\(o.nonce.decimalString)\",\"feeRateBps\":\"\(o.feeRateBps.decimalString)\""
            out += ",\"signatureType\":\(o.signatureType.rawValue),\"signature\":\"\(signed.signatureHex)\"}"
        }
    }

    /// A JSON string as Python's `json.dumps(ensure_ascii=False)` writes it.
    static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// One price level of an order book.
public struct BookLevel: Hashable, Sendable {
    public var price: ExactDecimal
    public var size: ExactDecimal

    /// Creates a level.
    public init(price: ExactDecimal, size: ExactDecimal) {
        self.price = price
        self.size = size
    }
}

/// The worst price a market order needs, walking the book as the official client does
/// (`calculate_buy_market_price` / `calculate_sell_market_price`), in exact decimals.
public enum MarketPrice {
    /// Why no price was found.
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// The book side is empty, or (FOK) too thin for the whole amount.
        case noMatch
        public var description: String { "no match: the book cannot fill the order" }
    }

    /// `levels` in the order `GET /book` returns them (best price last). A BUY walks the asks
    /// summing size × price until `amount` collateral is covered; a SELL walks the bids summing
    /// shares until `amount` shares are covered. The level where the sum is reached gives the price.
    /// If it never is: FOK fails with `noMatch`; FAK takes the first (worst) level's price.
    public static func walk(
        levels: [BookLevel], side: Side, amount: ExactDecimal, orderType: OrderType
    )
        throws(Error) -> ExactDecimal
    {
        guard let first = levels.first else { throw .noMatch }
        var total = ExactDecimal(0)
        for level in levels.reversed() {
            total = total + (side == .buy ? level.size * level.price : level.size)
            if total >= amount { return level.price }
        }
        if orderType == .fok { throw .noMatch }
        return first.price
    }
}
