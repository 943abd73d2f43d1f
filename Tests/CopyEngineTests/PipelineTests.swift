import CopyEngine
import EVM
import Foundation
import Polymarket
import Synchronization
import Testing

/// An async sequence over an array that counts how many elements were read.
struct CountingSource<Element: Sendable>: AsyncSequence, Sendable {
    final class Counter: Sendable {
        let value = Mutex(0)
        func withLock<R>(_ body: (inout Int) -> R) -> R { value.withLock { body(&$0) } }
    }

    let elements: [Element]
    let read = Counter()

    init(_ elements: [Element]) { self.elements = elements }

    struct Iterator: AsyncIteratorProtocol {
        let source: CountingSource
        var index = 0

        mutating func next() async -> Element? {
            guard index < source.elements.count else { return nil }
            defer { index += 1 }
            source.read.withLock { $0 += 1 }
            return source.elements[index]
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(source: self) }
}

/// A gate tasks wait at until it is opened (once); waiting ignores cancellation.
final class OneShotGate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}

@Suite("Copy pipeline")
struct PipelineTests {
    struct Event: Sendable, Hashable {
        var token: UInt64
        var sequence: Int
    }

    final class Recorder: Sendable {
        struct State {
            var handled: [UInt64: [Int]] = [:]
            var completed: [UInt64: [Int]] = [:]
            var active = 0
            var maxActive = 0
            var activePerToken: [UInt64: Int] = [:]
            var overlapInToken = false
            var completedCount = 0
            var maxOutstanding = 0
        }

        let state = Mutex(State())
    }

