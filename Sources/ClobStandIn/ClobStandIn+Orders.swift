import EVM
import Foundation
import Hummingbird
import Polymarket

extension ClobStandIn {
    /// One book level a taker order took: its price, the shares and their collateral (token units).
    struct LevelFill: Hashable, Sendable {
        var price: ExactDecimal
        var shares: UInt128
        var collateral: UInt128
    }

    /// How the state lock ended a `POST /order`.
    enum Placement {
        case placed(AcceptedOrder, Trade?)
        /// Refused with HTTP 400 and this text (the order may still be registered: a killed FAK/FOK).
        case refused(String)
    }

    /// The maker address the stand-in's own resting orders (its book) carry in trades.
    static let bookMaker = try! Address("0x00000000000000000000000000000000005eed00")
    /// The owner (API key) of the stand-in's own resting orders.
    static let bookOwner = "00000000-0000-0000-0000-00000000b00c"

    func postOrder(_ request: Request, body: [UInt8], arrived: ContinuousClock.Instant) -> Answer {
        let received = ContinuousClock.now
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let o = object["order"] as? [String: Any], let owner = object["owner"] as? String,
            let orderType = object["orderType"] as? String, let order = StandInJSON.order(o),
            let signatureHex = o["signature"] as? String, let signatureBytes = try? Hex.decode(signatureHex),
            let apiAddress = header(request, ClobAuth.addressHeader).flatMap({ try? Address($0) })
        else { return reject(400, "Invalid order payload") }
        guard let type = OrderType(rawValue: orderType) else {
            return reject(400, "Invalid order payload")
        }
        guard owner == header(request, ClobAuth.apiKeyHeader) else {
            return reject(400, "the order owner has to be the owner of the API KEY")
        }
        guard let market = state.withLock({ $0.markets[order.tokenId] }) else {
            return reject(400, "the orderbook \(order.tokenId.decimalString) does not exist")
        }
        let domain = configuration.contracts.domain(negRisk: market.negRisk)
        let hash = order.digest(in: domain)
        let id = hash.hex
        guard market.acceptingOrders else {
            return reject(400, "order \(id) is invalid. The market is closed.")
        }
        // The signature: who signed, and may they sign for this maker?
        let recovered: Address
        switch order.signatureType {
        case .poly1271:
            guard order.maker == order.signer, signatureBytes.count > 65,
                let inner = try? Signature(bytes: signatureBytes[0..<65]),
                let owner = try? inner.recoverAddress(
                    digest: DepositWalletSignature.digest(
                        structHash: order.structHash, wallet: order.signer, domain: domain))
            else { return reject(400, "order \(id) is invalid: invalid signature") }
            recovered = owner
        case .eoa, .polyProxy, .polyGnosisSafe:
            guard let signature = try? Signature(bytes: signatureBytes),
                let signer = try? signature.recoverAddress(digest: hash), signer == order.signer
            else { return reject(400, "order \(id) is invalid: invalid signature") }
            if order.signatureType == .eoa, order.maker != order.signer {
                return reject(
                    400, "order \(id) is invalid: invalid signature (an EOA order's maker must be its signer)"
                )
            }
            recovered = signer
        }
        guard recovered == apiAddress else {
            return reject(400, "the order signer address has to be the address of the API KEY")
        }
        if let refusal = amountRefusal(order, type: type, id: id, market: market) {
            return reject(400, refusal)
        }
        let taker = configuration.matchesTakerOrders && AmountPrecision.isMarket(type)
        let now = unixNow
        let placement = state.withLock { st -> Placement in
            // Duplicated (the CLOB's error codes page: `order {id} is invalid. Duplicated.`).
            guard st.indexByHash[id] == nil else {
                return .refused(
                    "order \(id) is invalid. Duplicated. Same order has already been placed, can't be placed again"
                )
            }
            if let funds = st.funds,
                let refusal = Self.fundsRefusal(
                    order, negRisk: market.negRisk, funds: funds, open: st.accepted,
                    contracts: configuration.contracts)
            {
                return .refused(refusal)
            }
            var entry = AcceptedOrder(
                orderHash: id, order: order, orderType: orderType, owner: owner, recoveredSigner: recovered,
                status: "LIVE")
            entry.receivedAt = received
            entry.arrivedAt = arrived
            entry.createdAt = now
            var killed: String?
            var trade: Trade?
            if taker, var book = st.markets[order.tokenId], let limit = order.makerAmount.uint128,
                let other = order.takerAmount.uint128
            {
                let fills = Self.match(
                    &book, side: order.side, makerAmount: limit, takerAmount: other,
                    allOrNothing: type == .fok)
                if fills.isEmpty {
                    entry.status = "UNMATCHED"
                    // The CLOB's error codes page; py-clob-client-v2 issue #89.
                    killed =
                        type == .fok
                        ? "order couldn't be fully filled. FOK orders are fully filled or killed."
                        : "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
                } else {
                    st.markets[order.tokenId] = book
                    st.renderedBooks[order.tokenId] = nil
                    let made = makeTrade(
                        order: order, id: id, owner: owner, market: market, fills: fills, now: now)
                    entry.matchedShares = made.shares
                    entry.matchedCollateral = made.collateral
                    entry.status = "MATCHED"
                    entry.tradeIDs = [made.id]
                    st.trades.append(made)
                    if st.funds != nil {
                        Self.settle(
                            made, order: order, negRisk: market.negRisk, funds: &st.funds!,
                            contracts: configuration.contracts)
                    }
                    trade = made
                }
            }
            // A killed order's hash stays known (the stricter reading): posting it again is a
            // duplicate.
            st.indexByHash[id] = st.accepted.count
            st.accepted.append(entry)
            if let killed { return .refused(killed) }
            return .placed(entry, trade)
        }
        let accepted: AcceptedOrder
        let trade: Trade?
        switch placement {
        case .refused(let message): return reject(400, message)
        case .placed(let entry, let made): (accepted, trade) = (entry, made)
        }
        logger.debug("order accepted", metadata: ["order_hash": "\(id)", "status": "\(accepted.status)"])
        var making = ""
        var taking = ""
        if accepted.matchedShares > 0 {
            let shares = UInt256(uint128: accepted.matchedShares).fixedPointString(scale: 6)
            let paid = UInt256(uint128: accepted.matchedCollateral).fixedPointString(scale: 6)
            (making, taking) = order.side == .buy ? (paid, shares) : (shares, paid)
        }
        let hashes = trade.map { StandInJSON.string($0.transactionHash) } ?? ""
        // The `POST /order` answer (the CLOB's order-placement docs): amounts as decimal text,
        // BUY making = collateral paid and taking = shares received, SELL the reverse.
        return Answer(
            status: 200,
            json:
                "{\"errorMsg\":\"\",\"orderID\":\(StandInJSON.string(id)),\"takingAmount\":\"\(taking)\",\"makingAmount\":\"\(making)\","
                + "\"status\":\"\(accepted.status.lowercased())\",\"transactionsHashes\":[\(hashes)],\"success\":true}"
        )
    }

