import Chain
import Testing

@Suite("BoundedQueue")
struct BoundedQueueTests {
    struct Failure: Error, Equatable {}

    @Test("nextIfQueued takes what is queued, in order, without waiting; nil when nothing is")
    func nextIfQueued() async throws {
        let queue = BoundedQueue<Int>(capacity: 3)
        #expect(queue.nextIfQueued() == nil)
        #expect(queue.trySend(1))
        #expect(queue.trySend(2))
        #expect(queue.nextIfQueued() == 1)
        #expect(queue.count == 1)
        #expect(try await queue.next() == 2)
        #expect(queue.nextIfQueued() == nil)
        #expect(queue.count == 0)
    }

    @Test("a sender waiting on a full queue gets in when nextIfQueued makes room", .timeLimit(.minutes(1)))
    func nextIfQueuedMakesRoom() async throws {
        let queue = BoundedQueue<Int>(capacity: 1)
        #expect(queue.trySend(1))
        #expect(!queue.trySend(2), "full")
        let sender = Task { try await queue.send(2) }
        // The sender is waiting once the queue still holds one element after it started.
        try await Task.sleep(for: .milliseconds(20))
        #expect(queue.count == 1)
        #expect(queue.nextIfQueued() == 1)
        try await sender.value
        #expect(queue.nextIfQueued() == 2)
    }

    @Test("a finished queue is drained first, then ends with its error; nextIfQueued returns nil at the end")
    func finishDrains() async throws {
        let queue = BoundedQueue<Int>(capacity: 4)
        #expect(queue.trySend(1))
        #expect(queue.trySend(2))
        queue.finish(throwing: Failure())
        #expect(!queue.trySend(3), "finished")
        #expect(queue.isFinished)
        #expect(queue.nextIfQueued() == 1)
        #expect(try await queue.next() == 2)
        #expect(queue.nextIfQueued() == nil)
        await #expect(throws: Failure.self) { try await queue.next() }
    }
}
