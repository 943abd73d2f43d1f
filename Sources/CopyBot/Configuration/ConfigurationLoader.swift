import Chain
import Configuration
import CopyEngine
import EVM
import Foundation
import Polymarket
import Yams

/// What reading a configuration produced: the typed values (defaults where a value was missing
/// or unusable) and every issue found, errors first.
public struct ConfigurationReport: Sendable {
    /// The file that was read.
    public var path: String
    /// The configuration; only safe to run when ``isValid``.
    public var configuration: CopyBotConfiguration
    /// Every issue, errors first, each group in the order found.
    public var issues: [ConfigIssue]

    /// The issues that stop the service from starting.
    public var errors: [ConfigIssue] { issues.filter(\.isError) }
    /// The issues the service starts with.
    public var warnings: [ConfigIssue] { issues.filter { !$0.isError } }
    /// Whether the service may start.
    public var isValid: Bool { !issues.contains(where: \.isError) }
}

extension CopyBotConfiguration {
    /// Reads `path` (YAML), applies the `COPYBOT_<KEY_PATH>` variables of `environment`, loads
    /// the secrets, validates everything, and returns the configuration, or throws every issue.
    ///
    /// This is the only way the service obtains its configuration: it refuses to start when this
    /// throws. `environment` is the process environment in production and a dictionary in tests;
    /// nothing else is read from the environment.
    ///
    /// With `requiringSecrets` false (commands that only read, such as `copybot status`), live mode
    /// loads without its signing key and API credentials.
    public static func load(
        path: String = defaultPath, environment: [String: String], requiringSecrets: Bool = true
    ) throws(ConfigurationError) -> CopyBotConfiguration {
        let report = check(path: path, environment: environment, requiringSecrets: requiringSecrets)
        guard report.isValid else { throw ConfigurationError(path: path, issues: report.issues) }
        return report.configuration
    }

    /// Like ``load(path:environment:requiringSecrets:)``, but returns every issue instead of
    /// throwing (`copybot config check`).
    public static func check(
        path: String = defaultPath, environment: [String: String], requiringSecrets: Bool = true
    ) -> ConfigurationReport {
        var loader = ConfigurationLoader(path: path, environment: environment)
        loader.requiringSecrets = requiringSecrets
        return loader.run()
    }
}

/// Reads the YAML file and the environment into a ``CopyBotConfiguration``, collecting issues.
///
/// The YAML is parsed with Yams into a node tree that is walked against ``ConfigSchema``:
/// unknown keys (with the closest known key), secrets in the file, and values of the wrong shape
/// are found there, with line numbers. The scalar and list values then go into a
/// swift-configuration `InMemoryProvider`, behind an `EnvironmentVariablesProvider` for the
/// `COPYBOT_*` variables, and every key is read through one `ConfigReader`, so an environment
/// variable always wins over the file. (`YAMLSnapshot` is not used directly: it rejects lists of
/// mappings, which `follow.wallets` is.)
struct ConfigurationLoader {
    let path: String
    let environment: [String: String]
    /// The `COPYBOT_*` variables that override keys, upper-cased, secrets excluded.
    let overrides: [String: String]

    private var issues: [ConfigIssue] = []
    /// Keys whose value could not be used; semantic checks on them would only repeat the problem.
    private var failedKeys: Set<String> = []
    private var yamlValues: [AbsoluteConfigKey: ConfigValue] = [:]
    private var yamlWallets: [WalletDraft] = []
    private var yamlLines: [String: Int] = [:]
    /// The file (or environment) position of each parsed followed wallet.
    private var walletPaths: [String] = []
    /// The `accounts` entries, each read by a loader of its own.
    private var accountDrafts: [AccountDraft] = []
    /// Set on the loader of an `accounts` entry: only ``ConfigSchema/accountOverridePaths`` may be set.
    private var isAccountEntry = false
    /// False for commands that only read: live mode then needs no secrets.
    var requiringSecrets = true

    /// An `accounts` entry before parsing: its place, its name, and a loader holding its keys.
    struct AccountDraft {
        var path: String
        var name: String?
        var loader: ConfigurationLoader
    }

    /// A `follow.wallets` entry before parsing.
    struct WalletDraft {
        var path: String
        var source: String
        var address: String?
        var name: String?
        var sizingMode: String?
        var sizingValue: String?
    }

    init(path: String, environment: [String: String]) {
        self.path = path
        self.environment = environment
        let secret = Set(ConfigSchema.secretVariables)
        var overrides: [String: String] = [:]
        for (name, value) in environment {
            let upper = name.uppercased()
            guard upper.hasPrefix("COPYBOT_"), !secret.contains(upper), !upper.hasPrefix("COPYBOT_ACCOUNT_")
            else { continue }
            overrides[upper] = value
        }
        self.overrides = overrides
    }

