import CopyEngine
import EVM
import Foundation
import Polymarket
import Synchronization

/// The copy engine's ``ExchangeGateway`` over the CLOB client: books, market rules, orders and
/// look-ups, with the CLOB's answers mapped to the engine's types.
///
/// Market rules come through a ``MarketMetadataCache`` (tick size, minimum size, neg risk), which a
/// tick-size rejection refreshes. A token whose book cannot be read (the CLOB is unreachable, or it
/// has no such market) is not asked again for ``unavailableFor``: in paper mode the engine then
/// prices fills from the target's trade (flagged), and a slow or offline CLOB does not hold up
/// every trade. When the CLOB cannot be reached at all (refused, unanswered), market data is not
/// asked for ``unreachableFor`` for any token.
///
/// A book can be asked for ahead of the engine (``prefetchBook(tokenID:)``, as soon as the node
/// announces a trade, while the listener still checks and stores it): the engine's next
/// ``book(tokenID:)`` of that token then awaits that request instead of making its own, provided
/// it was made less than ``prefetchLifetime`` ago and after this gateway's last order of the token
/// (a book requested before our own order would not show it). Each prefetched book is used once.
/// When more trades of a token were announced than books taken, the answer to our order of that
/// token gives the next one its book at once (the next trade of a token waits for the order of
/// the one before it): the book that order was priced on, less what it took, when the exchange's
/// answer is what that book predicts (a taker order, FAK or FOK, matched as the book says, within
/// rounding); otherwise the book is requested again at the answer. While our orders of a token
/// are in flight (the engine decides the next trade of a side beside the order before it), the
/// token's book is the one they were priced on less what they may take at their limits.
public final class ClobGateway: ExchangeGateway {
    private struct Prefetch {
        var requestedAt: ContinuousClock.Instant
        var request: Task<OrderBook, any Error>
    }

    private struct Prefetching {
        /// Requests not taken yet, one per token.
        var requests: [UInt256: Prefetch] = [:]
        /// When each announced trade whose book was not taken yet was announced, per token.
        var waiting: [UInt256: [ContinuousClock.Instant]] = [:]
        /// When our last order of each token was sent.
        var lastOrder: [UInt256: ContinuousClock.Instant] = [:]
        /// The last book of each token handed to the engine (what its next order is priced on), and
        /// when it was requested (or derived).
        var served: [UInt256: (book: MarketBook, at: ContinuousClock.Instant)] = [:]
        /// Books derived from our order's answer, for the next trade of the token, when made.
        var derived: [UInt256: (book: MarketBook, at: ContinuousClock.Instant)] = [:]
        /// Our orders of each token sent and not answered yet.
        var inFlight: [UInt256: Int] = [:]
        /// While orders of a token are in flight: the book the last of them was priced on less
        /// what each may take (nil when one was priced on no book or on one read before our
        /// previous order).
        var predicted: [UInt256: MarketBook] = [:]

        /// Forgets what is older than `lifetime`; returns the requests to cancel.
        mutating func prune(now: ContinuousClock.Instant, lifetime: Duration) -> [Prefetch] {
            let expired = requests.values.filter { now - $0.requestedAt > lifetime }
            requests = requests.filter { now - $0.value.requestedAt <= lifetime }
            waiting = waiting.compactMapValues { times in
                let kept = times.filter { now - $0 <= lifetime }
                return kept.isEmpty ? nil : kept
            }
            lastOrder = lastOrder.filter { now - $0.value <= lifetime }
            served = served.filter { now - $0.value.at <= lifetime }
            derived = derived.filter { now - $0.value.at <= lifetime }
            return expired
        }

        /// Whether `prefetch` may stand for a fresh request of `token` now: made less than
        /// `lifetime` ago, and after our last order of the token (an earlier book would not show it).
        func usable(
            _ prefetch: Prefetch, for token: UInt256, now: ContinuousClock.Instant, lifetime: Duration
        ) -> Bool {
            now - prefetch.requestedAt <= lifetime && Self.read(prefetch.requestedAt, after: lastOrder[token])
        }

