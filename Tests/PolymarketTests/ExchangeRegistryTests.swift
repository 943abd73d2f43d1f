import EVM
import Foundation
import Polymarket
import Testing

@Suite("Exchange registry from Config/ and abi/")
struct ExchangeRegistryTests {
    /// ABI JSON of one event.
    static func eventABI(name: String = "OrderFilled", _ inputs: [(String, String, Bool)]) -> Data {
        let entries = inputs.map { "{\"name\":\"\($0.0)\",\"type\":\"\($0.1)\",\"indexed\":\($0.2)}" }
        return Data(
            "[{\"type\":\"event\",\"name\":\"\(name)\",\"anonymous\":false,\"inputs\":[\(entries.joined(separator: ","))]}]"
                .utf8)
    }

    static let v3Inputs: [(String, String, Bool)] = [
        ("maker", "address", true), ("orderHash", "bytes32", true), ("taker", "address", false),
        ("fee", "uint256", false), ("tokenId", "uint256", false), ("side", "uint8", false),
        ("note", "string", false), ("makerAmountFilled", "uint128", false),
        ("takerAmountFilled", "uint128", false),
    ]

    static func yaml(
        abi: String = "V3.json", address: String = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa",
        extra: String = ""
    ) -> String {
        """
        chain_id: 137
        exchanges:
          - name: CTFExchangeV3
            address: "\(address)"
            abi: \(abi)
            first_block: 100
        \(extra)
        """
    }

