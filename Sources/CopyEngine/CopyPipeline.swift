import EVM
import Synchronization

/// Routes trades from any event source to a handler: in source order within one token (a BUY then
/// a SELL of the same token are never reordered), concurrently across tokens up to
/// `maxConcurrency`, with at most `maxBuffered` events read and not yet completed (backpressure:
/// the source is not read further until one completes; nothing is dropped).
///
/// Generic over the source, so it can be fed from the listener's trade feed, a replay, or a test.
public struct CopyPipeline: Sendable {
    /// Handlers running at once, across tokens.
    public let maxConcurrency: Int
    /// Events read from the source and not yet completed.
    public let maxBuffered: Int

    /// Creates a pipeline.
    public init(maxConcurrency: Int = 8, maxBuffered: Int = 256) {
        precondition(maxConcurrency > 0 && maxBuffered > 0, "limits must be positive")
        self.maxConcurrency = maxConcurrency
        self.maxBuffered = max(maxBuffered, maxConcurrency)
    }

    /// Runs until `source` ends (or throws, or the task is cancelled), then waits for every event
    /// read to complete. Events of one lane never overlap: each is handled after the one before it
    /// is done.
    ///
    /// - Parameters:
    ///   - source: the events.
    ///   - lane: the ordering key of an event (the token id): events with equal keys are handled one
    ///     at a time, in source order.
    ///   - handle: decides one event.
    ///   - completed: called after `handle`, in the same lane order (acknowledge the event here).
    ///     The lane's next event is handled while it runs: a completion's store write does not hold
    ///     up the next trade of the token; the next completion waits for it.
    public func run<Source: AsyncSequence, Result: Sendable>(
        _ source: Source,
        lane: @escaping @Sendable (Source.Element) -> UInt256,
        handle: @escaping @Sendable (Source.Element) async -> Result,
        completed: @escaping @Sendable (Source.Element, Result) async -> Void
    ) async throws where Source.Element: Sendable {
        try await run(
            source, lane: lane, overlapping: { _, _ in false },
            handle: { element, _ in await handle(element) },
            completed: completed)
    }

    /// Runs until `source` ends (or throws, or the task is cancelled), then waits for every event
    /// read to complete, letting a lane's next event start before the one before it is done when
    /// that one says so and `overlapping` agrees.
    ///
    /// Within a lane, events start in source order. An event starts when every earlier event of
    /// its lane is done, or when every earlier one still running has released its ``LaneTurn``
    /// and `overlapping` holds between each of them and it. An event that may not overlap waits
    /// for every earlier one to be settled (``LaneTurn/settle()``; done at the latest).
    ///
    /// - Parameters:
    ///   - source: the events.
    ///   - lane: the ordering key of an event (the token id).
    ///   - overlapping: whether `next` may start beside `running`, an earlier event of its lane that
    ///     released its turn and is not done.
    ///   - handle: decides one event; it may release its turn once what the lane's next event must
    ///     see of it is in place (when that event may overlap it), and settle it once what any
    ///     later event must see of it is.
    ///   - completed: called after `handle`, in lane order, one at a time per lane (acknowledge the
    ///     event here). The lane's next event is handled while it runs.
    public func run<Source: AsyncSequence, Result: Sendable>(
        _ source: Source,
        lane: @escaping @Sendable (Source.Element) -> UInt256,
        overlapping: @escaping @Sendable (_ running: Source.Element, _ next: Source.Element) -> Bool,
        handle: @escaping @Sendable (Source.Element, LaneTurn) async -> Result,
        completed: @escaping @Sendable (Source.Element, Result) async -> Void
    ) async throws where Source.Element: Sendable {
        try await run(
            source, lane: lane, overlapping: overlapping, prepare: { _ in () },
            handle: { element, _, turn in await handle(element, turn) }, completed: completed)
    }

