import EVM
import Logging
import Synchronization

/// How the ``EventSource`` runs.
public struct EventSourceConfiguration: Sendable {
    /// Where to start when the store has no checkpoint.
    public enum Start: Hashable, Sendable {
        /// From the current head: only what happens from now on.
        case latest
        /// From this block (inclusive).
        case block(UInt64)
    }

    /// The name of the checkpoint in the store.
    public var stream: String
    /// One filter for every exchange address, fill topic0 and followed wallet.
    public var filter: LogFilter
    /// How many blocks back a reorg is handled (`chain.reorg_window`).
    public var reorgWindow: UInt64 = 128
    /// A subscription with no new head for this long while the socket is open is dead (`chain.stale_after`).
    public var staleAfter: Duration = .seconds(30)
    /// While live, confirm the subscription's logs with `eth_getLogs` and move the checkpoint
    /// every this many blocks.
    public var verifyEvery: UInt64 = 4
    /// Where to start without a checkpoint.
    public var start: Start = .latest
    /// Replay: stop after this block instead of going live.
    public var stopAfter: UInt64? = nil
    /// Resync from no later than this block: when the stored checkpoint is above it, the listener
    /// starts again from the newest remembered block at or below it (within the reorg window).
    /// Set when the filter widened (a followed wallet added) so the new wallet's logs since then
    /// are read; logs already delivered are recognised by identity and not delivered again.
    public var rewindTo: UInt64? = nil
    /// The first and largest `eth_getLogs` range; ranges halve on provider limits and double back.
    public var initialRange: UInt64 = 2_000
    public var maximumRange: UInt64 = 10_000
    /// Ranges grow only while they return at most half this many logs, and shrink when they return
    /// more: a busy stretch of chain is read in pieces, which keeps memory bounded.
    public var maximumLogsPerRange = 10_000
    /// The newest blocks of a sync that are read one at a time by block hash (EIP-234) instead
    /// of by number range: the blocks a lagging backend behind a load balancer may not have yet.
    ///
    /// A range answer does not say which backend gave it, and a backend a few blocks behind
    /// trims a range at its own head without an error (go-ethereum#24078 shows such a pool). An
    /// answer by block hash can only come from a backend that has that very block; one that
    /// does not answers an error ("unknown block", go-ethereum `eth/filters/api.go`), which is
    /// "not yet", never "orphaned". Ranges stay this far behind the newest block seen, which
    /// covers backends lagging by fewer blocks than this.
    public var hashReadDepth: UInt64 = 16
    /// Backoff after a failure (a dropped subscription, or node queries that keep failing):
    /// `initialBackoff · 2^attempt`, at most `maximumBackoff`, with jitter. It starts again from
    /// `initialBackoff` once the checkpoint moves.
    public var initialBackoff: Duration = .milliseconds(250)
    public var maximumBackoff: Duration = .seconds(30)
    /// How long one node query (a head, a header, one block's logs) is asked again when it fails
    /// or the node does not have the block yet, before the sync stops and backs off. Behind a
    /// load balancer each attempt may reach another backend; a transient 429 or 503 passes.
    public var queryPersistence: Duration = .seconds(5)
    /// Events held for a slow consumer before the source stops reading.
    public var bufferCapacity: Int = 1_024

    /// Creates a configuration for `filter`.
    public init(stream: String, filter: LogFilter) {
        self.stream = stream
        self.filter = filter
    }
}

/// What the source is doing, for status, health and metrics.
public struct EventSourceStatus: Hashable, Sendable {
    /// The newest head seen.
    public var head: UInt64? = nil
    /// The durable checkpoint: every log up to this block is recorded.
    public var checkpoint: BlockRef? = nil
    /// Whether a live subscription is up and synced.
    public var live = false
    /// When replaying or backfilling: the block being synced to.
    public var syncTarget: UInt64? = nil
    public var logsDelivered = 0
    public var retractions = 0
    public var reconnects = 0
    public var staleResubscribes = 0
    public var reorgs = 0
    /// Reorgs deeper than the window (logged as errors).
    public var deepReorgs = 0
    /// Logs a node sent that did not belong (wrong range, address, topics): counted and ignored.
    public var rejectedLogs = 0
    /// `eth_getLogs` ranges fetched, and how often a range was split on a provider limit.
    public var rangesFetched = 0
    public var rangeSplits = 0
    /// The `eth_getLogs` range the source has learned the provider takes; kept across reconnects.
    public var getLogsRange: UInt64? = nil
    /// Node queries that failed while the subscription stayed up (the source backed off and
    /// synced again without touching the socket).
    public var queryFailures = 0
    public var lastError: String? = nil

    /// Creates the status of a source that has not started (no head, no checkpoint, not live).
    public init() {}
}

