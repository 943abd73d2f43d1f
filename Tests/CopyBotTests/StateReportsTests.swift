import CopyBot
import CopyEngine
import EVM
import Polymarket
import Store
import Testing

@Suite("copybot trades and status after a reorg")
struct StateReportsTests {
    static let identity = TradeIdentity(Bytes32(0, 0, 7, 1))
    static let key = DecisionKey(account: .default, identity: identity)
    static let follower = try! Address("0x1111111111111111111111111111111111111111")

    /// The followed wallet's BUY of 200 shares at 0.5 in block `block` at `logIndex`.
    static func trade(block: UInt64, logIndex: UInt64) -> TradeSummary {
        TradeSummary(
            TradeEvent(
                exchange: "ctf_v2", contract: .zero, blockNumber: block, blockHash: Bytes32(0, 0, 0, block),
                transactionHash: Bytes32(1, 0, 0, 1), logIndex: logIndex, orderHash: Bytes32(2, 0, 0, 1),
                wallet: follower, counterparty: .zero, side: .buy, tokenId: UInt256(5),
                shares: FixedPoint6(units: UInt64(200_000_000)),
                collateral: FixedPoint6(units: UInt64(100_000_000)),
                price: Price.of(collateral: UInt256(100_000_000), shares: UInt256(200_000_000))!,
                fee: FixedPoint6(units: UInt64(0)), removed: false))
    }

    @Test(
        "a copied trade mined again after a reorg shows as a normal trade at its final block and log index"
    )
    func minedAgain() async throws {
        let store = try SQLiteStore()
        let reports = StateReports(store: store, startingCash: Fixed6(1000))
        let target = TargetTrade(
            identity: Self.identity, wallet: Self.follower, tokenId: UInt256(5), side: .buy,
            shares: Fixed6("200")!)
        let first = Self.trade(block: 101, logIndex: 1)
        _ = try await store.beginDecision(Self.key, trade: first, applying: target)
        let intent = OrderIntent(
            tokenId: UInt256(5), market: nil, side: .buy, shares: Fixed6("20")!, limitPrice: Fixed6("0.5")!,
            collateral: Fixed6("10")!, orderType: .fak, targetPrice: Fixed6("0.5")!, tickSize: .hundredth,
            minOrderSize: Fixed6("5")!, negRisk: false)
        let copied = CopyDecision.copied(
            CopiedOrder(
                intent: intent, mode: .paper, orderHash: nil,
                fill: FillSummary(shares: Fixed6("20")!, collateral: Fixed6("10")!)))
        _ = try await store.recordDecision(
            DecisionRecord(
                key: Self.key, trade: first, decision: copied, decidedAt: UnixTime(seconds: 1_760_000_000)))

        // Retracted by a reorg: flagged.
        _ = try await store.retractTargetTrade(Self.identity)
        _ = try await store.markRetracted(Self.key)
        var text = try await reports.trades(format: .text, limit: nil)
        var json = try await reports.trades(format: .jsonl, limit: nil)
        #expect(text.count == 1 && text[0].contains("#101") && text[0].contains("[retracted by a reorg]"))
        #expect(json.count == 1 && json[0].contains("\"retracted\":true"))
        #expect(try await reports.status(mode: "paper", live: nil).contains("a reorg removed"))

        // Mined again in block 130 at log 7: a normal trade there.
        let again = Self.trade(block: 130, logIndex: 7)
        #expect(
            try await store.beginDecision(Self.key, trade: again, applying: target)
                == .reinstated(
                    DecisionRecord(
                        key: Self.key, trade: again, decision: copied,
                        decidedAt: UnixTime(seconds: 1_760_000_000))))
        text = try await reports.trades(format: .text, limit: nil)
        json = try await reports.trades(format: .jsonl, limit: 10)
        #expect(text.count == 1)
        #expect(text[0].contains("#130"))
        #expect(!text[0].contains("#101"))
        #expect(!text[0].contains("retracted"))
        #expect(json.count == 1)
        #expect(json[0].contains("\"block\":130,"))
        #expect(json[0].contains("\"log_index\":7,"))
        #expect(json[0].contains("\"retracted\":false"))
        #expect(json[0].contains("\"decision\":\"copied\""))
        let status = try await reports.status(mode: "paper", live: nil)
        #expect(status.contains("1 copied"))
        #expect(!status.contains("a reorg removed"))
    }
}
