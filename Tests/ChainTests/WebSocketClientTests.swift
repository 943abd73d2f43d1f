import Chain
import DevNode
import Foundation
import Testing

/// Every test that runs libwebsockets service threads, one at a time: the thread-count tests must
/// see only their own threads.
/// Every suite that starts libwebsockets threads, run one at a time so that thread counts are
/// exact (the shutdown tests count the process's lws threads).
@Suite(.serialized)
enum LibWebSocketsTests {}

extension LibWebSocketsTests {
    /// The libwebsockets client against the libwebsockets loopback server, over real sockets on 127.0.0.1.
    @Suite(.timeLimit(.minutes(1))) struct WebSocketClientTests {
        init() {
            LibWebSocketsLogging.setLevel(.errors)
        }

        @Test func connectsAndEchoes() async throws {
            let harness = try await ServerHarness(echo: true)
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            #expect(try await nextEvent(client, "connected") == .connected)

            try client.send("hello, node")
            #expect(try await nextEvent(client, "echo") == .message(.text("hello, node")))
            try client.send(.text("ünïcödé ✓"))
            #expect(try await nextEvent(client, "echo") == .message(.text("ünïcödé ✓")))

            let stats = client.statistics
            #expect(stats.connections == 1)
            #expect(stats.messagesSent == 2)
            #expect(stats.messagesReceived == 2)

            await client.shutdown()
            #expect(throws: WebSocketError.shutDown) { try client.send("late") }
            await harness.shutdown()
        }

        @Test func sendsThePathAndHeadersInTheHandshake() async throws {
            let server = LoopbackWebSocketServer(capturedHeaders: ["x-api-key"])
            let port = try await server.start()
            var configuration = testConfiguration("ws://127.0.0.1:\(port)/v2/some-key?net=polygon")
            configuration.headers = [("Authorization", "Bearer t0ken"), ("X-Api-Key", "k-123")]
            let client = try makeClient(configuration)
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            // The server answers the upgrade before it records the handshake (libwebsockets'
            // ESTABLISHED comes after the 101): wait for its own `connected`.
            for await event in server.events {
                if case .connected = event { break }
            }
            let handshake = try #require(server.handshake(of: LoopbackClientID(rawValue: 1)))
            #expect(handshake.path == "/v2/some-key")
            #expect(handshake.headers["host"] == "127.0.0.1:\(port)")
            #expect(handshake.headers["authorization"] == "Bearer t0ken")
            #expect(handshake.headers["x-api-key"] == "k-123")
            await client.shutdown()
            await server.stop()
        }

        @Test func sendBeforeConnectingFails() async throws {
            let client = try makeClient(testConfiguration("ws://127.0.0.1:9/"))
            #expect(throws: WebSocketError.notConnected) { try client.send("too early") }
            await client.shutdown()
        }

        @Test func deliversBinaryAndReportsInvalidUTF8WithoutDisconnecting() async throws {
            let harness = try await ServerHarness()
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            let id = try await harness.connectedClient(number: 1)

            harness.server.send(binary: [0, 1, 2, 255], to: id)
            #expect(try await nextEvent(client, "binary") == .message(.binary([0, 1, 2, 255])))
            harness.server.send(textFragments: [[0x61, 0xC3], [0x28]], to: id)  // "a" + a broken sequence
            #expect(try await nextEvent(client, "invalid text") == .error(.invalidUTF8(byteCount: 3)))
            harness.server.send("fine", to: id)
            #expect(try await nextEvent(client, "text") == .message(.text("fine")))
            #expect(client.statistics.invalidMessages == 1)
            #expect(client.statistics.disconnections == 0)

            try client.send(.binary([9, 8, 7]))
            try await harness.wait(for: "binary from the client") { events in
                events.contains(.binary(id, [9, 8, 7]))
            }

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func reassemblesAnEightyKilobyteMessageSentInFragments() async throws {
            let harness = try await ServerHarness()
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            let id = try await harness.connectedClient(number: 1)

            // Multi-byte characters, so fragment boundaries fall inside UTF-8 sequences.
            let unit = "{\"block\":\"0x1\",\"ünï\":\"✓\"},"
            var message = ""
            while message.utf8.count < 80 * 1024 { message += unit }
            #expect(harness.server.send(message, fragmentSize: 1000, to: id))
            #expect(try await nextEvent(client, "80 KB message") == .message(.text(message)))

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func oversizedMessageIsAnErrorThenReconnects() async throws {
            let harness = try await ServerHarness()
            var configuration = testConfiguration(harness.url)
            configuration.maxMessageBytes = 1 << 20
            let client = try makeClient(configuration)
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            let first = try await harness.connectedClient(number: 1)

            // 256 MiB announced as 4096 fragments of 64 KiB that share one buffer.
            let memoryBefore = residentBytes()
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            #expect(harness.server.send(textFragments: Array(repeating: chunk, count: 4096), to: first))

            #expect(
                try await nextEvent(client, "too-large error") == .error(.messageTooLarge(limit: 1 << 20)))
            #expect(try await nextEvent(client, "disconnect", where: \.isDisconnected).isDisconnected)
            #expect(try await nextEvent(client, "reconnect", where: \.isConnected) == .connected)
            let growth = residentBytes() - memoryBefore
            #expect(growth < 48 << 20, "resident memory grew by \(growth >> 20) MiB")

            // The new connection works.
            let second = try await harness.connectedClient(number: 2)
            harness.server.send("still here", to: second)
            #expect(
                try await nextEvent(client, "message", where: \.isMessage) == .message(.text("still here")))
            #expect(client.statistics.oversizedMessages == 1)

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func reconnectsAfterTheServerDropsTheConnection() async throws {
            let harness = try await ServerHarness()
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            let first = try await harness.connectedClient(number: 1)
            harness.server.send("one", to: first)
            #expect(try await nextEvent(client, "message one") == .message(.text("one")))

            for round in 2...4 {
                let previous = try await harness.connectedClient(number: round - 1)
                #expect(harness.server.disconnect(previous))
                #expect(try await nextEvent(client, "disconnect").isDisconnected)
                #expect(try await nextEvent(client, "reconnect", where: \.isConnected) == .connected)
                let current = try await harness.connectedClient(number: round)
                harness.server.send("message \(round)", to: current)
                #expect(
                    try await nextEvent(client, "message \(round)", where: \.isMessage)
                        == .message(.text("message \(round)")))
            }
            #expect(client.statistics.connections == 4)
            #expect(client.statistics.disconnections == 3)

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func reconnectsWhenTheServerComesBackOnTheSamePort() async throws {
            let harness = try await ServerHarness()
            let port = harness.port
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)

            await harness.server.stop()
            #expect(try await nextEvent(client, "disconnect").isDisconnected)
            // While the server is down, attempts fail and are retried with backoff.
            let failure = try await nextEvent(client, "failed attempt")
            guard case .error(.connectionFailed) = failure else {
                Issue.record("expected a connection failure, got \(failure)")
                return
            }
            try await Task.sleep(for: .milliseconds(700))
            #expect(client.statistics.connectionFailures >= 2)

            #expect(try await harness.server.start() == port)
            #expect(try await nextEvent(client, "reconnect", where: \.isConnected) == .connected)
            let id = try await harness.connectedClient(number: 2)
            harness.server.send("back", to: id)
            #expect(try await nextEvent(client, "message", where: \.isMessage) == .message(.text("back")))

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func detectsAServerThatStopsAnsweringPings() async throws {
            let harness = try await ServerHarness()
            var configuration = testConfiguration(harness.url)
            configuration.pingInterval = .seconds(1)
            configuration.pongTimeout = .seconds(1)
            let client = try makeClient(configuration)
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)

            // A healthy idle connection survives several ping intervals.
            let quiet = try? await nextEvent(client, within: .milliseconds(3500), "nothing")
            #expect(quiet == nil, "unexpected \(String(describing: quiet)) on a healthy idle connection")

            harness.server.setResponsive(false)
            let clock = ContinuousClock()
            let start = clock.now
            // Ping-based detection takes about pingInterval + pongTimeout (2 s here); TCP alone would
            // take minutes. The bound is loose because a loaded CI machine delays lws timers.
            #expect(try await nextEvent(client, within: .seconds(20), "dead-peer disconnect").isDisconnected)
            _ = clock.now - start

            harness.server.setResponsive(true)
            #expect(try await nextEvent(client, "reconnect", where: \.isConnected) == .connected)

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func slowConsumerLosesNothing() async throws {
            let harness = try await ServerHarness()
            var configuration = testConfiguration(harness.url)
            configuration.maxBufferedEvents = 64
            let client = try makeClient(configuration)
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            let id = try await harness.connectedClient(number: 1)

            let total = 10_000
            for index in 0..<total {
                harness.server.send("{\"seq\":\(index)}", to: id)
            }
            // Let the backlog pile up before consuming, then consume slowly.
            try await Task.sleep(for: .milliseconds(300))
            let received = try await withTimeout(.seconds(40), "10,000 messages") {
                var expected = 0
                for await event in client.events {
                    guard case .message(.text(let text)) = event else {
                        Issue.record("unexpected \(event)")
                        continue
                    }
                    #expect(text == "{\"seq\":\(expected)}")
                    expected += 1
                    if expected % 500 == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    if expected == total { break }
                }
                return expected
            }
            #expect(received == total)
            let stats = client.statistics
            #expect(stats.messagesReceived == total)
            #expect(stats.readPauses > 0, "the consumer never fell behind: backpressure untested")

            await client.shutdown()
            await harness.shutdown()
        }

        @Test func shutdownEndsTheServiceThreadEveryTime() async throws {
            let harness = try await ServerHarness()
            #expect(threadCount(named: testClientThreadName) == 0)

            for round in 0..<50 {
                let client = try makeClient(testConfiguration(harness.url))
                client.start()
                if round % 2 == 0 {
                    try await nextEvent(client, "connected", where: \.isConnected)
                }
                await client.shutdown()
                #expect(threadCount(named: testClientThreadName) == 0, "round \(round)")
            }
            // The events end after shutdown.
            let client = try makeClient(testConfiguration(harness.url))
            client.start()
            try await nextEvent(client, "connected", where: \.isConnected)
            await client.shutdown()
            let remaining = try await withTimeout(.seconds(5), "the end of the events") {
                var events: [WebSocketEvent] = []
                for await event in client.events { events.append(event) }
                return events
            }
            #expect(remaining == [.disconnected(reason: "client shut down")])

            #expect(threadCount(named: harness.threadName) == 1)
            await harness.shutdown()
            #expect(threadCount(named: harness.threadName) == 0)
        }

        @Test func droppingAClientWithoutShutdownStopsItsThread() async throws {
            let harness = try await ServerHarness()
            do {
                let client = try makeClient(testConfiguration(harness.url))
                client.start()
                try await nextEvent(client, "connected", where: \.isConnected)
                #expect(threadCount(named: testClientThreadName) == 1)
            }
            try await withTimeout(.seconds(5), "the detached service thread to exit") {
                while threadCount(named: testClientThreadName) > 0 {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            await harness.shutdown()
        }
    }
}