    @Test("per-token order is kept while different tokens run concurrently, within the bound")
    func ordering() async throws {
        var events: [Event] = []
        for sequence in 0..<200 { events.append(Event(token: UInt64(sequence % 7), sequence: sequence)) }
        let source = CountingSource(events)
        let recorder = Recorder()
        try await CopyPipeline(maxConcurrency: 4, maxBuffered: 16).run(
            source, lane: { UInt256($0.token) },
            handle: { event in
                recorder.state.withLock { s in
                    s.active += 1
                    s.maxActive = max(s.maxActive, s.active)
                    s.activePerToken[event.token, default: 0] += 1
                    if s.activePerToken[event.token]! > 1 { s.overlapInToken = true }
                    s.handled[event.token, default: []].append(event.sequence)
                    s.maxOutstanding = max(s.maxOutstanding, source.read.withLock { $0 } - s.completedCount)
                }
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...3)))
                recorder.state.withLock { s in
                    s.active -= 1
                    s.activePerToken[event.token]! -= 1
                }
                return event.sequence
            },
            completed: { event, result in
                recorder.state.withLock { s in
                    s.completed[event.token, default: []].append(result)
                    s.completedCount += 1
                }
            })
        let state = recorder.state.withLock { $0 }
        for token in 0..<7 {
            let expected = events.filter { $0.token == UInt64(token) }.map(\.sequence)
            #expect(state.handled[UInt64(token)] == expected)
            #expect(state.completed[UInt64(token)] == expected)
        }
        #expect(!state.overlapInToken)
        #expect(state.maxActive > 1)
        #expect(state.maxActive <= 4)
        #expect(state.maxOutstanding <= 16)
        #expect(state.completedCount == 200)
    }

    @Test("a lane handles its next event while the previous completion runs; completions stay in order")
    func completionBesideNextHandle() async throws {
        let source = CountingSource((0..<4).map { Event(token: 1, sequence: $0) })
        let (started, startedSignal) = AsyncStream.makeStream(of: Int.self)
        let log = Mutex<[String]>([])
        try await CopyPipeline(maxConcurrency: 2, maxBuffered: 8).run(
            source, lane: { UInt256($0.token) },
            handle: { event in
                log.withLock { $0.append("handle \(event.sequence)") }
                startedSignal.yield(event.sequence)
                return event.sequence
            },
            completed: { event, _ in
                if event.sequence == 0 {
                    // Waits (up to 10 s, only so that the old behaviour fails instead of hanging)
                    // for the next event's handling to start.
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { for await n in started where n == 1 { break } }
                        group.addTask { try? await Task.sleep(for: .seconds(10)) }
                        await group.next()
                        group.cancelAll()
                    }
                }
                log.withLock { $0.append("completed \(event.sequence)") }
            })
        let entries = log.withLock { $0 }
        let completions = entries.filter { $0.hasPrefix("completed") }
        #expect(completions == (0..<4).map { "completed \($0)" })
        #expect(
            try #require(entries.firstIndex(of: "handle 1")) < #require(
                entries.firstIndex(of: "completed 0")),
            "\(entries)")
    }

    /// What the handlers of a test did, in order: "start 1.0", "end 1.0", "completed 1.0", ….
    final class Log: Sendable, CustomStringConvertible {
        private let entries = Mutex<[String]>([])

        func append(_ what: String, _ event: Event) {
            entries.withLock { $0.append("\(what) \(event.token).\(event.sequence)") }
        }

        /// Records the end of the handling of `event` and returns its result, its sequence.
        func end(_ event: Event) -> Int {
            append("end", event)
            return event.sequence
        }

        /// Checks the result a completion got, and records the completion.
        func complete(_ event: Event, _ result: Int) {
            #expect(result == event.sequence)
            append("completed", event)
        }

        /// Where `entry` was recorded.
        func at(_ entry: String) throws -> Int {
            let all = entries.withLock { $0 }
            return try #require(all.firstIndex(of: entry), "\(entry) in \(all)")
        }

        /// The completions of lane `token`, in the order they ran.
        func completions(_ token: UInt64) -> [String] {
            entries.withLock { $0.filter { $0.hasPrefix("completed \(token).") } }
        }

        var description: String { "\(entries.withLock { $0 })" }
    }

    /// Waits for `stream` to yield `event`: up to 10 s, only so that a pipeline that never gets
    /// there fails instead of hanging.
    /// The events of `sides` (each lane's sides, in order), lane by lane.
    static func events(of sides: [UInt64: [Character]]) -> [Event] {
        sides.keys.sorted().flatMap { token in sides[token]!.indices.map { Event(token: token, sequence: $0) }
        }
    }

    /// Runs `source` through a pipeline in which an event may overlap the earlier ones of
    /// its lane when `overlapping` says so: each handling logged around `body`.
    static func run<Source: AsyncSequence & Sendable>(
        _ source: Source, maxConcurrency: Int = 8, maxBuffered: Int = 16,
        overlapping: @escaping @Sendable (Event, Event) -> Bool, log: Log,
        prepare: @escaping @Sendable (Event) async -> Void = { _ in },
        body: @escaping @Sendable (Event, LaneTurn) async -> Void
    ) async throws where Source.Element == Event {
        try await CopyPipeline(maxConcurrency: maxConcurrency, maxBuffered: maxBuffered).run(
            source, lane: { UInt256($0.token) }, overlapping: overlapping, prepare: prepare,
            handle: { event, _, turn in
                log.append("start", event)
                await body(event, turn)
                return log.end(event)
            },
            completed: log.complete)
    }

    /// Runs the events of `sides` (see ``run(_:maxConcurrency:maxBuffered:overlapping:log:prepare:body:)``):
    /// an event may overlap the earlier ones of its side.
    static func run(
        sides: [UInt64: [Character]], log: Log, prepare: @escaping @Sendable (Event) async -> Void = { _ in },
        body: @escaping @Sendable (Event, LaneTurn) async -> Void
    ) async throws {
        @Sendable func side(_ event: Event) -> Character { sides[event.token]![event.sequence] }
        try await run(
            CountingSource(events(of: sides)), overlapping: { side($0) == side($1) }, log: log,
            prepare: prepare,
            body: body)
    }

    /// A `prepare` that logs each event it prepares and yields it to `signal`.
    static func noting(
        in log: Log, signal: AsyncStream<Event>.Continuation
    ) -> @Sendable (Event) async -> Void {
        { event in
            log.append("prepared", event)
            signal.yield(event)
        }
    }

    static func awaitEvent(_ event: Event, in stream: AsyncStream<Event>) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await e in stream where e == event { break } }
            group.addTask { try? await Task.sleep(for: .seconds(10)) }
            await group.next()
            group.cancelAll()
        }
    }

    @Test(
        "a lane's next event starts beside earlier ones that released their turn, only when overlapping allows; completions stay in order"
    )
    func overlappingEvents() async throws {
        // Lane 1 releases its turns: sides A A A B A A. Lane 2 never releases: A A A.
        let sides: [UInt64: [Character]] = [1: ["A", "A", "A", "B", "A", "A"], 2: ["A", "A", "A"]]
        let (started, startedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Log()
        try await Self.run(sides: sides, log: log) { event, turn in
            startedSignal.yield(event)
            if event.token == 1 {
                turn.release()
                #expect(turn.isReleased)
                // An event the next may overlap waits for the next one to start.
                let sequence = sides[1]!
                if event.sequence + 1 < sequence.count,
                    sequence[event.sequence + 1] == sequence[event.sequence]
                {
                    await Self.awaitEvent(Event(token: 1, sequence: event.sequence + 1), in: started)
                }
            }
        }
        for token: UInt64 in [1, 2] {
            #expect(log.completions(token) == (0..<sides[token]!.count).map { "completed \(token).\($0)" })
        }
        // Overlapped: A after A while the earlier one still runs.
        for (earlier, later) in [(0, 1), (1, 2), (4, 5)] {
            #expect(try log.at("start 1.\(later)") < log.at("end 1.\(earlier)"), "\(log)")
        }
        // Not overlapped: B waits for every A before it to end; A after B waits for B.
        for earlier in 0...2 { #expect(try log.at("end 1.\(earlier)") < log.at("start 1.3"), "\(log)") }
        #expect(try log.at("end 1.3") < log.at("start 1.4"), "\(log)")
        // A lane whose handler never releases its turn: one event at a time.
        for n in 0..<2 { #expect(try log.at("end 2.\(n)") < log.at("start 2.\(n + 1)"), "\(log)") }
    }

    @Test(
        "cancelled while its events are handled, the pipeline waits for them without spinning its threads",
        .timeLimit(.minutes(1)))
    func cancelledWhileHandling() async throws {
        // More lanes than the machine has threads for tasks: were each drainer to spin once its
        // wake-ups ended, the handlers could never be resumed to finish.
        let lanes = 4 * max(2, ProcessInfo.processInfo.activeProcessorCount)
        let events = (0..<lanes).map { Event(token: UInt64($0), sequence: 0) }
        let gate = OneShotGate()
        let (handling, handlingSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Log()
        let run = Task {
            try await CopyPipeline(maxConcurrency: lanes, maxBuffered: lanes).run(
                CountingSource(events), lane: { UInt256($0.token) },
                overlapping: { _, _ in false },
                prepare: { _ in },
                handle: { event, _, _ in
                    log.append("start", event)
                    handlingSignal.yield(event)
                    await gate.wait()
                    return log.end(event)
                },
                completed: log.complete)
        }
        var seen = 0
        for await _ in handling {
            seen += 1
            if seen == lanes { break }
        }
        run.cancel()
        try await Task.sleep(for: .milliseconds(50))
        // Opened from a thread of its own: the handlers then need the task threads to finish.
        Thread { gate.open() }.start()
        // Cancelled, it ends with the cancellation, once every event read is done.
        await #expect(throws: CancellationError.self) { try await run.value }
        for token in 0..<UInt64(lanes) { #expect(log.completions(token) == ["completed \(token).0"]) }
    }

    @Test("an event that may not overlap the one before it is handled once that one settles, before it ends")
    func handledAfterSettlement() async throws {
        // Lane 1: A B A; 1.0 settles once 1.1 is prepared (so 1.1 is waiting for it), and then
        // waits for 1.1 to start. Lane 2: A B; 2.0 only releases its turn, so 2.1 waits for it to end.
        let sides: [UInt64: [Character]] = [1: ["A", "B", "A"], 2: ["A", "B"]]
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Event.self)
        let (started, startedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Log()
        try await Self.run(sides: sides, log: log, prepare: { preparedSignal.yield($0) }) { event, turn in
            startedSignal.yield(event)
            if event == Event(token: 1, sequence: 0) {
                await Self.awaitEvent(Event(token: 1, sequence: 1), in: prepared)
                turn.settle()
                #expect(turn.isReleased && turn.isSettled)
                await Self.awaitEvent(Event(token: 1, sequence: 1), in: started)
            } else if event == Event(token: 2, sequence: 0) {
                turn.release()
                #expect(!turn.isSettled)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        for token: UInt64 in [1, 2] {
            #expect(log.completions(token) == (0..<sides[token]!.count).map { "completed \(token).\($0)" })
        }
        // Settled: the next one (other side) runs before it ends.
        #expect(try log.at("start 1.1") < log.at("end 1.0"), "\(log)")
        // 1.1 neither released nor settled its turn: 1.2 waits for it to end.
        #expect(try log.at("end 1.1") < log.at("start 1.2"), "\(log)")
        // Released only: the next one on the other side waits for it to end.
        #expect(try log.at("end 2.0") < log.at("start 2.1"), "\(log)")
    }

    @Test(
        "a lane's next event is prepared while the one before it is handled, even when it may not overlap it; it is handled after that one ends; one event ahead at most"
    )
    func preparedBesideEarlier() async throws {
        // Lane 1 releases the first turn: sides A B B. Lanes 2 and 3 never release: A B, A A A.
        let sides: [UInt64: [Character]] = [1: ["A", "B", "B"], 2: ["A", "B"], 3: ["A", "A", "A"]]
        let events = Self.events(of: sides)
        // One stream of preparations per lane: each is read by one handler at a time.
        var streams: [UInt64: (AsyncStream<Event>, AsyncStream<Event>.Continuation)] = [:]
        for token in sides.keys { streams[token] = AsyncStream.makeStream(of: Event.self) }
        let prepared = streams
        let log = Log()
        @Sendable func side(_ event: Event) -> Character { sides[event.token]![event.sequence] }
        try await CopyPipeline(maxConcurrency: 8, maxBuffered: 16).run(
            CountingSource(events), lane: { UInt256($0.token) },
            overlapping: { side($0) == side($1) },
            prepare: { event -> Event in
                log.append("prepared", event)
                prepared[event.token]!.1.yield(event)
                return event
            },
            handle: { event, preparation, turn in
                #expect(preparation == event)
                log.append("start", event)
                if event == Event(token: 1, sequence: 0) { turn.release() }
                let next = Event(token: event.token, sequence: event.sequence + 1)
                if next.sequence < sides[event.token]!.count {
                    // The next is prepared while this one is handled, released or not.
                    await Self.awaitEvent(next, in: prepared[event.token]!.0)
                }
                if event == Event(token: 3, sequence: 0) {
                    // Time for a third to be prepared too early, were it not held back.
                    try? await Task.sleep(for: .milliseconds(20))
                }
                return log.end(event)
            },
            completed: log.complete)
        for token in sides.keys {
            let count = sides[token]!.count
            #expect(log.completions(token) == (0..<count).map { "completed \(token).\($0)" })
            for n in 0..<count {
                #expect(try log.at("prepared \(token).\(n)") < log.at("start \(token).\(n)"), "\(log)")
                if n + 1 < count {
                    // Prepared beside the event before it, handled only after it ended.
                    #expect(try log.at("prepared \(token).\(n + 1)") < log.at("end \(token).\(n)"), "\(log)")
                    #expect(try log.at("end \(token).\(n)") < log.at("start \(token).\(n + 1)"), "\(log)")
                }
            }
        }
        // One event ahead at most: 3.2 waits for 3.0 (which never released its turn) to end.
        #expect(try log.at("end 3.0") < log.at("prepared 3.2"), "\(log)")
    }

    @Test(
        "an event waiting between its preparation and its handling holds no permit",
        .timeLimit(.minutes(1))
    )
    func waitingHoldsNoPermit() async throws {
        // Two permits. 1.0 holds one until 2.0 starts; 1.1, prepared meanwhile, waits for 1.0 and
        // must leave the other to 2.0, which arrives only then.
        let (source, feed) = AsyncStream.makeStream(of: Event.self)
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Event.self)
        let (started, startedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Log()
        feed.yield(Event(token: 1, sequence: 0))
        feed.yield(Event(token: 1, sequence: 1))
        try await Self.run(
            source, maxConcurrency: 2, maxBuffered: 8, overlapping: { _, _ in false }, log: log,
            prepare: Self.noting(in: log, signal: preparedSignal)
        ) {
            event, _ in
            startedSignal.yield(event)
            if event == Event(token: 1, sequence: 0) {
                await Self.awaitEvent(Event(token: 1, sequence: 1), in: prepared)
                feed.yield(Event(token: 2, sequence: 0))
                feed.finish()
                await Self.awaitEvent(Event(token: 2, sequence: 0), in: started)
            }
        }
        #expect(try log.at("prepared 1.1") < log.at("start 2.0"), "\(log)")
        #expect(try log.at("start 2.0") < log.at("end 1.0"), "\(log)")
        #expect(try log.at("end 1.0") < log.at("start 1.1"), "\(log)")
        #expect(log.completions(1) == ["completed 1.0", "completed 1.1"])
    }

    @Test(
        "an event that arrives after the one before it released its turn is prepared at once, not when that one ends"
    )
    func preparedOnArrival() async throws {
        let (source, feed) = AsyncStream.makeStream(of: Event.self)
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Log()
        feed.yield(Event(token: 1, sequence: 0))
        try await Self.run(
            source, maxConcurrency: 4, maxBuffered: 8, overlapping: { _, _ in false }, log: log,
            prepare: Self.noting(in: log, signal: preparedSignal)
        ) {
            event, turn in
            if event.sequence == 0 {
                turn.release()
                // The lane's next event arrives only now, while this one is still running.
                feed.yield(Event(token: 1, sequence: 1))
                feed.finish()
                await Self.awaitEvent(Event(token: 1, sequence: 1), in: prepared)
            }
        }
        #expect(try log.at("prepared 1.1") < log.at("end 1.0"), "\(log)")
        #expect(try log.at("end 1.0") < log.at("start 1.1"), "\(log)")
        #expect(log.completions(1) == ["completed 1.0", "completed 1.1"])
    }

    @Test(
        "BUY then SELL of the same token through the engine: never reordered, each SELL sized on what the BUY got; tokens in parallel",
        arguments: [ExecutionMode.paper, .live])
    func engineOrdering(mode: ExecutionMode) async throws {
        let h = Harness(mode: mode, sizing: .multipleOfTargetShares(d("0.1")))
        h.gateway.state.withLock { $0.bookDelayMilliseconds = 5 }
        var trades: [CopyTrade] = []
        var n: UInt64 = 0
        for token in 1...8 {
            h.gateway.setBook(book(UInt64(token), bids: [("0.6", "10000")], asks: [("0.5", "10000")]))
        }
        for round in 0..<3 {
            for token in 1...8 {
                n += 1
                trades.append(copyTrade(n, .buy, token: UInt64(token), shares: "100", price: "0.5"))
                n += 1
                // Each SELL is half of what the target holds then: 100, then 150, then 175 → sells 50, 75, 87.5.
                let sold = ["50", "75", "87.5"][round]
                trades.append(copyTrade(n, .sell, token: UInt64(token), shares: sold, price: "0.6"))
            }
        }
        let decisions = Mutex<[TradeIdentity: CopyDecision]>([:])
        try await CopyPipeline(maxConcurrency: 4, maxBuffered: 8).run(
            CountingSource(trades), engine: h.engine, trade: { $0 },
            completed: { trade, decision in decisions.withLock { $0[trade.identity] = decision } })
        let all = decisions.withLock { $0 }
        #expect(all.count == trades.count)
        for trade in trades where trade.trade.side == .sell {
            #expect(all[trade.identity]?.copiedOrder != nil, "a SELL was decided before its BUY")
        }
        // Per token: +10, −5, +10, −7.5 (half of 15), +10, −8.75 → 8.75 left.
        for token in 1...8 {
            #expect(h.engine.portfolio.ledger.shares(UInt256(UInt64(token))) == d("8.75"))
        }
        #expect(h.gateway.state.withLock { $0.maxActiveBooks } > 1)
        #expect(h.store.allDecisions.count == trades.count)
    }
}
