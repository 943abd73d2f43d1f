import AsyncHTTPClient
import ClobStandIn
import EVM
import Foundation
import Logging
import NIOHTTP1
import Polymarket
import Testing

/// A stand-in configured for one test, a client pointed at it, and helpers to sign orders.
struct RulesEnvironment {
    let key: PrivateKey
    let credentials: ApiCredentials
    let contracts: ExchangeContracts
    let standIn: ClobStandIn
    let http: HTTPClient
    let client: ClobHTTPClient

    static let condition = "0x" + String(repeating: "cd", count: 32)
    static let otherCondition = "0x" + String(repeating: "ef", count: 32)

    /// Runs `body` against a fresh stand-in (taker orders matched) with `markets`.
    static func with<T>(
        markets: [ClobStandIn.Market],
        configure: (inout ClobStandIn.Configuration, PrivateKey) -> Void = { _, _ in },
        _ body: (RulesEnvironment) async throws -> T
    ) async throws -> T {
        let key = PrivateKey.generate()
        let credentials = StandInEnvironment.randomCredentials()
        let contracts = try StandInEnvironment.contracts()
        var configuration = ClobStandIn.Configuration(
            credentials: credentials, account: key.address, contracts: contracts, markets: markets)
        configuration.matchesTakerOrders = true
        configure(&configuration, key)
        let standIn = ClobStandIn(configuration: configuration)
        try await standIn.start()
        let http = ClobHTTPClient.makeHTTPClient(connectTimeout: .seconds(1))
        let client = ClobHTTPClient(
            configuration: .init(
                baseURL: standIn.baseURL, requestTimeout: .seconds(2),
                retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10))),
            http: http, signer: key, credentials: credentials)
        let environment = RulesEnvironment(
            key: key, credentials: credentials, contracts: contracts, standIn: standIn, http: http,
            client: client)
        do {
            let result = try await body(environment)
            try await http.shutdown()
            await standIn.stop()
            return result
        } catch {
            try? await http.shutdown()
            await standIn.stop()
            throw error
        }
    }

    static func market(
        _ token: UInt64, condition: String = condition, bids: [(String, String)] = [],
        asks: [(String, String)] = [],
        tick: TickSize = .hundredth, minimum: String = "5"
    ) -> ClobStandIn.Market {
        func levels(_ list: [(String, String)]) -> [BookLevel] {
            list.map { BookLevel(price: ExactDecimal($0.0)!, size: ExactDecimal($0.1)!) }
        }
        return ClobStandIn.Market(
            tokenID: UInt256(token), conditionID: condition, bids: levels(bids), asks: levels(asks),
            tickSize: tick,
            minOrderSize: ExactDecimal(minimum)!)
    }

    var builder: OrderBuilder { OrderBuilder(signer: key) }

    /// A market order built by ``OrderBuilder/marketOrder`` (amounts the CLOB accepts).
    func marketOrder(
        _ side: Side, amount: String, price: String, market: ClobStandIn.Market
    ) throws -> SignedOrder {
        try builder.marketOrder(
            MarketOrderRequest(
                tokenId: market.tokenID, side: side, amount: ExactDecimal(amount)!,
                price: ExactDecimal(price)!),
            market: MarketParameters(
                tickSize: market.tickSize, minOrderSize: ExactDecimal(0), negRisk: false),
            contracts: contracts)
    }

    /// An order with exactly these amounts (token units), signed.
    func rawOrder(_ side: Side, maker: UInt64, taker: UInt64, market: ClobStandIn.Market) -> SignedOrder {
        let order = OrderV2(
            salt: UInt256(UInt64.random(in: 1...(1 << 53))), maker: key.address, signer: key.address,
            tokenId: market.tokenID, makerAmount: UInt256(maker), takerAmount: UInt256(taker), side: side,
            signatureType: .eoa, timestamp: UInt256(OrderBuilder.nowMilliseconds()))
        return builder.sign(order, in: contracts.domain(negRisk: market.negRisk))
    }

    /// The refusal of `order`, or nil when it was not refused.
    func refusal(_ order: SignedOrder, _ type: OrderType) async -> ClobError? {
        if case .rejected(let error) = await client.postOrder(order, type: type) { return error }
        return nil
    }

    /// The acceptance of `order`, recording an issue when it was not accepted.
    func accept(
        _ order: SignedOrder, _ type: OrderType, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> OrderAcceptance? {
        let outcome = await client.postOrder(order, type: type)
        guard case .accepted(let acceptance) = outcome else {
            Issue.record("expected accepted, got \(outcome)", sourceLocation: sourceLocation)
            return nil
        }
        return acceptance
    }

    /// A raw L2-authenticated GET (path signed without its query), as status and JSON text.
    func get(_ path: String, query: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: standIn.baseURL + path + "?" + query)
        request.method = .GET
        let headers = try ClobAuth.l2Headers(
            address: key.address, credentials: credentials, timestamp: Int64(Date().timeIntervalSince1970),
            method: "GET", path: path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await http.execute(request, timeout: .seconds(2))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }
}

