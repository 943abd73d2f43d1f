import EVM
import Testing

@testable import Polymarket

@Suite("POST /order body bytes")
struct OrderBodyTests {
    /// Python's `json.dumps(text, ensure_ascii=False)`, character by character.
    static func pythonJSON(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case ..<0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    @Test("JSON strings escape as Python's json.dumps(ensure_ascii=False) does, read byte by byte")
    func strings() {
        let alphabet: [Character] =
            (0..<0x20).map { Character(Unicode.Scalar($0)!) } + [
                "\"", "\\", "/", "a", "Z", "0", " ", "\u{7F}", "é", "ß", "€", "🙂", "\u{2028}", "\r\n",
            ]
        var state: UInt64 = 3
        for length in 0..<400 {
            var text = ""
            for _ in 0..<(length % 40) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int((state >> 33) % UInt64(alphabet.count))])
            }
            var bytes = JSONBytes(capacity: 0)
            bytes.string(text)
            #expect(
                String(decoding: bytes.bytes, as: UTF8.self) == Self.pythonJSON(text),
                "\(text.debugDescription)")
            var appended = "x"
            OrderBody.appendString(text, to: &appended)
            #expect(appended == "x" + Self.pythonJSON(text))
        }
    }

    @Test("digits and hex are written as the integers' and bytes' text")
    func numbers() throws {
        var state: UInt64 = 5
        for shift in 0..<64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let value = state >> UInt64(shift)
            var bytes = JSONBytes(capacity: 0)
            bytes.decimal(value)
            bytes.raw(",")
            bytes.decimal(UInt256(value))
            #expect(String(decoding: bytes.bytes, as: UTF8.self) == "\(value),\(value)")
        }
        let wide = try #require(
            UInt256(decimal: "115792089237316195423570985008687907853269984665640564039457584007913129639935")
        )
        var bytes = JSONBytes(capacity: 0)
        bytes.decimal(wide)
        bytes.raw(" ")
        bytes.decimal(UInt64(0))
        bytes.raw(" ")
        ([0x00, 0x0F, 0xA0, 0xFF] as [UInt8]).withUnsafeBytes { bytes.hex($0) }
        #expect(
            String(decoding: bytes.bytes, as: UTF8.self)
                == "\(wide.decimalString) 0 0x000fa0ff")
    }
}
