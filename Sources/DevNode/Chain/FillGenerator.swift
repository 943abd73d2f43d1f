import EVM
import Polymarket

/// Encodes one event of a real ABI from values given by input name: indexed inputs become
/// topics, the others the ABI-encoded data. Inputs without a value get their type's zero.
struct EventEncoder: Sendable {
    let event: ABIEvent
    private let dataTypes: [ABIType]

    init(event: ABIEvent) throws(DevnetSetupError) {
        for (input, type) in zip(event.inputs, event.types) where input.indexed == true {
            guard !ABIEvent.isHashedWhenIndexed(type) else {
                throw DevnetSetupError(
                    "\(event.signature): indexed input '\(input.name)' is hashed; cannot simulate")
            }
        }
        self.event = event
        self.dataTypes = zip(event.inputs, event.types).filter { $0.0.indexed != true }.map(\.1)
    }

    /// Whether the event has an input called `name`.
    func has(_ name: String) -> Bool { event.inputs.contains { $0.name == name } }

    func encode(address: Address, _ values: [String: ABIValue]) -> DevnetLogTemplate {
        var topics: [Bytes32] = event.anonymous ? [] : [event.topic0]
        var data: [ABIValue] = []
        for (input, type) in zip(event.inputs, event.types) {
            let value = values[input.name] ?? Self.zero(type)
            if input.indexed == true {
                // Elementary values only (checked in init): one word each.
                let word = (try? ABIEncoder.encodeSingle(value, as: type)) ?? []
                topics.append(Bytes32(bytes: word) ?? .zero)
            } else {
                data.append(value)
            }
        }
        let encoded: [UInt8]
        do { encoded = try ABIEncoder.encode(data, as: dataTypes) } catch {
            preconditionFailure("devnet generated a value that does not fit \(event.signature): \(error)")
        }
        return DevnetLogTemplate(address: address, topics: topics, data: encoded)
    }

    static func zero(_ type: ABIType) -> ABIValue {
        switch type {
        case .uint: .uint(.zero)
        case .int: .int(.zero)
        case .address: .address(.zero)
        case .bool: .bool(false)
        case .fixedBytes(let n): .fixedBytes(Array(repeating: 0, count: n))
        case .bytes: .bytes([])
        case .string: .string("")
        case .array: .array([])
        case .fixedArray(let element, let count): .array(Array(repeating: zero(element), count: count))
        case .tuple(let components): .tuple(components.map(zero))
        }
    }
}

/// Invents Polymarket matches and encodes their logs with the exchanges' real ABIs.
struct FillGenerator: Sendable {
    struct Exchange: Sendable {
        var contract: ExchangeContract
        var orderFilled: EventEncoder
        var ordersMatched: EventEncoder?
    }

    struct Market: Sendable {
        var tokens: (UInt256, UInt256)
        var negRisk: Bool
        /// Price tick in millionths (10_000 = 0.01, 1_000 = 0.001).
        var tickMicros: UInt64
    }

    /// A maker order that may fill again later.
    struct RestingOrder: Sendable {
        var hash: Bytes32
        var maker: Address
        var market: Int
        var tokenId: UInt256
        var side: TradeSide
        var priceMicros: UInt64
    }

    let configuration: SimulatedChainConfiguration
    let normal: Exchange
    let negRisk: Exchange
    let markets: [Market]
    let others: [Address]
    let followed: [Address]
    let operatorAddress: Address
    private var resting: [RestingOrder] = []
    private var restingNext = 0
    private static let restingCapacity = 512

