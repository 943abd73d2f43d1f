/// One key of `Config/copybot.yaml`: its path, shape, default, environment variable and meaning.
///
/// ``ConfigSchema/keys`` is the single list every part of configuration handling reads: the
/// loader (unknown-key detection and suggestions), the environment mapping, and the tests that
/// check the shipped example and `docs/configuration.md` mention every key.
public struct ConfigKeySpec: Hashable, Sendable {
    /// The value's shape in YAML.
    public enum Shape: Hashable, Sendable {
        /// One scalar.
        case scalar
        /// A list of scalars (in the environment: comma-separated).
        case list
        /// `follow.wallets`: a list of wallet entries (in the environment: comma-separated addresses).
        case wallets
        /// `accounts`: a list of account entries (file only).
        case accounts
    }

    /// The dotted key path, e.g. `chain.ws_urls`.
    public var path: String
    /// The value's shape.
    public var shape: Shape
    /// The default as written in YAML (empty: unset).
    public var defaultValue: String
    /// One line about what the key does.
    public var help: String

    /// The environment variable that overrides the key: `COPYBOT_` + the path in upper case with
    /// dots as underscores (`chain.ws_urls` → `COPYBOT_CHAIN_WS_URLS`).
    public var environmentVariable: String { ConfigSchema.environmentVariable(for: path) }
}

