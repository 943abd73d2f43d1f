import CopyEngine
import EVM
import Polymarket
import Synchronization
import Testing

@Suite("Copy engine")
struct EngineTests {
    @Test("the same identity twice gets one decision; concurrent duplicates too")
    func exactlyOnce() async {
        let h = Harness()
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let trade = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let first = await h.engine.handle(trade)
        let second = await h.engine.handle(trade)
        #expect(first == second)
        let decisions = await withTaskGroup(of: CopyDecision.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    await h.engine.handle(copyTrade(2, .buy, token: 1, shares: "100", price: "0.5"))
                }
            }
            return await group.reduce(into: [CopyDecision]()) { $0.append($1) }
        }
        #expect(Set(decisions).count == 1)
        #expect(h.store.allDecisions.count == 2)
        #expect(h.store.allIntents.count == 2)
        // Two copies of 20 shares each, not 17.
        #expect(h.engine.portfolio.ledger.shares(1) == d("40"))
        #expect(h.engine.statistics.copied == 2)
    }

    @Test("exit: the target sells a quarter of what we saw them buy → we sell a quarter of ours")
    func exitFlow() async {
        let h = Harness(sizing: .multipleOfTargetShares(d("0.5")))
        h.gateway.setBook(book(1, bids: [("0.6", "1000")], asks: [("0.5", "1000")]))
        #expect(
            await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "200", price: "0.5")).copiedOrder?.fill
                .shares == d("100"))
        let sell = await h.engine.handle(copyTrade(2, .sell, token: 1, shares: "50", price: "0.6"))
        #expect(sell.copiedOrder?.intent.shares == d("25"))
        #expect(sell.copiedOrder?.fill.collateral == d("15"))
        #expect(h.engine.portfolio.ledger.realised == d("2.5"))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("150"))
        // Another wallet sells a token we hold none of.
        let none = await h.engine.handle(
            copyTrade(3, .sell, token: 2, shares: "10", price: "0.6", wallet: otherWallet))
        #expect(none == .skipped(.noPosition(token: 2)))
    }

    @Test(
        "a trade begun ahead is decided on that step, its wallet's trade applied once; a step begun for another trade is not used; a retraction begun ahead takes the trade off"
    )
    func begunAhead() async throws {
        let h = Harness(sizing: .multipleOfTargetShares(d("0.5")))
        h.gateway.setBook(book(1, bids: [("0.6", "1000")], asks: [("0.5", "1000")]))
        let buy = copyTrade(1, .buy, token: 1, shares: "200", price: "0.5")
        let begun = try #require(await h.engine.begin(buy))
        // The step applied the followed wallet's trade and decided nothing.
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(try await h.store.decision(for: begun.key) == nil)
        #expect(await h.engine.handle(buy, begun: begun).copiedOrder?.fill.shares == d("100"))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        // Handed the BUY's step, a SELL takes its own: it sells the quarter the wallet sold of
        // what it held (200 before it), not all of ours as for a holding of none.
        let sell = await h.engine.handle(
            copyTrade(2, .sell, token: 1, shares: "50", price: "0.6"), begun: begun)
        #expect(sell.copiedOrder?.intent.shares == d("25"))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("150"))
        // A retraction's step takes the retracted trade off the holding; its handling takes that
        // step and reports the copy it flags.
        let retraction = copyTrade(2, .sell, token: 1, shares: "50", price: "0.6", kind: .retracted)
        let retracting = try #require(await h.engine.begin(retraction))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(await h.engine.handle(retraction, begun: retracting).copiedOrder?.intent.shares == d("25"))
        #expect(h.engine.statistics.retractedAfterCopy == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        // Nothing is begun for a trade that is not a valid fill.
        #expect(await h.engine.begin(copyTrade(3, .buy, token: 1, shares: "10", price: "1.5")) == nil)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
    }

    @Test("a retraction before the decision records retracted; after a copy it is flagged, not unwound")
    func retractions() async {
        let h = Harness()
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let copied = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        let again = await h.engine.handle(
            copyTrade(1, .buy, token: 1, shares: "100", price: "0.5", kind: .retracted))
        #expect(again == copied)
        #expect(h.store.allDecisions.first?.retracted == true)
        #expect(h.engine.statistics.retractedAfterCopy == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == .zero)
        let early = await h.engine.handle(
            copyTrade(2, .buy, token: 1, shares: "100", price: "0.5", kind: .retracted))
        #expect(early == .skipped(.retracted))
        // Retracted again: the same decision, nothing new.
        #expect(
            await h.engine.handle(copyTrade(2, .buy, token: 1, shares: "100", price: "0.5", kind: .retracted))
                == .skipped(.retracted))
        #expect(h.store.allDecisions.count == 2)
        #expect(h.store.allDecisions.filter(\.retracted).count == 2)
    }

    @Test("hostile amounts fail with invalid_trade, once")
    func invalid() async {
        let h = Harness()
        var trade = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        trade.trade.price = Price(whole: UInt256(5), micros: 0)
        let decision = await h.engine.handle(trade)
        #expect(decision.failure?.name == "invalid_trade")
        #expect(h.store.allDecisions.count == 1)
    }

    @Test("a store outage is reported, not recorded, and the trade decides normally later")
    func storeOutage() async {
        let h = Harness()
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        h.store.setFailure(StoreError("disk full"))
        let failed = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(failed == .failed(.store("disk full")))
        h.store.setFailure(nil)
        #expect(
            await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")).copiedOrder
                != nil)
    }
}

