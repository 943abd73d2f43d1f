import EVM

/// Tick size, minimum order size and neg-risk per token, cached with a time-to-live and a
/// least-recently-used bound. Concurrent look-ups of the same token share one request; a post
/// refused for its tick size refreshes the entry.
public actor MarketMetadataCache: MarketParametersSource {
    /// The source of truth (the CLOB).
    public let source: any MarketParametersSource
    /// The most tokens kept.
    public let capacity: Int
    /// How long an entry is fresh.
    public let timeToLive: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    private struct Entry {
        var parameters: MarketParameters
        var fetched: ContinuousClock.Instant
        var lastUse: UInt64
    }

    private var entries: [UInt256: Entry] = [:]
    private var inFlight: [UInt256: Task<MarketParameters, any Error>] = [:]
    private var useCounter: UInt64 = 0

    /// Creates a cache over `source`. `now` is the monotonic clock (injectable for tests).
    public init(
        source: any MarketParametersSource, capacity: Int = 1024, timeToLive: Duration = .seconds(300),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.source = source
        self.capacity = max(1, capacity)
        self.timeToLive = timeToLive
        self.now = now
    }

    /// The number of tokens cached.
    public var count: Int { entries.count }

    /// The token's parameters: from the cache while fresh, otherwise fetched (once, however many
    /// callers ask at the same time).
    public func marketParameters(tokenID: UInt256) async throws(ClobError) -> MarketParameters {
        let time = now()
        if let entry = entries[tokenID], entry.fetched.duration(to: time) < timeToLive {
            useCounter += 1
            entries[tokenID]?.lastUse = useCounter
            return entry.parameters
        }
        return try await fetch(tokenID: tokenID)
    }

    /// Drops the token's entry; the next look-up fetches it.
    public func invalidate(tokenID: UInt256) {
        entries[tokenID] = nil
    }

    /// Fetches the token's parameters now (joining a fetch already under way).
    @discardableResult
    public func refresh(tokenID: UInt256) async throws(ClobError) -> MarketParameters {
        entries[tokenID] = nil
        return try await fetch(tokenID: tokenID)
    }

    /// Refreshes the token's entry if `outcome` is a refusal for the tick size (the market's tick
    /// changed). Returns the fresh parameters when it did.
    @discardableResult
    public func refreshIfStale(
        after outcome: OrderOutcome, tokenID: UInt256
    ) async throws(ClobError)
        -> MarketParameters?
    {
        let error: ClobError?
        switch outcome {
        case .rejected(let e): error = e
        case .resolved(let lost):
            if case .repostRejected(let e) = lost.resolution { error = e } else { error = nil }
        case .accepted: error = nil
        }
        guard let error, error.kind == .tickSize else { return nil }
        return try await refresh(tokenID: tokenID)
    }

    private func fetch(tokenID: UInt256) async throws(ClobError) -> MarketParameters {
        let task: Task<MarketParameters, any Error>
        if let running = inFlight[tokenID] {
            task = running
        } else {
            let source = self.source
            task = Task { try await source.marketParameters(tokenID: tokenID) }
            inFlight[tokenID] = task
        }
        let result = await task.result
        if inFlight[tokenID] == task { inFlight[tokenID] = nil }
        switch result {
        case .success(let parameters):
            store(parameters, tokenID: tokenID)
            return parameters
        case .failure(let error as ClobError):
            throw error
        case .failure:
            throw ClobError(kind: .cancelled, message: "cancelled")
        }
    }

    private func store(_ parameters: MarketParameters, tokenID: UInt256) {
        useCounter += 1
        entries[tokenID] = Entry(parameters: parameters, fetched: now(), lastUse: useCounter)
        if entries.count > capacity,
            let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            entries[oldest] = nil
        }
    }
}
