import EVM

/// `GET /book` answers read straight from the bytes with ``JSONScanner``: one pass, no
/// intermediate dictionaries or `NSNumber`s, and each level's price and size read in place (no
/// string, no allocation). The book is on the path of every copy (the slippage guard and the paper
/// fill read it), and a busy market's book has hundreds of levels.
///
/// Accepts what the CLOB sends and what `JSONSerialization` accepted before: prices, sizes, tick
/// and minimum sizes as strings or plain numbers; `neg_risk` as a boolean; unknown members
/// skipped; levels missing `price` or `size` are an error.
public enum OrderBookParser {
    /// The book in a `GET /book` answer's body (`status` is the answer's, for errors).
    public static func parse(_ body: [UInt8], tokenID: UInt256, status: Int) throws(ClobError) -> OrderBook {
        let result: Result<OrderBook, ClobError> = body.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            do {
                return .success(try parse(&scanner, tokenID: tokenID, status: status))
            } catch let error as ClobError {
                return .failure(error)
            } catch {
                return .failure(
                    ClobError(
                        kind: .invalidResponse, status: status,
                        message: "the book is not valid JSON: \(error)"))
            }
        }
        return try result.get()
    }

    private static func parse(_ s: inout JSONScanner, tokenID: UInt256, status: Int) throws -> OrderBook {
        guard try s.peekKind() == .object else {
            throw ClobError(
                kind: .invalidResponse, status: status, message: "the answer is not a JSON object")
        }
        try s.beginObject()
        var market = ""
        var bids: [BookLevel] = []
        var asks: [BookLevel] = []
        var tick: TickSize?
        var minimum = ExactDecimal(0)
        var negRisk = false
        var hash: String?
        var timestamp: String?
        while let key = try s.nextKey() {
            if s.equals(key, "bids") {
                bids = try levels(&s)
            } else if s.equals(key, "asks") {
                asks = try levels(&s)
            } else if s.equals(key, "market") {
                market = try text(&s) ?? ""
            } else if s.equals(key, "tick_size") {
                tick = try text(&s).flatMap { TickSize(text: $0) }
            } else if s.equals(key, "min_order_size") {
                minimum = try decimal(&s) ?? ExactDecimal(0)
            } else if s.equals(key, "neg_risk") {
                negRisk =
                    try s.peekKind() == .bool
                    ? s.readBool()
                    : {
                        try s.skipValue(); return false
                    }()
            } else if s.equals(key, "hash") {
                hash = try text(&s)
            } else if s.equals(key, "timestamp") {
                timestamp = try text(&s)
            } else {
                try s.skipValue()
            }
        }
        try s.finish()
        guard let tick else {
            throw ClobError(kind: .invalidResponse, status: status, message: "book has no valid tick_size")
        }
        return OrderBook(
            market: market, tokenID: tokenID, bids: bids, asks: asks,
            parameters: MarketParameters(tickSize: tick, minOrderSize: minimum, negRisk: negRisk), hash: hash,
            timestamp: timestamp)
    }

    /// A string or number as text; nil for anything else (skipped).
    private static func text(_ s: inout JSONScanner) throws -> String? {
        switch try s.peekKind() {
        case .string:
            return try s.readString()
        case .number:
            let range = try s.scanNumber()
            return String(decoding: UnsafeRawBufferPointer(rebasing: s.buffer[range]), as: UTF8.self)
        default:
            try s.skipValue()
            return nil
        }
    }

    /// A string or number as a decimal, read in place; nil for anything else (skipped) or text that
    /// is not plain decimal.
    private static func decimal(_ s: inout JSONScanner) throws -> ExactDecimal? {
        switch try s.peekKind() {
        case .string:
            let token = try s.readStringToken()
            if token.hasEscapes { return ExactDecimal(try s.decodeString(token)) }
            return ExactDecimal(utf8: UnsafeRawBufferPointer(rebasing: s.buffer[token.start..<token.end]))
        case .number:
            return ExactDecimal(utf8: UnsafeRawBufferPointer(rebasing: s.buffer[try s.scanNumber()]))
        default:
            try s.skipValue()
            return nil
        }
    }

    /// `null` or a list of `{"price": …, "size": …}`.
    private static func levels(_ s: inout JSONScanner) throws -> [BookLevel] {
        if try s.peekKind() == .null {
            _ = try s.readNull()
            return []
        }
        guard try s.peekKind() == .array else {
            throw ClobError(kind: .invalidResponse, message: "book levels are not a list of objects")
        }
        try s.beginArray()
        var levels: [BookLevel] = []
        while try s.nextElement() {
            guard try s.peekKind() == .object else {
                throw ClobError(kind: .invalidResponse, message: "book levels are not a list of objects")
            }
            try s.beginObject()
            var price: ExactDecimal?
            var size: ExactDecimal?
            while let key = try s.nextKey() {
                if s.equals(key, "price") {
                    price = try decimal(&s)
                } else if s.equals(key, "size") {
                    size = try decimal(&s)
                } else {
                    try s.skipValue()
                }
            }
            guard let price, let size else {
                throw ClobError(kind: .invalidResponse, message: "a book level has no valid price or size")
            }
            levels.append(BookLevel(price: price, size: size))
        }
        return levels
    }
}
