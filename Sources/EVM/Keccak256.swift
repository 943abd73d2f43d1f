/// Ethereum's Keccak-256: Keccak[r=1088, c=512] with the original `0x01` padding.
///
/// This is not NIST SHA3-256, which pads with `0x06`; `keccak256("")` is
/// `c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470`.
public enum Keccak256 {
    /// Bytes absorbed per permutation (1088 bits).
    public static let rate = 136

    /// Hashes the bytes in `buffer`.
    @inlinable
    public static func hash(_ buffer: UnsafeRawBufferPointer) -> Bytes32 {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { lanes in
            let state = lanes.baseAddress!
            state.initialize(repeating: 0, count: 25)
            var offset = 0
            let count = buffer.count
            while count - offset >= rate {
                for i in 0..<17 {
                    state[i] ^= UInt64(
                        littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 8 * i, as: UInt64.self))
                }
                keccakF1600(state)
                offset += rate
            }
            // Final block: the remaining bytes, then 0x01 ... 0x80.
            let remaining = count - offset
            let fullLanes = remaining / 8
            for i in 0..<fullLanes {
                state[i] ^= UInt64(
                    littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 8 * i, as: UInt64.self))
            }
            var last: UInt64 = 0
            let tail = remaining % 8
            for j in 0..<tail {
                last |= UInt64(buffer[offset + 8 * fullLanes + j]) << (8 * j)
            }
            last |= UInt64(0x01) << (8 * tail)
            state[fullLanes] ^= last
            state[16] ^= 0x8000_0000_0000_0000
            keccakF1600(state)
            return Bytes32(
                state[0].byteSwapped,
                state[1].byteSwapped,
                state[2].byteSwapped,
                state[3].byteSwapped
            )
        }
    }

    /// Hashes a byte array.
    @inlinable
    public static func hash(_ bytes: [UInt8]) -> Bytes32 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Hashes any contiguous collection of bytes.
    @inlinable
    public static func hash(_ bytes: ArraySlice<UInt8>) -> Bytes32 {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Hashes the UTF-8 encoding of `string` (for event and type signatures).
    @inlinable
    public static func hash(utf8 string: String) -> Bytes32 {
        var string = string
        return string.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// Hashes a 32-byte word, as EIP-712 and mapping slots do.
    @inlinable
    public static func hash(_ word: Bytes32) -> Bytes32 {
        word.withUnsafeBytes { hash($0) }
    }
}
