// Compact, exact `Codable` forms of the EVM value types, for storage and JSON: a 256-bit word as
// decimal text, 32 bytes and addresses as `0x` + lowercase hex.

extension UInt256: Codable {
    /// Decodes decimal text (`"12345"`); any value up to 2^256 − 1.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = UInt256(decimal: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a 256-bit decimal: \(text)"))
        }
        self = value
    }

    /// Encodes the ``decimalString``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalString)
    }
}

extension Bytes32: Codable {
    /// Decodes `0x` + 64 hex digits.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Bytes32(hex: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath, debugDescription: "not 32 hex bytes: \(text) (\(error))"))
        }
    }

    /// Encodes ``hex`` (`0x` + 64 lowercase hex digits).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

extension Address: Codable {
    /// Decodes `0x` + 40 hex digits (lowercase, or mixed case with a valid EIP-55 checksum).
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Address(text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an address: \(text) (\(error))"))
        }
    }

    /// Encodes ``lowercased`` (`0x` + 40 lowercase hex digits).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(lowercased)
    }
}
