import CopyEngine
import EVM
import Polymarket
import Testing

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    @Test("opens after N consecutive faults, half-opens after the cooldown with one probe, closes on success")
    func consecutive() {
        let clock = ManualClock()
        let breaker = CircuitBreaker(
            configuration: .init(consecutiveFailures: 3, failureRatePercent: nil, cooldownSeconds: 30),
            clock: clock)
        for _ in 0..<2 { breaker.record(breaker.acquire()!, success: false) }
        #expect(breaker.state == .closed)
        breaker.record(breaker.acquire()!, success: true)
        #expect(breaker.snapshot.consecutiveFailures == 0)
        for _ in 0..<3 { breaker.record(breaker.acquire()!, success: false) }
        #expect(breaker.state == .open(until: clock.now().adding(seconds: 30)))
        #expect(breaker.acquire() == nil)
        clock.advance(seconds: 29)
        #expect(breaker.acquire() == nil)
        clock.advance(seconds: 1)
        #expect(breaker.state == .halfOpen(probeInFlight: false))
        let probe = breaker.acquire()
        #expect(probe == .probe)
        #expect(breaker.acquire() == nil)  // one probe only
        breaker.record(probe!, success: true)
        #expect(breaker.state == .closed)
        let snapshot = breaker.snapshot
        #expect(snapshot.opened == 1)
        #expect(snapshot.rejected == 3)
        #expect(snapshot.totalFailures == 5)
        #expect(snapshot.totalSuccesses == 2)
        #expect(snapshot.state.name == "closed")
    }

    @Test("a failed probe reopens for another cooldown; a released probe frees the slot")
    func failedProbe() {
        let clock = ManualClock()
        let breaker = CircuitBreaker(
            configuration: .init(consecutiveFailures: 1, failureRatePercent: nil, cooldownSeconds: 10),
            clock: clock)
        breaker.record(breaker.acquire()!, success: false)
        clock.advance(seconds: 10)
        let probe = breaker.acquire()!
        breaker.release(probe)
        #expect(breaker.state == .halfOpen(probeInFlight: false))
        breaker.record(breaker.acquire()!, success: false)
        #expect(breaker.state == .open(until: clock.now().adding(seconds: 10)))
        #expect(breaker.snapshot.opened == 2)
    }

    @Test("opens on the fault rate over the sliding window, old outcomes age out")
    func rate() {
        let clock = ManualClock()
        let breaker = CircuitBreaker(
            configuration: .init(
                consecutiveFailures: 100, failureRatePercent: 50, windowSeconds: 60, minimumCalls: 4,
                cooldownSeconds: 5),
            clock: clock)
        // Alternate: F S F — three calls, below the minimum.
        breaker.record(breaker.acquire()!, success: false)
        breaker.record(breaker.acquire()!, success: true)
        breaker.record(breaker.acquire()!, success: false)
        #expect(breaker.state == .closed)
        // Window ages out; new calls S S S F → 25 %, closed.
        clock.advance(seconds: 61)
        for ok in [true, true, true, false] { breaker.record(breaker.acquire()!, success: ok) }
        #expect(breaker.state == .closed)
        #expect(breaker.snapshot.windowCalls == 4)
        // S S S F F → 2/5 = 40 %, closed; one more F → 3/6 = 50 % opens.
        breaker.record(breaker.acquire()!, success: false)
        #expect(breaker.state == .closed)
        breaker.record(breaker.acquire()!, success: false)
        #expect(breaker.state.name == "open")
        #expect(breaker.snapshot.windowFailures == 3)
    }
}

@Suite("Paper execution")
struct PaperExecutionTests {
    @Test("a BUY walks the asks best first, up to the limit price, partial fill")
    func partialBuy() {
        let b = book(1, asks: [("0.55", "100"), ("0.52", "10"), ("0.53", "15.5")])
        let fill = PaperExecution.fill(
            side: .buy, shares: d("40"), limitPrice: d("0.53"), orderType: .fak, book: b,
            targetPrice: d("0.52"))
        // 10 @ 0.52 + 15.5 @ 0.53 = 5.2 + 8.215
        #expect(fill == FillSummary(shares: d("25.5"), collateral: d("13.415")))
        #expect(fill.averagePrice == d("0.526078"))
    }

