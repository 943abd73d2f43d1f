import CopyEngine
import EVM
import Polymarket
import Testing

/// Copies as the engine sizes and signs them for FAK, over random markets and trades: every order
/// is one the CLOB accepts (its market-order precision), at the limit price as its worst price,
/// within the sized budget, and no SELL above the position.
@Suite("Market-order copies, property")
struct MarketOrderPropertyTests {
    /// A signer that does not sign (the amounts are under test, not the signature).
    struct NullSigner: DigestSigner {
        let address = Address(hi: 0xC0FF_EE00_0000_0000, mid: 1, lo: 2)
        func sign(digest: Bytes32) -> Signature {
            try! Signature(bytes: [UInt8](repeating: 1, count: 64) + [27])
        }
    }

    /// A small, seeded generator (the runs are reproducible).
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var z = state
            z = (z ^ (z >> 33)) &* 0xff51_afd7_ed55_8ccd
            return z ^ (z >> 33)
        }
    }

    static let signer = BuilderOrderSigner(
        builder: OrderBuilder(signer: NullSigner(), clock: { 1_700_000_000_000 }),
        contracts: ExchangeContracts(
            domainVersion: "2", chainId: 137, exchange: Address(hi: 1, mid: 1, lo: 1),
            negRiskExchange: Address(hi: 2, mid: 2, lo: 2)))

    /// Shares from the minimum to thousands, in millionths, on a log-like spread.
    static func shares(_ g: inout Generator, minimum: Int128) -> Fixed6 {
        let scale = [Int128(1), 10, 100, 1_000][Int.random(in: 0..<4, using: &g)]
        let micros = minimum + Int128.random(in: 0...(scale * 5_000_000), using: &g)
        return Fixed6(micros: micros)
    }

    @Test("20,000 random FAK copies: accepted precision, worst price = limit, within budget and position")
    func randomCopies() throws {
        var g = Generator(state: 0x5EED_C0DE)
        var counts: [TickSize: Int] = [:]
        var sides: [Side: Int] = [:]
        var skipped = 0
        for _ in 0..<20_000 {
            let tick = TickSize.allCases.randomElement(using: &g)!
            let side: Side = Bool.random(using: &g) ? .buy : .sell
            let minimum = Fixed6(micros: Int128([0, 1, 5, 15].randomElement(using: &g)!) * 1_000_000)
            let rules = MarketRules(tickSize: tick, minOrderSize: minimum)
            // A target price anywhere in (0, 1), and a slippage allowance of 0–10 %.
            let target = Fixed6(micros: Int128.random(in: 1...999_999, using: &g))
            let slippage = Fixed6(micros: Int128.random(in: 0...100_000, using: &g))
            let limit = Sizing.limitPrice(side: side, targetPrice: target, maxSlippage: slippage, tick: tick)
            let result: SizingResult
            var budget = Fixed6.zero
            var position = Fixed6.zero
            switch side {
            case .buy:
                budget = Fixed6(micros: Int128.random(in: 1_000_000...5_000_000_000, using: &g))
                result = Sizing.buy(
                    rule: .fixedCollateral(budget), targetShares: .zero, targetCollateral: .zero,
                    availableBalance: .zero, limitPrice: limit, market: rules, orderType: .fak)
            case .sell:
                position = Self.shares(&g, minimum: max(minimum.micros, 10_000))
                let theirs = Self.shares(&g, minimum: 10_000)
                let sold = Fixed6(micros: Int128.random(in: 1...theirs.micros, using: &g))
                result = Sizing.sell(
                    ourShares: position, targetSold: sold, targetHolding: TargetHolding(sharesBefore: theirs),
                    unknownHolding: .sellAll, tokenId: UInt256(7), limitPrice: limit, market: rules,
                    orderType: .fak)
            }
            guard case .order(let sized) = result else {
                skipped += 1
                continue
            }
            let intent = OrderIntent(
                tokenId: UInt256(7), market: nil, side: side, shares: sized.shares, limitPrice: limit,
                collateral: sized.collateral, orderType: .fak, targetPrice: target, tickSize: tick,
                minOrderSize: minimum, negRisk: false)
            let signed = try Self.signer.sign(
                intent,
                market: MarketParameters(tickSize: tick, minOrderSize: minimum.exactDecimal!, negRisk: false),
                salt: UInt256(1))
            guard case .v2(let order) = signed.payload else {
                Issue.record("not a V2 order")
                continue
            }
            let amounts = OrderAmounts(makerAmount: order.makerAmount, takerAmount: order.takerAmount)
            let context = "\(side) tick \(tick) limit \(limit) sized \(sized) amounts \(amounts)"
            // The CLOB's market-order precision: maker ≤ 2 decimals, taker ≤ 4.
            #expect(
                AmountPrecision.violation(
                    side: side, orderType: .fak, tick: tick, makerAmount: order.makerAmount,
                    takerAmount: order.takerAmount) == nil, "\(context)")
            #expect(
                order.makerAmount.uint64! % 10_000 == 0 && order.takerAmount.uint64! % 100 == 0, "\(context)")
            // The worst price it can trade at is the limit, on the tick.
            #expect(
                MarketOrderAmounts.worstPrice(side: side, amounts, tick: tick) == UInt64(limit.micros),
                "\(context)")
            let shares = Fixed6(
                micros: Int128(side == .buy ? order.takerAmount.uint64! : order.makerAmount.uint64!))
            let collateral = Fixed6(
                micros: Int128(side == .buy ? order.makerAmount.uint64! : order.takerAmount.uint64!))
            // What the order signs is what the intent says (the ledger's reservation).
            #expect(shares == sized.shares && collateral == sized.collateral, "\(context)")
            #expect(shares >= minimum, "\(context)")
            switch side {
            case .buy:
                #expect(collateral <= budget, "spends more than sized: \(context)")
                #expect(collateral >= Sizing.minimumMarketBuy, "\(context)")
            case .sell:
                #expect(shares <= position, "sells more than held: \(context)")
            }
            counts[tick, default: 0] += 1
            sides[side, default: 0] += 1
        }
        // Every tick and both sides were exercised, with few sizes below a minimum.
        #expect(counts.count == TickSize.allCases.count)
        #expect(counts.values.allSatisfy { $0 > 1_000 }, "\(counts)")
        #expect(sides.values.allSatisfy { $0 > 5_000 }, "\(sides)")
        #expect(skipped < 4_000, "\(skipped) skipped")
    }

    @Test("the reported refusal: 8.62 shares at 0.58 as a limit order is refused as FAK; the copy is not")
    func reportedRefusal() throws {
        let limit = AmountRounding.limit(
            side: .buy, price: ExactDecimal("0.58")!, size: ExactDecimal("8.62")!, tick: .hundredth)
        #expect(limit.makerAmount == UInt256(4_999_600))
        #expect(
            AmountPrecision.violation(
                side: .buy, orderType: .fak, tick: .hundredth, makerAmount: limit.makerAmount,
                takerAmount: limit.takerAmount)
                == "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
        )
        // The same copy sized for FAK: $4.99 for at least 8.6034 shares, worst price 0.58.
        let rules = MarketRules(tickSize: .hundredth, minOrderSize: Fixed6(5))
        let sized = Sizing.buy(
            rule: .multipleOfTargetShares(.one), targetShares: Fixed6(micros: 8_620_000),
            targetCollateral: .zero,
            availableBalance: .zero, limitPrice: Fixed6(micros: 580_000), market: rules, orderType: .fak)
        #expect(
            sized
                == .order(
                    SizedOrder(shares: Fixed6(micros: 8_603_400), collateral: Fixed6(micros: 4_990_000))))
    }
}
