import AsyncHTTPClient
import ClobStandIn
import EVM
import Foundation
import Logging
import Polymarket
import Synchronization
import Testing

@Suite("CLOB client against the stand-in", .serialized)
struct ClobClientTests {
    @Test("L1: derive and create API keys; a foreign signer is refused")
    func apiKeys() async throws {
        try await StandInEnvironment.with { env in
            let derived = try await env.client.with(credentials: nil).deriveAPIKey(nonce: .zero)
            #expect(derived == env.credentials)
            let created = try await env.client.createAPIKey(nonce: UInt256(7))
            #expect(created == env.credentials)
            let stranger = ClobHTTPClient(
                configuration: env.client.configuration, http: env.http, signer: PrivateKey.generate())
            await #expect(throws: ClobError.self) { try await stranger.deriveAPIKey(nonce: .zero) }
            do throws(ClobError) {
                _ = try await stranger.deriveAPIKey(nonce: .zero)
            } catch {
                #expect(error.kind == .unauthorized)
                #expect(error.message == "Invalid L1 Request headers")
            }
        }
    }

    @Test("book, tick size, neg-risk, market parameters; unknown token is notFound")
    func marketData() async throws {
        try await StandInEnvironment.with { env in
            let book = try await env.client.book(tokenID: env.market.tokenID)
            #expect(book.bids == env.market.bids)
            #expect(book.asks == env.market.asks)
            #expect(
                book.parameters
                    == MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false))
            #expect(try await env.client.tickSize(tokenID: env.negRiskMarket.tokenID) == .thousandth)
            #expect(try await env.client.negRisk(tokenID: env.negRiskMarket.tokenID))
            #expect(try await env.client.marketParameters(tokenID: env.negRiskMarket.tokenID).negRisk)
            do throws(ClobError) {
                _ = try await env.client.book(tokenID: UInt256(12345))
                Issue.record("expected notFound")
            } catch {
                #expect(error.kind == .notFound)
                #expect(error.message == "No orderbook exists for the requested token id")
            }
        }
    }

    @Test("an order is accepted end to end, looked up by hash and cancelled")
    func acceptLookupCancel() async throws {
        try await StandInEnvironment.with { env in
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .accepted(let acceptance) = outcome else {
                Issue.record("expected accepted, got \(outcome)")
                return
            }
            #expect(acceptance.orderID == signed.orderHash.hex)
            #expect(acceptance.status == "live")
            let accepted = env.standIn.acceptedOrders
            #expect(accepted.count == 1)
            #expect(accepted.first?.recoveredSigner == env.key.address)
            let record = try #require(try await env.client.order(id: signed.orderHash.hex))
            #expect(record.status == "LIVE")
            #expect(record.originalSize == "10.000000")
            #expect(try await env.client.order(id: Bytes32.zero.hex) == nil)
            let cancel = try await env.client.cancelOrder(id: signed.orderHash.hex)
            #expect(cancel.canceled == [signed.orderHash.hex])
            let again = try await env.client.cancelOrder(id: signed.orderHash.hex)
            #expect(again.canceled.isEmpty)
            #expect(again.notCanceled[signed.orderHash.hex] != nil)
            // Neg-risk markets verify against the NegRisk exchange's domain.
            let negRisk = try env.order(price: "0.505", market: env.negRiskMarket)
            #expect(await env.client.postOrder(negRisk, type: .gtc).placedOrderID == negRisk.orderHash.hex)
            let wrongDomain = try env.order(price: "0.505", market: env.negRiskMarket, negRisk: false)
            guard case .rejected(let error) = await env.client.postOrder(wrongDomain, type: .gtc) else {
                Issue.record("expected rejection")
                return
            }
            #expect(error.kind == .invalidSignature)
        }
    }

    @Test("what the exchange refuses comes back typed, with the server's message")
    func rejections() async throws {
        try await StandInEnvironment.with { env in
            func rejection(_ order: SignedOrder) async -> ClobError? {
                if case .rejected(let e) = await env.client.postOrder(order, type: .gtc) { return e }
                return nil
            }
            // Off the market's tick (built with a stale finer tick).
            let offTick = try #require(await rejection(try env.order(price: "0.505", tick: .thousandth)))
            #expect(offTick.kind == .tickSize)
            #expect(offTick.message.contains("breaks minimum tick size rule: 0.01"))
            // Below the market's minimum size.
            let small = try #require(await rejection(try env.order(size: "2")))
            #expect(small.kind == .minimumSize)
            #expect(small.message.contains("lower than the minimum: 5"))
            // Signed by another key.
            let other = OrderBuilder(signer: PrivateKey.generate(), funder: env.key.address)
            var forged = try env.order(builder: other)
            if case .v2(var order) = forged.payload {
                order.signer = env.key.address
                forged = SignedOrder(
                    payload: .v2(order), signature: forged.signature, orderHash: forged.orderHash)
            }
            #expect(await rejection(forged)?.kind == .invalidSignature)
            // A token the exchange does not know.
            let unknown = ClobStandIn.Market(tokenID: UInt256(99), tickSize: .hundredth)
            #expect(await rejection(try env.order(market: unknown))?.kind == .notFound)
            // A closed market.
            var closed = env.market
            closed.acceptingOrders = false
            env.standIn.setMarket(closed)
            #expect(await rejection(try env.order())?.kind == .marketClosed)
            #expect(env.standIn.acceptedOrders.isEmpty)
            // Wrong credentials.
            var wrong = env.credentials
            wrong.passphrase = "not-the-passphrase"
            if case .rejected(let e) = await env.client.with(credentials: wrong).postOrder(
                try env.order(), type: .gtc)
            {
                #expect(e.kind == .unauthorized)
            } else {
                Issue.record("expected unauthorized")
            }
        }
    }

    @Test("posting the same signed order twice places it once")
    func duplicate() async throws {
        try await StandInEnvironment.with { env in
            let signed = try env.order()
            #expect(await env.client.postOrder(signed, type: .gtc).placedOrderID == signed.orderHash.hex)
            let second = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = second, case .found = lost.resolution else {
                Issue.record("expected found-by-hash, got \(second)")
                return
            }
            #expect(lost.cause.kind == .duplicateOrder)
            #expect(env.standIn.acceptedOrders.count == 1)
        }
    }
}