        /// Whether a book requested (or derived) at `at` came after our order of its token sent at
        /// `sent`, so that it shows it; true when no order was sent.
        static func read(_ at: ContinuousClock.Instant, after sent: ContinuousClock.Instant?) -> Bool {
            sent.map { at > $0 } ?? true
        }

        /// Starts a request for `token` on `executor` (if any) unless one is waiting.
        mutating func request(
            _ token: UInt256, now: ContinuousClock.Instant, client: any ClobAPI,
            executor: (any TaskExecutor)?
        ) {
            guard requests[token] == nil else { return }
            requests[token] = Prefetch(
                requestedAt: now,
                request: Task(executorPreference: executor) { try await client.book(tokenID: token) })
        }
    }

    private let client: any ClobAPI
    private let taskExecutor: (any TaskExecutor)?
    private let metadata: MarketMetadataCache
    private let unavailableFor: Duration
    private let unreachableFor: Duration
    /// How long a prefetched book may wait for the engine.
    public let prefetchLifetime: Duration
    private let unavailable = Mutex<[UInt256: ContinuousClock.Instant]>([:])
    private let unreachableUntil = Mutex<ContinuousClock.Instant?>(nil)
    private let markets = Mutex<[UInt256: MarketID]>([:])
    private let prefetching = Mutex(Prefetching())
    /// The account's balances and allowances at the exchange, read in the background (nil: not
    /// checked, as in paper mode).
    public let funds: ExchangeFunds?

    /// Creates a gateway over `client`, with market rules cached by `metadata`. Prefetched books
    /// are requested by tasks on `taskExecutor` (the client's connections' loop), when given.
    public init(
        client: any ClobAPI, metadata: MarketMetadataCache, taskExecutor: (any TaskExecutor)? = nil,
        unavailableFor: Duration = .seconds(60), unreachableFor: Duration = .seconds(10),
        prefetchLifetime: Duration = .seconds(1), funds: ExchangeFunds? = nil
    ) {
        self.funds = funds
        self.client = client
        self.taskExecutor = taskExecutor
        self.metadata = metadata
        self.unavailableFor = unavailableFor
        self.unreachableFor = unreachableFor
        self.prefetchLifetime = prefetchLifetime
    }

    deinit {
        for prefetch in prefetching.withLock({ $0.requests.values }) { prefetch.request.cancel() }
    }

    /// Starts `GET /book` for a trade the engine is about to decide, unless a request for the
    /// token is already waiting, or the CLOB was just found unreachable.
    public func prefetchBook(tokenID: UInt256) {
        let now = ContinuousClock.now
        guard (try? checkReachable(tokenID, now: now)) != nil else { return }
        let client = self.client
        let executor = taskExecutor
        let expired = prefetching.withLock { state -> [Prefetch] in
            let expired = state.prune(now: now, lifetime: prefetchLifetime)
            state.waiting[tokenID, default: []].append(now)
            state.request(tokenID, now: now, client: client, executor: executor)
            return expired
        }
        for prefetch in expired { prefetch.request.cancel() }
    }

    /// A book made ahead for the engine's request of `tokenID`.
    private enum Ahead {
        /// Derived from the answer to our last order of the token.
        case derived(MarketBook)
        /// Requested from the CLOB at `at`.
        case requested(Task<OrderBook, any Error>, at: ContinuousClock.Instant)
    }

    /// The book derived for `tokenID`, or the prefetched request if it may stand for a fresh one
    /// (removed either way).
    private func takePrefetch(_ tokenID: UInt256, now: ContinuousClock.Instant) -> Ahead? {
        let (ahead, stale) = prefetching.withLock { state -> (Ahead?, Prefetch?) in
            if state.waiting[tokenID]?.isEmpty == false { state.waiting[tokenID]!.removeFirst() }
            if let derived = state.derived.removeValue(forKey: tokenID),
                now - derived.at <= prefetchLifetime,
                Prefetching.read(derived.at, after: state.lastOrder[tokenID])
            {
                return (.derived(derived.book), nil)
            }
            guard let prefetch = state.requests.removeValue(forKey: tokenID) else { return (nil, nil) }
            guard state.usable(prefetch, for: tokenID, now: now, lifetime: prefetchLifetime) else {
                return (nil, prefetch)
            }
            return (.requested(prefetch.request, at: prefetch.requestedAt), nil)
        }
        stale?.request.cancel()
        return ahead
    }

