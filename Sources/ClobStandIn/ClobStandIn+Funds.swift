import EVM
import Foundation
import Hummingbird
import Polymarket

/// What an account holds on the stand-in: collateral with its allowance per spender (exchange
/// contract), outcome tokens, and the outcome tokens' approval (`setApprovalForAll`) per spender.
public struct AccountFunds: Hashable, Sendable {
    /// The collateral balance, in token units (6 decimals).
    public var collateral: UInt256 = .zero
    /// The collateral allowance granted to each exchange contract; `UInt256.max` is unlimited (never
    /// decreased by transfers, as with the ERC-20 convention).
    public var allowances: [Address: UInt256] = [:]
    /// The balance of each outcome token, in token units.
    public var tokens: [UInt256: UInt256] = [:]
    /// Whether each exchange contract may move the account's outcome tokens.
    public var approvals: [Address: Bool] = [:]

    /// An account with nothing: no collateral, no allowance, no tokens, no approval.
    public init() {}

    /// An account set up to trade on both exchanges of `contracts` (unlimited allowances, approvals
    /// given) that holds nothing yet.
    public init(contracts: ExchangeContracts) {
        for spender in [contracts.exchange, contracts.negRiskExchange] {
            allowances[spender] = .max
            approvals[spender] = true
        }
    }
}

extension ClobStandIn {
    // MARK: Balances (the stand-in's ledger)

    /// Sets an account's collateral balance and its allowance for both exchange contracts (nil:
    /// unlimited). Turns balance checks on if they were off (every other account then holds nothing).
    public func setCollateral(_ account: Address, balance: UInt256, allowance: UInt256? = nil) {
        updateFunds(account) { funds in
            funds.collateral = balance
            for spender in spenders { funds.allowances[spender] = allowance ?? .max }
        }
    }

    /// Sets an account's collateral allowance for one spender (an exchange contract).
    public func setAllowance(_ account: Address, spender: Address, allowance: UInt256) {
        updateFunds(account) { $0.allowances[spender] = allowance }
    }

    /// Sets an account's balance of the outcome token `token`.
    public func setTokenBalance(_ account: Address, token: UInt256, balance: UInt256) {
        updateFunds(account) { $0.tokens[token] = balance }
    }

    /// Gives or withdraws an account's outcome-token approval for `spender`, or for both exchange
    /// contracts when nil.
    public func setApproval(_ account: Address, approved: Bool, spender: Address? = nil) {
        updateFunds(account) { funds in
            for s in spender.map({ [$0] }) ?? spenders { funds.approvals[s] = approved }
        }
    }

    /// Whether balances and allowances are checked (configured, or set since).
    public var checksFunds: Bool { state.withLock { $0.funds != nil } }

    /// An account's collateral balance; nil while balances are not checked (unlimited).
    public func collateral(of account: Address) -> UInt256? {
        state.withLock { $0.funds.map { $0[account]?.collateral ?? .zero } }
    }

    /// An account's outcome-token balances (empty while balances are not checked).
    public func tokens(of account: Address) -> [UInt256: UInt256] {
        state.withLock { $0.funds?[account]?.tokens ?? [:] }
    }

    /// Everything an account holds; nil while balances are not checked.
    public func funds(of account: Address) -> AccountFunds? {
        state.withLock { $0.funds.map { $0[account] ?? AccountFunds() } }
    }

    var spenders: [Address] { [configuration.contracts.exchange, configuration.contracts.negRiskExchange] }

    func updateFunds(_ account: Address, _ change: (inout AccountFunds) -> Void) {
        let contracts = configuration.contracts
        state.withLock { st in
            var all = st.funds ?? [:]
            var funds = all[account] ?? AccountFunds(contracts: contracts)
            change(&funds)
            all[account] = funds
            st.funds = all
        }
    }

