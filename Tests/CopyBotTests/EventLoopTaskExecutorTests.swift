import AsyncHTTPClient
import CopyBot
import CopyEngine
import NIOCore
import Testing

/// Copies run on the CLOB client's event loop: a task preferring ``EventLoopTaskExecutor`` runs
/// there and comes back there after each await, including after the CLOB's answers.
@Suite("Event loop task executor", .timeLimit(.minutes(1)))
struct EventLoopTaskExecutorTests {
    @Test("a task preferring the executor runs on its loop, and is back on it after awaiting work elsewhere")
    func runsOnItsLoop() async throws {
        let loop = HTTPClient.defaultEventLoopGroup.next()
        let executor = EventLoopTaskExecutor(loop)
        let seen = await Task(executorPreference: executor) { () -> [Bool] in
            var seen = [loop.inEventLoop]
            // Work that runs elsewhere (no preference), then a timer.
            seen.append(await Task.detached { loop.inEventLoop }.value)
            seen.append(loop.inEventLoop)
            try? await Task.sleep(for: .milliseconds(1))
            seen.append(loop.inEventLoop)
            // Child tasks keep the preference.
            seen.append(
                await withTaskGroup(of: Bool.self) { group in
                    group.addTask { loop.inEventLoop }
                    return await group.next()!
                })
            return seen
        }.value
        #expect(seen == [true, false, true, true, true])
        #expect(await Task { loop.inEventLoop }.value == false, "without the preference, elsewhere")
    }

    @Test(
        "a live copy decided on the CLOB client's loop: the prefetched book and the order go out, once, and the decision resumes on the loop"
    )
    func liveCopyOnTheLoop() async throws {
        let loop = HTTPClient.defaultEventLoopGroup.next()
        let executor = EventLoopTaskExecutor(loop)
        let h = try await ClobGatewayTests.harness(onLoop: executor)
        let trade = ClobGatewayTests.trade(1, token: ClobGatewayTests.tokenA, price: "0.5")
        let (decision, onLoop) = await Task(executorPreference: executor) {
            h.engine.anticipate(trade.trade)
            let decision = await h.engine.handle(trade)
            return (decision, loop.inEventLoop)
        }.value
        #expect(onLoop)
        guard case .copied(let order) = decision, let hash = order.orderHash?.hex else {
            Issue.record("not copied: \(decision)")
            await h.shutdown()
            return
        }
        #expect(h.standIn.acceptedOrders.map(\.orderHash) == [hash])
        #expect(h.standIn.requestCount(.book) == 1, "the prefetched book served the decision")
        await h.shutdown()
    }
}