    /// Why the exchange refuses the amounts of `order`, or nil: price range and tick, precision,
    /// minimum size and the marketable BUY's $1 minimum.
    func amountRefusal(_ order: OrderV2, type: OrderType, id: String, market: Market) -> String? {
        let (shares, collateral) =
            order.side == .buy
            ? (order.takerAmount, order.makerAmount) : (order.makerAmount, order.takerAmount)
        guard let s = shares.uint128, let c = collateral.uint128, s > 0, c > 0 else {
            return "order \(id) is invalid: amounts must be positive"
        }
        let (num, den) = Self.fraction(market.tickSize)
        let price = Double(c) / Double(s)
        let (scaled, overflow) = c.multipliedReportingOverflow(by: den)
        // Every order's price lies within [tick, 1 − tick] (the CLOB's `Price (…), min: … - max: …`).
        // A market order's is its worst price on the tick (BUY: the implied price floored, SELL:
        // ceiled): the official client's market BUY at 0.99 has amounts implying 0.990001 ($5 for
        // 5.0505 shares, py-clob-client-v2 `ROUNDING_CONFIG`), and such orders are accepted
        // (py-clob-client-v2 issue #89: a FAK BUY at 0.99).
        let inRange: Bool
        if AmountPrecision.isMarket(type) {
            let worst = MarketOrderAmounts.worstPrice(
                side: order.side,
                OrderAmounts(makerAmount: order.makerAmount, takerAmount: order.takerAmount),
                tick: market.tickSize)
            inRange =
                worst.map { $0 >= market.tickSize.micros && $0 <= 1_000_000 - market.tickSize.micros }
                ?? false
        } else {
            inRange = !overflow && scaled >= s * num && scaled <= s * (den - num)
        }
        guard inRange else {
            return
                "order \(id) is invalid. Price (\(price)), min: \(market.tickSize.minPrice) - max: \(market.tickSize.maxPrice)"
        }
        // Limit orders must be on the tick; a market order's implied price need not be
        // (Polymarket/py-sdk issue #291: an off-tick FAK is accepted).
        if !AmountPrecision.isMarket(type), !scaled.isMultiple(of: s * num) {
            return
                "order \(id) is invalid. Price (\(price)) breaks minimum tick size rule: \(market.tickSize.rawValue)"
        }
        // Precision by order type: market orders maker ≤ 2 and taker ≤ 4 decimals whatever the
        // tick (rs-clob-client #114, py-clob-client-v2 #99; a limit-rounded order sent as FAK is
        // judged by this rule, py-clob-client #121); limit orders shares ≤ 2 and collateral ≤ tick
        // decimals + 2 (py-clob-client #305).
        if let violation = AmountPrecision.violation(
            side: order.side, orderType: type, tick: market.tickSize, makerAmount: order.makerAmount,
            takerAmount: order.takerAmount)
        {
            return violation
        }
        // The market's `min_order_size` in shares (the CLOB's `Size (…) lower than the minimum`).
        // Whether market orders are held to it is unconfirmed: the stricter reading holds them too.
        if let minimum = market.minOrderSize.scaledInteger(places: 6)?.uint128, s < minimum {
            return
                "order \(id) is invalid. Size (\(Double(s) / 1e6)) lower than the minimum: \(market.minOrderSize)"
        }
        // A marketable BUY must spend at least $1 (the CLOB's `invalid amount for a marketable BUY
        // order ($0.17), min size: $1`): every market BUY, and a limit BUY that crosses the book.
        if order.side == .buy, c < 1_000_000,
            AmountPrecision.isMarket(type) || crossesBook(market, shares: s, collateral: c)
        {
            return
                "invalid amount for a marketable BUY order ($\(ExactDecimal(units: UInt64(c), places: 6))), min size: $1"
        }
        return nil
    }

