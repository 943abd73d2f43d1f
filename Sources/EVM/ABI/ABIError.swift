/// Why ABI JSON, a type, or encoded ABI data was rejected.
public enum ABIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A type string that is not a supported Solidity type.
    case invalidType(String, reason: String)
    /// ABI JSON that does not have the expected shape.
    case invalidJSON(String)
    /// Data ended before a value at `offset` needing `needed` bytes; the data has `available`.
    case outOfBounds(offset: Int, needed: Int, available: Int)
    /// An offset or length word too large to address any data.
    case offsetTooLarge(at: Int)
    /// An array length whose elements could not fit in the data that is left.
    case lengthTooLarge(at: Int, length: String)
    /// A value whose padding or high bits are not what its type allows (e.g. a `uint8` above 255).
    case invalidValue(type: String, at: Int, reason: String)
    /// A `string` that is not valid UTF-8.
    case invalidUTF8(at: Int)
    /// Decoding would read far more than the data holds (overlapping offsets): refused.
    case decodingBudgetExceeded
    /// A value to encode that does not fit its type.
    case typeMismatch(type: String, value: String)
    /// A log's topics do not fit the event: wrong count or wrong topic0.
    case topicMismatch(String)
    /// A value count different from the parameter count.
    case arity(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .invalidType(let type, let reason): "invalid ABI type '\(type.prefix(120))': \(reason)"
        case .invalidJSON(let reason): "invalid ABI JSON: \(reason)"
        case .outOfBounds(let offset, let needed, let available):
            "data too short: \(needed) bytes needed at offset \(offset), \(available) available"
        case .offsetTooLarge(let at): "offset or length at byte \(at) points outside the data"
        case .lengthTooLarge(let at, let length):
            "array length \(length.prefix(80)) at byte \(at) exceeds the data"
        case .invalidValue(let type, let at, let reason): "invalid \(type) at byte \(at): \(reason)"
        case .invalidUTF8(let at): "string at byte \(at) is not valid UTF-8"
        case .decodingBudgetExceeded: "offsets overlap so much that decoding would exceed its budget"
        case .typeMismatch(let type, let value): "value \(value.prefix(80)) does not fit type \(type)"
        case .topicMismatch(let reason): "topics do not match the event: \(reason)"
        case .arity(let expected, let actual): "expected \(expected) values, got \(actual)"
        }
    }
}
