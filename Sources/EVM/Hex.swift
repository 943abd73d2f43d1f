/// Hexadecimal encoding and decoding of byte strings, as Ethereum's JSON-RPC writes them.
public enum Hex {
    /// Why a hex string could not be decoded.
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A character outside `0-9a-fA-F` at this offset of the string.
        case invalidCharacter(offset: Int)
        /// Byte strings need an even number of digits.
        case oddLength(Int)
        /// A fixed-size value of this many bytes was expected.
        case wrongLength(expected: Int, actual: Int)
        /// A `0x` prefix was required.
        case missingPrefix
        /// A quantity with no digits, leading zeros, or more than 256 bits.
        case invalidQuantity(String)

        public var description: String {
            switch self {
            case .invalidCharacter(let offset): "invalid hex character at offset \(offset)"
            case .oddLength(let n): "hex string has an odd number of digits (\(n))"
            case .wrongLength(let expected, let actual): "expected \(expected) bytes of hex, got \(actual)"
            case .missingPrefix: "hex string must start with 0x"
            case .invalidQuantity(let s): "invalid hex quantity '\(s.prefix(80))'"
            }
        }
    }

    /// The value of an ASCII hex digit, or 0xFF.
    @inlinable
    public static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c &- UInt8(ascii: "A") &+ 10
        default: 0xFF
        }
    }

    /// The lowercase ASCII hex digit of a nibble (0...15): the inverse of ``nibble(_:)``.
    @inlinable
    public static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ nibble &- 10
    }

    /// Writes two lowercase hex digits per byte of `bytes` (no prefix) at the start of `out`, which
    /// holds at least twice as many bytes: for text made in place.
    @inlinable
    public static func write(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) {
        precondition(out.count >= 2 * bytes.count, "no room for the hex digits")
        var o = out.startIndex
        for b in bytes {
            out[o] = digit(b >> 4)
            out[o + 1] = digit(b & 0x0F)
            o += 2
        }
    }

    /// Decodes hex digits (an optional `0x` prefix is skipped) into bytes.
    @inlinable
    public static func decode(_ utf8: UnsafeRawBufferPointer) throws(Hex.Error) -> [UInt8] {
        var start = 0
        if utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] | 0x20 == UInt8(ascii: "x") { start = 2 }
        let digitCount = utf8.count - start
        guard digitCount % 2 == 0 else { throw .oddLength(digitCount) }
        var failure: Int? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: digitCount / 2) { out, initialized in
            var i = start
            var o = 0
            while i < utf8.count {
                let hi = nibble(utf8[i])
                let lo = nibble(utf8[i + 1])
                if hi | lo == 0xFF || hi > 15 || lo > 15 {
                    failure = hi > 15 ? i : i + 1
                    break
                }
                out[o] = hi << 4 | lo
                o += 1
                i += 2
            }
            initialized = o
        }
        if let failure { throw .invalidCharacter(offset: failure) }
        return bytes
    }

    /// Decodes a hex string (an optional `0x` prefix is skipped) into bytes.
    @inlinable
    public static func decode(_ string: String) throws(Hex.Error) -> [UInt8] {
        var string = string
        let result: Result<[UInt8], Hex.Error> = string.withUTF8 { buffer in
            do throws(Hex.Error) { return .success(try decode(UnsafeRawBufferPointer(buffer))) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Encodes bytes as lowercase hex with a `0x` prefix.
    @inlinable
    public static func encode(_ bytes: UnsafeRawBufferPointer, prefix: Bool = true) -> String {
        let length = bytes.count * 2 + (prefix ? 2 : 0)
        return String(unsafeUninitializedCapacity: length) { out in
            if prefix {
                out[0] = UInt8(ascii: "0")
                out[1] = UInt8(ascii: "x")
            }
            write(bytes, into: UnsafeMutableBufferPointer(rebasing: out[(prefix ? 2 : 0)...]))
            return length
        }
    }

    /// Encodes bytes as lowercase hex with a `0x` prefix.
    @inlinable
    public static func encode(_ bytes: [UInt8], prefix: Bool = true) -> String {
        bytes.withUnsafeBytes { encode($0, prefix: prefix) }
    }

    /// Encodes bytes as lowercase hex with a `0x` prefix.
    @inlinable
    public static func encode(_ bytes: ArraySlice<UInt8>, prefix: Bool = true) -> String {
        bytes.withUnsafeBytes { encode($0, prefix: prefix) }
    }
}
