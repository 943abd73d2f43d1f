/// A decoded ABI value, or one to encode.
public enum ABIValue: Hashable, Sendable {
    /// An unsigned integer (`uint<N>`).
    case uint(UInt256)
    /// A signed integer (`int<N>`) as its 256-bit two's-complement bit pattern.
    case int(UInt256)
    case address(Address)
    case bool(Bool)
    /// `bytes<N>`: exactly N bytes.
    case fixedBytes([UInt8])
    /// Dynamic `bytes`.
    case bytes([UInt8])
    case string(String)
    /// The elements of `T[k]` or `T[]`.
    case array([ABIValue])
    /// The components of a tuple.
    case tuple([ABIValue])

    /// A JSON text for the value: integers as decimal strings, bytes as `0x` hex, addresses in
    /// EIP-55 form (lowercase with `checksummedAddresses: false`), arrays and tuples as arrays.
    public func jsonText(checksummedAddresses: Bool = true) -> String {
        var out = ""
        writeJSON(to: &out, checksummedAddresses: checksummedAddresses)
        return out
    }

    /// Appends ``jsonText(checksummedAddresses:)`` to `out`.
    public func writeJSON(to out: inout String, checksummedAddresses: Bool = true) {
        switch self {
        case .uint(let v): out += "\"\(v.decimalString)\""
        case .int(let v): out += "\"\(v.signedDecimalString)\""
        case .address(let a): out += "\"\(checksummedAddresses ? a.checksummed : a.lowercased)\""
        case .bool(let b): out += b ? "true" : "false"
        case .fixedBytes(let b), .bytes(let b): out += "\"\(Hex.encode(b))\""
        case .string(let s): JSONString.write(s, to: &out)
        case .array(let elements), .tuple(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                element.writeJSON(to: &out, checksummedAddresses: checksummedAddresses)
            }
            out += "]"
        }
    }
}

/// JSON string escaping.
public enum JSONString {
    /// Appends `string` as a quoted, escaped JSON string.
    public static func write(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `string` as a quoted, escaped JSON string.
    public static func quoted(_ string: String) -> String {
        var out = ""
        write(string, to: &out)
        return out
    }
}