@Suite("CLOB client faults: never a duplicate order", .serialized)
struct ClobFaultTests {
    func expectOneOrder(_ env: StandInEnvironment, _ signed: SignedOrder) {
        let accepted = env.standIn.acceptedOrders
        #expect(accepted.count == 1)
        #expect(accepted.first?.orderHash == signed.orderHash.hex)
    }

    @Test("429 with Retry-After: waits as told, then the order goes through once")
    func retryAfter() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.rateLimited(retryAfter: 1), on: .postOrder)
            let signed = try env.order()
            let start = ContinuousClock.now
            let outcome = await env.client.postOrder(signed, type: .gtc)
            let elapsed = start.duration(to: .now)
            #expect(outcome.placedOrderID == signed.orderHash.hex)
            if case .accepted = outcome {} else { Issue.record("expected accepted, got \(outcome)") }
            #expect(elapsed >= .milliseconds(950))
            #expect(env.standIn.requestCount(.postOrder) == 2)
            expectOneOrder(env, signed)
        }
    }

    @Test("429 asking for longer than allowed fails as rateLimited with the wait")
    func retryAfterTooLong() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.rateLimited(retryAfter: 60), on: .postOrder)
            guard case .rejected(let error) = await env.client.postOrder(try env.order(), type: .gtc) else {
                Issue.record("expected rejected")
                return
            }
            #expect(error.kind == .rateLimited)
            #expect(error.retryAfter == .seconds(60))
            #expect(env.standIn.acceptedOrders.isEmpty)
        }
    }

    @Test("5xx after the exchange took the order: found by hash, not re-posted")
    func serverErrorAfterAccept() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.serverError(status: 500, afterProcessing: true), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .found(let record) = lost.resolution else {
                Issue.record("expected found, got \(outcome)")
                return
            }
            #expect(record.id == signed.orderHash.hex)
            #expect(lost.cause.kind == .serverError)
            #expect(env.standIn.requestCount(.postOrder) == 1)
            expectOneOrder(env, signed)
        }
    }

    @Test("5xx before the exchange took it: looked up, absent, the same signed order re-posted once")
    func serverErrorBeforeAccept() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.serverError(status: 502, afterProcessing: false), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .reposted(let acceptance) = lost.resolution else {
                Issue.record("expected reposted, got \(outcome)")
                return
            }
            #expect(acceptance.orderID == signed.orderHash.hex)
            #expect(lost.posts == 2)
            #expect(env.standIn.requestCount(.lookup) >= 1)
            expectOneOrder(env, signed)
        }
    }

    @Test("an answer slower than the timeout: the order is found by hash")
    func timeoutAfterAccept() async throws {
        try await StandInEnvironment.with(timeout: .milliseconds(300)) { env in
            env.standIn.inject(.delay(.seconds(2), afterProcessing: true), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .found = lost.resolution else {
                Issue.record("expected found, got \(outcome)")
                return
            }
            #expect(lost.cause.kind == .noAnswer)
            expectOneOrder(env, signed)
        }
    }

    @Test("a slow request that lands after the re-post is refused as a duplicate")
    func timeoutBeforeAccept() async throws {
        try await StandInEnvironment.with(timeout: .milliseconds(300)) { env in
            env.standIn.inject(.delay(.milliseconds(1200), afterProcessing: false), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .reposted = lost.resolution else {
                Issue.record("expected reposted, got \(outcome)")
                return
            }
            try await Task.sleep(for: .milliseconds(1500))
            expectOneOrder(env, signed)
            #expect(env.standIn.rejections.contains { $0.contains("Duplicated") })
        }
    }

    @Test("accepted, then the connection dropped without an answer: found by hash")
    func droppedAfterAccept() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.dropConnection(afterProcessing: true), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .found = lost.resolution else {
                Issue.record("expected found, got \(outcome)")
                return
            }
            #expect(lost.cause.kind == .noAnswer)
            #expect(env.standIn.requestCount(.postOrder) == 1)
            expectOneOrder(env, signed)
        }
    }

    @Test("dropped before processing: looked up, then re-posted once")
    func droppedBeforeAccept() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.dropConnection(afterProcessing: false), on: .postOrder)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .reposted = lost.resolution else {
                Issue.record("expected reposted, got \(outcome)")
                return
            }
            expectOneOrder(env, signed)
        }
    }

    @Test("when look-ups fail too, the order is never re-posted blindly: undetermined")
    func undetermined() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.dropConnection(afterProcessing: true), on: .postOrder)
            env.standIn.inject(.serverError(status: 500, afterProcessing: false), on: .lookup, times: 100)
            let signed = try env.order()
            let outcome = await env.client.postOrder(signed, type: .gtc)
            guard case .resolved(let lost) = outcome, case .undetermined(let error) = lost.resolution else {
                Issue.record("expected undetermined, got \(outcome)")
                return
            }
            #expect(error.kind == .serverError)
            #expect(lost.posts == 1)
            #expect(env.standIn.requestCount(.postOrder) == 1)
            expectOneOrder(env, signed)
        }
    }

    @Test("GETs are retried through 5xx and dropped connections")
    func getRetries() async throws {
        try await StandInEnvironment.with { env in
            env.standIn.inject(.serverError(status: 500, afterProcessing: false), on: .book)
            env.standIn.inject(.dropConnection(afterProcessing: false), on: .book)
            env.standIn.inject(.serverError(status: 503, afterProcessing: false), on: .book)
            let book = try await env.client.book(tokenID: env.market.tokenID)
            #expect(book.parameters.tickSize == .hundredth)
            #expect(env.standIn.requestCount(.book) == 4)
        }
    }

    @Test("a POST that never left (connection refused) is retried until the server is up")
    func connectionRefused() async throws {
        // Find a free port, then leave it closed for the first attempts.
        let probe = ClobStandIn(
            configuration: .init(
                credentials: StandInEnvironment.randomCredentials(), account: nil,
                contracts: try StandInEnvironment.contracts(), markets: []))
        let port = try await probe.start()
        await probe.stop()
        let key = PrivateKey.generate()
        let credentials = StandInEnvironment.randomCredentials()
        let contracts = try StandInEnvironment.contracts()
        let market = ClobStandIn.Market(tokenID: UInt256(42), tickSize: .hundredth)
        let standIn = ClobStandIn(
            configuration: .init(
                credentials: credentials, account: key.address, contracts: contracts, markets: [market]))
        let http = ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1))
        let client = ClobHTTPClient(
            configuration: .init(
                baseURL: "http://127.0.0.1:\(port)", requestTimeout: .seconds(2),
                retry: RetryPolicy(
                    maxAttempts: 8, baseDelay: .milliseconds(150), maxDelay: .milliseconds(300))),
            http: http, signer: key, credentials: credentials)
        let signed = try OrderBuilder(signer: key).limitOrder(
            LimitOrderRequest(
                tokenId: market.tokenID, side: .sell, price: ExactDecimal("0.4")!, size: ExactDecimal(6)),
            market: MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false),
            contracts: contracts)
        async let outcome = client.postOrder(signed, type: .gtc)
        try await Task.sleep(for: .milliseconds(250))
        try await standIn.start(port: port)
        let result = await outcome
        if case .accepted = result {} else { Issue.record("expected accepted, got \(result)") }
        #expect(standIn.acceptedOrders.count == 1)
        #expect(standIn.requestCount(.postOrder) == 1)
        try await http.shutdown()
        await standIn.stop()

        // With nothing listening at all, the attempts run out with a clear notSent.
        let http2 = ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1))
        let nobody = ClobHTTPClient(
            configuration: .init(
                baseURL: "http://127.0.0.1:\(port)",
                retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10))),
            http: http2, signer: key, credentials: credentials)
        guard case .rejected(let error) = await nobody.postOrder(signed, type: .gtc) else {
            Issue.record("expected rejected")
            return
        }
        #expect(error.kind == .notSent)
        try await http2.shutdown()
    }
}