@Suite("Copy engine, live")
struct LiveEngineTests {
    @Test("live: sign → store intent → post → record; the order carries the sized amounts")
    func live() async {
        let h = Harness(
            mode: .live, sizing: .fixedCollateral(d("10")), risk: RiskLimits(maxSlippage: d("0.04")))
        h.gateway.setBook(book(1, asks: [("0.52", "1000")]))
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.52"))
        let order = decision.copiedOrder
        // Limit = floor_tick(0.52 × 1.04 = 0.5408) = 0.54; 10 / 0.54 = 18.51 shares, which cost
        // 9.9954: a FAK (a market order) spends that to the cent, 9.99, for at least
        // 9.99 / 0.54 = 18.5 shares (the CLOB's market-order precision: 2 and 4 decimals).
        #expect(order?.intent.limitPrice == d("0.54"))
        #expect(order?.intent.shares == d("18.5"))
        #expect(order?.intent.collateral == d("9.99"))
        let posts = h.gateway.posts
        #expect(posts.count == 1)
        if case .v2(let o) = posts.first?.payload {
            #expect(o.makerAmount == UInt256(9_990_000))
            #expect(o.takerAmount == UInt256(18_500_000))
            #expect(o.salt == CopyEngine.salt(for: DecisionKey(account: .default, identity: identity(1))))
        }
        #expect(h.store.allIntents.first?.status == .matched)
        #expect(h.store.allIntents.first?.signedOrder == posts.first)
        #expect(h.engine.portfolio.ledger.shares(1) == d("18.5"))
    }

