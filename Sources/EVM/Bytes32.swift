/// 32 bytes: a hash, an event topic or one ABI word.
///
/// Stored as four big-endian 64-bit limbs (`w0` holds bytes 0...7), so comparing and hashing
/// are four integer operations.
public struct Bytes32: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64
    public var w1: UInt64
    public var w2: UInt64
    public var w3: UInt64

    /// Creates a value from its four big-endian limbs.
    @inlinable
    public init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// All zero bytes.
    public static let zero = Bytes32(0, 0, 0, 0)

    /// Reads 32 bytes at `offset` of `buffer`; the caller guarantees they are there.
    @inlinable
    public init(loadingFrom buffer: UnsafeRawBufferPointer, at offset: Int) {
        w0 = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        w1 = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        w2 = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
        w3 = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
    }

    /// Creates a value from exactly 32 bytes.
    @inlinable
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { Bytes32(loadingFrom: $0, at: 0) }
    }

    /// Parses `0x` followed by exactly 64 hex digits.
    public init(hex: String) throws(Hex.Error) {
        let bytes = try Hex.decode(hex)
        guard bytes.count == 32 else { throw .wrongLength(expected: 32, actual: bytes.count) }
        self = bytes.withUnsafeBytes { Bytes32(loadingFrom: $0, at: 0) }
    }

    /// Calls `body` with the 32 bytes in order.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var limbs = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: &limbs) { try body($0) }
    }

    /// Writes the 32 bytes at `offset` of `buffer`.
    @inlinable
    public func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: w0.bigEndian, toByteOffset: offset, as: UInt64.self)
        buffer.storeBytes(of: w1.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        buffer.storeBytes(of: w2.bigEndian, toByteOffset: offset + 16, as: UInt64.self)
        buffer.storeBytes(of: w3.bigEndian, toByteOffset: offset + 24, as: UInt64.self)
    }

    /// The 32 bytes in order.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// `0x` and 64 lowercase hex digits.
    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    public var description: String { hex }

    /// Whether every byte is zero.
    @inlinable
    public var isZero: Bool { w0 | w1 | w2 | w3 == 0 }

    @inlinable
    public static func < (lhs: Bytes32, rhs: Bytes32) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}
