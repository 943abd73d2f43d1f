import Chain
import CopyEngine
import EVM
import Foundation
import Polymarket

/// copybot's whole configuration, typed, with every default explicit.
///
/// `CopyBotConfiguration()` is the embedded default, identical to the shipped
/// `Config/copybot.yaml`: paper mode, SQLite under `data/`, a local devnet node, no followed wallets.
/// ``load(path:environment:)`` reads the YAML file, applies `COPYBOT_<KEY_PATH>` environment
/// overrides, loads the secrets, validates everything, and throws every issue at once.
///
/// Secrets (the signing key, the CLOB API credentials) live in ``credentials``; no description,
/// mirror or error ever prints them.
public struct CopyBotConfiguration: Sendable, CustomStringConvertible {
    /// Where `copybot` looks for its configuration when `--config` is not given.
    public static let defaultPath = "Config/copybot.yaml"

    /// `chain.*`: the Polygon node and how the listener uses it.
    public var chain = Chain()
    /// `contracts.*`: the exchange contracts and their ABIs.
    public var contracts = Contracts()
    /// `store.*`: where state is kept.
    public var store = Store()
    /// `follow.*`: the wallets whose trades are copied.
    public var follow = Follow()
    /// `accounts`: several accounts copied into (empty: one account, `default`, from the top-level
    /// `follow`, `copy`, `clob` and `secrets`).
    public var accounts: [Account] = []
    /// `copy.*`: how trades are copied (mode, sizing, risk, circuit breaker).
    public var copy = Copy()
    /// `clob.*`: the Polymarket CLOB and how orders are signed.
    public var clob = Clob()
    /// `secrets.*`: paths of owner-only secret files (never secret values).
    public var secrets = Secrets()
    /// `cluster.*`: this process's part in a cluster (PostgreSQL store).
    public var cluster = Cluster()
    /// `http.*`: the health/metrics endpoint.
    public var http = HTTP()
    /// `log.*`: logging.
    public var log = Log()
    /// The signing key and API credentials, loaded from the environment or owner-only files.
    public var credentials = Credentials()

    /// The embedded defaults.
    public init() {}

    // MARK: - Sections

    /// `chain.*`.
    public struct Chain: Hashable, Sendable {
        /// `chain.chain_id`: the chain the node serves (checked against the contracts file).
        public var chainId: UInt64 = 137
        /// `chain.ws_urls`: WebSocket JSON-RPC endpoints, tried in order (failover).
        public var wsURLs: [String] = ["ws://127.0.0.1:8546"]
        /// `chain.http_urls`: HTTP JSON-RPC endpoints for `eth_getLogs` and friends, in order.
        public var httpURLs: [String] = ["http://127.0.0.1:8545"]
        /// `chain.reorg_window`: how many blocks back a reorg is handled.
        public var reorgWindow: UInt64 = 128
        /// `chain.stale_after`: no new head for this long on an open socket means a dead subscription.
        public var staleAfter: Duration = .seconds(30)
        /// `chain.verify_every`: confirm live logs with `eth_getLogs` every this many blocks.
        public var verifyEvery: UInt64 = 4
        /// `chain.hash_read_depth`: the newest blocks of a sync are read one by one by block hash,
        /// so a load-balanced backend lagging fewer blocks cannot trim a range unnoticed.
        public var hashReadDepth: UInt64 = 16
        /// `chain.start_block`: where to start when the store has no checkpoint.
        public var startBlock: EventSourceConfiguration.Start = .latest
        /// `chain.get_logs_range`: the first `eth_getLogs` block range.
        public var getLogsRange: UInt64 = 2_000
        /// `chain.get_logs_max_range`: the largest `eth_getLogs` block range.
        public var getLogsMaxRange: UInt64 = 10_000
        /// `chain.max_message_bytes`: a larger WebSocket message is an error, not an allocation.
        public var maxMessageBytes: Int = 16 << 20
        /// `chain.request_timeout`: JSON-RPC request timeout.
        public var requestTimeout: Duration = .seconds(30)
        /// `chain.buffer_capacity`: events held for a slow consumer before the listener stops reading.
        public var bufferCapacity: Int = 1_024

        /// The defaults.
        public init() {}
    }

