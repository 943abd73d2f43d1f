import EVM
import Polymarket
import Synchronization

/// What an order in flight holds back until it settles: collateral and exposure for a BUY,
/// shares for a SELL.
public struct Reservation: Hashable, Sendable {
    public var id: UInt64
    public var tokenId: UInt256
    public var market: MarketID?
    public var side: Side
    /// Shares (SELL) held back.
    public var shares: Fixed6
    /// Collateral (BUY) held back, counted as exposure.
    public var collateral: Fixed6
}

/// The ledger shared by all executors of one account, with reservations for orders in flight so
/// concurrent executors never together break a limit: a risk check and its reservation happen
/// under one lock.
public final class Portfolio: Sendable {
    struct State {
        var ledger: Ledger
        var reservations: [UInt64: Reservation] = [:]
        var nextID: UInt64 = 1
        /// Every stored fill up to this sequence is booked in ``ledger``.
        var bookedThrough: Int64
        /// Booked fills above ``bookedThrough`` (a later fill booked before an earlier one).
        var bookedAbove: Set<Int64> = []
    }

    private let state: Mutex<State>

    /// Creates a portfolio over `ledger`, which includes the stored fills up to `bookedThrough`.
    public init(ledger: Ledger, bookedThrough: Int64 = 0) {
        self.state = Mutex(State(ledger: ledger, bookedThrough: bookedThrough))
    }

    /// The ledger with the sequence of the last fill it includes, when every fill up to that one is
    /// booked (nil while an earlier fill is still on its way, so a snapshot never skips a fill).
    public var snapshot: LedgerSnapshot? {
        state.withLock {
            $0.bookedAbove.isEmpty ? LedgerSnapshot(ledger: $0.ledger, throughFill: $0.bookedThrough) : nil
        }
    }

    /// A copy of the ledger.
    public var ledger: Ledger { state.withLock { $0.ledger } }

    /// Reservations of orders in flight.
    public var reservations: [Reservation] {
        state.withLock { Array($0.reservations.values).sorted { $0.id < $1.id } }
    }

    /// Cash not reserved by BUYs in flight.
    public var availableCash: Fixed6 {
        state.withLock { Self.view(of: $0, token: nil, market: nil).availableCash }
    }

    /// Shares of `tokenId` held and not reserved by SELLs in flight.
    public func availableShares(_ tokenId: UInt256) -> Fixed6 {
        state.withLock { state in
            state.reservations.values.reduce(state.ledger.shares(tokenId)) {
                $0 - ($1.side == .sell && $1.tokenId == tokenId ? $1.shares : .zero)
            }
        }
    }

    /// Whether a BUY of `tokenId` is in flight (reserved, not settled yet).
    public func buying(_ tokenId: UInt256) -> Bool {
        state.withLock { $0.reservations.values.contains { $0.side == .buy && $0.tokenId == tokenId } }
    }

    /// Starts a new UTC day if `day` is past the ledger's.
    public func roll(to day: UTCDay) { state.withLock { $0.ledger.roll(to: day) } }

    /// Records the last seen price of a token.
    public func mark(_ tokenId: UInt256, price: Fixed6) {
        state.withLock { $0.ledger.mark(tokenId, price: price) }
    }

    /// Replaces the available cash (live mode: the exchange's balance, after fills are booked).
    public func setCash(_ cash: Fixed6) { state.withLock { $0.ledger.cash = cash } }

    /// The exposure a BUY check of `tokenId` in `market` sees now.
    public func exposure(token: UInt256, market: MarketID?) -> ExposureView {
        state.withLock { Self.view(of: $0, token: token, market: market) }
    }

    static func view(of state: State, token: UInt256?, market: MarketID?) -> ExposureView {
        let ledger = state.ledger
        var view = ExposureView(
            token: token.map { ledger.exposure(token: $0) } ?? .zero,
            market: market.map { ledger.exposure(market: $0) } ?? .zero,
            total: ledger.totalExposure, availableCash: ledger.cash, dailyPnL: ledger.dailyPnL.total)
        for r in state.reservations.values where r.side == .buy {
            if r.tokenId == token { view.token = view.token + r.collateral }
            if let market, r.market == market { view.market = view.market + r.collateral }
            view.total = view.total + r.collateral
            view.availableCash = view.availableCash - r.collateral
        }
        return view
    }

    /// Checks the BUY limits and, if none is broken, reserves `collateral`, atomically.
    public func reserveBuy(
        tokenId: UInt256, market: MarketID?, shares: Fixed6, collateral: Fixed6, limits: RiskLimits,
        day: UTCDay
    ) -> Result<Reservation, SkipReasonError> {
        state.withLock { state in
            state.ledger.roll(to: day)
            let view = Self.view(of: state, token: tokenId, market: market)
            if let skip = RiskRules.buy(
                collateral: collateral, market: market, exposure: view, limits: limits)
            {
                return .failure(SkipReasonError(reason: skip))
            }
            return .success(Self.insert(&state, tokenId, market, .buy, shares, collateral))
        }
    }

    /// Reserves `shares` of `tokenId` for a SELL if that many are available; nil otherwise.
    public func reserveSell(tokenId: UInt256, market: MarketID?, shares: Fixed6) -> Reservation? {
        state.withLock { state in
            let reserved = state.reservations.values.reduce(Fixed6.zero) {
                $0 + ($1.side == .sell && $1.tokenId == tokenId ? $1.shares : .zero)
            }
            guard shares.isPositive, state.ledger.shares(tokenId) - reserved >= shares else { return nil }
            return Self.insert(&state, tokenId, market, .sell, shares, .zero)
        }
    }

    private static func insert(
        _ state: inout State, _ tokenId: UInt256, _ market: MarketID?, _ side: Side, _ shares: Fixed6,
        _ collateral: Fixed6
    ) -> Reservation {
        let reservation = Reservation(
            id: state.nextID, tokenId: tokenId, market: market, side: side, shares: shares,
            collateral: collateral)
        state.nextID += 1
        state.reservations[reservation.id] = reservation
        return reservation
    }

    /// Releases a reservation and books its fill (if any), atomically. Returns the realised PnL.
    /// `sequence` is the stored fill's sequence (fills already booked are ignored).
    @discardableResult
    public func settle(
        _ reservation: Reservation?, fill: LedgerFill?, sequence: Int64? = nil
    ) throws(LedgerError)
        -> Fixed6
    {
        try state.withLock { (state: inout State) throws(LedgerError) -> Fixed6 in
            if let reservation { state.reservations[reservation.id] = nil }
            guard let fill else { return .zero }
            if let sequence {
                guard sequence > state.bookedThrough, !state.bookedAbove.contains(sequence) else {
                    return .zero
                }
                // Marked booked even if the ledger refuses it (logged by the caller), so a snapshot
                // is never blocked by a fill that can never be booked.
                state.bookedAbove.insert(sequence)
                while state.bookedAbove.remove(state.bookedThrough + 1) != nil { state.bookedThrough += 1 }
            }
            guard fill.shares.isPositive || fill.collateral.isPositive else { return .zero }
            return try state.ledger.apply(fill)
        }
    }

    /// Releases a reservation without a fill.
    public func release(_ reservation: Reservation) {
        state.withLock { _ = $0.reservations.removeValue(forKey: reservation.id) }
    }
}

/// A skip reason carried through `Result`.
public struct SkipReasonError: Error, Hashable, Sendable {
    public var reason: SkipReason
}
