/// One member of an EIP-712 struct type: `type name`.
public struct EIP712Field: Hashable, Sendable {
    /// The member name.
    public var name: String
    /// The member type as written in the type string: `uint256`, `address`, `Person[]`, …
    public var type: String

    /// Creates a member.
    public init(name: String, type: String) {
        self.name = name
        self.type = type
    }
}

/// A value of EIP-712 typed data.
public indirect enum EIP712Value: Hashable, Sendable {
    /// A `uintN` value.
    case uint(UInt256)
    /// An `intN` value as its 256-bit two's-complement bit pattern (see `UInt256(signedDecimal:)`).
    case int(UInt256)
    /// An `address`.
    case address(Address)
    /// A `bool`.
    case bool(Bool)
    /// A `bytesN` value (1 ≤ N ≤ 32), exactly N bytes.
    case fixedBytes([UInt8])
    /// A dynamic `bytes` value (hashed when encoded).
    case bytes([UInt8])
    /// A `string` (its UTF-8 bytes are hashed when encoded).
    case string(String)
    /// A `T[]` or `T[k]` value.
    case array([EIP712Value])
    /// A struct value: member name → value.
    case `struct`([String: EIP712Value])
}

/// Why typed data could not be encoded.
public enum EIP712Error: Error, Equatable, Sendable, CustomStringConvertible {
    /// A type name that is neither atomic, dynamic, an array nor a defined struct.
    case unknownType(String)
    /// A member the struct type declares is absent from the value.
    case missingField(type: String, field: String)
    /// The value does not have the member's type.
    case typeMismatch(field: String, expected: String)
    /// A number does not fit its `uintN`/`intN`, or `bytesN` has the wrong length.
    case outOfRange(field: String, type: String)
    /// A fixed-size array with the wrong number of elements.
    case wrongArrayLength(field: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .unknownType(let t): "EIP-712: unknown type '\(t)'"
        case .missingField(let t, let f): "EIP-712: \(t) value has no member '\(f)'"
        case .typeMismatch(let f, let e): "EIP-712: member '\(f)' is not a \(e)"
        case .outOfRange(let f, let t): "EIP-712: member '\(f)' does not fit \(t)"
        case .wrongArrayLength(let f, let e, let a): "EIP-712: member '\(f)' needs \(e) elements, has \(a)"
        }
    }
}

/// The parsed form of a member type.
indirect enum EIP712FieldType: Equatable, Sendable {
    case uint(bits: Int)
    case int(bits: Int)
    case address
    case bool
    case fixedBytes(Int)
    case bytes
    case string
    case `struct`(String)
    case array(EIP712FieldType, length: Int?)

    /// The struct name at the bottom of (possibly nested) array types.
    var structName: String? {
        switch self {
        case .struct(let name): name
        case .array(let element, _): element.structName
        default: nil
        }
    }
}

/// A set of EIP-712 struct types, by name: the `types` object of `eth_signTypedData_v4`
/// (without `EIP712Domain`, which ``EIP712Domain`` supplies).
public struct EIP712Types: Hashable, Sendable {
    /// Struct name → members in declaration order.
    public var structs: [String: [EIP712Field]]

    /// Creates a type set.
    public init(_ structs: [String: [EIP712Field]]) {
        self.structs = structs
    }

    func parse(_ type: String) throws(EIP712Error) -> EIP712FieldType {
        if type.hasSuffix("]") {
            guard let open = type.lastIndex(of: "[") else { throw .unknownType(type) }
            let inner = String(type[..<open])
            let digits = type[type.index(after: open)..<type.index(before: type.endIndex)]
            if digits.isEmpty { return .array(try parse(inner), length: nil) }
            guard let length = Int(digits), length >= 0, String(length) == digits else {
                throw .unknownType(type)
            }
            return .array(try parse(inner), length: length)
        }
        switch type {
        case "address": return .address
        case "bool": return .bool
        case "string": return .string
        case "bytes": return .bytes
        default: break
        }
        if structs[type] != nil { return .struct(type) }
        func bits(after prefix: String) -> Int? {
            guard type.hasPrefix(prefix), let n = Int(type.dropFirst(prefix.count)),
                String(n) == type.dropFirst(prefix.count)
            else { return nil }
            return n
        }
        if let n = bits(after: "uint"), n >= 8, n <= 256, n % 8 == 0 { return .uint(bits: n) }
        if let n = bits(after: "int"), n >= 8, n <= 256, n % 8 == 0 { return .int(bits: n) }
        if let n = bits(after: "bytes"), n >= 1, n <= 32 { return .fixedBytes(n) }
        throw .unknownType(type)
    }