    /// The book while our orders of `tokenID` are in flight, if known; it is served as a book read
    /// when the last of them was sent, so that no book is derived from it at that order's answer
    /// (the orders before it may have met another book).
    private func predictedBook(_ tokenID: UInt256) -> MarketBook? {
        let (book, stale) = prefetching.withLock { state -> (MarketBook?, Prefetch?) in
            guard state.inFlight[tokenID, default: 0] > 0, let predicted = state.predicted[tokenID],
                let sent = state.lastOrder[tokenID]
            else { return (nil, nil) }
            if state.waiting[tokenID]?.isEmpty == false { state.waiting[tokenID]!.removeFirst() }
            state.served[tokenID] = (predicted, sent)
            // A request made before the order would not show it.
            let stale = state.requests[tokenID].flatMap { $0.requestedAt > sent ? nil : $0 }
            if stale != nil { state.requests[tokenID] = nil }
            return (predicted, stale)
        }
        stale?.request.cancel()
        return book
    }

    /// Notes our order as sent (books requested before it are not used after it), and the book
    /// its token's next trade is priced on while it is in flight: the book it was priced on less
    /// what it may take. Returns when it was sent, and when our order of the token before it was
    /// (if lately).
    private func ordering(
        _ order: SignedOrder, orderType: OrderType
    ) -> (sent: ContinuousClock.Instant, previous: ContinuousClock.Instant?) {
        let now = ContinuousClock.now
        let tokenID = order.tokenId
        return prefetching.withLock { state in
            let previous = state.lastOrder[tokenID]
            let priced: MarketBook?
            if state.inFlight[tokenID, default: 0] > 0 {
                priced = state.predicted[tokenID]
            } else if let served = state.served[tokenID], Prefetching.read(served.at, after: previous) {
                priced = served.book
            } else {
                priced = nil
            }
            state.predicted[tokenID] = priced.flatMap {
                Self.taking($0, by: order, orderType: orderType)?.left
            }
            state.inFlight[tokenID, default: 0] += 1
            state.lastOrder[tokenID] = now
            return (now, previous)
        }
    }

    /// Our order was answered (`answer`, nil when it was not accepted as sent; `sent` as
    /// ``ordering(_:)`` returned). The next book of the token is derived from the book the order
    /// was priced on when the answer bears it out (for any next trade of the token: one whose
    /// announcement asked for no book, such as a SELL of what this order bought, gets it too).
    /// That book is the last one served, if it was requested after our previous order of the
    /// token and no other order of it was sent since this one. Otherwise, if another announced
    /// trade of the token waits for its book, that book is requested now. A request already under
    /// way is dropped: the CLOB may have answered it before our order.
    private func ordered(
        _ order: SignedOrder, orderType: OrderType, answer: ExchangeOrder?,
        sent: (sent: ContinuousClock.Instant, previous: ContinuousClock.Instant?)
    ) {
        let now = ContinuousClock.now
        let client = self.client
        let executor = taskExecutor
        let tokenID = order.tokenId
        let dropped = prefetching.withLock { state -> Prefetch? in
            let dropped = state.requests.removeValue(forKey: tokenID)
            state.derived[tokenID] = nil
            state.inFlight[tokenID, default: 1] -= 1
            if state.inFlight[tokenID]! <= 0 {
                state.inFlight[tokenID] = nil
                state.predicted[tokenID] = nil
            }
            if let answer, let served = state.served[tokenID], state.lastOrder[tokenID] == sent.sent,
                Prefetching.read(served.at, after: sent.previous),
                let left = Self.book(served.book, after: order, orderType: orderType, answer: answer)
            {
                state.derived[tokenID] = (left, now)
            } else if state.waiting[tokenID]?.contains(where: { now - $0 <= prefetchLifetime }) == true {
                state.request(tokenID, now: now, client: client, executor: executor)
            }
            return dropped
        }
        dropped?.request.cancel()
    }

