import BigInt
import EVM
import Foundation
import Polymarket
import Testing

/// A stand-in signer: proves the builder depends only on `DigestSigner`.
struct RecordingSigner: DigestSigner {
    let key: PrivateKey
    var address: Address { key.address }
    func sign(digest: Bytes32) -> Signature { key.sign(digest: digest) }
}

func decimal(_ text: String) throws -> ExactDecimal { try #require(ExactDecimal(text)) }

@Suite("CLOB order building")
struct OrderBuilderTests {
    @Test(
        "≥ 200 orders: amounts, digest, signature and POST /order body equal py-clob-client-v2's byte for byte"
    )
    func fixtureOrders() throws {
        let fixture = try loadFixture("clob_orders.json")
        let key = try PrivateKey(hex: try fixture.string("key"))
        #expect(key.address.checksummed == (try fixture.string("address")))
        let orders = try #require(fixture["orders"] as? [[String: Any]])
        #expect(orders.count >= 200)
        var seen: Set<String> = []
        for item in orders {
            let expected = try #require(item["expected"] as? [String: String])
            let rawType = try #require(item["signatureType"] as? Int)
            let signatureType = try #require(SignatureType(rawValue: UInt8(rawType)))
            let version = try #require(item["version"] as? Int)
            let negRisk = try #require(item["negRisk"] as? Bool)
            let builder = OrderBuilder(
                signer: RecordingSigner(key: key), signatureType: signatureType,
                funder: try Address(try item.string("funder")))
            let tick = try #require(TickSize(text: try item.string("tickSize")))
            let market = MarketParameters(tickSize: tick, minOrderSize: ExactDecimal(0), negRisk: negRisk)
            // The caller passes the verifying contract (from config); here it comes from the fixture.
            let contract = try Address(try item.string("verifyingContract"))
            let contracts = ExchangeContracts(
                domainVersion: try item.string("domainVersion"), chainId: 137,
                exchange: negRisk ? .zero : contract,
                negRiskExchange: negRisk ? contract : .zero)
            let side: Side = try item.string("side") == "BUY" ? .buy : .sell
            let tokenId = try #require(UInt256(decimal: try item.string("tokenId")))
            let salt = try #require(UInt256(decimal: try item.string("salt")))
            let timestamp = try #require(UInt64(try item.string("timestamp")))
            let price = try decimal(try item.string("price"))
            let size = try decimal(try item.string("size"))
            let metadata = try Bytes32(hex: try item.string("metadata"))
            let builderCode = try Bytes32(hex: try item.string("builder"))
            let expiration = try #require(UInt64(try item.string("expiration")))
            let signed: SignedOrder
            switch (try item.string("kind"), version) {
            case ("limit", 1):
                signed = try builder.limitOrderV1(
                    LimitOrderRequest(
                        tokenId: tokenId, side: side, price: price, size: size, expiration: expiration),
                    market: market, contracts: contracts, salt: salt,
                    nonce: try #require(UInt256(decimal: try item.string("nonce"))),
                    feeRateBps: try #require(UInt256(decimal: try item.string("feeRateBps"))))
            case ("market", 1):
                signed = try builder.marketOrderV1(
                    MarketOrderRequest(tokenId: tokenId, side: side, amount: size, price: price),
                    market: market, contracts: contracts, salt: salt,
                    nonce: try #require(UInt256(decimal: try item.string("nonce"))),
                    feeRateBps: try #require(UInt256(decimal: try item.string("feeRateBps"))),
                    rounding: .officialClient)
            case ("limit", _):
                signed = try builder.limitOrder(
                    LimitOrderRequest(
                        tokenId: tokenId, side: side, price: price, size: size, expiration: expiration,
                        metadata: metadata, builder: builderCode),
                    market: market, contracts: contracts, salt: salt, timestamp: timestamp)
            default:
                signed = try builder.marketOrder(
                    MarketOrderRequest(
                        tokenId: tokenId, side: side, amount: size, price: price, metadata: metadata,
                        builder: builderCode),
                    market: market, contracts: contracts, salt: salt, timestamp: timestamp,
                    rounding: .officialClient)
            }
            let orderType = try #require(OrderType(rawValue: try item.string("orderType")))
            let body = try OrderBody.json(
                signed, owner: try item.string("owner"), orderType: orderType,
                postOnly: try #require(item["postOnly"] as? Bool),
                deferExec: try #require(item["deferExec"] as? Bool))
            #expect(signed.orderHash.hex == expected["digest"])
            #expect(signed.signatureHex == expected["signature"])
            #expect(body == expected["body"])
            switch signed.payload {
            case .v1(let o):
                #expect(o.makerAmount.decimalString == expected["makerAmount"])
                #expect(o.takerAmount.decimalString == expected["takerAmount"])
            case .v2(let o):
                #expect(o.makerAmount.decimalString == expected["makerAmount"])
                #expect(o.takerAmount.decimalString == expected["takerAmount"])
                #expect(o.maker.checksummed == expected["maker"])
                #expect(o.signer.checksummed == expected["signer"])
                // The hand-written struct hash equals the generic EIP-712 one.
                let data = EIP712TypedData(
                    types: EIP712Types(["Order": OrderV2.fields]), primaryType: "Order",
                    domain: contracts.domain(negRisk: negRisk).eip712, message: o.eip712Value)
                #expect(try data.digest() == signed.orderHash)
                if o.signatureType == .poly1271 {
                    // The wrapped signature's ECDSA part recovers the owner key.
                    let inner = try Signature(bytes: signed.signature.prefix(65))
                    let digest = DepositWalletSignature.digest(
                        structHash: o.structHash, wallet: o.signer, domain: contracts.domain(negRisk: negRisk)
                    )
                    #expect(try inner.recoverAddress(digest: digest) == key.address)
                } else {
                    #expect(
                        try Signature(bytes: signed.signature).recoverAddress(digest: signed.orderHash)
                            == key.address)
                }
            }
            seen.insert("v\(version)/\(signatureType)/\(tick)/\(side)/\(try item.string("kind"))")
            seen.insert("exchange \(contract.checksummed)")
        }
        // Coverage: every signature type, tick, side and kind appear.
        for type in SignatureType.allCases {
            #expect(seen.contains { $0.hasPrefix("v2/\(type)/") })
        }
        for tick in TickSize.allCases {
            #expect(
                seen.contains { $0.contains("/\(tick)/BUY/") }
                    && seen.contains { $0.contains("/\(tick)/SELL/") })
        }
        #expect(seen.filter { $0.hasPrefix("exchange ") }.count >= 4)
    }

    @Test("TypedDataSign type string equals EIP-712 encodeType of the nested type")
    func typedDataSignType() throws {
        let types = EIP712Types([
            "Order": OrderV2.fields,
            "TypedDataSign": [
                .init(name: "contents", type: "Order"), .init(name: "name", type: "string"),
                .init(name: "version", type: "string"), .init(name: "chainId", type: "uint256"),
                .init(name: "verifyingContract", type: "address"), .init(name: "salt", type: "bytes32"),
            ],
        ])
        #expect(try types.encodeType("TypedDataSign") == DepositWalletSignature.typeString)
        #expect(try types.encodeType("Order") == OrderV2.typeString)
    }

    @Test("≥ 10,000 rounding cases agree with py-clob-client-v2; float artifacts follow exact decimals")
    func rounding() throws {
        let fixture = try loadFixture("clob_rounding.json")
        let cases = try #require(fixture["cases"] as? [[String: Any]])
        var agreeWithClient = 0
        var artifacts = 0
        for item in cases {
            let tick = try #require(TickSize(text: try item.string("tick")))
            let side: Side = try item.string("side") == "BUY" ? .buy : .sell
            let price = try decimal(try item.string("price"))
            let size = try decimal(try item.string("size"))
            let amounts =
                try item.string("kind") == "limit"
                ? AmountRounding.limit(side: side, price: price, size: size, tick: tick)
                : AmountRounding.market(side: side, price: price, amount: size, tick: tick)
            let got = [amounts.makerAmount.decimalString, amounts.takerAmount.decimalString]
            let client = try #require(item["client"] as? [String])
            let exact = try #require(item["exact"] as? [String])
            #expect(got == exact, "\(item)")
            if got == client { agreeWithClient += 1 }
            if try #require(item["floatArtifact"] as? Bool) {
                artifacts += 1
            } else {
                #expect(got == client, "\(item)")
            }
        }
        #expect(agreeWithClient >= 10_000)
        #expect(agreeWithClient + artifacts == cases.count)
        #expect(artifacts == fixture["floatArtifacts"] as? Int)
    }

    static let contracts = ExchangeContracts(
        domainVersion: "2", chainId: 137,
        exchange: try! Address("0xE111180000d2663C0091e4f400237545B87B996B"),
        negRiskExchange: try! Address("0xe2222d279d744050d28e00520010520000310F59"))

    @Test("validation rejects what the exchange rejects, with typed errors")
    func validation() throws {
        let key = PrivateKey.generate()
        let builder = OrderBuilder(signer: key)
        let strict = OrderBuilder(signer: key, sizePolicy: .reject)
        let market = MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
        func limit(_ price: String, _ size: String, _ b: OrderBuilder? = nil) throws -> SignedOrder {
            try (b ?? builder).limitOrder(
                LimitOrderRequest(
                    tokenId: UInt256(7), side: .buy, price: try decimal(price), size: try decimal(size)),
                market: market, contracts: Self.contracts)
        }
        #expect(throws: OrderError.priceNotOnTick(price: try decimal("0.505"), tick: .hundredth)) {
            try limit("0.505", "10")
        }
        #expect(
            throws: OrderError.priceOutOfRange(
                price: try decimal("0.995"), min: try decimal("0.01"), max: try decimal("0.99"))
        ) {
            try limit("0.995", "10")
        }
        #expect(
            throws: OrderError.priceOutOfRange(
                price: ExactDecimal(0), min: try decimal("0.01"), max: try decimal("0.99"))
        ) {
            try limit("0", "10")
        }
        #expect(throws: OrderError.sizeBelowMinimum(size: try decimal("4.99"), minimum: ExactDecimal(5))) {
            try limit("0.5", "4.999")
        }
        #expect(throws: OrderError.tooManyDecimals(field: "size", value: try decimal("10.123"), allowed: 2)) {
            try limit("0.5", "10.123", strict)
        }
        #expect(throws: Never.self) { try limit("0.99", "5") }
        #expect(throws: Never.self) { try limit("0.01", "5") }
        let quarter = MarketParameters(tickSize: .quarterCent, minOrderSize: ExactDecimal(1), negRisk: true)
        #expect(throws: OrderError.priceNotOnTick(price: try decimal("0.501"), tick: .quarterCent)) {
            try builder.limitOrder(
                LimitOrderRequest(
                    tokenId: UInt256(1), side: .sell, price: try decimal("0.501"), size: ExactDecimal(10)),
                market: quarter, contracts: Self.contracts)
        }
        let signed = try limit("0.5", "10")
        #expect(throws: OrderError.postOnlyNotAllowed(.fok)) {
            try OrderBody.json(signed, owner: "k", orderType: .fok, postOnly: true)
        }
        let wallet = OrderBuilder(
            signer: key, signatureType: .poly1271, funder: Address(hi: 1, mid: 2, lo: 3))
        #expect(throws: OrderError.unsupportedSignatureType(.poly1271, version: "1")) {
            try wallet.limitOrderV1(
                LimitOrderRequest(
                    tokenId: UInt256(1), side: .buy, price: try decimal("0.5"), size: ExactDecimal(10)),
                market: market, contracts: Self.contracts)
        }
        // Market BUY: $2 at 0.5 buys 4 shares, below the minimum of 5.
        #expect(throws: OrderError.sizeBelowMinimum(size: ExactDecimal(4), minimum: ExactDecimal(5))) {
            try builder.marketOrder(
                MarketOrderRequest(
                    tokenId: UInt256(1), side: .buy, amount: ExactDecimal(2), price: try decimal("0.5")),
                market: market, contracts: Self.contracts)
        }
        for error in [OrderError.zeroAmount, .amountTooLarge(ExactDecimal(1)), .postOnlyNotAllowed(.fak)] {
            #expect(!error.description.isEmpty)
        }
    }

    @Test("orders go to the NegRisk exchange only for neg-risk markets")
    func exchangeChoice() throws {
        let key = PrivateKey.generate()
        let builder = OrderBuilder(signer: key, salt: { UInt256(42) }, clock: { 1_777_000_000_000 })
        let request = LimitOrderRequest(
            tokenId: UInt256(9), side: .sell, price: try decimal("0.25"), size: ExactDecimal(20))
        for negRisk in [false, true] {
            let market = MarketParameters(
                tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: negRisk)
            let signed = try builder.limitOrder(request, market: market, contracts: Self.contracts)
            let domain = ExchangeDomain(
                version: "2", chainId: 137,
                verifyingContract: negRisk ? Self.contracts.negRiskExchange : Self.contracts.exchange)
            guard case .v2(let order) = signed.payload else { Issue.record("not V2"); continue }
            #expect(signed.orderHash == order.digest(in: domain))
            #expect(order.salt == UInt256(42) && order.timestamp == UInt256(1_777_000_000_000))
            #expect(order.makerAmount == UInt256(20_000_000) && order.takerAmount == UInt256(5_000_000))
        }
    }

    @Test("market price walks the book like the official client")
    func marketPrice() throws {
        // GET /book lists the best level last.
        let asks = [
            BookLevel(price: try decimal("0.60"), size: ExactDecimal(100)),
            BookLevel(price: try decimal("0.55"), size: ExactDecimal(100)),
            BookLevel(price: try decimal("0.50"), size: ExactDecimal(10)),
        ]
        #expect(
            try MarketPrice.walk(levels: asks, side: .buy, amount: ExactDecimal(5), orderType: .fok)
                == decimal("0.5"))
        #expect(
            try MarketPrice.walk(levels: asks, side: .buy, amount: ExactDecimal(50), orderType: .fok)
                == decimal("0.55"))
        #expect(throws: MarketPrice.Error.noMatch) {
            try MarketPrice.walk(levels: asks, side: .buy, amount: ExactDecimal(1000), orderType: .fok)
        }
        #expect(
            try MarketPrice.walk(levels: asks, side: .buy, amount: ExactDecimal(1000), orderType: .fak)
                == decimal("0.6"))
        let bids = [
            BookLevel(price: try decimal("0.40"), size: ExactDecimal(100)),
            BookLevel(price: try decimal("0.45"), size: ExactDecimal(10)),
        ]
        #expect(
            try MarketPrice.walk(levels: bids, side: .sell, amount: ExactDecimal(20), orderType: .fok)
                == decimal("0.4"))
        #expect(throws: MarketPrice.Error.noMatch) {
            try MarketPrice.walk(levels: [], side: .sell, amount: ExactDecimal(1), orderType: .fak)
        }
    }

    @Test("exact decimals parse, compare and print")
    func exactDecimal() throws {
        #expect(ExactDecimal("0.50") == ExactDecimal("0.5"))
        #expect(ExactDecimal("0.50")?.description == "0.5")
        #expect(ExactDecimal(".5")?.description == "0.5")
        #expect(ExactDecimal("12")?.description == "12")
        for bad in ["", ".", "1.2.3", "-1", "1e5", " 1", "0x10", "１"] {
            #expect(ExactDecimal(bad) == nil, "\(bad)")
        }
        #expect(try decimal("0.1") < decimal("0.10001"))
        // Short text is read into a word, long text through BigUInt: the same values either way.
        #expect(ExactDecimal("0.000") == ExactDecimal(0))
        #expect(ExactDecimal("0.000")?.scale == 0)
        #expect(ExactDecimal("1000000")?.description == "1000000")
        #expect(ExactDecimal("9999999999999999999")?.significand == BigUInt("9999999999999999999"))
        #expect(ExactDecimal("99999999999999999999")?.significand == BigUInt("99999999999999999999"))
        #expect(ExactDecimal("1.0000000000000000000000") == ExactDecimal("1"))
        #expect(ExactDecimal("00000000000000000000.5")?.description == "0.5")
        #expect(ExactDecimal("123456789012345678901.2.3") == nil)
        var state: UInt64 = 7
        func next() -> UInt64 {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        for _ in 0..<2_000 {
            let whole = String(next() % 1_000_000_000_000)
            let fraction = String(String(next() % 10_000_000_000).dropLast(Int(next() % 10)))
            for text in [whole, whole + "." + fraction, "." + fraction, whole + "." + fraction + "00"]
            where text != "." {
                let significand = BigUInt(text.filter { $0 != "." })!
                let scale =
                    text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 } ?? 0
                #expect(ExactDecimal(text) == ExactDecimal(significand: significand, scale: scale), "\(text)")
                #expect(
                    Self.fromBytes(text) == ExactDecimal(significand: significand, scale: scale), "\(text)")
            }
        }
        // Read from bytes in place (a book's levels), text parses as it does from a String.
        for text in [
            "", ".", "1.2.3", "-1", "1e5", " 1", "0x10", "１", "0.50", ".5", "0.000", "9999999999999999999",
            "99999999999999999999", "1.0000000000000000000000", "00000000000000000000.5",
            "123456789012345678901.2.3", "18446744073709551615", "18446744073709551616", "0.01",
        ] {
            #expect(Self.fromBytes(text) == ExactDecimal(text), "\(text)")
        }
        #expect(TickSize(text: "0.010") == .hundredth)
        #expect(TickSize(text: "0.02") == nil)
    }

    /// `ExactDecimal(utf8:)` of the text's bytes.
    static func fromBytes(_ text: String) -> ExactDecimal? {
        Array(text.utf8).withUnsafeBytes { ExactDecimal(utf8: $0) }
    }

    @Test("build + sign throughput")
    func throughput() throws {
        let key = PrivateKey.generate()
        let builder = OrderBuilder(signer: key, salt: { UInt256(1) }, clock: { 1_777_000_000_000 })
        let market = MarketParameters(tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false)
        let request = LimitOrderRequest(
            tokenId: UInt256(123), side: .buy, price: try decimal("0.42"), size: try decimal("17.5"))
        let count = 2_000
        let start = ContinuousClock.now
        for _ in 0..<count { _ = try builder.limitOrder(request, market: market, contracts: Self.contracts) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("build + sign: \(Int(Double(count) / seconds)) orders/s (this build configuration)")
    }
}