    @Test("the shipped configuration loads all four exchanges with the published topic0s")
    func shippedConfig() throws {
        let registry = try Repository.registry()
        #expect(registry.chainId == 137)
        #expect(
            registry.contracts.map(\.name) == [
                "CTFExchangeV1", "NegRiskCTFExchangeV1", "CTFExchangeV2", "NegRiskCTFExchangeV2",
            ])
        #expect(
            Set(registry.fillTopics.map(\.hex)) == [
                "0xd0a08e8c493f9c94f29311604c9de1b4e8c8d4c06bd0c789af57f2d65bfec0f6",
                "0xd543adfd945773f1a62f74f0ee55a5e3b9b1a28262980ba90b1a89f2ea84d8ee",
            ])
        #expect(registry.contracts.filter(\.negRisk).count == 2)
    }

    @Test("a new exchange version with the same field names maps without code changes")
    func newVersionMaps() throws {
        let registry = try ExchangeRegistry(yaml: Self.yaml(), fileName: "test.yaml") { _ in
            Self.eventABI(Self.v3Inputs)
        }
        let contract = try #require(registry.contracts.first)
        // maker and orderHash indexed in swapped order; taker moved to data; a dynamic string in the middle.
        let data = try ABIEncoder.encode(
            [
                .address(Address(hi: 7, mid: 7, lo: 7)), .uint(UInt256(10)), .uint(UInt256(42)),
                .uint(UInt256(1)),
                .string("hello"), .uint(UInt256(2_000_000)), .uint(UInt256(1_000_000)),
            ],
            as: [
                .address, .uint(bits: 256), .uint(bits: 256), .uint(bits: 8), .string, .uint(bits: 128),
                .uint(bits: 128),
            ])
        let wallet = Address(hi: 1, mid: 2, lo: 3)
        let log = EthLog(
            address: contract.address,
            topics: [contract.fillEvent.topic0, wallet.word, Bytes32(0, 0, 0, 99)],
            data: data, blockNumber: 5, blockHash: .zero, transactionHash: .zero, transactionIndex: 0,
            logIndex: 0)
        let trade = try #require(try registry.trade(log))
        #expect(trade.wallet == wallet)
        #expect(trade.orderHash == Bytes32(0, 0, 0, 99))
        #expect(trade.counterparty == Address(hi: 7, mid: 7, lo: 7))
        #expect(trade.side == .sell)
        #expect(trade.tokenId == UInt256(42))
        #expect(trade.shares.description == "2.000000")
        #expect(trade.collateral.description == "1.000000")
        #expect(trade.price.description == "0.500000")
        #expect(trade.fee.units == UInt256(10))
    }

    @Test(
        "an ABI whose fill event cannot be mapped is rejected at load, naming the field",
        arguments: [
            ("takerAmountFilled", "missing field 'takerAmountFilled'"),
            ("maker", "missing field 'maker'"),
            ("side", "missing field 'side'"),
            ("fee", "missing field 'fee'"),
        ])
    func unmappable(removed: String, message: String) throws {
        let inputs = Self.v3Inputs.filter { $0.0 != removed }
        let error = #expect(throws: RegistryError.self) {
            try ExchangeRegistry(yaml: Self.yaml(), fileName: "test.yaml") { _ in Self.eventABI(inputs) }
        }
        #expect(error?.keyPath == "exchanges[0].abi")
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("a field of the wrong type, or indexed where only its hash is kept, is rejected")
    func wrongTypes() {
        var inputs = Self.v3Inputs
        inputs[2] = ("taker", "uint256", false)
        let error = #expect(throws: RegistryError.self) {
            try ExchangeRegistry(yaml: Self.yaml(), fileName: "t.yaml") { _ in Self.eventABI(inputs) }
        }
        #expect(error?.description.contains("field 'taker' is uint256; expected address") == true)
        inputs = Self.v3Inputs
        inputs[4] = ("tokenId", "string", true)
        let hashed = #expect(throws: RegistryError.self) {
            try ExchangeRegistry(yaml: Self.yaml(), fileName: "t.yaml") { _ in Self.eventABI(inputs) }
        }
        #expect(
            hashed?.description.contains("'tokenId' is string (indexed, so only its hash is in the log)")
                == true)
    }

    @Test(
        "configuration errors name the file, the key path and the problem",
        arguments: [
            ("chain_id: 137\nexchanges: []\n", "exchanges", "no exchanges configured"),
            ("exchanges:\n  - name: A\n", "chain_id", "required key is missing"),
            (
                "chain_id: 137\nexchanges:\n  - name: A\n    abi: V3.json\n", "exchanges[0].address",
                "required key is missing"
            ),
            ("chain_id: -1\nexchanges: []\n", "chain_id", "non-negative integer"),
            (
                yaml(address: "0xE3333700cA9d93003F00f0F71f8515005F6c00Aa"), "exchanges[0].address",
                "invalid EIP-55 checksum"
            ),
            (yaml(address: "0x1234"), "exchanges[0].address", "expected 20 bytes"),
            (yaml(abi: "Missing.json"), "exchanges[0].abi", "does not exist"),
            (yaml(extra: "    last_block: 50"), "exchanges[0].last_block", "before first_block"),
            (yaml(extra: "    fill_event: Trade"), "exchanges[0].fill_event", "no event named Trade"),
            (
                yaml()
                    + "\n  - name: CTFExchangeV3\n    address: \"0x0000000000000000000000000000000000000001\"\n    abi: V3.json\n",
                "exchanges[1].name", "used by two exchanges"
            ),
            (
                yaml()
                    + "\n  - name: Other\n    address: \"0xe3333700ca9d93003f00f0f71f8515005f6c00aa\"\n    abi: V3.json\n",
                "exchanges[1].address", "already configured as CTFExchangeV3"
            ),
            ("chain_id: [\n", "", "invalid YAML"),
        ])
    func configErrors(yaml: String, keyPath: String, message: String) {
        let error = #expect(throws: RegistryError.self) {
            try ExchangeRegistry(yaml: yaml, fileName: "contracts.yaml") { name throws(RegistryError) in
                guard name == "V3.json" else {
                    throw RegistryError(
                        file: "contracts.yaml", keyPath: "", message: "ABI file abi/\(name) does not exist")
                }
                return Self.eventABI(Self.v3Inputs)
            }
        }
        #expect(error?.keyPath == keyPath, "\(String(describing: error))")
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("contracts.yaml: ") == true)
    }
}