@Suite("CLOB stand-in: the real exchange's rules", .serialized)
struct ClobStandInRulesTests {
    static let marketText =
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"

    @Test(
        "market orders: a limit-rounded FAK is refused with the CLOB's text; builder market orders pass on every tick"
    )
    func marketPrecision() async throws {
        let market = RulesEnvironment.market(1)
        try await RulesEnvironment.with(
            markets: [market], configure: { c, _ in c.matchesTakerOrders = false }
        ) { env in
            let amounts = AmountRounding.limit(
                side: .buy, price: ExactDecimal("0.58")!, size: ExactDecimal("8.62")!, tick: .hundredth)
            #expect(amounts.makerAmount == UInt256(4_999_600))
            #expect(amounts.takerAmount == UInt256(8_620_000))
            let limitRounded = env.rawOrder(.buy, maker: 4_999_600, taker: 8_620_000, market: market)
            let refused = try #require(await env.refusal(limitRounded, .fak))
            #expect(refused.message == Self.marketText)
            #expect(refused.kind == .invalidOrder)
            // The same amounts as a limit order are fine (collateral 4 decimals on a 0.01 tick).
            #expect(await env.accept(limitRounded, .gtc) != nil)
            for (n, tick) in TickSize.allCases.enumerated() {
                let market = RulesEnvironment.market(UInt64(100 + n), tick: tick)
                env.standIn.setMarket(market)
                let price = ExactDecimal(units: 500_000 + 3 * tick.micros, places: 6).description
                for type in [OrderType.fak, .fok] {
                    let buy = try env.marketOrder(.buy, amount: "7.77", price: price, market: market)
                    #expect(await env.accept(buy, type) != nil, "BUY \(type) on tick \(tick)")
                    let sell = try env.marketOrder(.sell, amount: "12.34", price: price, market: market)
                    #expect(await env.accept(sell, type) != nil, "SELL \(type) on tick \(tick)")
                }
            }
            #expect(env.standIn.rejections == [Self.marketText])
        }
    }

