import Synchronization

/// A kind of hostile frame the devnet can push to a WebSocket client (see
/// ``DevnetFaults/malformedFrames``). Every one comes in addition to the real notifications,
/// which are never altered, so the canonical set a listener must deliver stays the same.
public enum DevnetMalformedFrame: String, CaseIterable, Hashable, Sendable {
    /// Bytes that are not JSON (a truncated notification, stray text).
    case invalidJSON
    /// Well-formed JSON with the wrong types: numbers where hex strings belong, a string for
    /// `topics`, an array for `params`, a number for the subscription id.
    case wrongTypes
    /// A well-formed log notification for a subscription id the client never had.
    case unknownSubscription
    /// A well-formed log notification, on the client's real subscription, from an address that
    /// is no configured exchange (same topics and data as a real fill).
    case unconfiguredAddress
    /// A notification of ``DevnetFaults/hugeFrameBytes`` bytes (valid JSON, absurd size).
    case hugeFrame
}

/// A kind of transient failure of the HTTP endpoint (see ``DevnetFaults/transientErrorRate``).
public enum DevnetTransientError: String, CaseIterable, Hashable, Sendable {
    /// HTTP 429 with a provider's rate-limit body, one of: Alchemy's `{"code":429,"message":"Your
    /// app has exceeded its compute units per second capacity..."}` (conduitxyz/node#36), Infura's
    /// -32005 "project ID request rate exceeded" with `data.rate` (INFURA/infura#201), QuickNode's
    /// `{"code":429,"message":"The requests per second (RPS) of your requests are higher than your
    /// plan allows."}` (https://www.quicknode.com/docs/optimism/error-references), or proxyd's
    /// -32012 "backend is over capacity" (ethereum-optimism/optimism `proxyd/errors.go`).
    case rateLimited
    /// HTTP 503: proxyd's -32011 "no backend is currently healthy to serve traffic"
    /// (ethereum-optimism/optimism `proxyd/errors.go`, `ErrNoBackends`, HTTP 503) or a plain
    /// "Service Unavailable" page from the provider's edge.
    case unavailable
    /// HTTP 200 with the JSON-RPC error -32000 "header not found" for every request of the body,
    /// geth's wording for a block its backend does not have yet (ethereum/execution-apis#534).
    case headerNotFound
}

/// A load-balanced HTTP endpoint whose backends lag the head (see ``DevnetFaults/laggingBackends``).
///
/// Each HTTP request (a whole batch alike) is served by one backend drawn at random. A backend that
/// lags `k` chain updates (mined blocks or reorgs) sees the chain as it was `k` updates ago, stale
/// branch included after a reorg: `eth_blockNumber` is its own head, `eth_getBlockByNumber` above
/// it and `eth_getBlockByHash` of a block it lacks answer `null`, `eth_getLogs` by `blockHash` of a
/// block it lacks answers geth's -32000 "unknown block", and by range past its head either trims at
/// its head (what geth did, ethereum/go-ethereum#24078) or refuses with geth's -32602 "block range
/// extends beyond current head block" (go-ethereum `eth/filters/filter.go`; the
/// ethereum/execution-apis fixture `tests/eth_getLogs/filter-error-future-block-range.io`). Lags
/// drift by -1, 0 or +1 at every chain update, within `0...maximumLag`, so a backend never goes
/// back. WebSocket clients stay on the fresh node.
public struct DevnetLaggingBackends: Hashable, Sendable {
    /// What a lagging backend does with an `eth_getLogs` range past its head.
    public enum PastHead: String, CaseIterable, Hashable, Sendable {
        /// Answer up to its head, silently (geth before the change, ethereum/go-ethereum#24078).
        case trim
        /// Refuse with -32602 "block range extends beyond current head block" (geth today).
        case refuse
        /// Each backend does one or the other, drawn when the pool is made.
        case mixed
    }

    /// How many backends share the endpoint (at least 1).
    public var count: Int
    /// The most chain updates a backend lags (its lag is drawn in `0...maximumLag` and drifts).
    public var maximumLag: Int
    /// What a backend does with a range past its head.
    public var pastHead: PastHead

    /// A pool of `count` backends lagging up to `maximumLag` updates.
    public init(count: Int = 3, maximumLag: Int = 3, pastHead: PastHead = .mixed) {
        self.count = count
        self.maximumLag = maximumLag
        self.pastHead = pastHead
    }
}

