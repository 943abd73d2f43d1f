import EVM

/// Why an exchange's fill event cannot be turned into trades.
public struct FillMappingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The event's signature.
    public var event: String
    /// What is missing or wrong, naming the field.
    public var reason: String

    public var description: String { "event \(event) cannot be mapped to trades: \(reason)" }
}

/// Reads the trade fields of an `OrderFilled`-style event straight from a log's topics and data.
///
/// The fields are found **by name** when the ABI is loaded: `orderHash`, `maker`, `taker`,
/// `makerAmountFilled`, `takerAmountFilled`, `fee`, and either `side` + `tokenId` (the V2 layout) or
/// `makerAssetId` + `takerAssetId` (the V1 layout). An ABI of a new exchange version with the same
/// field names maps without code changes, wherever it puts them (topic or data, any order); one
/// that lacks a field is rejected at load with the field's name.
///
/// Decoding then reads only those words, each checked against its declared type, instead of
/// decoding every input: this is the hot path of the listener.
public struct FillMapping: Hashable, Sendable {
    /// Where a field sits in a log.
    enum Location: Hashable, Sendable {
        case topic(Int)
        case data(offset: Int)
    }

    /// A located field and the checks its declared type needs.
    struct Field: Hashable, Sendable {
        var name: String
        var location: Location
        var type: ABIType
    }

    enum Layout: Hashable, Sendable {
        /// V2: `side` (0 = BUY, 1 = SELL) and `tokenId`.
        case sideAndToken(side: Field, tokenId: Field)
        /// V1: `makerAssetId` and `takerAssetId`; the zero id is collateral.
        case assetIds(maker: Field, taker: Field)
    }

    let orderHash: Field
    let maker: Field
    let taker: Field
    let makerAmount: Field
    let takerAmount: Field
    let fee: Field
    let layout: Layout
    /// Topics a log of the event carries, topic0 included.
    let topicCount: Int
    /// Bytes of data the event's head needs.
    let minimumDataLength: Int

    /// Locates the trade fields of `event`.
    public init(event: ABIEvent) throws(FillMappingError) {
        var fields: [String: Field] = [:]
        var topic = event.anonymous ? 0 : 1
        var offset = 0
        for (input, type) in zip(event.inputs, event.types) {
            if input.indexed == true {
                if !ABIEvent.isHashedWhenIndexed(type) {
                    fields[input.name] = Field(name: input.name, location: .topic(topic), type: type)
                }
                topic += 1
            } else {
                if !type.isDynamic {
                    fields[input.name] = Field(name: input.name, location: .data(offset: offset), type: type)
                }
                offset += type.headSize
            }
        }
        func field(
            _ name: String, _ accepts: (ABIType) -> Bool, _ expected: String
        ) throws(FillMappingError) -> Field {
            guard let found = fields[name] else {
                let declared = zip(event.inputs, event.types).first { $0.0.name == name }
                if let declared {
                    throw FillMappingError(
                        event: event.signature,
                        reason:
                            "field '\(name)' is \(declared.1)\(declared.0.indexed == true ? " (indexed, so only its hash is in the log)" : ""); expected \(expected)"
                    )
                }
                throw FillMappingError(
                    event: event.signature, reason: "missing field '\(name)' (\(expected))")
            }
            guard accepts(found.type) else {
                throw FillMappingError(
                    event: event.signature, reason: "field '\(name)' is \(found.type); expected \(expected)")
            }
            return found
        }
        let isUInt: (ABIType) -> Bool = { if case .uint = $0 { true } else { false } }
        orderHash = try field("orderHash", { $0 == .fixedBytes(32) }, "bytes32")
        maker = try field("maker", { $0 == .address }, "address")
        taker = try field("taker", { $0 == .address }, "address")
        makerAmount = try field("makerAmountFilled", isUInt, "uint")
        takerAmount = try field("takerAmountFilled", isUInt, "uint")
        fee = try field("fee", isUInt, "uint")
        if fields["side"] != nil || fields["tokenId"] != nil {
            layout = .sideAndToken(
                side: try field("side", isUInt, "uint (0 = BUY, 1 = SELL)"),
                tokenId: try field("tokenId", isUInt, "uint"))
        } else if fields["makerAssetId"] != nil || fields["takerAssetId"] != nil {
            layout = .assetIds(
                maker: try field("makerAssetId", isUInt, "uint"),
                taker: try field("takerAssetId", isUInt, "uint"))
        } else {
            throw FillMappingError(
                event: event.signature,
                reason:
                    "missing field 'side' and 'tokenId' (V2 layout) or 'makerAssetId' and 'takerAssetId' (V1 layout)"
            )
        }
        topicCount = topic
        minimumDataLength = offset
    }

