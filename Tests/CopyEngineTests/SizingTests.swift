import CopyEngine
import EVM
import Polymarket
import Testing

@Suite("Sizing")
struct SizingTests {
    let rules = MarketRules(tickSize: .hundredth, minOrderSize: d("5"))

    @Test("limit price: target moved by the slippage allowance, to the tick, within [tick, 1 − tick]")
    func limitPrice() {
        #expect(
            Sizing.limitPrice(side: .buy, targetPrice: d("0.52"), maxSlippage: d("0.05"), tick: .hundredth)
                == d("0.54"))
        #expect(
            Sizing.limitPrice(side: .sell, targetPrice: d("0.52"), maxSlippage: d("0.05"), tick: .hundredth)
                == d("0.5"))
        #expect(
            Sizing.limitPrice(side: .buy, targetPrice: d("0.525"), maxSlippage: nil, tick: .hundredth)
                == d("0.52"))
        #expect(
            Sizing.limitPrice(side: .sell, targetPrice: d("0.525"), maxSlippage: nil, tick: .hundredth)
                == d("0.53"))
        #expect(
            Sizing.limitPrice(side: .buy, targetPrice: d("0.98"), maxSlippage: d("0.1"), tick: .hundredth)
                == d("0.99"))
        #expect(
            Sizing.limitPrice(side: .sell, targetPrice: d("0.01"), maxSlippage: d("0.5"), tick: .hundredth)
                == d("0.01"))
        #expect(
            Sizing.limitPrice(side: .buy, targetPrice: d("0.5234"), maxSlippage: nil, tick: .tenThousandth)
                == d("0.5234"))
    }

    @Test("fixed collateral buys floor(C / L) shares to 0.01, collateral by the exchange's amount rules")
    func fixedCollateral() {
        let result = Sizing.buy(
            rule: .fixedCollateral(d("10")), targetShares: d("100"), targetCollateral: d("52"),
            availableBalance: d("1000"), limitPrice: d("0.53"), market: rules)
        // 10 / 0.53 = 18.867… → 18.86 shares; 18.86 × 0.53 = 9.9958
        #expect(result == .order(SizedOrder(shares: d("18.86"), collateral: d("9.9958"))))
    }

    @Test("fraction of the target's collateral")
    func fractionOfTarget() {
        let result = Sizing.buy(
            rule: .fractionOfTargetCollateral(d("0.1")), targetShares: d("200"), targetCollateral: d("104"),
            availableBalance: d("1000"), limitPrice: d("0.52"), market: rules)
        // 10.4 / 0.52 = 20 shares exactly
        #expect(result == .order(SizedOrder(shares: d("20"), collateral: d("10.4"))))
    }

    @Test("multiple of the target's shares, floored to the size step")
    func multipleOfShares() {
        let result = Sizing.buy(
            rule: .multipleOfTargetShares(d("0.333")), targetShares: d("100.5"), targetCollateral: d("50"),
            availableBalance: d("1000"), limitPrice: d("0.5"), market: rules)
        // 100.5 × 0.333 = 33.4665 → 33.46; × 0.5 = 16.73
        #expect(result == .order(SizedOrder(shares: d("33.46"), collateral: d("16.73"))))
    }

    @Test("fraction of our available balance")
    func fractionOfBalance() {
        let result = Sizing.buy(
            rule: .fractionOfBalance(d("0.02")), targetShares: d("1"), targetCollateral: d("0.5"),
            availableBalance: d("750"), limitPrice: d("0.25"), market: rules)
        // 15 / 0.25 = 60
        #expect(result == .order(SizedOrder(shares: d("60"), collateral: d("15"))))
    }

    @Test("below the market's minimum size is skipped with the numbers")
    func belowMinimum() {
        let result = Sizing.buy(
            rule: .fixedCollateral(d("2")), targetShares: d("100"), targetCollateral: d("50"),
            availableBalance: d("1000"), limitPrice: d("0.5"), market: rules)
        #expect(result == .skip(.belowMinimumShares(shares: d("4"), minimum: d("5"))))
        #expect(
            SkipReason.belowMinimumShares(shares: d("4"), minimum: d("5")).explanation
                == "below_minimum — 4 shares is below the market's minimum of 5")
    }

    @Test("clamp to the per-order maximum")
    func clamp() {
        let result = Sizing.buy(
            rule: .fixedCollateral(d("100")), targetShares: d("1"), targetCollateral: d("1"),
            availableBalance: d("1000"), limitPrice: d("0.3"), market: rules, maxCollateral: d("25"))
        // 25 / 0.3 = 83.33 shares → 24.999 collateral
        #expect(result == .order(SizedOrder(shares: d("83.33"), collateral: d("24.999"))))
    }

    @Test("tick 0.001: collateral keeps the tick's amount decimals")
    func thousandthTick() {
        let fine = MarketRules(tickSize: .thousandth, minOrderSize: d("5"))
        let result = Sizing.buy(
            rule: .fixedCollateral(d("7")), targetShares: d("1"), targetCollateral: d("1"),
            availableBalance: d("1000"), limitPrice: d("0.337"), market: fine)
        // 7 / 0.337 = 20.7715… → 20.77; × 0.337 = 6.99949
        #expect(result == .order(SizedOrder(shares: d("20.77"), collateral: d("6.99949"))))
    }

    @Test("exit: the fraction of our position the target sold of theirs")
    func exitFraction() {
        // They held 200 and sold 50 (a quarter); we hold 40.5 → sell 10.12 (floored).
        let result = Sizing.sell(
            ourShares: d("40.5"), targetSold: d("50"), targetHolding: TargetHolding(sharesBefore: d("200")),
            unknownHolding: .sellAll, tokenId: 9, limitPrice: d("0.6"), market: rules)
        #expect(result == .order(SizedOrder(shares: d("10.12"), collateral: d("6.072"))))
    }

    @Test("exit: selling all they were seen to hold (or more) closes our whole position")
    func exitAll() {
        let result = Sizing.sell(
            ourShares: d("40"), targetSold: d("250"), targetHolding: TargetHolding(sharesBefore: d("200")),
            unknownHolding: .skip, tokenId: 9, limitPrice: d("0.5"), market: rules)
        #expect(result == .order(SizedOrder(shares: d("40"), collateral: d("20"))))
    }

    @Test("exit: unknown holding sells all or skips, by policy")
    func exitUnknown() {
        let sellAll = Sizing.sell(
            ourShares: d("12"), targetSold: d("5"), targetHolding: TargetHolding(sharesBefore: .zero),
            unknownHolding: .sellAll, tokenId: 9, limitPrice: d("0.5"), market: rules)
        #expect(sellAll == .order(SizedOrder(shares: d("12"), collateral: d("6"))))
        let skip = Sizing.sell(
            ourShares: d("12"), targetSold: d("5"), targetHolding: TargetHolding(sharesBefore: .zero),
            unknownHolding: .skip, tokenId: 9, limitPrice: d("0.5"), market: rules)
        #expect(skip == .skip(.unknownHolding(token: 9, targetShares: d("5"))))
    }

    @Test("exit without a position skips with no_position; a tiny exit is below the minimum")
    func exitEdges() {
        let none = Sizing.sell(
            ourShares: .zero, targetSold: d("5"), targetHolding: TargetHolding(sharesBefore: d("10")),
            unknownHolding: .sellAll, tokenId: 9, limitPrice: d("0.5"), market: rules)
        #expect(none == .skip(.noPosition(token: 9)))
        let small = Sizing.sell(
            ourShares: d("20"), targetSold: d("1"), targetHolding: TargetHolding(sharesBefore: d("10")),
            unknownHolding: .sellAll, tokenId: 9, limitPrice: d("0.5"), market: rules)
        #expect(small == .skip(.belowMinimumShares(shares: d("2"), minimum: d("5"))))
    }
}