    /// `book` less what `order` took, when `answer` is what `book` predicts: a taker order (FAK or
    /// FOK) whose matched shares are what the book's levels give at its limit, and whose matched
    /// collateral is theirs within a millionth per level (the exchange rounds each level's
    /// amount). Nil otherwise: the book the order met was not this one.
    public static func book(
        _ book: MarketBook, after order: SignedOrder, orderType: OrderType, answer: ExchangeOrder
    ) -> MarketBook? {
        guard orderType == .fak || orderType == .fok,
            answer.status == .matched || answer.status == .unmatched,
            let (taken, left) = taking(book, by: order, orderType: orderType)
        else { return nil }
        let difference = taken.exactNotional / Fixed6.scale - answer.matchedCollateral.micros
        guard taken.totalSize == answer.matchedShares, abs(difference) <= Int128(max(taken.count, 1)) else {
            return nil
        }
        return left
    }

    /// The levels of `book` that `order` may take (as a taker: from the best, while within its
    /// limit, up to its size; nothing for a FOK they cannot fill), and the book left. Nil for
    /// amounts above 2^63 millionths.
    static func taking(
        _ book: MarketBook, by order: SignedOrder, orderType: OrderType
    ) -> (taken: [PriceLevel], left: MarketBook)? {
        let (maker, taker): (UInt256, UInt256)
        switch order.payload {
        case .v1(let o): (maker, taker) = (o.makerAmount, o.takerAmount)
        case .v2(let o): (maker, taker) = (o.makerAmount, o.takerAmount)
        }
        let buy = order.side == .buy
        // Amounts of at most 2^63 millionths, so that the products below fit in 128 bits.
        guard let shares = (buy ? taker : maker).uint128, let collateral = (buy ? maker : taker).uint128,
            shares > 0, shares <= UInt128(Int64.max), collateral <= UInt128(Int64.max)
        else { return nil }
        let orderShares = Fixed6(micros: Int128(shares))
        // The limit is the order's own ratio: price × shares against collateral, exactly.
        let bound = Int128(collateral) * Fixed6.scale
        let accepts = { (price: Fixed6) -> Bool in
            let cost = price.micros * Int128(shares)
            return buy ? cost <= bound : cost >= bound
        }
        if buy {
            // A BUY spends up to its collateral, at the levels' prices (as the stand-in and the
            // exchange match it): FOK only when all of it is spent, to a unit per level.
            let spend = Fixed6(micros: Int128(collateral))
            let (taken, cost, left) = book.buying(collateral: spend, while: accepts)
            if orderType == .fok, (spend - cost).micros > Int128(taken.count) { return ([], book) }
            return (taken, left)
        }
        let (taken, left) = book.taking(order.side, shares: orderShares, while: accepts)
        if orderType == .fok, taken.totalSize < orderShares { return ([], book) }
        return (taken, left)
    }

    /// Fails at once while the CLOB was just found unreachable, or the token's book unavailable.
    private func checkReachable(_ tokenID: UInt256, now: ContinuousClock.Instant) throws {
        if let until = unreachableUntil.withLock({ $0 }), until > now {
            throw GatewayError.transport("the CLOB was unreachable moments ago")
        }
        if let until = unavailable.withLock({ $0[tokenID] }), until > now {
            throw GatewayError.transport("the book of token \(tokenID) was unavailable moments ago")
        }
    }

