import EVM

/// The 2048-bit bloom filter Ethereum blocks and receipts carry for their logs.
enum LogsBloom {
    /// The bloom of the addresses and topics of `logs` (256 bytes).
    static func of(_ logs: [EthLog]) -> [UInt8] {
        var bloom = [UInt8](repeating: 0, count: 256)
        for log in logs {
            add(Keccak256.hash(log.address.bytes), to: &bloom)
            for topic in log.topics { add(Keccak256.hash(topic), to: &bloom) }
        }
        return bloom
    }

    private static func add(_ hash: Bytes32, to bloom: inout [UInt8]) {
        let bytes = hash.bytes
        for i in stride(from: 0, to: 6, by: 2) {
            let bit = (Int(bytes[i]) << 8 | Int(bytes[i + 1])) & 2047
            bloom[255 - bit / 8] |= 1 << UInt8(bit % 8)
        }
    }

    /// Whether `bloom` may contain `value` (an address's or a topic's bytes).
    static func mayContain(_ bloom: [UInt8], _ value: [UInt8]) -> Bool {
        let bytes = Keccak256.hash(value).bytes
        for i in stride(from: 0, to: 6, by: 2) {
            let bit = (Int(bytes[i]) << 8 | Int(bytes[i + 1])) & 2047
            if bloom[255 - bit / 8] & (1 << UInt8(bit % 8)) == 0 { return false }
        }
        return true
    }
}
