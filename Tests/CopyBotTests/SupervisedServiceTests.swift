import CopyBot
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Supervision in the service group: a failing component is restarted with backoff while the
/// others keep running, and one that keeps failing stops the group with the reason.
@Suite("Supervised components", .timeLimit(.minutes(1)))
struct SupervisedServiceTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "injected failure" }
    }

    /// Counts ticks until a graceful shutdown.
    final class Ticker: Service {
        let ticks = Mutex(0)
        let stoppedGracefully = Mutex(false)

        func run() async throws {
            try? await cancelWhenGracefulShutdown {
                while true {
                    self.ticks.withLock { $0 += 1 }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            stoppedGracefully.withLock { $0 = true }
        }
    }

    static let fast = SupervisedService.Policy(
        maxFailures: 3, window: .seconds(60), baseDelay: .milliseconds(20), maxDelay: .milliseconds(40))

    static func configuration(_ services: [any Service]) -> ServiceGroupConfiguration {
        ServiceGroupConfiguration(
            services: services.map {
                .init(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup)
            }, logger: Logger(label: "test"))
    }

    @Test("a component that fails is restarted; the others keep running")
    func restarts() async throws {
        let ticker = Ticker()
        let builds = Mutex(0)
        let ticksAtRestart = Mutex<[Int]>([])
        let flaky = SupervisedService(
            "flaky", policy: Self.fast, logger: Logger(label: "test"),
            onRestart: { _ in ticksAtRestart.withLock { $0.append(ticker.ticks.withLock { $0 }) } }
        ) {
            let build = builds.withLock { count -> Int in
                count += 1
                return count
            }
            return ClosureService {
                try await Task.sleep(for: .milliseconds(30))
                // The first two instances crash; the third runs until shutdown.
                if build <= 2 { throw Failure() }
                try? await gracefulShutdown()
            }
        }
        let group = ServiceGroup(configuration: Self.configuration([ticker, flaky]))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while builds.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
            let ticksAfterRestarts = ticker.ticks.withLock { $0 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(ticker.ticks.withLock { $0 } > ticksAfterRestarts, "the other component kept running")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(builds.withLock { $0 } == 3, "two restarts after two failures")
        let restarts = ticksAtRestart.withLock { $0 }
        #expect(restarts.count == 2)
        #expect(
            restarts == restarts.sorted() && restarts.first! > 0, "the ticker ticked through the restarts")
        #expect(ticker.stoppedGracefully.withLock { $0 })
    }

    @Test("a component that keeps failing stops the group with the reason")
    func escalates() async throws {
        let ticker = Ticker()
        let attempts = Mutex(0)
        let broken = SupervisedService("broken", policy: Self.fast, logger: Logger(label: "test")) {
            attempts.withLock { $0 += 1 }
            return ClosureService { throw Failure() }
        }
        let group = ServiceGroup(configuration: Self.configuration([ticker, broken]))
        let error = await #expect(throws: SupervisionError.self) { try await group.run() }
        #expect(error?.component == "broken")
        #expect(error?.failures == 4)
        #expect(error?.description.contains("injected failure") == true)
        #expect(attempts.withLock { $0 } == 4, "three restarts, then it gave up")
        #expect(ticker.stoppedGracefully.withLock { $0 }, "the others were shut down gracefully")
    }
}
