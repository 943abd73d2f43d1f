import EVM
import Foundation
import Testing

@Suite("ABI codec conformance with eth-abi")
struct ABICodecTests {
    @Test("every fixture case decodes to eth-abi's values and re-encodes to the same bytes")
    func valueFixtures() throws {
        let cases = try Fixtures.list("abi_values.json", key: "cases")
        #expect(cases.count >= 2000)
        var seenTypes = Set<String>()
        for (i, testCase) in cases.enumerated() {
            let typeNames = testCase["types"] as! [String]
            let types = try typeNames.map { try ABIType(parsing: $0) }
            #expect(types.map(\.description) == typeNames, "case \(i): canonical type names")
            let expected = try zip(testCase["values"] as! [Any], types).map {
                try abiValue(json: $0, type: $1)
            }
            let encoded = try Hex.decode(testCase["encoded"] as! String)
            let decoded = try ABIDecoder.decode(types, from: encoded)
            #expect(decoded == expected, "case \(i): \(typeNames)")
            #expect(try ABIEncoder.encode(expected, as: types) == encoded, "case \(i): \(typeNames)")
            seenTypes.formUnion(typeNames)
        }
        let allTypes = seenTypes.joined(separator: " ")
        for bits in stride(from: 8, through: 256, by: 8) {
            #expect(
                allTypes.contains("uint\(bits)") && allTypes.contains("int\(bits)"), "int/uint\(bits) covered"
            )
        }
        for n in 1...32 { #expect(allTypes.contains("bytes\(n)"), "bytes\(n) covered") }
        for needle in ["address", "bool", "string", "bytes,", "[]", "[2]", ")[]", "(("] {
            #expect(allTypes.contains(needle), "\(needle) covered")
        }
    }

    @Test("events: topic0, indexed parameters (hashed when dynamic) and data match eth-abi")
    func eventFixtures() throws {
        let cases = try Fixtures.list("abi_events.json", key: "cases")
        #expect(cases.count >= 400)
        for (i, testCase) in cases.enumerated() {
            let json = try JSONSerialization.data(withJSONObject: [testCase["event"]!])
            let abi = try ContractABI(json: json)
            let event = try #require(abi.events.first)
            #expect(event.signature == testCase["signature"] as! String, "case \(i)")
            #expect(event.topic0.hex == testCase["topic0"] as! String, "case \(i)")
            let topics = try (testCase["topics"] as! [String]).map { try Bytes32(hex: $0) }
            let data = try Hex.decode(testCase["data"] as! String)
            let decoded = try event.decode(topics: topics, data: data)
            let expected = testCase["values"] as! [[String: Any]]
            #expect(decoded.count == expected.count)
            for (parameter, want) in zip(decoded, expected) {
                #expect(parameter.name == want["name"] as! String)
                #expect(parameter.indexed == want["indexed"] as! Bool)
                let value: ABIValue =
                    parameter.hashed
                    ? .fixedBytes(try Hex.decode(want["value"] as! String))
                    : try abiValue(json: want["value"]!, type: parameter.type)
                #expect(parameter.value == value, "case \(i) \(event.signature) \(parameter.name)")
            }
        }
    }
}

@Suite("ABI types")
struct ABITypeTests {
    @Test("parsing canonicalizes aliases and nested types")
    func parse() throws {
        #expect(try ABIType(parsing: "uint").description == "uint256")
        #expect(try ABIType(parsing: "int[2][]") == .array(.fixedArray(.int(bits: 256), count: 2)))
        #expect(
            try ABIType(parsing: "(uint8,(bytes,string)[])[3]").description == "(uint8,(bytes,string)[])[3]")
        #expect(try ABIType(parsing: "(uint8,(bytes,string)[])[3]").isDynamic)
        #expect(try ABIType(parsing: "(uint8,bytes32)[3]").headSize == 192)
    }

    @Test(
        "invalid types are rejected with a reason",
        arguments: [
            "uint7", "uint264", "uint0", "int", "bytes0", "bytes33", "fixed128x18", "address[0]", "uint8[01]",
            "()", "(uint8", "(uint8,)", "uint8[", "uint8]", "tuple", "uint8[99999999]", "", "string[2][",
            "Uint8",
            "uint8[65536][65536]",
            String(repeating: "(", count: 40) + "bool" + String(repeating: ")", count: 40),
        ])
    func invalid(_ text: String) {
        if text == "int" {
            #expect(throws: Never.self) { try ABIType(parsing: text) }
            return
        }
        #expect(throws: ABIError.self) { try ABIType(parsing: text) }
    }

    @Test("tuple parameters resolve from their components")
    func components() throws {
        let parameter = ABIParameter(
            name: "orders", type: "tuple[]",
            components: [
                ABIParameter(name: "salt", type: "uint256"),
                ABIParameter(name: "sig", type: "bytes"),
            ])
        #expect(try parameter.abiType().description == "(uint256,bytes)[]")
        #expect(throws: ABIError.self) { try ABIParameter(name: "x", type: "tuple").abiType() }
    }
}