/// Every key copybot's configuration knows, and what is done with names it does not know.
public enum ConfigSchema {
    /// Every key, in file order.
    public static let keys: [ConfigKeySpec] = [
        .init(
            "chain.chain_id", .scalar, "137", "chain id the node must serve; must match the contracts file"),
        .init(
            "chain.ws_urls", .list, "[ws://127.0.0.1:8546]",
            "WebSocket JSON-RPC endpoints, tried in order (failover)"),
        .init(
            "chain.http_urls", .list, "[http://127.0.0.1:8545]",
            "HTTP JSON-RPC endpoints for eth_getLogs, in order"),
        .init("chain.reorg_window", .scalar, "128", "blocks back within which reorgs are handled"),
        .init(
            "chain.stale_after", .scalar, "30",
            "seconds without a new head on an open socket before resubscribing"),
        .init("chain.verify_every", .scalar, "4", "confirm live logs with eth_getLogs every N blocks"),
        .init(
            "chain.hash_read_depth", .scalar, "16",
            "newest blocks read one by one by block hash (covers load-balanced backends lagging fewer blocks)"
        ),
        .init(
            "chain.start_block", .scalar, "latest",
            "`latest` or a block number: where to start without a checkpoint"),
        .init(
            "chain.get_logs_range", .scalar, "2000",
            "first eth_getLogs block range (shrinks on provider limits)"),
        .init("chain.get_logs_max_range", .scalar, "10000", "largest eth_getLogs block range"),
        .init("chain.max_message_bytes", .scalar, "16777216", "largest WebSocket message accepted"),
        .init("chain.request_timeout_seconds", .scalar, "30", "JSON-RPC request timeout"),
        .init(
            "chain.buffer_capacity", .scalar, "1024",
            "events buffered for a slow consumer before reading stops"),
        .init(
            "contracts.file", .scalar, "Config/contracts.polygon.yaml",
            "exchange contracts: names, addresses, ABI files, blocks"),
        .init(
            "contracts.abi_dir", .scalar, "abi", "directory of the ABI JSON files the contracts file names"),
        .init(
            "store.url", .scalar, "sqlite:data/copybot.sqlite",
            "`sqlite:<path>` or `postgres://user@host:5432/db` (also `postgresql://`; password only via COPYBOT_STORE_URL)"
        ),
        .init(
            "follow.wallets", .wallets, "[]",
            "wallets to copy: entries with address, optional name and sizing"),
        .init(
            "accounts", .accounts, "[]",
            "several accounts copied into, each with its own wallets, sizing, risk, CLOB identity and keys; empty: one account (`default`) from the keys here"
        ),
        .init("copy.mode", .scalar, "paper", "`paper` (simulated fills) or `live` (real orders)"),
        .init("copy.executors", .scalar, "4", "concurrent executors; one token's orders stay in sequence"),
        .init("copy.unwind_on_retract", .scalar, "false", "sell a copy whose original trade a reorg removed"),
        .init(
            "copy.order_lease_seconds", .scalar, "60",
            "a posted order whose outcome is unknown is looked up this long before it counts as not placed"),
        .init(
            "copy.starting_usdc", .scalar, "1000",
            "collateral copybot starts with: paper money, or in live mode the budget it may spend"),
        .init(
            "copy.sizing.mode", .scalar, "fixed_usdc",
            "fixed_usdc | fraction_of_trade | multiplier_of_shares | percent_of_balance"),
        .init(
            "copy.sizing.value", .scalar, "5", "USDC, fraction (0-1], multiplier, or percent (0-100], by mode"
        ),
        .init("copy.risk.min_order_usdc", .scalar, "1", "smaller copies are skipped"),
        .init("copy.risk.max_order_usdc", .scalar, "50", "larger copies are cut to this"),
        .init(
            "copy.risk.max_position_usdc_per_token", .scalar, "200", "cost basis held in one outcome token"),
        .init(
            "copy.risk.max_position_usdc_per_market", .scalar, "400",
            "cost basis held across one market's outcomes"),
        .init("copy.risk.max_total_exposure_usdc", .scalar, "1000", "cost basis held across all markets"),
        .init(
            "copy.risk.daily_loss_limit_usdc", .scalar, "100",
            "realised + marked loss per UTC day that stops new buys"),
        .init(
            "copy.risk.max_price_deviation", .scalar, "0.02",
            "max distance from the target's price, as a fraction of it (0.02 = 2%)"),
        .init(
            "copy.risk.max_trade_age_seconds", .scalar, "60",
            "older target trades (e.g. after a long resync) are not copied"),
        .init(
            "copy.risk.allow_markets", .list, "[]",
            "condition ids; when not empty only these markets are copied"),
        .init("copy.risk.deny_markets", .list, "[]", "condition ids never copied"),
        .init(
            "copy.risk.allow_tokens", .list, "[]", "token ids (decimal); when not empty only these are copied"
        ),
        .init("copy.risk.deny_tokens", .list, "[]", "token ids (decimal) never copied"),
        .init(
            "copy.risk.kill_switch_file", .scalar, "data/KILL",
            "while this file exists no new order is placed"),
        .init(
            "copy.breaker.consecutive_failures", .scalar, "5", "open after this many failed orders in a row"),
        .init(
            "copy.breaker.error_rate", .scalar, "0.5",
            "open when this fraction of orders in the window failed"),
        .init(
            "copy.breaker.min_samples", .scalar, "10", "orders needed in the window before error_rate applies"
        ),
        .init("copy.breaker.window_seconds", .scalar, "60", "error-rate window"),
        .init("copy.breaker.cooldown_seconds", .scalar, "30", "time open before a half-open probe"),
        .init("clob.url", .scalar, "https://clob.polymarket.com", "Polymarket CLOB API"),
        .init("clob.chain_id", .scalar, "137", "chain id orders are signed for; must equal chain.chain_id"),
        .init("clob.signature_type", .scalar, "EOA", "EOA | POLY_PROXY | POLY_GNOSIS_SAFE | POLY_1271"),
        .init("clob.funder", .scalar, "", "maker address (proxy/Safe/deposit wallet); required unless EOA"),
        .init("clob.requests_per_second", .scalar, "5", "client-side rate limit"),
        .init("clob.timeout_seconds", .scalar, "10", "HTTP request timeout"),
        .init(
            "clob.balance_refresh_seconds", .scalar, "15",
            "live mode: how often balances and allowances are read and reconciled with the ledger"),
        .init(
            "clob.exchange", .scalar, "CTFExchangeV2",
            "the exchange (name in the contracts file) orders are signed for"),
        .init(
            "clob.neg_risk_exchange", .scalar, "NegRiskCTFExchangeV2",
            "the NegRisk exchange (name in the contracts file) of neg-risk markets"),
        .init("clob.domain_version", .scalar, "2", "EIP-712 domain version of those exchanges' orders"),
        .init(
            "secrets.private_key_file", .scalar, "",
            "owner-only (chmod 600) file holding the signing key as hex"),
        .init(
            "secrets.api_credentials_file", .scalar, "",
            "owner-only (chmod 600) file holding the CLOB API credentials"),
        .init(
            "cluster.role", .scalar, "all",
            "all | listener | executor: what this process does (listener and executor need a PostgreSQL store)"
        ),
        .init(
            "cluster.name", .scalar, "",
            "this process's name in the cluster (status, leases); empty: host:pid"),
        .init(
            "cluster.failover_after", .scalar, "10",
            "seconds within which a standby listener takes over from a dead active one"),
        .init(
            "cluster.lease_seconds", .scalar, "10",
            "an executor's hold on an account lasts this long unless renewed (a dead executor's accounts move after it)"
        ),
        .init(
            "cluster.prune_after_seconds", .scalar, "3600",
            "members not seen for this long are removed from the membership (and from `copybot status`)"),
        .init("http.listen", .scalar, "127.0.0.1:9464", "host:port of /health, /ready, /metrics; empty: off"),
        .init("log.level", .scalar, "info", "trace | debug | info | notice | warning | error | critical"),
        .init("log.format", .scalar, "auto", "auto (text on a terminal, else JSON) | text | json"),
    ]

    /// The keys of one `follow.wallets` entry, relative to the entry.
    public static let walletKeys: [ConfigKeySpec] = [
        .init("address", .scalar, "", "the trader's address (EIP-55 checksum or all lower case)"),
        .init("name", .scalar, "", "a label for logs and status"),
        .init("sizing.mode", .scalar, "", "overrides copy.sizing.mode for this wallet"),
        .init("sizing.value", .scalar, "", "overrides copy.sizing.value for this wallet"),
    ]

