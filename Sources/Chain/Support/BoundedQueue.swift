import Synchronization

/// A FIFO queue between tasks with a fixed capacity: `send` suspends while it is full, `next`
/// suspends while it is empty. Nothing is ever dropped; a slow consumer slows the producer.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var head = 0
        var finished: (any Error)?? = nil
        var waitingConsumer: CheckedContinuation<Element?, any Error>? = nil
        var consumerWaitID: UInt64 = 0
        var waitingProducers: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0

        var count: Int { buffer.count - head }

        mutating func popFirst() -> Element? {
            guard head < buffer.count else { return nil }
            let element = buffer[head]
            head += 1
            if head > 1024 && head * 2 > buffer.count {
                buffer.removeFirst(head)
                head = 0
            }
            return element
        }
    }

    private enum SendAction { case done, wait(UInt64), closed }

    /// The most elements held before `send` waits.
    public let capacity: Int
    private let state = Mutex(State())

    /// Why a send failed.
    public struct Closed: Error, Hashable, Sendable {}

    /// Creates a queue holding at most `capacity` elements.
    public init(capacity: Int) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
    }

    /// Elements waiting.
    public var count: Int { state.withLock { $0.count } }

    /// Appends `element`, waiting while the queue is full. Throws ``Closed`` once finished, and
    /// `CancellationError` if the sending task is cancelled while it waits.
    public func send(_ element: Element) async throws {
        while true {
            let action: SendAction = state.withLock { s in
                if s.finished != nil { return .closed }
                if let consumer = s.waitingConsumer {
                    s.waitingConsumer = nil
                    consumer.resume(returning: element)
                    return .done
                }
                if s.count < capacity {
                    s.buffer.append(element)
                    return .done
                }
                s.nextID += 1
                return .wait(s.nextID)
            }
            switch action {
            case .done: return
            case .closed: throw Closed()
            case .wait(let id):
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation {
                        (continuation: CheckedContinuation<Void, any Error>) in
                        let resumeNow: Bool = state.withLock { s in
                            if s.count < capacity || s.finished != nil || Task.isCancelled { return true }
                            s.waitingProducers.append((id, continuation))
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                        guard let i = s.waitingProducers.firstIndex(where: { $0.id == id }) else {
                            return nil
                        }
                        return s.waitingProducers.remove(at: i).continuation
                    }
                    waiter?.resume(throwing: CancellationError())
                }
                try Task.checkCancellation()
            }
        }
    }

    /// Appends `element` without waiting: false when the queue is full or finished. For producers
    /// that cannot suspend (a C callback thread), which must then stop reading until there is room.
    public func trySend(_ element: Element) -> Bool {
        let consumer: CheckedContinuation<Element?, any Error>?? = state.withLock { s in
            if s.finished != nil { return .none }
            if let consumer = s.waitingConsumer {
                s.waitingConsumer = nil
                return .some(consumer)
            }
            guard s.count < capacity else { return .none }
            s.buffer.append(element)
            return .some(nil)
        }
        switch consumer {
        case .none: return false
        case .some(let waiting):
            waiting?.resume(returning: element)
            return true
        }
    }

    /// Removes and returns the first element, waiting while the queue is empty. Returns nil when
    /// the queue finished normally and is drained; rethrows the error it finished with.
    public func next() async throws -> Element? {
        try await next(timeout: nil)
    }

    /// Like ``next()``, but returns nil after `timeout` if nothing arrived (check ``isFinished``
    /// to tell a timeout from the end).
    public func next(timeout: Duration?) async throws -> Element? {
        if let element = takeImmediately() { return element }
        if state.withLock({ $0.finished != nil && $0.count == 0 }) { return try finishedResult() }
        let waitID = state.withLock { s -> UInt64 in
            s.consumerWaitID += 1
            return s.consumerWaitID
        }
        let timer: Task<Void, Never>? = timeout.map { timeout in
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self?.resumeConsumer(waitID: waitID, with: .success(nil))
            }
        }
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Element?, any Error>) in
                let immediate: Result<Element?, any Error>? = state.withLock { s in
                    if let element = s.popFirst() {
                        resumeOneProducer(&s)
                        return .success(element)
                    }
                    if let finished = s.finished {
                        if let error = finished { return .failure(error) }
                        return .success(nil)
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    precondition(s.waitingConsumer == nil, "BoundedQueue supports one consumer")
                    s.waitingConsumer = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            resumeConsumer(waitID: waitID, with: .failure(CancellationError()))
        }
    }

    /// Removes and returns the first element if one is queued, without waiting; nil if none is
    /// (check ``isFinished`` to tell an empty queue from its end).
    public func nextIfQueued() -> Element? {
        takeImmediately()
    }

    /// Whether ``finish(throwing:)`` was called.
    public var isFinished: Bool { state.withLock { $0.finished != nil } }

    /// Ends the queue: waiting producers fail with ``Closed``; the consumer drains what is left,
    /// then gets nil (or `error`).
    public func finish(throwing error: (any Error)? = nil) {
        let (consumer, producers) = state.withLock {
            s -> (CheckedContinuation<Element?, any Error>?, [CheckedContinuation<Void, any Error>]) in
            guard s.finished == nil else { return (nil, []) }
            s.finished = .some(error)
            let consumer = s.count == 0 ? s.waitingConsumer : nil
            if consumer != nil { s.waitingConsumer = nil }
            let producers = s.waitingProducers.map(\.continuation)
            s.waitingProducers = []
            return (consumer, producers)
        }
        if let consumer {
            if let error { consumer.resume(throwing: error) } else { consumer.resume(returning: nil) }
        }
        for producer in producers { producer.resume() }
    }

    private func takeImmediately() -> Element? {
        state.withLock { s in
            guard let element = s.popFirst() else { return nil }
            resumeOneProducer(&s)
            return element
        }
    }

    private func finishedResult() throws -> Element? {
        let finished = state.withLock { $0.finished }
        if case .some(.some(let error)) = finished { throw error }
        return nil
    }

    private func resumeOneProducer(_ s: inout State) {
        guard !s.waitingProducers.isEmpty else { return }
        s.waitingProducers.removeFirst().continuation.resume()
    }

    private func resumeConsumer(waitID: UInt64, with result: Result<Element?, any Error>) {
        let consumer = state.withLock { s -> CheckedContinuation<Element?, any Error>? in
            guard s.consumerWaitID == waitID, let consumer = s.waitingConsumer else { return nil }
            s.waitingConsumer = nil
            return consumer
        }
        consumer?.resume(with: result)
    }
}

extension BoundedQueue: AsyncSequence {
    /// Iterates until the queue finishes.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let queue: BoundedQueue
        public mutating func next() async throws -> Element? { try await queue.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}
