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