    /// Runs until `source` ends (or throws, or the task is cancelled), then waits for every event
    /// read to complete, as ``run(_:lane:overlapping:handle:completed:)`` does, and prepares each
    /// event of a lane while the one before it is handled, even when it may not overlap it.
    ///
    /// `prepare` is for work that does not depend on how the earlier events of the lane end (for
    /// the copy engine, the store step that reads whether the trade was decided and applies it to
    /// the followed wallet's holding, or takes a retracted one off it). Within a lane, preparations
    /// run in source order, one at a time: an event is prepared once the one before it is prepared
    /// and every earlier one but that one has released its turn, so a lane prepares at most one
    /// event ahead of the turns. `handle` runs once every earlier event has released its turn, when
    /// `overlapping` allows (at once beside those it may overlap, after every other earlier one is
    /// settled). An event waiting for earlier ones between its preparation and its handling holds
    /// no permit of `maxConcurrency`.
    ///
    /// - Parameters:
    ///   - source: the events.
    ///   - lane: the ordering key of an event (the token id).
    ///   - overlapping: whether `next` may be handled beside `running`, an earlier event of its lane
    ///     that released its turn and is not done.
    ///   - prepare: the part of an event's handling that may run beside the earlier events of its
    ///     lane, in their order.
    ///   - handle: decides one event, given what `prepare` returned; it may release its turn once
    ///     what the lane's next event must see of it is in place, and settle it once what any later
    ///     event must see of it is.
    ///   - completed: called after `handle`, in lane order, one at a time per lane.
    public func run<Source: AsyncSequence, Prepared: Sendable, Result: Sendable>(
        _ source: Source,
        lane: @escaping @Sendable (Source.Element) -> UInt256,
        overlapping: @escaping @Sendable (_ running: Source.Element, _ next: Source.Element) -> Bool,
        prepare: @escaping @Sendable (Source.Element) async -> Prepared,
        handle: @escaping @Sendable (Source.Element, Prepared, LaneTurn) async -> Result,
        completed: @escaping @Sendable (Source.Element, Result) async -> Void
    ) async throws where Source.Element: Sendable {
        let lanes = Lanes<Source.Element>()
        let buffered = AsyncSemaphore(permits: maxBuffered)
        let running = AsyncSemaphore(permits: maxConcurrency)
        try await withThrowingDiscardingTaskGroup { group in
            var iterator = source.makeAsyncIterator()
            while true {
                // A permit first: the source is not read while `maxBuffered` events are in flight.
                try await buffered.acquire()
                guard let element = try await iterator.next() else {
                    buffered.release()
                    break
                }
                let key = lane(element)
                guard lanes.enqueue(element, lane: key) else { continue }
                group.addTask {
                    await Self.drain(
                        lane: key, lanes: lanes, running: running, buffered: buffered,
                        overlapping: overlapping, prepare: prepare, handle: handle, completed: completed)
                }
            }
        }
    }

