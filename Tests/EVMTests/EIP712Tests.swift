import EVM
import Foundation
import Testing

/// Converts a fixture JSON value (numbers as decimal strings, bytes as 0x hex) to an EIP-712 value.
func typedValue(_ json: Any, type: String, types: EIP712Types) throws -> EIP712Value {
    if type.hasSuffix("]") {
        let inner = String(type[..<type.lastIndex(of: "[")!])
        let items = try #require(json as? [Any])
        return .array(try items.map { try typedValue($0, type: inner, types: types) })
    }
    if let fields = types.structs[type] {
        let object = try #require(json as? [String: Any])
        var members: [String: EIP712Value] = [:]
        for field in fields {
            members[field.name] = try typedValue(
                try #require(object[field.name]), type: field.type, types: types)
        }
        return .struct(members)
    }
    switch type {
    case "address": return .address(try Address(try #require(json as? String)))
    case "bool": return .bool(try #require(json as? Bool))
    case "string": return .string(try #require(json as? String))
    case "bytes": return .bytes(try Hex.decode(try #require(json as? String)))
    default: break
    }
    let text = try #require(json as? String)
    if type.hasPrefix("uint") { return .uint(try #require(UInt256(decimal: text))) }
    if type.hasPrefix("int") { return .int(try #require(UInt256(signedDecimal: text))) }
    if type.hasPrefix("bytes") { return .fixedBytes(try Hex.decode(text)) }
    throw FixtureError("malformed \(type)")
}

func parseTypes(_ json: [String: Any]) throws -> EIP712Types {
    var structs: [String: [EIP712Field]] = [:]
    for (name, fields) in json {
        let list = try #require(fields as? [[String: String]])
        structs[name] = list.map { EIP712Field(name: $0["name"]!, type: $0["type"]!) }
    }
    return EIP712Types(structs)
}

func parseDomain(_ json: [String: Any]) throws -> EIP712Domain {
    EIP712Domain(
        name: json["name"] as? String,
        version: json["version"] as? String,
        chainId: try (json["chainId"] as? String).map { try #require(UInt256(decimal: $0)) },
        verifyingContract: try (json["verifyingContract"] as? String).map { try Address($0) },
        salt: try (json["salt"] as? String).map { try Bytes32(hex: $0) }
    )
}

@Suite("EIP-712 typed data")
struct EIP712Tests {
    @Test("random typed data hashes exactly as eth_account's encode_typed_data")
    func fixtures() throws {
        let fixture = try loadFixture("eip712.json")
        let cases = try #require(fixture["cases"] as? [[String: Any]])
        #expect(cases.count >= 400)
        for item in cases {
            let types = try parseTypes(try #require(item["types"] as? [String: Any]))
            let primary = try item.string("primaryType")
            let domain = try parseDomain(try #require(item["domain"] as? [String: Any]))
            guard case .struct(let message) = try typedValue(item["message"]!, type: primary, types: types)
            else {
                Issue.record("message is not a struct")
                continue
            }
            let data = EIP712TypedData(types: types, primaryType: primary, domain: domain, message: message)
            #expect(try types.encodeType(primary) == (try item.string("encodeType")))
            #expect(try types.typeHash(primary).hex == (try item.string("typeHash")))
            #expect(try data.structHash().hex == (try item.string("structHash")))
            #expect(domain.separator.hex == (try item.string("domainSeparator")))
            #expect(try data.digest().hex == (try item.string("digest")))
        }
    }

    /// The example in the EIP-712 specification.
    @Test("the EIP-712 Mail example")
    func mailExample() throws {
        let types = EIP712Types([
            "Person": [
                EIP712Field(name: "name", type: "string"), EIP712Field(name: "wallet", type: "address"),
            ],
            "Mail": [
                EIP712Field(name: "from", type: "Person"), EIP712Field(name: "to", type: "Person"),
                EIP712Field(name: "contents", type: "string"),
            ],
        ])
        let person = { (name: String, wallet: String) throws -> EIP712Value in
            .struct(["name": .string(name), "wallet": .address(try Address(wallet))])
        }
        let data = EIP712TypedData(
            types: types, primaryType: "Mail",
            domain: EIP712Domain(
                name: "Ether Mail", version: "1", chainId: UInt256(1),
                verifyingContract: try Address("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC")),
            message: [
                "from": try person("Cow", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),
                "to": try person("Bob", "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"),
                "contents": .string("Hello, Bob!"),
            ])
        #expect(
            try types.encodeType("Mail")
                == "Mail(Person from,Person to,string contents)Person(string name,address wallet)")
        #expect(
            data.domain.separator.hex == "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
        #expect(
            try data.structHash().hex == "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
        #expect(try data.digest().hex == "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    }

    @Test("malformed typed data fails with typed errors")
    func errors() throws {
        let types = EIP712Types([
            "T": [EIP712Field(name: "a", type: "uint8"), EIP712Field(name: "b", type: "Nope")]
        ])
        #expect(throws: EIP712Error.unknownType("Nope")) { try types.encodeType("T") }
        let small = EIP712Types(["T": [EIP712Field(name: "a", type: "uint8")]])
        #expect(throws: EIP712Error.missingField(type: "T", field: "a")) { try small.hashStruct("T", [:]) }
        #expect(throws: EIP712Error.outOfRange(field: "a", type: "uint8")) {
            try small.hashStruct("T", ["a": .uint(UInt256(256))])
        }
        #expect(throws: EIP712Error.typeMismatch(field: "a", expected: "uint8")) {
            try small.hashStruct("T", ["a": .bool(true)])
        }
        let signed = EIP712Types(["T": [EIP712Field(name: "a", type: "int8")]])
        #expect(throws: Never.self) {
            try signed.hashStruct("T", ["a": .int(UInt256(signedDecimal: "-128")!)])
        }
        #expect(throws: EIP712Error.outOfRange(field: "a", type: "int8")) {
            try signed.hashStruct("T", ["a": .int(UInt256(signedDecimal: "-129")!)])
        }
        let fixed = EIP712Types(["T": [EIP712Field(name: "a", type: "bool[2]")]])
        #expect(throws: EIP712Error.wrongArrayLength(field: "a", expected: 2, actual: 1)) {
            try fixed.hashStruct("T", ["a": .array([.bool(true)])])
        }
    }
}
