import EVM

// Compact, exact `Codable` forms of Polymarket's value types, for storage and JSON: amounts and
// prices as six-decimal text, sides and order types as the CLOB writes them.

extension FixedPoint6: Codable {
    /// Decodes six-decimal text (`"12.345678"`; fewer decimals are accepted).
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parts = SixDecimals.split(text), let units = UInt256(decimal: parts.whole + parts.fraction)
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a six-decimal amount: \(text)"))
        }
        self.init(units: units)
    }

    /// Encodes ``description`` (exactly six decimals).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Price: Codable {
    /// Decodes six-decimal text (`"0.520000"`; fewer decimals are accepted).
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parts = SixDecimals.split(text), let whole = UInt256(decimal: parts.whole),
            let micros = UInt32(parts.fraction)
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a six-decimal price: \(text)"))
        }
        self.init(whole: whole, micros: micros)
    }

    /// Encodes ``description`` (exactly six decimals).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Splits unsigned decimal text with at most six decimals into its whole digits and exactly six
/// fraction digits.
enum SixDecimals {
    static func split(_ text: String) -> (whole: String, fraction: String)? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard !whole.isEmpty, fraction.count <= 6, parts.count == 1 || !fraction.isEmpty,
            fraction.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return (whole, fraction + String(repeating: "0", count: 6 - fraction.count))
    }
}

extension Side: Codable {
    /// Decodes `"BUY"` or `"SELL"`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text {
        case "BUY": self = .buy
        case "SELL": self = .sell
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a side: \(text)"))
        }
    }

    /// Encodes ``text`` (`"BUY"` or `"SELL"`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// Encoded as its raw value (`"0.01"`).
extension TickSize: Codable {}

/// Encoded as its raw value (`"FAK"`).
extension OrderType: Codable {}

/// Encoded as its raw value (0...3).
extension SignatureType: Codable {}

extension SignedOrder: Codable {
    private enum CodingKeys: String, CodingKey {
        case payload
        case signature
        case orderHash
    }

    /// Decodes the payload, the signature as `0x` hex and the order hash.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .signature)
        let signature: [UInt8]
        do {
            signature = try Hex.decode(text)
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .signature, in: container, debugDescription: "bad signature hex (\(error))")
        }
        self.init(
            payload: try container.decode(Payload.self, forKey: .payload), signature: signature,
            orderHash: try container.decode(Bytes32.self, forKey: .orderHash))
    }

    /// Encodes the payload, the signature as `0x` hex and the order hash.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(payload, forKey: .payload)
        try container.encode(signatureHex, forKey: .signature)
        try container.encode(orderHash, forKey: .orderHash)
    }
}
