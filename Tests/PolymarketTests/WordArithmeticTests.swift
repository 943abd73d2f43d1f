import BigInt
import EVM
import Testing

@testable import Polymarket

/// The word-arithmetic paths of exact decimals and order amounts, each against the arbitrary-
/// precision arithmetic it stands for, on generated values (the fixtures of the official client
/// check `AmountRounding` itself in `OrderBuilderTests`).
@Suite("Word arithmetic of exact decimals and order amounts")
struct WordArithmeticTests {
    /// A 64-bit LCG (its state's high bits folded down), so each run checks the same values.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
        mutating func below(_ bound: UInt64) -> UInt64 { (next() >> 11) % bound }
    }

    static func pow10(_ n: Int) -> BigUInt { BigUInt(10).power(n) }

    /// A decimal with `digits` random digits (trailing ones often 0 or 5, for ties) and `scale`.
    static func decimal(_ g: inout Generator, maxDigits: Int, maxScale: Int) -> ExactDecimal {
        let digits = 1 + Int(g.below(UInt64(maxDigits)))
        var text = ""
        for i in 0..<digits {
            let last = i == digits - 1
            text += String(last && g.below(3) == 0 ? [0, 5][Int(g.below(2))] : Int(g.below(10)))
        }
        let scale = Int(g.below(UInt64(maxScale + 1)))
        return ExactDecimal(significand: BigUInt(text)!, scale: scale)
    }

    @Test("units and places make the decimal the digits and scale make")
    func units() {
        var g = Generator(state: 1)
        for _ in 0..<5_000 {
            let units = g.below(4) == 0 ? g.below(1_000) * 1_000 : g.next() >> g.below(64)
            let places = Int(g.below(21))
            let decimal = ExactDecimal(units: units, places: places)
            #expect(decimal == ExactDecimal(significand: BigUInt(integerLiteral: units), scale: places))
            #expect(
                decimal.scale
                    == ExactDecimal(significand: BigUInt(integerLiteral: units), scale: places).scale)
        }
        #expect(ExactDecimal(units: 0, places: 6).scale == 0)
        #expect(ExactDecimal(units: 500_000, places: 6).description == "0.5")
        #expect(ExactDecimal(units: UInt64.max, places: 0).description == "18446744073709551615")
    }

    @Test("exact and half-to-even units are the fraction's, and nil past a word")
    func scaledUnits() {
        var g = Generator(state: 2)
        for _ in 0..<20_000 {
            let value = Self.decimal(&g, maxDigits: 21, maxScale: 24)
            let places = Int(g.below(9))
            let scaled = value.significand * Self.pow10(max(places - value.scale, 0))
            let exact: UInt64? =
                places >= value.scale && scaled.bitWidth <= 64 && value.significand.bitWidth <= 64
                ? UInt64(scaled) : nil
            #expect(value.exactUnits(places: places) == exact, "\(value) at \(places)")
            let rounded = value.rational.roundedHalfEven(places)
            let reference = rounded.scaledInteger(places: places)?.uint64
            if value.significand.bitWidth <= 64 {
                if let reference {
                    #expect(value.roundedHalfEvenUnits(places: places) == reference, "\(value)")
                }
            } else {
                #expect(value.roundedHalfEvenUnits(places: places) == nil, "\(value)")
            }
        }
        // Ties go to the even neighbour.
        #expect(ExactDecimal("0.125")!.roundedHalfEvenUnits(places: 2) == 12)
        #expect(ExactDecimal("0.135")!.roundedHalfEvenUnits(places: 2) == 14)
        #expect(ExactDecimal("0.1251")!.roundedHalfEvenUnits(places: 2) == 13)
        #expect(ExactDecimal("0.0000000000000000000009")!.roundedHalfEvenUnits(places: 0) == 0)
    }

    @Test("comparison and flooring agree with the digits scaled in BigUInt")
    func compareAndFloor() {
        var g = Generator(state: 3)
        for _ in 0..<20_000 {
            let a = Self.decimal(&g, maxDigits: 22, maxScale: 12)
            let b = g.below(5) == 0 ? a : Self.decimal(&g, maxDigits: 22, maxScale: 12)
            let scale = max(a.scale, b.scale)
            let expected =
                a.significand * Self.pow10(scale - a.scale) < b.significand * Self.pow10(scale - b.scale)
            #expect((a < b) == expected, "\(a) < \(b)")
            let places = Int(g.below(10))
            let floored =
                a.scale > places
                ? ExactDecimal(significand: a.significand / Self.pow10(a.scale - places), scale: places) : a
            #expect(a.floored(toPlaces: places) == floored, "\(a) floored to \(places)")
        }
    }

    @Test("limit amounts in words are the exact fractions' for every tick, side, price and size")
    func limitAmounts() {
        var g = Generator(state: 4)
        var inWords = 0
        for _ in 0..<20_000 {
            let tick = TickSize.allCases[Int(g.below(UInt64(TickSize.allCases.count)))]
            let side: Side = g.below(2) == 0 ? .buy : .sell
            let price = ExactDecimal(significand: BigUInt(integerLiteral: 1 + g.below(99_999_999)), scale: 8)
            let size =
                g.below(50) == 0
                ? Self.decimal(&g, maxDigits: 24, maxScale: 4) : Self.decimal(&g, maxDigits: 14, maxScale: 8)
            let exact = AmountRounding.exactLimit(side: side, price: price, size: size, tick: tick)
            // Words hold the size's digits and its hundredths, or the exact path is taken.
            let hundredths =
                size.significand * Self.pow10(max(2 - size.scale, 0)) / Self.pow10(max(size.scale - 2, 0))
            let fits = size.significand.bitWidth <= 64 && hundredths.bitWidth <= 64
            let words = AmountRounding.wordLimit(side: side, price: price, size: size, tick: tick)
            #expect((words != nil) == fits, "\(size)")
            if let words {
                inWords += 1
                #expect(words == exact, "\(side) \(size) at \(price), tick \(tick)")
            }
            #expect(AmountRounding.limit(side: side, price: price, size: size, tick: tick) == exact)
        }
        #expect(inWords > 18_000)
    }

    @Test("price validation in millionths gives the exchange's answer")
    func validation() {
        var g = Generator(state: 5)
        for _ in 0..<20_000 {
            let tick = TickSize.allCases[Int(g.below(UInt64(TickSize.allCases.count)))]
            let price = ExactDecimal(
                significand: BigUInt(integerLiteral: g.below(1_100_000)), scale: 6 - Int(g.below(3)))
            let units = price.significand * Self.pow10(6 - price.scale)
            let step = BigUInt(integerLiteral: tick.micros)
            let inRange = units >= step && units <= Self.pow10(6) - step
            let onTick = (units % step).isZero
            do {
                try OrderBuilder.validate(price: price, tick: tick)
                #expect(inRange && onTick, "\(price) accepted at tick \(tick)")
            } catch .priceOutOfRange {
                #expect(!inRange, "\(price) out of range at tick \(tick)")
            } catch .priceNotOnTick {
                #expect(inRange && !onTick, "\(price) off tick \(tick)")
            } catch {
                Issue.record("\(price): \(error)")
            }
        }
        // More than six decimals: the arbitrary-precision path.
        #expect(throws: OrderError.self) {
            try OrderBuilder.validate(price: ExactDecimal("0.5000001")!, tick: .hundredth)
        }
        for tick in TickSize.allCases {
            #expect(tick.value == ExactDecimal(tick.rawValue), "\(tick)")
        }
    }
}
