import Chain
import CopyEngine
import Synchronization

/// When the blocks of trades were mined, for the engine's stale-trade cut-off.
///
/// Logs carry no timestamp. A trade within ``freshBlocks`` of the head is live and needs none
/// (no look-up on the hot path); an older one (a resync after downtime, a backfill) has its block
/// header read once (`eth_getBlockByNumber`, cached). When the node cannot say, the age is
/// estimated from the distance to the head at ``fallbackBlockSeconds`` a block.
public final class BlockClock: Sendable {
    private let rpc: any ChainRPC
    private let freshBlocks: UInt64
    private let fallbackBlockSeconds: Int64
    private let capacity: Int
    private let cache = Mutex<[UInt64: UInt64]>([:])

    /// Creates a clock over `rpc`.
    public init(
        rpc: any ChainRPC, freshBlocks: UInt64 = 3, fallbackBlockSeconds: Int64 = 2, capacity: Int = 4_096
    ) {
        self.rpc = rpc
        self.freshBlocks = freshBlocks
        self.fallbackBlockSeconds = fallbackBlockSeconds
        self.capacity = capacity
    }

    /// The time of `block` (nil when it is at most ``freshBlocks`` behind `head`, or `head` is unknown).
    public func time(of block: UInt64, head: UInt64?, now: UnixTime) async -> UnixTime? {
        guard let head, head > block, head - block > freshBlocks else { return nil }
        if let seconds = cache.withLock({ $0[block] }) { return UnixTime(seconds: Int64(seconds)) }
        if let header = try? await rpc.header(number: block) {
            cache.withLock { cache in
                if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
                cache[block] = header.timestamp
            }
            return UnixTime(seconds: Int64(header.timestamp))
        }
        return now.adding(seconds: -Int64(head - block) * fallbackBlockSeconds)
    }
}