    @Test("the intent is stored already claimed: one write, and no other change to it, before the post")
    func intentStoredClaimed() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let store = h.store
        let atPost = Mutex<(statuses: [IntentStatus], updates: Int)?>(nil)
        h.gateway.state.withLock {
            $0.onPost = { atPost.withLock { $0 = (store.allIntents.map(\.status), store.intentUpdates) } }
        }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision.copiedOrder != nil)
        let seen = atPost.withLock { $0 }
        #expect(seen?.statuses == [.posting], "stored claimed, before the post")
        #expect(seen?.updates == 0, "no claim write of its own")
        // After the post, the exchange's answer moves it on.
        #expect(h.store.allIntents.map(\.status) == [.matched])
        #expect(h.store.intentUpdates == 1)
    }

    @Test(
        "a live copy takes three store steps: begun (target applied), intent stored claimed, concluded with its decision"
    )
    func liveStoreSteps() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let store = h.store
        let atPost = Mutex<[String]?>(nil)
        h.gateway.state.withLock { $0.onPost = { atPost.withLock { $0 = store.writes } } }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision.copiedOrder != nil)
        #expect(atPost.withLock { $0 } == ["beginDecision", "storeIntent"])
        // After the answer: the intent, its fill and the decision in one step; then the day's PnL.
        #expect(h.store.writes == ["beginDecision", "storeIntent", "concludeIntent", "recordDailyPnL"])
        #expect(h.store.allDecisions.map(\.decision) == [decision])
        #expect(h.store.allIntents.map(\.status) == [.matched])
        // The same trade again: one step finds the decision.
        #expect(await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")) == decision)
        #expect(h.store.writes.count == 5)
        #expect(h.engine.statistics.alreadyDecided == 1)
    }

    @Test(
        "a live copy settles its lane turn once the order's answer is booked; a rejected one leaves it to the caller"
    )
    func laneTurn() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let turn = LaneTurn()
        let atPost = Mutex<Bool?>(nil)
        h.gateway.state.withLock { $0.onPost = { atPost.withLock { $0 = turn.isSettled } } }
        let decision = await h.engine.handle(
            copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"), turn: turn)
        #expect(decision.copiedOrder != nil)
        #expect(atPost.withLock { $0 } == false, "not settled before the answer")
        #expect(turn.isSettled)
        #expect(h.engine.portfolio.ledger.shares(1).isPositive)

        let rejected = LaneTurn()
        h.gateway.state.withLock {
            $0.onPost = nil
            $0.postScript = [.failure(.rejected("not enough balance"))]
        }
        let refused = await h.engine.handle(
            copyTrade(2, .buy, token: 1, shares: "100", price: "0.5"), turn: rejected)
        #expect(refused.copiedOrder == nil)
        #expect(!rejected.isSettled)
    }

    @Test("an announced trade prefetches its book, unless the decision will skip it before the book")
    func anticipate() async {
        let h = Harness(
            mode: .live, risk: RiskLimits(deniedTokens: [3]),
            breaker: .init(consecutiveFailures: 1, failureRatePercent: nil, cooldownSeconds: 30))
        h.engine.anticipate(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5").trade)
        h.engine.anticipate(copyTrade(2, .buy, token: 3, shares: "100", price: "0.5").trade)  // denied
        h.kill.engage("operator")
        h.engine.anticipate(copyTrade(3, .buy, token: 2, shares: "100", price: "0.5").trade)
        h.kill.release()
        h.gateway.setBook(book(2, asks: [("0.5", "1000")]))
        h.gateway.state.withLock { $0.postScript = [.failure(.server(status: 500, message: "down"))] }
        _ = await h.engine.handle(copyTrade(4, .buy, token: 2, shares: "100", price: "0.5"))  // opens it
        h.engine.anticipate(copyTrade(5, .buy, token: 4, shares: "100", price: "0.5").trade)
        h.clock.advance(seconds: 31)  // half-open: a probe may go, so its book is worth reading
        h.engine.anticipate(copyTrade(6, .buy, token: 5, shares: "100", price: "0.5").trade)
        #expect(h.gateway.state.withLock { $0.prefetched } == [1, 5])
    }

    @Test(
        "a SELL of a token we hold none of is skipped without its book, and not prefetched unless we are buying it"
    )
    func sellOfNothing() async throws {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, bids: [("0.5", "1000")], asks: [("0.5", "1000")]))
        h.gateway.setBook(book(2, bids: [("0.5", "1000")], asks: [("0.5", "1000")]))
        let sell = copyTrade(1, .sell, token: 1, shares: "100", price: "0.5")
        h.engine.anticipate(sell.trade)
        #expect(await h.engine.handle(sell) == .skipped(.noPosition(token: 1)))
        #expect(h.gateway.state.withLock { $0.prefetched }.isEmpty)
        #expect(h.gateway.state.withLock { $0.bookReads }.isEmpty)

        // While a BUY of token 2 is in flight, its SELL is prefetched (the BUY may fill).
        let (posting, release) = h.gateway.holdPosts()
        async let bought = h.engine.handle(copyTrade(2, .buy, token: 2, shares: "100", price: "0.5"))
        for await _ in posting { break }
        h.engine.anticipate(copyTrade(3, .sell, token: 2, shares: "50", price: "0.5").trade)
        #expect(h.gateway.state.withLock { $0.prefetched } == [2])
        release()
        #expect(await bought.copiedOrder != nil)
        h.gateway.state.withLock { $0.holdPost = nil }
        // Held now: the SELL reads its book and is copied.
        let sold = await h.engine.handle(copyTrade(3, .sell, token: 2, shares: "50", price: "0.5"))
        #expect(sold.copiedOrder?.intent.side == .sell)
        #expect(h.gateway.state.withLock { $0.bookReads } == [2, 2])
    }

    @Test("half-open with the probe in flight: the next copy is skipped and stores no intent")
    func probeInFlight() async {
        let h = Harness(
            mode: .live, breaker: .init(consecutiveFailures: 1, failureRatePercent: nil, cooldownSeconds: 30))
        for token: UInt64 in 1...3 { h.gateway.setBook(book(token, asks: [("0.5", "1000")])) }
        h.gateway.state.withLock { $0.postScript = [.failure(.server(status: 500, message: "down"))] }
        _ = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        h.clock.advance(seconds: 31)  // half-open: the next post is the probe
        let (probing, release) = h.gateway.holdPosts()
        async let probe = h.engine.handle(copyTrade(2, .buy, token: 2, shares: "100", price: "0.5"))
        for await _ in probing { break }
        let skipped = await h.engine.handle(copyTrade(3, .buy, token: 3, shares: "100", price: "0.5"))
        release()
        #expect(skipped.skipReason?.rule == .breakerOpen)
        #expect(await probe.copiedOrder != nil, "the probe copies")
        #expect(
            h.store.allIntents.map(\.key.identity) == [identity(1), identity(2)], "no intent for the skip")
        #expect(h.gateway.posts.count == 2)
        #expect(
            h.engine.portfolio.reservations.count == 1, "only the unknown first post keeps its reservation")
    }

    @Test("a lost response after acceptance: looked up, never posted again")
    func lostResponse() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        h.gateway.state.withLock { $0.postScript = [.failure(.timeout)] }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision.copiedOrder?.fill.shares == d("20"))
        #expect(h.gateway.posts.count == 1)
        #expect(h.gateway.state.withLock { $0.lookups } == 1)
        // Handling it again (a redelivery) changes nothing.
        _ = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(h.gateway.posts.count == 1)
    }

    @Test("unknown outcome stays unresolved, then is resolved by look-up after the lease")
    func unresolved() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        h.gateway.state.withLock {
            $0.postScript = [.failure(.server(status: 502, message: "bad gateway"))]
            $0.lookupFails = true
        }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision.failure?.name == "outcome_unknown")
        #expect(h.store.allDecisions.isEmpty)
        #expect(h.engine.portfolio.reservations.count == 1)
        // The redelivered trade resumes the intent: still unknown, still not posted again.
        h.gateway.state.withLock { $0.lookupFails = false }
        #expect(
            await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")).failure?.name
                == "outcome_unknown")
        #expect(h.gateway.posts.count == 1)
        // After the lease, and past the time it may be posted again (two leases), the recovery
        // pass declares it not found.
        h.clock.advance(seconds: 121)
        let resolved = await h.engine.resolveUnresolvedIntents()
        #expect(resolved.values.first?.failure?.name == "outcome_unknown")
        #expect(h.store.allDecisions.count == 1)
        #expect(h.store.allIntents.first?.status == .notFound)
        #expect(h.engine.portfolio.reservations.isEmpty)
        #expect(h.gateway.posts.count == 1)
    }

    @Test("an order the exchange balance cannot fund is skipped with the numbers, never posted")
    func unfunded() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let reason = SkipReason.insufficientExchangeBalance(
            asset: "collateral", required: d("9.99"), balance: d("2.5"))
        h.gateway.state.withLock { $0.shortfall = reason }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision == .skipped(reason))
        #expect(decision.explanation.contains("holds 2.5 collateral"))
        #expect(
            SkipReason.allowanceMissing(asset: "collateral", spender: .zero, required: .one, allowance: .zero)
                .rule
                == .allowanceMissing)
        #expect(h.gateway.posts.isEmpty)
        #expect(h.store.allIntents.isEmpty)
        #expect(h.engine.portfolio.reservations.isEmpty)
    }

    @Test("not found after the lease while fresh: the same signed order is posted again, and booked")
    func repostWhileFresh() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        // A 503 that placed nothing: the exchange does not know the order.
        h.gateway.state.withLock { $0.postScript = [.failure(.server(status: 503, message: "unavailable"))] }
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision.failure?.name == "outcome_unknown")
        // Within the lease: looked up, not posted again.
        h.clock.advance(seconds: 30)
        _ = await h.engine.resolveUnresolvedIntents()
        #expect(h.gateway.posts.count == 1)
        // After the lease, while the trade is fresh: the very same order (same hash) again.
        h.clock.advance(seconds: 31)
        let resolved = await h.engine.resolveUnresolvedIntents()
        #expect(resolved.values.first?.copiedOrder?.fill.shares == d("20"))
        let posts = h.gateway.posts
        #expect(posts.count == 2)
        #expect(posts.first == posts.last, "the same signed order")
        #expect(h.store.allIntents.first?.status == .matched)
        #expect(h.engine.portfolio.ledger.shares(1) == d("20"))
        #expect(h.engine.portfolio.reservations.isEmpty)
    }

    @Test("a crash after storing the intent: restart resumes by posting the stored order once")
    func crashBeforePost() async {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        // Simulate the crash: an intent stored, never claimed.
        let signed = try! testSigner(clock: h.clock).sign(
            LimitOrderRequest(tokenId: 1, side: .buy, price: x("0.5"), size: x("20")), market: cents, salt: 42
        )
        let key = DecisionKey(account: .default, identity: identity(1))
        let trade = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let intent = OrderIntent(
            tokenId: 1, market: marketA, side: .buy, shares: d("20"), limitPrice: d("0.5"),
            collateral: d("10"),
            orderType: .fak, targetPrice: d("0.5"), tickSize: .hundredth, minOrderSize: d("5"), negRisk: false
        )
        _ = try! await h.store.storeIntent(
            StoredIntent(
                key: key, trade: TradeSummary(trade.trade), mode: .live, intent: intent, signedOrder: signed,
                salt: 42,
                createdAt: h.clock.now()))
        let decision = await h.engine.handle(trade)
        #expect(decision.copiedOrder?.orderHash == signed.orderHash)
        #expect(h.gateway.posts == [signed])
    }

    @Test(
        "a conclusion lost with the latest commits (written synced later): the claimed intent is looked up, never posted again"
    )
    func conclusionLost() async throws {
        let before = Harness(mode: .live)
        before.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        // What was synced when the order went out: the target trade and the claimed intent.
        let synced = Mutex<[StoredIntent]>([])
        let store = before.store
        before.gateway.state.withLock { $0.onPost = { synced.withLock { $0 = store.allIntents } } }
        let trade = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let copied = try #require(await before.engine.handle(trade).copiedOrder)
        #expect(before.store.writes.suffix(2) == ["concludeIntent", "recordDailyPnL"])

        // A power loss drops the conclusion (and all after it); the store holds the rest.
        let survived = InMemoryCopyStateStore()
        _ = try await survived.applyTargetTrade(
            TargetTrade(identity: trade.identity, wallet: wallet, tokenId: 1, side: .buy, shares: d("100")))
        let claimed = try #require(synced.withLock { $0 }.first)
        #expect(claimed.status == .posting)
        _ = try await survived.storeIntent(claimed)
        let after = Harness(mode: .live, store: survived, gateway: before.gateway)
        // The trade is delivered again (its acknowledgement was lost too).
        let decision = await after.engine.handle(trade)
        #expect(decision == .copied(copied))
        #expect(after.gateway.posts.count == 1, "never posted again")
        #expect(after.gateway.state.withLock { $0.lookups } == 1)
        #expect(survived.allIntents.map(\.status) == [.matched])
        #expect(try await survived.fills(account: .default, after: 0).count == 1)
    }

    @Test("rejections don't count as faults; faults open the breaker, which then skips")
    func breaker() async {
        let h = Harness(
            mode: .live, breaker: .init(consecutiveFailures: 2, failureRatePercent: nil, cooldownSeconds: 30))
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        h.gateway.state.withLock {
            $0.postScript = [
                .failure(.rejected("not enough balance")), .failure(.rateLimited), .failure(.rateLimited),
            ]
        }
        let rejected = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(rejected == .failed(.exchangeRejected("not enough balance")))
        #expect(h.engine.breaker.state == .closed)
        _ = await h.engine.handle(copyTrade(2, .buy, token: 1, shares: "100", price: "0.5"))
        _ = await h.engine.handle(copyTrade(3, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(h.engine.breaker.state.name == "open")
        let skipped = await h.engine.handle(copyTrade(4, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(skipped.skipReason?.rule == .breakerOpen)
        #expect(h.gateway.posts.count == 3)
        // After the cooldown one probe goes through and closes it.
        h.clock.advance(seconds: 30)
        #expect(
            await h.engine.handle(copyTrade(5, .buy, token: 1, shares: "100", price: "0.5")).copiedOrder
                != nil)
        #expect(h.engine.breaker.state == .closed)
    }

    @Test("the ledger is restored from the snapshot plus the fills booked after it")
    func restore() async throws {
        let h = Harness()
        h.gateway.setBook(book(1, bids: [("0.6", "1000")], asks: [("0.5", "1000")]))
        _ = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        _ = await h.engine.handle(copyTrade(2, .sell, token: 1, shares: "50", price: "0.6"))
        let restored = try await CopyEngine.restoreLedger(
            store: h.store, account: .default, initialCash: d("1000"), day: h.clock.now().utcDay)
        #expect(restored.ledger.cash == h.engine.portfolio.ledger.cash)
        #expect(restored.ledger.positions == h.engine.portfolio.ledger.positions)
        #expect(restored.ledger.realised == d("1"))
        #expect(restored.throughFill == 2)
    }

    @Test("a snapshot is stored every 16 fills; a restore replays the fills after it to the same ledger")
    func snapshotEvery() async throws {
        let h = Harness()
        for token: UInt64 in 1...5 {
            h.gateway.setBook(book(token, bids: [("0.6", "1000")], asks: [("0.5", "1000")]))
        }
        for n: UInt64 in 1...20 {
            _ = await h.engine.handle(copyTrade(n, .buy, token: (n % 5) + 1, shares: "100", price: "0.5"))
        }
        #expect(try await h.store.loadLedger(account: .default)?.throughFill == 16)
        let restored = try await CopyEngine.restoreLedger(
            store: h.store, account: .default, initialCash: d("1000"), day: h.clock.now().utcDay)
        #expect(restored.throughFill == 20)
        #expect(restored.ledger.cash == h.engine.portfolio.ledger.cash)
        #expect(restored.ledger.positions == h.engine.portfolio.ledger.positions)
    }
}

/// `trade` as a reorg retracts it.
private func retraction(of trade: CopyTrade) -> CopyTrade {
    var retraction = trade
    retraction.kind = .retracted
    return retraction
}

/// `trade` mined again after a reorg removed it: the same identity and content, in block `block`
/// at `logIndex` (at `blockTime` when given).
private func minedAgain(
    _ trade: CopyTrade, block: UInt64, logIndex: UInt64, blockTime: UnixTime? = nil
) -> CopyTrade {
    var again = trade
    again.kind = .trade
    again.trade.blockNumber = block
    again.trade.blockHash = Bytes32(0, 0, 0xB, block)
    again.trade.logIndex = logIndex
    if let blockTime { again.blockTime = blockTime }
    return again
}

@Suite("Copy engine, reorgs: a trade retracted and mined again")
struct ReorgEngineTests {
    @Test(
        "a copied trade mined again: its decision reinstated at the new position, the wallet's holding restored once, a later SELL sized on it; not copied again"
    )
    func copiedThenMinedAgain() async throws {
        let h = Harness(sizing: .multipleOfTargetShares(d("0.5")))
        h.gateway.setBook(book(1, bids: [("0.6", "1000")], asks: [("0.5", "1000")]))
        let key = DecisionKey(account: h.engine.configuration.account, identity: identity(1))
        let buy = copyTrade(1, .buy, token: 1, shares: "200", price: "0.5")
        let copied = try #require(await h.engine.handle(buy).copiedOrder)
        #expect(copied.fill.shares == d("100"))
        #expect(await h.engine.handle(retraction(of: buy)) == .copied(copied))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == .zero)
        #expect(try await h.store.decision(for: key)?.retracted == true)

        // Mined again: the decision stands, no longer retracted, at the new position; the
        // wallet's holding has the trade again; no second copy.
        let again = minedAgain(buy, block: 130, logIndex: 7)
        #expect(await h.engine.handle(again) == .copied(copied))
        var stored = try #require(try await h.store.decision(for: key))
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 130)
        #expect(stored.trade.logIndex == 7)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(h.store.allIntents.count == 1)
        #expect(h.engine.portfolio.ledger.shares(1) == d("100"))
        #expect(h.engine.statistics.copied == 1)
        #expect(h.engine.statistics.reincluded == 1)
        // Delivered again (an acknowledgement lost): nothing changes.
        #expect(await h.engine.handle(again) == .copied(copied))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(h.engine.statistics.reincluded == 1)

        // Retracted and mined again once more (begun ahead, as the pipeline does).
        let retracting = try #require(await h.engine.begin(retraction(of: again)))
        #expect(await h.engine.handle(retraction(of: again), begun: retracting) == .copied(copied))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == .zero)
        let last = minedAgain(buy, block: 129, logIndex: 2)
        let begun = try #require(await h.engine.begin(last))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(await h.engine.handle(last, begun: begun) == .copied(copied))
        stored = try #require(try await h.store.decision(for: key))
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 129)
        #expect(stored.trade.logIndex == 2)
        #expect(h.store.allDecisions.count == 1)
        #expect(h.engine.statistics.reincluded == 2)

        // In a later block, the wallet sells a quarter of the 200 it holds: we sell a quarter of
        // our 100. (Had the holding stayed at zero, the SELL would be of an unknown holding: all of
        // ours.)
        var later = copyTrade(2, .sell, token: 1, shares: "50", price: "0.6")
        later.trade.blockNumber = 131
        let sell = await h.engine.handle(later)
        #expect(sell.copiedOrder?.intent.shares == d("25"))
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("150"))
        #expect(h.engine.portfolio.ledger.shares(1) == d("75"))
    }

    @Test("a live copy whose trade is mined again: no second order, the order stands as it is")
    func liveCopyMinedAgain() async throws {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let buy = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let copied = try #require(await h.engine.handle(buy).copiedOrder)
        #expect(h.gateway.posts.count == 1)
        #expect(await h.engine.handle(retraction(of: buy)) == .copied(copied))
        #expect(h.engine.statistics.retractedAfterCopy == 1)
        for block in [UInt64(140), 141] {
            #expect(await h.engine.handle(minedAgain(buy, block: block, logIndex: 0)) == .copied(copied))
        }
        #expect(h.gateway.posts.count == 1, "never posted twice")
        #expect(h.store.allIntents.count == 1)
        #expect(h.store.allIntents.first?.status == .matched)
        #expect(h.store.allDecisions.map(\.retracted) == [false])
        #expect(h.store.allDecisions.first?.trade.blockNumber == 141)
        #expect(h.engine.statistics.copied == 1)
    }

    @Test(
        "a trade retracted before it was decided and mined again is decided as a new trade: copied within the maximum age, skipped as stale after it; once copied, never again"
    )
    func retractedFirstThenMinedAgain() async throws {
        let h = Harness(mode: .live, risk: RiskLimits(maxTradeAgeSeconds: 60))
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let buy = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        #expect(await h.engine.handle(retraction(of: buy)) == .skipped(.retracted))
        #expect(h.store.allDecisions.first?.retracted == true)
        // Mined again 10 s ago: decided as new, and copied.
        let again = minedAgain(
            buy, block: 150, logIndex: 4, blockTime: h.clock.now().adding(seconds: -10))
        let copied = try #require(await h.engine.handle(again).copiedOrder)
        #expect(h.gateway.posts.count == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("100"))
        let stored = try #require(h.store.allDecisions.first)
        #expect(h.store.allDecisions.count == 1)
        #expect(!stored.retracted)
        #expect(stored.decision == .copied(copied))
        #expect(stored.trade.blockNumber == 150 && stored.trade.logIndex == 4)
        #expect(h.engine.statistics.reincluded == 1)
        // Retracted and mined again once more: it was copied, so it stays so; no second order.
        #expect(await h.engine.handle(retraction(of: again)) == .copied(copied))
        #expect(await h.engine.handle(minedAgain(buy, block: 151, logIndex: 0)) == .copied(copied))
        #expect(h.gateway.posts.count == 1)
        #expect(h.store.allIntents.count == 1)

        // Mined again past the maximum age: skipped as stale (and that decision stands).
        let late = copyTrade(2, .buy, token: 1, shares: "100", price: "0.5")
        #expect(await h.engine.handle(retraction(of: late)) == .skipped(.retracted))
        let stale = minedAgain(
            late, block: 152, logIndex: 1, blockTime: h.clock.now().adding(seconds: -120))
        #expect(await h.engine.handle(stale) == .skipped(.staleTrade(ageSeconds: 120, limitSeconds: 60)))
        #expect(h.gateway.posts.count == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
    }

    @Test(
        "a trade mined again while its retraction is handled takes its first step after that handling (begun ahead: nothing)"
    )
    func minedAgainBehindItsRetraction() async throws {
        let h = Harness()
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let key = DecisionKey(account: h.engine.configuration.account, identity: identity(1))
        let buy = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let copied = try #require(await h.engine.handle(buy).copiedOrder)
        // The pipeline begins the retraction, then the trade mined again, before either is handled.
        let retracting = try #require(await h.engine.begin(retraction(of: buy)))
        let again = minedAgain(buy, block: 160, logIndex: 5)
        #expect(await h.engine.begin(again) == nil, "taken when handled, after the retraction")
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == .zero)
        #expect(await h.engine.handle(retraction(of: buy), begun: retracting) == .copied(copied))
        #expect(try await h.store.decision(for: key)?.retracted == true)
        #expect(await h.engine.handle(again, begun: nil) == .copied(copied))
        let stored = try #require(try await h.store.decision(for: key))
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 160)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("100"))
        // Its retraction handled, a trade of the key begins ahead again.
        #expect(await h.engine.begin(again) != nil)
    }

    @Test("a moved trade's decision shows its final block and log index; no second order; holding unchanged")
    func movedTrade() async throws {
        let h = Harness(mode: .live)
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let key = DecisionKey(account: h.engine.configuration.account, identity: identity(1))
        let buy = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        let begun = try #require(await h.engine.begin(buy))
        let copied = try #require(await h.engine.handle(buy, begun: begun).copiedOrder)
        #expect(h.gateway.posts.count == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("100"))

        // A reorg re-included the transaction elsewhere in the pass that found it: no retraction,
        // the trade delivered again at its new position (begun ahead, as the pipeline does).
        let moved = minedAgain(buy, block: 131, logIndex: 4)
        let movedBegun = try #require(await h.engine.begin(moved))
        #expect(await h.engine.handle(moved, begun: movedBegun) == .copied(copied))
        var stored = try #require(try await h.store.decision(for: key))
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 131 && stored.trade.logIndex == 4)
        #expect(stored.decision == .copied(copied))
        #expect(h.gateway.posts.count == 1, "never posted twice")
        #expect(h.store.allIntents.count == 1)
        #expect(h.store.allDecisions.count == 1)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("100"), "applied once")
        #expect(h.engine.portfolio.ledger.shares(1) == copied.fill.shares)
        #expect(h.engine.statistics.copied == 1)
        #expect(h.engine.statistics.reincluded == 0, "never retracted")
        // Delivered again at that position (an acknowledgement lost): nothing changes.
        #expect(await h.engine.handle(moved) == .copied(copied))
        stored = try #require(try await h.store.decision(for: key))
        #expect(stored.trade.blockNumber == 131 && stored.trade.logIndex == 4)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("100"))
        #expect(h.gateway.posts.count == 1)

        // Moved while its first delivery is still in flight: the move never overlaps it, and
        // takes its first step once that one is handled, so it only moves the decision.
        let second = copyTrade(2, .buy, token: 1, shares: "100", price: "0.5")
        let secondMoved = minedAgain(second, block: 132, logIndex: 9)
        #expect(!CopyEngine.mayOverlap(running: second, next: secondMoved))
        #expect(CopyEngine.mayOverlap(running: buy, next: second))
        let secondBegun = try #require(await h.engine.begin(second))
        #expect(await h.engine.begin(secondMoved) == nil, "taken when handled, after the first delivery")
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        let secondCopied = try #require(await h.engine.handle(second, begun: secondBegun).copiedOrder)
        #expect(await h.engine.handle(secondMoved, begun: nil) == .copied(secondCopied))
        let secondKey = DecisionKey(account: h.engine.configuration.account, identity: identity(2))
        stored = try #require(try await h.store.decision(for: secondKey))
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 132 && stored.trade.logIndex == 9)
        #expect(h.gateway.posts.count == 2)
        #expect(h.store.allIntents.count == 2)
        #expect(h.store.allDecisions.count == 2)
        #expect(h.store.targetHolding(wallet: wallet, tokenId: 1) == d("200"))
        #expect(h.engine.statistics.copied == 2)
        // Handled, a later delivery of the trade begins ahead again.
        #expect(await h.engine.begin(secondMoved) != nil)
    }

    @Test(
        "an invalid trade retracted and delivered again: its decision no longer retracted, at the new position"
    )
    func invalidMinedAgain() async throws {
        let h = Harness()
        var trade = copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")
        trade.trade.price = Price(whole: UInt256(5), micros: 0)
        let failed = await h.engine.handle(trade)
        #expect(failed.failure?.name == "invalid_trade")
        #expect(await h.engine.handle(retraction(of: trade)) == failed)
        #expect(h.store.allDecisions.first?.retracted == true)
        #expect(await h.engine.handle(minedAgain(trade, block: 170, logIndex: 3)) == failed)
        let stored = try #require(h.store.allDecisions.first)
        #expect(!stored.retracted)
        #expect(stored.trade.blockNumber == 170 && stored.trade.logIndex == 3)
        #expect(h.store.allDecisions.count == 1)
        #expect(h.engine.statistics.reincluded == 1)
    }
}
