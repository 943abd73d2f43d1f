import CopyEngine
import EVM
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

    @Test(
        "a lane's next event starts beside earlier ones that released their turn, only when overlapping allows; completions stay in order"
    )
    func overlappingEvents() async throws {
        // Lane 1 releases its turns: sides A A A B A A. Lane 2 never releases: A A A.
        let sides: [UInt64: [Character]] = [1: ["A", "A", "A", "B", "A", "A"], 2: ["A", "A", "A"]]
        let events =
            (0..<6).map { Event(token: 1, sequence: $0) } + (0..<3).map { Event(token: 2, sequence: $0) }
        let (started, startedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Mutex<[String]>([])
        @Sendable func side(_ event: Event) -> Character { sides[event.token]![event.sequence] }
        try await CopyPipeline(maxConcurrency: 8, maxBuffered: 16).run(
            CountingSource(events), lane: { UInt256($0.token) },
            overlapping: { side($0) == side($1) },
            handle: { event, turn in
                log.withLock { $0.append("start \(event.token).\(event.sequence)") }
                startedSignal.yield(event)
                if event.token == 1 {
                    turn.release()
                    #expect(turn.isReleased)
                    // An event the next may overlap waits (up to 10 s, only so that a pipeline
                    // that does not overlap fails instead of hanging) for the next one to start.
                    let sequence = sides[1]!
                    if event.sequence + 1 < sequence.count, sequence[event.sequence + 1] == side(event) {
                        await withTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for await e in started where e.token == 1 && e.sequence == event.sequence + 1
                                {
                                    break
                                }
                            }
                            group.addTask { try? await Task.sleep(for: .seconds(10)) }
                            await group.next()
                            group.cancelAll()
                        }
                    }
                }
                log.withLock { $0.append("end \(event.token).\(event.sequence)") }
                return event.sequence
            },
            completed: { event, result in
                #expect(result == event.sequence)
                log.withLock { $0.append("completed \(event.token).\(event.sequence)") }
            })
        let entries = log.withLock { $0 }
        func at(_ entry: String) throws -> Int {
            try #require(entries.firstIndex(of: entry), "\(entry) in \(entries)")
        }
        for token: UInt64 in [1, 2] {
            let completions = entries.filter { $0.hasPrefix("completed \(token).") }
            #expect(completions == (0..<sides[token]!.count).map { "completed \(token).\($0)" })
        }
        // Overlapped: A after A while the earlier one still runs.
        for (earlier, later) in [(0, 1), (1, 2), (4, 5)] {
            #expect(try at("start 1.\(later)") < at("end 1.\(earlier)"), "\(entries)")
        }
        // Not overlapped: B waits for every A before it to end; A after B waits for B.
        for earlier in 0...2 { #expect(try at("end 1.\(earlier)") < at("start 1.3"), "\(entries)") }
        #expect(try at("end 1.3") < at("start 1.4"), "\(entries)")
        // A lane whose handler never releases its turn: one event at a time.
        for n in 0..<2 { #expect(try at("end 2.\(n)") < at("start 2.\(n + 1)"), "\(entries)") }
    }

    @Test(
        "a lane's next event is prepared once the one before released its turn, even when it may not overlap it; it is handled after that one ends"
    )
    func preparedBesideEarlier() async throws {
        // Lane 1 releases its turns: sides A B B. Lane 2 never releases: A B.
        let sides: [UInt64: [Character]] = [1: ["A", "B", "B"], 2: ["A", "B"]]
        let events =
            (0..<3).map { Event(token: 1, sequence: $0) } + (0..<2).map { Event(token: 2, sequence: $0) }
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Mutex<[String]>([])
        @Sendable func side(_ event: Event) -> Character { sides[event.token]![event.sequence] }
        try await CopyPipeline(maxConcurrency: 8, maxBuffered: 16).run(
            CountingSource(events), lane: { UInt256($0.token) },
            overlapping: { side($0) == side($1) },
            prepare: { event -> String in
                log.withLock { $0.append("prepared \(event.token).\(event.sequence)") }
                preparedSignal.yield(event)
                return "\(event.token).\(event.sequence)"
            },
            handle: { event, preparation, turn in
                #expect(preparation == "\(event.token).\(event.sequence)")
                log.withLock { $0.append("start \(event.token).\(event.sequence)") }
                if event.token == 1, event.sequence == 0 {
                    turn.release()
                    // Waits (up to 10 s, only so that a pipeline that does not prepare early fails
                    // instead of hanging) for the next event to be prepared.
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await e in prepared where e.token == 1 && e.sequence == 1 { break }
                        }
                        group.addTask { try? await Task.sleep(for: .seconds(10)) }
                        await group.next()
                        group.cancelAll()
                    }
                }
                log.withLock { $0.append("end \(event.token).\(event.sequence)") }
                return event.sequence
            },
            completed: { event, result in
                #expect(result == event.sequence)
                log.withLock { $0.append("completed \(event.token).\(event.sequence)") }
            })
        let entries = log.withLock { $0 }
        func at(_ entry: String) throws -> Int {
            try #require(entries.firstIndex(of: entry), "\(entry) in \(entries)")
        }
        for token: UInt64 in [1, 2] {
            let completions = entries.filter { $0.hasPrefix("completed \(token).") }
            #expect(completions == (0..<sides[token]!.count).map { "completed \(token).\($0)" })
            for n in 0..<sides[token]!.count {
                #expect(try at("prepared \(token).\(n)") < at("start \(token).\(n)"), "\(entries)")
            }
        }
        // Prepared beside the earlier event, handled only after it ended.
        #expect(try at("prepared 1.1") < at("end 1.0"), "\(entries)")
        #expect(try at("end 1.0") < at("start 1.1"), "\(entries)")
        // 1.1 never released its turn: 1.2 is prepared after it ended.
        #expect(try at("end 1.1") < at("prepared 1.2"), "\(entries)")
        // A lane whose handler never releases its turn: the next is prepared after the last ends.
        #expect(try at("end 2.0") < at("prepared 2.1"), "\(entries)")
    }

    @Test(
        "an event that arrives after the one before it released its turn is prepared at once, not when that one ends"
    )
    func preparedOnArrival() async throws {
        let (source, feed) = AsyncStream.makeStream(of: Event.self)
        let (prepared, preparedSignal) = AsyncStream.makeStream(of: Event.self)
        let log = Mutex<[String]>([])
        feed.yield(Event(token: 1, sequence: 0))
        try await CopyPipeline(maxConcurrency: 4, maxBuffered: 8).run(
            source, lane: { UInt256($0.token) },
            overlapping: { _, _ in false },
            prepare: { event in
                log.withLock { $0.append("prepared \(event.sequence)") }
                preparedSignal.yield(event)
            },
            handle: { event, _, turn in
                log.withLock { $0.append("start \(event.sequence)") }
                if event.sequence == 0 {
                    turn.release()
                    // The lane's next event arrives only now, while this one is still running.
                    feed.yield(Event(token: 1, sequence: 1))
                    feed.finish()
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { for await e in prepared where e.sequence == 1 { break } }
                        group.addTask { try? await Task.sleep(for: .seconds(10)) }
                        await group.next()
                        group.cancelAll()
                    }
                }
                log.withLock { $0.append("end \(event.sequence)") }
                return event.sequence
            },
            completed: { event, result in
                #expect(result == event.sequence)
                log.withLock { $0.append("completed \(event.sequence)") }
            })
        let entries = log.withLock { $0 }
        func at(_ entry: String) throws -> Int {
            try #require(entries.firstIndex(of: entry), "\(entry) in \(entries)")
        }
        #expect(try at("prepared 1") < at("end 0"), "\(entries)")
        #expect(try at("end 0") < at("start 1"), "\(entries)")
        #expect(try at("completed 0") < at("completed 1"), "\(entries)")
    }

    @Test("BUY then SELL of the same token through the engine: never reordered; tokens in parallel")
    func engineOrdering() async throws {
        let h = Harness(sizing: .multipleOfTargetShares(d("0.1")))
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
