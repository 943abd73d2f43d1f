/// A Solidity ABI type.
///
/// `description` is the canonical form used in signatures: `uint256`, `bytes32`, `(address,uint8)[]`.
public indirect enum ABIType: Hashable, Sendable, CustomStringConvertible {
    /// `uint<bits>`, bits in 8...256, a multiple of 8.
    case uint(bits: Int)
    /// `int<bits>`, two's complement, bits in 8...256, a multiple of 8.
    case int(bits: Int)
    case address
    case bool
    /// `bytes<count>`, count in 1...32.
    case fixedBytes(Int)
    /// Dynamic `bytes`.
    case bytes
    /// Dynamic UTF-8 `string`.
    case string
    /// `T[count]`, count ≥ 1.
    case fixedArray(ABIType, count: Int)
    /// `T[]`.
    case array(ABIType)
    /// `(T1,T2,...)`, at least one component.
    case tuple([ABIType])

    /// The deepest nesting of arrays and tuples a type may have.
    public static let maximumDepth = 32
    /// The largest fixed array length accepted.
    public static let maximumFixedArrayCount = 1 << 16
    /// The largest encoded size of a static type (nested fixed arrays multiply quickly).
    public static let maximumStaticSize = 1 << 24

    public var description: String {
        switch self {
        case .uint(let bits): "uint\(bits)"
        case .int(let bits): "int\(bits)"
        case .address: "address"
        case .bool: "bool"
        case .fixedBytes(let n): "bytes\(n)"
        case .bytes: "bytes"
        case .string: "string"
        case .fixedArray(let element, let count): "\(element)[\(count)]"
        case .array(let element): "\(element)[]"
        case .tuple(let components): "(" + components.map(\.description).joined(separator: ",") + ")"
        }
    }

    /// Whether the encoding has a variable size (and so sits in the tail behind an offset).
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .array: true
        case .fixedArray(let element, _): element.isDynamic
        case .tuple(let components): components.contains { $0.isDynamic }
        default: false
        }
    }

    /// Bytes the type takes in the head of its enclosing tuple: 32 for dynamic types.
    public var headSize: Int {
        switch self {
        case .fixedArray(let element, let count) where !element.isDynamic: element.headSize * count
        case .tuple(let components) where !isDynamic: components.reduce(0) { $0 + $1.headSize }
        default: 32
        }
    }

    /// Parses a canonical or aliased type string: `uint`, `int`, `uint8[2][]`, `(bool,string)[]`.
    public init(parsing text: String) throws(ABIError) {
        var parser = ABITypeParser(text: Array(text.utf8), original: text)
        let type = try parser.parseType(depth: 0)
        guard parser.position == parser.text.count else {
            throw .invalidType(text, reason: "unexpected text after the type")
        }
        self = type
    }

    /// Builds the type of an ABI JSON parameter: its `type` string with `tuple` resolved from `components`.
    public init(parameterType: String, components: [ABIParameter]?) throws(ABIError) {
        guard parameterType.hasPrefix("tuple") else {
            self = try ABIType(parsing: parameterType)
            return
        }
        guard let components, !components.isEmpty else {
            throw .invalidType(parameterType, reason: "a tuple needs at least one component")
        }
        var resolved: [ABIType] = []
        for component in components { resolved.append(try component.abiType()) }
        let suffix = String(parameterType.dropFirst("tuple".count))
        let canonical = ABIType.tuple(resolved).description + suffix
        self = try ABIType(parsing: canonical)
    }
}

/// A recursive-descent parser for type strings.
struct ABITypeParser {
    let text: [UInt8]
    let original: String
    var position = 0

    init(text: [UInt8], original: String) {
        self.text = text
        self.original = original
    }