/// Fault switches of the devnet. All off by default; change them at any time through a
/// ``DevnetFaultControl`` (the RPC reads them on every request and every update, the producer
/// on every block, the transport whenever it likes).
public struct DevnetFaults: Hashable, Sendable {
    /// `eth_getLogs` over a range of more blocks than this (`toBlock - fromBlock + 1`, tags
    /// resolved, before clamping to the head) is refused in the words of `rangeErrorDialect`
    /// (by default -32005 "block range is too large (maximum N blocks)"). nil: no limit. A
    /// `blockHash` query is one block.
    public var getLogsMaxRange: UInt64? = nil
    /// `eth_getLogs` matching more logs than this is refused in the words of `rangeErrorDialect`
    /// (by default -32005 "query returned more than N results", Infura's wording). nil: no limit.
    public var getLogsMaxResults: Int? = nil
    /// How `eth_getLogs` refusals for `getLogsMaxRange` / `getLogsMaxResults` are worded: a fixed
    /// ``DevnetRangeErrorDialect`` (code, message, `data`, HTTP status), or `.random`: one drawn
    /// per node from its seed when it starts (``DevnetRPC/rangeErrorDialect``). Over WebSocket
    /// only the JSON-RPC error goes out.
    public var rangeErrorDialect: DevnetRangeErrorDialect.Choice = .fixed(.devnet)
    /// Chance that a transaction orphaned by a reorg is left out of the new branch and mined
    /// again `remineDelay` blocks after the new head (a new block and position, the same hash and
    /// logs), as a mempool does; the others keep their usual fate (re-included in the new branch
    /// or dropped, see ``SimulatedChainConfiguration/reincludeProbability``). Read by
    /// ``DevnetProducer`` at each reorg. The chain's record: ``SimulatedChain/reminedTransactions``
    /// and ``SimulatedChain/pendingTransactions``.
    public var remineOrphanedTransactions: Double = 0
    /// How many blocks after the new head a held-back transaction is mined again, drawn per
    /// transaction (lower bound at least 1).
    public var remineDelay: ClosedRange<Int> = 1...4
    /// Serve HTTP JSON-RPC through a load balancer over backends that lag the head. nil: one
    /// fresh node.
    public var laggingBackends: DevnetLaggingBackends? = nil
    /// Fraction of HTTP JSON-RPC requests (a batch counts once) that fail transiently with a kind
    /// drawn from `transientErrorKinds`: HTTP 429, HTTP 503 or -32000 "header not found". Such a
    /// request has no effect; asking again gets a real answer (unless the fault fires again).
    /// WebSocket frames, the subscription handshake included, are never affected.
    public var transientErrorRate: Double = 0
    /// The transient failures to draw from.
    public var transientErrorKinds: [DevnetTransientError] = DevnetTransientError.allCases
    /// Chance that a notification frame is sent twice in a row.
    public var duplicateNotifications: Double = 0
    /// Chance, per chain update and per live subscription, that the subscription goes dead: it
    /// stays registered (unsubscribe still answers true) and the socket stays open, but it gets
    /// no notification again. A new `eth_subscribe` gets a live one.
    /// ``DevnetRPC/stallSubscriptions()`` kills all current subscriptions at once.
    public var staleSubscriptions: Double = 0
    /// A hint for the transport: close each client connection after about this long (the
    /// devnet core never closes connections itself). nil: never.
    public var dropConnectionEvery: Duration? = nil
    /// Chance, before each notification frame, of pushing one hostile frame of a kind drawn from
    /// `malformedFrameKinds` to the same client.
    public var malformedFrames: Double = 0
    /// Chance that the answer to a request (other than `eth_subscribe` / `eth_unsubscribe`, over
    /// HTTP or WebSocket) is replaced by a hostile one of a kind drawn from `malformedFrameKinds`:
    /// `invalidJSON` (a truncated answer), `wrongTypes` (a result of the wrong JSON type, or an
    /// `eth_getLogs` log with wrong field types), `unknownSubscription` (the answer carries another
    /// request id), `unconfiguredAddress` (an `eth_getLogs` result with an extra log from an
    /// address that is no exchange), `hugeFrame`. The request had no effect the client can miss:
    /// asking again gets a real answer (unless the fault fires again).
    public var malformedResponses: Double = 0
    /// The kinds of hostile frames to draw from; `hugeFrame` is left out by default.
    public var malformedFrameKinds: [DevnetMalformedFrame] = [
        .invalidJSON, .wrongTypes, .unknownSubscription, .unconfiguredAddress,
    ]
    /// Size of a `hugeFrame`, in bytes (default 20 MiB: more than a listener should accept).
    public var hugeFrameBytes: Int = 20 << 20
    /// For ``DevnetProducer``: after every this many mined blocks, reorganize. nil: never.
    public var reorgEvery: Int? = nil
    /// For ``DevnetProducer``: the depth of each reorg, drawn uniformly (clamped to what the
    /// chain allows: its finality depth and the blocks above `earliest`).
    public var reorgDepth: ClosedRange<Int> = 1...8

    /// Everything off.
    public init() {}

    /// Everything off.
    public static let none = DevnetFaults()
}

/// The devnet's current fault switches, shared by the RPC, the producer and the transport.
public final class DevnetFaultControl: Sendable {
    private let value: Mutex<DevnetFaults>

    /// Starts with `faults` (default: all off).
    public init(_ faults: DevnetFaults = .none) { value = Mutex(faults) }

    /// The current switches; setting replaces them all.
    public var faults: DevnetFaults {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }

    /// Changes some switches atomically.
    public func update(_ body: (inout DevnetFaults) -> Void) {
        value.withLock { body(&$0) }
    }
}
