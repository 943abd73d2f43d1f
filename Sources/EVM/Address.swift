/// A 20-byte Ethereum address.
///
/// Parsing accepts all-lowercase, all-uppercase and EIP-55 mixed-case hex; mixed case must carry
/// a valid checksum. `description` prints the EIP-55 form.
public struct Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes 0...7, 8...15 and 16...19, big-endian.
    public var hi: UInt64
    public var mid: UInt64
    public var lo: UInt32

    /// Creates an address from its three big-endian limbs.
    @inlinable
    public init(hi: UInt64, mid: UInt64, lo: UInt32) {
        self.hi = hi
        self.mid = mid
        self.lo = lo
    }

    /// The zero address.
    public static let zero = Address(hi: 0, mid: 0, lo: 0)

    /// Why a string is not an address.
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case hex(Hex.Error)
        /// Mixed-case hex whose case pattern is not the EIP-55 checksum.
        case badChecksum(String)

        public var description: String {
            switch self {
            case .hex(let e): "invalid address: \(e)"
            case .badChecksum(let s): "address \(s) has mixed case but an invalid EIP-55 checksum"
            }
        }
    }

    /// Reads 20 bytes at `offset` of `buffer`.
    @inlinable
    public init(loadingFrom buffer: UnsafeRawBufferPointer, at offset: Int) {
        hi = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        mid = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        lo = UInt32(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self))
    }

    /// The address in the low 20 bytes of an ABI word, if the 12 high bytes are zero.
    @inlinable
    public init?(word: Bytes32) {
        guard word.w0 == 0, word.w1 >> 32 == 0 else { return nil }
        hi = word.w1 << 32 | word.w2 >> 32
        mid = word.w2 << 32 | word.w3 >> 32
        lo = UInt32(truncatingIfNeeded: word.w3)
    }

    /// The address as an ABI word (left-padded with zeros), as in indexed topics.
    @inlinable
    public var word: Bytes32 {
        Bytes32(0, hi >> 32, hi << 32 | mid >> 32, mid << 32 | UInt64(lo))
    }

    /// Creates an address from exactly 20 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self = Array(bytes).withUnsafeBytes { Address(loadingFrom: $0, at: 0) }
    }

    /// Parses `0x` + 40 hex digits; mixed case must be a valid EIP-55 checksum.
    public init(_ string: String) throws(ParseError) {
        let bytes: [UInt8]
        do { bytes = try Hex.decode(string) } catch { throw .hex(error) }
        guard bytes.count == 20 else { throw .hex(.wrongLength(expected: 20, actual: bytes.count)) }
        let address = bytes.withUnsafeBytes { Address(loadingFrom: $0, at: 0) }
        let digits = string.utf8.dropFirst(string.hasPrefix("0x") || string.hasPrefix("0X") ? 2 : 0)
        let hasLower = digits.contains { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f") }
        let hasUpper = digits.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }
        if hasLower && hasUpper && address.checksummed != "0x" + String(decoding: digits, as: UTF8.self) {
            throw .badChecksum(string)
        }
        self = address
    }

    /// The 20 bytes in order.
    public var bytes: [UInt8] {
        var limbs = (hi.bigEndian, mid.bigEndian, lo.bigEndian)
        return Swift.withUnsafeBytes(of: &limbs) { Array($0.prefix(20)) }
    }

    /// `0x` and 40 lowercase hex digits.
    public var lowercased: String { Hex.encode(bytes) }

    /// The EIP-55 mixed-case checksum form.
    public var checksummed: String { withChecksummedUTF8 { String(decoding: $0, as: UTF8.self) } }

    /// Calls `body` with the UTF-8 bytes of ``checksummed`` (`0x` and 40 digits), made in a
    /// temporary buffer: a request body can take them without a string.
    public func withChecksummedUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 42) { text in
            text[0] = UInt8(ascii: "0")
            text[1] = UInt8(ascii: "x")
            var limbs = (hi.bigEndian, mid.bigEndian, lo.bigEndian)
            let digits = UnsafeMutableBufferPointer(rebasing: text[2...])
            Swift.withUnsafeBytes(of: &limbs) {
                Hex.write(UnsafeRawBufferPointer(rebasing: $0[..<20]), into: digits)
            }
            let hash = Keccak256.hash(UnsafeRawBufferPointer(digits))
            hash.withUnsafeBytes { hash in
                for i in 0..<40 where digits[i] >= UInt8(ascii: "a") {
                    let nibble = i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0x0F
                    if nibble >= 8 { digits[i] -= 32 }
                }
            }
            return try body(UnsafeBufferPointer(text))
        }
    }

    public var description: String { checksummed }

    @inlinable
    public static func < (lhs: Address, rhs: Address) -> Bool {
        (lhs.hi, lhs.mid, lhs.lo) < (rhs.hi, rhs.mid, rhs.lo)
    }
}