    init(
        registry: ExchangeRegistry, configuration: SimulatedChainConfiguration, rng: inout DevnetRandom
    )
        throws(DevnetSetupError)
    {
        var exchanges: [Exchange] = []
        for name in configuration.exchangeNames {
            guard let contract = registry.contracts.first(where: { $0.name == name }) else {
                throw DevnetSetupError("no exchange named \(name) in the contracts configuration")
            }
            let fill = try EventEncoder(event: contract.fillEvent)
            for field in [
                "orderHash", "maker", "taker", "side", "tokenId", "makerAmountFilled", "takerAmountFilled",
                "fee",
            ]
            where !fill.has(field) {
                throw DevnetSetupError(
                    "\(name): fill event \(contract.fillEvent.signature) has no field '\(field)' (V2 layout needed)"
                )
            }
            let matched = try contract.abi.events(named: "OrdersMatched").first.map {
                (e) throws(DevnetSetupError) in
                try EventEncoder(event: e)
            }
            exchanges.append(Exchange(contract: contract, orderFilled: fill, ordersMatched: matched))
        }
        guard let first = exchanges.first else {
            throw DevnetSetupError("no exchanges configured for the devnet")
        }
        normal = exchanges.first { !$0.contract.negRisk } ?? first
        negRisk = exchanges.first { $0.contract.negRisk } ?? first
        self.configuration = configuration
        markets = (0..<max(1, configuration.markets)).map { _ in
            Market(
                tokens: (UInt256(rng.bytes32()), UInt256(rng.bytes32())),
                negRisk: rng.chance(configuration.negRiskShare),
                tickMicros: rng.chance(0.8) ? 10_000 : 1_000)
        }
        others = (0..<max(1, configuration.otherWallets)).map { _ in rng.address() }
        followed = configuration.followedWallets
        operatorAddress = rng.address()
    }

    func exchange(for market: Market) -> Exchange { market.negRisk ? negRisk : normal }

    mutating func wallet(_ rng: inout DevnetRandom) -> Address {
        if !followed.isEmpty && rng.chance(configuration.followedProbability) {
            return followed[rng.int(in: 0...followed.count - 1)]
        }
        return others[rng.int(in: 0...others.count - 1)]
    }

    /// Transactions whose `OrderFilled` logs number `fillCount` in total.
    mutating func transactions(fillCount: Int, rng: inout DevnetRandom) -> [DevnetTransaction] {
        var remaining = fillCount
        var result: [DevnetTransaction] = []
        let lower = max(1, configuration.makerOrdersPerMatch.lowerBound)
        let upper = max(lower, configuration.makerOrdersPerMatch.upperBound)
        while remaining > 0 {
            let takerFill = configuration.takerFills && remaining >= 2
            let makers = min(rng.int(in: lower...upper), remaining - (takerFill ? 1 : 0))
            result.append(match(makers: makers, takerFill: takerFill, rng: &rng))
            remaining -= makers + (takerFill ? 1 : 0)
        }
        return result
    }

    /// Units of an amount of shares given in hundredths (shares have 2 decimals on the CLOB).
    private static func shareUnits(cents: UInt64) -> UInt64 { cents * 10_000 }