    /// `contracts.*`.
    public struct Contracts: Hashable, Sendable {
        /// `contracts.file`: the exchange contracts (names, addresses, ABI files, block ranges).
        public var file = "Config/contracts.polygon.yaml"
        /// `contracts.abi_dir`: the directory of the ABI JSON files the contracts file names.
        public var abiDirectory = "abi"

        /// The defaults.
        public init() {}
    }

    /// `store.*`.
    public struct Store: Hashable, Sendable {
        /// `store.url`: `sqlite:<path>` (the default) or `postgres://user@host[:port]/database`
        /// (`postgresql://` too; the password only from the environment or a libpq password file).
        public var url = "sqlite:data/copybot.sqlite"

        /// The defaults.
        public init() {}

        /// The kind of store `url` names.
        public enum Location: Hashable, Sendable {
            /// An SQLite database file.
            case sqlite(path: String)
            /// A PostgreSQL server.
            case postgres(url: String)
        }

        /// What `url` names, or nil when it is neither `sqlite:` nor `postgres://`.
        public var location: Location? {
            if url.hasPrefix("sqlite:") {
                var path = String(url.dropFirst("sqlite:".count))
                if path.hasPrefix("//") { path.removeFirst(2) }
                return .sqlite(path: path)
            }
            if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") { return .postgres(url: url) }
            return nil
        }
    }

    /// `follow.*`.
    public struct Follow: Hashable, Sendable {
        /// `follow.wallets`: the wallets whose trades are copied (empty: run, copy nothing).
        public var wallets: [FollowedWallet] = []

        /// The defaults.
        public init() {}
    }

    /// One entry of `follow.wallets`.
    public struct FollowedWallet: Hashable, Sendable {
        /// `address`: the trader's address as shown on their profile (the fills' maker).
        public var address: Address
        /// `name`: a label for logs and status.
        public var name: String?
        /// `sizing`: overrides `copy.sizing` for this wallet.
        public var sizing: Sizing?

        /// Creates an entry.
        public init(address: Address, name: String? = nil, sizing: Sizing? = nil) {
            self.address = address
            self.name = name
            self.sizing = sizing
        }
    }

    /// `copy.*`.
    public struct Copy: Hashable, Sendable {
        /// `copy.mode`.
        public enum Mode: String, Hashable, Sendable, CaseIterable {
            /// Simulated fills against the live book; no order is sent. The default.
            case paper
            /// Real orders on the CLOB.
            case live
        }

        /// `copy.mode`: paper (default) or live.
        public var mode: Mode = .paper
        /// `copy.executors`: concurrent executors (orders of one token stay in sequence).
        public var executors = 4
        /// `copy.unwind_on_retract`: sell a copy whose original trade a reorg removed.
        public var unwindOnRetract = false
        /// `copy.starting_usdc`: the collateral copybot starts with — paper money in paper mode; in
        /// live mode the budget it may spend (it never spends more, whatever the account holds).
        public var startingUSDC: Decimal = 1_000
        /// `copy.order_lease_seconds`: an order posted with an unknown outcome (a crash, a lost
        /// answer) is looked up for this long before it counts as never placed.
        public var orderLease: Duration = .seconds(60)
        /// `copy.sizing`: the default sizing of a copy.
        public var sizing = Sizing()
        /// `copy.risk`: the limits every copy is checked against.
        public var risk = Risk()
        /// `copy.breaker`: the circuit breaker shared by all executors.
        public var breaker = Breaker()

        /// The defaults.
        public init() {}
    }

    /// `copy.sizing` (and a followed wallet's `sizing`).
    public struct Sizing: Hashable, Sendable, CustomStringConvertible {
        /// How the size of a copy is computed.
        public enum Mode: String, Hashable, Sendable, CaseIterable {
            /// `value` USDC per copy.
            case fixedUSDC = "fixed_usdc"
            /// `value` × the target's collateral (0 < value ≤ 1).
            case fractionOfTrade = "fraction_of_trade"
            /// `value` × the target's shares.
            case multiplierOfShares = "multiplier_of_shares"
            /// `value` percent of our available balance (0 < value ≤ 100).
            case percentOfBalance = "percent_of_balance"
        }

        /// `mode`.
        public var mode: Mode = .fixedUSDC
        /// `value`: its meaning depends on `mode`.
        public var value: Decimal = 5

        /// Creates a sizing rule.
        public init(mode: Mode = .fixedUSDC, value: Decimal = 5) {
            self.mode = mode
            self.value = value
        }