    mutating func run() -> ConfigurationReport {
        readFile()
        checkEnvironmentNames()
        if overrides[ConfigSchema.environmentVariable(for: "accounts")] != nil {
            error(
                ConfigSchema.environmentVariable(for: "accounts"),
                "accounts cannot be set from the environment",
                fix:
                    "write them under `accounts:` in \(path); their secrets can come from COPYBOT_ACCOUNT_<NAME>_* variables"
            )
        }
        let reader = ConfigReader(providers: [
            EnvironmentVariablesProvider(environmentVariables: overrides).prefixKeys(with: "copybot"),
            InMemoryProvider(name: path, values: yamlValues),
        ])
        var configuration = CopyBotConfiguration()
        read(reader, into: &configuration)
        var secretIssues: [ConfigIssue] = []
        configuration.credentials = SecretLoader(environment: environment, overrides: overrides).load(
            configuration.secrets, issues: &secretIssues)
        issues += secretIssues
        configuration.accounts = readAccounts()
        let topLevel = configuration.validate(requiringSecrets: requiringSecrets)
        for var issue in topLevel {
            issue.keyPath = renumberWallets(issue.keyPath)
            issue.message = renumberWallets(issue.message)
            guard !failedKeys.contains(Self.basePath(issue.keyPath)) else { continue }
            issues.append(issue)
        }
        issues += validateAccounts(configuration, topLevel: topLevel)
        let ordered = issues.filter(\.isError) + issues.filter { !$0.isError }
        return ConfigurationReport(path: path, configuration: configuration, issues: ordered)
    }

    // MARK: - Issues

    private mutating func error(_ keyPath: String, _ message: String, fix: String) {
        issues.append(ConfigIssue(keyPath, message, fix: fix))
        failedKeys.insert(Self.basePath(keyPath))
    }

    /// `follow.wallets[2].address` → `follow.wallets[2].address`; `chain.ws_urls[1]` → `chain.ws_urls`.
    static func basePath(_ keyPath: String) -> String {
        if keyPath.hasSuffix("]"), let bracket = keyPath.lastIndex(of: "[") {
            return String(keyPath[..<bracket])
        }
        return keyPath
    }

    private func located(_ node: Node) -> String {
        node.mark.map { " (\(path) line \($0.line))" } ?? ""
    }

    // MARK: - YAML