    /// The keys of one `accounts` entry that are not also top-level keys (relative to the entry).
    /// An entry may also set the top-level keys in ``accountOverridePaths``, under the same path.
    public static let accountKeys: [ConfigKeySpec] = [
        .init(
            "name", .scalar, "",
            "the account's name (letters, digits, `-`, `_`): state, logs and metrics are keyed by it"),
        .init("wallets", .wallets, "[]", "the wallets this account copies: entries as in follow.wallets"),
    ]

    /// Top-level keys an `accounts` entry may set for itself (the rest is shared by all accounts).
    /// `copy.*` values not set in the entry come from the top level; the CLOB identity
    /// (`clob.signature_type`, `clob.funder`) and the secrets do not: each account names its own.
    public static let accountOverridePaths: Set<String> = Set(
        keys.map(\.path).filter {
            $0.hasPrefix("copy.sizing.") || $0.hasPrefix("copy.risk.")
                || [
                    "copy.mode", "copy.starting_usdc", "clob.signature_type", "clob.funder",
                    "secrets.private_key_file", "secrets.api_credentials_file",
                ].contains($0)
        })

    /// The prefix of an account's secret environment variables: `COPYBOT_ACCOUNT_<NAME>_`
    /// (`desk-a` → `COPYBOT_ACCOUNT_DESK_A_PRIVATE_KEY`, `…_CLOB_API_KEY`, …).
    public static func accountSecretPrefix(_ name: String) -> String {
        "COPYBOT_ACCOUNT_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
            + "_"
    }

    /// Environment variables that carry secrets or secret file paths. They are read only by the
    /// secret loader, never by the generic override mechanism, and their values are never shown.
    public static let secretVariables: [String] = [
        "COPYBOT_PRIVATE_KEY", "COPYBOT_PRIVATE_KEY_FILE", "COPYBOT_CLOB_API_KEY", "COPYBOT_CLOB_API_SECRET",
        "COPYBOT_CLOB_API_PASSPHRASE",
    ]

    /// The environment variable for `path`.
    public static func environmentVariable(for path: String) -> String {
        "COPYBOT_" + path.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    static let byPath: [String: ConfigKeySpec] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })
    static let walletKeysByPath: [String: ConfigKeySpec] = Dictionary(
        uniqueKeysWithValues: walletKeys.map { ($0.path, $0) })

    /// Every mapping that holds keys (`chain`, `copy`, `copy.risk`, ...).
    static let sections: Set<String> = sectionsOf(keys.map(\.path))
    static let walletSections: Set<String> = sectionsOf(walletKeys.map(\.path))

    private static func sectionsOf(_ paths: [String]) -> Set<String> {
        var result = Set<String>()
        for path in paths {
            var parts = path.split(separator: ".").map(String.init)
            parts.removeLast()
            while !parts.isEmpty {
                result.insert(parts.joined(separator: "."))
                parts.removeLast()
            }
        }
        return result
    }

    /// Whether an unknown key's name says it holds a secret (`private_key`, `api_secret`,
    /// `passphrase`, `password`, `mnemonic`, ...). Paths to files (`*_file`) are not secrets.
    static func looksSecret(_ name: String) -> Bool {
        let normalized = name.lowercased().replacingOccurrences(of: "-", with: "_")
        if normalized.hasSuffix("_file") || normalized.hasSuffix("_path") { return false }
        let markers = [
            "private_key", "privatekey", "secret", "passphrase", "password", "passwd", "mnemonic",
            "seed_phrase",
            "api_key", "apikey", "signing_key",
        ]
        return markers.contains { normalized.contains($0) } || normalized == "key" || normalized == "seed"
    }

    /// The known key closest to `unknown` (a full dotted path), if one is close enough to be a typo.
    static func suggestion(for unknown: String, among candidates: some Sequence<String>) -> String? {
        var best: (String, Int)? = nil
        for candidate in candidates {
            let distance = editDistance(unknown, candidate)
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        let last = lastComponent(unknown)
        if distance <= max(2, last.count / 3) { return candidate }
        // An abbreviation of a sibling key: `addr` for `address`.
        let parent = unknown.dropLast(last.count)
        if last.count >= 3,
            let sibling = candidates.first(where: {
                $0.hasPrefix(parent) && lastComponent($0).hasPrefix(last)
                    && !$0.dropFirst(parent.count).contains(".")
            })
        {
            return sibling
        }
        return nil
    }

    private static func lastComponent(_ path: String) -> String {
        path.split(separator: ".").last.map(String.init) ?? path
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

extension ConfigKeySpec {
    fileprivate init(_ path: String, _ shape: Shape, _ defaultValue: String, _ help: String) {
        self.init(path: path, shape: shape, defaultValue: defaultValue, help: help)
    }
}