        public var description: String { "\(mode.rawValue) \(value)" }
    }

    /// `copy.risk.*`. Amounts in USDC (pUSD), prices in USDC per share.
    public struct Risk: Hashable, Sendable {
        /// `min_order_usdc`: a smaller copy is skipped.
        public var minOrderUSDC: Decimal = 1
        /// `max_order_usdc`: a larger copy is cut to this.
        public var maxOrderUSDC: Decimal = 50
        /// `max_position_usdc_per_token`: cost basis held in one outcome token.
        public var maxPositionUSDCPerToken: Decimal = 200
        /// `max_position_usdc_per_market`: cost basis held across the outcomes of one market.
        public var maxPositionUSDCPerMarket: Decimal = 400
        /// `max_total_exposure_usdc`: cost basis held across all markets.
        public var maxTotalExposureUSDC: Decimal = 1_000
        /// `daily_loss_limit_usdc`: realised + marked loss since 00:00 UTC that stops new buys.
        public var dailyLossLimitUSDC: Decimal = 100
        /// `max_price_deviation`: how far our price may be from the target's fill price, as a
        /// fraction of it (0.02 = 2 %). Sets the limit price of copies and the slippage guard.
        public var maxPriceDeviation: Decimal = Decimal(string: "0.02")!
        /// `max_trade_age_seconds`: a target trade older than this when seen is not copied.
        public var maxTradeAge: Duration = .seconds(60)
        /// `allow_markets`: condition ids; when not empty, only these markets are copied.
        public var allowMarkets: [Bytes32] = []
        /// `deny_markets`: condition ids never copied.
        public var denyMarkets: [Bytes32] = []
        /// `allow_tokens`: token ids; when not empty, only these tokens are copied.
        public var allowTokens: [UInt256] = []
        /// `deny_tokens`: token ids never copied.
        public var denyTokens: [UInt256] = []
        /// `kill_switch_file`: while this file exists, no new order is placed.
        public var killSwitchFile = "data/KILL"

        /// The defaults.
        public init() {}
    }

    /// `copy.breaker.*`.
    public struct Breaker: Hashable, Sendable {
        /// `consecutive_failures`: opens after this many failures in a row.
        public var consecutiveFailures = 5
        /// `error_rate`: opens when this fraction of the orders in the window failed.
        public var errorRate = 0.5
        /// `min_samples`: the error rate counts only with at least this many orders in the window.
        public var minSamples = 10
        /// `window_seconds`: the error-rate window.
        public var window: Duration = .seconds(60)
        /// `cooldown_seconds`: open this long before a half-open probe.
        public var cooldown: Duration = .seconds(30)

        /// The defaults.
        public init() {}
    }

    /// `clob.*`.
    public struct Clob: Hashable, Sendable {
        /// `clob.url`: the CLOB API base URL.
        public var url = "https://clob.polymarket.com"
        /// `clob.chain_id`: the chain id orders are signed for (EIP-712 domain).
        public var chainId: UInt64 = 137
        /// `clob.signature_type`: EOA, POLY_PROXY, POLY_GNOSIS_SAFE or POLY_1271.
        public var signatureType: SignatureType = .eoa
        /// `clob.funder`: the maker of our orders (proxy, Safe or deposit wallet); nil: the key's address.
        public var funder: Address? = nil
        /// `clob.requests_per_second`: client-side rate limit.
        public var requestsPerSecond: Double = 5
        /// `clob.timeout_seconds`: HTTP request timeout.
        public var timeout: Duration = .seconds(10)
        /// `clob.balance_refresh_seconds`: in live mode, how often the account's balances and
        /// allowances are read from the exchange (and compared with the ledger).
        public var balanceRefresh: Duration = .seconds(15)
        /// `clob.exchange`: the exchange (its name in the contracts file) orders are signed for.
        public var exchange = "CTFExchangeV2"
        /// `clob.neg_risk_exchange`: the NegRisk exchange (its name in the contracts file).
        public var negRiskExchange = "NegRiskCTFExchangeV2"
        /// `clob.domain_version`: the EIP-712 domain version of orders ("2"; "3" for Exchange V3).
        public var domainVersion = "2"

        /// The defaults.
        public init() {}
    }

