import CopyEngine
import EVM
import Foundation
import Logging
import Synchronization

/// The executor role of a cluster: holds a share of the accounts (leases renewed every third of
/// `cluster.lease_seconds`), and decides the queued trades of the accounts it holds through one
/// ``CopyPipeline``, in queue order within each (account, token), concurrently otherwise.
///
/// Hand-over is clean in both directions: an account is released only after its trades in hand
/// are finished (so two executors never work one account's queue at once), and an account whose
/// lease could not be renewed is no longer dispatched. A new holder starts with the ledger and
/// intents the store holds, and resolves the unknown-outcome orders of the account by look-up.
///
/// A reload (the configuration's generation changes) applies to the accounts held: each is paused,
/// its trades in hand finished, and its engine made again from the new settings, keeping its
/// lease; accounts added are taken like any other, accounts removed are released.
///
/// Every write for an account goes through a store fenced by the account's lease (its epoch, see
/// ``AccountFence``). A write the store refuses (this process was stopped or cut off past its lease
/// and another executor took the account) drops the account at once: its engine, ledger and
/// trades in hand are discarded, the refusal is logged and counted, and nothing is retried under
/// the old epoch. Its queued trades stay for the new holder.
///
/// Shares are even: with `n` accounts and `e` executors alive, each holds `n / e`, and the first
/// `n % e` by name one more.
final class ClusterExecutor: Sendable {
    /// Makes the engine of an account (its ledger restored from the store) on the account's store.
    typealias EngineFactory =
        @Sendable (CopyBotConfiguration.Account, any CopyStateStore) async throws -> CopyEngine

    struct State {
        /// Accounts held and dispatched, with their engines.
        var held: [AccountID: CopyEngine] = [:]
        /// Every account whose lease this executor holds (dispatched, draining or refreshing), with
        /// the fenced store its writes go through.
        var leases: [AccountID: any FencedAccountStore] = [:]
        /// Accounts being given up: not dispatched; released once nothing of theirs is in hand.
        var draining: Set<AccountID> = []
        /// Accounts held and paused by a reload: not dispatched; their engines are made again once
        /// nothing of theirs is in hand.
        var refreshing: Set<AccountID> = []
        /// The configuration generation the engines were made from.
        var generation = 0
        /// Queue sequences read and not finished, per account.
        var inHand: [AccountID: Set<Int64>] = [:]
        var decided = 0
    }

    private let name: String
    /// The accounts now, and the configuration's generation (a reload increments it).
    private let configured: @Sendable () -> (accounts: [CopyBotConfiguration.Account], generation: Int)
    private let queue: any CopyWorkQueue
    private let coordinator: any ClusterCoordinator
    private let makeEngine: EngineFactory
    private let lease: Duration
    private let concurrency: Int
    private let logger: Logger
    private let fencedWrite: @Sendable () -> Void
    private let state = Mutex(State())

    /// Creates the executor `name` over the accounts `configured` returns (read at every lease
    /// round, with the configuration's generation); `fencedWrite` counts each refused write.
    init(
        name: String,
        configured: @escaping @Sendable () -> (accounts: [CopyBotConfiguration.Account], generation: Int),
        queue: any CopyWorkQueue, coordinator: any ClusterCoordinator, lease: Duration, concurrency: Int,
        logger: Logger, fencedWrite: @escaping @Sendable () -> Void = {},
        makeEngine: @escaping EngineFactory
    ) {
        self.fencedWrite = fencedWrite
        self.name = name
        self.configured = configured
        state.withLock { $0.generation = configured().generation }
        self.queue = queue
        self.coordinator = coordinator
        self.makeEngine = makeEngine
        self.lease = lease
        self.concurrency = concurrency
        self.logger = logger
    }

    /// The engines of the accounts held now.
    var engines: [(AccountID, CopyEngine)] { state.withLock { $0.held.map { ($0.key, $0.value) } } }

