import CopyEngine
import EVM
import Foundation
import Logging
import Polymarket
import Synchronization

/// What the exchange holds for one account, read with `GET /balance-allowance` in the background
/// and checked before each order without a round trip; and how it compares with the ledger.
///
/// Between two reads, the orders this account sent are taken into account as they are answered:
/// a BUY's collateral leaves the balance and its shares arrive, a SELL's shares leave and its
/// collateral arrives (allowances, usually unlimited, are left as read). The next read replaces
/// those estimates with the exchange's numbers.
public final class ExchangeFunds: Sendable {
    /// One read of the exchange, adjusted by the answers since.
    public struct Snapshot: Hashable, Sendable {
        /// The collateral balance.
        public var collateral: Fixed6
        /// The collateral allowance of each exchange contract.
        public var allowances: [Address: Fixed6]
        /// Outcome token balances (of the tokens asked for).
        public var tokens: [UInt256: Fixed6]
        /// Whether each exchange contract may move the outcome tokens (`setApprovalForAll`).
        public var tokenApprovals: [Address: Bool]
        /// When the exchange was last read.
        public var readAt: Date
    }

    /// A difference between the ledger and the exchange.
    public struct Difference: Hashable, Sendable, CustomStringConvertible {
        /// `collateral`, or the token id.
        public var asset: String
        public var ledger: Fixed6
        public var exchange: Fixed6

        /// The exchange's number minus the ledger's.
        public var amount: Fixed6 { exchange - ledger }

        public var description: String {
            "\(asset): ledger \(ledger), exchange \(exchange) (\(amount.isNegative ? "" : "+")\(amount))"
        }
    }

    /// The exchange contracts orders are signed for (spenders of the allowances).
    public let exchange: Address
    public let negRiskExchange: Address
    private let state = Mutex<(snapshot: Snapshot?, differences: [Difference]?)>((nil, nil))

    /// Creates an empty record for an account trading on `exchange` and `negRiskExchange`.
    public init(exchange: Address, negRiskExchange: Address) {
        self.exchange = exchange
        self.negRiskExchange = negRiskExchange
    }

    /// The last read, adjusted since; nil before the first.
    public var snapshot: Snapshot? { state.withLock { $0.snapshot } }

    /// The differences found by the last reconciliation (empty: none); nil before the first.
    public var differences: [Difference]? { state.withLock { $0.differences } }

    /// Why an order cannot be funded, from the last read: a BUY needs `collateral` in balance and
    /// in the allowance of the exchange it goes to; a SELL needs `shares` of the token and the
    /// exchange's approval. Nil when it can, or before the first read.
    public func shortfall(
        side: Side, tokenID: UInt256, shares: Fixed6, collateral: Fixed6, negRisk: Bool
    ) -> SkipReason? {
        guard let snapshot else { return nil }
        let spender = negRisk ? negRiskExchange : exchange
        switch side {
        case .buy:
            if snapshot.collateral < collateral {
                return .insufficientExchangeBalance(
                    asset: "collateral", required: collateral, balance: snapshot.collateral)
            }
            let allowance = snapshot.allowances[spender] ?? .zero
            if allowance < collateral {
                return .allowanceMissing(
                    asset: "collateral", spender: spender, required: collateral, allowance: allowance)
            }
        case .sell:
            // A token not read yet (bought since the last read) is not judged.
            if let held = snapshot.tokens[tokenID], held < shares {
                return .insufficientExchangeBalance(
                    asset: "token \(tokenID.shortToken)", required: shares, balance: held)
            }
            if snapshot.tokenApprovals[spender] == false {
                return .allowanceMissing(
                    asset: "outcome tokens", spender: spender, required: shares, allowance: .zero)
            }
        }
        return nil
    }

    /// Takes an answered order into account until the next read.
    public func note(_ order: ExchangeOrder, side: Side, tokenID: UInt256) {
        guard order.matchedShares.isPositive || order.matchedCollateral.isPositive else { return }
        state.withLock { state in
            guard var s = state.snapshot else { return }
            switch side {
            case .buy:
                s.collateral = s.collateral - order.matchedCollateral - order.fee
                s.tokens[tokenID] = (s.tokens[tokenID] ?? .zero) + order.matchedShares
            case .sell:
                s.collateral = s.collateral + order.matchedCollateral - order.fee
                if let held = s.tokens[tokenID] { s.tokens[tokenID] = held - order.matchedShares }
            }
            state.snapshot = s
        }
    }

    /// Reads the collateral and `tokens` from the exchange, replacing the last read.
    public func refresh(
        client: any ClobAPI, signatureType: SignatureType, tokens: some Sequence<UInt256>, now: Date = Date()
    ) async throws(ClobError) {
        let collateral = try await client.balanceAllowance(.collateral, signatureType: signatureType)
        var balances: [UInt256: Fixed6] = [:]
        var approvals: [Address: Bool] = [:]
        for token in tokens {
            let answer = try await client.balanceAllowance(.conditional(token), signatureType: signatureType)
            balances[token] = Self.amount(answer.balance)
            for (spender, value) in answer.allowances { approvals[spender] = !value.isZero }
        }
        if balances.isEmpty {
            // The approval is per contract, not per token: ask with no token held.
            let answer = try? await client.balanceAllowance(.conditional(.zero), signatureType: signatureType)
            for (spender, value) in answer?.allowances ?? [:] { approvals[spender] = !value.isZero }
        }
        let snapshot = Snapshot(
            collateral: Self.amount(collateral.balance),
            allowances: collateral.allowances.mapValues(Self.amount), tokens: balances,
            tokenApprovals: approvals, readAt: now)
        state.withLock { $0.snapshot = snapshot }
    }

    /// Compares the last read with the ledger's `cash` and `positions` (positions the exchange does
    /// not hold count as zero there); stores and returns the differences.
    @discardableResult
    public func reconcile(cash: Fixed6, positions: [UInt256: Fixed6]) -> [Difference]? {
        state.withLock { state in
            guard let snapshot = state.snapshot else { return nil }
            var differences: [Difference] = []
            if snapshot.collateral != cash {
                differences.append(
                    Difference(asset: "collateral", ledger: cash, exchange: snapshot.collateral))
            }
            for token in Set(positions.keys).union(snapshot.tokens.keys).sorted() {
                let ledger = positions[token] ?? .zero
                let exchange = snapshot.tokens[token] ?? .zero
                if ledger != exchange {
                    differences.append(
                        Difference(asset: token.decimalString, ledger: ledger, exchange: exchange))
                }
            }
            state.differences = differences
            return differences
        }
    }

    /// A token amount (6 decimals) as an engine amount; saturates past the engine's limit.
    static func amount(_ units: UInt256) -> Fixed6 { Fixed6(FixedPoint6(units: units)) ?? Fixed6.limit }
}