    /// `secrets.*`: file paths only; the values never appear in the YAML.
    public struct Secrets: Hashable, Sendable {
        /// `secrets.private_key_file`: a file (mode 600) holding the signing key as hex.
        public var privateKeyFile: String? = nil
        /// `secrets.api_credentials_file`: a file (mode 600) holding the CLOB API credentials.
        public var apiCredentialsFile: String? = nil

        /// The defaults.
        public init() {}
    }

    /// `cluster.*`.
    public struct Cluster: Hashable, Sendable {
        /// `cluster.role`: what a process does.
        public enum Role: String, Hashable, Sendable, CaseIterable {
            /// Listener and executor in one process (the only role with SQLite).
            case all
            /// Only the listener: elected, one active at a time; queues trades for the executors.
            case listener
            /// Only an executor: works the queues of the accounts it holds.
            case executor
        }

        /// `cluster.role`.
        public var role: Role = .all
        /// `cluster.name`: nil means `host:pid`.
        public var name: String?
        /// `cluster.failover_after`.
        public var failoverAfter: Duration = .seconds(10)
        /// `cluster.lease_seconds`.
        public var lease: Duration = .seconds(10)
        /// `cluster.prune_after_seconds`.
        public var pruneAfter: Duration = .seconds(3_600)

        /// The defaults.
        public init() {}

        /// The name this process goes by: `cluster.name`, or `host:pid`.
        public var memberName: String {
            name ?? "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        }
    }

    /// `http.*`.
    public struct HTTP: Hashable, Sendable {
        /// `http.listen`: `host:port` of `/health`, `/ready` and `/metrics`; nil: no HTTP server.
        public var listen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9464)

        /// The defaults.
        public init() {}
    }

    /// A `host:port` to listen on.
    public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
        /// A host name or IP address (IPv6 without brackets).
        public var host: String
        /// The TCP port.
        public var port: Int

        /// Creates an address.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `log.*`.
    public struct Log: Hashable, Sendable {
        /// `log.level`.
        public enum Level: String, Hashable, Sendable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }

        /// `log.format`.
        public enum Format: String, Hashable, Sendable, CaseIterable {
            /// Text on a terminal, JSON lines otherwise (under systemd).
            case auto
            /// Human-readable lines.
            case text
            /// One JSON object per line.
            case json
        }

        /// `log.level`: the lowest level logged.
        public var level: Level = .info
        /// `log.format`.
        public var format: Format = .auto

