import EVM

/// What an `eth_getLogs` request exceeded, for a ``DevnetRangeErrorDialect`` to word.
public enum DevnetLogLimit: Hashable, Sendable {
    /// The range spans `blocks` blocks, more than `limit` (``DevnetFaults/getLogsMaxRange``).
    case range(blocks: UInt64, limit: UInt64)
    /// More logs match than `limit` (``DevnetFaults/getLogsMaxResults``).
    case results(limit: Int)
}

/// The ways real providers and node clients refuse an `eth_getLogs` whose block range or result
/// size is over their limit: the JSON-RPC code, the wording, the `data` member, and for some the
/// HTTP status (and body) of the whole answer. Chosen by ``DevnetFaults/rangeErrorDialect``.
///
/// The wordings are the providers' own, as documented or reported (each case names its source);
/// the numbers in them are the devnet's limits, so a listener that reads them gets true ones.
/// A provider that enforces only one kind of limit words the other kind the same way. Where a
/// wording suggests a narrower range, the devnet suggests one it would accept.
///
/// `allCases` lists every dialect, for tests to iterate.
public enum DevnetRangeErrorDialect: String, CaseIterable, Hashable, Sendable {
    /// The devnet's original answer: -32005 (EIP-1474's "limit exceeded",
    /// https://eips.ethereum.org/EIPS/eip-1474) "block range is too large (maximum N blocks)" /
    /// "query returned more than N results".
    case devnet
    /// geth with `--rpc.rangelimit` (and Bor, which took the same change): -32602 "exceed maximum
    /// block range N". Source: go-ethereum `eth/filters/filter.go`, `invalidParamsErr("exceed
    /// maximum block range %d", f.rangeLimit)`, added by ethereum/go-ethereum#33163 (quoted in
    /// ethereum/go-ethereum#35692); Bor: 0xPolygon/bor#2147. geth has no result cap.
    case geth
    /// geth forks that word it with a colon and the default -32000 (BNB Chain's bsc, and the
    /// public nodes built on it): "exceed maximum block range: 5000". Source:
    /// AlphaWallet/alpha-wallet-android#2736 (bsc-dataseed.binance.org).
    case gethFork
    /// Erigon 3 (`--rpc.blockrange.limit`, `--rpc.logs.maxresults`): -32602 "query block range
    /// exceeds server limit, narrow your filter: N" / "query returns too many logs, narrow your
    /// filter: N". Sources: erigontech/erigon#20424 (the -32602 code), erigontech/erigon#19721.
    case erigon
    /// Erigon before erigontech/erigon#20424: the same wordings with -32000 (a plain Go error).
    case erigonLegacy
    /// reth: -32602 "query exceeds max block range N" (paradigmxyz/reth#8558) / "query exceeds max
    /// results N, retry with the range A-B" (base/base#2421, a reth node).
    case reth
    /// Alchemy (paid tiers): -32602 "Log response size exceeded. You can make eth_getLogs requests
    /// with up to a 2K block range and no limit on the response size, or you can request any
    /// block range with a cap of 10K logs in the response. Based on your parameters and the
    /// response size limit, this block range should work: [0x.., 0x..]". Source:
    /// ethers-io/ethers.js#4703; limits: https://docs.alchemy.com/reference/eth-getlogs.
    case alchemy
    /// Alchemy's free tier: HTTP 400 with -32600 "You can make eth_getLogs requests with up to a
    /// N block range. Based on your parameters, this block range should work: [0x.., 0x..]".
    /// Sources: boundless-xyz/boundless#838 (the HTTP 400), BobTheBuidler/dank_mids#772.
    case alchemyFreeTier
    /// Infura: a result cap -32005 "query returned more than N results. Try with this block range
    /// [0x.., 0x..]." with `data` {from, limit, to} (ethers-io/ethers.js#4703;
    /// https://docs.infura.io/api/networks/ethereum/json-rpc-methods/eth_getlogs), and a range cap
    /// -32602 "range B exceeds limit of N" (INFURA/infura#237).
    case infura
    /// QuickNode: HTTP 413 with -32614 "eth_getLogs is limited to a 10,000 range". Sources:
    /// eternalsafe/wallet#57, OffchainLabs/arbitrum-sdk#609, Layr-Labs/eigensdk-go#169.
    case quicknode
    /// QuickNode's documented form: HTTP 413 "Request Entity Too Large eth_getLogs and
    /// eth_newFilter are limited to a 10,000 blocks range", a plain-text body, no JSON-RPC at all.
    /// Source: https://www.quicknode.com/docs/optimism/error-references (HTTP error codes).
    case quicknodePlainText
    /// Ankr: -32600 "block range is too wide". Source: ponder-sh/ponder
    /// `packages/utils/src/getLogsRetryHelper.ts` (its Ankr branch matches this text and code).
    case ankr
    /// Ankr's newer wording: -32000 "maximum [from, to] blocks distance: N". Source:
    /// ponder-sh/ponder#1940 (viem's InvalidInputRpcError, code -32000).
    case ankrDistance
    /// dRPC's free tier: HTTP 400 with code 35 "ranges over N blocks are not supported on
    /// freetier". Source: jaxernst/lasso-rpc `Lasso.RPC.Providers.Adapters.DRPC` (observed errors).
    case drpc
    /// Tenderly: -32602 "invalid params", the detail only in `data`: {"error_id": a UUID,
    /// "payload": "range B is bigger than range limit N"}. Source: bobanetwork/boba_legacy#827.
    case tenderly
    /// Chainstack: -32602 "Block range limit exceeded. See more details at
    /// https://docs.chainstack.com/docs/limits#evm-range-limits". Source:
    /// matter-labs/zksync-era#2974.
    case chainstack
    /// 1RPC's response cap: -32000 "response size should not greater than 2097152 bytes" (no
    /// range or count at all). Source: https://docs.1rpc.io/using-the-web3-api/errors.
    case responseSize
    /// The bare JSON-RPC 2.0 "invalid params": -32602 "invalid params", nothing else. Source:
    /// https://www.jsonrpc.org/specification#error_object (Tenderly's shape without its `data`).
    case invalidParams
    /// A code and wording no known provider uses: -32099 "request exceeds the node's quota of
    /// blocks". A listener must survive an error it has never seen.
    case unfamiliar

