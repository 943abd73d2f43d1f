import CopyEngine
import EVM
import Logging
import Polymarket
import Synchronization

/// A clock the test moves by hand.
final class ManualClock: WallClock {
    private let time: Mutex<UnixTime>

    init(_ start: UnixTime = UnixTime(seconds: 1_760_000_000)) { time = Mutex(start) }

    func now() -> UnixTime { time.withLock { $0 } }

    func advance(seconds: Int64) { time.withLock { $0 = $0.adding(seconds: seconds) } }
}

/// `Fixed6` from a literal in tests.
func d(_ text: String) -> Fixed6 { Fixed6(text)! }

/// An exact decimal from a literal in tests.
func x(_ text: String) -> ExactDecimal { ExactDecimal(text)! }

let wallet = try! Address("0x1111111111111111111111111111111111111111")
let otherWallet = try! Address("0x2222222222222222222222222222222222222222")
let marketA = MarketID(Bytes32(0xA, 0, 0, 1))
let marketB = MarketID(Bytes32(0xB, 0, 0, 2))

func identity(_ n: UInt64) -> TradeIdentity { TradeIdentity(Bytes32(0, 0, 7, n)) }

/// A trade of `wallet` of `shares` at `price` (collateral = shares × price).
func tradeEvent(
    side: TradeSide, token: UInt64, shares: String, price: String, wallet: Address = wallet, n: UInt64 = 1
) -> TradeEvent {
    let s = d(shares)
    let p = d(price)
    let c = Fixed6.multiply(s, p, rounding: .halfEven)!
    return TradeEvent(
        exchange: "ctf_v2", contract: .zero, blockNumber: 100 + n, blockHash: Bytes32(0, 0, 0, n),
        transactionHash: Bytes32(1, 0, 0, n), logIndex: n, orderHash: Bytes32(2, 0, 0, n), wallet: wallet,
        counterparty: .zero, side: side, tokenId: UInt256(token), shares: s.fixedPoint6!,
        collateral: c.fixedPoint6!,
        price: Price.of(collateral: c.fixedPoint6!.units, shares: s.fixedPoint6!.units)!,
        fee: FixedPoint6(units: UInt64(0)), removed: false)
}

func copyTrade(
    _ n: UInt64, _ side: TradeSide, token: UInt64, shares: String, price: String, wallet: Address = wallet,
    blockTime: UnixTime? = nil, kind: CopyTrade.Kind = .trade
) -> CopyTrade {
    CopyTrade(
        identity: identity(n), kind: kind,
        trade: tradeEvent(side: side, token: token, shares: shares, price: price, wallet: wallet, n: n),
        blockTime: blockTime)
}

let cents = MarketParameters(tickSize: .hundredth, minOrderSize: x("5"), negRisk: false)

func book(
    _ token: UInt64, bids: [(String, String)] = [], asks: [(String, String)] = [], market: MarketID? = marketA
)
    -> MarketBook
{
    MarketBook(
        tokenId: UInt256(token), bids: bids.map { PriceLevel(price: d($0.0), size: d($0.1)) },
        asks: asks.map { PriceLevel(price: d($0.0), size: d($0.1)) }, market: market, parameters: cents)
}

/// An exchange stand-in: books per token, scripted post outcomes, recorded posts.
final class FakeGateway: ExchangeGateway {
    struct State {
        var books: [UInt256: MarketBook] = [:]
        var markets: [UInt256: MarketID] = [:]
        var parameters: MarketParameters? = cents
        var posts: [SignedOrder] = []
        /// Outcomes for the next posts (default: fully matched at the limit).
        var postScript: [Result<ExchangeOrderStatus, GatewayError>] = []
        /// Orders the exchange knows (accepted posts, or planted by the test).
        var known: [Bytes32: ExchangeOrder] = [:]
        var lookups = 0
        var lookupFails = false
        var balance = Fixed6(1000)
        /// Delay of each `book` call in milliseconds (to expose concurrency).
        var bookDelayMilliseconds: Int = 0
        var activeBooks = 0
        var maxActiveBooks = 0
        /// Called at the start of each post (to look at the store at that moment).
        var onPost: (@Sendable () -> Void)?
        /// Awaited at the start of each post (to hold a post in flight).
        var holdPost: (@Sendable () async -> Void)?
        /// Tokens whose book was prefetched, in order.
        var prefetched: [UInt256] = []
        /// The tokens whose book was read, in order.
        var bookReads: [UInt256] = []
        /// What ``fundingShortfall(side:tokenID:shares:collateral:negRisk:)`` answers.
        var shortfall: SkipReason?
    }

    let state = Mutex(State())

    func setBook(_ book: MarketBook) { state.withLock { $0.books[book.tokenId] = book } }

    var posts: [SignedOrder] { state.withLock { $0.posts } }

    /// Holds every post until `release` is called: `started` yields as each one starts waiting.
    func holdPosts() -> (started: AsyncStream<Void>, release: @Sendable () -> Void) {
        let (started, starting) = AsyncStream.makeStream(of: Void.self)
        let (release, releasing) = AsyncStream.makeStream(of: Void.self)
        state.withLock {
            $0.holdPost = {
                starting.yield()
                for await _ in release { break }
            }
        }
        return (started, { releasing.yield() })
    }