    /// Trades decided by this executor so far.
    var decided: Int { state.withLock { $0.decided } }

    /// Works until cancelled (a graceful shutdown): then stops reading, finishes the trades in
    /// hand and releases its accounts.
    func run() async throws {
        let pipeline = CopyPipeline(maxConcurrency: concurrency, maxBuffered: max(64, concurrency * 16))
        defer { state.withLock { $0.held = [:] } }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.holdAccounts() }
                group.addTask {
                    try await pipeline.run(
                        QueueReader(executor: self),
                        lane: { Self.lane($0.item) },
                        overlapping: {
                            $0.item.account == $1.item.account
                                && CopyEngine.mayOverlap(running: $0.item.trade, next: $1.item.trade)
                        },
                        prepare: { work -> DecisionBeginning? in
                            guard let engine = self.state.withLock({ $0.held[work.item.account] })
                            else { return nil }
                            return await engine.begin(work.item.trade)
                        },
                        handle: { work, begun, turn -> CopyDecision? in
                            guard let engine = self.state.withLock({ $0.held[work.item.account] })
                            else { return nil }
                            // Not cancelled with the service: a started trade is finished.
                            return await Task {
                                await CopyBotApplication.decide(
                                    work.item.trade, engine: engine, logger: self.logger, turn: turn,
                                    begun: begun)
                            }.value
                        },
                        completed: { work, decision in await self.completed(work, decision) })
                }
                try await group.next()
                group.cancelAll()
            }
        } catch is CancellationError {}
        let held = state.withLock { state in
            defer {
                state.held = [:]
                state.leases = [:]
            }
            return Array(state.leases.keys).sorted()
        }
        guard !held.isEmpty else { return }
        // Released in a task of its own: this one is cancelled (a shutdown), and a query in a
        // cancelled task fails before it is sent.
        let coordinator = self.coordinator
        let name = self.name
        do {
            try await Task { try await coordinator.releaseAccounts(held, owner: name) }.value
            logger.notice(
                "released accounts at shutdown; other executors take them now",
                metadata: ["accounts": "\(held.map(\.name))"])
        } catch {
            logger.warning(
                "could not release the accounts at shutdown; others take them when the leases expire: \(error)",
                metadata: ["accounts": "\(held.map(\.name))"])
        }
    }

    /// The pipeline lane of an item: its account and token together.
    static func lane(_ item: CopyWorkItem) -> UInt256 {
        let token = item.trade.trade.tokenId
        var bytes = Array(item.account.name.utf8)
        for word in [token.w0, token.w1, token.w2, token.w3] {
            withUnsafeBytes(of: word.bigEndian) { bytes += $0 }
        }
        return UInt256(Keccak256.hash(bytes))
    }

    private func completed(_ work: QueuedWork, _ decision: CopyDecision?) async {
        let account = work.item.account
        defer {
            state.withLock { state in
                state.inHand[account]?.remove(work.sequence)
                if state.inHand[account]?.isEmpty == true { state.inHand[account] = nil }
            }
        }
        // No decision (the account went away), a store failure or a refused write: the item stays
        // queued.
        guard let decision else { return }
        if case .failed(.store) = decision { return }
        if case .failed(.fenced) = decision { return }
        // Finished through the account's fenced store: not once the account is dropped.
        guard let store = state.withLock({ $0.leases[account] }) else { return }
        do {
            try await Task { try await store.finish([work.sequence]) }.value
            state.withLock { $0.decided += 1 }
        } catch is FencedWrite {
            // Logged and counted by `refused`; the new holder finds the decision stored.
        } catch {
            logger.error("could not finish queued trade \(work.sequence) of \(account): \(error)")
        }
    }

    /// A write for `fence`'s account was refused: another executor took the account. Drops it at
    /// once (unless it was dropped or taken again since), and logs and counts every refusal.
    private func refused(_ fence: AccountFence, _ error: FencedWrite) {
        let dropped = state.withLock { state -> Bool in
            guard state.leases[fence.account]?.fence == fence else { return false }
            state.leases[fence.account] = nil
            state.held[fence.account] = nil
            state.draining.remove(fence.account)
            state.refreshing.remove(fence.account)
            return true
        }
        fencedWrite()
        logger.warning(
            "\(error)\(dropped ? "; dropping the account and its state in memory" : "")",
            metadata: [
                "account": "\(fence.account.name)", "held_epoch": "\(fence.epoch)",
                "current_epoch": "\(error.currentEpoch)", "current_holder": "\(error.currentOwner ?? "none")",
            ])
    }

    // MARK: Leases

    /// Renews and balances the account leases every third of a lease, until cancelled; sooner
    /// when an account is free (an executor stopped and released its accounts, checked every
    /// quarter of a second).
    private func holdAccounts() async throws {
        let clock = ContinuousClock()
        while true {
            try Task.checkCancellation()
            do {
                try await balance()
            } catch {
                // A shutdown cancels the query in flight.
                if Task.isCancelled { throw CancellationError() }
                logger.error("could not renew the account leases: \(error)")
            }
            let next = clock.now + lease / 3
            while clock.now < next {
                try await Task.sleep(for: min(.milliseconds(250), next - clock.now))
                if try await accountsFree() { break }
            }
        }
    }

    /// Whether a configured account is free (no owner, or its lease expired).
    private func accountsFree() async throws -> Bool {
        let names = Set(configured().accounts.map(\.name))
        let now = SystemWallClock().now()
        do {
            return try await coordinator.leases().contains {
                names.contains($0.account) && ($0.owner == nil || $0.expiresAt < now)
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            return false
        }
    }

    private func balance() async throws {
        let (configuredAccounts, generation) = configured()
        let accounts = Dictionary(configuredAccounts.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let names = accounts.keys.sorted()
        // A reload: pause every account held (its engine is made again below, once drained);
        // accounts no longer configured are given up.
        state.withLock { state in
            if state.generation != generation {
                state.generation = generation
                state.refreshing.formUnion(state.held.keys)
                state.held = [:]
            }
            for account in state.held.keys where accounts[account] == nil {
                state.held[account] = nil
                state.draining.insert(account)
            }
            for account in state.refreshing where accounts[account] == nil {
                state.refreshing.remove(account)
                state.draining.insert(account)
            }
        }
        let now = SystemWallClock().now()
        let seenSince = UnixTime(milliseconds: now.milliseconds - Int64(lease.components.seconds * 1_000))
        var executors = Set(
            try await coordinator.members(seenSince: seenSince).filter {
                $0.role == "executor" || $0.role == "all"
            }.map(\.name))
        executors.insert(name)
        let rank = executors.sorted().firstIndex(of: name) ?? 0
        let share = names.count / executors.count + (rank < names.count % executors.count ? 1 : 0)
        // Releasing accounts: give up those fully drained.
        let drained = state.withLock { state -> [AccountID] in
            let done = state.draining.filter { state.inHand[$0] == nil }
            state.draining.subtract(done)
            return Array(done)
        }
        if !drained.isEmpty {
            state.withLock { state in for account in drained { state.leases[account] = nil } }
            try await coordinator.releaseAccounts(drained, owner: name)
            logger.notice(
                "released accounts to other executors", metadata: ["accounts": "\(drained.map(\.name))"])
        }
        let draining = state.withLock { $0.draining }
        let holding = try await coordinator.claimAccounts(
            names, owner: name, share: share + draining.count, lease: lease, now: now)
        let fences = Dictionary(holding.map { ($0.account, $0) }, uniquingKeysWith: { a, _ in a })
        let current = Set(fences.keys).subtracting(draining)
        let (lost, new) = state.withLock { state -> ([AccountID], [AccountID]) in
            // Lost: not renewed, or held at another epoch than ours (taken by another executor
            // and back to this one since: nothing here is valid for it any more).
            let lost = state.leases.keys.filter { fences[$0]?.epoch != state.leases[$0]?.fence.epoch }
            for account in lost {
                state.held[account] = nil
                state.refreshing.remove(account)
                state.draining.remove(account)
                state.leases[account] = nil
            }
            // Paused accounts come back once drained, with engines made from the new settings.
            let refreshed = state.refreshing.filter { state.inHand[$0] == nil }
            state.refreshing.subtract(refreshed)
            return (lost, current.filter { state.held[$0] == nil && !state.refreshing.contains($0) }.sorted())
        }
        if !lost.isEmpty {
            logger.warning(
                "account leases lost (not renewed in time); their trades are no longer read here",
                metadata: ["accounts": "\(lost.map(\.name))"])
        }
        for account in new {
            guard let configuration = accounts[account], let fence = fences[account] else { continue }
            let store = coordinator.fencedStore(fence) { [weak self] error in self?.refused(fence, error) }
            state.withLock { $0.leases[account] = store }
            let engine = try await makeEngine(configuration, store)
            let resolved = await engine.resolveUnresolvedIntents()
            // Still ours (no write refused meanwhile), and not paused by a reload in the meantime?
            let taken = state.withLock { state -> Bool in
                guard state.leases[account]?.fence == fence, !state.refreshing.contains(account),
                    !state.draining.contains(account)
                else { return false }
                state.held[account] = engine
                return true
            }
            guard taken else { continue }
            logger.notice(
                "account taken",
                metadata: [
                    "account": "\(account)", "epoch": "\(fence.epoch)",
                    "resolved_orders": "\(resolved.count)",
                ])
        }
        // Over the share (an executor joined): stop reading the last ones, release them once drained.
        let extra = state.withLock { state -> [AccountID] in
            let over = state.held.count - share
            guard over > 0 else { return [] }
            let extra = Array(state.held.keys.sorted().suffix(over))
            for account in extra {
                state.held[account] = nil
                state.draining.insert(account)
            }
            return extra
        }
        if !extra.isEmpty {
            logger.notice(
                "giving accounts to other executors once their trades in hand are done",
                metadata: ["accounts": "\(extra.map(\.name))", "share": "\(share)"])
        }
    }

    // MARK: Reading the queue

    /// The next items of the held accounts not already in hand (polling while there are none).
    fileprivate func nextBatch() async throws -> [QueuedWork] {
        var idle = Duration.milliseconds(5)
        while true {
            try Task.checkCancellation()
            let accounts = state.withLock { Array($0.held.keys) }
            if !accounts.isEmpty {
                let pending = try await queue.pending(accounts: accounts, limit: 512)
                let fresh = state.withLock { state -> [QueuedWork] in
                    var fresh: [QueuedWork] = []
                    for work in pending where state.held[work.item.account] != nil {
                        if state.inHand[work.item.account, default: []].insert(work.sequence).inserted {
                            fresh.append(work)
                        }
                    }
                    return fresh
                }
                if !fresh.isEmpty { return fresh }
            }
            try await Task.sleep(for: idle)
            idle = min(idle * 2, .milliseconds(50))
        }
    }
}

/// The held accounts' queues as an `AsyncSequence` for the pipeline; ends when cancelled.
private struct QueueReader: AsyncSequence, Sendable {
    typealias Element = QueuedWork
    let executor: ClusterExecutor

    struct AsyncIterator: AsyncIteratorProtocol {
        let executor: ClusterExecutor
        var buffer: [QueuedWork] = []

        mutating func next() async throws -> QueuedWork? {
            if buffer.isEmpty {
                do {
                    buffer = try await executor.nextBatch().reversed()
                } catch is CancellationError {
                    return nil
                }
            }
            return buffer.popLast()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(executor: executor) }
}