    /// Remembers a failed market-data request.
    private func failed(_ tokenID: UInt256, _ error: any Error, now: ContinuousClock.Instant) {
        if let clob = error as? ClobError, [.notSent, .noAnswer].contains(clob.kind) {
            unreachableUntil.withLock { $0 = now + unreachableFor }
        } else {
            unavailable.withLock { $0[tokenID] = now + unavailableFor }
        }
    }

    /// `GET /book`, as the engine's book (with the market and its rules).
    public func book(tokenID: UInt256) async throws -> MarketBook {
        let now = ContinuousClock.now
        try checkReachable(tokenID, now: now)
        let book: OrderBook
        var requestedAt = now
        if let predicted = predictedBook(tokenID) { return predicted }
        do {
            switch takePrefetch(tokenID, now: now) {
            case .derived(let derived):
                prefetching.withLock { $0.served[tokenID] = (derived, now) }
                return derived
            case .requested(let request, let at):
                requestedAt = at
                book = try await request.value
            case nil: book = try await client.book(tokenID: tokenID)
            }
        } catch {
            failed(tokenID, error, now: now)
            throw Self.gatewayError(error)
        }
        unavailable.withLock { $0[tokenID] = nil }
        let market = (try? Bytes32(hex: book.market)).map(MarketID.init)
        if let market { markets.withLock { $0[tokenID] = market } }
        let served = MarketBook(
            tokenId: tokenID, bids: book.bids, asks: book.asks, market: market, parameters: book.parameters)
        prefetching.withLock { $0.served[tokenID] = (served, requestedAt) }
        return served
    }

    /// Tick size, minimum size and neg risk, from the cache.
    public func marketParameters(tokenID: UInt256) async throws -> MarketParameters {
        let now = ContinuousClock.now
        try checkReachable(tokenID, now: now)
        do {
            return try await metadata.marketParameters(tokenID: tokenID)
        } catch {
            failed(tokenID, error, now: now)
            throw Self.gatewayError(error)
        }
    }

    /// The token's market (condition id), from its book.
    public func market(of tokenID: UInt256) async throws -> MarketID {
        if let known = markets.withLock({ $0[tokenID] }) { return known }
        guard let market = try await book(tokenID: tokenID).market else {
            throw GatewayError.transport("the CLOB's book of token \(tokenID) names no market")
        }
        return market
    }

    /// `POST /order`. A lost answer the client could not resolve by look-up is a fault (the engine
    /// looks the order up again later); a definitive refusal is ``GatewayError/rejected(_:)``.
    public func post(_ order: SignedOrder, orderType: OrderType) async throws -> ExchangeOrder {
        try await post(order, orderType: orderType, sent: {})
    }

    /// `POST /order`, calling `sent` once the order is noted as in flight: from then on, the book of
    /// its token is the one the order was priced on less what it may take.
    public func post(
        _ order: SignedOrder, orderType: OrderType, sent notify: @escaping @Sendable () -> Void
    ) async throws -> ExchangeOrder {
        let sent = ordering(order, orderType: orderType)
        notify()
        let outcome = await client.postOrder(order, type: orderType)
        let answer: ExchangeOrder
        switch outcome {
        case .accepted(let acceptance):
            answer = Self.order(order, acceptance)
            ordered(order, orderType: orderType, answer: answer, sent: sent)
        case .rejected(let error) where error.kind == .unfilled:
            // A market order that met nothing is killed with an error answer: nothing traded.
            answer = Self.killed(order)
            ordered(order, orderType: orderType, answer: answer, sent: sent)
        case .rejected(let error) where error.kind == .duplicateOrder:
            // The exchange has this very order (same hash) from an earlier post: what it did is
            // learned as for a lost answer.
            ordered(order, orderType: orderType, answer: nil, sent: sent)
            answer = try await placed(order, orderType: orderType, cause: error)
        case .rejected(let error):
            ordered(order, orderType: orderType, answer: nil, sent: sent)
            if error.kind == .tickSize { await metadata.invalidate(tokenID: order.tokenId) }
            throw Self.gatewayError(error)
        case .resolved(let lost):
            // What the order met is not known from a lost answer.
            ordered(order, orderType: orderType, answer: nil, sent: sent)
            switch lost.resolution {
            case .found:
                // The record's price is the order's limit, not what it traded at: the trades say.
                guard let state = try await lookup(order) else {
                    throw GatewayError.transport("order \(order.orderHash.hex) was found, then not")
                }
                answer = state
            case .reposted(let acceptance): answer = Self.order(order, acceptance)
            case .repostRejected(let error) where error.kind == .unfilled:
                answer = Self.killed(order)
            case .repostRejected(let error): throw Self.gatewayError(error)
            case .undetermined(let error):
                // A filled market order may show in no look-up, only in the trades.
                guard let state = try? await lookup(order) else {
                    throw GatewayError.transport("answer lost and the order is not found yet: \(error)")
                }
                answer = state
            }
        }
        funds?.note(answer, side: order.side, tokenID: order.tokenId)
        return answer
    }