    mutating func parseType(depth: Int) throws(ABIError) -> ABIType {
        guard depth <= ABIType.maximumDepth else { throw .invalidType(original, reason: "nested too deeply") }
        var type: ABIType
        if position < text.count, text[position] == UInt8(ascii: "(") {
            position += 1
            var components: [ABIType] = []
            while true {
                components.append(try parseType(depth: depth + 1))
                guard position < text.count else {
                    throw .invalidType(original, reason: "unterminated tuple")
                }
                if text[position] == UInt8(ascii: ",") {
                    position += 1
                } else if text[position] == UInt8(ascii: ")") {
                    position += 1
                    break
                } else {
                    throw .invalidType(original, reason: "expected ',' or ')' at offset \(position)")
                }
            }
            type = .tuple(components)
            guard type.headSize <= ABIType.maximumStaticSize else {
                throw .invalidType(
                    original, reason: "a static value larger than \(ABIType.maximumStaticSize) bytes")
            }
        } else {
            let start = position
            while position < text.count, isIdentifier(text[position]) { position += 1 }
            type = try elementary(String(decoding: text[start..<position], as: UTF8.self))
        }
        var arrayDepth = 0
        while position < text.count, text[position] == UInt8(ascii: "[") {
            arrayDepth += 1
            guard depth + arrayDepth <= ABIType.maximumDepth else {
                throw .invalidType(original, reason: "nested too deeply")
            }
            position += 1
            let start = position
            while position < text.count, text[position] >= UInt8(ascii: "0"),
                text[position] <= UInt8(ascii: "9")
            {
                position += 1
            }
            guard position < text.count, text[position] == UInt8(ascii: "]") else {
                throw .invalidType(original, reason: "expected ']' at offset \(position)")
            }
            let digits = text[start..<position]
            position += 1
            if digits.isEmpty {
                type = .array(type)
            } else {
                guard digits.count <= 6, let count = Int(String(decoding: digits, as: UTF8.self)),
                    count >= 1, count <= ABIType.maximumFixedArrayCount,
                    digits.first != UInt8(ascii: "0")
                else {
                    throw .invalidType(
                        original, reason: "fixed array length must be 1...\(ABIType.maximumFixedArrayCount)")
                }
                type = .fixedArray(type, count: count)
                guard type.headSize <= ABIType.maximumStaticSize else {
                    throw .invalidType(
                        original, reason: "a static value larger than \(ABIType.maximumStaticSize) bytes")
                }
            }
        }
        return type
    }

    private func isIdentifier(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private func elementary(_ name: String) throws(ABIError) -> ABIType {
        switch name {
        case "address": return .address
        case "bool": return .bool
        case "string": return .string
        case "bytes": return .bytes
        case "uint": return .uint(bits: 256)
        case "int": return .int(bits: 256)
        case "": throw .invalidType(original, reason: "missing type name at offset \(position)")
        default: break
        }
        func size(after prefix: String) -> Int? {
            guard name.hasPrefix(prefix) else { return nil }
            let digits = name.dropFirst(prefix.count)
            guard !digits.isEmpty, digits.count <= 3, digits.first != "0" else { return nil }
            return Int(digits)
        }
        if name.hasPrefix("uint") {
            guard let bits = size(after: "uint"), bits % 8 == 0, (8...256).contains(bits) else {
                throw .invalidType(original, reason: "'\(name)': uint size must be 8...256 in steps of 8")
            }
            return .uint(bits: bits)
        }
        if name.hasPrefix("int") {
            guard let bits = size(after: "int"), bits % 8 == 0, (8...256).contains(bits) else {
                throw .invalidType(original, reason: "'\(name)': int size must be 8...256 in steps of 8")
            }
            return .int(bits: bits)
        }
        if name.hasPrefix("bytes") {
            guard let n = size(after: "bytes"), (1...32).contains(n) else {
                throw .invalidType(original, reason: "'\(name)': bytes size must be 1...32")
            }
            return .fixedBytes(n)
        }
        throw .invalidType(original, reason: "unsupported type '\(name)'")
    }
}