@Suite("CLOB rate limiting and market metadata cache", .serialized)
struct ClobRateAndCacheTests {
    @Test("token bucket: a burst, then the configured rate")
    func tokenBucket() async throws {
        let bucket = TokenBucket(ratePerSecond: 20, burst: 2)
        let start = ContinuousClock.now
        for _ in 0..<10 { try await bucket.acquire() }
        let elapsed = start.duration(to: .now)
        // 8 tokens at 20/s; no upper bound: a loaded machine oversleeps.
        #expect(elapsed >= .milliseconds(380))
    }

    @Test("the client paces its requests through the limiter")
    func clientRate() async throws {
        try await StandInEnvironment.with(rateLimiter: TokenBucket(ratePerSecond: 10, burst: 1)) { env in
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask { _ = try await env.client.tickSize(tokenID: env.market.tokenID) }
                }
                try await group.waitForAll()
            }
            #expect(start.duration(to: .now) >= .milliseconds(480))
            #expect(env.standIn.requestCount(.tickSize) == 6)
        }
    }

    @Test("concurrent identical look-ups share one request")
    func coalescing() async throws {
        try await StandInEnvironment.with { env in
            // Counted at the cache's source, not at the stand-in: the HTTP client may send a
            // look-up again on a connection closed under load, and that is not the cache's doing.
            let source = CountingParametersSource(env.client)
            let cache = MarketMetadataCache(source: source)
            env.standIn.inject(.delay(.milliseconds(200), afterProcessing: true), on: .book)
            let results = try await withThrowingTaskGroup(of: MarketParameters.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await cache.marketParameters(tokenID: env.market.tokenID) }
                }
                return try await group.reduce(into: [MarketParameters]()) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(Set(results).count == 1)
            #expect(source.calls == 1)
            _ = try await cache.marketParameters(tokenID: env.market.tokenID)
            #expect(source.calls == 1)
        }
    }

    @Test("entries expire after their TTL; the least recently used is evicted")
    func ttlAndLRU() async throws {
        try await StandInEnvironment.with { env in
            let clock = ManualClock()
            let cache = MarketMetadataCache(
                source: env.client, capacity: 2, timeToLive: .seconds(60), now: { clock.now })
            let a = env.market.tokenID
            let b = env.negRiskMarket.tokenID
            var third = env.market
            third.tokenID = UInt256(777)
            env.standIn.setMarket(third)
            _ = try await cache.marketParameters(tokenID: a)
            clock.advance(.seconds(59))
            _ = try await cache.marketParameters(tokenID: a)
            #expect(env.standIn.requestCount(.book) == 1)
            clock.advance(.seconds(2))
            _ = try await cache.marketParameters(tokenID: a)
            #expect(env.standIn.requestCount(.book) == 2)
            _ = try await cache.marketParameters(tokenID: b)
            _ = try await cache.marketParameters(tokenID: a)  // a is now more recent than b
            _ = try await cache.marketParameters(tokenID: third.tokenID)  // evicts b
            #expect(await cache.count == 2)
            #expect(env.standIn.requestCount(.book) == 4)
            _ = try await cache.marketParameters(tokenID: a)
            #expect(env.standIn.requestCount(.book) == 4)
            _ = try await cache.marketParameters(tokenID: b)
            #expect(env.standIn.requestCount(.book) == 5)
        }
    }

    @Test("a tick-size refusal refreshes the cached tick, and the rebuilt order is accepted")
    func tickRefresh() async throws {
        try await StandInEnvironment.with { env in
            let cache = MarketMetadataCache(source: env.client)
            let stale = try await cache.marketParameters(tokenID: env.market.tokenID)
            #expect(stale.tickSize == .hundredth)
            var changed = env.market
            changed.tickSize = .tenth
            env.standIn.setMarket(changed)
            let request = LimitOrderRequest(
                tokenId: env.market.tokenID, side: .buy, price: ExactDecimal("0.55")!, size: ExactDecimal(10))
            let first = await env.client.postOrder(
                try env.builder.limitOrder(request, market: stale, contracts: env.contracts), type: .gtc)
            let fresh = try #require(
                try await cache.refreshIfStale(after: first, tokenID: env.market.tokenID))
            #expect(fresh.tickSize == .tenth)
            var retry = request
            retry.price = ExactDecimal("0.5")!
            let second = await env.client.postOrder(
                try env.builder.limitOrder(retry, market: fresh, contracts: env.contracts), type: .gtc)
            #expect(second.placedOrderID != nil)
            #expect(env.standIn.acceptedOrders.count == 1)
        }
    }
}

