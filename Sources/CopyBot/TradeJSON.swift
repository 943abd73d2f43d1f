import EVM
import Polymarket

/// The JSON line contract for trades (DESIGN.md): `block`, `tx`, `log_index`, `exchange`, `wallet`,
/// `side`, `token_id`, `price`, `shares`, `usdc`, plus `block_hash`, `order_hash`, `counterparty`,
/// `fee` and `removed`. Numbers that can exceed 2^53 are decimal strings.
public enum TradeJSON {
    /// Appends the trade's fields (without braces) to `out`.
    public static func writeFields(_ trade: TradeEvent, to out: inout String) {
        out += "\"block\":\(trade.blockNumber),\"block_hash\":\"\(trade.blockHash.hex)\""
        out += ",\"tx\":\"\(trade.transactionHash.hex)\",\"log_index\":\(trade.logIndex)"
        out += ",\"exchange\":"
        JSONString.write(trade.exchange, to: &out)
        out += ",\"order_hash\":\"\(trade.orderHash.hex)\""
        out +=
            ",\"wallet\":\"\(trade.wallet.checksummed)\",\"counterparty\":\"\(trade.counterparty.checksummed)\""
        out += ",\"side\":\"\(trade.side.rawValue)\",\"token_id\":\"\(trade.tokenId.decimalString)\""
        out += ",\"price\":\"\(trade.price)\",\"shares\":\"\(trade.shares)\",\"usdc\":\"\(trade.collateral)\""
        out += ",\"fee\":\"\(trade.fee)\",\"removed\":\(trade.removed)"
    }

    /// The trade as one JSON object.
    public static func object(_ trade: TradeEvent) -> String {
        var out = "{"
        writeFields(trade, to: &out)
        out += "}"
        return out
    }
}