    private mutating func readFile() {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            error(
                path,
                exists ? "the configuration file cannot be read" : "the configuration file does not exist",
                fix: exists
                    ? "make it readable by the user copybot runs as"
                    : "pass --config PATH, or run copybot from the directory holding \(CopyBotConfiguration.defaultPath)"
            )
            return
        }
        guard let text = String(data: data, encoding: .utf8) else {
            error(path, "the configuration file is not UTF-8 text", fix: "save it as UTF-8")
            return
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let yamlError as YamlError {
            // Yams's own description quotes the offending line, which could hold a secret.
            error(
                path, "not valid YAML: \(Self.describe(yamlError))",
                fix: "correct the YAML syntax at that position")
            return
        } catch {
            self.error(path, "not valid YAML", fix: "correct the YAML syntax")
            return
        }
        guard let root, !Self.isNull(root) else { return }
        guard case .mapping(let mapping) = root else {
            error(
                path, "the top level must be a mapping of sections (chain:, copy:, ...)",
                fix: "start from Config/copybot.yaml")
            return
        }
        walk(mapping, prefix: "")
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return
                "key \(duplicates.joined(separator: ", ")) appears twice in one mapping near line \(context.mark.line)"
        case .reader(let problem, let offset, _, _):
            return "\(problem)\(offset.map { " at byte \($0)" } ?? "")"
        default:
            return "unreadable YAML"
        }
    }

    private static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    private mutating func walk(_ mapping: Node.Mapping, prefix: String) {
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                error(
                    prefix.isEmpty ? path : prefix, "a key is not a plain name\(located(keyNode))",
                    fix: "use snake_case names as in Config/copybot.yaml")
                continue
            }
            let name = keyScalar.string
            let keyPath = prefix.isEmpty ? name : "\(prefix).\(name)"
            if let mark = keyNode.mark { yamlLines[keyPath] = mark.line }
            if isAccountEntry, ConfigSchema.byPath[keyPath] != nil,
                !ConfigSchema.accountOverridePaths.contains(keyPath)
            {
                error(
                    keyPath, "cannot be set for one account\(located(keyNode)); it is shared by all accounts",
                    fix: "set it at the top level, outside `accounts:`")
            } else if let spec = ConfigSchema.byPath[keyPath] {
                readLeaf(spec, value)
            } else if ConfigSchema.sections.contains(keyPath) {
                if Self.isNull(value) { continue }
                guard case .mapping(let inner) = value else {
                    error(
                        keyPath, "must be a mapping of keys, found \(Self.kind(value))\(located(value))",
                        fix: "indent its keys under `\(name):` as in Config/copybot.yaml")
                    continue
                }
                walk(inner, prefix: keyPath)
            } else {
                unknownKey(keyPath, name: name, node: keyNode, candidates: Self.allPaths)
            }
        }
    }

    private static let allPaths: [String] = ConfigSchema.keys.map(\.path) + ConfigSchema.sections.sorted()

    private mutating func unknownKey(_ keyPath: String, name: String, node: Node, candidates: [String]) {
        if ConfigSchema.looksSecret(name) {
            error(
                keyPath,
                "a secret must not be in the configuration file\(located(node)); its value is not shown here",
                fix: "delete it from \(path) and provide it through the environment (COPYBOT_PRIVATE_KEY, "
                    + "COPYBOT_CLOB_API_KEY/_SECRET/_PASSPHRASE) or an owner-only file (secrets.private_key_file, "
                    + "secrets.api_credentials_file, chmod 600)")
            return
        }
        if let suggestion = ConfigSchema.suggestion(for: keyPath, among: candidates) {
            error(keyPath, "unknown key\(located(node))", fix: "did you mean \(suggestion)?")
        } else {
            let parent = keyPath.split(separator: ".").dropLast().joined(separator: ".")
            let siblings = candidates.filter {
                parent.isEmpty
                    ? !$0.contains(".")
                    : $0.hasPrefix(parent + ".") && !$0.dropFirst(parent.count + 1).contains(".")
            }
            error(
                keyPath, "unknown key\(located(node))",
                fix:
                    "remove it; the keys here are: \(siblings.map { $0.split(separator: ".").last.map(String.init) ?? $0 }.joined(separator: ", "))"
            )
        }
    }

    private mutating func readLeaf(_ spec: ConfigKeySpec, _ value: Node) {
        let key = AbsoluteConfigKey(spec.path.split(separator: ".").map(String.init))
        if Self.isNull(value) { return }
        switch spec.shape {
        case .scalar:
            guard case .scalar(let scalar) = value else {
                error(
                    spec.path, "expects a single value, found \(Self.kind(value))\(located(value))",
                    fix: "write `\(spec.path.split(separator: ".").last!): <value>`")
                return
            }
            yamlValues[key] = ConfigValue(.string(scalar.string), isSecret: false)
        case .list:
            guard let items = listItems(spec.path, value) else { return }
            yamlValues[key] = ConfigValue(.stringArray(items), isSecret: false)
        case .wallets:
            readWallets(value)
        case .accounts:
            readAccountEntries(value)
        }
    }

    /// A list of scalars, or a single scalar read as a comma-separated list (as in the environment).
    private mutating func listItems(_ keyPath: String, _ value: Node) -> [String]? {
        switch value {
        case .scalar(let scalar):
            return Self.splitList(scalar.string)
        case .sequence(let sequence):
            var items: [String] = []
            for (i, item) in sequence.enumerated() {
                guard case .scalar(let scalar) = item else {
                    error(
                        "\(keyPath)[\(i)]",
                        "expects a single value, found \(Self.kind(item))\(located(item))",
                        fix: "write one value per list item")
                    return nil
                }
                items.append(scalar.string)
            }
            return items
        default:
            error(
                keyPath, "expects a list, found \(Self.kind(value))\(located(value))",
                fix: "write a YAML list: [a, b] or one `- item` per line")
            return nil
        }
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private mutating func readWallets(_ value: Node) {
        let items: [Node]
        switch value {
        case .sequence(let sequence): items = Array(sequence)
        case .scalar(let scalar):
            yamlWallets = Self.splitList(scalar.string).enumerated().map { i, text in
                WalletDraft(path: "follow.wallets[\(i)]", source: path, address: text)
            }
            return
        default:
            error(
                "follow.wallets", "expects a list of wallets, found \(Self.kind(value))\(located(value))",
                fix: "write one `- address: 0x…` entry per wallet")
            return
        }
        for (i, item) in items.enumerated() {
            let entryPath = "follow.wallets[\(i)]"
            var draft = WalletDraft(path: entryPath, source: path)
            switch item {
            case .scalar(let scalar):
                draft.address = scalar.string
            case .mapping(let mapping):
                readWalletEntry(mapping, prefix: "", into: &draft)
                if draft.address == nil, !failedKeys.contains(entryPath + ".address") {
                    error(
                        entryPath + ".address", "a followed wallet needs an address\(located(item))",
                        fix: "add `address: 0x…` to the entry")
                }
            default:
                error(
                    entryPath, "expects a wallet entry, found \(Self.kind(item))\(located(item))",
                    fix: "write `- address: 0x…`")
            }
            yamlWallets.append(draft)
        }
    }

    private mutating func readWalletEntry(
        _ mapping: Node.Mapping, prefix: String, into draft: inout WalletDraft
    ) {
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else { continue }
            let name = keyScalar.string
            let relative = prefix.isEmpty ? name : "\(prefix).\(name)"
            let keyPath = "\(draft.path).\(relative)"
            if ConfigSchema.walletKeysByPath[relative] != nil {
                if Self.isNull(value) { continue }
                guard case .scalar(let scalar) = value else {
                    error(
                        keyPath, "expects a single value, found \(Self.kind(value))\(located(value))",
                        fix: "write `\(name): <value>`")
                    continue
                }
                switch relative {
                case "address": draft.address = scalar.string
                case "name": draft.name = scalar.string
                case "sizing.mode": draft.sizingMode = scalar.string
                default: draft.sizingValue = scalar.string
                }
            } else if ConfigSchema.walletSections.contains(relative) {
                if Self.isNull(value) { continue }
                guard case .mapping(let inner) = value else {
                    error(
                        keyPath, "must be a mapping of keys, found \(Self.kind(value))\(located(value))",
                        fix: "write `sizing: {mode: fixed_usdc, value: 5}`")
                    continue
                }
                readWalletEntry(inner, prefix: relative, into: &draft)
            } else {
                let candidates = (ConfigSchema.walletKeys.map(\.path) + ConfigSchema.walletSections.sorted())
                    .map { "\(draft.path).\($0)" }
                unknownKey(keyPath, name: name, node: keyNode, candidates: candidates)
            }
        }
    }

    // MARK: - Accounts

    private mutating func readAccountEntries(_ value: Node) {
        guard case .sequence(let items) = value else {
            error(
                "accounts", "expects a list of accounts, found \(Self.kind(value))\(located(value))",
                fix: "write one `- name: …` entry per account, with its `wallets:`")
            return
        }
        for (i, item) in items.enumerated() {
            let entryPath = "accounts[\(i)]"
            guard case .mapping(let mapping) = item else {
                error(
                    entryPath, "expects an account entry, found \(Self.kind(item))\(located(item))",
                    fix: "write `- name: desk-a` with `wallets:` and the keys it sets for itself")
                continue
            }
            var entry = ConfigurationLoader(path: path, environment: [:])
            entry.isAccountEntry = true
            var name: String?
            for (keyNode, value) in mapping {
                guard case .scalar(let keyScalar) = keyNode else { continue }
                let key = keyScalar.string
                switch key {
                case "name":
                    guard case .scalar(let scalar) = value else {
                        error(
                            entryPath + ".name", "expects a single value\(located(value))",
                            fix: "write `name: desk-a`")
                        continue
                    }
                    name = scalar.string
                case "wallets":
                    entry.readWallets(value)
                default:
                    if ConfigSchema.sections.contains(key) {
                        guard case .mapping(let inner) = value else {
                            error(
                                "\(entryPath).\(key)",
                                "must be a mapping of keys, found \(Self.kind(value))\(located(value))",
                                fix: "indent its keys under `\(key):`")
                            continue
                        }
                        entry.walk(inner, prefix: key)
                    } else {
                        let candidates =
                            (ConfigSchema.accountKeys.map(\.path) + ConfigSchema.accountOverridePaths.sorted())
                            .map { "\(entryPath).\($0)" }
                        unknownKey("\(entryPath).\(key)", name: key, node: keyNode, candidates: candidates)
                    }
                }
            }
            if name == nil {
                error(
                    entryPath + ".name", "an account needs a name\(located(item))",
                    fix: "add `name: …` (letters, digits, - and _)")
            }
            accountDrafts.append(AccountDraft(path: entryPath, name: name, loader: entry))
        }
    }

    /// Reads each `accounts` entry over the shared configuration: the entry's keys first, then the
    /// environment and the file's top level; the CLOB identity and the secrets from the entry only.
    /// Issues of the entry's own keys are reported under `accounts[i]`.
    private mutating func readAccounts() -> [CopyBotConfiguration.Account] {
        var accounts: [CopyBotConfiguration.Account] = []
        for index in accountDrafts.indices {
            let draft = accountDrafts[index]
            var entry = draft.loader
            let own = Set(
                entry.yamlValues.keys.map { $0.components.joined(separator: ".") })
            let reader = ConfigReader(providers: [
                InMemoryProvider(name: path, values: entry.yamlValues),
                EnvironmentVariablesProvider(environmentVariables: overrides).prefixKeys(with: "copybot"),
                InMemoryProvider(name: path, values: yamlValues),
            ])
            // What reading the entry's YAML found is the entry's; of what reading the values finds,
            // only issues of the entry's own keys are (the rest is reported at the top level).
            let parsed = entry.issues.count
            var configuration = CopyBotConfiguration()
            entry.read(reader, into: &configuration)
            // Each account names its own CLOB identity and keys; none is inherited.
            let identity = CopyBotConfiguration()
            if !own.contains("clob.signature_type") {
                configuration.clob.signatureType = identity.clob.signatureType
            }
            if !own.contains("clob.funder") { configuration.clob.funder = identity.clob.funder }
            if !own.contains("secrets.private_key_file") { configuration.secrets.privateKeyFile = nil }
            if !own.contains("secrets.api_credentials_file") {
                configuration.secrets.apiCredentialsFile = nil
            }
            var secretIssues: [ConfigIssue] = []
            if let name = draft.name {
                configuration.credentials = SecretLoader(
                    environment: environment, overrides: [:],
                    variablePrefix: ConfigSchema.accountSecretPrefix(name)
                ).load(configuration.secrets, issues: &secretIssues)
            }
            for (i, issue) in (entry.issues + secretIssues).enumerated() {
                let base = Self.basePath(issue.keyPath)
                guard
                    i < parsed || own.contains(base) || base.hasPrefix("follow.wallets")
                        || issue.keyPath.hasPrefix("COPYBOT_") || base.hasPrefix("secrets.")
                else { continue }
                let moved = Self.inAccount(issue, draft.path, entry: entry)
                issues.append(moved)
                failedKeys.insert(Self.basePath(moved.keyPath))
            }
            accountDrafts[index].loader = entry
            accounts.append(
                CopyBotConfiguration.Account(name: AccountID(draft.name ?? ""), configuration: configuration))
        }
        return accounts
    }

    /// `issue` of an account entry's loader, with its key path and message under `accounts[i]`
    /// (`follow.wallets[j]` becomes `accounts[i].wallets[j]`).
    private static func inAccount(
        _ issue: ConfigIssue, _ entryPath: String, entry: ConfigurationLoader
    )
        -> ConfigIssue
    {
        func rewrite(_ text: String) -> String {
            let renumbered = entry.renumberWallets(text)
            var result = renumbered.replacingOccurrences(of: "follow.wallets", with: "\(entryPath).wallets")
            if !result.hasPrefix("COPYBOT_"), !result.hasPrefix(entryPath) {
                result = "\(entryPath).\(result)"
            }
            return result
        }
        var moved = issue
        moved.keyPath = rewrite(issue.keyPath)
        moved.message = entry.renumberWallets(issue.message).replacingOccurrences(
            of: "follow.wallets", with: "\(entryPath).wallets")
        return moved
    }

    /// The checks of the accounts as a whole and of each account's values (what the top-level
    /// validation already reported is not repeated).
    private func validateAccounts(
        _ configuration: CopyBotConfiguration, topLevel: [ConfigIssue]
    ) -> [ConfigIssue] {
        guard !configuration.accounts.isEmpty else { return [] }
        var result: [ConfigIssue] = []
        if !configuration.follow.wallets.isEmpty {
            result.append(
                ConfigIssue(
                    "follow.wallets",
                    "set together with `accounts`: with accounts, each account lists its wallets",
                    fix: "move the wallets into the `wallets:` of the accounts that copy them"))
        }
        var names: [String: String] = [:]
        let reported = Set(topLevel.map { "\($0.keyPath)|\($0.message)" })
        for (draft, account) in zip(accountDrafts, configuration.accounts) {
            if let name = draft.name {
                if name.isEmpty || name.count > 40
                    || !name.allSatisfy({
                        $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")
                    })
                {
                    result.append(
                        ConfigIssue(
                            draft.path + ".name", "`\(name)` is not a usable account name",
                            fix: "use 1 to 40 letters, digits, `-` or `_`"))
                } else if let first = names[name.lowercased()] {
                    result.append(
                        ConfigIssue(
                            draft.path + ".name", "`\(name)` is already the name of \(first)",
                            fix: "give every account its own name: its state is keyed by it"))
                } else {
                    names[name.lowercased()] = draft.path
                }
            }
            if account.configuration.follow.wallets.isEmpty,
                !draft.loader.failedKeys.contains(where: { $0.hasPrefix("follow.wallets") })
            {
                result.append(
                    .warning(
                        draft.path + ".wallets", "the account follows no wallet: it copies nothing",
                        fix: "add `wallets:` entries (`- address: 0x…`)"))
            }
            for issue in account.configuration.validate(requiringSecrets: requiringSecrets) {
                let base = Self.basePath(issue.keyPath)
                // An account without wallets is warned about above, in its own words.
                if issue.keyPath == "follow.wallets", !issue.isError { continue }
                guard ["follow.", "copy.", "clob.", "secrets."].contains(where: { base.hasPrefix($0) }),
                    !reported.contains("\(issue.keyPath)|\(issue.message)"),
                    !draft.loader.failedKeys.contains(base)
                else { continue }
                result.append(Self.inAccount(issue, draft.path, entry: draft.loader))
            }
        }
        return result
    }

    // MARK: - Environment

    private static let knownVariables: Set<String> = Set(
        ConfigSchema.keys.map(\.environmentVariable) + ConfigSchema.secretVariables)

    /// Unknown `COPYBOT_*` variables are warnings: a typo there would otherwise be silently ignored.
    private mutating func checkEnvironmentNames() {
        for name in overrides.keys.sorted() where !Self.knownVariables.contains(name) {
            let suggestion = ConfigSchema.suggestion(for: name, among: Self.knownVariables)
            issues.append(
                .warning(
                    name, "unknown environment variable; it is ignored",
                    fix: suggestion.map { "did you mean \($0)?" }
                        ?? "unset it; see docs/configuration.md for the names"))
        }
    }

    // MARK: - Typed values

    /// Where a key's value came from, for messages.
    private func source(_ keyPath: String) -> String {
        let variable = ConfigSchema.environmentVariable(for: keyPath)
        if overrides[variable] != nil { return " (from \(variable))" }
        if let line = yamlLines[keyPath] { return " (\(path) line \(line))" }
        return ""
    }

    private func fromEnvironment(_ keyPath: String) -> Bool {
        overrides[ConfigSchema.environmentVariable(for: keyPath)] != nil
    }

    private func text(_ reader: ConfigReader, _ keyPath: String) -> String? {
        reader.string(forKey: ConfigKey(keyPath))?.trimmingCharacters(in: .whitespaces)
    }

    private func list(_ reader: ConfigReader, _ keyPath: String) -> [String]? {
        reader.stringArray(forKey: ConfigKey(keyPath)).map {
            $0.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    private mutating func unsigned(_ reader: ConfigReader, _ keyPath: String) -> UInt64? {
        guard let text = text(reader, keyPath) else { return nil }
        guard let value = Parse.unsigned(text) else {
            error(
                keyPath, "`\(text)` is not a whole number ≥ 0\(source(keyPath))",
                fix: "write digits only, e.g. \(ConfigSchema.byPath[keyPath]?.defaultValue ?? "1")")
            return nil
        }
        return value
    }

    private mutating func integer(_ reader: ConfigReader, _ keyPath: String) -> Int? {
        guard let text = text(reader, keyPath) else { return nil }
        guard let value = Parse.integer(text) else {
            error(
                keyPath, "`\(text)` is not a whole number\(source(keyPath))",
                fix: "write digits only, e.g. \(ConfigSchema.byPath[keyPath]?.defaultValue ?? "1")")
            return nil
        }
        return value
    }

    private mutating func decimal(_ reader: ConfigReader, _ keyPath: String) -> Decimal? {
        guard let text = text(reader, keyPath) else { return nil }
        guard let value = Parse.decimal(text) else {
            error(
                keyPath, "`\(text)` is not a number\(source(keyPath))",
                fix: "write a plain decimal number, e.g. \(ConfigSchema.byPath[keyPath]?.defaultValue ?? "1")"
            )
            return nil
        }
        return value
    }

    private mutating func seconds(_ reader: ConfigReader, _ keyPath: String) -> Duration? {
        guard let value = decimal(reader, keyPath) else { return nil }
        guard value >= 0 else {
            error(keyPath, "must not be negative\(source(keyPath))", fix: "write a number of seconds > 0")
            return nil
        }
        return .milliseconds(Int64(truncating: NSDecimalNumber(decimal: value * 1000)))
    }

    private mutating func double(_ reader: ConfigReader, _ keyPath: String) -> Double? {
        decimal(reader, keyPath).map { NSDecimalNumber(decimal: $0).doubleValue }
    }

    private mutating func bool(_ reader: ConfigReader, _ keyPath: String) -> Bool? {
        guard let text = text(reader, keyPath) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            error(keyPath, "`\(text)` is not true or false\(source(keyPath))", fix: "write true or false")
            return nil
        }
    }

    private mutating func choice<E: RawRepresentable & CaseIterable>(
        _ reader: ConfigReader, _ keyPath: String, _ type: E.Type
    ) -> E? where E.RawValue == String {
        guard let text = text(reader, keyPath) else { return nil }
        return choice(text, keyPath: keyPath, type, from: source(keyPath))
    }

    private mutating func choice<E: RawRepresentable & CaseIterable>(
        _ text: String, keyPath: String, _ type: E.Type, from source: String
    ) -> E? where E.RawValue == String {
        if let value = E(rawValue: text)
            ?? E.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() })
        {
            return value
        }
        let names = E.allCases.map(\.rawValue)
        let close = ConfigSchema.suggestion(for: text.lowercased(), among: names)
        error(
            keyPath, "`\(text)` is not one of \(names.joined(separator: ", "))\(source)",
            fix: close.map { "did you mean \($0)?" } ?? "use one of \(names.joined(separator: ", "))")
        return nil
    }

    private mutating func address(_ text: String, keyPath: String, from source: String) -> Address? {
        do { return try Address(text) } catch {
            let fix: String
            switch error {
            case .badChecksum:
                fix =
                    "copy the address exactly as Polygonscan or the Polymarket profile shows it (or all in lower case)"
            case .hex:
                fix = "write 0x followed by 40 hex digits"
            }
            self.error(keyPath, "\(error)\(source)", fix: fix)
            return nil
        }
    }

    // MARK: - Reading every key

    private mutating func read(_ r: ConfigReader, into c: inout CopyBotConfiguration) {
        // chain
        if let v = unsigned(r, "chain.chain_id") { c.chain.chainId = v }
        if let v = list(r, "chain.ws_urls") { c.chain.wsURLs = v }
        if let v = list(r, "chain.http_urls") { c.chain.httpURLs = v }
        if let v = unsigned(r, "chain.reorg_window") { c.chain.reorgWindow = v }
        if let v = seconds(r, "chain.stale_after") { c.chain.staleAfter = v }
        if let v = unsigned(r, "chain.verify_every") { c.chain.verifyEvery = v }
        if let v = unsigned(r, "chain.hash_read_depth") { c.chain.hashReadDepth = v }
        if let v = text(r, "chain.start_block") {
            if v.lowercased() == "latest" {
                c.chain.startBlock = .latest
            } else if let block = Parse.unsigned(v) {
                c.chain.startBlock = .block(block)
            } else {
                error(
                    "chain.start_block",
                    "`\(v)` is neither `latest` nor a block number\(source("chain.start_block"))",
                    fix: "write latest, or a block number such as 33605403")
            }
        }
        if let v = unsigned(r, "chain.get_logs_range") { c.chain.getLogsRange = v }
        if let v = unsigned(r, "chain.get_logs_max_range") { c.chain.getLogsMaxRange = v }
        if let v = integer(r, "chain.max_message_bytes") { c.chain.maxMessageBytes = v }
        if let v = seconds(r, "chain.request_timeout_seconds") { c.chain.requestTimeout = v }
        if let v = integer(r, "chain.buffer_capacity") { c.chain.bufferCapacity = v }

        // contracts, store
        if let v = text(r, "contracts.file") { c.contracts.file = v }
        if let v = text(r, "contracts.abi_dir") { c.contracts.abiDirectory = v }
        if let v = text(r, "store.url") {
            c.store.url = v
            if !fromEnvironment("store.url"), let components = URLComponents(string: v),
                components.password != nil
            {
                error(
                    "store.url",
                    "the URL holds a password, which must not be in the configuration file (not shown)",
                    fix:
                        "remove the password from \(path) and set the whole URL in COPYBOT_STORE_URL, or use a ~/.pgpass file"
                )
            }
        }

        // follow
        readFollowedWallets(r, into: &c)

        // copy
        if let v = choice(r, "copy.mode", CopyBotConfiguration.Copy.Mode.self) { c.copy.mode = v }
        if let v = integer(r, "copy.executors") { c.copy.executors = v }
        if let v = bool(r, "copy.unwind_on_retract") { c.copy.unwindOnRetract = v }
        if let v = decimal(r, "copy.starting_usdc") { c.copy.startingUSDC = v }
        if let v = seconds(r, "copy.order_lease_seconds") { c.copy.orderLease = v }
        if let v = choice(r, "copy.sizing.mode", CopyBotConfiguration.Sizing.Mode.self) {
            c.copy.sizing.mode = v
        }
        if let v = decimal(r, "copy.sizing.value") { c.copy.sizing.value = v }
        if let v = decimal(r, "copy.risk.min_order_usdc") { c.copy.risk.minOrderUSDC = v }
        if let v = decimal(r, "copy.risk.max_order_usdc") { c.copy.risk.maxOrderUSDC = v }
        if let v = decimal(r, "copy.risk.max_position_usdc_per_token") {
            c.copy.risk.maxPositionUSDCPerToken = v
        }
        if let v = decimal(r, "copy.risk.max_position_usdc_per_market") {
            c.copy.risk.maxPositionUSDCPerMarket = v
        }
        if let v = decimal(r, "copy.risk.max_total_exposure_usdc") { c.copy.risk.maxTotalExposureUSDC = v }
        if let v = decimal(r, "copy.risk.daily_loss_limit_usdc") { c.copy.risk.dailyLossLimitUSDC = v }
        if let v = decimal(r, "copy.risk.max_price_deviation") { c.copy.risk.maxPriceDeviation = v }
        if let v = seconds(r, "copy.risk.max_trade_age_seconds") { c.copy.risk.maxTradeAge = v }
        if let v = markets(r, "copy.risk.allow_markets") { c.copy.risk.allowMarkets = v }
        if let v = markets(r, "copy.risk.deny_markets") { c.copy.risk.denyMarkets = v }
        if let v = tokens(r, "copy.risk.allow_tokens") { c.copy.risk.allowTokens = v }
        if let v = tokens(r, "copy.risk.deny_tokens") { c.copy.risk.denyTokens = v }
        if let v = text(r, "copy.risk.kill_switch_file") { c.copy.risk.killSwitchFile = v }
        if let v = integer(r, "copy.breaker.consecutive_failures") { c.copy.breaker.consecutiveFailures = v }
        if let v = double(r, "copy.breaker.error_rate") { c.copy.breaker.errorRate = v }
        if let v = integer(r, "copy.breaker.min_samples") { c.copy.breaker.minSamples = v }
        if let v = seconds(r, "copy.breaker.window_seconds") { c.copy.breaker.window = v }
        if let v = seconds(r, "copy.breaker.cooldown_seconds") { c.copy.breaker.cooldown = v }

        // clob
        if let v = text(r, "clob.url") { c.clob.url = v }
        if let v = unsigned(r, "clob.chain_id") { c.clob.chainId = v }
        if let v = text(r, "clob.signature_type") {
            if let type = Parse.signatureType(v) {
                c.clob.signatureType = type
            } else {
                let names = SignatureType.allCases.map(\.description)
                let close = ConfigSchema.suggestion(for: v.uppercased(), among: names)
                error(
                    "clob.signature_type",
                    "`\(v)` is not one of \(names.joined(separator: ", "))\(source("clob.signature_type"))",
                    fix: close.map { "did you mean \($0)?" }
                        ?? "use EOA for a plain wallet, POLY_PROXY for a Polymarket (email/Magic) account, POLY_GNOSIS_SAFE for a browser-wallet account, POLY_1271 for a deposit wallet"
                )
            }
        }
        if let v = text(r, "clob.funder"), !v.isEmpty {
            c.clob.funder = address(v, keyPath: "clob.funder", from: source("clob.funder"))
        }
        if let v = double(r, "clob.requests_per_second") { c.clob.requestsPerSecond = v }
        if let v = seconds(r, "clob.timeout_seconds") { c.clob.timeout = v }
        if let v = seconds(r, "clob.balance_refresh_seconds") { c.clob.balanceRefresh = v }
        if let v = text(r, "clob.exchange") { c.clob.exchange = v }
        if let v = text(r, "clob.neg_risk_exchange") { c.clob.negRiskExchange = v }
        if let v = text(r, "clob.domain_version") { c.clob.domainVersion = v }

        // secrets (paths only)
        if let v = text(r, "secrets.private_key_file"), !v.isEmpty { c.secrets.privateKeyFile = v }
        if let v = text(r, "secrets.api_credentials_file"), !v.isEmpty { c.secrets.apiCredentialsFile = v }

        // http, log
        if let v = choice(r, "cluster.role", CopyBotConfiguration.Cluster.Role.self) { c.cluster.role = v }
        if let v = text(r, "cluster.name") { c.cluster.name = v.isEmpty ? nil : v }
        if let v = seconds(r, "cluster.failover_after") { c.cluster.failoverAfter = v }
        if let v = seconds(r, "cluster.lease_seconds") { c.cluster.lease = v }
        if let v = seconds(r, "cluster.prune_after_seconds") { c.cluster.pruneAfter = v }
        if let v = text(r, "http.listen") {
            if v.isEmpty || v.lowercased() == "off" {
                c.http.listen = nil
            } else if let address = Parse.listenAddress(v) {
                c.http.listen = address
            } else {
                error(
                    "http.listen", "`\(v)` is not host:port\(source("http.listen"))",
                    fix: "write e.g. 127.0.0.1:9464 ([::1]:9464 for IPv6), or leave it empty to turn HTTP off"
                )
            }
        }
        if let v = choice(r, "log.level", CopyBotConfiguration.Log.Level.self) { c.log.level = v }
        if let v = choice(r, "log.format", CopyBotConfiguration.Log.Format.self) { c.log.format = v }
    }

    private mutating func markets(_ r: ConfigReader, _ keyPath: String) -> [Bytes32]? {
        guard let items = list(r, keyPath) else { return nil }
        var result: [Bytes32] = []
        for (i, item) in items.enumerated() {
            let hex = item.hasPrefix("0x") || item.hasPrefix("0X") ? String(item.dropFirst(2)) : item
            guard hex.count == 64, let id = try? Bytes32(hex: item) else {
                error(
                    "\(keyPath)[\(i)]",
                    "`\(item)` is not a condition id (0x and 64 hex digits)\(source(keyPath))",
                    fix: "copy the market's conditionId from the Polymarket API")
                continue
            }
            result.append(id)
        }
        return result
    }

    private mutating func tokens(_ r: ConfigReader, _ keyPath: String) -> [UInt256]? {
        guard let items = list(r, keyPath) else { return nil }
        var result: [UInt256] = []
        for (i, item) in items.enumerated() {
            guard item.allSatisfy(\.isASCII), let id = UInt256(decimal: item) else {
                error(
                    "\(keyPath)[\(i)]",
                    "`\(item)` is not a token id (a decimal number below 2^256)\(source(keyPath))",
                    fix: "copy the outcome's token id (clobTokenIds) as a decimal string; quote it in YAML")
                continue
            }
            result.append(id)
        }
        return result
    }

    private mutating func readFollowedWallets(_ r: ConfigReader, into c: inout CopyBotConfiguration) {
        var drafts = yamlWallets
        let variable = ConfigSchema.environmentVariable(for: "follow.wallets")
        if overrides[variable] != nil {
            drafts = (list(r, "follow.wallets") ?? []).enumerated().map { i, item in
                // `name=0x…` or `0x…`
                let parts = item.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                return WalletDraft(
                    path: "follow.wallets[\(i)]", source: variable, address: parts.last,
                    name: parts.count == 2 ? parts[0] : nil)
            }
        }
        var wallets: [CopyBotConfiguration.FollowedWallet] = []
        walletPaths = []
        for draft in drafts {
            let from = draft.source == variable ? " (from \(variable))" : ""
            guard let text = draft.address else { continue }
            guard let address = address(text, keyPath: draft.path + ".address", from: from) else { continue }
            var wallet = CopyBotConfiguration.FollowedWallet(address: address, name: draft.name)
            switch (draft.sizingMode, draft.sizingValue) {
            case (nil, nil):
                break
            case (let mode?, let value?):
                let mode = choice(
                    mode, keyPath: draft.path + ".sizing.mode", CopyBotConfiguration.Sizing.Mode.self,
                    from: from)
                let number = Parse.decimal(value)
                if number == nil {
                    error(
                        draft.path + ".sizing.value", "`\(value)` is not a number",
                        fix: "write a plain decimal number")
                }
                if let mode, let number { wallet.sizing = .init(mode: mode, value: number) }
            case (nil, _):
                error(
                    draft.path + ".sizing.mode", "a per-wallet sizing needs a mode",
                    fix:
                        "add `mode:` (fixed_usdc, fraction_of_trade, multiplier_of_shares or percent_of_balance)"
                )
            case (_, nil):
                error(
                    draft.path + ".sizing.value", "a per-wallet sizing needs a value",
                    fix: "add `value:` next to `mode:`")
            }
            wallets.append(wallet)
            walletPaths.append(draft.path)
        }
        c.follow.wallets = wallets
    }

    /// `validate()` numbers the wallets it was given; entries that failed to parse were left out,
    /// so its `follow.wallets[i]` is renumbered to the entry's place in the file.
    private func renumberWallets(_ text: String) -> String {
        let marker = "follow.wallets["
        guard walletPaths.enumerated().contains(where: { "follow.wallets[\($0.offset)]" != $0.element })
        else {
            return text
        }
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: marker) {
            result += rest[..<range.lowerBound]
            let afterMarker = rest[range.upperBound...]
            if let close = afterMarker.firstIndex(of: "]"), let i = Int(afterMarker[..<close]),
                walletPaths.indices.contains(i)
            {
                result += walletPaths[i]
                rest = afterMarker[afterMarker.index(after: close)...]
            } else {
                result += marker
                rest = afterMarker
            }
        }
        return result + rest
    }
}