@Suite("Fixed6")
struct Fixed6Tests {
    @Test("parsing, text and rounding")
    func basics() {
        #expect(d("0.57").description == "0.57")
        #expect(d("-3.2").fixedString == "-3.200000")
        #expect(d("10").description == "10")
        #expect(Fixed6("0.1234567") == nil)
        #expect(Fixed6("1e5") == nil)
        #expect(Fixed6.divide(d("0.05"), d("0.52"), rounding: .halfEven)!.percent() == "9.6%")
        #expect(d("0.05").exactPercent == "5%")
        #expect(Fixed6.mulDiv(d("-1"), d("1"), d("3"), rounding: .down) == d("-0.333334"))
        #expect(Fixed6.mulDiv(d("-1"), d("1"), d("3"), rounding: .up) == d("-0.333333"))
        #expect(Fixed6.mulDiv(d("2"), d("1"), d("3"), rounding: .halfEven) == d("0.666667"))
        #expect(d("12.3456").formatted(places: 2) == "12.35")
        #expect(Fixed6.divide(d("1"), .zero, rounding: .down) == nil)
        #expect(UnixTime(seconds: 86_400 * 20_000 + 5).utcDay.description == "2024-10-04")
    }

    @Test("from an exact decimal: floored to six places, in word arithmetic or through BigUInt alike")
    func fromExactDecimal() throws {
        #expect(Fixed6(try #require(ExactDecimal("0.1234567"))) == d("0.123456"))
        #expect(Fixed6(try #require(ExactDecimal("1000000"))) == d("1000000"))
        #expect(Fixed6(try #require(ExactDecimal("0.0000009"))) == .zero)
        #expect(Fixed6(try #require(ExactDecimal("18446744073709.551615"))) == d("18446744073709.551615"))
        // Past 64 bits of micros (the BigUInt path), up to the limit and beyond it.
        #expect(Fixed6(try #require(ExactDecimal("18446744073709.551616"))) == d("18446744073709.551616"))
        #expect(Fixed6(try #require(ExactDecimal("1000000000000000"))) == Fixed6.limit)
        #expect(Fixed6(try #require(ExactDecimal("1000000000000000.000001"))) == nil)
        #expect(Fixed6(try #require(ExactDecimal("0.1234567890123456789012345"))) == d("0.123456"))
        var state: UInt64 = 11
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let whole = (state >> 20) % 100_000
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let digits = Int(state >> 60) % 10
            let fraction = String(String(state >> 3).prefix(digits))
            let text = digits == 0 ? "\(whole)" : "\(whole).\(fraction)"
            // The expected value by the text parser, from the text cut to six decimals.
            let cut = digits > 6 ? String(text.dropLast(digits - 6)) : text
            #expect(Fixed6(try #require(ExactDecimal(text))) == Fixed6(cut), "\(text)")
        }
    }

    @Test("a Fixed6 as an exact decimal is its text's, and a tick as a Fixed6 is its text's")
    func exactDecimals() throws {
        var state: UInt64 = 11
        for i in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let micros = i % 3 == 0 ? Int128(state % 1_000) * 1_000 : Int128(state >> (state % 64))
            let value = Fixed6(micros: micros)
            #expect(value.exactDecimal == ExactDecimal(value.description), "\(value)")
        }
        #expect(Fixed6.limit.exactDecimal == ExactDecimal(Fixed6.limit.description))
        #expect(Fixed6(micros: -1).exactDecimal == nil)
        for tick in TickSize.allCases {
            #expect(tick.fixed6 == Fixed6(tick.rawValue), "\(tick)")
        }
    }
}
