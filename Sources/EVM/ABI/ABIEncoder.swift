/// Encodes values in the standard ABI layout (heads, then tails of dynamic values).
public enum ABIEncoder {
    /// Encodes `values` as the tuple of `types`, as function arguments and event data are laid out.
    public static func encode(_ values: [ABIValue], as types: [ABIType]) throws(ABIError) -> [UInt8] {
        guard values.count == types.count else { throw .arity(expected: types.count, actual: values.count) }
        var out: [UInt8] = []
        try encodeTuple(values, types, into: &out)
        return out
    }

    /// Encodes one value of `type` on its own (a dynamic value's encoding without the outer offset).
    public static func encodeSingle(_ value: ABIValue, as type: ABIType) throws(ABIError) -> [UInt8] {
        var out: [UInt8] = []
        try encodeValue(value, type, into: &out)
        return out
    }

    private static func encodeTuple(
        _ values: [ABIValue], _ types: [ABIType], into out: inout [UInt8]
    ) throws(ABIError) {
        let headLength = types.reduce(0) { $0 + $1.headSize }
        var heads: [UInt8] = []
        heads.reserveCapacity(headLength)
        var tails: [UInt8] = []
        for (value, type) in zip(values, types) {
            if type.isDynamic {
                appendWord(UInt256(UInt64(headLength + tails.count)).word, to: &heads)
                try encodeValue(value, type, into: &tails)
            } else {
                try encodeValue(value, type, into: &heads)
            }
        }
        out += heads
        out += tails
    }

    private static func appendWord(_ word: Bytes32, to out: inout [UInt8]) {
        word.withUnsafeBytes { out.append(contentsOf: $0) }
    }

    private static func mismatch(_ type: ABIType, _ value: ABIValue) -> ABIError {
        .typeMismatch(type: type.description, value: value.jsonText())
    }

    private static func encodeValue(
        _ value: ABIValue, _ type: ABIType, into out: inout [UInt8]
    ) throws(ABIError) {
        switch (type, value) {
        case (.uint(let bits), .uint(let v)):
            guard v.bitWidth <= bits else { throw mismatch(type, value) }
            appendWord(v.word, to: &out)
        case (.int(let bits), .int(let v)):
            let magnitudeBits = (v.w0 >> 63 == 1 ? ~v : v).bitWidth
            guard magnitudeBits <= bits - 1 else { throw mismatch(type, value) }
            appendWord(v.word, to: &out)
        case (.address, .address(let a)):
            appendWord(a.word, to: &out)
        case (.bool, .bool(let b)):
            appendWord(UInt256(b ? 1 : 0).word, to: &out)
        case (.fixedBytes(let n), .fixedBytes(let bytes)):
            guard bytes.count == n else { throw mismatch(type, value) }
            out += bytes
            out += repeatElement(0, count: 32 - n)
        case (.bytes, .bytes(let bytes)):
            appendByteString(bytes, to: &out)
        case (.string, .string(let text)):
            appendByteString(Array(text.utf8), to: &out)
        case (.fixedArray(let element, let count), .array(let elements)):
            guard elements.count == count else { throw mismatch(type, value) }
            if element.isDynamic {
                try encodeTuple(elements, Array(repeating: element, count: count), into: &out)
            } else {
                for e in elements { try encodeValue(e, element, into: &out) }
            }
        case (.array(let element), .array(let elements)):
            appendWord(UInt256(UInt64(elements.count)).word, to: &out)
            if element.isDynamic {
                try encodeTuple(elements, Array(repeating: element, count: elements.count), into: &out)
            } else {
                for e in elements { try encodeValue(e, element, into: &out) }
            }
        case (.tuple(let components), .tuple(let elements)):
            guard components.count == elements.count else { throw mismatch(type, value) }
            try encodeTuple(elements, components, into: &out)
        default:
            throw mismatch(type, value)
        }
    }

    private static func appendByteString(_ bytes: [UInt8], to out: inout [UInt8]) {
        appendWord(UInt256(UInt64(bytes.count)).word, to: &out)
        out += bytes
        out += repeatElement(0, count: (32 - bytes.count % 32) % 32)
    }
}