    /// Drains one lane: starts its events in order, each once the one before it is prepared and
    /// the one before that released its turn (prepared at once, handled once every earlier one
    /// released its turn, beside those it may overlap and after the others are settled), and
    /// completes them in order, each completion after the one before it, beside the
    /// next events' handling. The lane stays busy until the last completion has run.
    private static func drain<Element: Sendable, Prepared: Sendable, Result: Sendable>(
        lane key: UInt256, lanes: Lanes<Element>, running: AsyncSemaphore, buffered: AsyncSemaphore,
        overlapping: @escaping @Sendable (Element, Element) -> Bool,
        prepare: @escaping @Sendable (Element) async -> Prepared,
        handle: @escaping @Sendable (Element, Prepared, LaneTurn) async -> Result,
        completed: @escaping @Sendable (Element, Result) async -> Void
    ) async {
        // Woken by an event of the lane arriving or a handler ending (whichever the loop waits for).
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        lanes.wake(wake, onEnqueue: key)
        defer { wake.finish() }
        var wakeups = wakes.makeAsyncIterator()
        await withDiscardingTaskGroup { handlers in
            // Started and not yet completed, oldest first.
            var started: [Handling<Element, Result>] = []
            var completing: Task<Void, Never>?
            func start(_ element: Element) async {
                await running.acquireIgnoringCancellation()
                let handling = Handling<Element, Result>(element)
                let earlier = started
                let awaited = earlier.filter { !overlapping($0.element, element) }
                started.append(handling)
                handlers.addTask {
                    let prepared = await prepare(element)
                    handling.markPrepared()
                    // Waiting, it holds no permit: the earlier events it waits for may need them.
                    if earlier.contains(where: { !$0.turn.isReleased })
                        || awaited.contains(where: { !$0.turn.isSettled })
                    {
                        running.release()
                        for event in earlier { await event.turn.released() }
                        for event in awaited { await event.turn.settled() }
                        await running.acquireIgnoringCancellation()
                    }
                    let result = await handle(element, prepared, handling.turn)
                    running.release()
                    handling.finish(result)
                    wake.yield()
                }
            }
            func complete(_ handling: Handling<Element, Result>, _ result: Result) {
                completing = Task { [completing] in
                    await completing?.value
                    await completed(handling.element, result)
                    buffered.release()
                }
            }
            while true {
                // Those done, oldest first, go to their completions.
                while let oldest = started.first, let result = oldest.finished {
                    started.removeFirst()
                    complete(oldest, result)
                }
                if let last = started.last {
                    // Every event before the one before `last` released its turn when `last`
                    // started. Once `last` is prepared and the one before it released its turn too,
                    // the next starts: it is prepared at once, and handled once `last` releases its
                    // turn (and every earlier one it may not overlap is settled). So at most one event
                    // of a lane is prepared ahead of an earlier turn.
                    await last.prepared()
                    if started.count >= 2 { await started[started.count - 2].turn.released() }
                    if let next = lanes.next(lane: key, keepBusy: true) {
                        await start(next)
                        continue
                    }
                    // Nothing queued yet: the next event of the lane may arrive before the oldest
                    // one is done, and then starts at once. Once the drain is cancelled the wake-ups
                    // end (the source is read no further), and it waits for the oldest to be done.
                    if let oldest = started.first, oldest.finished == nil, await wakeups.next() == nil {
                        _ = await oldest.result()
                    }
                    continue
                }
                guard let next = lanes.next(lane: key, keepBusy: completing != nil) else {
                    guard let last = completing else { break }
                    await last.value
                    completing = nil
                    continue
                }
                await start(next)
            }
        }
    }

    /// Runs the engine over `source`, mapping each element to a ``CopyTrade``: a trade may be
    /// decided beside an earlier one of its token on the same side whose order is on its way
    /// (``CopyEngine/mayOverlap(running:next:)``), and begins (``CopyEngine/begin(_:)``) while the
    /// one before it is decided.
    public func run<Source: AsyncSequence>(
        _ source: Source, engine: CopyEngine,
        trade: @escaping @Sendable (Source.Element) -> CopyTrade,
        completed: @escaping @Sendable (Source.Element, CopyDecision) async -> Void
    ) async throws where Source.Element: Sendable {
        try await run(
            source, lane: { trade($0).trade.tokenId },
            overlapping: { CopyEngine.mayOverlap(running: trade($0), next: trade($1)) },
            prepare: { await engine.begin(trade($0)) },
            handle: { await engine.handle(trade($0), turn: $2, begun: $1) }, completed: completed)
    }
}

/// Handed to the handler of each event: releasing it lets the lane's next event start before this
/// one is done (see ``CopyPipeline/run(_:lane:overlapping:handle:completed:)``), and settling it
/// lets every later one start. Released and settled at the latest when the handler returns;
/// releasing or settling it again does nothing.
public final class LaneTurn: Sendable {
    private let signal = OneShot<Void>()
    private let settlement = OneShot<Void>()

    /// A turn not released yet.
    public init() {}

    /// Whether the turn was released.
    public var isReleased: Bool { signal.value != nil }

    /// Whether the event was settled.
    public var isSettled: Bool { settlement.value != nil }

    /// Lets the lane's next event start, if it may run beside this one.
    public func release() { signal.set(()) }

    /// Lets the lane's later events be handled even when they may not run beside this one: what
    /// they must see of it is in place, and what remains of its handling does not concern them
    /// (for the copy engine: its order's answer is booked, and only its bookkeeping writes remain).
    /// Releases the turn too. Settled at the latest when the handler returns.
    public func settle() {
        signal.set(())
        settlement.set(())
    }

    /// Returns once the turn is released.
    func released() async { await signal.wait() }

    /// Returns once the event is settled.
    func settled() async { await settlement.wait() }
}

