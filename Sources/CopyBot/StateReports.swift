import Chain
import CopyEngine
import EVM
import Foundation
import Polymarket
import Store

/// `copybot status`, `copybot trades` and `copybot positions`: what the store says, read without
/// disturbing a running service (SQLite in WAL mode and PostgreSQL serve readers alongside the
/// writers).
public struct StateReports: Sendable {
    /// How reports are printed.
    public enum Format: String, Sendable, CaseIterable {
        /// Readable lines.
        case text
        /// One JSON object per line.
        case jsonl
    }

    let store: any CopyBotStore
    /// The account reported on.
    public let account: AccountID
    let startingCash: Fixed6

    /// Creates reports over `store` for `account`, whose ledger starts from `startingCash`: the
    /// decisions and intents through ``CopyStateReader``, the ledger through ``CopyStateStore``'s
    /// reads and the chain checkpoint through ``ChainStateStore/loadState(stream:)``.
    public init(store: any CopyBotStore, account: AccountID = .default, startingCash: Fixed6) {
        self.store = store
        self.account = account
        self.startingCash = startingCash
    }

    // MARK: trades

    /// The decisions, oldest first (the last `limit` when given), one line each.
    public func trades(format: Format, limit: Int?) async throws -> [String] {
        let entries =
            if let limit {
                try await store.latestDecisionEntries(account: account, limit: limit)
            } else {
                try await store.decisionEntries(account: account, limit: nil, afterRowID: nil)
            }
        return entries.map { format == .jsonl ? Self.json($0.record) : Self.text($0.record) }
    }

    static func text(_ record: DecisionRecord) -> String {
        let t = record.trade
        let when = Self.timestamp(record.decidedAt)
        let retracted = record.retracted ? " [retracted by a reorg]" : ""
        return
            "\(when) #\(t.blockNumber) \(t.wallet) \(t.side.text) \(t.shares) @ \(t.price) token \(t.tokenId.decimalString.prefix(12))… → \(record.decision.explanation)\(retracted)"
    }

    static func json(_ record: DecisionRecord) -> String {
        let t = record.trade
        var out =
            "{\"decided_at\":\"\(timestamp(record.decidedAt))\",\"trade\":\"\(record.key.identity.bytes.hex)\""
        out += ",\"account\":"
        JSONString.write(record.key.account.name, to: &out)
        out += ",\"block\":\(t.blockNumber),\"tx\":\"\(t.transactionHash.hex)\",\"log_index\":\(t.logIndex)"
        out += ",\"exchange\":"
        JSONString.write(t.exchange, to: &out)
        out += ",\"wallet\":\"\(t.wallet.checksummed)\",\"side\":\"\(t.side.text)\""
        out += ",\"token_id\":\"\(t.tokenId.decimalString)\",\"price\":\"\(t.price)\""
        out += ",\"shares\":\"\(t.shares)\",\"usdc\":\"\(t.collateral)\""
        out += ",\"decision\":\"\(record.decision.kind)\",\"reason\":\"\(record.decision.label)\""
        out += ",\"retracted\":\(record.retracted),\"explanation\":"
        JSONString.write(record.decision.explanation, to: &out)
        if case .copied(let order) = record.decision {
            let i = order.intent
            out += ",\"order\":{\"mode\":\"\(order.mode.rawValue)\",\"side\":\"\(i.side.text)\""
            out +=
                ",\"shares\":\"\(i.shares)\",\"limit_price\":\"\(i.limitPrice)\",\"usdc\":\"\(i.collateral)\""
            out += ",\"order_type\":\"\(i.orderType.rawValue)\""
            if let hash = order.orderHash { out += ",\"order_hash\":\"\(hash.hex)\"" }
            out += ",\"filled_shares\":\"\(order.fill.shares)\",\"filled_usdc\":\"\(order.fill.collateral)\""
            out += ",\"fee\":\"\(order.fill.fee)\",\"priced_from_target\":\(order.fill.pricedFromTarget)}"
        }
        out += "}"
        return out
    }