/// Strict parsers: `10abc` is not 10.
enum Parse {
    static func unsigned(_ text: String) -> UInt64? {
        let digits = text.replacingOccurrences(of: "_", with: "")
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    static func integer(_ text: String) -> Int? {
        var digits = text.replacingOccurrences(of: "_", with: "")
        let negative = digits.hasPrefix("-")
        if negative || digits.hasPrefix("+") { digits.removeFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits)
        else {
            return nil
        }
        return negative ? -value : value
    }

    static func decimal(_ text: String) -> Decimal? {
        var body = Substring(text.replacingOccurrences(of: "_", with: ""))
        if body.hasPrefix("-") || body.hasPrefix("+") { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !(parts.first?.isEmpty ?? true) || parts.count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            parts.contains(where: { !$0.isEmpty })
        else { return nil }
        return Decimal(
            string: text.replacingOccurrences(of: "_", with: ""), locale: Locale(identifier: "en_US_POSIX"))
    }

    static func signatureType(_ text: String) -> SignatureType? {
        let normalized = text.uppercased().replacingOccurrences(of: "-", with: "_")
        if let type = SignatureType.allCases.first(where: { $0.description == normalized }) { return type }
        if let number = UInt8(text) { return SignatureType(rawValue: number) }
        return nil
    }

    static func listenAddress(_ text: String) -> CopyBotConfiguration.ListenAddress? {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let port = Int(portText),
            (1...65_535).contains(port)
        else { return nil }
        return .init(host: host, port: port)
    }
}
