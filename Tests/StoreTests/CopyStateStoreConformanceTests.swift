import CopyEngine
import EVM
import Foundation
import GRDB
import Polymarket
import Testing

@testable import Store

// MARK: - Builders (shared by the PostgreSQL tests)

/// `Fixed6` from a literal.
func d(_ text: String) -> Fixed6 { Fixed6(text)! }

let followed = try! Address("0x1111111111111111111111111111111111111111")
let otherFollowed = try! Address("0x2222222222222222222222222222222222222222")
let marketA = MarketID(Bytes32(0xA, 0, 0, 1))
let alice = AccountID("alice")
let bob = AccountID("bob")

func identity(_ n: UInt64) -> TradeIdentity { TradeIdentity(Bytes32(0, 0, 7, n)) }

func key(_ n: UInt64, _ account: AccountID = .default) -> DecisionKey {
    DecisionKey(account: account, identity: identity(n))
}

/// A BUY of `shares` at `price` by the followed wallet (trade `n`).
func buyEvent(_ n: UInt64, shares: String = "100", price: String = "0.52") -> TradeEvent {
    let s = d(shares)
    let c = Fixed6.multiply(s, d(price), rounding: .halfEven)!
    return TradeEvent(
        exchange: "ctf_v2", contract: .zero, blockNumber: 100 + n, blockHash: Bytes32(0, 0, 0, n),
        transactionHash: Bytes32(1, 0, 0, n), logIndex: n, orderHash: Bytes32(2, 0, 0, n),
        wallet: followed,
        counterparty: .zero, side: .buy, tokenId: UInt256(n), shares: s.fixedPoint6!,
        collateral: c.fixedPoint6!,
        price: Price.of(collateral: c.fixedPoint6!.units, shares: s.fixedPoint6!.units)!,
        fee: FixedPoint6(units: UInt64(0)), removed: false)
}

/// The summary of a BUY of `shares` at `price` by the followed wallet (trade `n`).
func summary(_ n: UInt64, shares: String = "100", price: String = "0.52") -> TradeSummary {
    TradeSummary(buyEvent(n, shares: shares, price: price))
}

func orderIntent(
    side: Side = .buy, token: UInt256 = UInt256(1), market: MarketID? = marketA, shares: String = "20",
    price: String = "0.53"
) -> OrderIntent {
    OrderIntent(
        tokenId: token, market: market, side: side, shares: d(shares), limitPrice: d(price),
        collateral: Fixed6.multiply(d(shares), d(price), rounding: .halfEven)!, orderType: .fak,
        targetPrice: d("0.52"), tickSize: .hundredth, minOrderSize: d("5"), negRisk: false)
}

func signedOrder(_ n: UInt64) -> SignedOrder {
    SignedOrder(
        payload: .v2(
            OrderV2(
                salt: UInt256(n), maker: followed, signer: otherFollowed, tokenId: .max,
                makerAmount: UInt256(10_600_000), takerAmount: UInt256(20_000_000), side: .buy,
                signatureType: .polyGnosisSafe, timestamp: UInt256(1_760_000_000_000),
                metadata: Bytes32(1, 2, 3, 4), builder: Bytes32(5, 6, 7, 8),
                expiration: UInt256(1_760_000_600))),
        signature: (0..<65).map { UInt8($0) }, orderHash: Bytes32(9, 9, 9, n))
}

func storedIntent(
    _ key: DecisionKey, mode: ExecutionMode = .paper, intent: OrderIntent = orderIntent(),
    signed: SignedOrder? = nil, salt: UInt256 = UInt256(42), createdAt: Int64 = 1_000
) -> StoredIntent {
    StoredIntent(
        key: key, trade: summary(key.identity.bytes.w3), mode: mode, intent: intent, signedOrder: signed,
        salt: salt, createdAt: UnixTime(milliseconds: createdAt))
}

func record(_ key: DecisionKey, _ decision: CopyDecision, at: Int64 = 5_000) -> DecisionRecord {
    DecisionRecord(
        key: key, trade: summary(key.identity.bytes.w3), decision: decision,
        decidedAt: UnixTime(milliseconds: at))
}

/// Trade `n` of `wallet` in `token`, as the copy engine applies it to the wallet's holding.
func targetTrade(
    _ n: UInt64, _ side: Side, _ shares: String, token: UInt256, wallet: Address = followed
) -> TargetTrade {
    TargetTrade(identity: identity(n), wallet: wallet, tokenId: token, side: side, shares: d(shares))
}

func matched(
    _ shares: String, _ collateral: String, fee: String = "0", fromTarget: Bool = false
)
    -> MatchedTotals
{
    MatchedTotals(shares: d(shares), collateral: d(collateral), fee: d(fee), pricedFromTarget: fromTarget)
}

