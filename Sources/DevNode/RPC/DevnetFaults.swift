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

/// Fault switches of the devnet. All off by default; change them at any time through a
/// ``DevnetFaultControl`` (the RPC reads them on every request and every update, the producer
/// on every block, the transport whenever it likes).
public struct DevnetFaults: Hashable, Sendable {
    /// `eth_getLogs` over a range of more blocks than this (`toBlock - fromBlock + 1`, tags
    /// resolved, before clamping to the head) fails with -32005 "block range is too large
    /// (maximum N blocks)". nil: no limit. A `blockHash` query is one block.
    public var getLogsMaxRange: UInt64? = nil
    /// `eth_getLogs` matching more logs than this fails with -32005 "query returned more than
    /// N results" (Infura's wording). nil: no limit.
    public var getLogsMaxResults: Int? = nil
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
