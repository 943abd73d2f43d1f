import EVM
import Foundation
import Polymarket
import Store

extension CopyBotConfiguration {
    /// Every problem with these values, errors and warnings, all at once (not just the first).
    ///
    /// Checks endpoints (schemes, TLS for remote hosts), numeric ranges, contradictory limits,
    /// followed wallets (duplicates, the zero address, our own address), the signature type against
    /// the funder and the key, the contracts file and its ABIs (loaded with
    /// `ExchangeRegistry.load`), the store URL, and what live mode needs. It reads the files the
    /// configuration names; it never touches the network.
    ///
    /// With `requiringSecrets` false (commands that only read the store, such as `copybot status`),
    /// live mode does not need its signing key and API credentials.
    public func validate(requiringSecrets: Bool = true) -> [ConfigIssue] {
        var v = Validator()
        v.chain(self)
        v.contracts(self)
        v.store(self)
        v.follow(self)
        v.copy(self)
        v.clob(self)
        // With accounts, each account's live mode is checked with its own keys.
        if accounts.isEmpty, requiringSecrets { v.live(self) }
        v.http(self)
        v.cluster(self)
        return v.issues
    }
}

private struct Validator {
    var issues: [ConfigIssue] = []

    mutating func error(_ keyPath: String, _ message: String, fix: String) {
        issues.append(ConfigIssue(keyPath, message, fix: fix))
    }

    mutating func warning(_ keyPath: String, _ message: String, fix: String) {
        issues.append(.warning(keyPath, message, fix: fix))
    }

    mutating func range<T: Comparable>(
        _ keyPath: String, _ value: T, _ bounds: ClosedRange<T>, unit: String = ""
    ) {
        guard !bounds.contains(value) else { return }
        error(
            keyPath, "\(value)\(unit) is out of range \(bounds.lowerBound)…\(bounds.upperBound)\(unit)",
            fix: "use a value from \(bounds.lowerBound) to \(bounds.upperBound)\(unit)")
    }