    // MARK: positions

    /// The open positions with their cost, last price and marked PnL, one line each.
    public func positions(format: Format) async throws -> [String] {
        let ledger = try await self.ledger()
        return ledger.positions.sorted { $0.key < $1.key }.map { token, position in
            let mark = ledger.marks[token]
            let value = ledger.markedValue(token)
            let pnl = value - position.cost
            switch format {
            case .jsonl:
                var out = "{\"token_id\":\"\(token.decimalString)\""
                if let market = position.market { out += ",\"market\":\"\(market.condition.hex)\"" }
                out += ",\"shares\":\"\(position.shares)\",\"cost\":\"\(position.cost)\""
                out += ",\"average_cost\":\"\(position.averageCost)\""
                out += ",\"mark\":" + (mark.map { "\"\($0)\"" } ?? "null")
                out += ",\"marked_value\":\"\(value)\",\"unrealised_pnl\":\"\(pnl)\"}"
                return out
            case .text:
                return
                    "token \(token.decimalString): \(position.shares) shares, cost \(position.cost) (avg \(position.averageCost)), last \(mark.map { "\($0)" } ?? "-"), value \(value), PnL \(pnl)"
            }
        }
    }

    /// The account's ledger as stored: the last snapshot plus the fills booked after it.
    public func ledger() async throws -> Ledger {
        try await CopyEngine.restoreLedger(
            store: store, account: account, initialCash: startingCash, day: SystemWallClock().now().utcDay
        ).ledger
    }

    // MARK: status

    /// What `copybot status` shows: stored state, and the running service's live state when its
    /// `/ready` endpoint answers (`live` is that endpoint's JSON, or nil).
    public func status(mode: String, live: String?) async throws -> String {
        (try await overview(live: live) + accountStatus(mode: mode)).joined(separator: "\n")
    }

    /// What every account shares: the chain checkpoint and the running service's state.
    public func overview(live: String?) async throws -> [String] {
        let chain = try await store.loadState(stream: "polygon")
        return [
            "chain: checkpoint \(chain.map { "#\($0.cursor.number) \($0.cursor.hash.hex.prefix(10))…" } ?? "none yet")",
            "service: \(live ?? "not reachable (not running, or http.listen is off)")",
        ]
    }

    /// This account's lines: mode, decisions, unresolved orders, cash, exposure, PnL, last failures.
    public func accountStatus(mode: String) async throws -> [String] {
        let counts = try await store.decisionCounts(account: account)
        let ledger = try await self.ledger()
        let unresolved = try await store.intents(account: account, statuses: [.created, .posting, .open])
        let failures = try await store.latestDecisionEntries(account: account, limit: 5, kind: "failed")
            .map(\.record)
        let today = ledger.dailyPnL
        var lines = [
            "mode: \(mode)",
            "decisions: \(counts.total) — \(counts.copied) copied, \(counts.skipped) skipped, \(counts.failed) failed"
                + (counts.retractedAfterCopy > 0
                    ? "; \(counts.retractedAfterCopy) copies whose trade a reorg removed (not unwound)" : ""),
            "orders unresolved: \(unresolved.count)",
            "cash: \(ledger.cash) of \(startingCash) starting; exposure \(ledger.totalExposure) in \(ledger.positions.count) positions",
            "PnL: \(ledger.equity - startingCash) total (realised \(ledger.realised), marked \(ledger.unrealised), fees \(ledger.fees)); today \(today.total)",
        ]
        if !failures.isEmpty {
            lines.append("last failures:")
            for record in failures {
                lines.append("  \(Self.timestamp(record.decidedAt)) \(record.decision.explanation)")
            }
        }
        return lines
    }