/// Every shape a decision can take: copied (live with an order hash and a fill, paper without),
/// each skip reason and each failure reason, with extreme amounts.
let everyDecision: [CopyDecision] = {
    var all: [CopyDecision] = [
        .copied(
            CopiedOrder(
                intent: orderIntent(token: .max), mode: .live, orderHash: Bytes32(.max, 1, 2, 3),
                fill: FillSummary(shares: d("19.99"), collateral: d("10.594699"), fee: d("0.000001")))),
        .copied(
            CopiedOrder(
                intent: OrderIntent(
                    tokenId: UInt256(3), market: nil, side: .sell, shares: d("5"), limitPrice: d("0.0025"),
                    collateral: d("0.0125"), orderType: .gtd, targetPrice: d("0.0050"),
                    tickSize: .quarterCent,
                    minOrderSize: d("1"), negRisk: true),
                mode: .paper, orderHash: nil,
                fill: FillSummary(shares: d("5"), collateral: d("0.0125"), pricedFromTarget: true))),
        .copied(CopiedOrder(intent: orderIntent(), mode: .paper, orderHash: nil, fill: .none)),
    ]
    let skips: [SkipReason] = [
        .belowMinimumShares(shares: d("4.99"), minimum: d("5")),
        .belowMinimumCollateral(collateral: d("0.5"), minimum: d("1")),
        .maxOrder(collateral: d("150.000001"), limit: d("100")),
        .maxPositionToken(current: d("90"), order: d("20"), limit: d("100")),
        .maxPositionMarket(market: marketA, current: d("90"), order: d("20"), limit: d("100")),
        .maxExposure(current: Fixed6.limit, order: d("0.000001"), limit: Fixed6.limit),
        .dailyLoss(pnl: -Fixed6.limit, limit: d("50")),
        .insufficientBalance(required: d("10"), available: d("9.999999")),
        .insufficientExchangeBalance(asset: "token 1234…5678", required: d("5"), balance: d("4.99")),
        .allowanceMissing(
            asset: "collateral", spender: Address(hi: 0xE111_1800, mid: 1, lo: 2), required: d("9.99"),
            allowance: .zero),
        .slippage(
            side: .buy, reference: .walked, bookPrice: d("0.57"), targetPrice: d("0.52"),
            deviation: d("0.096153"), limit: d("0.05")),
        .slippage(
            side: .sell, reference: .best, bookPrice: d("0.4"), targetPrice: d("0.5"), deviation: d("-0.2"),
            limit: d("0.05")),
        .noLiquidity(side: .sell),
        .staleTrade(ageSeconds: 301, limitSeconds: 300),
        .marketDenied(market: marketA),
        .tokenDenied(token: .max),
        .notAllowed(token: UInt256(7), market: nil),
        .notAllowed(token: UInt256(7), market: marketA),
        .killSwitch(source: "file /run/copybot/kill \"now\" — ünïcode"),
        .breakerOpen(consecutiveFailures: 5),
        .noPosition(token: UInt256(9)),
        .unknownHolding(token: UInt256(9), targetShares: d("12.5")),
        .retracted,
    ]
    all += skips.map { .skipped($0) }
    let failures: [FailureReason] = [
        .invalidTrade("zero shares"), .marketUnavailable("metadata timed out"),
        .invalidOrder("below the tick"),
        .signingFailed("no key"), .exchangeRejected("not enough balance / allowance"),
        .outcomeUnknown("post timed out; look-up failed"), .unfilled, .store("disk full"),
    ]
    all += failures.map { .failed($0) }
    return all
}()

// MARK: - The stores under test

/// Which implementation a test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case sqlite
    /// Left out of the arguments without `COPYBOT_TEST_POSTGRES_URL` (the PostgreSQL suite then
    /// shows as skipped, with the reason), unless `COPYBOT_REQUIRE_POSTGRES=1`: then its cases
    /// fail for want of a server. See ``PostgresTestServer``.
    case postgres

    var testDescription: String { rawValue }

    /// The kinds the conformance tests run against.
    static var tested: [StoreKind] { allCases.filter { $0 != .postgres || PostgresTestServer.enabled } }

    /// The SQL stores (those with the CLI's reads and durable state) the tests run against.
    static var sql: [StoreKind] { tested.filter { $0 != .memory } }
}

