import EVM

/// The `POST /order` JSON body, byte for byte as the official client writes it
/// (`json.dumps(…, separators=(",", ":"), ensure_ascii=False)` of `order_to_json_v1/v2`).
///
/// Key order: `order` {V2: salt, maker, signer, tokenId, makerAmount, takerAmount, side, expiration,
/// signatureType, timestamp, metadata, builder, signature}, `owner`, `orderType`, `deferExec`, `postOnly`.
/// `salt` and `signatureType` are JSON numbers; amounts, ids and times are strings.
///
/// The body is written as bytes into one buffer (digits, hex and checksums in place, with no
/// string per field): it is made on the way from a stored intent to its `POST /order`.
public enum OrderBody {
    /// The body for one signed order. Throws for post-only FOK/FAK orders, as the client does.
    public static func json(
        _ signed: SignedOrder, owner: String, orderType: OrderType, postOnly: Bool = false,
        deferExec: Bool = false
    ) throws(OrderError) -> String {
        String(
            decoding: try bytes(
                signed, owner: owner, orderType: orderType, postOnly: postOnly, deferExec: deferExec),
            as: UTF8.self)
    }

    /// ``json(_:owner:orderType:postOnly:deferExec:)`` as the UTF-8 bytes sent.
    public static func bytes(
        _ signed: SignedOrder, owner: String, orderType: OrderType, postOnly: Bool = false,
        deferExec: Bool = false
    ) throws(OrderError) -> [UInt8] {
        if postOnly, orderType == .fok || orderType == .fak { throw .postOnlyNotAllowed(orderType) }
        var out = JSONBytes(capacity: 1_024 + owner.utf8.count)
        out.raw("{\"order\":")
        orderObject(signed, into: &out)
        out.raw(",\"owner\":")
        out.string(owner)
        out.raw(",\"orderType\":\"")
        out.append(orderType.rawValue)
        out.raw("\",\"deferExec\":")
        out.raw(deferExec ? "true" : "false")
        out.raw(",\"postOnly\":")
        out.raw(postOnly ? "true" : "false")
        out.raw("}")
        return out.bytes
    }

    /// The `order` object alone.
    static func orderObject(_ signed: SignedOrder, into out: inout JSONBytes) {
        switch signed.payload {
        case .v2(let o):
            parties(salt: o.salt, maker: o.maker, signer: o.signer, taker: nil, into: &out)
            trade(
                tokenId: o.tokenId, makerAmount: o.makerAmount, takerAmount: o.takerAmount, side: o.side,
                expiration: o.expiration, into: &out)
            out.field("signatureType", number: UInt64(o.signatureType.rawValue))
            out.field("timestamp", decimal: o.timestamp)
            out.field("metadata", hex: o.metadata)
            out.field("builder", hex: o.builder)
        case .v1(let o):
            parties(salt: o.salt, maker: o.maker, signer: o.signer, taker: o.taker, into: &out)
            trade(
                tokenId: o.tokenId, makerAmount: o.makerAmount, takerAmount: o.takerAmount, side: o.side,
                expiration: o.expiration, into: &out)
            out.field("nonce", decimal: o.nonce)
            out.field("feeRateBps", decimal: o.feeRateBps)
            out.field("signatureType", number: UInt64(o.signatureType.rawValue))
        }
        out.key("signature")
        out.quoted { out in signed.signature.withUnsafeBytes { out.hex($0) } }
        out.raw("}")
    }

    /// `{"salt":…,"maker":"…","signer":"…"` and, for V1, `,"taker":"…"`. The signer is usually
    /// the maker: its checksum (a Keccak-256) is then copied, not made again.
    private static func parties(
        salt: UInt256, maker: Address, signer: Address, taker: Address?, into out: inout JSONBytes
    ) {
        out.raw("{\"salt\":")
        out.decimal(salt)
        out.key("maker")
        let makerAt = out.count + 1
        out.quoted { $0.checksummed(maker) }
        out.key("signer")
        out.quoted { signer == maker ? $0.copy(from: makerAt, count: 42) : $0.checksummed(signer) }
        if let taker {
            out.key("taker")
            out.quoted { $0.checksummed(taker) }
        }
    }