    /// Whether a BUY of `shares` for `collateral` reaches the best ask.
    func crossesBook(_ market: Market, shares: UInt128, collateral: UInt128) -> Bool {
        let book = state.withLock { $0.markets[market.tokenID] } ?? market
        guard let best = book.asks.last, let price = best.price.exactUnits(places: 6) else { return false }
        return UInt128(price) * shares <= collateral * 1_000_000
    }

    /// The trade of a matched taker order: one maker order per book level taken.
    func makeTrade(
        order: OrderV2, id: String, owner: String, market: Market, fills: [LevelFill], now: Int64
    ) -> Trade {
        let limit =
            MarketOrderAmounts.worstPrice(
                side: order.side,
                OrderAmounts(makerAmount: order.makerAmount, takerAmount: order.takerAmount),
                tick: market.tickSize) ?? 0
        let makers = fills.map { fill in
            Trade.MakerFill(
                orderID: StandInJSON.randomHash(), owner: Self.bookOwner, makerAddress: Self.bookMaker,
                tokenID: order.tokenId, side: order.side == .buy ? .sell : .buy, price: fill.price,
                shares: fill.shares, collateral: fill.collateral)
        }
        return Trade(
            id: UUID().uuidString.lowercased(), takerOrderID: id, owner: owner, makerAddress: order.maker,
            market: market.conditionID, tokenID: order.tokenId, side: order.side,
            price: ExactDecimal(units: limit, places: 6), status: "MATCHED", matchTime: now,
            transactionHash: StandInJSON.randomHash(), makerFills: makers)
    }