/// One event of a lane being handled: whether it is prepared, its turn, and its result once the
/// handler is done.
final class Handling<Element: Sendable, Result: Sendable>: Sendable {
    let element: Element
    let turn = LaneTurn()
    private let outcome = OneShot<Result>()

    private let preparation = OneShot<Void>()

    init(_ element: Element) { self.element = element }

    /// Notes that its preparation is done.
    func markPrepared() { preparation.set(()) }

    /// Returns once its preparation is done.
    func prepared() async { await preparation.wait() }

    /// Records the handler's result, and settles the turn.
    func finish(_ result: Result) {
        outcome.set(result)
        turn.settle()
    }

    /// The handler's result if it is done.
    var finished: Result? { outcome.value }

    /// The handler's result, once it is done.
    func result() async -> Result { await outcome.wait() }
}

/// A value set once, and the tasks waiting for it.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [CheckedContinuation<Value, Never>] = []
    }

    private let state = Mutex(State())

    /// The value, once set.
    var value: Value? { state.withLock { $0.value } }

    /// Sets the value and resumes the tasks waiting for it; only the first call sets it.
    func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, once it is set.
    func wait() async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let now = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

/// Per-lane FIFO queues; a lane has at most one drainer.
final class Lanes<Element: Sendable>: Sendable {
    private struct Lane {
        var queue: [Element]
        /// Told of each element appended while the lane is busy (its drainer may be waiting).
        var wake: AsyncStream<Void>.Continuation?
    }

    private let lanes = Mutex<[UInt256: Lane]>([:])

    /// Appends; true when the lane was idle (the caller starts a drainer).
    func enqueue(_ element: Element, lane: UInt256) -> Bool {
        let (idle, wake) = lanes.withLock { lanes -> (Bool, AsyncStream<Void>.Continuation?) in
            if lanes[lane] != nil {
                lanes[lane]!.queue.append(element)
                return (false, lanes[lane]!.wake)
            }
            lanes[lane] = Lane(queue: [element])
            return (true, nil)
        }
        wake?.yield()
        return idle
    }

    /// Tells `wake` of every element appended to the busy lane from now until it is idle.
    func wake(_ wake: AsyncStream<Void>.Continuation, onEnqueue lane: UInt256) {
        lanes.withLock { $0[lane]?.wake = wake }
    }

    /// The lane's next element (the lane stays busy while it is handled); nil when nothing is
    /// left, and the lane is then idle unless `keepBusy` (its drainer has work to finish first).
    func next(lane: UInt256, keepBusy: Bool = false) -> Element? {
        lanes.withLock { lanes in
            guard lanes[lane] != nil else { return nil }
            if lanes[lane]!.queue.isEmpty {
                if !keepBusy { lanes[lane] = nil }
                return nil
            }
            return lanes[lane]!.queue.removeFirst()
        }
    }
}

/// A counting semaphore for tasks (FIFO).
final class AsyncSemaphore: Sendable {
    struct Waiter {
        var id: UInt64
        var resume: @Sendable (Result<Void, CancellationError>) -> Void
    }

    struct State {
        var permits: Int
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Waiters cancelled before they were queued.
        var cancelled: Set<UInt64> = []
    }

    private let state: Mutex<State>

    init(permits: Int) { self.state = Mutex(State(permits: permits)) }

    /// Waits for a permit; throws `CancellationError` if the task is cancelled while waiting.
    func acquire() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Void, any Error>) in
                let granted: Bool? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return false }
                    if state.permits > 0 {
                        state.permits -= 1
                        return true
                    }
                    state.waiters.append(
                        Waiter(id: id) { continuation.resume(with: $0.mapError { $0 as any Error }) })
                    return nil
                }
                switch granted {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index)
                }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume(.failure(CancellationError()))
        }
    }

    /// Waits for a permit whatever the task's cancellation (for work already accepted).
    func acquireIgnoringCancellation() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.nextID += 1
                state.waiters.append(Waiter(id: state.nextID) { _ in continuation.resume() })
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Returns a permit, handing it to the oldest waiter if there is one.
    func release() {
        let waiter = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.permits += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(.success(()))
    }
}