    /// Which dialect a devnet speaks: a fixed one, or one drawn at random per node.
    public enum Choice: Hashable, Sendable, LosslessStringConvertible {
        /// Always this dialect.
        case fixed(DevnetRangeErrorDialect)
        /// One dialect drawn when the node (its ``DevnetRPC``) starts, from its seed, and kept.
        case random

        /// `random` or a dialect's raw value (`geth`, `quicknode`...).
        public init?(_ description: String) {
            if description == "random" {
                self = .random
            } else if let dialect = DevnetRangeErrorDialect(rawValue: description) {
                self = .fixed(dialect)
            } else {
                return nil
            }
        }

        /// `random` or the dialect's raw value.
        public var description: String {
            switch self {
            case .fixed(let dialect): dialect.rawValue
            case .random: "random"
            }
        }
    }

    /// The HTTP status of an answer carrying this dialect's refusal (200 for most).
    public var httpStatus: Int {
        switch self {
        case .quicknode, .quicknodePlainText: 413
        case .alchemyFreeTier, .drpc: 400
        default: 200
        }
    }

    /// The refusal of a request over `from...to` that exceeded `limit`; `fitting` is a range
    /// starting at `from` that the devnet would accept, for the wordings that suggest one.
    public func refusal(
        _ limit: DevnetLogLimit, from: UInt64, to: UInt64, fitting: ClosedRange<UInt64>
    ) -> RPCError {
        let span = (to >= from ? to - from : 0).addingReportingOverflow(to >= from ? 1 : 0)
        let blocks = span.overflow ? UInt64.max : span.partialValue
        // The number a range-only wording states: the range limit, or for a result cap the
        // blocks that fit.
        let rangeLimit: UInt64
        let resultLimit: Int?
        switch limit {
        case .range(_, let l):
            rangeLimit = l
            resultLimit = nil
        case .results(let l):
            let fits = (fitting.upperBound - fitting.lowerBound).addingReportingOverflow(1)
            rangeLimit = fits.overflow ? .max : fits.partialValue
            resultLimit = l
        }
        var error: RPCError
        switch self {
        case .devnet:
            error =
                resultLimit.map { RPCError(code: -32005, message: "query returned more than \($0) results") }
                ?? RPCError(code: -32005, message: "block range is too large (maximum \(rangeLimit) blocks)")
        case .geth:
            error = RPCError(code: -32602, message: "exceed maximum block range \(rangeLimit)")
        case .gethFork:
            error = RPCError(code: -32000, message: "exceed maximum block range: \(rangeLimit)")
        case .erigon, .erigonLegacy:
            let code = self == .erigon ? -32602 : -32000
            error =
                resultLimit.map {
                    RPCError(code: code, message: "query returns too many logs, narrow your filter: \($0)")
                }
                ?? RPCError(
                    code: code,
                    message: "query block range exceeds server limit, narrow your filter: \(rangeLimit)")
        case .reth:
            error =
                resultLimit.map {
                    RPCError(
                        code: -32602,
                        message:
                            "query exceeds max results \($0), retry with the range \(fitting.lowerBound)-\(fitting.upperBound)"
                    )
                } ?? RPCError(code: -32602, message: "query exceeds max block range \(rangeLimit)")
        case .alchemy:
            error = RPCError(
                code: -32602,
                message:
                    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
                    + "and no limit on the response size, or you can request any block range with a cap of 10K "
                    + "logs in the response. Based on your parameters and the response size limit, this block "
                    + "range should work: [\(Self.hex(fitting.lowerBound)), \(Self.hex(fitting.upperBound))]")
        case .alchemyFreeTier:
            error = RPCError(
                code: -32600,
                message:
                    "You can make eth_getLogs requests with up to a \(rangeLimit) block range. Based on your "
                    + "parameters, this block range should work: "
                    + "[\(Self.hex(fitting.lowerBound)), \(Self.hex(fitting.upperBound))]")
        case .infura:
            if let resultLimit {
                let a = Self.hex(fitting.lowerBound, uppercase: true)
                let b = Self.hex(fitting.upperBound, uppercase: true)
                error = RPCError(
                    code: -32005,
                    message:
                        "query returned more than \(resultLimit) results. Try with this block range [\(a), \(b)].",
                    data: "{\"from\":\"\(a)\",\"limit\":\(resultLimit),\"to\":\"\(b)\"}")
            } else {
                error = RPCError(code: -32602, message: "range \(blocks) exceeds limit of \(rangeLimit)")
            }
        case .quicknode:
            error = RPCError(
                code: -32614, message: "eth_getLogs is limited to a \(Self.grouped(rangeLimit)) range")
        case .quicknodePlainText:
            error = RPCError(
                code: -32614, message: "eth_getLogs is limited to a \(Self.grouped(rangeLimit)) range")
            error.plainTextBody =
                "Request Entity Too Large eth_getLogs and eth_newFilter are limited to a "
                + "\(Self.grouped(rangeLimit)) blocks range"
        case .ankr:
            error = RPCError(code: -32600, message: "block range is too wide")
        case .ankrDistance:
            error = RPCError(code: -32000, message: "maximum [from, to] blocks distance: \(rangeLimit)")
        case .drpc:
            error = RPCError(
                code: 35, message: "ranges over \(rangeLimit) blocks are not supported on freetier")
        case .tenderly:
            let id = Keccak256.hash(utf8: "tenderly \(from) \(to)").hex.dropFirst(2)
            let uuid = [
                id.prefix(8), id.dropFirst(8).prefix(4), id.dropFirst(12).prefix(4),
                id.dropFirst(16).prefix(4), id.dropFirst(20).prefix(12),
            ].joined(separator: "-")
            error = RPCError(
                code: -32602, message: "invalid params",
                data:
                    "{\"error_id\":\"\(uuid)\",\"payload\":\"range \(blocks) is bigger than range limit \(rangeLimit)\"}"
            )
        case .chainstack:
            error = RPCError(
                code: -32602,
                message:
                    "Block range limit exceeded. See more details at https://docs.chainstack.com/docs/limits#evm-range-limits"
            )
        case .responseSize:
            error = RPCError(code: -32000, message: "response size should not greater than 2097152 bytes")
        case .invalidParams:
            error = RPCError(code: -32602, message: "invalid params")
        case .unfamiliar:
            error = RPCError(code: -32099, message: "request exceeds the node's quota of blocks")
        }
        if httpStatus != 200 { error.httpStatus = httpStatus }
        return error
    }

    /// `0x` and the hex digits of `n`.
    static func hex(_ n: UInt64, uppercase: Bool = false) -> String {
        "0x" + String(n, radix: 16, uppercase: uppercase)
    }

    /// `n` with thousands separators (10,000).
    static func grouped(_ n: UInt64) -> String {
        var digits = Array(String(n))
        var i = digits.count - 3
        while i > 0 {
            digits.insert(",", at: i)
            i -= 3
        }
        return String(digits)
    }
}