    /// The trade fields of one log of the event; the caller has matched topic0 and the contract.
    func read(topics: [Bytes32], data: [UInt8]) throws(TradeDecodingError) -> Fill {
        guard topics.count == topicCount else {
            throw .topicCount(expected: topicCount, actual: topics.count)
        }
        guard data.count >= minimumDataLength else {
            throw .dataTooShort(expected: minimumDataLength, actual: data.count)
        }
        return try data.withUnsafeBytes { buffer in
            Result { () throws(TradeDecodingError) -> Fill in
                func word(_ field: Field) -> Bytes32 {
                    switch field.location {
                    case .topic(let i): topics[i]
                    case .data(let offset): Bytes32(loadingFrom: buffer, at: offset)
                    }
                }
                func uint(_ field: Field) throws(TradeDecodingError) -> UInt256 {
                    let value = UInt256(word(field))
                    guard case .uint(let bits) = field.type, value.bitWidth <= bits else {
                        throw .invalidField(field.name, "value does not fit \(field.type)")
                    }
                    return value
                }
                func address(_ field: Field) throws(TradeDecodingError) -> Address {
                    guard let a = Address(word: word(field)) else {
                        throw .invalidField(field.name, "address with non-zero high bytes")
                    }
                    return a
                }
                let makerAmount = try uint(self.makerAmount)
                let takerAmount = try uint(self.takerAmount)
                let side: TradeSide
                let tokenId: UInt256
                switch layout {
                case .sideAndToken(let sideField, let tokenField):
                    switch try uint(sideField).uint64 {
                    case 0: side = .buy
                    case 1: side = .sell
                    default: throw .invalidField(sideField.name, "side must be 0 (BUY) or 1 (SELL)")
                    }
                    tokenId = try uint(tokenField)
                case .assetIds(let makerField, let takerField):
                    let makerAsset = try uint(makerField)
                    let takerAsset = try uint(takerField)
                    switch (makerAsset.isZero, takerAsset.isZero) {
                    case (true, false):
                        side = .buy
                        tokenId = takerAsset
                    case (false, true):
                        side = .sell
                        tokenId = makerAsset
                    default:
                        throw .invalidField(
                            makerField.name,
                            "exactly one of \(makerField.name) and \(takerField.name) must be 0 (collateral)")
                    }
                }
                let (collateral, shares) =
                    side == .buy ? (makerAmount, takerAmount) : (takerAmount, makerAmount)
                guard let price = Price.of(collateral: collateral, shares: shares) else {
                    throw .invalidField(
                        side == .buy ? self.takerAmount.name : self.makerAmount.name, "zero shares")
                }
                return Fill(
                    orderHash: word(orderHash), maker: try address(maker), taker: try address(taker),
                    side: side,
                    tokenId: tokenId, shares: FixedPoint6(units: shares),
                    collateral: FixedPoint6(units: collateral),
                    price: price, fee: FixedPoint6(units: try uint(fee)))
            }
        }.get()
    }

    /// The fields of one fill, before the log's position is attached.
    struct Fill {
        var orderHash: Bytes32
        var maker: Address
        var taker: Address
        var side: TradeSide
        var tokenId: UInt256
        var shares: FixedPoint6
        var collateral: FixedPoint6
        var price: Price
        var fee: FixedPoint6
    }
}

/// Why a log of a known exchange could not be decoded.
public enum TradeDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The log came from an address that is not a configured exchange.
    case unknownContract(Address)
    /// The log has no topics (an anonymous event no exchange declares).
    case noTopics
    /// topic0 is not an event of the exchange's ABI.
    case unknownEvent(exchange: String, topic0: Bytes32)
    case topicCount(expected: Int, actual: Int)
    case dataTooShort(expected: Int, actual: Int)
    /// A field holds a value its type or meaning does not allow.
    case invalidField(String, String)
    /// A non-fill event whose data did not decode.
    case abi(ABIError)

    public var description: String {
        switch self {
        case .unknownContract(let a): "log from \(a), which is not a configured exchange"
        case .noTopics: "log has no topics"
        case .unknownEvent(let exchange, let topic0):
            "topic0 \(topic0.hex) is not an event of \(exchange)'s ABI"
        case .topicCount(let expected, let actual): "expected \(expected) topics, log has \(actual)"
        case .dataTooShort(let expected, let actual):
            "log data is \(actual) bytes, the event needs at least \(expected)"
        case .invalidField(let name, let reason): "field '\(name)': \(reason)"
        case .abi(let error): "\(error)"
        }
    }
}