/// A temporary directory for SQLite files, removed at the end of the test.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "copybot-store-\(UUID().uuidString)")
    }

    /// The path of the test database.
    var database: String { url.appendingPathComponent("copybot.sqlite").path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` against a fresh store of `kind`. (Callers spell out the closure's type: a closure whose
/// only `try`s are inside `#expect` is otherwise inferred as non-throwing.)
func withStore(
    _ kind: StoreKind, _ body: (any CopyStateStore) async throws -> Void
) async throws {
    switch kind {
    case .memory:
        try await body(InMemoryCopyStateStore())
    case .sqlite, .postgres:
        try await withSQLStore(kind) { try await body($0) }
    }
}

/// Runs `body` against a fresh SQL store of `kind` (an SQLite file, or a PostgreSQL schema of its
/// own).
func withSQLStore(_ kind: StoreKind, _ body: (any CopyBotStore) async throws -> Void) async throws {
    switch kind {
    case .memory:
        Issue.record("not an SQL store")
    case .sqlite:
        let directory = TemporaryDirectory()
        try await body(try SQLiteStore(path: directory.database))
        withExtendedLifetime(directory) {}
    case .postgres:
        try await PostgresTestServer.withStore { try await body($0) }
    }
}

// MARK: - Behaviour shared by every implementation

@Suite("CopyStateStore conformance: in memory, SQLite and PostgreSQL behave the same")
struct CopyStateStoreConformanceTests {
    @Test(
        "recordDecision: the first writer wins and everyone gets the stored decision",
        arguments: StoreKind.tested)
    func firstWriterWins(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            #expect(try await store.decision(for: key(1)) == nil)
            let first = record(key(1), .skipped(.noLiquidity(side: .buy)))
            let second = record(key(1), .failed(.unfilled), at: 9_000)
            let a = try await store.recordDecision(first)
            #expect(a.inserted)
            #expect(a.record == first)
            let b = try await store.recordDecision(second)
            #expect(!b.inserted)
            #expect(b.record == first)
            #expect(try await store.decision(for: key(1)) == first)
            // The same trade for another account is another key.
            let forAlice = record(key(1, alice), .failed(.unfilled))
            #expect(try await store.recordDecision(forAlice).inserted)
            #expect(try await store.decision(for: key(1, alice)) == forAlice)
            #expect(try await store.decision(for: key(1)) == first)
        }
    }

    @Test(
        "recordDecision: of 20 concurrent callers with one key exactly one inserts",
        arguments: StoreKind.tested)
    func concurrentRecordDecision(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let results = try await withThrowingTaskGroup(of: (DecisionRecord, Bool).self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let result = try await store.recordDecision(
                            record(key(7), .skipped(.breakerOpen(consecutiveFailures: i))))
                        return (result.record, result.inserted)
                    }
                }
                var all: [(DecisionRecord, Bool)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == 20)
            #expect(results.filter(\.1).count == 1)
            let stored = try #require(try await store.decision(for: key(7)))
            #expect(results.allSatisfy { $0.0 == stored })
        }
    }

    @Test("markRetracted flags the decision and returns it; nil without one", arguments: StoreKind.tested)
    func markRetracted(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            #expect(try await store.markRetracted(key(1)) == nil)
            #expect(try await store.decision(for: key(1)) == nil)
            let original = record(key(1), everyDecision[0])
            _ = try await store.recordDecision(original)
            var expected = original
            expected.retracted = true
            #expect(try await store.markRetracted(key(1)) == expected)
            #expect(try await store.decision(for: key(1)) == expected)
            #expect(try await store.markRetracted(key(1)) == expected)
        }
    }

    @Test("storeIntent inserts if absent and returns the stored intent", arguments: StoreKind.tested)
    func storeIntentIfAbsent(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            #expect(try await store.intent(for: key(1)) == nil)
            let first = storedIntent(key(1), mode: .live, signed: signedOrder(1), salt: .max)
            #expect(try await store.storeIntent(first) == first)
            let second = storedIntent(key(1), salt: UInt256(7), createdAt: 2_000)
            #expect(try await store.storeIntent(second) == first)
            #expect(try await store.intent(for: key(1)) == first)
            #expect(try await store.intent(for: key(1))?.orderHash == signedOrder(1).orderHash)
            // A V1 payload, an empty signature and a state other than `created` are kept too.
            var other = storedIntent(
                key(2),
                signed: SignedOrder(
                    payload: .v1(
                        OrderV1(
                            salt: UInt256(1), maker: followed, signer: followed, tokenId: UInt256(5),
                            makerAmount: UInt256(1), takerAmount: UInt256(2), expiration: UInt256(3),
                            nonce: UInt256(4), feeRateBps: UInt256(100), side: .sell, signatureType: .eoa)),
                    signature: [], orderHash: Bytes32(1, 1, 1, 1)))
            other.status = .open
            other.matched = matched("1.5", "0.75", fee: "0.01", fromTarget: true)
            other.message = "resting"
            other.updatedAt = UnixTime(milliseconds: 1_500)
            #expect(try await store.storeIntent(other) == other)
            #expect(try await store.intent(for: key(2)) == other)
        }
    }

    @Test(
        "updateIntent: compare-and-set of the status, fills booked from the matched growth",
        arguments: StoreKind.tested)
    func updateIntentCAS(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            #expect(
                try await store.updateIntent(
                    key(1), expecting: [.created], to: .posting, matched: nil, message: nil,
                    at: UnixTime(milliseconds: 1)) == nil)
            let original = storedIntent(key(1), intent: orderIntent(shares: "20", price: "0.5"))
            _ = try await store.storeIntent(original)

            // Wrong expected status: nothing changes.
            #expect(
                try await store.updateIntent(
                    key(1), expecting: [.posting, .open], to: .matched, matched: matched("20", "10"),
                    message: "x",
                    at: UnixTime(milliseconds: 2_000)) == nil)
            #expect(try await store.intent(for: key(1)) == original)
            #expect(try await store.fills(account: .default, after: 0).isEmpty)

            // Claim: no fill.
            let claimed = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.created], to: .posting, matched: nil, message: nil,
                    at: UnixTime(milliseconds: 2_000)))
            #expect(claimed.fill == nil)
            #expect(claimed.intent.status == .posting)
            #expect(claimed.intent.updatedAt == UnixTime(milliseconds: 2_000))
            #expect(claimed.intent.message == nil)
            #expect(claimed.intent.matched == .zero)
            #expect(try await store.intent(for: key(1)) == claimed.intent)

            // Partly matched: the first fill, sequence 1.
            let open = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.posting], to: .open, matched: matched("8", "4", fee: "0.04"),
                    message: "accepted", at: UnixTime(milliseconds: 3_000)))
            let fill1 = try #require(open.fill)
            #expect(fill1.sequence == 1)
            #expect(fill1.key == key(1))
            #expect(fill1.mode == .paper)
            #expect(fill1.at == UnixTime(milliseconds: 3_000))
            #expect(!fill1.pricedFromTarget)
            #expect(
                fill1.fill
                    == LedgerFill(
                        tokenId: UInt256(1), market: marketA, side: .buy, shares: d("8"), collateral: d("4"),
                        fee: d("0.04")))
            #expect(open.intent.matched == matched("8", "4", fee: "0.04"))
            #expect(open.intent.message == "accepted")

            // More matched, no message: the increment is booked with sequence 2, the message is kept.
            let more = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.open], to: .open,
                    matched: matched("20", "10", fee: "0.1", fromTarget: true),
                    message: nil, at: UnixTime(milliseconds: 4_000)))
            let fill2 = try #require(more.fill)
            #expect(fill2.sequence == 2)
            #expect(fill2.pricedFromTarget)
            #expect(fill2.fill.shares == d("12"))
            #expect(fill2.fill.collateral == d("6"))
            #expect(fill2.fill.fee == d("0.06"))
            #expect(more.intent.message == "accepted")
            #expect(more.intent.matched == matched("20", "10", fee: "0.1", fromTarget: true))

            // No growth and shrinking totals book nothing and never shrink the stored totals.
            let same = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.open], to: .open, matched: matched("20", "11"), message: "same",
                    at: UnixTime(milliseconds: 5_000)))
            #expect(same.fill == nil)
            #expect(same.intent.matched == more.intent.matched)
            let shrink = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.open], to: .matched, matched: matched("5", "2"), message: nil,
                    at: UnixTime(milliseconds: 6_000)))
            #expect(shrink.fill == nil)
            #expect(shrink.intent.status == .matched)
            #expect(shrink.intent.message == "same")
            #expect(shrink.intent.matched == more.intent.matched)
            #expect(try await store.intent(for: key(1)) == shrink.intent)

            // A final status does not move again.
            #expect(
                try await store.updateIntent(
                    key(1), expecting: [.created, .posting, .open], to: .cancelled, matched: nil,
                    message: nil,
                    at: UnixTime(milliseconds: 7_000)) == nil)

            // Growth of shares with less collateral books a zero collateral increment (clamped).
            _ = try await store.storeIntent(
                storedIntent(key(2), intent: orderIntent(side: .sell, token: UInt256(2))))
            _ = try await store.updateIntent(
                key(2), expecting: [.created], to: .open, matched: matched("4", "3"), message: nil,
                at: UnixTime(milliseconds: 8_000))
            let clamped = try #require(
                try await store.updateIntent(
                    key(2), expecting: [.open], to: .matched, matched: matched("6", "2.5"), message: nil,
                    at: UnixTime(milliseconds: 9_000)))
            #expect(clamped.fill?.sequence == 4)
            #expect(clamped.fill?.fill.shares == d("2"))
            #expect(clamped.fill?.fill.collateral == .zero)
            #expect(clamped.fill?.fill.side == .sell)

            // Fills in order, after a sequence; other accounts have their own sequence.
            let fills = try await store.fills(account: .default, after: 0)
            #expect(fills.map(\.sequence) == [1, 2, 3, 4])
            #expect(fills[0] == fill1)
            #expect(fills[1] == fill2)
            #expect(try await store.fills(account: .default, after: 2).map(\.sequence) == [3, 4])
            #expect(try await store.fills(account: .default, after: 4).isEmpty)
            #expect(try await store.fills(account: alice, after: 0).isEmpty)
            _ = try await store.storeIntent(storedIntent(key(1, alice)))
            let aliceFill = try await store.updateIntent(
                key(1, alice), expecting: [.created], to: .matched, matched: matched("1", "0.5"),
                message: nil,
                at: UnixTime(milliseconds: 10_000))
            #expect(aliceFill?.fill?.sequence == 1)
            #expect(try await store.fills(account: alice, after: 0).map(\.key) == [key(1, alice)])
        }
    }

    @Test("updateIntent: of 20 concurrent claims exactly one succeeds", arguments: StoreKind.tested)
    func concurrentClaims(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            _ = try await store.storeIntent(storedIntent(key(1)))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        try await store.updateIntent(
                            key(1), expecting: [.created], to: .posting, matched: nil, message: "claim \(i)",
                            at: UnixTime(milliseconds: Int64(i))) != nil
                    }
                }
                var count = 0
                for try await won in group where won { count += 1 }
                return count
            }
            #expect(wins == 1)
            #expect(try await store.intent(for: key(1))?.status == .posting)
        }
    }

    @Test(
        "unresolvedIntents: the account's non-final intents updated before a time, oldest first",
        arguments: StoreKind.tested)
    func unresolved(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let created = storedIntent(key(1), createdAt: 100)
            _ = try await store.storeIntent(created)
            _ = try await store.storeIntent(storedIntent(key(2), createdAt: 50))
            let posting = try #require(
                try await store.updateIntent(
                    key(2), expecting: [.created], to: .posting, matched: nil, message: nil,
                    at: UnixTime(milliseconds: 200)))
            _ = try await store.storeIntent(storedIntent(key(3), createdAt: 10))
            let open = try #require(
                try await store.updateIntent(
                    key(3), expecting: [.created], to: .open, matched: nil, message: nil,
                    at: UnixTime(milliseconds: 300)))
            for (n, status) in [
                (4, IntentStatus.matched), (5, .unmatched), (6, .cancelled), (7, .rejected), (8, .notFound),
            ] {
                _ = try await store.storeIntent(storedIntent(key(UInt64(n)), createdAt: 1))
                _ = try await store.updateIntent(
                    key(UInt64(n)), expecting: [.created], to: status, matched: nil, message: nil,
                    at: UnixTime(milliseconds: 2))
            }
            _ = try await store.storeIntent(storedIntent(key(9, alice), createdAt: 1))

            let early = try await store.unresolvedIntents(
                account: .default, updatedBefore: UnixTime(milliseconds: 250))
            #expect(early == [posting.intent, created])
            let all = try await store.unresolvedIntents(
                account: .default, updatedBefore: UnixTime(milliseconds: 1_000))
            #expect(all == [open.intent, posting.intent, created])
            // `updatedBefore` is strict.
            #expect(
                try await store.unresolvedIntents(
                    account: .default, updatedBefore: UnixTime(milliseconds: 100)
                ).isEmpty)
            #expect(
                try await store.unresolvedIntents(account: alice, updatedBefore: UnixTime(milliseconds: 2))
                    .map(\.key)
                    == [key(9, alice)])
            #expect(
                try await store.unresolvedIntents(account: bob, updatedBefore: UnixTime(milliseconds: 2))
                    .isEmpty)
        }
    }

    @Test(
        "saveLedger keeps the newest snapshot; loadLedger returns positions, marks and PnL exactly",
        arguments: StoreKind.tested)
    func ledgerSnapshots(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            #expect(try await store.loadLedger(account: .default) == nil)
            let day = UTCDay(daysSinceEpoch: 20_000)
            let portfolio = Portfolio(ledger: Ledger(cash: d("1000"), day: day))
            let big = UInt256.max
            try portfolio.settle(
                nil,
                fill: LedgerFill(
                    tokenId: big, market: marketA, side: .buy, shares: d("30"), collateral: d("15.6"),
                    fee: d("0.156")), sequence: 1)
            try portfolio.settle(
                nil,
                fill: LedgerFill(
                    tokenId: UInt256(2), market: nil, side: .buy, shares: d("10"), collateral: d("3")),
                sequence: 2)
            portfolio.mark(big, price: d("0.61"))
            portfolio.mark(UInt256(99), price: d("0.123456"))
            portfolio.roll(to: UTCDay(daysSinceEpoch: 20_001))
            try portfolio.settle(
                nil,
                fill: LedgerFill(
                    tokenId: big, market: marketA, side: .sell, shares: d("7"), collateral: d("4.27"),
                    fee: d("0.0427")), sequence: 3)
            let snapshot = try #require(portfolio.snapshot)
            #expect(snapshot.throughFill == 3)
            #expect(snapshot.ledger.positions.count == 2)
            #expect(snapshot.ledger.marks.count == 2)
            #expect(!snapshot.ledger.realised.isZero)
            #expect(!snapshot.ledger.dayStartUnrealised.isZero)

            try await store.saveLedger(account: .default, snapshot)
            #expect(try await store.loadLedger(account: .default) == snapshot)
            #expect(try await store.loadLedger(account: alice) == nil)

            // An older snapshot does not replace it; an equal or newer one does.
            let older = LedgerSnapshot(ledger: Ledger(cash: d("1"), day: day), throughFill: 2)
            try await store.saveLedger(account: .default, older)
            #expect(try await store.loadLedger(account: .default) == snapshot)
            let equal = LedgerSnapshot(ledger: Ledger(cash: d("2"), day: day), throughFill: 3)
            try await store.saveLedger(account: .default, equal)
            #expect(try await store.loadLedger(account: .default) == equal)
            let newer = LedgerSnapshot(ledger: Ledger(cash: d("-3.000001"), day: day), throughFill: 4)
            try await store.saveLedger(account: .default, newer)
            #expect(try await store.loadLedger(account: .default) == newer)
            try await store.saveLedger(account: alice, older)
            #expect(try await store.loadLedger(account: alice) == older)
            #expect(try await store.loadLedger(account: .default) == newer)
        }
    }

    @Test("recordDailyPnL upserts one row per account and day", arguments: StoreKind.tested)
    func dailyPnL(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let day = UTCDay(daysSinceEpoch: 20_000)
            #expect(try await store.dailyPnL(account: .default, day: day) == nil)
            let first = DailyPnL(
                day: day, realised: d("-12.345678"), unrealisedAtStart: d("3"), unrealisedNow: d("0.000001"))
            try await store.recordDailyPnL(account: .default, first)
            #expect(try await store.dailyPnL(account: .default, day: day) == first)
            let second = DailyPnL(
                day: day, realised: d("1"), unrealisedAtStart: d("3"), unrealisedNow: d("-4.5"))
            try await store.recordDailyPnL(account: .default, second)
            #expect(try await store.dailyPnL(account: .default, day: day) == second)
            let next = DailyPnL(
                day: UTCDay(daysSinceEpoch: 20_001), realised: .zero, unrealisedAtStart: d("-4.5"),
                unrealisedNow: d("-4.5"))
            try await store.recordDailyPnL(account: .default, next)
            #expect(try await store.dailyPnL(account: .default, day: day) == second)
            #expect(try await store.dailyPnL(account: .default, day: next.day) == next)
            #expect(try await store.dailyPnL(account: alice, day: day) == nil)
        }
    }

    @Test(
        "target holdings: the fold of the live trades in chain order, clamped at zero; applied once per identity and position; a retracted trade applies again where it is mined",
        arguments: StoreKind.tested)
    func targetHoldings(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            func trade(
                _ n: UInt64, _ side: Side, _ shares: String, block: UInt64, wallet: Address = followed
            ) -> TargetTrade {
                var trade = targetTrade(n, side, shares, token: .max, wallet: wallet)
                trade.blockNumber = block
                return trade
            }
            func holding() async throws -> Fixed6 {
                try await store.targetHolding(wallet: followed, tokenId: .max)
            }
            #expect(try await holding() == .zero)
            #expect(try await store.applyTargetTrade(trade(1, .buy, "10", block: 10)).sharesBefore == .zero)
            // Again: the holding before it as recorded the first time, nothing applied twice.
            #expect(try await store.applyTargetTrade(trade(1, .buy, "10", block: 10)).sharesBefore == .zero)
            #expect(
                try await store.applyTargetTrade(trade(2, .buy, "5.5", block: 11)).sharesBefore == d("10"))
            // A sell of more than held clamps at zero.
            #expect(
                try await store.applyTargetTrade(trade(3, .sell, "30", block: 12)).sharesBefore == d("15.5"))
            #expect(try await store.applyTargetTrade(trade(4, .buy, "1", block: 13)).sharesBefore == .zero)
            #expect(try await holding() == d("1"))
            // Undoing the sell folds the rest again (10 + 5.5 + 1), once.
            #expect(try await store.retractTargetTrade(identity(3)))
            #expect(!(try await store.retractTargetTrade(identity(3))))
            #expect(!(try await store.retractTargetTrade(identity(99))))
            #expect(try await holding() == d("16.5"))
            // Mined again in a later block: applied again, once, there (it sells all 16.5).
            #expect(
                try await store.applyTargetTrade(trade(3, .sell, "30", block: 20)).sharesBefore == d("16.5"))
            #expect(
                try await store.applyTargetTrade(trade(3, .sell, "30", block: 20)).sharesBefore == d("16.5"))
            #expect(try await holding() == .zero)
            // Delivered at another position with no retraction seen: it moves there.
            #expect(
                try await store.applyTargetTrade(trade(3, .sell, "30", block: 12)).sharesBefore == d("15.5"))
            #expect(try await holding() == d("1"))
            // A trade mined below live ones: the holding and the holding before each later trade
            // are folded again (20 + 10 + 5.5 - 30 + 1).
            #expect(try await store.applyTargetTrade(trade(5, .buy, "20", block: 5)).sharesBefore == .zero)
            #expect(try await holding() == d("6.5"))
            #expect(
                try await store.applyTargetTrade(trade(3, .sell, "30", block: 12)).sharesBefore == d("35.5"))
            // Undoing a buy below a sell that emptied the holding: the sell now takes less (5.5 +
            // 20 - 30 clamps at zero), whatever order the two arrived in.
            #expect(try await store.retractTargetTrade(identity(1)))
            #expect(try await holding() == d("1"))
            #expect(try await store.retractTargetTrade(identity(3)))
            #expect(try await holding() == d("26.5"))
            // Other wallets and tokens are tracked apart.
            #expect(
                try await store.applyTargetTrade(trade(9, .buy, "3", block: 30, wallet: otherFollowed))
                    .sharesBefore == .zero)
            #expect(
                try await store.applyTargetTrade(
                    TargetTrade(
                        identity: identity(10), wallet: followed, tokenId: UInt256(1), side: .buy,
                        shares: d("1"), blockNumber: 30, logIndex: 0)
                ).sharesBefore == .zero)
            #expect(
                try await store.applyTargetTrade(trade(11, .buy, "1", block: 30)).sharesBefore == d("26.5"))
            #expect(try await store.targetHolding(wallet: otherFollowed, tokenId: .max) == d("3"))
            #expect(try await store.targetHolding(wallet: followed, tokenId: UInt256(1)) == d("1"))
        }
    }

    @Test(
        "target holdings do not depend on the order deliveries, moves and retractions arrive in",
        arguments: StoreKind.tested)
    func targetHoldingsOrderFree(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            // A reproducible sequence (Knuth's MMIX linear congruential generator).
            var state: UInt64 = 23
            func random(_ bound: Int) -> Int {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((state >> 33) % UInt64(bound))
            }
            for round in 0..<6 {
                let token = UInt256(UInt64(500 + round))
                // Every position at most once (ties keep the order of application, which is not
                // what this test is about).
                var positions: [Int] = Array(0..<240)
                func place(_ trade: inout TargetTrade) {
                    let position = positions.remove(at: random(positions.count))
                    trade.blockNumber = UInt64(100 + position / 4)
                    trade.logIndex = UInt64(position % 4)
                }
                // A chain's worth of one wallet's trades in one token: some moved (removed by a
                // reorg and mined again, higher or lower), some removed for good.
                var finals: [TargetTrade] = []
                var events: [(trade: TargetTrade, retract: Bool)] = []
                for index in 0..<40 {
                    var trade = targetTrade(
                        UInt64(round * 1_000 + index), random(3) == 0 ? .sell : .buy, "\(1 + random(40))",
                        token: token)
                    place(&trade)
                    events.append((trade, false))
                    if random(5) == 0 {
                        events.append((trade, true))
                        place(&trade)
                        events.append((trade, false))
                    }
                    if random(7) == 0 {
                        events.append((trade, true))
                    } else {
                        finals.append(trade)
                    }
                }
                // Delivered in a shuffled order that keeps each trade's own events in order; after
                // each one, the holding is the fold of the trades live then.
                var queues = Dictionary(
                    grouping: events.indices, by: { events[$0].trade.identity.bytes.bytes })
                var live: [TradeIdentity: TargetTrade] = [:]
                while !queues.isEmpty {
                    let keys = queues.keys.sorted { $0.lexicographicallyPrecedes($1) }
                    let key = keys[random(keys.count)]
                    let event = events[queues[key]!.removeFirst()]
                    if queues[key]!.isEmpty { queues[key] = nil }
                    if event.retract {
                        _ = try await store.retractTargetTrade(event.trade.identity)
                        live[event.trade.identity] = nil
                    } else {
                        _ = try await store.applyTargetTrade(event.trade)
                        live[event.trade.identity] = event.trade
                    }
                    let now = live.values.sorted { $0.position < $1.position }
                    #expect(
                        try await store.targetHolding(wallet: followed, tokenId: token)
                            == TargetHoldingFold.fold(now.map { ($0.side, $0.shares) }).holding,
                        "round \(round), after \(event.retract ? "retracting" : "applying") \(event.trade.identity)"
                    )
                }
                let chain = finals.sorted { $0.position < $1.position }
                let folded = TargetHoldingFold.fold(chain.map { ($0.side, $0.shares) })
                #expect(
                    try await store.targetHolding(wallet: followed, tokenId: token) == folded.holding,
                    "round \(round)")
                // The holding before each live trade is the fold up to it (a delivery again returns it).
                for (trade, step) in zip(chain, folded.steps) {
                    #expect(
                        try await store.applyTargetTrade(trade).sharesBefore == step.before, "round \(round)")
                }
            }
        }
    }

    @Test(
        "beginDecision: the recorded decision without applying anything; else the trade applied once, with the intent",
        arguments: StoreKind.tested)
    func beginDecision(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            func trade(_ n: UInt64, _ side: Side, _ shares: String) -> TargetTrade {
                targetTrade(n, side, shares, token: UInt256(77))
            }
            // Undecided, no intent: applied, the holding before it returned; the second time (the
            // trade delivered twice) the same holding, and nothing applied again.
            for _ in 0..<2 {
                #expect(
                    try await store.beginDecision(key(1), trade: summary(1), applying: trade(1, .buy, "10"))
                        == .undecided(holding: TargetHolding(sharesBefore: .zero), intent: nil))
            }
            // With an intent stored by an earlier attempt: returned with the holding.
            let intent = storedIntent(key(2))
            _ = try await store.storeIntent(intent)
            #expect(
                try await store.beginDecision(key(2), trade: summary(2), applying: trade(2, .sell, "4"))
                    == .undecided(holding: TargetHolding(sharesBefore: d("10")), intent: intent))
            // Decided: the decision, and the trade is not applied.
            let decided = record(key(3), .skipped(.noLiquidity(side: .buy)))
            _ = try await store.recordDecision(decided)
            #expect(
                try await store.beginDecision(key(3), trade: summary(3), applying: trade(3, .buy, "100"))
                    == .decided(decided))
            #expect(try await store.applyTargetTrade(trade(4, .buy, "1")).sharesBefore == d("6"))
        }
    }

    @Test(
        "concludeIntent: the compare-and-set, the fill and the decision made of the updated intent, together; nothing on a mismatch",
        arguments: StoreKind.tested)
    func concludeIntent(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let decide: @Sendable (StoredIntent) -> DecisionRecord = { intent in
                DecisionRecord(
                    key: intent.key, trade: intent.trade,
                    decision: intent.status == .rejected
                        ? .failed(.exchangeRejected(intent.message ?? ""))
                        : .copied(
                            CopiedOrder(
                                intent: intent.intent, mode: intent.mode, orderHash: intent.orderHash,
                                fill: intent.matched.summary)),
                    decidedAt: UnixTime(milliseconds: 7_000))
            }
            var claimed = storedIntent(key(1), mode: .live, signed: signedOrder(1))
            claimed.status = .posting
            #expect(
                try await store.concludeIntent(
                    claimed, expecting: [.posting], to: .matched, matched: matched("20", "10"), message: nil,
                    at: UnixTime(milliseconds: 3_000), decide: decide) == nil)
            _ = try await store.storeIntent(claimed)

            // Wrong expected status: no update, no fill, no decision.
            #expect(
                try await store.concludeIntent(
                    claimed, expecting: [.created], to: .matched, matched: matched("20", "10"), message: nil,
                    at: UnixTime(milliseconds: 3_000), decide: decide) == nil)
            #expect(try await store.intent(for: key(1)) == claimed)
            #expect(try await store.decision(for: key(1)) == nil)
            #expect(try await store.fills(account: .default, after: 0).isEmpty)

            let conclusion = try #require(
                try await store.concludeIntent(
                    claimed, expecting: [.posting, .open], to: .matched, matched: matched("20", "10"),
                    message: nil, at: UnixTime(milliseconds: 3_000), decide: decide))
            #expect(conclusion.update.intent.status == .matched)
            #expect(conclusion.update.intent.matched == matched("20", "10"))
            #expect(conclusion.update.fill?.sequence == 1)
            #expect(conclusion.update.fill?.fill.shares == d("20"))
            #expect(conclusion.inserted)
            #expect(conclusion.decision == decide(conclusion.update.intent))
            #expect(try await store.intent(for: key(1)) == conclusion.update.intent)
            #expect(try await store.decision(for: key(1)) == conclusion.decision)
            #expect(try await store.fills(account: .default, after: 0) == [conclusion.update.fill!])

            // A decision recorded first (another executor) stays; the intent still moves.
            var other = storedIntent(key(2), mode: .live, signed: signedOrder(2))
            other.status = .posting
            _ = try await store.storeIntent(other)
            let first = record(key(2), .failed(.unfilled))
            _ = try await store.recordDecision(first)
            let second = try #require(
                try await store.concludeIntent(
                    other, expecting: [.posting], to: .rejected, matched: nil, message: "not enough balance",
                    at: UnixTime(milliseconds: 4_000), decide: decide))
            #expect(!second.inserted)
            #expect(second.decision == first)
            #expect(second.update.fill == nil)
            #expect(try await store.intent(for: key(2))?.status == .rejected)
            #expect(try await store.intent(for: key(2))?.message == "not enough balance")

            // The status compared and the totals grown are the stored ones, not those of the intent
            // passed (as claimed, before an update that made it `open` with 5 shares matched).
            var resting = storedIntent(key(3), mode: .live, signed: signedOrder(3))
            resting.status = .posting
            _ = try await store.storeIntent(resting)
            let partial = try #require(
                try await store.updateIntent(
                    key(3), expecting: [.posting], to: .open, matched: matched("5", "2.5"),
                    message: "resting",
                    at: UnixTime(milliseconds: 5_000)))
            #expect(
                try await store.concludeIntent(
                    resting, expecting: [.posting], to: .matched, matched: matched("20", "10"), message: nil,
                    at: UnixTime(milliseconds: 6_000), decide: decide) == nil)
            let grown = try #require(
                try await store.concludeIntent(
                    resting, expecting: [.open], to: .matched, matched: matched("20", "10"), message: nil,
                    at: UnixTime(milliseconds: 6_000), decide: decide))
            #expect(grown.update.fill?.fill.shares == d("15"))
            #expect(grown.update.fill?.sequence == (partial.fill?.sequence ?? 0) + 1)
            #expect(grown.update.intent.message == "resting")
            #expect(grown.update.intent.signedOrder == resting.signedOrder)
            #expect(try await store.intent(for: key(3)) == grown.update.intent)
        }
    }

    @Test("every decision shape round-trips through the store exactly", arguments: StoreKind.tested)
    func decisionShapes(kind: StoreKind) async throws {
        // Every skip rule and failure name is covered.
        let skipRules = Set(
            everyDecision.compactMap { decision -> SkipRule? in
                if case .skipped(let reason) = decision { return reason.rule }
                return nil
            })
        #expect(skipRules == Set(SkipRule.allCases))
        let failures = Set(
            everyDecision.compactMap { decision -> String? in
                if case .failed(let reason) = decision { return reason.name }
                return nil
            })
        #expect(failures.count == 8)
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            var records: [DecisionRecord] = []
            for (n, decision) in everyDecision.enumerated() {
                var original = record(
                    key(UInt64(n), n % 2 == 0 ? .default : alice), decision, at: Int64(n) - 5)
                // Extreme trade values: the widest price and amounts, a token id of 256 bits.
                original.trade.price = Price(whole: .max, micros: 999_999)
                original.trade.shares = FixedPoint6(units: UInt256.max)
                original.trade.tokenId = .max
                original.trade.side = n % 3 == 0 ? .sell : .buy
                let result = try await store.recordDecision(original)
                #expect(result.inserted)
                records.append(original)
            }
            for original in records {
                #expect(try await store.decision(for: original.key) == original)
            }
        }
    }
}

