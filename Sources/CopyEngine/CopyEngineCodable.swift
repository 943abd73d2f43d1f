import EVM
import Polymarket

// Compact, exact `Codable` forms of the engine's value types, for storage. Identifiers encode as
// their text (`0x` hex, account names), times as integers, amounts as six-decimal text (``Fixed6``).
// The structs and enums with several members synthesize theirs next to their declarations.

extension TradeIdentity: Codable {
    /// Decodes `0x` + 64 hex digits.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(Bytes32.self))
    }

    /// Encodes `0x` + 64 hex digits.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

extension AccountID: Codable {
    /// Decodes the account's name.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the account's name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

extension MarketID: Codable {
    /// Decodes the condition id (`0x` + 64 hex digits).
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(Bytes32.self))
    }

    /// Encodes the condition id (`0x` + 64 hex digits).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(condition)
    }
}

extension UnixTime: Codable {
    /// Decodes milliseconds since 1970.
    public init(from decoder: any Decoder) throws {
        self.init(milliseconds: try decoder.singleValueContainer().decode(Int64.self))
    }

    /// Encodes milliseconds since 1970.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(milliseconds)
    }
}

extension UTCDay: Codable {
    /// Decodes days since 1970-01-01.
    public init(from decoder: any Decoder) throws {
        self.init(daysSinceEpoch: try decoder.singleValueContainer().decode(Int32.self))
    }

    /// Encodes days since 1970-01-01.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(daysSinceEpoch)
    }
}

extension DecisionKey: Codable {
    private enum CodingKeys: String, CodingKey {
        case account
        case identity
    }

    /// Decodes `{"account": name, "identity": 0x…}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            account: try container.decode(AccountID.self, forKey: .account),
            identity: try container.decode(TradeIdentity.self, forKey: .identity))
    }

    /// Encodes `{"account": name, "identity": 0x…}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(account, forKey: .account)
        try container.encode(identity, forKey: .identity)
    }
}

extension Ledger: Codable {
    private enum CodingKeys: String, CodingKey {
        case cash
        case positions
        case marks
        case realised
        case fees
        case day
        case dayRealised
        case dayStartUnrealised
    }

    /// One position, keyed by its token (a JSON object cannot be keyed by a 256-bit number).
    private struct PositionEntry: Codable {
        var token: UInt256
        var position: Position
    }

    /// One mark, keyed by its token.
    private struct MarkEntry: Codable {
        var token: UInt256
        var price: Fixed6
    }

    /// Decodes a ledger; positions and marks are lists of entries.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var positions: [UInt256: Position] = [:]
        for entry in try container.decode([PositionEntry].self, forKey: .positions) {
            positions[entry.token] = entry.position
        }
        var marks: [UInt256: Fixed6] = [:]
        for entry in try container.decode([MarkEntry].self, forKey: .marks) {
            marks[entry.token] = entry.price
        }
        self.init(
            cash: try container.decode(Fixed6.self, forKey: .cash), positions: positions, marks: marks,
            realised: try container.decode(Fixed6.self, forKey: .realised),
            fees: try container.decode(Fixed6.self, forKey: .fees),
            day: try container.decode(UTCDay.self, forKey: .day),
            dayRealised: try container.decode(Fixed6.self, forKey: .dayRealised),
            dayStartUnrealised: try container.decode(Fixed6.self, forKey: .dayStartUnrealised))
    }

    /// Encodes a ledger; positions and marks as lists of entries in token order (stable text).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cash, forKey: .cash)
        try container.encode(
            positions.sorted { $0.key < $1.key }.map { PositionEntry(token: $0.key, position: $0.value) },
            forKey: .positions)
        try container.encode(
            marks.sorted { $0.key < $1.key }.map { MarkEntry(token: $0.key, price: $0.value) }, forKey: .marks
        )
        try container.encode(realised, forKey: .realised)
        try container.encode(fees, forKey: .fees)
        try container.encode(day, forKey: .day)
        try container.encode(dayRealised, forKey: .dayRealised)
        try container.encode(dayStartUnrealised, forKey: .dayStartUnrealised)
    }
}