    /// The struct types `primary` refers to, directly or not, excluding itself, sorted by name.
    func dependencies(of primary: String) throws(EIP712Error) -> [String] {
        var found: Set<String> = []
        var pending = [primary]
        while let name = pending.popLast() {
            guard let fields = structs[name] else { throw .unknownType(name) }
            for field in fields {
                if let child = try parse(field.type).structName, child != primary, !found.contains(child) {
                    found.insert(child)
                    pending.append(child)
                }
            }
        }
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// `encodeType`: `Name(type1 name1,…)` followed by every referenced struct type, sorted by name.
    public func encodeType(_ primary: String) throws(EIP712Error) -> String {
        func one(_ name: String) throws(EIP712Error) -> String {
            guard let fields = structs[name] else { throw .unknownType(name) }
            return name + "(" + fields.map { "\($0.type) \($0.name)" }.joined(separator: ",") + ")"
        }
        var text = try one(primary)
        for dependency in try dependencies(of: primary) { text += try one(dependency) }
        return text
    }

    /// `typeHash` = keccak256(encodeType(type)).
    public func typeHash(_ type: String) throws(EIP712Error) -> Bytes32 {
        Keccak256.hash(utf8: try encodeType(type))
    }

    /// `hashStruct(s)` = keccak256(typeHash ‖ encodeData(s)).
    public func hashStruct(_ type: String, _ value: [String: EIP712Value]) throws(EIP712Error) -> Bytes32 {
        guard let fields = structs[type] else { throw .unknownType(type) }
        var words: [UInt8] = []
        words.reserveCapacity(32 * (fields.count + 1))
        words += try typeHash(type).bytes
        for field in fields {
            guard let member = value[field.name] else { throw .missingField(type: type, field: field.name) }
            words += try encode(member, as: parse(field.type), field: field.name, typeName: field.type).bytes
        }
        return Keccak256.hash(words)
    }

    /// The 32-byte `encodeData` word of one member value.
    func encode(
        _ value: EIP712Value, as type: EIP712FieldType, field: String, typeName: String
    )
        throws(EIP712Error) -> Bytes32
    {
        switch (type, value) {
        case (.uint(let bits), .uint(let n)):
            guard n.bitWidth <= bits else { throw .outOfRange(field: field, type: typeName) }
            return n.word
        case (.int(let bits), .int(let n)):
            // The pattern must be the sign extension of its low `bits` bits.
            let negative = n.w0 >> 63 == 1
            let magnitudeBits = (negative ? ~n : n).bitWidth
            guard magnitudeBits < bits else { throw .outOfRange(field: field, type: typeName) }
            return n.word
        case (.address, .address(let a)):
            return a.word
        case (.bool, .bool(let b)):
            return Bytes32(0, 0, 0, b ? 1 : 0)
        case (.fixedBytes(let count), .fixedBytes(let bytes)):
            guard bytes.count == count else { throw .outOfRange(field: field, type: typeName) }
            return Bytes32(bytes: bytes + [UInt8](repeating: 0, count: 32 - count))!
        case (.bytes, .bytes(let bytes)):
            return Keccak256.hash(bytes)
        case (.string, .string(let s)):
            return Keccak256.hash(utf8: s)
        case (.struct(let name), .struct(let members)):
            return try hashStruct(name, members)
        case (.array(let element, let length), .array(let items)):
            if let length, items.count != length {
                throw .wrongArrayLength(field: field, expected: length, actual: items.count)
            }
            var words: [UInt8] = []
            words.reserveCapacity(32 * items.count)
            for item in items {
                words += try encode(item, as: element, field: field, typeName: typeName).bytes
            }
            return Keccak256.hash(words)
        default:
            throw .typeMismatch(field: field, expected: typeName)
        }
    }
}
