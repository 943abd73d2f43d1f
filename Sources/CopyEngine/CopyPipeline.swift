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
    /// read to complete.
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
                    // Drain the lane: one event at a time, in order, until it is empty. Each
                    // completion runs after the one before it, beside the next event's handling;
                    // the lane stays busy until the last one has run.
                    var completing: Task<Void, Never>?
                    while true {
                        guard let next = lanes.next(lane: key, keepBusy: completing != nil) else {
                            guard let last = completing else { break }
                            await last.value
                            completing = nil
                            continue
                        }
                        await running.acquireIgnoringCancellation()
                        let result = await handle(next)
                        running.release()
                        completing = Task { [completing] in
                            await completing?.value
                            await completed(next, result)
                            buffered.release()
                        }
                    }
                }
            }
        }
    }

    /// Runs the engine over `source`, mapping each element to a ``CopyTrade``.
    public func run<Source: AsyncSequence>(
        _ source: Source, engine: CopyEngine,
        trade: @escaping @Sendable (Source.Element) -> CopyTrade,
        completed: @escaping @Sendable (Source.Element, CopyDecision) async -> Void
    ) async throws where Source.Element: Sendable {
        try await run(
            source, lane: { trade($0).trade.tokenId },
            handle: { await engine.handle(trade($0)) }, completed: completed)
    }
}

/// Per-lane FIFO queues; a lane has at most one drainer.
final class Lanes<Element: Sendable>: Sendable {
    private let queues = Mutex<[UInt256: [Element]]>([:])

    /// Appends; true when the lane was idle (the caller starts a drainer).
    func enqueue(_ element: Element, lane: UInt256) -> Bool {
        queues.withLock { queues in
            if queues[lane] != nil {
                queues[lane]!.append(element)
                return false
            }
            queues[lane] = [element]
            return true
        }
    }

    /// The lane's next element (the lane stays busy while it is handled); nil when nothing is
    /// left, and the lane is then idle unless `keepBusy` (its drainer has work to finish first).
    func next(lane: UInt256, keepBusy: Bool = false) -> Element? {
        queues.withLock { queues in
            guard var queue = queues[lane] else { return nil }
            if queue.isEmpty {
                if !keepBusy { queues[lane] = nil }
                return nil
            }
            let element = queue.removeFirst()
            queues[lane] = queue
            return element
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
