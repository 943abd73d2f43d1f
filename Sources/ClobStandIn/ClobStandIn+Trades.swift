import EVM
import Foundation
import Hummingbird
import Polymarket

extension ClobStandIn {
    /// A trade the stand-in matched: one taker order against one or more of its book's levels
    /// (each a maker order), as `GET /data/trades` reports it.
    public struct Trade: Hashable, Sendable {
        /// One maker order's part: a book level taken.
        public struct MakerFill: Hashable, Sendable {
            /// The maker order's id (made up: the book has no real orders).
            public var orderID: String
            public var owner: String
            public var makerAddress: Address
            /// The maker's token (the taker's: the stand-in's book holds one outcome).
            public var tokenID: UInt256
            /// The maker's side (the taker's opposite).
            public var side: Side
            /// The level's price.
            public var price: ExactDecimal
            /// Shares matched, in token units.
            public var shares: UInt128
            /// Their collateral: ⌊shares × price⌋ in token units (the contract's floor division).
            public var collateral: UInt128
        }

        /// The trade id.
        public var id: String
        /// The taker order's id (its hash).
        public var takerOrderID: String
        /// The API key of the taker order.
        public var owner: String
        /// The taker order's maker (funder) address.
        public var makerAddress: Address
        /// The market (condition id).
        public var market: String
        public var tokenID: UInt256
        /// The taker's side.
        public var side: Side
        /// The taker order's own limit price (its worst price on the tick): the top-level `price`.
        /// What the real CLOB puts there for a taker meeting several prices is undocumented; the
        /// stricter reading is the one a client must not book at.
        public var price: ExactDecimal
        /// `MATCHED`.
        public var status: String
        /// Unix seconds.
        public var matchTime: Int64
        public var transactionHash: String
        /// One entry per book level taken, best first.
        public var makerFills: [MakerFill]

        /// The shares traded, in token units.
        public var shares: UInt128 { makerFills.reduce(0) { $0 + $1.shares } }
        /// The collateral traded (the sum of the levels' floored amounts), in token units.
        public var collateral: UInt128 { makerFills.reduce(0) { $0 + $1.collateral } }
    }

    /// Every trade matched, in order.
    public var trades: [Trade] { state.withLock { $0.trades } }

    // MARK: GET /data/order/{id}

    func lookup(id: String) -> Answer {
        let found = state.withLock { s -> (AcceptedOrder, Market?)? in
            s.indexByHash[id].map { (s.accepted[$0], s.markets[s.accepted[$0].order.tokenId]) }
        }
        guard let (order, market) = found else { return Answer(status: 200, json: "null") }
        // py-clob-client issue #217: the real CLOB answers nothing for a filled FOK/FAK order.
        if configuration.lookupOmitsFinishedMarketOrders,
            order.orderType == "FAK" || order.orderType == "FOK",
            order.status != "LIVE"
        {
            return Answer(status: 200, json: "null")
        }
        return Answer(status: 200, json: StandInJSON.record(order, market: market))
    }

    // MARK: GET /data/trades

    /// The first cursor (base64 of "0") and the end cursor (base64 of "-1": rs-clob-client
    /// `TERMINAL_CURSOR`).
    static let firstCursor = "MA=="
    static let endCursor = "LTE="

    /// `GET /data/trades` (and `GET /trades`): the requesting API key's trades matching the filters
    /// `id`, `maker_address`, `market`, `asset_id`, `before`, `after` (py-clob-client-v2
    /// `get_trades`; `before`/`after` in Unix seconds, taken as exclusive bounds), paged by
    /// `next_cursor` (base64 of the offset) in pages of ``Configuration/tradesPageSize``:
    /// `{"limit": N, "next_cursor": "…", "count": n, "data": […]}`.
    func trades(_ request: Request) -> Answer {
        let query = request.uri.queryParameters
        func text(_ key: String) -> String? {
            // Hummingbird percent-decodes the values.
            guard let raw = query[Substring(key)], !raw.isEmpty else { return nil }
            return String(raw)
        }
        let cursor = text("next_cursor") ?? Self.firstCursor
        guard cursor != Self.endCursor else {
            return Answer(
                status: 200,
                json:
                    "{\"limit\":\(configuration.tradesPageSize),\"next_cursor\":\"\(Self.endCursor)\",\"count\":0,\"data\":[]}"
            )
        }
        guard let decoded = Data(base64Encoded: cursor).flatMap({ String(data: $0, encoding: .utf8) }),
            let offset = Int(decoded), offset >= 0
        else { return reject(400, "invalid next_cursor") }
        var before: Int64?
        var after: Int64?
        if let value = text("before") {
            guard let seconds = Int64(value) else { return reject(400, "invalid before") }
            before = seconds
        }
        if let value = text("after") {
            guard let seconds = Int64(value) else { return reject(400, "invalid after") }
            after = seconds
        }
        var maker: Address?
        if let value = text("maker_address") {
            guard let address = try? Address(value) else { return reject(400, "invalid maker_address") }
            maker = address
        }
        let key = header(request, ClobAuth.apiKeyHeader) ?? ""
        let id = text("id")
        let market = text("market")
        let asset = text("asset_id")
        let matching = state.withLock { $0.trades }.filter { trade in
            trade.owner == key && (id == nil || trade.id == id)
                && (maker == nil || trade.makerAddress == maker
                    || trade.makerFills.contains { $0.makerAddress == maker })
                && (market == nil || trade.market.lowercased() == market?.lowercased())
                && (asset == nil || trade.tokenID.decimalString == asset)
                && (before.map { trade.matchTime < $0 } ?? true)
                && (after.map { trade.matchTime > $0 } ?? true)
        }
        let size = max(1, configuration.tradesPageSize)
        let page = matching.dropFirst(offset).prefix(size)
        let end = offset + page.count
        let next =
            end >= matching.count ? Self.endCursor : Data(String(end).utf8).base64EncodedString()
        let data = page.map { StandInJSON.trade($0) }.joined(separator: ",")
        return Answer(
            status: 200,
            json: "{\"limit\":\(size),\"next_cursor\":\"\(next)\",\"count\":\(page.count),\"data\":[\(data)]}"
        )
    }
}