    /// What became of an order the exchange says it already has (a re-post answered
    /// `Duplicated`): its look-up, or its trades. A market order the exchange shows nothing of
    /// was killed without a match (its look-up may answer nothing for it, py-clob-client #217);
    /// for a resting order that is not known yet.
    private func placed(
        _ order: SignedOrder, orderType: OrderType, cause: ClobError
    ) async throws -> ExchangeOrder {
        if let state = try await lookup(order) { return state }
        guard AmountPrecision.isMarket(orderType) else { throw Self.gatewayError(cause) }
        return Self.killed(order)
    }

    /// What the exchange did with `order`: `GET /data/order/{hash}` for its state, and, when it
    /// matched anything or shows nothing, `GET /data/trades` (our maker address, the token, from
    /// a minute before the order's timestamp) for what it traded at the prices it traded at. The
    /// record's price is the order's limit, not a fill price, and a filled market order may have
    /// no record at all (py-clob-client #217). Nil when neither shows the order.
    public func lookup(_ order: SignedOrder) async throws -> ExchangeOrder? {
        let hash = order.orderHash
        let record: OrderRecord?
        do {
            record = try await client.order(id: hash.hex)
        } catch {
            throw Self.gatewayError(error)
        }
        var state: ExchangeOrder?
        if let record {
            guard let found = Self.order(record, hash: hash) else {
                throw GatewayError.transport("unreadable order record for \(hash.hex)")
            }
            if found.matchedShares.isZero { return found }
            state = found
        }
        let fill: OrderFill?
        do {
            fill = TradeFills.fill(of: hash.hex, in: try await client.trades(Self.tradeQuery(order)))
        } catch {
            throw Self.gatewayError(error)
        }
        guard let fill else {
            guard let state else { return nil }
            throw GatewayError.transport(
                "order \(hash.hex) matched \(state.matchedShares) shares, and its trades do not show yet")
        }
        return ExchangeOrder(
            orderHash: hash, status: state?.status ?? .matched, matchedShares: Self.amount(fill.shares),
            matchedCollateral: Self.amount(fill.collateral), fee: state?.fee ?? .zero)
    }

    /// The trades that may hold `order`'s fills: its maker's, of its token, from a minute before
    /// it was signed (V1 orders carry no timestamp: all of them).
    static func tradeQuery(_ order: SignedOrder) -> TradeQuery {
        switch order.payload {
        case .v1(let o): return TradeQuery(makerAddress: o.maker, assetID: o.tokenId)
        case .v2(let o):
            let seconds = Int64(clamping: (o.timestamp.uint64 ?? 0) / 1_000)
            return TradeQuery(makerAddress: o.maker, assetID: o.tokenId, after: max(0, seconds - 60))
        }
    }

    /// A token amount (6 decimals) as an engine amount.
    static func amount(_ units: UInt256) -> Fixed6 { ExchangeFunds.amount(units) }

    /// A market order killed without a match: nothing traded.
    static func killed(_ order: SignedOrder) -> ExchangeOrder {
        ExchangeOrder(
            orderHash: order.orderHash, status: .unmatched, matchedShares: .zero, matchedCollateral: .zero)
    }