    mutating func seconds(_ keyPath: String, _ value: Duration, _ bounds: ClosedRange<Double>) {
        let seconds = Double(value.components.seconds) + Double(value.components.attoseconds) / 1e18
        guard !bounds.contains(seconds) else { return }
        if seconds < bounds.lowerBound, bounds.lowerBound > 0, seconds == 0 {
            error(
                keyPath, "must be more than 0 seconds",
                fix: "use a value from \(bounds.lowerBound) to \(bounds.upperBound) seconds")
        } else {
            error(
                keyPath,
                "\(Self.format(seconds)) s is out of range \(Self.format(bounds.lowerBound))…\(Self.format(bounds.upperBound)) s",
                fix:
                    "use a value from \(Self.format(bounds.lowerBound)) to \(Self.format(bounds.upperBound)) seconds"
            )
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    // MARK: - chain

    mutating func chain(_ c: CopyBotConfiguration) {
        let chain = c.chain
        if chain.chainId == 0 { error("chain.chain_id", "must not be 0", fix: "use 137 for Polygon mainnet") }
        endpoints("chain.ws_urls", chain.wsURLs, secure: "wss", insecure: "ws", what: "WebSocket")
        endpoints("chain.http_urls", chain.httpURLs, secure: "https", insecure: "http", what: "HTTP")
        range("chain.reorg_window", chain.reorgWindow, 1...100_000)
        seconds("chain.stale_after", chain.staleAfter, 1...3_600)
        if chain.staleAfter >= .seconds(1), chain.staleAfter < .seconds(6) {
            warning(
                "chain.stale_after", "shorter than 3 Polygon blocks: healthy subscriptions will be restarted",
                fix: "use 30 unless testing against a fast devnet")
        }
        range("chain.verify_every", chain.verifyEvery, 1...10_000)
        range("chain.hash_read_depth", chain.hashReadDepth, 0...1_000)
        if chain.verifyEvery > chain.reorgWindow, chain.reorgWindow >= 1 {
            error(
                "chain.verify_every",
                "\(chain.verifyEvery) is larger than chain.reorg_window (\(chain.reorgWindow)): a reorg could go unnoticed",
                fix: "make verify_every at most reorg_window (default 4 and 128)")
        }
        if case .block(let block) = chain.startBlock, block == 0 {
            warning(
                "chain.start_block", "starts from genesis: the first backfill will take long",
                fix: "start at the exchanges' first block (33605403) or `latest`")
        }
        range("chain.get_logs_range", chain.getLogsRange, 1...1_000_000)
        range("chain.get_logs_max_range", chain.getLogsMaxRange, 1...1_000_000)
        if chain.getLogsRange > chain.getLogsMaxRange {
            error(
                "chain.get_logs_range",
                "\(chain.getLogsRange) is larger than chain.get_logs_max_range (\(chain.getLogsMaxRange))",
                fix: "make get_logs_range at most get_logs_max_range")
        }
        range("chain.max_message_bytes", chain.maxMessageBytes, 65_536...(1 << 30), unit: " bytes")
        seconds("chain.request_timeout_seconds", chain.requestTimeout, 0.1...600)
        range("chain.buffer_capacity", chain.bufferCapacity, 1...1_000_000)
    }

    mutating func endpoints(
        _ keyPath: String, _ urls: [String], secure: String, insecure: String, what: String
    ) {
        if urls.isEmpty {
            error(
                keyPath, "no \(what) endpoint configured",
                fix: "list at least one \(secure):// URL of your Polygon node provider")
        }
        var seen: [String: Int] = [:]
        for (i, url) in urls.enumerated() {
            let path = "\(keyPath)[\(i)]"
            if let first = seen[url] {
                warning(path, "repeats \(keyPath)[\(first)]", fix: "list each endpoint once")
            }
            seen[url] = seen[url] ?? i
            self.url(path, url, secure: secure, insecure: insecure)
        }
    }

    /// An endpoint URL: the scheme is `secure`, or `insecure` for a loopback host only.
    mutating func url(_ keyPath: String, _ url: String, secure: String, insecure: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            error(
                keyPath, "not a URL (the value is not shown: it may hold an API key)",
                fix: "write \(secure)://host[:port]/path")
            return
        }
        let shown = Redaction.endpoint(url)
        guard scheme == secure || scheme == insecure else {
            error(
                keyPath, "\(shown): the scheme must be \(secure) or \(insecure), not \(scheme)",
                fix: "write \(secure)://…")
            return
        }
        if scheme == insecure, !Self.isLoopback(host) {
            error(
                keyPath, "\(shown): \(insecure):// is unencrypted and only allowed for a loopback host",
                fix: "use \(secure)://\(host)…")
        }
        if let port = components.port, !(1...65_535).contains(port) {
            error(keyPath, "\(shown): port \(port) is out of range", fix: "use a port from 1 to 65535")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasPrefix("127.")
    }

    // MARK: - contracts

    mutating func contracts(_ c: CopyBotConfiguration) {
        let file = c.contracts.file
        let abiDirectory = c.contracts.abiDirectory
        if file.isEmpty {
            error("contracts.file", "must not be empty", fix: "use Config/contracts.polygon.yaml")
            return
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: abiDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            error(
                "contracts.abi_dir", "\(abiDirectory) is not a directory",
                fix:
                    "point it at the directory holding the ABI JSON files (default abi, relative to the working directory)"
            )
            return
        }
        guard FileManager.default.fileExists(atPath: file) else {
            error(
                "contracts.file", "\(file) does not exist",
                fix:
                    "point it at the contracts file (default Config/contracts.polygon.yaml, relative to the working directory)"
            )
            return
        }
        do {
            let registry = try ExchangeRegistry.load(contractsFile: file, abiDirectory: abiDirectory)
            do {
                _ = try ExchangeContracts(
                    registry: registry, exchange: c.clob.exchange, negRiskExchange: c.clob.negRiskExchange,
                    domainVersion: c.clob.domainVersion)
            } catch {
                self.error(
                    error.message.contains("'\(c.clob.negRiskExchange)'")
                        ? "clob.neg_risk_exchange" : "clob.exchange",
                    error.message,
                    fix:
                        "name exchanges of \(file): \(registry.contracts.map(\.name).joined(separator: ", "))"
                )
            }
            if !["1", "2", "3"].contains(c.clob.domainVersion) {
                self.error(
                    "clob.domain_version", "`\(c.clob.domainVersion)` is not an order domain version",
                    fix: "use 2 (Exchange V2), or 3 once Exchange V3 is live")
            }
            if registry.chainId != c.chain.chainId {
                error(
                    "chain.chain_id",
                    "\(c.chain.chainId) differs from the chain of \(file) (\(registry.chainId))",
                    fix:
                        "use the contracts file of chain \(c.chain.chainId), or set chain_id to \(registry.chainId)"
                )
            }
        } catch {
            let inABI = error.message.contains("ABI file")
            let location = error.keyPath.isEmpty ? "" : " at \(error.keyPath)"
            self.error(
                inABI ? "contracts.abi_dir" : "contracts.file", "\(error.file)\(location): \(error.message)",
                fix: inABI
                    ? "put the ABI file in \(abiDirectory), or correct the `abi:` entry in \(file)"
                    : "correct \(file)\(location); see the comments at the top of that file")
        }
    }

    // MARK: - store

    mutating func store(_ c: CopyBotConfiguration) {
        switch c.store.location {
        case nil:
            error(
                "store.url", "must start with sqlite: or postgres://", fix: "use sqlite:data/copybot.sqlite")
        case .sqlite(let path)?:
            var isDirectory: ObjCBool = false
            if path.isEmpty {
                error("store.url", "sqlite: needs a file path", fix: "use sqlite:data/copybot.sqlite")
            } else if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
                isDirectory.boolValue
            {
                error(
                    "store.url", "\(path) is a directory",
                    fix: "name a database file, e.g. sqlite:\(path)/copybot.sqlite")
            }
        case .postgres(let url)?:
            let components = URLComponents(string: url)
            if components?.host?.isEmpty ?? true {
                error(
                    "store.url", "a PostgreSQL URL needs a host (\(Redaction.store(url)))",
                    fix: "write postgres://user@host:5432/copybot")
            } else {
                do {
                    _ = try PostgresStoreConfiguration(url: url)
                } catch {
                    // The parser's messages never show the password.
                    self.error(
                        "store.url", "\(error)",
                        fix:
                            "write postgres://user@host:5432/copybot (the password in COPYBOT_STORE_URL, never in the file)"
                    )
                }
            }
        }
    }

    // MARK: - cluster

    mutating func cluster(_ c: CopyBotConfiguration) {
        seconds("cluster.failover_after", c.cluster.failoverAfter, 2...600)
        seconds("cluster.lease_seconds", c.cluster.lease, 2...600)
        seconds("cluster.prune_after_seconds", c.cluster.pruneAfter, 10...604_800)
        if c.cluster.pruneAfter < c.cluster.lease * 2 {
            error(
                "cluster.prune_after_seconds", "must be at least twice cluster.lease_seconds",
                fix: "a member is only forgotten once it is surely gone: raise it")
        }
        if c.cluster.role != .all, case .sqlite? = c.store.location {
            error(
                "cluster.role",
                "`\(c.cluster.role.rawValue)` needs a PostgreSQL store: an SQLite file serves one process",
                fix: "use cluster.role: all with SQLite, or set store.url to postgres://…")
        }
        if let name = c.cluster.name, name.count > 100 || name.contains(where: \.isNewline) {
            error("cluster.name", "must be one line of at most 100 characters", fix: "use e.g. the host name")
        }
    }

    // MARK: - follow

    mutating func follow(_ c: CopyBotConfiguration) {
        let wallets = c.follow.wallets
        if wallets.isEmpty, c.accounts.isEmpty {
            warning(
                "follow.wallets", "no wallets are followed: copybot will run but copy nothing",
                fix:
                    "add `- address: 0x…` entries under follow.wallets, or set COPYBOT_FOLLOW_WALLETS=0x…,0x…"
            )
        }
        var first: [Address: Int] = [:]
        let own = c.makerAddress
        for (i, wallet) in wallets.enumerated() {
            let path = "follow.wallets[\(i)]"
            if let j = first[wallet.address] {
                error(
                    path + ".address", "\(wallet.address) is already followed as follow.wallets[\(j)]",
                    fix: "list each wallet once (merge the two entries)")
            } else {
                first[wallet.address] = i
            }
            if wallet.address == .zero {
                error(
                    path + ".address", "the zero address never trades",
                    fix: "copy the trader's address from their profile")
            }
            if let own, wallet.address == own || wallet.address == c.credentials.privateKey?.address {
                error(
                    path + ".address",
                    "\(wallet.address) is our own trading address: copybot would copy its own orders",
                    fix: "remove it from follow.wallets")
            }
            if let sizing = wallet.sizing { self.sizing(path + ".sizing", sizing, risk: c.copy.risk) }
        }
    }

    // MARK: - copy

    mutating func sizing(
        _ keyPath: String, _ sizing: CopyBotConfiguration.Sizing, risk: CopyBotConfiguration.Risk
    ) {
        let value = sizing.value
        switch sizing.mode {
        case .fixedUSDC:
            if value <= 0 {
                error(
                    keyPath + ".value", "\(value) USDC: a fixed size must be more than 0", fix: "use e.g. 5")
            } else if value < risk.minOrderUSDC {
                error(
                    keyPath + ".value",
                    "\(value) USDC is below copy.risk.min_order_usdc (\(risk.minOrderUSDC)): every copy would be skipped",
                    fix: "raise the value or lower min_order_usdc")
            } else if value > risk.maxOrderUSDC {
                warning(
                    keyPath + ".value",
                    "\(value) USDC is above copy.risk.max_order_usdc (\(risk.maxOrderUSDC)): every copy will be cut",
                    fix: "lower the value or raise max_order_usdc")
            }
        case .fractionOfTrade:
            if value <= 0 || value > 1 {
                error(
                    keyPath + ".value", "\(value) is not a fraction in (0, 1]",
                    fix: "use e.g. 0.1 to copy 10% of each trade's USDC; for more, use multiplier_of_shares")
            }
        case .multiplierOfShares:
            if value <= 0 || value > 1_000 {
                error(
                    keyPath + ".value", "\(value) is not a multiplier in (0, 1000]",
                    fix: "use e.g. 0.5 to buy half the target's shares")
            }
        case .percentOfBalance:
            if value <= 0 || value > 100 {
                error(
                    keyPath + ".value", "\(value) is not a percentage in (0, 100]",
                    fix: "use e.g. 2 for 2% of the available balance")
            }
        }
    }

    mutating func copy(_ c: CopyBotConfiguration) {
        let copy = c.copy
        range("copy.executors", copy.executors, 1...64)
        seconds("copy.order_lease_seconds", copy.orderLease, 1...3_600)
        if copy.unwindOnRetract {
            error(
                "copy.unwind_on_retract",
                "automatic unwinding is not available in this version: a copy whose trade a reorg removed is kept and flagged (copybot status, copybot trades, the copybot_copies_retracted_total metric)",
                fix: "set it to false, and unwind flagged copies by hand if you want to")
        }
        if copy.startingUSDC <= 0 {
            error(
                "copy.starting_usdc", "\(copy.startingUSDC) USDC: must be more than 0",
                fix: "use the paper balance (paper mode) or the budget copybot may spend (live mode)")
        }
        sizing("copy.sizing", copy.sizing, risk: copy.risk)

        let r = copy.risk
        let amounts: [(String, Decimal)] = [
            ("min_order_usdc", r.minOrderUSDC), ("max_order_usdc", r.maxOrderUSDC),
            ("max_position_usdc_per_token", r.maxPositionUSDCPerToken),
            ("max_position_usdc_per_market", r.maxPositionUSDCPerMarket),
            ("max_total_exposure_usdc", r.maxTotalExposureUSDC),
            ("daily_loss_limit_usdc", r.dailyLossLimitUSDC),
        ]
        var negative = false
        for (name, value) in amounts where value < 0 || (value == 0 && name != "min_order_usdc") {
            negative = true
            error("copy.risk.\(name)", "\(value) USDC: must be more than 0", fix: "use a positive amount")
        }
        if !negative {
            // Each limit must fit inside the next wider one, or a narrower limit could never bind.
            let chain: [(String, Decimal)] = [
                ("min_order_usdc", r.minOrderUSDC), ("max_order_usdc", r.maxOrderUSDC),
                ("max_position_usdc_per_token", r.maxPositionUSDCPerToken),
                ("max_position_usdc_per_market", r.maxPositionUSDCPerMarket),
                ("max_total_exposure_usdc", r.maxTotalExposureUSDC),
            ]
            for ((lowName, low), (highName, high)) in zip(chain, chain.dropFirst()) where low > high {
                error(
                    "copy.risk.\(lowName)", "\(low) USDC is more than copy.risk.\(highName) (\(high) USDC)",
                    fix: "make \(lowName) at most \(highName)")
            }
        }
        if r.maxPriceDeviation <= 0 || r.maxPriceDeviation >= 1 {
            error(
                "copy.risk.max_price_deviation",
                "\(r.maxPriceDeviation) is not a fraction of the target's price in (0, 1)",
                fix: "use e.g. 0.02 (2% from the target's fill price)")
        }
        seconds("copy.risk.max_trade_age_seconds", r.maxTradeAge, 1...86_400)
        overlap(
            "copy.risk.deny_markets", r.allowMarkets.map(\.hex), r.denyMarkets.map(\.hex),
            other: "copy.risk.allow_markets")
        overlap(
            "copy.risk.deny_tokens", r.allowTokens.map(\.description), r.denyTokens.map(\.description),
            other: "copy.risk.allow_tokens")
        if r.killSwitchFile.isEmpty {
            error("copy.risk.kill_switch_file", "must name a file", fix: "use data/KILL")
        } else if FileManager.default.fileExists(atPath: r.killSwitchFile) {
            warning(
                "copy.risk.kill_switch_file",
                "\(r.killSwitchFile) exists: the kill switch is on and no order will be placed",
                fix: "delete \(r.killSwitchFile) when you want copying to start")
        }

        let b = copy.breaker
        range("copy.breaker.consecutive_failures", b.consecutiveFailures, 1...1_000)
        if !(b.errorRate > 0 && b.errorRate <= 1) {
            error(
                "copy.breaker.error_rate", "\(b.errorRate) is not a fraction in (0, 1]", fix: "use e.g. 0.5")
        }
        range("copy.breaker.min_samples", b.minSamples, 1...100_000)
        seconds("copy.breaker.window_seconds", b.window, 1...86_400)
        seconds("copy.breaker.cooldown_seconds", b.cooldown, 1...86_400)
    }

    mutating func overlap(_ keyPath: String, _ allow: [String], _ deny: [String], other: String) {
        let both = Set(allow).intersection(deny)
        for (i, item) in deny.enumerated() where both.contains(item) {
            error("\(keyPath)[\(i)]", "\(item) is in \(other) too", fix: "keep it in one of the two lists")
        }
    }

    // MARK: - clob

    mutating func clob(_ c: CopyBotConfiguration) {
        let clob = c.clob
        url("clob.url", clob.url, secure: "https", insecure: "http")
        if clob.chainId != c.chain.chainId {
            error(
                "clob.chain_id",
                "\(clob.chainId) differs from chain.chain_id (\(c.chain.chainId)): orders would be signed for another chain",
                fix: "set both to the same chain (137 for Polygon mainnet)")
        }
        if !(clob.requestsPerSecond > 0 && clob.requestsPerSecond <= 1_000) {
            error(
                "clob.requests_per_second", "\(clob.requestsPerSecond) is out of range (0, 1000]",
                fix: "use e.g. 5")
        }
        seconds("clob.timeout_seconds", clob.timeout, 0.1...300)
        seconds("clob.balance_refresh_seconds", clob.balanceRefresh, 0.1...3_600)

        let key = c.credentials.privateKey?.address
        switch clob.signatureType {
        case .eoa:
            if let funder = clob.funder, let key, funder != key {
                error(
                    "clob.funder",
                    "\(funder) is not the signing key's address (\(key)): with signature type EOA the key's own address is the maker",
                    fix:
                        "remove clob.funder, or set clob.signature_type to POLY_PROXY / POLY_GNOSIS_SAFE if \(funder) is your Polymarket wallet"
                )
            }
        case .polyProxy, .polyGnosisSafe, .poly1271:
            if let funder = clob.funder {
                if funder == .zero {
                    error(
                        "clob.funder", "the zero address cannot hold funds",
                        fix: "set it to your Polymarket wallet's address")
                } else if let key, funder == key {
                    error(
                        "clob.funder",
                        "\(funder) is the signing key's own address, but \(clob.signatureType) needs the \(Self.walletKind(clob.signatureType)) as funder",
                        fix:
                            "set clob.funder to the address shown on your Polymarket profile, or use signature_type EOA"
                    )
                }
            } else {
                error(
                    "clob.funder",
                    "signature type \(clob.signatureType) needs a funder (the \(Self.walletKind(clob.signatureType)) that holds the funds)",
                    fix: "set clob.funder to the address shown on your Polymarket profile")
            }
        }
    }

    static func walletKind(_ type: SignatureType) -> String {
        switch type {
        case .eoa: "key's address"
        case .polyProxy: "Polymarket proxy wallet"
        case .polyGnosisSafe: "Gnosis Safe"
        case .poly1271: "deposit wallet"
        }
    }

    // MARK: - live mode

    mutating func live(_ c: CopyBotConfiguration) {
        guard c.copy.mode == .live else { return }
        if c.credentials.privateKey == nil {
            error(
                "copy.mode", "live mode needs a signing key, and none is configured",
                fix:
                    "write the key to a file, chmod 600 it, and set secrets.private_key_file (or COPYBOT_PRIVATE_KEY_FILE)"
            )
        }
        if c.credentials.api == nil {
            error(
                "copy.mode", "live mode needs CLOB API credentials, and none are configured",
                fix:
                    "run `copybot keys derive-api`, save its output to an owner-only file (chmod 600) and set "
                    + "secrets.api_credentials_file, or set COPYBOT_CLOB_API_KEY/_SECRET/_PASSPHRASE")
        }
    }

    // MARK: - http

    mutating func http(_ c: CopyBotConfiguration) {
        guard let listen = c.http.listen else { return }
        if !Self.isLoopback(listen.host) {
            warning(
                "http.listen",
                "\(listen) is reachable from other machines: /metrics and /ready have no authentication",
                fix:
                    "keep 127.0.0.1:9464 and put a reverse proxy with authentication in front if it must be remote"
            )
        }
    }
}