    /// Why the maker of `order` cannot fund it, or nil. BUY: collateral balance and allowance
    /// (for the exchange the order is signed for) at least the maker amount; SELL: the token
    /// balance at least the maker amount and the exchange approved. The maker's live orders on
    /// the same side (and token, for a SELL) count as already committed (the stricter reading).
    /// The text is the CLOB's: `not enough balance / allowance`, with the live detail `: the
    /// balance is not enough -> balance: X, order amount: Y` in token units (py-clob-client issues
    /// on `not enough balance / allowance`).
    static func fundsRefusal(
        _ order: OrderV2, negRisk: Bool, funds: [Address: AccountFunds], open: [AcceptedOrder],
        contracts: ExchangeContracts
    ) -> String? {
        let spender = negRisk ? contracts.negRiskExchange : contracts.exchange
        let account = funds[order.maker] ?? AccountFunds()
        var needed = order.makerAmount
        for other in open
        where other.status == "LIVE" && other.order.maker == order.maker && other.order.side == order.side
            && (order.side == .buy || other.order.tokenId == order.tokenId)
        {
            needed = plus(needed, other.order.makerAmount)
        }
        let prefix = "not enough balance / allowance: "
        let balance = order.side == .buy ? account.collateral : account.tokens[order.tokenId] ?? .zero
        if balance < needed {
            return prefix + "the balance is not enough -> balance: \(balance), order amount: \(needed)"
        }
        let allowance =
            order.side == .buy
            ? account.allowances[spender] ?? .zero : (account.approvals[spender] == true ? .max : .zero)
        if allowance < needed {
            return prefix + "the allowance is not enough -> allowance: \(allowance), order amount: \(needed)"
        }
        return nil
    }

    /// Moves the taker's funds for a trade: a BUY pays the collateral (from its allowance too,
    /// unless unlimited) and receives the shares; a SELL gives the shares and receives the proceeds.
    static func settle(
        _ trade: Trade, order: OrderV2, negRisk: Bool, funds: inout [Address: AccountFunds],
        contracts: ExchangeContracts
    ) {
        let spender = negRisk ? contracts.negRiskExchange : contracts.exchange
        let shares = UInt256(uint128: trade.shares)
        let collateral = UInt256(uint128: trade.collateral)
        var account = funds[order.maker] ?? AccountFunds()
        let tokens = account.tokens[order.tokenId] ?? .zero
        if order.side == .buy {
            account.collateral = minus(account.collateral, collateral)
            if let allowance = account.allowances[spender], allowance != .max {
                account.allowances[spender] = minus(allowance, collateral)
            }
            account.tokens[order.tokenId] = plus(tokens, shares)
        } else {
            account.tokens[order.tokenId] = minus(tokens, shares)
            account.collateral = plus(account.collateral, collateral)
        }
        funds[order.maker] = account
    }

    /// `a + b`, saturating.
    static func plus(_ a: UInt256, _ b: UInt256) -> UInt256 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// `a − b`, floored at zero.
    static func minus(_ a: UInt256, _ b: UInt256) -> UInt256 {
        a < b ? .zero : a.addingReportingOverflow(b.negated).partialValue
    }

    // MARK: GET /balance-allowance

    /// `GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL&token_id=…&signature_type=N`: the
    /// V2 answer `{"balance": "…", "allowances": {"0xExchange": "…", "0xNegRiskExchange": "…"}}`
    /// (clob-client-v2 `BalanceAllowanceResponse`), integer text in token units. For an outcome
    /// token each allowance is the largest uint256 when approved, else 0. While balances are not
    /// checked, everything is unlimited.
    func balanceAllowance(_ request: Request) -> Answer {
        let query = request.uri.queryParameters
        let assetType = query["asset_type"].map(String.init)
        guard assetType == "COLLATERAL" || assetType == "CONDITIONAL" else {
            return reject(400, "Invalid asset type")
        }
        guard let typeText = query["signature_type"], let raw = UInt8(String(typeText)),
            SignatureType(rawValue: raw) != nil
        else { return reject(400, "Invalid signature_type") }
        var token: UInt256?
        if assetType == "CONDITIONAL" {
            guard let text = query["token_id"], let id = UInt256(decimal: String(text)) else {
                return reject(400, "Invalid token id")
            }
            token = id
        }
        let key = header(request, ClobAuth.apiKeyHeader) ?? ""
        guard
            let account = configuration.funders[key]
                ?? header(request, ClobAuth.addressHeader).flatMap({ try? Address($0) })
        else { return reject(401, "Unauthorized/Invalid api key") }
        let funds = state.withLock { $0.funds.map { $0[account] ?? AccountFunds() } }
        let balance: UInt256
        var allowances: [(Address, UInt256)] = []
        for spender in spenders {
            let value: UInt256
            if let funds {
                value =
                    token == nil
                    ? funds.allowances[spender] ?? .zero : (funds.approvals[spender] == true ? .max : .zero)
            } else {
                value = .max
            }
            allowances.append((spender, value))
        }
        if let funds {
            balance = token.map { funds.tokens[$0] ?? .zero } ?? funds.collateral
        } else {
            balance = .max
        }
        let map = allowances.map { "\(StandInJSON.string($0.0.checksummed)):\"\($0.1)\"" }
            .joined(separator: ",")
        return Answer(status: 200, json: "{\"balance\":\"\(balance)\",\"allowances\":{\(map)}}")
    }
}