    @Test("limit orders: shares at most 2 decimals, collateral at most tick decimals + 2")
    func limitPrecision() async throws {
        let market = RulesEnvironment.market(1)
        try await RulesEnvironment.with(
            markets: [market], configure: { c, _ in c.matchesTakerOrders = false }
        ) { env in
            // 10.005 shares at 0.50: on the tick, but 3 decimals of shares.
            let fine = env.rawOrder(.buy, maker: 5_002_500, taker: 10_005_000, market: market)
            let limit = try #require(await env.refusal(fine, .gtc))
            #expect(
                limit.message
                    == "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, taker amount a max of 2 decimals"
            )
            let sell = env.rawOrder(.sell, maker: 10_005_000, taker: 5_002_500, market: market)
            #expect(
                await env.refusal(sell, .gtd)?.message
                    == "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
            )
            // As FAK, the same BUY meets the market rule (maker 2 decimals).
            #expect(await env.refusal(fine, .fak)?.message == Self.marketText)
            #expect(
                await env.accept(
                    env.rawOrder(.buy, maker: 5_000_000, taker: 10_000_000, market: market), .gtc) != nil)
        }
    }

    @Test("a marketable BUY needs $1; a resting one does not")
    func dollarMinimum() async throws {
        let market = RulesEnvironment.market(1, asks: [("0.51", "100")], minimum: "0.01")
        try await RulesEnvironment.with(markets: [market]) { env in
            let small = try env.marketOrder(.buy, amount: "0.17", price: "0.5", market: market)
            let refused = try #require(await env.refusal(small, .fak))
            #expect(refused.message == "invalid amount for a marketable BUY order ($0.17), min size: $1")
            #expect(refused.kind == .minimumSize)
            // A limit BUY of $0.55 crossing the 0.51 ask is marketable too.
            let crossing = env.rawOrder(.buy, maker: 550_000, taker: 1_000_000, market: market)
            #expect(
                await env.refusal(crossing, .gtc)?.message
                    == "invalid amount for a marketable BUY order ($0.55), min size: $1")
            // Below the ask it rests.
            #expect(
                await env.accept(env.rawOrder(.buy, maker: 500_000, taker: 1_000_000, market: market), .gtc)
                    != nil)
            // A SELL has no dollar minimum.
            let sell = try env.marketOrder(.sell, amount: "1", price: "0.5", market: market)
            #expect(await env.refusal(sell, .fak)?.kind == .unfilled)
        }
    }

    @Test("a market BUY spends at most its collateral and takes the surplus shares of cheaper asks")
    func collateralBoundedBuy() async throws {
        let market = RulesEnvironment.market(
            1, bids: [("0.40", "100"), ("0.45", "2")], asks: [("0.98", "100"), ("0.97", "2")])
        try await RulesEnvironment.with(markets: [market]) { env in
            // $5 at 0.99: 2 @ 0.97 = 1.94, then ⌊3.06 / 0.98⌋ = 3.122448 @ 0.98 = ⌊3.05999904⌋ = 3.059999.
            let buy = try env.marketOrder(.buy, amount: "5", price: "0.99", market: market)
            let answer = try #require(await env.accept(buy, .fak))
            #expect(answer.status == "matched")
            #expect(answer.makingAmount == "4.999999")
            #expect(answer.takingAmount == "5.122448")
            let trade = try #require(env.standIn.trades.last)
            #expect(trade.makerFills.map(\.shares) == [2_000_000, 3_122_448])
            #expect(trade.makerFills.map(\.collateral) == [1_940_000, 3_059_999])
            #expect(trade.price == ExactDecimal("0.99")!)
            let accepted = try #require(env.standIn.acceptedOrders.last)
            #expect(accepted.matchedShares == 5_122_448)
            #expect(accepted.matchedCollateral == 4_999_999)
            let book = try await env.client.book(tokenID: market.tokenID)
            #expect(book.asks == [BookLevel(price: ExactDecimal("0.98")!, size: ExactDecimal("96.877552")!)])
            // SELL 5 at 0.40 or better: 2 @ 0.45, 3 @ 0.40, at the bids' own prices.
            let sell = try env.marketOrder(.sell, amount: "5", price: "0.4", market: market)
            let sold = try #require(await env.accept(sell, .fak))
            #expect(sold.makingAmount == "5.000000")
            #expect(sold.takingAmount == "2.100000")
            // FOK: all or nothing; a BUY that cannot spend it all is killed and the book stays.
            let tooBig = try env.marketOrder(.buy, amount: "200", price: "0.98", market: market)
            let killed = try #require(await env.refusal(tooBig, .fok))
            #expect(
                killed.message == "order couldn't be fully filled. FOK orders are fully filled or killed.")
            #expect(killed.kind == .unfilled)
            #expect(try await env.client.book(tokenID: market.tokenID).asks == book.asks)
            let fits = try env.marketOrder(.buy, amount: "10", price: "0.98", market: market)
            #expect(await env.accept(fits, .fok)?.makingAmount == "9.999999")
        }
    }

    @Test("a FAK that meets nothing is killed with the CLOB's text; posting it again is a duplicate")
    func killedThenDuplicate() async throws {
        let market = RulesEnvironment.market(1, asks: [("0.60", "100")])
        try await RulesEnvironment.with(markets: [market]) { env in
            let order = try env.marketOrder(.buy, amount: "5", price: "0.55", market: market)
            let killed = try #require(await env.refusal(order, .fak))
            #expect(
                killed.message
                    == "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
            )
            #expect(killed.kind == .unfilled)
            #expect(env.standIn.trades.isEmpty)
            let again = await env.client.postOrder(order, type: .fak)
            guard case .resolved(let lost) = again, case .found(let record) = lost.resolution else {
                Issue.record("expected the duplicate found by hash, got \(again)")
                return
            }
            #expect(lost.cause.kind == .duplicateOrder)
            #expect(lost.cause.message.hasPrefix("order \(order.orderHash.hex) is invalid. Duplicated."))
            #expect(record.status == "UNMATCHED")
            #expect(env.standIn.acceptedOrders.count == 1)
        }
    }

    @Test("balances and allowances: refusals with the CLOB's text, and matches move the taker's funds")
    func balances() async throws {
        let market = RulesEnvironment.market(
            1, bids: [("0.50", "100")], asks: [("0.98", "100"), ("0.97", "2")])
        try await RulesEnvironment.with(
            markets: [market], configure: { c, key in c.balances = [key.address: UInt256(10_000_000)] }
        ) { env in
            let me = env.key.address
            let exchange = env.contracts.exchange
            let big = try env.marketOrder(.buy, amount: "20", price: "0.99", market: market)
            let poor = try #require(await env.refusal(big, .fak))
            #expect(
                poor.message
                    == "not enough balance / allowance: the balance is not enough -> balance: 10000000, order amount: 20000000"
            )
            #expect(poor.kind == .balanceAllowance)
            env.standIn.setCollateral(me, balance: UInt256(100_000_000), allowance: UInt256(3_000_000))
            let buy = try env.marketOrder(.buy, amount: "5", price: "0.99", market: market)
            #expect(
                await env.refusal(buy, .fak)?.message
                    == "not enough balance / allowance: the allowance is not enough -> allowance: 3000000, order amount: 5000000"
            )
            env.standIn.setAllowance(me, spender: exchange, allowance: UInt256(8_000_000))
            #expect(await env.accept(buy, .fak)?.takingAmount == "5.122448")
            #expect(env.standIn.collateral(of: me) == UInt256(100_000_000 - 4_999_999))
            #expect(env.standIn.funds(of: me)?.allowances[exchange] == UInt256(8_000_000 - 4_999_999))
            #expect(env.standIn.tokens(of: me) == [market.tokenID: UInt256(5_122_448)])
            // A SELL needs the shares and the exchange's approval.
            let tooMany = try env.marketOrder(.sell, amount: "6", price: "0.5", market: market)
            #expect(
                await env.refusal(tooMany, .fak)?.message
                    == "not enough balance / allowance: the balance is not enough -> balance: 5122448, order amount: 6000000"
            )
            env.standIn.setApproval(me, approved: false)
            let sell = try env.marketOrder(.sell, amount: "5", price: "0.5", market: market)
            #expect(
                await env.refusal(sell, .fak)?.message
                    == "not enough balance / allowance: the allowance is not enough -> allowance: 0, order amount: 5000000"
            )
            env.standIn.setApproval(me, approved: true)
            #expect(await env.accept(sell, .fak)?.takingAmount == "2.500000")
            #expect(env.standIn.collateral(of: me) == UInt256(100_000_000 - 4_999_999 + 2_500_000))
            #expect(env.standIn.tokens(of: me) == [market.tokenID: UInt256(122_448)])
            // A resting BUY commits its collateral: the next one may only use the rest.
            env.standIn.setCollateral(me, balance: UInt256(6_000_000))
            #expect(
                await env.accept(
                    env.rawOrder(.buy, maker: 5_000_000, taker: 10_000_000, market: market), .gtc) != nil)
            #expect(
                await env.refusal(
                    env.rawOrder(.buy, maker: 2_500_000, taker: 5_000_000, market: market), .gtc)?.message
                    == "not enough balance / allowance: the balance is not enough -> balance: 6000000, order amount: 7500000"
            )
        }
    }

    @Test("GET /balance-allowance: V2 answers per spender, the API key's funder, refused parameters")
    func balanceAllowanceEndpoint() async throws {
        let market = RulesEnvironment.market(1)
        let funder = try Address("0x2222222222222222222222222222222222222222")
        try await RulesEnvironment.with(markets: [market], configure: { c, _ in c.balances = [:] }) { env in
            env.standIn.setCollateral(env.key.address, balance: UInt256(1), allowance: UInt256(2))
            env.standIn.setCollateral(funder, balance: UInt256(42_000_000), allowance: UInt256(7_000_000))
            env.standIn.setAllowance(funder, spender: env.contracts.negRiskExchange, allowance: UInt256(9))
            env.standIn.setTokenBalance(funder, token: market.tokenID, balance: UInt256(5_000_000))
            env.standIn.setApproval(funder, approved: false, spender: env.contracts.negRiskExchange)
            let mine = try await env.client.balanceAllowance(.collateral, signatureType: .eoa)
            #expect(
                mine
                    == BalanceAllowance(
                        balance: UInt256(1),
                        allowances: [
                            env.contracts.exchange: UInt256(2), env.contracts.negRiskExchange: UInt256(2),
                        ]))
        }
        // The funder of the API key (a proxy wallet's), configured.
        try await RulesEnvironment.with(
            markets: [market],
            configure: { c, _ in
                c.funders = [c.credentials.apiKey: funder]
                c.balances = [funder: UInt256(42_000_000)]
            }
        ) { env in
            let client = env.client
            env.standIn.setAllowance(funder, spender: env.contracts.negRiskExchange, allowance: UInt256(9))
            env.standIn.setTokenBalance(funder, token: market.tokenID, balance: UInt256(5_000_000))
            env.standIn.setApproval(funder, approved: false, spender: env.contracts.negRiskExchange)
            let collateral = try await client.balanceAllowance(.collateral, signatureType: .polyProxy)
            #expect(collateral.balance == UInt256(42_000_000))
            #expect(
                collateral.allowances == [
                    env.contracts.exchange: .max, env.contracts.negRiskExchange: UInt256(9),
                ])
            let tokens = try await client.balanceAllowance(
                .conditional(market.tokenID), signatureType: .polyProxy)
            #expect(tokens.balance == UInt256(5_000_000))
            #expect(
                tokens.allowances == [env.contracts.exchange: .max, env.contracts.negRiskExchange: .zero])
            let badType = try await env.get("/balance-allowance", query: "asset_type=NFT&signature_type=0")
            #expect(badType.status == 400)
            #expect(badType.body == "{\"error\":\"Invalid asset type\"}")
            let badSignature = try await env.get(
                "/balance-allowance", query: "asset_type=COLLATERAL&signature_type=9")
            #expect(badSignature.status == 400)
            #expect(badSignature.body == "{\"error\":\"Invalid signature_type\"}")
            let raw = try await env.get(
                "/balance-allowance",
                query: "asset_type=CONDITIONAL&token_id=\(market.tokenID)&signature_type=1")
            #expect(
                raw.body
                    == "{\"balance\":\"5000000\",\"allowances\":{\"\(env.contracts.exchange.checksummed)\":\"\(UInt256.max)\",\"\(env.contracts.negRiskExchange.checksummed)\":\"0\"}}"
            )
        }
    }

    @Test("GET /data/trades: every page followed, filters applied, /trades served too")
    func tradesEndpoint() async throws {
        let a = RulesEnvironment.market(1, asks: [("0.50", "1000")])
        let b = RulesEnvironment.market(
            2, condition: RulesEnvironment.otherCondition, asks: [("0.40", "1000")])
        try await RulesEnvironment.with(markets: [a, b]) { env in
            var ids: [String] = []
            for n in 0..<5 {
                let order = try env.marketOrder(.buy, amount: "\(3 + n)", price: "0.5", market: a)
                #expect(await env.accept(order, .fak) != nil)
                ids.append(order.orderHash.hex)
            }
            for _ in 0..<2 {
                let order = try env.marketOrder(.buy, amount: "3", price: "0.4", market: b)
                #expect(await env.accept(order, .fak) != nil)
                ids.append(order.orderHash.hex)
            }
            let all = try await env.client.trades(TradeQuery())
            #expect(all.map(\.takerOrderID) == ids)
            #expect(env.standIn.requestCount(.trades) == 3, "pages of 3: 3 + 3 + 1")
            #expect(all.allSatisfy { $0.owner == env.credentials.apiKey && $0.traderSide == "TAKER" })
            #expect(all.first?.size == "6.000000")
            #expect(all.first?.price == "0.5")
            #expect(all.first?.makerOrders.first?.matchedAmount == "6.000000")
            #expect(try await env.client.trades(TradeQuery(assetID: a.tokenID)).count == 5)
            #expect(
                try await env.client.trades(TradeQuery(market: RulesEnvironment.otherCondition)).count == 2)
            #expect(try await env.client.trades(TradeQuery(id: all[3].id)).map(\.id) == [all[3].id])
            #expect(try await env.client.trades(TradeQuery(makerAddress: env.key.address)).count == 7)
            #expect(try await env.client.trades(TradeQuery(makerAddress: .zero)).isEmpty)
            let time = try #require(Int64(all[0].matchTime))
            #expect(try await env.client.trades(TradeQuery(before: time + 60)).count == 7)
            #expect(try await env.client.trades(TradeQuery(after: time + 60)).isEmpty)
            #expect(try await env.client.trades(TradeQuery(before: time - 1, after: time - 60)).isEmpty)
            let alias = try await env.get("/trades", query: "asset_id=\(b.tokenID)")
            #expect(alias.status == 200)
            #expect(
                alias.body.hasPrefix("{\"limit\":3,\"next_cursor\":\"LTE=\",\"count\":2,\"data\":[{\"id\":"))
            let page = try await env.get("/data/trades", query: "next_cursor=MA%3D%3D")
            #expect(page.body.contains("\"next_cursor\":\"Mw==\",\"count\":3"))
        }
    }

    @Test("GET /data/trades: a cursor that never ends fails after 100 pages")
    func tradesPageCap() async throws {
        let market = RulesEnvironment.market(1, asks: [("0.50", "100000")], minimum: "1")
        try await RulesEnvironment.with(markets: [market], configure: { c, _ in c.tradesPageSize = 1 }) {
            env in
            for _ in 0..<100 {
                _ = await env.accept(
                    try env.marketOrder(.buy, amount: "1", price: "0.5", market: market), .fak)
            }
            #expect(try await env.client.trades(TradeQuery()).count == 100)
            _ = await env.accept(try env.marketOrder(.buy, amount: "1", price: "0.5", market: market), .fak)
            do throws(ClobError) {
                _ = try await env.client.trades(TradeQuery())
                Issue.record("expected an error past 100 pages")
            } catch {
                #expect(error.kind == .invalidResponse)
                #expect(error.message.contains("100 pages"))
            }
        }
    }

    @Test("order look-ups: the record of a matched FAK, or null with lookupOmitsFinishedMarketOrders")
    func lookupSwitch() async throws {
        let market = RulesEnvironment.market(1, asks: [("0.98", "100")])
        for omits in [false, true] {
            try await RulesEnvironment.with(
                markets: [market], configure: { c, _ in c.lookupOmitsFinishedMarketOrders = omits }
            ) { env in
                let fak = try env.marketOrder(.buy, amount: "5", price: "0.99", market: market)
                #expect(await env.accept(fak, .fak) != nil)
                let resting = env.rawOrder(.buy, maker: 5_000_000, taker: 10_000_000, market: market)
                #expect(await env.accept(resting, .gtc) != nil)
                #expect(try await env.client.order(id: resting.orderHash.hex)?.status == "LIVE")
                let record = try await env.client.order(id: fak.orderHash.hex)
                let raw = try await env.get("/data/order/\(fak.orderHash.hex)", query: "")
                if omits {
                    #expect(record == nil)
                    #expect(raw.status == 200)
                    #expect(raw.body == "null")
                } else {
                    let found = try #require(record)
                    #expect(found.status == "MATCHED")
                    #expect(found.price == "0.99")
                    #expect(found.sizeMatched == "5.102040")
                    #expect(found.orderType == "FAK")
                    let trade = try #require(env.standIn.trades.first)
                    #expect(raw.body.contains("\"associate_trades\":[\"\(trade.id)\"]"))
                    #expect(raw.body.contains("\"created_at\":\(trade.matchTime)"))
                }
            }
        }
    }

    @Test("TradeFills: taker over several makers (one complementary), as a maker, FAILED ignored")
    func tradeFillsPure() {
        let taker = "0xABCDEF"
        let trades = [
            TradeRecord(
                id: "t1", takerOrderID: taker, assetID: "11", side: "BUY", size: "15.5", price: "0.6",
                status: "MATCHED",
                makerOrders: [
                    MakerOrderMatch(
                        orderID: "0xm1", matchedAmount: "10", price: "0.333", assetID: "11", side: "SELL"),
                    // A NO maker buying at 0.4: the YES taker pays 1 − 0.4 (a mint).
                    MakerOrderMatch(
                        orderID: "0xm2", matchedAmount: "5.5", price: "0.4", assetID: "22", side: "BUY"),
                ]),
            TradeRecord(
                id: "t2", takerOrderID: taker, assetID: "11", side: "BUY", size: "1", price: "0.6",
                status: "FAILED",
                makerOrders: [
                    MakerOrderMatch(
                        orderID: "0xm3", matchedAmount: "1", price: "0.5", assetID: "11", side: "SELL")
                ]),
            TradeRecord(
                id: "t3", takerOrderID: "0xother", assetID: "11", side: "SELL", size: "3", price: "0.5",
                status: "CONFIRMED",
                makerOrders: [
                    MakerOrderMatch(
                        orderID: "0xm1", matchedAmount: "2.000001", price: "0.333", assetID: "11", side: "BUY"
                    )
                ]),
        ]
        // 10 × 0.333 = 3.33; 5.5 × 0.6 = 3.3.
        #expect(
            TradeFills.fill(of: "0xabcdef", in: trades)
                == OrderFill(shares: UInt256(15_500_000), collateral: UInt256(6_630_000), trades: 1))
        // As a maker: 10 @ 0.333 in t1 and 2.000001 @ 0.333 = ⌊0.666000333⌋ = 0.666000 in t3.
        #expect(
            TradeFills.fill(of: "0xM1", in: trades)
                == OrderFill(shares: UInt256(12_000_001), collateral: UInt256(3_996_000), trades: 2))
        #expect(TradeFills.fill(of: "0xm3", in: trades) == nil, "only a FAILED trade names it")
        #expect(TradeFills.fill(of: "0xnone", in: trades) == nil)
    }

    @Test("TradeFills of the stand-in's trades equal its records to the unit")
    func tradeFillsAgainstStandIn() async throws {
        let market = RulesEnvironment.market(
            1, bids: [("0.411", "3.333333"), ("0.43", "1.234567")],
            asks: [("0.573", "100"), ("0.571", "2.2"), ("0.57", "1.3")], tick: .thousandth, minimum: "1")
        try await RulesEnvironment.with(markets: [market]) { env in
            let buy = try env.marketOrder(.buy, amount: "7.31", price: "0.573", market: market)
            let bought = try #require(await env.accept(buy, .fak))
            let sell = try env.marketOrder(.sell, amount: "4.5", price: "0.41", market: market)
            let sold = try #require(await env.accept(sell, .fak))
            // BUY: 1.3 @ 0.57, 2.2 @ 0.571, ⌊5.3128 / 0.573⌋ = 9.271902 @ 0.573 (⌊5.312799846⌋).
            #expect(env.standIn.trades.first?.shares == 12_771_902)
            #expect(env.standIn.trades.first?.collateral == UInt128(741_000 + 1_256_200 + 5_312_799))
            // SELL: 1.234567 @ 0.43 = ⌊0.53086381⌋, 3.265433 @ 0.411 = ⌊1.342092963⌋.
            #expect(env.standIn.trades.last?.collateral == UInt128(530_863 + 1_342_092))
            let trades = try await env.client.trades(TradeQuery(assetID: market.tokenID))
            for (order, answer, isBuy, levels) in [(buy, bought, true, 3), (sell, sold, false, 2)] {
                let id = order.orderHash.hex
                let fill = try #require(TradeFills.fill(of: id.uppercased(), in: trades))
                let recorded = try #require(env.standIn.trades.first { $0.takerOrderID == id })
                let accepted = try #require(env.standIn.acceptedOrders.first { $0.orderHash == id })
                #expect(recorded.makerFills.count == levels)
                #expect(fill.shares == UInt256(uint128: recorded.shares))
                #expect(fill.collateral == UInt256(uint128: recorded.collateral))
                #expect(fill.shares == UInt256(uint128: accepted.matchedShares))
                #expect(fill.collateral == UInt256(uint128: accepted.matchedCollateral))
                #expect(fill.trades == 1)
                let (paid, got) =
                    isBuy
                    ? (answer.makingAmount, answer.takingAmount) : (answer.takingAmount, answer.makingAmount)
                #expect(got == fill.shares.fixedPointString(scale: 6))
                #expect(paid == fill.collateral.fixedPointString(scale: 6))
            }
        }
    }
}