    /// `,"tokenId":"…","makerAmount":"…","takerAmount":"…","side":"…","expiration":"…"`.
    private static func trade(
        tokenId: UInt256, makerAmount: UInt256, takerAmount: UInt256, side: Side, expiration: UInt256,
        into out: inout JSONBytes
    ) {
        out.field("tokenId", decimal: tokenId)
        out.field("makerAmount", decimal: makerAmount)
        out.field("takerAmount", decimal: takerAmount)
        out.key("side")
        out.quoted { $0.raw(side == .buy ? "BUY" : "SELL") }
        out.field("expiration", decimal: expiration)
    }

    /// A JSON string as Python's `json.dumps(ensure_ascii=False)` writes it.
    static func appendString(_ text: String, to out: inout String) {
        var bytes = JSONBytes(capacity: text.utf8.count + 2)
        bytes.string(text)
        out += String(decoding: bytes.bytes, as: UTF8.self)
    }
}

/// JSON written as UTF-8 bytes into one growing buffer.
struct JSONBytes {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// `,"key":` (keys need no escaping).
    mutating func key(_ name: StaticString) {
        raw(",\"")
        raw(name)
        raw("\":")
    }

    /// What `body` writes, in quotes (a value that needs no escaping).
    mutating func quoted(_ body: (inout JSONBytes) -> Void) {
        bytes.append(UInt8(ascii: "\""))
        body(&self)
        bytes.append(UInt8(ascii: "\""))
    }

    /// `,"key":"digits"`: an integer as a JSON string.
    mutating func field(_ name: StaticString, decimal value: UInt256) {
        key(name)
        quoted { $0.decimal(value) }
    }

    /// `,"key":digits`: an integer as a JSON number.
    mutating func field(_ name: StaticString, number value: UInt64) {
        key(name)
        decimal(value)
    }

    /// `,"key":"0x…"`.
    mutating func field(_ name: StaticString, hex value: Bytes32) {
        key(name)
        quoted { out in value.withUnsafeBytes { out.hex($0) } }
    }

    /// How many bytes are written.
    var count: Int { bytes.count }

    /// Appends again the `count` bytes written from `start`.
    mutating func copy(from start: Int, count: Int) {
        // Through a temporary: a slice of the buffer would share it, and the append would copy it all.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { copied in
            for i in 0..<count { copied[i] = bytes[start + i] }
            bytes.append(contentsOf: UnsafeBufferPointer(copied))
        }
    }

    /// Text that needs no escaping.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text that needs no escaping.
    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Decimal digits.
    mutating func decimal(_ value: UInt256) {
        if let small = value.uint64 {
            decimal(small)
        } else {
            bytes.append(contentsOf: value.decimalString.utf8)
        }
    }

    /// Decimal digits.
    mutating func decimal(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// `0x` and two lowercase hex digits per byte.
    mutating func hex(_ data: UnsafeRawBufferPointer) {
        raw("0x")
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 2 * data.count))
        bytes.withUnsafeMutableBufferPointer {
            Hex.write(data, into: UnsafeMutableBufferPointer(rebasing: $0[start...]))
        }
    }

    /// The EIP-55 form of an address.
    mutating func checksummed(_ address: Address) {
        address.withChecksummedUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A JSON string as Python's `json.dumps(ensure_ascii=False)` writes it: `"` and `\\`
    /// escaped, control characters by name or as `\u00xx`, everything else as it is (a byte of a
    /// multi-byte character is never below 0x80, so the bytes can be read one by one).
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case ..<0x20:
                raw("\\u00")
                bytes.append(Hex.digit(byte >> 4))
                bytes.append(Hex.digit(byte & 0x0F))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
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