    @Test(
        "the book left after a taker order: levels taken whole, the last one in part, the rest as they were")
    func bookLeft() {
        let b = book(1, bids: [("0.49", "7")], asks: [("0.55", "100"), ("0.52", "10"), ("0.53", "15.5")])
        let (taken, left) = b.taking(.buy, shares: d("20")) { $0 <= d("0.55") }
        #expect(
            taken == [
                PriceLevel(price: d("0.52"), size: d("10")), PriceLevel(price: d("0.53"), size: d("10")),
            ])
        #expect(
            left.asks == [
                PriceLevel(price: d("0.53"), size: d("5.5")), PriceLevel(price: d("0.55"), size: d("100")),
            ])
        #expect(left.bids == b.bids, "the other side is untouched")
        // The limit stops the walk; a SELL takes bids.
        #expect(
            b.taking(.buy, shares: d("50")) { $0 <= d("0.52") }.left.asks.first
                == PriceLevel(price: d("0.53"), size: d("15.5")))
        let sold = b.taking(.sell, shares: d("7")) { $0 >= d("0.49") }
        #expect(sold.taken == [PriceLevel(price: d("0.49"), size: d("7"))])
        #expect(sold.left.bids.isEmpty)
        #expect(sold.left.asks == b.asks)
    }

    @Test("FOK fills all or nothing")
    func fok() {
        let b = book(1, asks: [("0.52", "10")])
        let none = PaperExecution.fill(
            side: .buy, shares: d("20"), limitPrice: d("0.6"), orderType: .fok, book: b,
            targetPrice: d("0.52"))
        #expect(none == .none)
        let all = PaperExecution.fill(
            side: .buy, shares: d("10"), limitPrice: d("0.6"), orderType: .fok, book: b,
            targetPrice: d("0.52"))
        #expect(all.shares == d("10"))
    }

    @Test("a SELL takes bids down to the limit; proceeds round down, fees up")
    func sell() {
        let b = book(1, bids: [("0.3333", "3"), ("0.40", "2"), ("0.20", "50")])
        let fill = PaperExecution.fill(
            side: .sell, shares: d("10"), limitPrice: d("0.3"), orderType: .fak, book: b,
            targetPrice: d("0.4"),
            feeRate: d("0.001"))
        // 2 @ 0.40 + 3 @ 0.3333 = 0.8 + 0.9999; fee 0.0017999 → 0.001800
        #expect(fill == FillSummary(shares: d("5"), collateral: d("1.7999"), fee: d("0.0018")))
    }

    @Test("no book: the whole order at the target's price, flagged")
    func noBook() {
        let fill = PaperExecution.fill(
            side: .buy, shares: d("19.23"), limitPrice: d("0.54"), orderType: .fak, book: nil,
            targetPrice: d("0.521"))
        #expect(fill == FillSummary(shares: d("19.23"), collateral: d("10.01883"), pricedFromTarget: true))
    }

    @Test("through the engine: no book reachable → priced_from_target in the decision")
    func engineNoBook() async {
        let h = Harness(sizing: .fixedCollateral(d("10")))
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 5, shares: "100", price: "0.5"))
        let order = decision.copiedOrder
        #expect(order?.fill.pricedFromTarget == true)
        #expect(order?.fill.shares == d("20"))
        #expect(
            decision.explanation
                == "copied: paper BUY 20 shares of token 5 at ≤ 0.5 (10 collateral); filled 20 at 0.5000 (priced_from_target: no book)"
        )
    }
}