    /// Matches a taker order against the book, best level first, consuming the levels it takes, as
    /// the exchange contract settles it; returns the levels taken (none when killed).
    ///
    /// - BUY: `makerAmount` is the collateral to spend, at a limit price of `makerAmount /
    ///   takerAmount`. Asks at or below the limit are taken while the collateral left buys a unit:
    ///   per level, take = min(level size, ⌊collateral left × 10⁶ / price⌋) and cost = ⌊take ×
    ///   price / 10⁶⌋. The spend is bounded by the collateral, and cheaper asks give the taker the
    ///   surplus shares (py-clob-client-v2 issue #89: a FAK BUY of 5 at 0.99 hit 0.98 and received
    ///   5.051019 shares; CTFExchange `_updateTakingWithSurplus`). The floor divisions are the
    ///   contract's (`CalculatorHelper`: integer division rounds toward zero).
    /// - SELL: `makerAmount` is the shares to sell at a limit of `takerAmount / makerAmount`; bids
    ///   at or above the limit are taken, at their own prices: proceeds = ⌊take × price / 10⁶⌋.
    /// - FOK (`allOrNothing`): a BUY must spend all its collateral (within the floor rounding: one
    ///   unit per level taken), a SELL sell all its shares; otherwise nothing is taken.
    static func match(
        _ market: inout Market, side: Side, makerAmount: UInt128, takerAmount: UInt128, allOrNothing: Bool
    ) -> [LevelFill] {
        func micros(_ value: ExactDecimal) -> UInt128 { value.scaledInteger(places: 6)?.uint128 ?? 0 }
        // Best last in both lists (asks descending, bids ascending).
        var levels = side == .buy ? market.asks : market.bids
        var remaining = makerAmount
        var fills: [LevelFill] = []
        while remaining > 0, let best = levels.last {
            let price = micros(best.price)
            guard price > 0 else { break }
            let size = micros(best.size)
            let take: UInt128
            let collateral: UInt128
            if side == .buy {
                // price ≤ limit ⇔ price × shares ≤ collateral × 10⁶.
                guard price * takerAmount <= makerAmount * 1_000_000 else { break }
                take = min(size, remaining * 1_000_000 / price)
                guard take > 0 else { break }
                collateral = take * price / 1_000_000
                remaining -= collateral
            } else {
                // price ≥ limit ⇔ price × shares ≥ collateral × 10⁶.
                guard price * makerAmount >= takerAmount * 1_000_000 else { break }
                take = min(size, remaining)
                collateral = take * price / 1_000_000
                remaining -= take
            }
            fills.append(LevelFill(price: best.price, shares: take, collateral: collateral))
            levels.removeLast()
            if size > take {
                // A level left partly: the order's budget is spent (to less than one unit's price,
                // for a BUY), and one maker order is filled once.
                let left = UInt256(uint128: size - take).fixedPointString(scale: 6)
                levels.append(BookLevel(price: best.price, size: ExactDecimal(left)!))
                break
            }
        }
        if allOrNothing {
            let filled = side == .buy ? remaining <= UInt128(fills.count) : remaining == 0
            if !filled { return [] }
        }
        if side == .buy { market.asks = levels } else { market.bids = levels }
        return fills
    }
}