/// Turns a node's log stream into exactly-once, ordered ``ChainEvent``s.
///
/// The source subscribes to `logs` (one filter for everything) and `newHeads`. After every
/// (re)subscribe it backfills from the durable checkpoint to the head with `eth_getLogs`, then goes
/// live; notifications that arrive meanwhile wait in the subscription, and the store's identity
/// check makes the overlap at the seam harmless. Live logs are delivered at once; every
/// ``EventSourceConfiguration/verifyEvery`` blocks `eth_getLogs` confirms them and moves the
/// checkpoint, so a log the subscription missed is still delivered, and nothing above the
/// checkpoint is trusted across a restart.
///
/// Reorgs — `removed: true` logs, a head whose parent is not the block we know, or a checkpoint
/// hash the node no longer has — trigger a resync from the fork point: logs of the new branch are
/// delivered if new, moved if their transaction was re-included, and logs that vanished are
/// retracted. Everything goes through ``ChainStateStore/apply(_:stream:)`` before it is handed
/// out, and ``events`` is bounded: a slow consumer stops the source from reading.
public final class EventSource: Sendable {
    private let rpc: any ChainRPC
    private let store: any ChainStateStore
    private let configuration: EventSourceConfiguration
    private let logger: Logger
    private let announce: (@Sendable (EthLog) -> Void)?
    private let statusBox = Mutex(EventSourceStatus())
    /// What the source learned of the provider's `eth_getLogs` limit, across reconnects.
    private let learning: Mutex<RangeLearning>

    /// The events, in chain order. Acknowledge each with ``acknowledge(_:)`` once handled.
    public let events: BoundedQueue<ChainEvent>

    /// Creates a source; nothing happens until ``run()``.
    ///
    /// `announce` is called with each log a live notification brings, as soon as it arrives and
    /// before it is checked against the node and stored: for speculative work only (warming what
    /// the log's consumer will need), since the log may still turn out orphaned or a duplicate.
    public init(
        rpc: any ChainRPC, store: any ChainStateStore, configuration: EventSourceConfiguration,
        logger: Logger,
        announce: (@Sendable (EthLog) -> Void)? = nil
    ) {
        self.rpc = rpc
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.announce = announce
        self.events = BoundedQueue(capacity: configuration.bufferCapacity)
        self.learning = Mutex(
            RangeLearning(range: max(1, configuration.initialRange), maximum: configuration.maximumRange))
    }

    /// A snapshot of what the source is doing.
    public var status: EventSourceStatus { statusBox.withLock { $0 } }

    /// Marks events as handled; they will not be handed out again after a restart.
    public func acknowledge(_ handled: [ChainEvent]) async throws {
        try await store.acknowledge(handled, stream: configuration.stream)
    }

    private func update(_ body: (inout EventSourceStatus) -> Void) { statusBox.withLock { body(&$0) } }

    /// Runs until cancelled (or, when replaying, until ``EventSourceConfiguration/stopAfter``),
    /// reconnecting forever with backoff. Finishes ``events`` when it returns.
    public func run() async throws {
        do {
            try await runLoop()
            events.finish()
        } catch {
            events.finish(throwing: error is CancellationError ? nil : error)
            if !(error is CancellationError) { throw error }
        }
    }