    /// Lines for people from the running service's `/ready` answer: each live account's balances
    /// at the exchange and where its ledger differs from them (empty when it has none).
    public static func fundsLines(readyJSON: [UInt8]) -> [String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(readyJSON)) as? [String: Any],
            let funds = object["funds"] as? [String: [String: Any]]
        else { return [] }
        var lines: [String] = []
        for (account, report) in funds.sorted(by: { $0.key < $1.key }) {
            let collateral = report["collateral"] as? String ?? "?"
            let allowances = (report["allowances"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let approvals = (report["token_approvals"] as? [String: Bool] ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value ? "yes" : "no")" }.joined(separator: ", ")
            lines.append("exchange balances (account \(account)): collateral \(collateral)")
            lines.append("  collateral allowances: \(allowances.isEmpty ? "none" : allowances)")
            lines.append("  outcome-token approvals: \(approvals.isEmpty ? "unknown" : approvals)")
            let differences = report["differences"] as? [[String: String]] ?? []
            if differences.isEmpty {
                lines.append("  reconciliation: the ledger agrees with the exchange")
            } else {
                lines.append("  reconciliation: \(differences.count) difference(s), not corrected:")
                for d in differences {
                    lines.append(
                        "    \(d["asset"] ?? "?"): ledger \(d["ledger"] ?? "?"), exchange \(d["exchange"] ?? "?") (\(d["difference"] ?? "?"))"
                    )
                }
            }
        }
        return lines
    }

    /// The cluster (PostgreSQL): members with their role and last report, the active listener,
    /// the account leases, and each account's queue depth and the age of its oldest trade. Nil
    /// for an SQLite store.
    public static func clusterStatus(
        _ opened: OpenedStore, lease: Duration, now: UnixTime = SystemWallClock().now()
    )
        async throws -> [String]?
    {
        guard let cluster = opened.cluster else { return nil }
        let members = try await cluster.coordinator.members(seenSince: UnixTime(milliseconds: 0))
        let leases = try await cluster.coordinator.leases()
        let depths = try await cluster.queue.depths()
        let alive = UnixTime(milliseconds: now.milliseconds - 2 * lease.components.seconds * 1_000)
        var lines = ["cluster:"]
        // The listener that reported being active most recently: after a failover the one that
        // took over, not the dead one whose last report said so.
        let active = members.filter { $0.activeListener && $0.seenAt >= alive }.max { $0.seenAt < $1.seenAt }
        lines.append("  active listener: \(active?.name ?? "none (no listener has reported lately)")")
        if members.isEmpty { lines.append("  members: none yet") }
        for member in members {
            let age = max(0, now.milliseconds - member.seenAt.milliseconds)
            let state = member.seenAt >= alive ? "up" : "gone"
            let held = leases.filter { $0.owner == member.name && $0.expiresAt >= now }.map(\.account.name)
            lines.append(
                "  \(member.name): \(member.role), \(state), seen \(Self.age(age)) ago"
                    + (member.name == active?.name ? ", active listener" : "")
                    + (held.isEmpty ? "" : ", accounts \(held.joined(separator: ","))"))
        }
        for lease in leases {
            if let owner = lease.owner, lease.expiresAt >= now {
                lines.append("  account \(lease.account.name): held by \(owner), epoch \(lease.epoch)")
            } else {
                lines.append(
                    "  account \(lease.account.name): not held by any executor"
                        + (lease.owner.map { " (last \($0), epoch \(lease.epoch))" } ?? ""))
            }
        }
        if depths.isEmpty {
            lines.append("  queue: empty")
        } else {
            for depth in depths {
                let lag =
                    depth.oldestQueuedAt.map { Self.age(max(0, now.milliseconds - $0.milliseconds)) } ?? "-"
                lines.append("  queue \(depth.account.name): \(depth.count) trades waiting, oldest \(lag)")
            }
        }
        return lines
    }

    /// `1.2 s`, `3 min`.
    static func age(_ milliseconds: Int64) -> String {
        milliseconds < 60_000
            ? String(format: "%.1f s", Double(milliseconds) / 1000) : "\(milliseconds / 60_000) min"
    }

    /// `2026-11-30T08:49:01.123Z`.
    static func timestamp(_ time: UnixTime) -> String {
        let date = Date(timeIntervalSince1970: Double(time.milliseconds) / 1000)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)) + "Z"
    }
}
