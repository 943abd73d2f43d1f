import Chain
import Testing

@Suite struct WebSocketConfigurationTests {
    @Test func backoffGrowsExponentiallyUpToTheMaximum() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2, jitter: 0)
        let milliseconds = (0..<8).map { attempt in
            let delay = backoff.delay(forAttempt: attempt, unit: 0.5).components
            return Int((Double(delay.seconds) * 1000 + Double(delay.attoseconds) / 1e15).rounded())
        }
        #expect(milliseconds == [100, 200, 400, 800, 1600, 2000, 2000, 2000])
        #expect(backoff.delay(forAttempt: 1_000_000, unit: 0.5) == .seconds(2))
    }

    @Test func backoffJitterSpreadsAroundTheNominalDelay() {
        let backoff = Backoff(initial: .seconds(1), maximum: .seconds(10), multiplier: 2, jitter: 0.25)
        #expect(backoff.delay(forAttempt: 0, unit: 0) == .milliseconds(750))
        #expect(backoff.delay(forAttempt: 0, unit: 0.5) == .seconds(1))
        #expect(backoff.delay(forAttempt: 0, unit: 0.999_999) > .milliseconds(1249))
        #expect(backoff.delay(forAttempt: 0, unit: 0.999_999) <= .milliseconds(1250))
    }

    @Test func parsesWebSocketURLs() throws {
        let plain = try WebSocketURL(parsing: "ws://127.0.0.1:8545")
        #expect(!plain.isSecure && plain.host == "127.0.0.1" && plain.port == 8545 && plain.path == "/")
        let secure = try WebSocketURL(parsing: "wss://polygon.example.com/v2/SECRETKEY?x=1")
        #expect(secure.isSecure && secure.port == 443 && secure.path == "/v2/SECRETKEY?x=1")
        #expect(secure.hostHeader == "polygon.example.com")
        #expect(!secure.redacted.contains("SECRET"))
        let v6 = try WebSocketURL(parsing: "ws://[::1]:9000/ws")
        #expect(v6.host == "::1" && v6.port == 9000 && v6.hostHeader == "[::1]:9000")
        let query = try WebSocketURL(parsing: "ws://h?a=b")
        #expect(query.path == "/?a=b")
    }

    @Test(arguments: [
        "http://example.com", "ws://", "ws://:80/", "ws://user:pw@host/", "ws://host:0/", "ws://host:99999",
        "ws://host/a b", "ws://[::1/", "wss://host/#frag",
    ])
    func rejectsBadURLs(_ text: String) {
        #expect(throws: WebSocketError.self) { try WebSocketURL(parsing: text) }
    }

    @Test func validatesTheConfiguration() throws {
        try WebSocketConfiguration(url: "wss://node.example/ws").validate()
        var bad = WebSocketConfiguration(url: "ws://127.0.0.1:1/")
        bad.pingInterval = .milliseconds(10)
        #expect(throws: WebSocketError.self) { try bad.validate() }
        bad = WebSocketConfiguration(url: "ws://127.0.0.1:1/", headers: [("Bad Header", "x")])
        #expect(throws: WebSocketError.self) { try bad.validate() }
        bad = WebSocketConfiguration(url: "ws://127.0.0.1:1/", headers: [("X-Token", "a\r\nInjected: 1")])
        #expect(throws: WebSocketError.self) { try bad.validate() }
        #expect(throws: WebSocketError.self) {
            _ = try WebSocketClient(configuration: WebSocketConfiguration(url: "ftp://x"))
        }
    }
}
