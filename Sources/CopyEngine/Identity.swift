import EVM
import Polymarket

/// The identity of one trade of a followed wallet: an opaque 32-byte value, stable across a
/// re-inclusion of the transaction in another block (the listener's log identity).
///
/// The engine never looks inside; it only keys decisions, intents and fills by it.
public struct TradeIdentity: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes.
    public var bytes: Bytes32

    /// Wraps 32 bytes.
    public init(_ bytes: Bytes32) { self.bytes = bytes }

    /// `0x` + 64 hex digits.
    public var description: String { bytes.hex }

    public static func < (lhs: TradeIdentity, rhs: TradeIdentity) -> Bool { lhs.bytes < rhs.bytes }
}

/// The account a decision is made for (one user account on the exchange). Single-account
/// configurations use ``default``.
public struct AccountID: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The account's configured name.
    public var name: String

    /// Creates an account id.
    public init(_ name: String) { self.name = name }

    /// Creates an account id from a literal.
    public init(stringLiteral value: String) { self.name = value }

    /// The account of single-account configurations.
    public static let `default` = AccountID("default")

    public var description: String { name }

    public static func < (lhs: AccountID, rhs: AccountID) -> Bool { lhs.name < rhs.name }
}

/// What every decision, intent and fill is keyed by: one trade, for one account. Each key gets
/// exactly one decision.
public struct DecisionKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var account: AccountID
    public var identity: TradeIdentity

    /// Creates a key.
    public init(account: AccountID, identity: TradeIdentity) {
        self.account = account
        self.identity = identity
    }

    public var description: String { "\(account.name)/\(identity.bytes.hex)" }

    public static func < (lhs: DecisionKey, rhs: DecisionKey) -> Bool {
        (lhs.account, lhs.identity) < (rhs.account, rhs.identity)
    }
}

/// A market: the condition id that its outcome tokens belong to.
public struct MarketID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The condition id.
    public var condition: Bytes32

    /// Wraps a condition id.
    public init(_ condition: Bytes32) { self.condition = condition }

    public var description: String { condition.hex }

    /// A short form for explanations: `0x1234…abcd`.
    public var short: String {
        let hex = condition.hex
        return String(hex.prefix(6)) + "…" + String(hex.suffix(4))
    }

    public static func < (lhs: MarketID, rhs: MarketID) -> Bool { lhs.condition < rhs.condition }
}

extension UInt256 {
    /// A short decimal form of a token id for explanations: `7123…4567` (full when short).
    public var shortToken: String {
        let text = decimalString
        guard text.count > 12 else { return text }
        return String(text.prefix(4)) + "…" + String(text.suffix(4))
    }
}

/// Milliseconds since 1970 (UTC).
public struct UnixTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a time from milliseconds.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Creates a time from whole seconds.
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    /// Whole seconds since 1970.
    public var seconds: Int64 { milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000 }

    /// The UTC day this instant falls in.
    public var utcDay: UTCDay {
        UTCDay(daysSinceEpoch: Int32(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400))
    }

    /// This time plus `seconds`.
    public func adding(seconds: Int64) -> UnixTime { UnixTime(milliseconds: milliseconds + seconds * 1000) }

    /// This time plus `milliseconds`.
    public func adding(milliseconds: Int64) -> UnixTime {
        UnixTime(milliseconds: self.milliseconds + milliseconds)
    }

    public var description: String { "\(milliseconds)ms" }

    public static func < (lhs: UnixTime, rhs: UnixTime) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// A UTC calendar day, as days since 1970-01-01.
public struct UTCDay: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int32

    /// Creates a day.
    public init(daysSinceEpoch: Int32) { self.daysSinceEpoch = daysSinceEpoch }

    /// `YYYY-MM-DD` (proleptic Gregorian).
    public var description: String {
        // Howard Hinnant's civil_from_days.
        let z = Int64(daysSinceEpoch) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    public static func < (lhs: UTCDay, rhs: UTCDay) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }
}

/// Where the engine reads the time. Injected everywhere so tests control it.
public protocol WallClock: Sendable {
    /// The current time.
    func now() -> UnixTime
}

/// The system clock.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current time from the system's real-time clock.
    public func now() -> UnixTime { UnixTime(milliseconds: Int64(OrderBuilder.nowMilliseconds())) }
}