        /// The defaults.
        public init() {}
    }

    /// The secrets, loaded from the environment or owner-only files. Never printed.
    public struct Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        /// The signing key, if one was configured.
        public var privateKey: PrivateKey?
        /// Where the key came from: `COPYBOT_PRIVATE_KEY` or the key file's path.
        public var privateKeySource: String?
        /// The CLOB API credentials, if configured.
        public var api: ApiCredentials?
        /// Where the API credentials came from: the environment or the credentials file's path.
        public var apiSource: String?

        /// No secrets.
        public init(
            privateKey: PrivateKey? = nil, privateKeySource: String? = nil, api: ApiCredentials? = nil,
            apiSource: String? = nil
        ) {
            self.privateKey = privateKey
            self.privateKeySource = privateKeySource
            self.api = api
            self.apiSource = apiSource
        }

        public var description: String {
            let key = privateKey.map { "address \($0.address) from \(privateKeySource ?? "?")" } ?? "none"
            let api = api.map { "key \($0.apiKey) from \(apiSource ?? "?")" } ?? "none"
            return "Credentials(private key: \(key), API credentials: \(api); secrets redacted)"
        }

        public var debugDescription: String { description }

        public var customMirror: Mirror {
            Mirror(self, children: ["description": description], displayStyle: .struct)
        }
    }

    /// One entry of `accounts`: an account copied into, with its own followed wallets, sizing,
    /// risk limits, CLOB identity and keys.
    public struct Account: Sendable {
        /// `name`: keys the account's state, logs and metrics.
        public var name: AccountID
        /// The account's whole configuration: the shared sections (chain, store, CLOB endpoint,
        /// breaker, …) from the top level, `follow.wallets` from the entry's `wallets`, `copy.*`
        /// from the entry where it sets a key and the top level otherwise, and the CLOB identity
        /// and credentials from the entry alone. Its own ``CopyBotConfiguration/accounts`` is empty.
        public var configuration: CopyBotConfiguration

        /// Creates an account.
        public init(name: AccountID, configuration: CopyBotConfiguration) {
            self.name = name
            self.configuration = configuration
        }
    }

    /// Every account copied into, with its configuration: the `accounts` entries, or the one
    /// `default` account of a configuration without them.
    public var effectiveAccounts: [Account] {
        accounts.isEmpty ? [Account(name: .default, configuration: self)] : accounts
    }

    /// Every wallet some account follows, each once, in configuration order (the listener's filter).
    public var allFollowedWallets: [Address] {
        var seen = Set<Address>()
        return effectiveAccounts.flatMap { $0.configuration.follow.wallets.map(\.address) }.filter {
            seen.insert($0).inserted
        }
    }

    // MARK: - Derived values

    /// The address orders are made for: `clob.funder`, or the signing key's address.
    public var makerAddress: Address? { clob.funder ?? credentials.privateKey?.address }

    /// The listener settings for the event source, for `filter`.
    public func eventSourceConfiguration(stream: String, filter: LogFilter) -> EventSourceConfiguration {
        var configuration = EventSourceConfiguration(stream: stream, filter: filter)
        configuration.reorgWindow = chain.reorgWindow
        configuration.staleAfter = chain.staleAfter
        configuration.verifyEvery = chain.verifyEvery
        configuration.hashReadDepth = chain.hashReadDepth
        configuration.start = chain.startBlock
        configuration.initialRange = chain.getLogsRange
        configuration.maximumRange = chain.getLogsMaxRange
        configuration.bufferCapacity = chain.bufferCapacity
        return configuration
    }

    /// A short summary: mode, store, endpoints (host only: provider URLs often carry API keys),
    /// wallets followed. Never contains a secret.
    public var summary: String {
        var lines: [String] = []
        lines.append("mode: \(copy.mode.rawValue)")
        lines.append("store: \(Redaction.store(store.url))")
        let ws = chain.wsURLs.map(Redaction.endpoint).joined(separator: ", ")
        let rpc = chain.httpURLs.map(Redaction.endpoint).joined(separator: ", ")
        lines.append(
            "chain: id \(chain.chainId), ws \(ws.isEmpty ? "none" : ws), http \(rpc.isEmpty ? "none" : rpc)")
        lines.append("clob: \(Redaction.endpoint(clob.url)), \(clob.signatureType)")
        if !accounts.isEmpty {
            lines.append(
                "accounts: \(accounts.count) (\(accounts.prefix(5).map { "\($0.name.name): \($0.configuration.copy.mode.rawValue), \($0.configuration.follow.wallets.count) wallets" }.joined(separator: "; "))\(accounts.count > 5 ? "; …" : ""))"
            )
        }
        let named = follow.wallets.map { $0.name.map { name in "\(name)" } ?? $0.address.checksummed }
        lines.append(
            "wallets followed: \(follow.wallets.count)"
                + (named.isEmpty
                    ? "" : " (\(named.prefix(5).joined(separator: ", "))\(named.count > 5 ? ", …" : ""))"))
        lines.append("sizing: \(copy.sizing)")
        lines.append("http: \(http.listen.map(\.description) ?? "off")")
        if let key = credentials.privateKey { lines.append("signing key: \(key.address)") }
        return lines.joined(separator: "\n")
    }

    public var description: String {
        "CopyBotConfiguration(\(summary.replacingOccurrences(of: "\n", with: "; ")))"
    }
}

/// Text for logs and summaries that leaves credentials out.
enum Redaction {
    /// `scheme://host[:port]`, with `/…` when a path or query was dropped (RPC providers put API
    /// keys in paths); user info is never shown.
    static func endpoint(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            let host = components.host
        else { return "<unparsable URL>" }
        var text = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)"
        if let port = components.port { text += ":\(port)" }
        let path = components.percentEncodedPath
        if !(path.isEmpty || path == "/") || components.percentEncodedQuery != nil { text += "/…" }
        return text
    }

    /// The store URL without a password.
    static func store(_ url: String) -> String {
        guard url.hasPrefix("postgres") else { return url }
        guard var components = URLComponents(string: url) else { return "<unparsable URL>" }
        if components.password != nil { components.percentEncodedPassword = "***" }
        components.query = nil
        return components.string ?? "<unparsable URL>"
    }
}
