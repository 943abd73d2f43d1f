import Chain
import DevNode
import Foundation
import Testing

extension LibWebSocketsTests {
    /// The loopback server itself, and `wss://` with certificate verification.
    @Suite(.timeLimit(.minutes(1))) struct LoopbackServerTests {
        init() {
            LibWebSocketsLogging.setLevel(.silent)
        }

        @Test func aTakenPortIsAnError() async throws {
            let first = LoopbackWebSocketServer()
            let port = try await first.start()
            let second = LoopbackWebSocketServer(port: port)
            await #expect(throws: ServerError.listenFailed(host: "127.0.0.1", port: port)) {
                try await second.start()
            }
            await #expect(throws: ServerError.alreadyRunning) { try await first.start() }
            await first.stop()
            #expect(try await second.start() == port)
            await second.stop()
        }

        @Test func tlsVerifiesCertificatesUnlessToldOtherwise() async throws {
            let files = try makeSelfSignedCertificate()
            defer { try? FileManager.default.removeItem(atPath: files.directory) }
            let server = LoopbackWebSocketServer(tls: files.tls)
            let port = try await server.start()
            let url = "wss://127.0.0.1:\(port)/"

            // Default: verification on, the self-signed certificate is refused.
            let strict = try makeClient(testConfiguration(url))
            strict.start()
            let refused = try await nextEvent(strict, "a TLS failure")
            guard case .error(.connectionFailed) = refused else {
                Issue.record("expected a refused connection, got \(refused)")
                return
            }
            #expect(strict.statistics.connections == 0)
            await strict.shutdown()

            // Tests only: self-signed allowed.
            var lenient = testConfiguration(url)
            lenient.tlsAllowSelfSigned = true
            let relaxed = try makeClient(lenient)
            relaxed.start()
            #expect(try await nextEvent(relaxed, "connected over wss") == .connected)
            await relaxed.shutdown()

            // Production-like: verification on, trusting this certificate as the CA.
            var pinned = testConfiguration(url)
            pinned.tlsCAFile = files.tls.certificatePath
            let trusting = try makeClient(pinned)
            trusting.start()
            #expect(try await nextEvent(trusting, "connected with a CA file") == .connected)
            await trusting.shutdown()

            await server.stop()
        }

        @Test func aFakeTransportCanStandInForTheClient() async throws {
            let fake = FakeTransport()
            let transport: any WebSocketTransport = fake
            transport.start()
            try transport.send("ping")
            var seen: [WebSocketEvent] = []
            for await event in transport.events {
                seen.append(event)
                if seen.count == 2 { break }
            }
            #expect(seen == [.connected, .message(.text("ping"))])
            await transport.shutdown()
        }
    }

}

/// A transport that echoes what is sent: what JSON-RPC tests will substitute for the client.
final class FakeTransport: WebSocketTransport {
    let events: AsyncStream<WebSocketEvent>
    private let continuation: AsyncStream<WebSocketEvent>.Continuation

    init() {
        (events, continuation) = AsyncStream.makeStream(of: WebSocketEvent.self)
    }

    func start() { continuation.yield(.connected) }
    func send(_ message: WebSocketMessage) throws(WebSocketError) { continuation.yield(.message(message)) }
    func shutdown() async { continuation.finish() }
}

/// A throwaway self-signed certificate for 127.0.0.1, made with the openssl command.
func makeSelfSignedCertificate() throws -> (tls: LoopbackTLSFiles, directory: String) {
    let directory = NSTemporaryDirectory() + "copybot-tls-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let tls = LoopbackTLSFiles(
        certificatePath: directory + "/cert.pem", privateKeyPath: directory + "/key.pem")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", tls.privateKeyPath, "-out", tls.certificatePath, "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return (tls, directory)
}
