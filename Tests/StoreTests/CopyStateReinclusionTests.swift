import CopyEngine
import EVM
import Foundation
import Polymarket
import Synchronization
import Testing

@testable import Store

/// The summary of trade `n` (``summary(_:shares:price:)``) as delivered again after a reorg: mined
/// again in block `block` at `logIndex`.
func summary(_ n: UInt64, minedAgainIn block: UInt64, logIndex: UInt64) -> TradeSummary {
    var moved = summary(n)
    moved.blockNumber = block
    moved.logIndex = logIndex
    return moved
}

/// `record` at the position of `trade` and not flagged retracted: what including it again makes of it.
func included(_ record: DecisionRecord, at trade: TradeSummary) -> DecisionRecord {
    var included = record
    included.trade = record.trade.moved(to: trade)
    included.retracted = false
    return included
}

/// The tracked holding of the followed wallet in token 77.
func holding(_ store: any CopyStateStore) async throws -> Fixed6 {
    try await store.targetHolding(wallet: followed, tokenId: CopyStateReinclusionTests.token)
}

@Suite("CopyStateStore conformance: a trade a reorg removed and the chain mined again")
struct CopyStateReinclusionTests {
    /// The token of the followed wallet's trades here.
    static let token = UInt256(77)

    /// Trade `n` of the followed wallet in ``token``.
    func target(_ n: UInt64, _ side: Side = .buy, _ shares: String = "10") -> TargetTrade {
        targetTrade(n, side, shares, token: Self.token)
    }

    @Test(
        "a decided trade retracted and delivered again: reinstated at its new position, the holding restored once; again after another retraction",
        arguments: StoreKind.tested)
    func reinstated(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let copied = record(key(1), everyDecision[0])
            #expect(
                try await store.beginDecision(key(1), trade: summary(1), applying: target(1))
                    == .undecided(holding: TargetHolding(sharesBefore: .zero), intent: nil))
            _ = try await store.recordDecision(copied)
            #expect(try await holding(store) == d("10"))

            // The reorg: the trade taken off the holding (once), the decision flagged.
            #expect(try await store.retractTargetTrade(identity(1)))
            #expect(!(try await store.retractTargetTrade(identity(1))))
            _ = try await store.markRetracted(key(1))
            #expect(try await holding(store) == .zero)

