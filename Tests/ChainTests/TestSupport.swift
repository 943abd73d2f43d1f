import Chain
import DevNode
import Foundation
import Logging
import Synchronization
import Testing

/// Thrown when something awaited in a test did not happen in time.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with ``TimedOut`` after `limit`.
func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut(what: what) }
        return value
    }
}

/// The next client event matching `predicate` (others are skipped), within `limit`.
@discardableResult
func nextEvent(
    _ client: WebSocketClient, within limit: Duration = .seconds(10), _ what: String = "an event",
    where predicate: @escaping @Sendable (WebSocketEvent) -> Bool = { _ in true }
) async throws -> WebSocketEvent {
    try await withTimeout(limit, what) {
        for await event in client.events where predicate(event) {
            return event
        }
        throw TimedOut(what: "\(what) (the event stream ended)")
    }
}

extension WebSocketEvent {
    var isConnected: Bool { if case .connected = self { true } else { false } }
    var isDisconnected: Bool { if case .disconnected = self { true } else { false } }
    var isMessage: Bool { if case .message = self { true } else { false } }
}

/// A loopback server plus one task recording its events (optionally echoing text back).
final class ServerHarness: Sendable {
    let server: LoopbackWebSocketServer
    private let recorded = EventLog()
    private let consumer = Mutex<Task<Void, Never>?>(nil)

    /// The server thread's name, unique in the process (other suites run devnets at the same time).
    let threadName = "lws-h\(UInt32.random(in: 0...UInt32.max))"

    init(echo: Bool = false) async throws {
        server = LoopbackWebSocketServer(threadName: threadName)
        try await server.start()
        let server = self.server
        let recorded = self.recorded
        let task = Task {
            for await event in server.events {
                recorded.events.withLock { $0.append(event) }
                if echo, case .text(let client, let text) = event {
                    server.send(text, to: client)
                }
            }
        }
        consumer.withLock { $0 = task }
    }

    var port: Int { server.port }
    var url: String { "ws://127.0.0.1:\(server.port)/" }
    var events: [LoopbackServerEvent] { recorded.events.withLock { $0 } }

    /// Waits until the recorded events satisfy `predicate`.
    func wait(
        for what: String, within limit: Duration = .seconds(10),
        until predicate: @escaping @Sendable ([LoopbackServerEvent]) -> Bool
    ) async throws {
        let recorded = self.recorded
        try await withTimeout(limit, what) {
            while !recorded.events.withLock({ predicate($0) }) {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Waits for the `count`-th client connection ever, and returns its id.
    func connectedClient(
        number count: Int, within limit: Duration = .seconds(10)
    ) async throws
        -> LoopbackClientID
    {
        try await wait(for: "client connection #\(count)", within: limit) { events in
            events.count(where: { if case .connected = $0 { true } else { false } }) >= count
        }
        let ids = events.compactMap { event -> LoopbackClientID? in
            if case .connected(let id) = event { id } else { nil }
        }
        return ids[count - 1]
    }

    func shutdown() async {
        await server.stop()
        consumer.withLock { $0?.cancel() }
    }
}

/// Server events recorded so far.
final class EventLog: Sendable {
    let events = Mutex<[LoopbackServerEvent]>([])
}

/// Fast settings for tests: short backoff, and whatever else the test overrides.
/// The service thread name of the clients ``testConfiguration(_:)`` makes: the thread checks
/// count these, not the clients other suites run in the same process at the same time.
let testClientThreadName = "lws-test-client"

func testConfiguration(_ url: String) -> WebSocketConfiguration {
    var configuration = WebSocketConfiguration(url: url)
    configuration.threadName = testClientThreadName
    configuration.backoff = Backoff(
        initial: .milliseconds(50), maximum: .milliseconds(400), multiplier: 2, jitter: 0.2)
    configuration.connectTimeout = .seconds(3)
    return configuration
}

/// A client for `configuration` that logs only errors.
func makeClient(_ configuration: WebSocketConfiguration) throws -> WebSocketClient {
    var logger = Logger(label: "test.websocket")
    logger.logLevel = .error
    return try WebSocketClient(configuration: configuration, logger: logger)
}

/// Resident memory of this process, in bytes.
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kb * 1024
    }
    return 0
}

/// Names of this process's threads.
func threadNames() -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { tid in
        (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

func threadCount(named name: String) -> Int {
    threadNames().count(where: { $0 == name })
}
