import CopyEngine
import EVM
import Foundation
import Polymarket
import Testing

@Suite("Risk rules")
struct RiskTests {
    let roomy = ExposureView(
        token: .zero, market: .zero, total: .zero, availableCash: d("1000"), dailyPnL: .zero)

    @Test("slippage: best ask 0.57 is 9.6% above the target's 0.52, limit 5%")
    func slippageBuy() {
        let limits = RiskLimits(maxSlippage: d("0.05"), slippageReference: .best)
        let b = book(1, asks: [("0.57", "100"), ("0.60", "100")])
        let reason = RiskRules.slippage(
            side: .buy, shares: d("10"), targetPrice: d("0.52"), book: b, limits: limits)
        #expect(
            reason
                == .slippage(
                    side: .buy, reference: .best, bookPrice: d("0.57"), targetPrice: d("0.52"),
                    deviation: d("0.096154"),
                    limit: d("0.05")))
        #expect(
            CopyDecision.skipped(reason!).explanation
                == "skipped: slippage — best ask 0.57 is 9.6% above the target's 0.52, limit 5%")
        #expect(CopyDecision.skipped(reason!).label == "slippage")
    }

    @Test("slippage: exactly at the limit passes; the walked price can break it when the best does not")
    func slippageEdges() {
        let limits = RiskLimits(maxSlippage: d("0.05"), slippageReference: .walked)
        // 0.50 × 1.05 = 0.525: at the limit, not over.
        let atLimit = book(1, asks: [("0.525", "100")])
        #expect(
            RiskRules.slippage(
                side: .buy, shares: d("10"), targetPrice: d("0.5"), book: atLimit, limits: limits) == nil)
        let thin = book(1, asks: [("0.51", "5"), ("0.56", "100")])
        let reason = RiskRules.slippage(
            side: .buy, shares: d("10"), targetPrice: d("0.5"), book: thin, limits: limits)
        #expect(reason?.rule == .slippage)
        if case .slippage(_, let reference, let price, _, let deviation, _) = reason {
            #expect(reference == .walked)
            #expect(price == d("0.56"))
            #expect(deviation == d("0.12"))
        }
        // A SELL compares the bids, below the target.
        let bids = book(1, bids: [("0.40", "100")])
        let sell = RiskRules.slippage(
            side: .sell, shares: d("10"), targetPrice: d("0.5"), book: bids, limits: limits)
        #expect(sell?.explanation == "slippage — walked bid 0.4 is 20.0% below the target's 0.5, limit 5%")
        let empty = book(1, bids: [])
        #expect(
            RiskRules.slippage(
                side: .sell, shares: d("1"), targetPrice: d("0.5"), book: empty, limits: limits)
                == .noLiquidity(side: .sell))
    }

    @Test("per-order minimum and maximum collateral")
    func orderBounds() {
        let limits = RiskLimits(minOrderCollateral: d("1"), maxOrderCollateral: d("50"))
        #expect(
            RiskRules.buy(collateral: d("0.8"), market: nil, exposure: roomy, limits: limits)
                == .belowMinimumCollateral(collateral: d("0.8"), minimum: d("1")))
        #expect(
            RiskRules.buy(collateral: d("50.01"), market: nil, exposure: roomy, limits: limits)
                == .maxOrder(collateral: d("50.01"), limit: d("50")))
        #expect(RiskRules.buy(collateral: d("50"), market: nil, exposure: roomy, limits: limits) == nil)
    }

    @Test("positions per token and market, total exposure, balance, daily loss")
    func portfolioLimits() {
        let exposure = ExposureView(
            token: d("40"), market: d("70"), total: d("180"), availableCash: d("25"), dailyPnL: d("-19.99"))
        #expect(
            RiskRules.buy(
                collateral: d("11"), market: marketA, exposure: exposure,
                limits: RiskLimits(maxPositionPerToken: d("50")))
                == .maxPositionToken(current: d("40"), order: d("11"), limit: d("50")))
        #expect(
            RiskRules.buy(
                collateral: d("11"), market: marketA, exposure: exposure,
                limits: RiskLimits(maxPositionPerMarket: d("80")))
                == .maxPositionMarket(market: marketA, current: d("70"), order: d("11"), limit: d("80")))
        #expect(
            RiskRules.buy(
                collateral: d("21"), market: marketA, exposure: exposure,
                limits: RiskLimits(maxTotalExposure: d("200")))
                == .maxExposure(current: d("180"), order: d("21"), limit: d("200")))
        #expect(
            RiskRules.buy(collateral: d("26"), market: marketA, exposure: exposure, limits: RiskLimits())
                == .insufficientBalance(required: d("26"), available: d("25")))
        #expect(
            RiskRules.buy(
                collateral: d("5"), market: marketA, exposure: exposure,
                limits: RiskLimits(dailyLossLimit: d("20"))) == nil)
        var losing = exposure
        losing.dailyPnL = d("-20")
        let reason = RiskRules.buy(
            collateral: d("5"), market: marketA, exposure: losing, limits: RiskLimits(dailyLossLimit: d("20"))
        )
        #expect(reason == .dailyLoss(pnl: d("-20"), limit: d("20")))
        #expect(reason?.rule.rawValue == "daily_loss")
    }

    @Test("staleness and allow/deny lists")
    func admission() {
        let now = UnixTime(seconds: 1000)
        let stale = RiskLimits(maxTradeAgeSeconds: 30)
        #expect(
            RiskRules.admission(
                tokenId: 1, market: nil, blockTime: UnixTime(seconds: 969), now: now, limits: stale)
                == .staleTrade(ageSeconds: 31, limitSeconds: 30))
        #expect(
            RiskRules.admission(
                tokenId: 1, market: nil, blockTime: UnixTime(seconds: 970), now: now, limits: stale) == nil)
        #expect(
            RiskRules.admission(
                tokenId: 1, market: marketA, blockTime: nil, now: now, limits: RiskLimits(deniedTokens: [1]))
                == .tokenDenied(token: 1))
        #expect(
            RiskRules.admission(
                tokenId: 1, market: marketA, blockTime: nil, now: now,
                limits: RiskLimits(deniedMarkets: [marketA]))
                == .marketDenied(market: marketA))
        let allow = RiskLimits(allowedMarkets: [marketB], allowedTokens: [7])
        #expect(
            RiskRules.admission(tokenId: 1, market: marketA, blockTime: nil, now: now, limits: allow)
                == .notAllowed(token: 1, market: marketA))
        #expect(
            RiskRules.admission(tokenId: 7, market: marketA, blockTime: nil, now: now, limits: allow) == nil)
        #expect(
            RiskRules.admission(tokenId: 1, market: marketB, blockTime: nil, now: now, limits: allow) == nil)
    }

    @Test("every rule has a stable snake_case name")
    func names() {
        let names = Set(SkipRule.allCases.map(\.rawValue))
        for expected in [
            "below_minimum", "max_order", "max_position_token", "max_position_market", "max_exposure",
            "daily_loss",
            "slippage", "stale_trade", "market_denied", "token_denied", "not_allowed", "kill_switch",
            "breaker_open",
            "no_position", "retracted",
        ] {
            #expect(names.contains(expected))
        }
    }
}