// MARK: - SQLite only

@Suite(
    "SQLiteStore as CopyStateStore: durability, migrations, several connections; reads for the CLI (SQLite and PostgreSQL)"
)
struct SQLiteCopyStateTests {
    @Test("everything survives closing and reopening the file")
    func reopen() async throws {
        let directory = TemporaryDirectory()
        let day = UTCDay(daysSinceEpoch: 20_000)
        let decision = record(key(1), everyDecision[0])
        let pnl = DailyPnL(day: day, realised: d("1.5"), unrealisedAtStart: d("-2"), unrealisedNow: d("0.25"))
        var ledger = Ledger(cash: d("100"), day: day)
        try ledger.apply(
            LedgerFill(tokenId: UInt256(1), market: marketA, side: .buy, shares: d("10"), collateral: d("5")))
        ledger.mark(UInt256(1), price: d("0.6"))
        let snapshot = LedgerSnapshot(ledger: ledger, throughFill: 1)
        let update: IntentUpdate
        do {
            let store = try SQLiteStore(path: directory.database)
            _ = try await store.recordDecision(decision)
            _ = try await store.markRetracted(key(1))
            _ = try await store.storeIntent(storedIntent(key(1), mode: .live, signed: signedOrder(1)))
            update = try #require(
                try await store.updateIntent(
                    key(1), expecting: [.created], to: .open, matched: matched("10", "5"), message: "ok",
                    at: UnixTime(milliseconds: 5_000)))
            try await store.saveLedger(account: .default, snapshot)
            try await store.recordDailyPnL(account: .default, pnl)
            _ = try await store.applyTargetTrade(
                TargetTrade(
                    identity: identity(1), wallet: followed, tokenId: UInt256(1), side: .buy, shares: d("7")))
        }
        let store = try SQLiteStore(path: directory.database)
        var retracted = decision
        retracted.retracted = true
        #expect(try await store.decision(for: key(1)) == retracted)
        #expect(try await store.intent(for: key(1)) == update.intent)
        #expect(try await store.fills(account: .default, after: 0) == [try #require(update.fill)])
        #expect(try await store.loadLedger(account: .default) == snapshot)
        #expect(try await store.dailyPnL(account: .default, day: day) == pnl)
        #expect(
            try await store.applyTargetTrade(
                TargetTrade(
                    identity: identity(1), wallet: followed, tokenId: UInt256(1), side: .buy, shares: d("7"))
            ).sharesBefore == .zero)
        #expect(
            try await store.applyTargetTrade(
                TargetTrade(
                    identity: identity(2), wallet: followed, tokenId: UInt256(1), side: .buy, shares: d("1"))
            ).sharesBefore == d("7"))
        // The sequence continues.
        _ = try await store.storeIntent(storedIntent(key(2)))
        let next = try await store.updateIntent(
            key(2), expecting: [.created], to: .matched, matched: matched("1", "1"), message: nil,
            at: UnixTime(milliseconds: 6_000))
        #expect(next?.fill?.sequence == 2)
        #expect(!(try await store.recordDecision(record(key(1), .failed(.unfilled))).inserted))
    }

    @Test("the migrator upgrades a v1 database, keeping its data, and is idempotent")
    func migrateFromV1() async throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true)
        do {
            let pool = try DatabasePool(path: directory.database)
            try SQLiteStore.migrator.migrate(pool, upTo: "v1-chain")
            try await pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO chain_cursor (stream, block_number, block_hash) VALUES ('polygon', 7, x'00')"
                )
            }
            let applied = try await pool.read { try SQLiteStore.migrator.appliedIdentifiers($0) }
            #expect(applied == ["v1-chain"])
            try pool.close()
        }
        for _ in 0..<2 {
            let store = try SQLiteStore(path: directory.database)
            let (applied, cursors) = try await store.pool.read { db in
                (
                    try SQLiteStore.migrator.appliedIdentifiers(db),
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chain_cursor WHERE block_number = 7")
                )
            }
            #expect(
                Set(applied) == [
                    "v1-chain", "v2-copy", "v3-cluster", "v4-target-positions", "v5-cluster-fencing",
                ])
            #expect(cursors == 1)
            _ = try await store.recordDecision(record(key(1), .failed(.unfilled)))
            #expect(try await store.decision(for: key(1))?.decision == .failed(.unfilled))
        }
        // Reopening a current database is a no-op too.
        let reopened = try SQLiteStore(path: directory.database)
        #expect(try await reopened.decisionCounts(account: .default).failed == 1)
    }

    @Test("two connections to one file (as two processes): one decision, one claim, unique fill sequences")
    func twoConnections() async throws {
        let directory = TemporaryDirectory()
        let stores = [try SQLiteStore(path: directory.database), try SQLiteStore(path: directory.database)]
        for n in 1...10 { _ = try await stores[0].storeIntent(storedIntent(key(UInt64(n)))) }
        _ = try await stores[1].storeIntent(storedIntent(key(50)))
        let (inserted, claims, sequences) = try await withThrowingTaskGroup(of: (Int, Int, Int64?).self) {
            group in
            for i in 0..<20 {
                let store = stores[i % 2]
                group.addTask {
                    let decision = try await store.recordDecision(
                        record(key(99), .skipped(.staleTrade(ageSeconds: Int64(i), limitSeconds: 1))))
                    let claim = try await store.updateIntent(
                        key(50), expecting: [.created], to: .posting, matched: nil, message: nil,
                        at: UnixTime(milliseconds: Int64(i)))
                    // Intents 1...10 grow twice each: 20 fills, booked from both connections.
                    let n = UInt64(i / 2 + 1)
                    let fill = try await store.updateIntent(
                        key(n), expecting: Set(IntentStatus.allCases), to: .open,
                        matched: matched(i % 2 == 0 ? "1" : "2", "1"), message: nil,
                        at: UnixTime(milliseconds: 1))
                    return (decision.inserted ? 1 : 0, claim == nil ? 0 : 1, fill?.fill?.sequence)
                }
            }
            var totals = (0, 0, [Int64]())
            for try await (i, c, s) in group {
                totals.0 += i
                totals.1 += c
                if let s { totals.2.append(s) }
            }
            return totals
        }
        #expect(inserted == 1)
        #expect(claims == 1)
        let fills = try await stores[1].fills(account: .default, after: 0)
        #expect(fills.map(\.sequence) == Array(1...Int64(fills.count)))
        #expect(sequences.sorted() == fills.map(\.sequence))
        // Whatever the order, each intent's fills add up to its final totals (2 shares).
        for n in 1...10 {
            let total = fills.filter { $0.key == key(UInt64(n)) }.reduce(Fixed6.zero) { $0 + $1.fill.shares }
            #expect(total == d("2"))
        }
    }

    @Test(
        "decisions in recording order with paging, counts by outcome, intents by status, accounts",
        arguments: StoreKind.sql)
    func readsForTheCLI(kind: StoreKind) async throws {
        try await withSQLStore(kind) { (store: any CopyBotStore) async throws in
            try await Self.readsForTheCLI(store)
        }
    }

    static func readsForTheCLI(_ store: any CopyBotStore) async throws {
        // Recorded in an order unrelated to the keys.
        let order: [UInt64] = [5, 1, 9, 3, 7]
        var expected: [DecisionRecord] = []
        for (i, n) in order.enumerated() {
            let decision: CopyDecision =
                switch i {
                case 0, 1: everyDecision[0]
                case 2: .skipped(.retracted)
                case 3: .failed(.unfilled)
                default: .skipped(.noPosition(token: UInt256(1)))
                }
            let r = record(key(n), decision)
            _ = try await store.recordDecision(r)
            expected.append(r)
        }
        _ = try await store.recordDecision(record(key(1, alice), .failed(.unfilled)))
        _ = try await store.markRetracted(key(5))
        _ = try await store.markRetracted(key(7))
        expected[0].retracted = true
        expected[4].retracted = true

        #expect(try await store.decisions(account: .default, limit: nil, afterRowID: nil) == expected)
        let entries = try await store.decisionEntries(account: .default, limit: 2, afterRowID: nil)
        #expect(entries.map(\.record) == Array(expected[0..<2]))
        let rest = try await store.decisionEntries(
            account: .default, limit: nil, afterRowID: entries.last?.rowID)
        #expect(rest.map(\.record) == Array(expected[2...]))
        #expect(try await store.decisions(account: .default, limit: 0, afterRowID: nil).isEmpty)
        #expect(try await store.decisions(account: bob, limit: nil, afterRowID: nil).isEmpty)
        let latest = try await store.latestDecisionEntries(account: .default, limit: 2)
        #expect(latest.map(\.record) == Array(expected[3...]), "the last two, oldest first")
        let failed = try await store.latestDecisionEntries(account: .default, limit: 5, kind: "failed")
        #expect(failed.map(\.record) == [expected[3]])
        #expect(try await store.latestDecisionEntries(account: .default, limit: 0).isEmpty)

        let counts = try await store.decisionCounts(account: .default)
        #expect(counts == DecisionCounts(copied: 2, skipped: 2, failed: 1, retractedAfterCopy: 1))
        #expect(counts.total == 5)
        #expect(
            try await store.decisionCounts(account: alice)
                == DecisionCounts(copied: 0, skipped: 0, failed: 1, retractedAfterCopy: 0))

        _ = try await store.storeIntent(storedIntent(key(1), createdAt: 30))
        _ = try await store.storeIntent(storedIntent(key(2), createdAt: 10))
        _ = try await store.storeIntent(storedIntent(key(3), createdAt: 20))
        _ = try await store.updateIntent(
            key(2), expecting: [.created], to: .matched, matched: nil, message: nil,
            at: UnixTime(milliseconds: 40))
        _ = try await store.storeIntent(storedIntent(key(4, bob)))
        #expect(
            try await store.intents(account: .default, statuses: nil).map(\.key) == [key(2), key(3), key(1)])
        #expect(
            try await store.intents(account: .default, statuses: [.created]).map(\.key) == [key(3), key(1)])
        #expect(
            try await store.intents(account: .default, statuses: [.matched, .open]).map(\.status) == [
                .matched
            ])
        #expect(try await store.intents(account: .default, statuses: []).isEmpty)
        #expect(try await store.accounts() == [alice, bob, .default])
    }
}