    private mutating func match(makers: Int, takerFill: Bool, rng: inout DevnetRandom) -> DevnetTransaction {
        let reused: RestingOrder? =
            !resting.isEmpty && rng.chance(configuration.partialFillProbability)
            ? resting[rng.int(in: 0...resting.count - 1)] : nil
        let marketIndex = reused?.market ?? rng.int(in: 0...markets.count - 1)
        let market = markets[marketIndex]
        let exchange = exchange(for: market)
        let tokenId = reused?.tokenId ?? (rng.chance(0.5) ? market.tokens.0 : market.tokens.1)
        let ticks = 1_000_000 / market.tickMicros
        let priceMicros = reused?.priceMicros ?? UInt64(rng.int(in: 1...Int(ticks - 1))) * market.tickMicros
        let makerSide = reused?.side ?? (rng.chance(0.5) ? .buy : .sell)
        let takerSide: TradeSide = makerSide == .buy ? .sell : .buy
        let takerWallet = wallet(&rng)
        let takerOrderHash = rng.bytes32()
        let builder = rng.chance(0.3) ? rng.bytes32() : .zero
        let txHash = rng.bytes32()

        var logs: [DevnetLogTemplate] = []
        var fills: [DevnetFillTemplate] = []
        var totalShares: UInt64 = 0
        var totalCollateral: UInt64 = 0

        func amounts(_ side: TradeSide, shares: UInt64, collateral: UInt64) -> (maker: UInt64, taker: UInt64)
        {
            side == .buy ? (collateral, shares) : (shares, collateral)
        }
        func emitFill(
            orderHash: Bytes32, maker: Address, taker: Address, side: TradeSide, shares: UInt64,
            collateral: UInt64,
            fee: UInt64
        ) {
            let (makerAmount, takerAmount) = amounts(side, shares: shares, collateral: collateral)
            let log = exchange.orderFilled.encode(
                address: exchange.contract.address,
                [
                    "orderHash": .fixedBytes(orderHash.bytes), "maker": .address(maker),
                    "taker": .address(taker),
                    "side": .uint(UInt256(side == .buy ? 0 : 1)), "tokenId": .uint(tokenId),
                    "makerAmountFilled": .uint(UInt256(makerAmount)),
                    "takerAmountFilled": .uint(UInt256(takerAmount)),
                    "fee": .uint(UInt256(fee)), "builder": .fixedBytes(builder.bytes),
                ])
            fills.append(
                DevnetFillTemplate(
                    exchange: exchange.contract.address, exchangeName: exchange.contract.name,
                    orderHash: orderHash,
                    maker: maker, taker: taker, side: side, tokenId: tokenId, makerAmountFilled: makerAmount,
                    takerAmountFilled: takerAmount, fee: fee, logOffset: logs.count))
            logs.append(log)
        }

        for i in 0..<makers {
            let order: RestingOrder
            if i == 0, let reused {
                order = reused
            } else {
                order = RestingOrder(
                    hash: rng.bytes32(), maker: wallet(&rng), market: marketIndex, tokenId: tokenId,
                    side: makerSide,
                    priceMicros: priceMicros)
                remember(order)
            }
            // 5 to 500 shares mostly, sometimes up to 5,000.
            let cents = UInt64(rng.int(in: 500...(rng.chance(0.1) ? 500_000 : 50_000)))
            let shares = Self.shareUnits(cents: cents)
            let collateral = cents * priceMicros / 100
            totalShares += shares
            totalCollateral += collateral
            emitFill(
                orderHash: order.hash, maker: order.maker, taker: takerWallet, side: makerSide,
                shares: shares,
                collateral: collateral, fee: 0)
        }
        let feeBps: UInt64 = [0, 0, 0, 10, 20, 100][rng.int(in: 0...5)]
        let takerFee = totalCollateral * feeBps / 10_000
        if takerFill {
            emitFill(
                orderHash: takerOrderHash, maker: takerWallet, taker: exchange.contract.address,
                side: takerSide,
                shares: totalShares, collateral: totalCollateral, fee: takerFee)
        }
        if configuration.ordersMatched, let matched = exchange.ordersMatched {
            let (makerAmount, takerAmount) = amounts(
                takerSide, shares: totalShares, collateral: totalCollateral)
            logs.append(
                matched.encode(
                    address: exchange.contract.address,
                    [
                        "takerOrderHash": .fixedBytes(takerOrderHash.bytes),
                        "takerOrderMaker": .address(takerWallet),
                        "side": .uint(UInt256(takerSide == .buy ? 0 : 1)), "tokenId": .uint(tokenId),
                        "makerAmountFilled": .uint(UInt256(makerAmount)),
                        "takerAmountFilled": .uint(UInt256(takerAmount)),
                    ]))
        }
        return DevnetTransaction(
            hash: txHash, from: operatorAddress, to: exchange.contract.address, logs: logs, fills: fills)
    }

    private mutating func remember(_ order: RestingOrder) {
        if resting.count < Self.restingCapacity {
            resting.append(order)
        } else {
            resting[restingNext] = order
            restingNext = (restingNext + 1) % Self.restingCapacity
        }
    }
}