            // Mined again in block 150 at log 3: the decision reinstated there, the trade applied
            // again.
            let first = summary(1, minedAgainIn: 150, logIndex: 3)
            let reinstated = included(copied, at: first)
            #expect(reinstated.trade.blockNumber == 150 && reinstated.trade.logIndex == 3)
            #expect(
                try await store.beginDecision(key(1), trade: first, applying: target(1))
                    == .reinstated(reinstated))
            #expect(try await store.decision(for: key(1)) == reinstated)
            #expect(try await holding(store) == d("10"))
            // Delivered again (its acknowledgement lost in a crash): nothing changes.
            #expect(
                try await store.beginDecision(key(1), trade: first, applying: target(1))
                    == .decided(reinstated))
            #expect(try await holding(store) == d("10"))

            // Retracted again, the wallet buys 4 more meanwhile, and the trade is mined again
            // lower (a re-inclusion need not be higher): applied again once, to the holding then.
            #expect(try await store.retractTargetTrade(identity(1)))
            _ = try await store.markRetracted(key(1))
            #expect(try await store.applyTargetTrade(target(2, .buy, "4")).sharesBefore == .zero)
            let second = summary(1, minedAgainIn: 149, logIndex: 0)
            #expect(
                try await store.beginDecision(key(1), trade: second, applying: target(1))
                    == .reinstated(included(copied, at: second)))
            #expect(try await holding(store) == d("14"))

            // Another account's decision of the same trade has its own flag; the followed wallet's
            // holding, shared, is not applied again for it.
            let forAlice = record(key(1, alice), .failed(.unfilled))
            _ = try await store.recordDecision(forAlice)
            _ = try await store.markRetracted(key(1, alice))
            #expect(
                try await store.beginDecision(key(1, alice), trade: second, applying: target(1))
                    == .reinstated(included(forAlice, at: second)))
            #expect(try await holding(store) == d("14"))
            #expect(try await store.decision(for: key(1)) == included(copied, at: second))
        }
    }

    @Test(
        "a trade retracted before it was decided on its merits is reopened when delivered again; never with an intent",
        arguments: StoreKind.tested)
    func reopened(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            // The retraction came first (the trade was never delivered here): nothing to take off,
            // the retraction's skip recorded and flagged.
            #expect(!(try await store.retractTargetTrade(identity(1))))
            _ = try await store.recordDecision(record(key(1), .skipped(.retracted)))
            _ = try await store.markRetracted(key(1))
            let minedAgain = summary(1, minedAgainIn: 150, logIndex: 3)
            #expect(
                try await store.beginDecision(key(1), trade: minedAgain, applying: target(1))
                    == .reopened(holding: TargetHolding(sharesBefore: .zero)))
            #expect(try await store.decision(for: key(1)) == nil)
            #expect(try await holding(store) == d("10"))
            // Delivered again before it is decided (a crash): undecided, applied once.
            #expect(
                try await store.beginDecision(key(1), trade: minedAgain, applying: target(1))
                    == .undecided(holding: TargetHolding(sharesBefore: .zero), intent: nil))
            #expect(try await holding(store) == d("10"))
            // Decided now (copied), retracted and mined again: reinstated, not reopened.
            let copied = DecisionRecord(
                key: key(1), trade: minedAgain, decision: everyDecision[1],
                decidedAt: UnixTime(milliseconds: 9))
            #expect(try await store.recordDecision(copied).inserted)
            #expect(try await store.retractTargetTrade(identity(1)))
            _ = try await store.markRetracted(key(1))
            let later = summary(1, minedAgainIn: 155, logIndex: 1)
            #expect(
                try await store.beginDecision(key(1), trade: later, applying: target(1))
                    == .reinstated(included(copied, at: later)))
            #expect(try await holding(store) == d("10"))

            // With an intent stored (an order may exist): the skip is reinstated as it is.
            _ = try await store.storeIntent(storedIntent(key(2)))
            let skip = record(key(2), .skipped(.retracted))
            _ = try await store.recordDecision(skip)
            _ = try await store.markRetracted(key(2))
            let atTwo = summary(2, minedAgainIn: 160, logIndex: 2)
            #expect(
                try await store.beginDecision(key(2), trade: atTwo, applying: target(2, .buy, "1"))
                    == .reinstated(included(skip, at: atTwo)))
            #expect(try await store.decision(for: key(2))?.decision == .skipped(.retracted))

            // The skip recorded but not flagged yet (a crash between the two writes of the
            // retraction's handling): reopened too.
            _ = try await store.recordDecision(record(key(3), .skipped(.retracted)))
            #expect(
                try await store.beginDecision(key(3), trade: summary(3), applying: target(3, .sell, "2"))
                    == .reopened(holding: TargetHolding(sharesBefore: d("10"))))
            #expect(try await holding(store) == d("8"))
            // A decision of another kind is never reopened.
            let failed = record(key(4), .failed(.unfilled))
            _ = try await store.recordDecision(failed)
            _ = try await store.markRetracted(key(4))
            #expect(
                try await store.beginDecision(key(4), trade: summary(4), applying: target(4))
                    == .reinstated(included(failed, at: summary(4))))
        }
    }

    @Test(
        "a retraction whose handling was lost (the trade off the holding, the decision not flagged), then the trade mined again: applied again once, the decision and an intent moved",
        arguments: StoreKind.tested)
    func halfRetracted(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let copied = record(key(1), everyDecision[0])
            _ = try await store.beginDecision(key(1), trade: summary(1), applying: target(1))
            _ = try await store.recordDecision(copied)
            #expect(try await store.retractTargetTrade(identity(1)))
            #expect(try await holding(store) == .zero)
            let minedAgain = summary(1, minedAgainIn: 150, logIndex: 3)
            #expect(
                try await store.beginDecision(key(1), trade: minedAgain, applying: target(1))
                    == .decided(included(copied, at: minedAgain)))
            #expect(try await holding(store) == d("10"))

            // Retracted while its order's outcome was unknown (an intent, no decision), mined
            // again: the intent moves with the trade, so the decision made of it is there too.
            #expect(
                try await store.beginDecision(key(2), trade: summary(2), applying: target(2, .sell, "4"))
                    == .undecided(holding: TargetHolding(sharesBefore: d("10")), intent: nil))
            let intent = storedIntent(key(2))
            _ = try await store.storeIntent(intent)
            #expect(try await store.retractTargetTrade(identity(2)))
            #expect(try await holding(store) == d("10"))
            let atTwo = summary(2, minedAgainIn: 170, logIndex: 9)
            var moved = intent
            moved.trade = intent.trade.moved(to: atTwo)
            #expect(
                try await store.beginDecision(key(2), trade: atTwo, applying: target(2, .sell, "4"))
                    == .undecided(holding: TargetHolding(sharesBefore: d("10")), intent: moved))
            #expect(try await store.intent(for: key(2)) == moved)
            #expect(try await holding(store) == d("6"))
        }
    }

    @Test(
        "markIncluded clears the flag and moves the decision, nothing else; nil without one",
        arguments: StoreKind.tested)
    func markIncluded(kind: StoreKind) async throws {
        try await withStore(kind) { (store: any CopyStateStore) async throws in
            let minedAgain = summary(1, minedAgainIn: 150, logIndex: 3)
            #expect(try await store.markIncluded(key(1), at: minedAgain) == nil)
            #expect(try await store.decision(for: key(1)) == nil)
            let original = record(key(1), .failed(.invalidTrade("zero shares")))
            _ = try await store.recordDecision(original)
            _ = try await store.markRetracted(key(1))
            let expected = included(original, at: minedAgain)
            #expect(try await store.markIncluded(key(1), at: minedAgain) == expected)
            #expect(try await store.decision(for: key(1)) == expected)
            #expect(try await store.markIncluded(key(1), at: minedAgain) == expected)
            #expect(try await store.markIncluded(key(1, alice), at: minedAgain) == nil)
        }
    }

    @Test(
        "each step of a retraction and a re-inclusion survives a restart; taken again after it, it changes nothing",
        arguments: StoreKind.sql)
    func acrossRestarts(kind: StoreKind) async throws {
        try await withReopenableStore(kind) { open in
            let copied = record(key(1), everyDecision[0])
            var store = try await open()
            _ = try await store.beginDecision(key(1), trade: summary(1), applying: target(1))
            _ = try await store.recordDecision(copied)
            // The retraction's first step, then a crash before its handling.
            #expect(try await store.retractTargetTrade(identity(1)))
            store = try await open()
            // Delivered again after the restart: its first step finds it done, its handling flags.
            #expect(!(try await store.retractTargetTrade(identity(1))))
            _ = try await store.markRetracted(key(1))
            #expect(try await holding(store) == .zero)
            store = try await open()
            // Mined again, then a crash before the acknowledgement: delivered again after it.
            let minedAgain = summary(1, minedAgainIn: 150, logIndex: 3)
            #expect(
                try await store.beginDecision(key(1), trade: minedAgain, applying: target(1))
                    == .reinstated(included(copied, at: minedAgain)))
            store = try await open()
            #expect(
                try await store.beginDecision(key(1), trade: minedAgain, applying: target(1))
                    == .decided(included(copied, at: minedAgain)))
            #expect(try await holding(store) == d("10"))
            #expect(try await store.decision(for: key(1)) == included(copied, at: minedAgain))
        }
    }
}

/// Runs `body` with a way to open the same SQL database of `kind` again, as a restarted process
/// does (every store opened is closed at the end).
func withReopenableStore(
    _ kind: StoreKind,
    _ body: (_ open: @escaping @Sendable () async throws -> any CopyStateStore) async throws -> Void
) async throws {
    switch kind {
    case .memory:
        Issue.record("not an SQL store")
    case .sqlite:
        let directory = TemporaryDirectory()
        let path = directory.database
        try await body { try SQLiteStore(path: path) }
        withExtendedLifetime(directory) {}
    case .postgres:
        try await PostgresTestServer.withSchema { configuration in
            let opened = OpenedStores()
            do {
                try await body {
                    let store = try await PostgresStore(
                        configuration: configuration, logger: PostgresTestServer.logger)
                    opened.stores.withLock { $0.append(store) }
                    return store
                }
            } catch {
                await opened.shutdown()
                throw error
            }
            await opened.shutdown()
        }
    }
}

/// The PostgreSQL stores a test opened, to shut down at its end.
private final class OpenedStores: Sendable {
    let stores = Mutex<[PostgresStore]>([])

    func shutdown() async {
        for store in stores.withLock({ $0 }) { await store.shutdown() }
    }
}
