import EVM

/// How an order's signature is checked on chain.
public enum SignatureType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// ECDSA EIP-712 signature by an EOA that is also the maker.
    case eoa = 0
    /// EIP-712 signature by the EOA that owns a Polymarket proxy wallet (the maker).
    case polyProxy = 1
    /// EIP-712 signature by an owner of a Polymarket Gnosis Safe (the maker = funder).
    case polyGnosisSafe = 2
    /// EIP-1271 signature for a smart-contract (deposit) wallet; the wallet is maker and signer (V2 only).
    case poly1271 = 3

    public var description: String {
        switch self {
        case .eoa: "EOA"
        case .polyProxy: "POLY_PROXY"
        case .polyGnosisSafe: "POLY_GNOSIS_SAFE"
        case .poly1271: "POLY_1271"
        }
    }
}

/// How long an order stays on the book.
public enum OrderType: String, Hashable, Sendable, CaseIterable {
    /// Good till cancelled.
    case gtc = "GTC"
    /// Good till date (the order's `expiration`).
    case gtd = "GTD"
    /// Fill or kill: all at once or nothing.
    case fok = "FOK"
    /// Fill and kill: what fills now, the rest is cancelled.
    case fak = "FAK"
}

/// The EIP-712 domain of a Polymarket CTF exchange contract.
///
/// The verifying contract (exchange or NegRisk exchange, per market) comes from configuration;
/// the domain version is "1" (V1), "2" (V2) or "3" (the announced V3).
public struct ExchangeDomain: Hashable, Sendable {
    /// The domain name every Polymarket CTF exchange uses.
    public static let name = "Polymarket CTF Exchange"

    /// The domain version: "1", "2" or "3".
    public var version: String
    /// The chain id (137 on Polygon).
    public var chainId: UInt64
    /// The exchange contract the order is for.
    public var verifyingContract: Address
    /// `hashStruct(domain)`, computed once.
    public let separator: Bytes32

    /// Creates a domain.
    public init(version: String, chainId: UInt64, verifyingContract: Address) {
        self.version = version
        self.chainId = chainId
        self.verifyingContract = verifyingContract
        self.separator =
            EIP712Domain(
                name: Self.name, version: version, chainId: UInt256(chainId),
                verifyingContract: verifyingContract
            ).separator
    }

    /// The generic EIP-712 domain.
    public var eip712: EIP712Domain {
        EIP712Domain(
            name: Self.name, version: version, chainId: UInt256(chainId), verifyingContract: verifyingContract
        )
    }
}

/// A CTF Exchange V2 (and V3) order: the signed struct.
///
/// `expiration` is not part of the signed struct; it travels in the JSON body only.
public struct OrderV2: Hashable, Sendable {
    public var salt: UInt256
    /// The funds holder (EOA, proxy, Safe or deposit wallet).
    public var maker: Address
    /// The address whose signature authorises the order (the maker itself for POLY_1271).
    public var signer: Address
    public var tokenId: UInt256
    public var makerAmount: UInt256
    public var takerAmount: UInt256
    public var side: Side
    public var signatureType: SignatureType
    /// Creation time in milliseconds since 1970.
    public var timestamp: UInt256
    public var metadata: Bytes32
    public var builder: Bytes32
    /// Unix seconds after which the order expires (0: never). JSON only, not signed.
    public var expiration: UInt256

    /// Creates an order.
    public init(
        salt: UInt256, maker: Address, signer: Address, tokenId: UInt256, makerAmount: UInt256,
        takerAmount: UInt256, side: Side, signatureType: SignatureType, timestamp: UInt256,
        metadata: Bytes32 = .zero, builder: Bytes32 = .zero, expiration: UInt256 = .zero
    ) {
        self.salt = salt
        self.maker = maker
        self.signer = signer
        self.tokenId = tokenId
        self.makerAmount = makerAmount
        self.takerAmount = takerAmount
        self.side = side
        self.signatureType = signatureType
        self.timestamp = timestamp
        self.metadata = metadata
        self.builder = builder
        self.expiration = expiration
    }

    /// The EIP-712 type string of the V2 order.
    public static let typeString =
        "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
        + "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"

    /// keccak256 of ``typeString``.
    public static let typeHash = Keccak256.hash(utf8: typeString)

    /// The members, for the generic EIP-712 path.
    public static let fields: [EIP712Field] = [
        .init(name: "salt", type: "uint256"), .init(name: "maker", type: "address"),
        .init(name: "signer", type: "address"), .init(name: "tokenId", type: "uint256"),
        .init(name: "makerAmount", type: "uint256"), .init(name: "takerAmount", type: "uint256"),
        .init(name: "side", type: "uint8"), .init(name: "signatureType", type: "uint8"),
        .init(name: "timestamp", type: "uint256"), .init(name: "metadata", type: "bytes32"),
        .init(name: "builder", type: "bytes32"),
    ]