@Suite("Risk rules through the engine")
struct EngineRiskTests {
    @Test("kill switch (flag) skips")
    func killSwitch() async {
        let h = Harness()
        h.gateway.setBook(book(1, asks: [("0.5", "100")]))
        h.kill.engage("operator")
        let decision = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(decision == .skipped(.killSwitch(source: "operator")))
        #expect(decision.explanation == "skipped: kill_switch — the kill switch is engaged (operator)")
    }

    @Test("kill switch (file) skips while the file exists")
    func killFile() throws {
        let path = "/tmp/copyengine-kill-\(UInt64.random(in: 0...UInt64.max))"
        let file = FileKillSwitch(path: path)
        #expect(file.engaged() == nil)
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(file.engaged() == "file \(path)")
        try FileManager.default.removeItem(atPath: path)
        #expect(file.engaged() == nil)
    }

    @Test("stale trade when seen is skipped with its age")
    func stale() async {
        let h = Harness(risk: RiskLimits(maxTradeAgeSeconds: 60))
        h.gateway.setBook(book(1, asks: [("0.5", "100")]))
        let decision = await h.engine.handle(
            copyTrade(
                1, .buy, token: 1, shares: "100", price: "0.5", blockTime: h.clock.now().adding(seconds: -300)
            ))
        #expect(decision == .skipped(.staleTrade(ageSeconds: 300, limitSeconds: 60)))
    }

    @Test("position per token accumulates over copies and reservations")
    func positionPerToken() async {
        let h = Harness(sizing: .fixedCollateral(d("10")), risk: RiskLimits(maxPositionPerToken: d("25")))
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        let first = await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
        let second = await h.engine.handle(copyTrade(2, .buy, token: 1, shares: "100", price: "0.5"))
        let third = await h.engine.handle(copyTrade(3, .buy, token: 1, shares: "100", price: "0.5"))
        #expect(first.copiedOrder != nil)
        #expect(second.copiedOrder != nil)
        #expect(third == .skipped(.maxPositionToken(current: d("20"), order: d("10"), limit: d("25"))))
    }

    @Test("market deny list needs the market; unknown market fails loudly")
    func marketLists() async {
        let h = Harness(risk: RiskLimits(deniedMarkets: [marketA]))
        h.gateway.setBook(book(1, asks: [("0.5", "100")], market: marketA))
        #expect(
            await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5"))
                == .skipped(.marketDenied(market: marketA)))
        let decision = await h.engine.handle(copyTrade(2, .buy, token: 2, shares: "100", price: "0.5"))
        #expect(decision.failure?.name == "market_unavailable")
    }

    @Test("daily loss stops buys after marked losses")
    func dailyLoss() async {
        let h = Harness(sizing: .fixedCollateral(d("50")), risk: RiskLimits(dailyLossLimit: d("20")))
        h.gateway.setBook(book(1, asks: [("0.5", "1000")]))
        #expect(
            await h.engine.handle(copyTrade(1, .buy, token: 1, shares: "100", price: "0.5")).copiedOrder
                != nil)
        // The target trades again at 0.25: our 100 shares are marked at half their cost.
        h.gateway.setBook(book(1, asks: [("0.25", "1000")]))
        let decision = await h.engine.handle(copyTrade(2, .buy, token: 1, shares: "100", price: "0.25"))
        #expect(decision == .skipped(.dailyLoss(pnl: d("-25"), limit: d("20"))))
    }
}
