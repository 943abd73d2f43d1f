import EVM

/// Builds the devnet's JSON output by appending to a string: quantities as minimal `0x` hex,
/// data and hashes as lowercase `0x` hex, in the field order geth uses.
public enum JSONWriter {
    /// Appends `string` quoted and escaped.
    public static func string(_ string: String, to out: inout String) {
        JSONString.write(string, to: &out)
    }

    /// `0x` and the minimal hex digits of `value` (`0x0` for zero), as JSON-RPC writes quantities.
    public static func quantity(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// Appends a quoted quantity.
    static func quantity(_ value: UInt64, to out: inout String) {
        out += "\""
        out += quantity(value)
        out += "\""
    }

    static func hash(_ value: Bytes32, to out: inout String) {
        out += "\""
        out += value.hex
        out += "\""
    }

    static func address(_ value: Address, to out: inout String) {
        out += "\""
        out += value.lowercased
        out += "\""
    }

    /// A log as `eth_getLogs` and `logs` notifications carry it.
    public static func log(_ log: EthLog) -> String {
        var out = ""
        out.reserveCapacity(400 + 2 * log.data.count + 70 * log.topics.count)
        write(log, to: &out)
        return out
    }

    /// Appends a log object.
    public static func write(_ log: EthLog, to out: inout String) {
        out += "{\"address\":"
        address(log.address, to: &out)
        out += ",\"topics\":["
        for (i, topic) in log.topics.enumerated() {
            if i > 0 { out += "," }
            hash(topic, to: &out)
        }
        out += "],\"data\":\""
        out += Hex.encode(log.data)
        out += "\",\"blockNumber\":"
        quantity(log.blockNumber, to: &out)
        out += ",\"transactionHash\":"
        hash(log.transactionHash, to: &out)
        out += ",\"transactionIndex\":"
        quantity(log.transactionIndex, to: &out)
        out += ",\"blockHash\":"
        hash(log.blockHash, to: &out)
        out += ",\"logIndex\":"
        quantity(log.logIndex, to: &out)
        out += log.removed ? ",\"removed\":true}" : ",\"removed\":false}"
    }

    /// Appends a JSON array of logs.
    public static func write(_ logs: [EthLog], to out: inout String) {
        out += "["
        for (i, log) in logs.enumerated() {
            if i > 0 { out += "," }
            write(log, to: &out)
        }
        out += "]"
    }

    /// The root of an empty trie, quoted.
    private static let emptyTrieRoot =
        "\"0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421\""

    /// A word derived from the block hash, for header fields the devnet does not model.
    private static func derived(_ block: DevnetBlock, _ label: String) -> Bytes32 {
        Keccak256.hash(block.hash.bytes + Array(label.utf8))
    }

    /// Appends a block header as `newHeads` notifications carry it (no transactions).
    public static func writeHeader(_ block: DevnetBlock, to out: inout String) {
        writeHeaderFields(block, to: &out)
        out += "}"
    }

    private static func writeHeaderFields(_ block: DevnetBlock, to out: inout String) {
        let gasUsed = UInt64(block.transactions.count) * 180_000
        out += "{\"parentHash\":"
        hash(block.parentHash, to: &out)
        out += ",\"sha3Uncles\":\"0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347\""
        out += ",\"miner\":\"0x0000000000000000000000000000000000000000\",\"stateRoot\":"
        hash(derived(block, "state"), to: &out)
        out += ",\"transactionsRoot\":"
        if block.transactions.isEmpty {
            out += emptyTrieRoot
        } else {
            hash(derived(block, "transactions"), to: &out)
        }
        out += ",\"receiptsRoot\":"
        if block.transactions.isEmpty {
            out += emptyTrieRoot
        } else {
            hash(derived(block, "receipts"), to: &out)
        }
        out += ",\"logsBloom\":\""
        out += Hex.encode(block.logsBloom)
        out += "\",\"difficulty\":\"0x1\",\"number\":"
        quantity(block.number, to: &out)
        out += ",\"gasLimit\":\"0x1c9c380\",\"gasUsed\":"
        quantity(gasUsed, to: &out)
        out += ",\"timestamp\":"
        quantity(block.timestamp, to: &out)
        out += ",\"extraData\":\"0x\",\"mixHash\":"
        hash(.zero, to: &out)
        out += ",\"nonce\":\"0x0000000000000000\",\"baseFeePerGas\":\"0x6fc23ac00\",\"hash\":"
        hash(block.hash, to: &out)
    }

    /// Appends a block as `eth_getBlockByNumber` returns it: transaction hashes, or whole
    /// transaction objects when `fullTransactions` is true.
    public static func writeBlock(_ block: DevnetBlock, fullTransactions: Bool, to out: inout String) {
        writeHeaderFields(block, to: &out)
        out += ",\"size\":"
        quantity(UInt64(600 + block.logs.count * 400), to: &out)
        out += ",\"totalDifficulty\":"
        quantity(block.number, to: &out)
        out += ",\"uncles\":[],\"transactions\":["
        for (i, tx) in block.transactions.enumerated() {
            if i > 0 { out += "," }
            if fullTransactions {
                out += "{\"blockHash\":"
                hash(block.hash, to: &out)
                out += ",\"blockNumber\":"
                quantity(block.number, to: &out)
                out += ",\"from\":"
                address(tx.from, to: &out)
                out += ",\"gas\":\"0x7a120\",\"gasPrice\":\"0x6fc23ac00\",\"hash\":"
                hash(tx.hash, to: &out)
                out += ",\"input\":\"0x\",\"nonce\":"
                quantity(UInt64(truncatingIfNeeded: tx.hash.w3 >> 40), to: &out)
                out += ",\"to\":"
                address(tx.to, to: &out)
                out += ",\"transactionIndex\":"
                quantity(UInt64(i), to: &out)
                out += ",\"value\":\"0x0\",\"type\":\"0x2\"}"
            } else {
                hash(tx.hash, to: &out)
            }
        }
        out += "]}"
    }
}