    private func runLoop() async throws {
        var state: SyncState? = nil
        var pendingDelivered = false
        var attempt = 0
        var progress: BlockRef? = nil
        while !Task.isCancelled {
            // Whether the failure, if any, ended a subscription (a reconnect) or only node queries.
            var subscribed = false
            do {
                // Loaded inside the loop: a node that fails during start-up is retried like any
                // other failure, not fatal.
                if state == nil { state = try await loadState() }
                if !pendingDelivered {
                    try await deliver(
                        try await store.pendingEvents(stream: configuration.stream), counted: false)
                    pendingDelivered = true
                }
                if let stop = configuration.stopAfter {
                    try await observeHead()
                    try await sync(&state!, to: stop)
                    update { $0.syncTarget = nil }
                    return
                }
                subscribed = true
                let subscription = try await rpc.subscribe(configuration.filter)
                do {
                    try await session(&state!, subscription)
                } catch {
                    update { $0.live = false }
                    await subscription.cancel()
                    throw error
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch EventSourceError.staleSubscription {
                update { $0.staleResubscribes += 1 }
                logger.warning(
                    "no new head for \(configuration.staleAfter) on an open subscription; resubscribing")
            } catch {
                if Task.isCancelled { throw CancellationError() }
                if configuration.stopAfter != nil, case ChainRPCError.malformed = error { throw error }
                // The backoff starts again once the checkpoint moved: a flaky provider slows the
                // source down only while it makes no progress.
                if let cursor = state?.cursor, cursor != progress {
                    progress = cursor
                    attempt = 0
                }
                let reason = (error as? EventSourceError)?.underlying ?? error
                update {
                    if subscribed { $0.reconnects += 1 } else { $0.queryFailures += 1 }
                    $0.lastError = "\(reason)"
                }
                let delay = backoff(attempt: attempt)
                attempt += 1
                logger.warning(
                    "listener: \(reason); \(configuration.stopAfter == nil ? "reconnecting" : "retrying") in \(delay)"
                )
                try await Task.sleep(for: delay)
            }
        }
        throw CancellationError()
    }

    /// One subscription's life: sync to the head, then live. Node queries that fail (HTTP 429 or
    /// 5xx, timeouts, a backend without the block yet) do not touch the socket: the source backs
    /// off and syncs again, and the notifications that arrive meanwhile wait in the subscription.
    /// Returns only by throwing: the subscription ended or went stale, or the task was cancelled.
    private func session(_ state: inout SyncState, _ subscription: any ChainSubscription) async throws {
        var attempt = 0
        var progress = state.cursor
        while true {
            do {
                try await sync(&state, to: try await observeHead())
                state.needsResync = false
                update { $0.live = true }
                attempt = 0
                try await live(&state, subscription)
            } catch let error as EventSourceError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                if state.cursor != progress {
                    progress = state.cursor
                    attempt = 0
                }
                let delay = backoff(attempt: attempt)
                attempt += 1
                update {
                    $0.live = false
                    $0.queryFailures += 1
                    $0.lastError = "\(error)"
                }
                logger.warning("listener: \(error); keeping the subscription, syncing again in \(delay)")
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Asks the node for its head, remembers the highest seen, and returns the node's answer.
    @discardableResult
    private func observeHead() async throws -> UInt64 {
        let head = try await persistently("head") { try await rpc.headNumber() }
        update { $0.head = max($0.head ?? 0, head) }
        return head
    }

    /// Runs a node query, asking again with a short growing delay while it fails or answers
    /// "not yet" (nil), for at most ``EventSourceConfiguration/queryPersistence``.
    private func persistently<T>(
        _ what: @autoclosure () -> String, _ query: () async throws -> T?
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.queryPersistence
        var delay = Duration.milliseconds(25)
        while true {
            let failure: any Error
            do {
                if let answer = try await query() { return answer }
                failure = ChainRPCError.unavailable("the node has no \(what()) yet")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failure = error
            }
            guard clock.now + delay < deadline else { throw failure }
            update { $0.queryFailures += 1 }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(500))
        }
    }

    /// The header of block `number`, asked for persistently.
    private func header(_ number: UInt64) async throws -> BlockHeader {
        try await persistently("block \(number)") { try await rpc.header(number: number) }
    }

    private func backoff(attempt: Int) -> Duration {
        let base = configuration.initialBackoff * (1 << min(attempt, 20))
        let capped = min(base, configuration.maximumBackoff)
        return capped * Double.random(in: 0.5...1.0)
    }

    // MARK: - State

    /// What the source knows beyond the store: canonical hashes (the reorg window plus live heads
    /// above the checkpoint) and the identities of live logs by position.
    struct SyncState {
        var cursor: BlockRef
        var known: [UInt64: Bytes32]
        var positions: [Bytes32: [UInt64: (base: LogIdentity, identity: LogIdentity)]] = [:]
        var needsResync = false
        /// Live logs from this block up are not delivered on arrival but read by the next sync: a
        /// log of this block could not be confirmed (the node did not answer, or a lagging backend
        /// did not have the block yet), and a later block's logs must not overtake it.
        var holdFrom: UInt64? = nil
        /// The highest block whose live logs were held.
        var heldThrough: UInt64 = 0
        /// The hashes the subscription announced (`newHeads`: each head and its parent). A
        /// backend behind a load balancer that has not imported a reorg yet still answers the old
        /// branch; where its answer contradicts the subscription, it is "not yet", not a reorg.
        var announced: [UInt64: Bytes32] = [:]
    }

    private func loadState() async throws -> SyncState {
        if let stored = try await store.loadState(stream: configuration.stream) {
            var known: [UInt64: Bytes32] = [:]
            for block in stored.recentBlocks { known[block.number] = block.hash }
            known[stored.cursor.number] = stored.cursor.hash
            var cursor = stored.cursor
            if let rewind = configuration.rewindTo, cursor.number > rewind,
                let earlier = stored.recentBlocks.last(where: { $0.number <= rewind })
            {
                logger.info(
                    "listener: the filter widened; reading again from \(earlier) (checkpoint \(cursor))")
                cursor = earlier
            }
            update { $0.checkpoint = cursor }
            logger.info("listener: resuming after checkpoint \(cursor)")
            return SyncState(cursor: cursor, known: known)
        }
        let startNumber: UInt64
        switch configuration.start {
        case .latest: startNumber = try await rpc.headNumber()
        case .block(let n): startNumber = n
        }
        // The checkpoint is the block before the first one to read.
        let cursorNumber = startNumber == 0 ? 0 : startNumber - 1
        let cursor: BlockRef
        var known: [UInt64: Bytes32] = [:]
        if let header = try await rpc.header(number: cursorNumber) {
            cursor = header.ref
            known[header.number] = header.hash
        } else if startNumber <= (try await rpc.headNumber()) {
            // The block before the start is not on the node (before its first block, or pruned):
            // nothing to compare a fork against there, so start without a remembered hash.
            cursor = BlockRef(number: cursorNumber, hash: .zero)
        } else {
            throw ChainRPCError.unavailable(
                "the node has no block \(cursorNumber) yet (start block \(startNumber) is ahead of its head)")
        }
        var step = ChainStep()
        step.cursor = cursor
        step.blocks = known.map { BlockRef(number: $0.key, hash: $0.value) }
        _ = try await store.apply(step, stream: configuration.stream)
        update { $0.checkpoint = cursor }
        logger.info("listener: starting at block \(startNumber) (no checkpoint yet)")
        return SyncState(cursor: cursor, known: known)
    }

    // MARK: - Live

    /// How long the subscription must be silent before a due verification runs.
    static let verificationQuietPeriod = Duration.milliseconds(20)

    private func live(_ state: inout SyncState, _ subscription: any ChainSubscription) async throws {
        let clock = ContinuousClock()
        var lastHead = clock.now
        let poll = min(configuration.staleAfter, .seconds(1))
        // The block up to which a verification is due. A head that makes one due is followed at
        // once by its block's logs, so the `eth_getLogs` round trip waits until the subscription
        // is quiet (or the next head makes another due) instead of holding those logs up.
        var verification: UInt64? = nil
        // A notification read while gathering a block's logs that belongs to the next turn.
        var held: ChainNotification? = nil
        // The first head this subscription announced: it brings the logs of that block and every
        // later one. Blocks between the checkpoint and it (mined before it subscribed, above the
        // head the last sync reached) are read by a sync before later logs are delivered live.
        var coveredFrom: UInt64? = nil
        while true {
            try Task.checkCancellation()
            let notification: ChainNotification
            if let next = held {
                held = nil
                notification = next
            } else {
                let wait = verification == nil ? poll : Self.verificationQuietPeriod
                let arrived: ChainNotification?
                do {
                    arrived = try await subscription.next(timeout: wait)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    throw EventSourceError.subscriptionEnded(error)
                }
                guard let next = arrived else {
                    if let target = verification {
                        verification = nil
                        try await sync(&state, to: target)
                    } else if state.holdFrom != nil {
                        // Held logs are read as soon as the subscription is quiet, not only when
                        // the next head makes a verification due.
                        try await sync(&state, to: max(state.heldThrough, status.head ?? 0))
                    }
                    if clock.now - lastHead > configuration.staleAfter {
                        throw EventSourceError.staleSubscription
                    }
                    continue
                }
                notification = next
            }
            switch notification {
            case .log(let log):
                guard take(log, &state) else { continue }
                if log.blockNumber > state.cursor.number + 1,
                    (coveredFrom.map { $0 > state.cursor.number + 1 } ?? true)
                {
                    state.holdFrom = min(state.holdFrom ?? state.cursor.number + 1, state.cursor.number + 1)
                }
                // Logs of later blocks wait for a held one (see `holdFrom`).
                if let hold = state.holdFrom, log.blockNumber >= hold {
                    state.heldThrough = max(state.heldThrough, log.blockNumber)
                    continue
                }
                if let known = state.known[log.blockNumber] {
                    if known != log.blockHash {
                        logger.trace("resync: live log of block \(log.blockNumber) on another hash")
                        state.needsResync = true
                        continue
                    }
                } else {
                    // A block not seen yet: deliver its logs only once the node confirms the block
                    // is on its chain, so a late notification of an orphaned block (the node has
                    // already moved on) is never handed out. If the node cannot say yet, the next
                    // verification reads the block with eth_getLogs; nothing is lost.
                    // A different hash may be a backend that has not imported this branch yet,
                    // or a late notification of an orphaned block: either way a sync reads it.
                    guard let header = try? await rpc.header(number: log.blockNumber),
                        header.hash == log.blockHash
                    else {
                        state.holdFrom = log.blockNumber
                        state.heldThrough = max(state.heldThrough, log.blockNumber)
                        continue
                    }
                }
                state.known[log.blockNumber] = log.blockHash
                var step = ChainStep()
                step.logs = [(liveIdentity(log, &state), log)]
                // The block's further logs that have arrived already join this one: one store step
                // and one delivery for them all, instead of each waiting for the step before it.
                while let next = subscription.nextIfArrived() {
                    guard case .log(let more) = next, more.blockHash == log.blockHash, !more.removed else {
                        held = next
                        break
                    }
                    // A duplicate of a log taken already is dropped (the store would ignore it).
                    guard state.positions[more.blockHash]?[more.logIndex] == nil else { continue }
                    guard take(more, &state) else { continue }
                    step.logs.append((liveIdentity(more, &state), more))
                }
                logger.trace("listener: live step \(step.logs.map(\.log.blockNumber))")
                try await deliver(try await store.apply(step, stream: configuration.stream))
            case .head(let head):
                lastHead = clock.now
                if coveredFrom == nil { coveredFrom = head.number }
                // The node's head is this block: what it announced above it was another branch. A
                // head that does not hang off the announced parent switched branches (a node
                // notifies only the new tip): the older announcements may be of the old branch.
                // Heads at or below the checkpoint are old news (a queue behind a sync) and may be
                // of a branch abandoned since: only newer ones are taken as announcements.
                if head.number > state.cursor.number {
                    if head.number > 0, let parent = state.announced[head.number - 1],
                        parent != head.parentHash
                    {
                        state.announced = [:]
                    }
                    state.announced = state.announced.filter { $0.key < head.number }
                    state.announced[head.number] = head.hash
                    if head.number > 0 { state.announced[head.number - 1] = head.parentHash }
                }
                update { $0.head = max($0.head ?? 0, head.number) }
                if head.number > 0, let parent = state.known[head.number - 1], parent != head.parentHash {
                    logger.trace("resync: head \(head.number)'s parent is not the known block")
                    state.needsResync = true
                }
                if let same = state.known[head.number], same != head.hash {
                    logger.trace("resync: head \(head.number) is another block than the known one")
                    state.needsResync = true
                }
                // A head at or below the checkpoint whose block is not remembered (inside a range
                // read) says nothing by itself: the subscription's queue is often behind a sync. A
                // shorter branch is still caught, by the next verification's fork point check.
                if state.needsResync {
                    logger.notice(
                        "listener: reorg detected at head \(head.number); resyncing from the fork point")
                    // A node imports a new branch whole before it notifies, so resync to its head:
                    // a transaction re-included further up the branch is then seen, not retracted.
                    try await sync(&state, to: max(head.number, try await observeHead()))
                    state.needsResync = false
                    verification = nil
                    continue
                }
                state.known[head.number] = head.hash
                if head.number > 0, state.known[head.number - 1] == nil {
                    state.known[head.number - 1] = head.parentHash
                }
                if head.number >= state.cursor.number + 1 + configuration.verifyEvery
                    || (state.holdFrom != nil && head.number > state.heldThrough)
                {
                    // One verification waits at most until the next head.
                    if let due = verification { try await sync(&state, to: due) }
                    verification = head.number - 1
                }
            }
        }
    }

    /// Whether a live log goes on to be stored: it matches the filter, is not a removal (which
    /// makes a resync due), and is above the checkpoint. Announces it the first time it is seen.
    private func take(_ log: EthLog, _ state: inout SyncState) -> Bool {
        guard configuration.filter.matches(log) else {
            reject(log, "it does not match the subscription's filter")
            return false
        }
        if log.removed {
            logger.trace("resync: a removed log in block \(log.blockNumber)")
            state.needsResync = true
            return false
        }
        if log.blockNumber <= state.cursor.number { return false }  // confirmed already
        // Announced once: a duplicate notification of a log already taken is not.
        if state.positions[log.blockHash]?[log.logIndex] == nil { announce?(log) }
        return true
    }

    /// The identity of a live log: its position decides, so a duplicate notification maps to the
    /// identity already given, and identical logs of one transaction count up in log order.
    private func liveIdentity(_ log: EthLog, _ state: inout SyncState) -> LogIdentity {
        if let known = state.positions[log.blockHash]?[log.logIndex] { return known.identity }
        let base = LogIdentity(log: log, occurrence: 0)
        let earlier =
            state.positions[log.blockHash]?.filter { $0.key < log.logIndex && $0.value.base == base }.count
            ?? 0
        let identity = earlier == 0 ? base : LogIdentity(log: log, occurrence: earlier)
        state.positions[log.blockHash, default: [:]][log.logIndex] = (base, identity)
        return identity
    }

    private func reject(_ log: EthLog, _ reason: String) {
        update { $0.rejectedLogs += 1 }
        logger.warning("listener: ignoring a log from \(log.address) in block \(log.blockNumber): \(reason)")
    }

    private func deliver(_ events: [ChainEvent], counted: Bool = true) async throws {
        // A retraction of a log the filter no longer matches (a wallet no longer followed) only
        // means the resync did not ask for it: it is not handed out, and is settled at once.
        var delivered: [ChainEvent] = []
        var unfollowed: [ChainEvent] = []
        for event in events {
            if case .retracted(let log, _) = event, !configuration.filter.matches(log) {
                unfollowed.append(event)
            } else {
                delivered.append(event)
            }
        }
        if !unfollowed.isEmpty { try await store.acknowledge(unfollowed, stream: configuration.stream) }
        guard !delivered.isEmpty else { return }
        if counted {
            var logs = 0
            var retractions = 0
            for event in delivered {
                if case .log = event { logs += 1 } else { retractions += 1 }
            }
            update {
                $0.logsDelivered += logs
                $0.retractions += retractions
            }
        }
        for event in delivered { try await self.events.send(event) }
    }

    // MARK: - Sync

    /// Brings the checkpoint to `target`: finds the highest remembered block the node still has,
    /// fetches the logs above it with `eth_getLogs`, delivers new ones, moves re-included ones,
    /// and retracts the ones that vanished.
    ///
    /// Which delivered logs are checked for retraction: the fork point is the highest remembered
    /// block at or below the checkpoint that the node still has, and everything delivered at or
    /// below it is taken as settled; only the identities stored above it are candidates. That is
    /// sound only while every remembered hash at or below the checkpoint vouches for the blocks
    /// below it: no hash of a new branch may sit at or below the checkpoint while logs of the
    /// branch it replaced are still live there. A resync that rewinds therefore moves the
    /// checkpoint down to the fork point in its first step (see below), so that a resync cut off
    /// halfway (a dropped connection, a further reorg, `kill -9`) starts again from that fork point
    /// and finds the same candidates.
    private func sync(_ state: inout SyncState, to target: UInt64) async throws {
        let fork = try await forkPoint(state)
        let stream = configuration.stream
        // Logs delivered above the fork point up to the target (live ones, or a reorged branch's)
        // must be seen again in this range, or they are retracted. Above the target, only logs in
        // blocks the node no longer has (a shorter new branch, or a late notification of an
        // orphaned log) are candidates; they are checked even when there is nothing to fetch.
        // Identities survive re-inclusion (transaction hash and log content, not position): a
        // candidate seen anywhere in the new branch is moved, not retracted, and not delivered again.
        let stored = try await store.liveIdentities(stream: stream, aboveBlock: fork.number)
        var candidates = Set(stored.filter { $0.value.number <= target }.keys)
        let aboveTarget = Dictionary(grouping: stored.filter { $0.value.number > target }, by: \.value)
        for (block, logs) in aboveTarget {
            // A block the node does not have is "not yet", never "orphaned": a backend behind a
            // load balancer may lag the one that sent it (go-ethereum#24078). Its logs are checked
            // once a sync reaches their block.
            // No answer, or an error, is "not yet" too, checked again by a later sync; unless the
            // subscription's node announced a head below the block since: its chain got shorter.
            guard let header = try? await rpc.header(number: block.number) else {
                if let announcedHead = state.announced.keys.max(), announcedHead < block.number {
                    candidates.formUnion(logs.map(\.key))
                }
                continue
            }
            // An answer that contradicts the subscription is a backend behind it, not a reorg.
            if let announced = state.announced[block.number], announced != header.hash { continue }
            if header.hash != block.hash { candidates.formUnion(logs.map(\.key)) }
        }
        guard target > fork.number || fork.number < state.cursor.number || !candidates.isEmpty else { return }
        update { $0.syncTarget = target }
        logger.debug("listener: sync \(fork.number + 1)...\(target) (checkpoint \(state.cursor))")
        if fork.number < state.cursor.number {
            update { $0.reorgs += 1 }
            logger.notice("listener: rewinding checkpoint from \(state.cursor) to fork point \(fork)")
        }
        var from = fork.number + 1
        var range = learning.withLock { $0.range }
        var first = true
        var lastEnd = fork
        // The newest blocks are read one by one by block hash: see `hashReadDepth`.
        let newest = max(target, status.head ?? 0)
        let hashReadFrom =
            newest >= configuration.hashReadDepth ? newest - configuration.hashReadDepth + 1 : 0
        while from <= target {
            try Task.checkCancellation()
            let end: BlockHeader
            let to: UInt64
            let fetched: [EthLog]
            if from >= hashReadFrom {
                to = from
                let announced = state.announced[from]
                let header: BlockHeader
                do {
                    // The same other block four answers in a row is the node's chain (the
                    // subscription has moved on, its notification not read yet), not one backend.
                    var other: (hash: Bytes32, count: Int)? = nil
                    header = try await persistently("block \(from) as the subscription announced it") {
                        guard let header = try await rpc.header(number: from) else { return nil }
                        if announced == nil || header.hash == announced { return header }
                        other =
                            other?.hash == header.hash ? (header.hash, other!.count + 1) : (header.hash, 1)
                        return other!.count >= 4 ? header : nil
                    }
                } catch let error where announced != nil && !(error is CancellationError) {
                    // The node kept answering another block: the announcement was of a branch the
                    // subscription's node left since. Its answer stands (and is chained below).
                    state.announced[from] = nil
                    header = try await self.header(from)
                }
                // Each block must hang off the one read before it: the hashes chain the blocks
                // read one by one to each other and to the last range.
                if lastEnd.number + 1 == from, !lastEnd.hash.isZero, header.parentHash != lastEnd.hash {
                    throw ChainRPCError.unavailable(
                        "block \(lastEnd.number) was reorged during the resync; resyncing")
                }
                fetched = try await persistently("block \(from)'s logs") {
                    try await rpc.logs(configuration.filter, blockHash: header.hash)
                }
                end = header
            } else {
                to = min(target, from + range - 1, hashReadFrom - 1)
                // The range is read between two looks at its last block, and must hang off the
                // block the previous range ended with: a reorg during the read (or between two
                // ranges) would otherwise mix branches, and the checkpoint would skip the new
                // branch's logs.
                let before = try await header(to)
                do {
                    fetched =
                        to > from
                        ? try await rpc.logs(configuration.filter, from: from, to: to)
                        : try await persistently("block \(from)'s logs") {
                            try await rpc.logs(configuration.filter, from: from, to: to)
                        }
                } catch let error where to > from && !(error is CancellationError) {
                    // Providers refuse ranges in many dialects (codes, wordings, HTTP statuses,
                    // the detail only in `data`): any failure of a multi-block read halves it,
                    // down to one block, before it counts as a node failure. The learned range
                    // outlives reconnects.
                    range = learning.withLock {
                        $0.failed(span: to - from + 1)
                        return $0.range
                    }
                    update {
                        $0.rangeSplits += 1
                        $0.getLogsRange = range
                    }
                    logger.debug(
                        "listener: eth_getLogs \(from)...\(to) failed (\(error)); trying \(range) blocks")
                    continue
                }
                let after = try await header(to)
                guard after.hash == before.hash else {
                    throw ChainRPCError.unavailable(
                        "the chain moved while blocks \(from)...\(to) were read; resyncing")
                }
                if !lastEnd.hash.isZero, try await header(lastEnd.number).hash != lastEnd.hash {
                    throw ChainRPCError.unavailable(
                        "block \(lastEnd.number) was reorged during the resync; resyncing")
                }
                end = after
            }
            let logs = accept(fetched, from: from, to: to)
            if logs.contains(where: { $0.blockNumber == to && $0.blockHash != end.hash }) {
                throw ChainRPCError.unavailable("the chain moved while block \(to) was read; resyncing")
            }
            let identities = LogIdentity.identify(logs)
            candidates.subtract(identities)
            var step = ChainStep()
            step.logs = Array(zip(identities, logs))
            var blocks: [UInt64: Bytes32] = [end.number: end.hash]
            for log in logs { blocks[log.blockNumber] = log.blockHash }
            step.blocks = blocks.map { BlockRef(number: $0.key, hash: $0.value) }
            if first {
                step.forgetAbove = fork.number
                first = false
                state.known = state.known.filter { $0.key <= fork.number }
                state.positions = [:]
                // A reorg below the checkpoint: the checkpoint goes back to the fork point in the
                // same step that forgets the old branch's hashes and stores the new branch's first
                // ones. Until the candidates are all seen or retracted, the checkpoint cannot move
                // up; if it stayed where it was (on the old branch), the new branch's hashes stored
                // here would lie at or below it, and a resync that does not finish (a drop, a
                // further reorg, kill -9 before the last step) would start again from one of them:
                // every orphan below that block would then be out of the candidates for good,
                // delivered and never retracted.
                if fork.number < state.cursor.number { step.cursor = fork }
            }
            if candidates.isEmpty {
                step.cursor = end.ref
                step.pruneBelow =
                    end.number > configuration.reorgWindow ? end.number - configuration.reorgWindow : nil
            }
            logger.trace("listener: sync step \(from)...\(to) \(step.logs.map(\.log.blockNumber))")
            try await deliver(try await store.apply(step, stream: stream))
            for (number, hash) in blocks { state.known[number] = hash }
            if let cursor = step.cursor {
                state.cursor = cursor
                update { $0.checkpoint = cursor }
            }
            lastEnd = end.ref
            update { $0.rangesFetched += 1 }
            if from < hashReadFrom {
                // Only range reads say something about the range.
                range = learning.withLock {
                    $0.read(
                        span: to - from + 1, logs: logs.count, maximumLogs: configuration.maximumLogsPerRange)
                    return $0.range
                }
                update { $0.getLogsRange = range }
            }
            if state.known.count > 4 * Int(configuration.reorgWindow) + 64 {
                // A long resync remembers only the hashes a reorg check can still need.
                forgetHashes(&state, belowWindowOf: end.number)
            }
            from = to + 1
        }
        if state.cursor != lastEnd || !candidates.isEmpty {
            var step = ChainStep()
            step.retractions = candidates.sorted()
            step.cursor = lastEnd
            if first {
                step.forgetAbove = fork.number
                state.known = state.known.filter { $0.key <= fork.number }
            }
            step.blocks = [lastEnd]
            try await deliver(try await store.apply(step, stream: stream))
            state.cursor = lastEnd
            state.known[lastEnd.number] = lastEnd.hash
            update { $0.checkpoint = lastEnd }
        }
        forgetHashes(&state, belowWindowOf: state.cursor.number)
        if state.holdFrom != nil, state.cursor.number >= state.heldThrough {
            state.holdFrom = nil
            state.heldThrough = 0
        }
    }

    /// Drops the remembered block hashes below the reorg window that ends at `block`.
    private func forgetHashes(_ state: inout SyncState, belowWindowOf block: UInt64) {
        let floor = block > configuration.reorgWindow ? block - configuration.reorgWindow : 0
        state.known = state.known.filter { $0.key >= floor }
        state.announced = state.announced.filter { $0.key >= floor }
    }

    /// Logs the node returned for `[from, to]` that really belong there; the rest are counted.
    private func accept(_ logs: [EthLog], from: UInt64, to: UInt64) -> [EthLog] {
        var accepted: [EthLog] = []
        accepted.reserveCapacity(logs.count)
        for log in logs {
            if log.removed {
                reject(log, "eth_getLogs returned a removed log")
            } else if log.blockNumber < from || log.blockNumber > to {
                reject(log, "it is outside the requested range \(from)...\(to)")
            } else if !configuration.filter.matches(log) {
                reject(log, "it does not match the filter")
            } else {
                accepted.append(log)
            }
        }
        accepted.sort { ($0.blockNumber, $0.logIndex) < ($1.blockNumber, $1.logIndex) }
        return accepted
    }

    /// The highest remembered block at or below the checkpoint that the node still has with the
    /// same hash (normally the checkpoint itself).
    private func forkPoint(_ state: SyncState) async throws -> BlockRef {
        // A zero hash is a start before the node's first block: nothing to compare there.
        let remembered = state.known.filter { $0.key <= state.cursor.number && !$0.value.isZero }
            .sorted { $0.key > $1.key }
        if remembered.isEmpty { return state.cursor }  // nothing remembered to compare (a fresh start)
        for (number, hash) in remembered {
            // A node without the block is behind us (a lagging backend): "not yet", retried.
            // A block the subscription announced on another branch is not a fork point, even if a
            // backend that has not imported that branch yet still confirms it.
            if let announced = state.announced[number], announced != hash { continue }
            let header = try await header(number)
            if header.hash == hash { return BlockRef(number: number, hash: hash) }
        }
        let lowest = remembered.last?.key ?? state.cursor.number
        update { $0.deepReorgs += 1 }
        logger.error(
            "listener: no remembered block is canonical any more: a reorg deeper than chain.reorg_window (\(configuration.reorgWindow)); resyncing from block \(lowest)"
        )
        let floor = lowest == 0 ? 0 : lowest - 1
        return BlockRef(number: floor, hash: .zero)
    }
}

/// The `eth_getLogs` range a provider takes, as learned from its answers.
///
/// Any failure of a multi-block read halves the range (providers refuse in too many dialects to
/// tell a limit from other trouble), and the span that failed becomes a ceiling the range does not
/// grow back to. A transient failure also lowers it, so the ceiling is forgotten after
/// ``probeAfter`` good reads, and the range grows back by doubling after each whole read.
struct RangeLearning: Sendable {
    /// Good reads after which a failed span is tried again.
    static let probeAfter = 64

    var range: UInt64
    let maximum: UInt64
    var ceiling: UInt64? = nil
    var goodReads = 0

    init(range: UInt64, maximum: UInt64) {
        self.maximum = max(1, maximum)
        self.range = min(max(1, range), self.maximum)
    }

    /// A read of `span` blocks failed.
    mutating func failed(span: UInt64) {
        range = max(1, span / 2)
        ceiling = min(ceiling ?? .max, span)
        goodReads = 0
    }

    /// A read of `span` blocks returned `logs` logs.
    mutating func read(span: UInt64, logs: Int, maximumLogs: Int) {
        goodReads += 1
        if ceiling != nil, goodReads >= Self.probeAfter { ceiling = nil }
        if logs > maximumLogs {
            range = max(1, span / 2)
        } else if logs <= maximumLogs / 2, span >= range {
            let grown = min(maximum, range * 2)
            range = ceiling.map { grown >= $0 ? range : grown } ?? grown
        }
    }
}

/// Failures the source handles itself.
enum EventSourceError: Error {
    /// No head for `staleAfter` on an open subscription.
    case staleSubscription
    /// The subscription (the WebSocket) ended: subscribe again.
    case subscriptionEnded(any Error)

    /// The failure behind this one, for logs.
    var underlying: any Error {
        switch self {
        case .staleSubscription: self
        case .subscriptionEnded(let error): error
        }
    }
}
