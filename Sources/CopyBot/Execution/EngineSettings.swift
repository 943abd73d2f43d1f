import CopyEngine
import EVM
import Foundation
import Polymarket

extension CopyBotConfiguration {
    /// The copy engine's settings for the configured account: sizing per wallet, risk limits, mode.
    ///
    /// `copy.risk.max_order_usdc` cuts larger copies to the maximum (it does not skip them);
    /// `max_price_deviation` is both the limit price of a copy (the target's price ± that fraction,
    /// to the tick) and the slippage guard against the walked book.
    public func engineConfiguration(account: AccountID = .default) -> EngineConfiguration {
        let risk = copy.risk
        let limits = RiskLimits(
            minOrderCollateral: Self.fixed(risk.minOrderUSDC),
            maxOrderCollateral: Self.fixed(risk.maxOrderUSDC), clampToMaxOrder: true,
            maxPositionPerToken: Self.fixed(risk.maxPositionUSDCPerToken),
            maxPositionPerMarket: Self.fixed(risk.maxPositionUSDCPerMarket),
            maxTotalExposure: Self.fixed(risk.maxTotalExposureUSDC),
            dailyLossLimit: Self.fixed(risk.dailyLossLimitUSDC),
            maxSlippage: Self.fixed(risk.maxPriceDeviation), slippageReference: .walked,
            maxTradeAgeSeconds: Int64(risk.maxTradeAge.components.seconds),
            allowedMarkets: risk.allowMarkets.isEmpty ? nil : Set(risk.allowMarkets.map(MarketID.init)),
            deniedMarkets: Set(risk.denyMarkets.map(MarketID.init)),
            allowedTokens: risk.allowTokens.isEmpty ? nil : Set(risk.allowTokens),
            deniedTokens: Set(risk.denyTokens))
        var policies: [Address: CopyPolicy] = [:]
        for wallet in follow.wallets {
            if let sizing = wallet.sizing { policies[wallet.address] = CopyPolicy(sizing: Self.rule(sizing)) }
        }
        return EngineConfiguration(
            account: account, mode: copy.mode == .live ? .live : .paper,
            defaultPolicy: CopyPolicy(sizing: Self.rule(copy.sizing)), policies: policies, risk: limits,
            orderType: .fak,
            fallbackMarket: MarketParameters(
                tickSize: .hundredth, minOrderSize: ExactDecimal(5), negRisk: false),
            intentLeaseSeconds: max(1, copy.orderLease.components.seconds))
    }

    /// The circuit breaker's settings.
    public var breakerConfiguration: CircuitBreaker.Configuration {
        let b = copy.breaker
        return CircuitBreaker.Configuration(
            consecutiveFailures: b.consecutiveFailures,
            failureRatePercent: Int((b.errorRate * 100).rounded()),
            windowSeconds: b.window.components.seconds, minimumCalls: b.minSamples,
            cooldownSeconds: max(1, b.cooldown.components.seconds))
    }

    /// `copy.starting_usdc` as an exact amount.
    public var startingCash: Fixed6 { Self.fixed(copy.startingUSDC) ?? .zero }

    /// A sizing rule from `copy.sizing` (percent of balance becomes a fraction).
    static func rule(_ sizing: Sizing) -> SizingRule {
        let value = fixed(sizing.value) ?? .zero
        switch sizing.mode {
        case .fixedUSDC: return .fixedCollateral(value)
        case .fractionOfTrade: return .fractionOfTargetCollateral(value)
        case .multiplierOfShares: return .multipleOfTargetShares(value)
        case .percentOfBalance:
            return .fractionOfBalance(Fixed6.divide(value, Fixed6(100), rounding: .down) ?? .zero)
        }
    }

    /// A configured decimal as six-decimal fixed point (validated values always fit).
    static func fixed(_ value: Decimal) -> Fixed6? {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 6, .down)
        return Fixed6("\(rounded)")
    }
}

extension EngineStatistics {
    /// The counters of two engines (two accounts) added up.
    static func + (lhs: EngineStatistics, rhs: EngineStatistics) -> EngineStatistics {
        var sum = lhs
        sum.copied += rhs.copied
        sum.skipped += rhs.skipped
        sum.failed += rhs.failed
        sum.skippedByRule.merge(rhs.skippedByRule, uniquingKeysWith: +)
        sum.failedByReason.merge(rhs.failedByReason, uniquingKeysWith: +)
        sum.alreadyDecided += rhs.alreadyDecided
        sum.retractedAfterCopy += rhs.retractedAfterCopy
        sum.reincluded += rhs.reincluded
        sum.unresolved += rhs.unresolved
        sum.ledgerErrors += rhs.ledgerErrors
        return sum
    }
}