    func book(tokenID: UInt256) async throws -> MarketBook {
        let delay = state.withLock { s -> Int in
            s.bookReads.append(tokenID)
            s.activeBooks += 1
            s.maxActiveBooks = max(s.maxActiveBooks, s.activeBooks)
            return s.bookDelayMilliseconds
        }
        if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
        return try state.withLock { (s: inout State) throws(GatewayError) -> MarketBook in
            s.activeBooks -= 1
            guard let book = s.books[tokenID] else { throw .transport("no book") }
            return book
        }
    }

    func marketParameters(tokenID: UInt256) async throws -> MarketParameters {
        guard let p = state.withLock({ $0.parameters }) else { throw GatewayError.timeout }
        return p
    }

    func market(of tokenID: UInt256) async throws -> MarketID {
        guard let m = state.withLock({ $0.markets[tokenID] }) else {
            throw GatewayError.transport("no market")
        }
        return m
    }

    func post(_ order: SignedOrder, orderType: OrderType) async throws -> ExchangeOrder {
        state.withLock { $0.onPost }?()
        await state.withLock { $0.holdPost }?()
        return try state.withLock { (s: inout State) throws(GatewayError) -> ExchangeOrder in
            s.posts.append(order)
            let outcome = s.postScript.isEmpty ? .success(.matched) : s.postScript.removeFirst()
            guard case .v2(let o) = order.payload else { throw .rejected("v1") }
            let shares = o.side == .buy ? o.takerAmount : o.makerAmount
            let collateral = o.side == .buy ? o.makerAmount : o.takerAmount
            let full = ExchangeOrder(
                orderHash: order.orderHash, status: .matched,
                matchedShares: Fixed6(FixedPoint6(units: shares))!,
                matchedCollateral: Fixed6(FixedPoint6(units: collateral))!)
            switch outcome {
            case .success(let status):
                var result = full
                result.status = status
                if status == .unmatched || status == .live {
                    result.matchedShares = .zero
                    result.matchedCollateral = .zero
                }
                s.known[order.orderHash] = result
                return result
            case .failure(let error):
                // A lost response: the exchange accepted the order, the answer never came back.
                if case .timeout = error { s.known[order.orderHash] = full }
                throw error
            }
        }
    }

    func lookup(_ order: SignedOrder) async throws -> ExchangeOrder? {
        try state.withLock { (s: inout State) throws(GatewayError) -> ExchangeOrder? in
            s.lookups += 1
            if s.lookupFails { throw .timeout }
            return s.known[order.orderHash]
        }
    }

    func balance() async throws -> Fixed6 { state.withLock { $0.balance } }

    func prefetchBook(tokenID: UInt256) { state.withLock { $0.prefetched.append(tokenID) } }

    func fundingShortfall(
        side: Side, tokenID: UInt256, shares: Fixed6, collateral: Fixed6, negRisk: Bool
    ) -> SkipReason? { state.withLock { $0.shortfall } }
}

/// A signer with a fixed test key.
func testSigner(clock: ManualClock) -> BuilderOrderSigner {
    let key = try! PrivateKey(bytes: [UInt8](repeating: 0, count: 31) + [7])
    let builder = OrderBuilder(signer: key, clock: { UInt64(clock.now().milliseconds) })
    let contracts = ExchangeContracts(
        domainVersion: "2", chainId: 137,
        exchange: try! Address("0xE111180000d2663C0091e4f400237545B87B996B"),
        negRiskExchange: try! Address("0xe2222d279d744050d28e00520010520000310F59"))
    return BuilderOrderSigner(builder: builder, contracts: contracts)
}

/// An engine over in-memory state with the given configuration.
struct Harness {
    let clock = ManualClock()
    let store: InMemoryCopyStateStore
    let gateway: FakeGateway
    let kill = FlagKillSwitch()
    let engine: CopyEngine

    /// `store` and `gateway` default to fresh ones (pass them to restart on what another harness
    /// left).
    init(
        mode: ExecutionMode = .paper, sizing: SizingRule = .fixedCollateral(d("10")),
        risk: RiskLimits = RiskLimits(),
        cash: String = "1000", breaker: CircuitBreaker.Configuration = .init(), orderType: OrderType = .fak,
        feeRate: String = "0", unknownHolding: UnknownHoldingExit = .sellAll,
        store: InMemoryCopyStateStore = InMemoryCopyStateStore(), gateway: FakeGateway = FakeGateway()
    ) {
        self.store = store
        self.gateway = gateway
        let configuration = EngineConfiguration(
            mode: mode, defaultPolicy: CopyPolicy(sizing: sizing, unknownHoldingExit: unknownHolding),
            risk: risk,
            orderType: orderType, paperFeeRate: d(feeRate), fallbackMarket: cents, intentLeaseSeconds: 60)
        engine = CopyEngine(
            configuration: configuration, store: store, gateway: gateway,
            signer: mode == .live ? testSigner(clock: clock) : nil,
            portfolio: Portfolio(ledger: Ledger(cash: d(cash), day: clock.now().utcDay)),
            breaker: CircuitBreaker(configuration: breaker, clock: clock), killSwitch: kill, clock: clock,
            logger: Logger(label: "test"))
    }
}

extension CopyDecision {
    var copiedOrder: CopiedOrder? {
        if case .copied(let order) = self { return order }
        return nil
    }

    var skipReason: SkipReason? {
        if case .skipped(let reason) = self { return reason }
        return nil
    }

    var failure: FailureReason? {
        if case .failed(let reason) = self { return reason }
        return nil
    }
}

extension UInt256: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: UInt64) { self.init(value) }
}
