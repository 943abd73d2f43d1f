/// Why a JSON-RPC log or `eth_subscription` frame was rejected: what, at which byte, in which field.
public struct EthLogParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Hashable, Sendable {
        /// The bytes are not well-formed JSON (or nest too deeply, or end too soon).
        case json(JSONScanError.Kind)
        /// The field holds another kind of JSON value than `expected`.
        case wrongType(expected: String)
        /// A hex value that does not start with `0x`.
        case missingHexPrefix
        /// A character that is not a hex digit inside a hex value (escapes count as such).
        case invalidHexCharacter
        /// A byte string with an odd number of hex digits.
        case oddHexLength(digits: Int)
        /// A fixed-size value (address, hash, topic) of the wrong size.
        case wrongLength(expectedBytes: Int, actualBytes: Int)
        /// A quantity `0x` with no digits.
        case emptyQuantity
        /// A quantity with a leading zero digit (only `0x0` may start with one).
        case quantityLeadingZero
        /// A quantity with more than 16 hex digits (it does not fit in 64 bits).
        case quantityTooLarge
        /// More than four topics.
        case tooManyTopics
        /// A `data` value longer than the configured limit.
        case dataTooLarge(limit: Int)
        /// A required field is absent.
        case missingField
        /// A required field is `null` (as in a pending log).
        case nullField
        /// A field appears twice in the same object.
        case duplicateField
        /// A notification whose `method` is not `eth_subscription`.
        case notASubscription
        /// A `jsonrpc` member other than `"2.0"`.
        case unsupportedJSONRPCVersion
        /// One object with both log fields and notification fields (`jsonrpc`, `method`, `params`).
        case ambiguousShape
    }

    /// What was wrong.
    public var reason: Reason
    /// Byte offset in the input where the problem was found.
    public var offset: Int
    /// The field concerned, as a path (`"topics[2]"`, `"params.subscription"`), if any.
    public var field: String?

    /// Creates an error.
    public init(_ reason: Reason, at offset: Int, field: String? = nil) {
        self.reason = reason
        self.offset = offset
        self.field = field
    }

    /// The field, what was wrong and at which byte, for logs and error lines.
    public var description: String {
        let what: String
        switch reason {
        case .json(let kind):
            what = JSONScanError(kind, at: offset).description.replacingSuffix(" at byte \(offset)")
        case .wrongType(let expected): what = "expected \(expected)"
        case .missingHexPrefix: what = "hex value must start with 0x"
        case .invalidHexCharacter: what = "invalid hex character"
        case .oddHexLength(let digits): what = "odd number of hex digits (\(digits))"
        case .wrongLength(let expected, let actual): what = "expected \(expected) bytes, got \(actual)"
        case .emptyQuantity: what = "quantity has no digits"
        case .quantityLeadingZero: what = "quantity has leading zeros"
        case .quantityTooLarge: what = "quantity does not fit in 64 bits"
        case .tooManyTopics: what = "more than 4 topics"
        case .dataTooLarge(let limit): what = "data longer than \(limit) bytes"
        case .missingField: what = "missing required field"
        case .nullField: what = "required field is null (pending log?)"
        case .duplicateField: what = "duplicate field"
        case .notASubscription: what = "method is not eth_subscription"
        case .unsupportedJSONRPCVersion: what = "jsonrpc is not \"2.0\""
        case .ambiguousShape: what = "object mixes log fields with notification fields"
        }
        if let field { return "\(field): \(what) at byte \(offset)" }
        return "\(what) at byte \(offset)"
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
