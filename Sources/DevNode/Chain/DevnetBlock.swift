import EVM
import Polymarket

/// One log a transaction emits, before the transaction has a place in a block.
public struct DevnetLogTemplate: Hashable, Sendable {
    /// The emitting contract.
    public var address: Address
    /// topic0 (the event signature hash) first, then the indexed inputs.
    public var topics: [Bytes32]
    /// The ABI-encoded non-indexed inputs.
    public var data: [UInt8]

    /// A log template.
    public init(address: Address, topics: [Bytes32], data: [UInt8]) {
        self.address = address
        self.topics = topics
        self.data = data
    }
}

/// The fields of one `OrderFilled` log as the devnet generated them (the test oracle's truth).
public struct DevnetFillTemplate: Hashable, Sendable {
    /// The exchange contract that emits the fill.
    public var exchange: Address
    /// The exchange's name in the contracts configuration.
    public var exchangeName: String
    /// The filled order's hash (topic1); an order can fill in several transactions.
    public var orderHash: Bytes32
    /// The order's maker: the trader whose fill this is (topic2).
    public var maker: Address
    /// The counterparty: the taker order's maker, or the exchange for the taker order's own fill.
    public var taker: Address
    /// The maker's side: BUY pays collateral for shares, SELL the reverse.
    public var side: TradeSide
    /// The outcome token traded.
    public var tokenId: UInt256
    /// What the maker gave: collateral units on a BUY, share units on a SELL.
    public var makerAmountFilled: UInt64
    /// What the maker received: share units on a BUY, collateral units on a SELL.
    public var takerAmountFilled: UInt64
    /// The fee charged on this fill, in base units.
    public var fee: UInt64
    /// Position of the fill's log among the transaction's logs.
    public var logOffset: Int

    /// Outcome-token units that changed hands.
    public var shares: UInt64 { side == .buy ? takerAmountFilled : makerAmountFilled }
    /// Collateral units that changed hands.
    public var collateral: UInt64 { side == .buy ? makerAmountFilled : takerAmountFilled }
}

/// One simulated transaction: a match of a taker order against maker orders on one exchange.
///
/// A transaction keeps its hash, logs and fills when a reorg re-includes it in another block;
/// only its position (block, transaction index, log indexes) changes.
public struct DevnetTransaction: Hashable, Sendable {
    /// The transaction hash; it survives re-inclusion.
    public var hash: Bytes32
    /// The operator that submitted the match.
    public var from: Address
    /// The exchange called.
    public var to: Address
    /// The logs in emission order.
    public var logs: [DevnetLogTemplate]
    /// The `OrderFilled` logs among `logs`.
    public var fills: [DevnetFillTemplate]
}

/// A block of the simulated chain.
public struct DevnetBlock: Hashable, Sendable {
    /// The block number.
    public var number: UInt64
    /// keccak256 of the parent hash, number, timestamp, a random salt and the transaction hashes.
    public var hash: Bytes32
    /// The hash of the block below.
    public var parentHash: Bytes32
    /// Seconds since the Unix epoch.
    public var timestamp: UInt64
    /// The transactions in order (their index is the position here).
    public var transactions: [DevnetTransaction]
    /// Every log of the block, with its final position, in log index order.
    public var logs: [EthLog]
    /// The 2048-bit bloom filter of the logs' addresses and topics, as in the block header.
    public var logsBloom: [UInt8]

    /// The fills of the block with their positions, in log order.
    public var fills: [DevnetFill] {
        var result: [DevnetFill] = []
        var base = 0
        for tx in transactions {
            for fill in tx.fills {
                let log = logs[base + fill.logOffset]
                result.append(DevnetFill(template: fill, log: log))
            }
            base += tx.logs.count
        }
        return result
    }
}

/// The identity of a fill that survives re-inclusion: the same transaction fills the same order
/// at most once, so (transaction hash, order hash) names one fill wherever the transaction lands.
public struct DevnetFillID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The transaction that filled the order.
    public var transactionHash: Bytes32
    /// The order filled.
    public var orderHash: Bytes32

    /// An identity.
    public init(transactionHash: Bytes32, orderHash: Bytes32) {
        self.transactionHash = transactionHash
        self.orderHash = orderHash
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.transactionHash, lhs.orderHash) < (rhs.transactionHash, rhs.orderHash)
    }

    public var description: String { "\(transactionHash.hex)/\(orderHash.hex)" }
}

/// One fill on the chain: what was generated and where it sits.
public struct DevnetFill: Hashable, Sendable {
    /// The generated fields.
    public var template: DevnetFillTemplate
    /// The block the fill's log is in now.
    public var blockNumber: UInt64
    /// That block's hash.
    public var blockHash: Bytes32
    /// The fill's transaction.
    public var transactionHash: Bytes32
    /// The transaction's position in the block.
    public var transactionIndex: UInt64
    /// The log's position in the block.
    public var logIndex: UInt64

    /// The fill placed at `log`'s position.
    public init(template: DevnetFillTemplate, log: EthLog) {
        self.template = template
        self.blockNumber = log.blockNumber
        self.blockHash = log.blockHash
        self.transactionHash = log.transactionHash
        self.transactionIndex = log.transactionIndex
        self.logIndex = log.logIndex
    }

    /// The identity a listener must deliver exactly once.
    public var id: DevnetFillID {
        DevnetFillID(transactionHash: transactionHash, orderHash: template.orderHash)
    }
    /// The trader.
    public var maker: Address { template.maker }
}

/// A block reference in JSON-RPC terms.
public enum DevnetBlockTag: Hashable, Sendable, CustomStringConvertible {
    case number(UInt64)
    /// The head.
    case latest
    /// The head (the devnet has no pending block).
    case pending
    /// The newest block no reorg can replace: `finalityDepth` below the head.
    case finalized
    /// Same as `finalized` on the devnet.
    case safe
    /// The oldest block the devnet still holds.
    case earliest

    public var description: String {
        switch self {
        case .number(let n): "0x" + String(n, radix: 16)
        case .latest: "latest"
        case .pending: "pending"
        case .finalized: "finalized"
        case .safe: "safe"
        case .earliest: "earliest"
        }
    }
}

/// What changed on the chain, handed to observers after every `mine` and `reorg`.
public struct ChainUpdate: Sendable {
    /// Logs of the blocks a reorg orphaned, with `removed == true`, newest first (as geth sends
    /// them). Empty when nothing was orphaned.
    public var removedLogs: [EthLog]
    /// The orphaned blocks, oldest first.
    public var removedBlocks: [DevnetBlock]
    /// The new canonical blocks, oldest first; the last one is the new head.
    public var newBlocks: [DevnetBlock]
}