    /// The order as a generic EIP-712 struct value.
    public var eip712Value: [String: EIP712Value] {
        [
            "salt": .uint(salt), "maker": .address(maker), "signer": .address(signer),
            "tokenId": .uint(tokenId),
            "makerAmount": .uint(makerAmount), "takerAmount": .uint(takerAmount),
            "side": .uint(UInt256(UInt64(side.rawValue))),
            "signatureType": .uint(UInt256(UInt64(signatureType.rawValue))),
            "timestamp": .uint(timestamp), "metadata": .fixedBytes(metadata.bytes),
            "builder": .fixedBytes(builder.bytes),
        ]
    }

    /// `hashStruct(order)` (every member is one word, so no generic machinery is needed).
    public var structHash: Bytes32 {
        EIP712.hashWords([
            Self.typeHash, salt.word, maker.word, signer.word, tokenId.word, makerAmount.word,
            takerAmount.word,
            Bytes32(0, 0, 0, UInt64(side.rawValue)), Bytes32(0, 0, 0, UInt64(signatureType.rawValue)),
            timestamp.word, metadata, builder,
        ])
    }

    /// The EIP-712 digest of the order in `domain` (the order hash).
    public func digest(in domain: ExchangeDomain) -> Bytes32 {
        EIP712.digest(domainSeparator: domain.separator, structHash: structHash)
    }
}

/// A CTF Exchange V1 order (retired on 2026-04-28; kept for history and tests).
public struct OrderV1: Hashable, Sendable {
    public var salt: UInt256
    public var maker: Address
    public var signer: Address
    /// Zero for a public order.
    public var taker: Address
    public var tokenId: UInt256
    public var makerAmount: UInt256
    public var takerAmount: UInt256
    public var expiration: UInt256
    public var nonce: UInt256
    public var feeRateBps: UInt256
    public var side: Side
    /// EOA, POLY_PROXY or POLY_GNOSIS_SAFE.
    public var signatureType: SignatureType

    /// Creates an order.
    public init(
        salt: UInt256, maker: Address, signer: Address, taker: Address = .zero, tokenId: UInt256,
        makerAmount: UInt256, takerAmount: UInt256, expiration: UInt256 = .zero, nonce: UInt256 = .zero,
        feeRateBps: UInt256 = .zero, side: Side, signatureType: SignatureType
    ) {
        self.salt = salt
        self.maker = maker
        self.signer = signer
        self.taker = taker
        self.tokenId = tokenId
        self.makerAmount = makerAmount
        self.takerAmount = takerAmount
        self.expiration = expiration
        self.nonce = nonce
        self.feeRateBps = feeRateBps
        self.side = side
        self.signatureType = signatureType
    }

    /// The EIP-712 type string of the V1 order.
    public static let typeString =
        "Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,uint256 makerAmount,"
        + "uint256 takerAmount,uint256 expiration,uint256 nonce,uint256 feeRateBps,uint8 side,uint8 signatureType)"

    /// keccak256 of ``typeString``.
    public static let typeHash = Keccak256.hash(utf8: typeString)

    /// `hashStruct(order)`.
    public var structHash: Bytes32 {
        EIP712.hashWords([
            Self.typeHash, salt.word, maker.word, signer.word, taker.word, tokenId.word, makerAmount.word,
            takerAmount.word, expiration.word, nonce.word, feeRateBps.word,
            Bytes32(0, 0, 0, UInt64(side.rawValue)), Bytes32(0, 0, 0, UInt64(signatureType.rawValue)),
        ])
    }

    /// The EIP-712 digest of the order in `domain` (version "1").
    public func digest(in domain: ExchangeDomain) -> Bytes32 {
        EIP712.digest(domainSeparator: domain.separator, structHash: structHash)
    }
}

/// An order with its signature, ready for `POST /order`.
public struct SignedOrder: Hashable, Sendable {
    /// The order, V1 or V2.
    public enum Payload: Hashable, Sendable {
        case v1(OrderV1)
        case v2(OrderV2)
    }

    /// The order.
    public var payload: Payload
    /// The signature bytes: 65 for ECDSA, longer for POLY_1271 (ERC-7739 wrapped).
    public var signature: [UInt8]
    /// The EIP-712 order hash (digest of the order in its exchange domain).
    public var orderHash: Bytes32

    /// Creates a signed order.
    public init(payload: Payload, signature: [UInt8], orderHash: Bytes32) {
        self.payload = payload
        self.signature = signature
        self.orderHash = orderHash
    }

    /// `0x` + hex of ``signature``.
    public var signatureHex: String { Hex.encode(signature) }

    /// The outcome token the order trades, whatever its version.
    public var tokenId: UInt256 {
        switch payload {
        case .v1(let order): order.tokenId
        case .v2(let order): order.tokenId
        }
    }

    /// BUY or SELL, whatever its version.
    public var side: Side {
        switch payload {
        case .v1(let order): order.side
        case .v2(let order): order.side
        }
    }
}

extension OrderV1: Codable {}

extension OrderV2: Codable {}

extension SignedOrder.Payload: Codable {}
