import EVM
import Testing

@Suite("UInt256")
struct UInt256Tests {
    @Test("decimal round trips, including 2^256 − 1")
    func decimalRoundTrip() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        #expect(UInt256.max.decimalString == max)
        #expect(UInt256(decimal: max) == .max)
        #expect(
            UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639936")
                == nil)
        #expect(UInt256(decimal: "") == nil)
        #expect(UInt256(decimal: "12a") == nil)
        #expect(UInt256(decimal: "0")?.decimalString == "0")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let value = UInt256(generator.next(), generator.next(), generator.next(), generator.next())
            #expect(UInt256(decimal: value.decimalString) == value)
        }
    }

    @Test("signed decimals are two's complement")
    func signed() {
        #expect(UInt256(signedDecimal: "-1") == .max)
        #expect(UInt256.max.signedDecimalString == "-1")
        let minInt256 = "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
        #expect(UInt256(signedDecimal: minInt256)?.signedDecimalString == minInt256)
        #expect(
            UInt256(
                signedDecimal:
                    "-57896044618658097711785492504343953926634992332820282019728792003956564819969") == nil)
        #expect(
            UInt256(
                signedDecimal: "57896044618658097711785492504343953926634992332820282019728792003956564819968"
            ) == nil)
    }

    @Test("six-decimal fixed point")
    func fixedPoint() {
        #expect(UInt256(12_345_678).fixedPointString(scale: 6) == "12.345678")
        #expect(UInt256(5).fixedPointString(scale: 6) == "0.000005")
        #expect(UInt256(0).fixedPointString(scale: 6) == "0.000000")
        #expect(UInt256(1_000_000).fixedPointString(scale: 6) == "1.000000")
    }

    @Test("arithmetic reports overflow")
    func overflow() {
        #expect(UInt256.max.addingReportingOverflow(UInt256(1)).overflow)
        #expect(UInt256.max.addingReportingOverflow(UInt256(1)).partialValue == .zero)
        #expect(UInt256(.max, 0, 0, 0).multipliedReportingOverflow(by: 2).overflow)
        let (product, overflow) = UInt256(0, 0, .max, .max).multipliedReportingOverflow(by: 3)
        #expect(!overflow)
        #expect(product == UInt256(0, 2, .max, .max - 2))
        #expect(UInt256(1).negated == .max)
    }
}