/// A monotonic clock tests move by hand.
final class ManualClock: Sendable {
    private let offset = Mutex<Duration>(.zero)
    private let start = ContinuousClock.now
    var now: ContinuousClock.Instant { start.advanced(by: offset.withLock { $0 }) }
    func advance(_ d: Duration) { offset.withLock { $0 += d } }
}

@Suite("CLOB secrets never leak")
struct ClobSecretTests {
    @Test("trace-level logs and every error description hold no private key, API secret or passphrase")
    func noSecretsInLogs() async throws {
        let recorder = LogRecorder()
        var texts: [String] = []
        let (keyHex, credentials) = try await StandInEnvironment.with(recorder: recorder) { env in
            let keyHex = env.key.withUnsafeKeyBytes { Hex.encode($0, prefix: false) }
            let derived = try await env.client.with(credentials: nil).deriveAPIKey(nonce: .zero)
            texts.append("\(derived)")
            let client = env.client.with(credentials: derived)
            texts.append(await client.postOrder(try env.order(), type: .gtc).description)
            env.standIn.inject(.dropConnection(afterProcessing: true), on: .postOrder)
            texts.append(await client.postOrder(try env.order(price: "0.51"), type: .gtc).description)
            env.standIn.inject(.serverError(status: 500, afterProcessing: false), on: .postOrder)
            texts.append(await client.postOrder(try env.order(price: "0.52"), type: .fok).description)
            env.standIn.inject(.rateLimited(retryAfter: 0.1), on: .postOrder)
            texts.append(await client.postOrder(try env.order(price: "0.53"), type: .gtc).description)
            texts.append(await client.postOrder(try env.order(size: "1"), type: .gtc).description)
            var wrong = derived
            wrong.secret = StandInEnvironment.randomCredentials().secret
            texts.append(
                await client.with(credentials: wrong).postOrder(try env.order(), type: .gtc).description)
            do throws(ClobError) { _ = try await client.cancelOrder(id: "0x00") } catch {
                texts.append(error.description)
            }
            let stranger = ClobHTTPClient(
                configuration: env.client.configuration, http: env.http, signer: PrivateKey.generate())
            do throws(ClobError) { _ = try await stranger.deriveAPIKey(nonce: .zero) } catch {
                texts.append(error.description)
            }
            texts.append("\(env.key) \(env.credentials) \(env.client)")
            return (keyHex, env.credentials)
        }
        let logs = recorder.all
        #expect(logs.count > 20, "trace logging produced \(logs.count) lines")
        let secrets = [keyHex, keyHex.uppercased(), credentials.secret, credentials.passphrase]
        for secret in secrets {
            for line in logs + texts {
                #expect(!line.contains(secret), "a secret appeared in: \(line)")
            }
        }
    }
}

/// A parameters source that counts the look-ups it is asked for.
final class CountingParametersSource: MarketParametersSource {
    private let base: any MarketParametersSource
    private let count = Mutex(0)

    init(_ base: any MarketParametersSource) { self.base = base }

    var calls: Int { count.withLock { $0 } }

    func marketParameters(tokenID: UInt256) async throws(ClobError) -> MarketParameters {
        count.withLock { $0 += 1 }
        return try await base.marketParameters(tokenID: tokenID)
    }
}