    /// Reads the account's collateral and the balances of `tokens` (with the allowances) into
    /// ``funds``; does nothing without them.
    public func refreshFunds(signatureType: SignatureType, tokens: some Sequence<UInt256>) async throws {
        guard let funds else { return }
        do {
            try await funds.refresh(client: client, signatureType: signatureType, tokens: tokens)
        } catch {
            throw Self.gatewayError(error)
        }
    }

    /// Why the account cannot fund an order, from the balances last read (no round trip).
    public func fundingShortfall(
        side: Side, tokenID: UInt256, shares: Fixed6, collateral: Fixed6, negRisk: Bool
    ) -> SkipReason? {
        funds?.shortfall(
            side: side, tokenID: tokenID, shares: shares, collateral: collateral, negRisk: negRisk)
    }

    /// Not read from the exchange: the engine's ledger starts from the configured budget.
    public func balance() async throws -> Fixed6 {
        throw GatewayError.transport(
            "the balance is not read from the CLOB; copy.starting_usdc is the budget")
    }

    // MARK: Mapping

    /// The engine's error for a CLOB error.
    static func gatewayError(_ error: any Error) -> GatewayError {
        guard let error = error as? ClobError else { return GatewayError(error) }
        switch error.kind {
        case .rateLimited: return .rateLimited
        case .serverError: return .server(status: error.status ?? 500, message: error.message)
        // Trading disabled (503, cancel-only): nothing placed, but an exchange fault the breaker
        // counts, not a verdict on the order.
        case .tradingDisabled: return .server(status: error.status ?? 503, message: error.message)
        case .noAnswer: return .timeout
        case .notSent, .invalidResponse, .cancelled, .unknown:
            return .transport(error.description)
        case .invalidSignature, .minimumSize, .tickSize, .balanceAllowance, .marketClosed, .duplicateOrder,
            .unfilled,
            .invalidOrder, .unauthorized, .notFound, .invalidRequest:
            return .rejected(error.description)
        }
    }

    /// The state an acceptance reports: its status and what matched at once (`makingAmount` is
    /// what we gave: collateral for a BUY, shares for a SELL; `takingAmount` what we got).
    static func order(_ order: SignedOrder, _ acceptance: OrderAcceptance) -> ExchangeOrder {
        let making = Fixed6(acceptance.makingAmount) ?? .zero
        let taking = Fixed6(acceptance.takingAmount) ?? .zero
        let buy = order.side == .buy
        return ExchangeOrder(
            orderHash: order.orderHash, status: status(acceptance.status, matched: buy ? taking : making),
            matchedShares: buy ? taking : making, matchedCollateral: buy ? making : taking)
    }

    /// The state a look-up reports, with the shares matched and no collateral (the record's price
    /// is the order's limit: what the shares cost is in the trades); nil when its numbers are
    /// unreadable.
    static func order(_ record: OrderRecord, hash: Bytes32) -> ExchangeOrder? {
        let matched = record.sizeMatched.isEmpty ? Fixed6.zero : Fixed6(record.sizeMatched)
        guard let matched else { return nil }
        return ExchangeOrder(
            orderHash: hash, status: status(record.status, matched: matched), matchedShares: matched,
            matchedCollateral: .zero)
    }

    /// `live`, `LIVE`, `ORDER_STATUS_LIVE`, … as an order status. A cancelled order with a partial
    /// match counts as matched (the rest was cancelled, as for FAK).
    static func status(_ text: String, matched: Fixed6) -> ExchangeOrderStatus {
        var name = text.lowercased()
        if name.hasPrefix("order_status_") { name.removeFirst("order_status_".count) }
        switch name {
        case "matched", "filled": return .matched
        case "delayed": return .delayed
        case "unmatched": return matched.isPositive ? .matched : .unmatched
        case "canceled", "cancelled", "canceled_market_resolved", "invalid":
            return matched.isPositive ? .matched : .cancelled
        default: return .live
        }
    }
}
