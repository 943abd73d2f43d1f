import CopyEngine
import EVM
import Foundation
import PostgresNIO
import Synchronization
import Testing

@testable import Store

/// The account's queue item for trade `n` (as the listener queues it).
private func work(_ n: UInt64) -> CopyWorkItem {
    CopyWorkItem(
        account: .default,
        trade: CopyTrade(identity: identity(n), kind: .trade, trade: buyEvent(n), blockTime: nil))
}

/// The refusals a fenced store reported.
private final class Refusals: Sendable {
    let all = Mutex<[FencedWrite]>([])
    var count: Int { all.withLock { $0.count } }
    func record(_ refusal: FencedWrite) { all.withLock { $0.append(refusal) } }
}

@Suite(
    "PostgresStore: account leases fence every write with their epoch",
    .enabled(if: PostgresTestServer.enabled, "COPYBOT_TEST_POSTGRES_URL is not set"))
struct PostgresFencingTests {
    static let lease = Duration.seconds(30)

    @Test(
        "a take increments the epoch and records it; a renewal keeps it; a release and a new take increment it"
    )
    func epochs() async throws {
        try await PostgresTestServer.withStore { store in
            let now = SystemWallClock().now()
            let first = try await store.claimAccounts(
                [.default], owner: "E1", share: 1, lease: Self.lease, now: now)
            #expect(first == [AccountFence(account: .default, owner: "E1", epoch: 1)])
            #expect(
                try await store.claimAccounts([.default], owner: "E1", share: 1, lease: Self.lease, now: now)
                    == first)
            // Held: another executor takes nothing.
            #expect(
                try await store.claimAccounts([.default], owner: "E2", share: 1, lease: Self.lease, now: now)
                    .isEmpty)
            try await store.releaseAccounts([.default], owner: "E1")
            let second = try await store.claimAccounts(
                [.default], owner: "E2", share: 1, lease: Self.lease, now: now)
            #expect(second == [AccountFence(account: .default, owner: "E2", epoch: 2)])
            #expect(try await store.leases().map { [$0.owner, "\($0.epoch)"] } == [["E2", "2"]])
            let takes = try await store.read { c in
                try await c.rows(
                    "SELECT epoch, owner FROM cluster_account_takes ORDER BY epoch", logger: store.logger
                )
                .map { "\(try $0("epoch", as: Int64.self)) \(try $0("owner", as: String.self))" }
            }
            #expect(takes == ["1 E1", "2 E2"])
        }
    }

    @Test(
        "every write under a stale epoch is refused, reported and changes nothing; the holder's writes pass")
    func staleWritesRefused() async throws {
        try await PostgresTestServer.withStore { store in
            let now = SystemWallClock().now()
            let old = try #require(
                try await store.claimAccounts([.default], owner: "E1", share: 1, lease: Self.lease, now: now)
                    .first)
            let refusals = Refusals()
            let stale = store.fencedStore(old, refused: refusals.record)
            // Written while E1 holds the lease: decision 1, an intent for 2, queue items 1 and 2.
            #expect(try await stale.recordDecision(record(key(1), .failed(.unfilled))).inserted)
            _ = try await stale.storeIntent(storedIntent(key(2)))
            try await store.enqueue([work(1), work(2)], at: now)
            let queued = try await store.pending(accounts: [.default], limit: 10).map(\.sequence)
            #expect(refusals.count == 0)

            // E1 stalls past its lease; E2 takes the account.
            try await store.releaseAccounts([.default], owner: "E1")
            let current = try #require(
                try await store.claimAccounts([.default], owner: "E2", share: 1, lease: Self.lease, now: now)
                    .first)
            #expect(current.epoch == old.epoch + 1)

            let writes: [(String, () async throws -> Void)] = [
                (
                    "recordDecision",
                    { _ = try await stale.recordDecision(record(key(3), .failed(.unfilled))) }
                ),
                ("markRetracted", { _ = try await stale.markRetracted(key(1)) }),
                ("markIncluded", { _ = try await stale.markIncluded(key(1), at: summary(1)) }),
                ("storeIntent", { _ = try await stale.storeIntent(storedIntent(key(4))) }),
                (
                    "updateIntent",
                    {
                        _ = try await stale.updateIntent(
                            key(2), expecting: [.created], to: .posting, matched: nil, message: nil, at: now)
                    }
                ),
                (
                    "concludeIntent",
                    {
                        _ = try await stale.concludeIntent(
                            storedIntent(key(2)), expecting: [.created], to: .unmatched, matched: nil,
                            message: nil, at: now, decide: { record($0.key, .failed(.unfilled)) })
                    }
                ),
                (
                    "beginDecision",
                    {
                        _ = try await stale.beginDecision(
                            key(5), trade: summary(5), applying: targetTrade(5, .buy, "10", token: UInt256(5))
                        )
                    }
                ),
                (
                    "saveLedger",
                    {
                        try await stale.saveLedger(
                            account: .default,
                            LedgerSnapshot(
                                ledger: Ledger(cash: d("1"), day: UTCDay(daysSinceEpoch: 1)), throughFill: 9))
                    }
                ),
                (
                    "recordDailyPnL",
                    {
                        try await stale.recordDailyPnL(
                            account: .default,
                            DailyPnL(
                                day: UTCDay(daysSinceEpoch: 1), realised: d("1"), unrealisedAtStart: .zero,
                                unrealisedNow: .zero))
                    }
                ),
                (
                    "applyTargetTrade",
                    { _ = try await stale.applyTargetTrade(targetTrade(6, .buy, "10", token: UInt256(6))) }
                ),
                ("retractTargetTrade", { _ = try await stale.retractTargetTrade(identity(5)) }),
                ("finish", { try await stale.finish(queued) }),
            ]
            for (name, write) in writes {
                do {
                    try await write()
                    Issue.record("\(name) was accepted under a stale epoch")
                } catch let refused as FencedWrite {
                    #expect(refused.currentOwner == "E2" && refused.currentEpoch == current.epoch, "\(name)")
                    #expect(refused.owner == "E1" && refused.epoch == old.epoch, "\(name)")
                }
            }
            #expect(refusals.count == writes.count, "every refusal reported")

            // Nothing changed.
            #expect(try await store.decision(for: key(1))?.retracted == false)
            #expect(try await store.decision(for: key(3)) == nil)
            #expect(try await store.intent(for: key(4)) == nil)
            #expect(try await store.intent(for: key(2))?.status == .created)
            #expect(try await store.decision(for: key(5)) == nil)
            #expect(try await store.loadLedger(account: .default) == nil)
            #expect(try await store.dailyPnL(account: .default, day: UTCDay(daysSinceEpoch: 1)) == nil)
            #expect(try await store.targetHolding(wallet: followed, tokenId: UInt256(6)) == .zero)
            #expect(try await store.pending(accounts: [.default], limit: 10).map(\.sequence) == queued)

            // The holder's writes pass, and say who wrote them.
            let holder = store.fencedStore(current, refused: refusals.record)
            #expect(try await holder.recordDecision(record(key(3), .failed(.unfilled))).inserted)
            try await holder.finish(queued)
            #expect(try await store.pending(accounts: [.default], limit: 10).isEmpty)
            let writers = try await store.read { c in
                try await c.rows(
                    "SELECT written_by, epoch FROM copy_decisions ORDER BY id", logger: store.logger
                ).map { "\(try $0("written_by", as: String.self)) \(try $0("epoch", as: Int64.self))" }
            }
            #expect(writers == ["E1 1", "E2 2"])
            #expect(refusals.count == writes.count)
        }
    }

    @Test("a take skips an account with a fenced write in flight, and takes it once that write commits")
    func takeWaitsForWrite() async throws {
        try await withStores(2) { stores in
            let now = SystemWallClock().now()
            // E1's lease is already expired: only the write in flight keeps E2 out.
            let fence = try #require(
                try await stores[0].claimAccounts(
                    [.default], owner: "E1", share: 1, lease: .milliseconds(1), now: now
                ).first)
            try await Task.sleep(for: .milliseconds(20))
            let inFlight = Mutex(false)
            let write = Task {
                try await FenceContext.$account.withValue(fence) {
                    try await stores[0].transaction { c in
                        inFlight.withLock { $0 = true }
                        try await Task.sleep(for: .milliseconds(800))
                        _ = try await PostgresStore.insertDecision(
                            c, record(key(1), .failed(.unfilled)), logger: stores[0].logger)
                    }
                }
            }
            while !inFlight.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            #expect(
                try await stores[1].claimAccounts(
                    [.default], owner: "E2", share: 1, lease: Self.lease, now: now
                )
                .isEmpty, "skipped while E1's write is in flight")
            try await write.value
            #expect(
                try await stores[1].decision(for: key(1)) != nil,
                "E1's write, checked before the take, committed")
            #expect(
                try await stores[1].claimAccounts(
                    [.default], owner: "E2", share: 1, lease: Self.lease, now: now)
                    == [AccountFence(account: .default, owner: "E2", epoch: 2)])
        }
    }

    @Test(
        "a fenced transaction left idle (its process stopped) is ended by the server, and the account taken")
    func stalledWriteEnded() async throws {
        try await withStores(2) { stores in
            let now = SystemWallClock().now()
            let fence = try #require(
                try await stores[0].claimAccounts(
                    [.default], owner: "E1", share: 1, lease: .milliseconds(1), now: now
                ).first)
            let inFlight = Mutex(false)
            let stalled = Task {
                try await FenceContext.$account.withValue(fence) {
                    try await stores[0].transaction { c in
                        inFlight.withLock { $0 = true }
                        // Idle in its transaction for longer than the server allows.
                        try await Task.sleep(
                            for: .milliseconds(PostgresStore.fencedIdleTimeoutMilliseconds + 1_500))
                        _ = try await PostgresStore.insertDecision(
                            c, record(key(1), .failed(.unfilled)), logger: stores[0].logger)
                    }
                }
            }
            while !inFlight.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            var taken: [AccountFence] = []
            while taken.isEmpty && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                taken = try await stores[1].claimAccounts(
                    [.default], owner: "E2", share: 1, lease: Self.lease, now: now)
            }
            #expect(taken == [AccountFence(account: .default, owner: "E2", epoch: 2)])
            await #expect(throws: (any Error).self) { try await stalled.value }
            #expect(try await stores[1].decision(for: key(1)) == nil, "the stalled write never committed")
        }
    }
}
