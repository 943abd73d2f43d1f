import EVM
import Foundation

extension ClobHTTPClient {
    /// The most pages of `GET /data/trades` followed before giving up (a cursor that never ends).
    public static let maxTradePages = 100

    /// The first cursor of `GET /data/trades` (base64 of "0") and the one that ends the pages
    /// (base64 of "-1": rs-clob-client `TERMINAL_CURSOR`).
    static let firstTradeCursor = "MA=="
    static let endTradeCursor = "LTE="

    // MARK: Trades (L2)

    public func trades(_ query: TradeQuery) async throws(ClobError) -> [TradeRecord] {
        var filters: [(String, String)] = []
        if let id = query.id { filters.append(("id", id)) }
        if let maker = query.makerAddress { filters.append(("maker_address", maker.checksummed)) }
        if let market = query.market { filters.append(("market", market)) }
        if let asset = query.assetID { filters.append(("asset_id", asset.decimalString)) }
        if let before = query.before { filters.append(("before", String(before))) }
        if let after = query.after { filters.append(("after", String(after))) }
        var cursor = Self.firstTradeCursor
        var records: [TradeRecord] = []
        for _ in 0..<Self.maxTradePages {
            // The L2 signature covers the path without its query (py-clob-client `get_trades`).
            let answer = try await perform(
                .GET, path: "/data/trades", query: Self.query(filters + [("next_cursor", cursor)]), auth: .l2,
                idempotent: true)
            let object = try Self.object(answer)
            guard let data = object["data"] as? [Any] else {
                throw ClobError(kind: .invalidResponse, status: answer.status, message: "no trades data")
            }
            for entry in data {
                guard let trade = entry as? [String: Any], let record = Self.tradeRecord(trade) else {
                    throw ClobError(
                        kind: .invalidResponse, status: answer.status, message: "unreadable trade")
                }
                records.append(record)
            }
            guard let next = Self.text(object["next_cursor"]), !next.isEmpty, next != Self.endTradeCursor
            else {
                return records
            }
            cursor = next
        }
        throw ClobError(
            kind: .invalidResponse,
            message: "GET /data/trades still had more after \(Self.maxTradePages) pages")
    }

    /// A `GET /data/trades` entry; nil without an id, taker order id or maker orders.
    static func tradeRecord(_ t: [String: Any]) -> TradeRecord? {
        guard let id = text(t["id"]), let taker = text(t["taker_order_id"]) else { return nil }
        var makers: [MakerOrderMatch] = []
        for entry in (t["maker_orders"] as? [Any]) ?? [] {
            guard let m = entry as? [String: Any], let orderID = text(m["order_id"]),
                let amount = text(m["matched_amount"]), let price = text(m["price"])
            else { return nil }
            makers.append(
                MakerOrderMatch(
                    orderID: orderID, owner: text(m["owner"]) ?? "",
                    makerAddress: text(m["maker_address"]) ?? "",
                    matchedAmount: amount, price: price, assetID: text(m["asset_id"]) ?? "",
                    side: text(m["side"]) ?? "", outcome: text(m["outcome"]) ?? ""))
        }
        return TradeRecord(
            id: id, takerOrderID: taker, market: text(t["market"]) ?? "", assetID: text(t["asset_id"]) ?? "",
            side: text(t["side"]) ?? "", size: text(t["size"]) ?? "", price: text(t["price"]) ?? "",
            status: text(t["status"]) ?? "", matchTime: text(t["match_time"]) ?? "",
            owner: text(t["owner"]) ?? "",
            makerAddress: text(t["maker_address"]) ?? "", traderSide: text(t["trader_side"]) ?? "",
            transactionHash: text(t["transaction_hash"]) ?? "", makerOrders: makers)
    }

    // MARK: Balance and allowance (L2)

    public func balanceAllowance(
        _ asset: BalanceAsset, signatureType: SignatureType
    ) async throws(ClobError) -> BalanceAllowance {
        var parameters: [(String, String)]
        switch asset {
        case .collateral: parameters = [("asset_type", "COLLATERAL")]
        case .conditional(let token):
            parameters = [("asset_type", "CONDITIONAL"), ("token_id", token.decimalString)]
        }
        parameters.append(("signature_type", String(signatureType.rawValue)))
        let answer = try await perform(
            .GET, path: "/balance-allowance", query: Self.query(parameters), auth: .l2, idempotent: true)
        let object = try Self.object(answer)
        func amount(_ value: Any?) -> UInt256? { Self.text(value).flatMap { UInt256(decimal: $0) } }
        guard let balance = amount(object["balance"]) else {
            throw ClobError(kind: .invalidResponse, status: answer.status, message: "no balance")
        }
        var allowances: [Address: UInt256] = [:]
        if let map = object["allowances"] as? [String: Any] {
            // V2 (clob-client-v2 `BalanceAllowanceResponse`): one allowance per spender.
            for (key, value) in map {
                guard let spender = try? Address(key), let allowance = amount(value) else {
                    throw ClobError(
                        kind: .invalidResponse, status: answer.status, message: "unreadable allowance")
                }
                allowances[spender] = allowance
            }
        } else if let single = object["allowance"] {
            // V1: one allowance, spender unnamed.
            guard let allowance = amount(single) else {
                throw ClobError(
                    kind: .invalidResponse, status: answer.status, message: "unreadable allowance")
            }
            allowances[.zero] = allowance
        } else {
            throw ClobError(kind: .invalidResponse, status: answer.status, message: "no allowance")
        }
        return BalanceAllowance(balance: balance, allowances: allowances)
    }

    /// A query string, each value percent-encoded (unreserved characters kept).
    static func query(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
    }
}