@Suite("Ledger")
struct LedgerTests {
    @Test("buys, partial and closing sells: exact cost basis, realised PnL and cash")
    func pnl() throws {
        var ledger = Ledger(cash: d("100"), day: UTCDay(daysSinceEpoch: 1))
        try ledger.apply(
            LedgerFill(
                tokenId: 1, market: marketA, side: .buy, shares: d("30"), collateral: d("10"), fee: d("0.01"))
        )
        #expect(ledger.cash == d("89.99"))
        #expect(ledger.positions[1]?.averageCost == d("0.333667"))
        // Sell a third: cost removed = 10.01 × 10 / 30 = 3.336666… → 3.336667 (half-even).
        let realised = try ledger.apply(
            LedgerFill(tokenId: 1, market: marketA, side: .sell, shares: d("10"), collateral: d("5")))
        #expect(realised == d("1.663333"))
        #expect(ledger.positions[1]?.cost == d("6.673333"))
        // Close: all remaining cost goes, no residue.
        let closing = try ledger.apply(
            LedgerFill(
                tokenId: 1, market: marketA, side: .sell, shares: d("20"), collateral: d("4"), fee: d("0.02"))
        )
        #expect(closing == d("-2.693333"))
        #expect(ledger.positions[1] == nil)
        #expect(ledger.realised == d("-1.03"))
        #expect(ledger.cash == d("98.97"))
        #expect(ledger.cash == d("100") + ledger.realised)  // flat: cash = start + realised
        #expect(ledger.fees == d("0.03"))
        #expect(throws: LedgerError.self) {
            try ledger.apply(
                LedgerFill(tokenId: 1, market: marketA, side: .sell, shares: d("1"), collateral: d("1")))
        }
    }

    @Test("marks, exposure per token/market/total and the UTC day's PnL")
    func marksAndDays() throws {
        var ledger = Ledger(cash: d("100"), day: UTCDay(daysSinceEpoch: 1))
        try ledger.apply(
            LedgerFill(tokenId: 1, market: marketA, side: .buy, shares: d("10"), collateral: d("5")))
        try ledger.apply(
            LedgerFill(tokenId: 2, market: marketA, side: .buy, shares: d("10"), collateral: d("3")))
        try ledger.apply(
            LedgerFill(tokenId: 3, market: marketB, side: .buy, shares: d("4"), collateral: d("2")))
        #expect(ledger.exposure(token: 1) == d("5"))
        #expect(ledger.exposure(market: marketA) == d("8"))
        #expect(ledger.totalExposure == d("10"))
        ledger.mark(1, price: d("0.7"))  // +2
        ledger.mark(2, price: d("0.25"))  // −0.5
        #expect(ledger.unrealised == d("1.5"))
        #expect(ledger.equity == d("101.5"))
        #expect(ledger.dailyPnL.total == d("1.5"))
        // Next day: the day's PnL restarts from the marks then.
        ledger.roll(to: UTCDay(daysSinceEpoch: 2))
        #expect(ledger.dailyPnL.total == .zero)
        try ledger.apply(
            LedgerFill(tokenId: 1, market: marketA, side: .sell, shares: d("10"), collateral: d("7")))
        // Sold at the mark: realised +2 today, unrealised fell by 2 → today's PnL 0.
        #expect(ledger.dailyPnL.realised == d("2"))
        #expect(ledger.dailyPnL.total == .zero)
        ledger.mark(3, price: d("0.25"))  // −1 today
        #expect(ledger.dailyPnL.total == d("-1"))
    }

    @Test("paper fills book into the ledger exactly as a live fill would")
    func paperBooking() async {
        let h = Harness(sizing: .fixedCollateral(d("10")), feeRate: "0.01")
        h.gateway.setBook(book(1, asks: [("0.5", "8"), ("0.51", "100")]))
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        // 10 / 0.5 = 20 shares: 8 @ 0.5 + 12 @ 0.51 = 10.12 > limit? No: the limit is 0.5, so only 8 fill.
        #expect(decision.copiedOrder?.fill == FillSummary(shares: d("8"), collateral: d("4"), fee: d("0.04")))
        let ledger = h.engine.portfolio.ledger
        #expect(ledger.cash == d("995.96"))
        #expect(ledger.positions[1] == Position(shares: d("8"), cost: d("4.04"), market: marketA))
        #expect(h.engine.portfolio.reservations.isEmpty)
    }
}
