import Synchronization

/// The events of a ``WebSocketClient``: an `AsyncSequence` with backpressure.
///
/// Unlike a bounded `AsyncStream` it never drops: when the consumer falls behind (more than
/// ``WebSocketConfiguration/maxBufferedEvents`` events or ``WebSocketConfiguration/maxBufferedBytes``
/// bytes waiting), the client stops reading from the socket until the backlog is down to half.
/// Iterate it from one task at a time. Cancelling the iterating task ends that iteration without
/// losing anything: a later iteration continues where it stopped.
public struct WebSocketEventStream: AsyncSequence, Sendable {
    public typealias Element = WebSocketEvent
    public typealias Failure = Never

    let buffer: EventBuffer

    public func makeAsyncIterator() -> Iterator {
        Iterator(buffer: buffer)
    }

    /// Iterator of a ``WebSocketEventStream``.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = WebSocketEvent
        public typealias Failure = Never

        let buffer: EventBuffer

        public mutating func next() async -> WebSocketEvent? {
            await buffer.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> WebSocketEvent? {
            await buffer.next()
        }
    }
}

/// The queue between the service thread (producer) and the consumer, with high/low water marks.
///
/// The producer learns from ``push(_:)`` that the backlog is at the high-water mark and should stop
/// reading; the consumer, on draining to the low-water mark, calls `onBelowLowWater` once so the
/// producer resumes. Neither side ever blocks the other.
final class EventBuffer: Sendable {
    private struct State {
        var queue = FIFO<WebSocketEvent>()
        var bytes = 0
        var waiter: CheckedContinuation<WebSocketEvent?, Never>?
        var finished = false
        /// The producer was told to pause and has not been told to resume yet.
        var producerPaused = false
    }

    private let state = Mutex(State())
    private let highWaterCount: Int
    private let highWaterBytes: Int
    private let onBelowLowWater: @Sendable () -> Void

    init(highWaterCount: Int, highWaterBytes: Int, onBelowLowWater: @escaping @Sendable () -> Void) {
        self.highWaterCount = max(2, highWaterCount)
        self.highWaterBytes = max(1, highWaterBytes)
        self.onBelowLowWater = onBelowLowWater
    }

    private static func size(of event: WebSocketEvent) -> Int {
        if case .message(let message) = event { message.byteCount } else { 0 }
    }

    private func isHigh(_ s: State) -> Bool {
        s.queue.count >= highWaterCount || s.bytes >= highWaterBytes
    }

    private func isLow(_ s: State) -> Bool {
        s.queue.count <= highWaterCount / 2 && s.bytes <= highWaterBytes / 2
    }

    /// Appends an event (never drops it). Returns `true` when the producer should pause reading;
    /// it will then be told to resume through `onBelowLowWater`.
    @discardableResult
    func push(_ event: WebSocketEvent) -> Bool {
        let (waiter, pause): (CheckedContinuation<WebSocketEvent?, Never>?, Bool) = state.withLock { s in
            if s.finished { return (nil, false) }
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, false)
            }
            s.queue.append(event)
            s.bytes += Self.size(of: event)
            if isHigh(s) {
                s.producerPaused = true
                return (nil, true)
            }
            return (nil, false)
        }
        waiter?.resume(returning: event)
        return pause
    }

    /// Ends the sequence once the remaining events are consumed.
    func finish() {
        let waiter = state.withLock { s in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Events waiting for the consumer.
    var count: Int { state.withLock { $0.queue.count } }

    func next() async -> WebSocketEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<WebSocketEvent?, Never>) in
                enum Outcome {
                    case deliver(WebSocketEvent?, resumeProducer: Bool)
                    case wait
                }
                let outcome: Outcome = state.withLock { s in
                    if let event = s.queue.popFirst() {
                        s.bytes -= Self.size(of: event)
                        var resume = false
                        if s.producerPaused, isLow(s) {
                            s.producerPaused = false
                            resume = true
                        }
                        return .deliver(event, resumeProducer: resume)
                    }
                    if s.finished || Task.isCancelled { return .deliver(nil, resumeProducer: false) }
                    precondition(
                        s.waiter == nil, "WebSocketEventStream must be iterated by one task at a time")
                    s.waiter = continuation
                    return .wait
                }
                if case .deliver(let event, let resume) = outcome {
                    if resume { onBelowLowWater() }
                    continuation.resume(returning: event)
                }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// A first-in first-out queue with amortised O(1) operations.
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head].take()
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.count <= 4096)
            head = 0
        } else if head >= 1024, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }

    var first: Element? { head < storage.count ? storage[head] : nil }
}
