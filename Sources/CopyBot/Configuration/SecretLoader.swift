import EVM
import Foundation
import Polymarket

/// Loads the signing key and the CLOB API credentials from the environment or from files that
/// only their owner can read. No value read here ever appears in an issue.
///
/// - Private key: `COPYBOT_PRIVATE_KEY` (hex), or a file named by `COPYBOT_PRIVATE_KEY_FILE` or
///   `secrets.private_key_file` (`COPYBOT_SECRETS_PRIVATE_KEY_FILE`) holding the hex key.
/// - API credentials: `COPYBOT_CLOB_API_KEY`, `COPYBOT_CLOB_API_SECRET` and
///   `COPYBOT_CLOB_API_PASSPHRASE` together, or a file named by `secrets.api_credentials_file`
///   holding either those three `NAME=value` lines (what `copybot keys derive-api` prints) or a
///   JSON object `{"apiKey": …, "secret": …, "passphrase": …}`.
///
/// A secret file must be a regular file whose mode grants nothing to group or others
/// (`mode & 0o077 == 0`, e.g. 600 or 400).
///
/// An `accounts` entry's secrets use the same names with the account's prefix
/// (``ConfigSchema/accountSecretPrefix(_:)``: `COPYBOT_ACCOUNT_DESK_A_PRIVATE_KEY`, …).
struct SecretLoader {
    let environment: [String: String]
    /// The generic `COPYBOT_*` overrides, to tell where a file path came from.
    let overrides: [String: String]
    /// `COPYBOT_`, or an account's `COPYBOT_ACCOUNT_<NAME>_`.
    var variablePrefix = "COPYBOT_"

    var keyVariable: String { variablePrefix + "PRIVATE_KEY" }
    var keyFileVariable: String { variablePrefix + "PRIVATE_KEY_FILE" }
    var apiKeyVariable: String { variablePrefix + "CLOB_API_KEY" }
    var apiSecretVariable: String { variablePrefix + "CLOB_API_SECRET" }
    var apiPassphraseVariable: String { variablePrefix + "CLOB_API_PASSPHRASE" }

    private func variable(_ name: String) -> String? {
        let value = environment[name] ?? environment.first(where: { $0.key.uppercased() == name })?.value
        guard let value, !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return value
    }

    func load(
        _ secrets: CopyBotConfiguration.Secrets, issues: inout [ConfigIssue]
    ) -> CopyBotConfiguration.Credentials {
        var credentials = CopyBotConfiguration.Credentials()
        loadKey(secrets, into: &credentials, issues: &issues)
        loadAPI(secrets, into: &credentials, issues: &issues)
        return credentials
    }

    // MARK: - Private key

    private func loadKey(
        _ secrets: CopyBotConfiguration.Secrets, into credentials: inout CopyBotConfiguration.Credentials,
        issues: inout [ConfigIssue]
    ) {
        let inline = variable(keyVariable)
        let aliasFile = variable(keyFileVariable)
        let genericVariable = ConfigSchema.environmentVariable(for: "secrets.private_key_file")
        if let aliasFile, let generic = overrides[genericVariable], !generic.isEmpty, generic != aliasFile {
            issues.append(
                ConfigIssue(
                    keyFileVariable, "set together with \(genericVariable), to a different file",
                    fix: "set only one of them"))
            return
        }
        let file: (path: String, keyPath: String)? =
            aliasFile.map { ($0, keyFileVariable) }
            ?? secrets.privateKeyFile.map { ($0, "secrets.private_key_file") }
        switch (inline, file) {
        case (nil, nil):
            return
        case (.some, .some(let file)):
            issues.append(
                ConfigIssue(
                    keyVariable, "set although a key file is also configured (\(file.keyPath))",
                    fix:
                        "keep one source of the key: preferably the file (chmod 600), and unset \(keyVariable)"
                ))
        case (let hex?, nil):
            do {
                credentials.privateKey = try PrivateKey(
                    hex: hex.trimmingCharacters(in: .whitespacesAndNewlines))
                credentials.privateKeySource = keyVariable
            } catch {
                issues.append(
                    ConfigIssue(
                        keyVariable, "not a valid private key: \(error) (the value is not shown)",
                        fix: "set it to the 64 hex digits of the key, with or without 0x"))
            }
        case (nil, let file?):
            if Self.looksLikeKey(file.path), !FileManager.default.fileExists(atPath: file.path) {
                issues.append(
                    ConfigIssue(
                        file.keyPath,
                        "holds what looks like a private key instead of a file path (the value is not shown)",
                        fix:
                            "remove the key from the configuration (and consider it exposed); write it to a file, "
                            + "chmod 600 it, and set this key to the file's path"))
                return
            }
            guard
                var data = Self.readOwnerOnly(
                    file.path, keyPath: file.keyPath, what: "private key", issues: &issues)
            else { return }
            defer { data.resetBytes(in: 0..<data.count) }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                credentials.privateKey = try PrivateKey(hex: text)
                credentials.privateKeySource = file.path
            } catch {
                issues.append(
                    ConfigIssue(
                        file.keyPath,
                        "\(file.path) does not hold a valid private key: \(error) (the contents are not shown)",
                        fix: "write only the 64 hex digits of the key (with or without 0x) to \(file.path)"))
            }
        }
    }

    static func looksLikeKey(_ text: String) -> Bool {
        var hex = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if hex.hasPrefix("0x") || hex.hasPrefix("0X") { hex = hex.dropFirst(2) }
        return hex.count == 64 && hex.allSatisfy(\.isHexDigit)
    }

    // MARK: - API credentials

    private func loadAPI(
        _ secrets: CopyBotConfiguration.Secrets, into credentials: inout CopyBotConfiguration.Credentials,
        issues: inout [ConfigIssue]
    ) {
        let names = [apiKeyVariable, apiSecretVariable, apiPassphraseVariable]
        let values = names.map(variable)
        let present = zip(names, values).filter { $0.1 != nil }.map(\.0)
        let file = secrets.apiCredentialsFile
        if !present.isEmpty, let file {
            issues.append(
                ConfigIssue(
                    present[0], "set although secrets.api_credentials_file is also configured (\(file))",
                    fix: "keep one source of the API credentials: the file or the three variables"))
            return
        }
        if !present.isEmpty {
            guard present.count == names.count, let key = values[0], let secret = values[1],
                let passphrase = values[2]
            else {
                let missing = names.filter { !present.contains($0) }
                issues.append(
                    ConfigIssue(
                        missing[0],
                        "missing: the API credentials need all of \(names.joined(separator: ", ")); "
                            + "set: \(present.joined(separator: ", "))",
                        fix: "set \(missing.joined(separator: " and ")), or use secrets.api_credentials_file")
                )
                return
            }
            credentials.api = ApiCredentials(
                apiKey: key.trimmingCharacters(in: .whitespacesAndNewlines),
                secret: secret.trimmingCharacters(in: .whitespacesAndNewlines),
                passphrase: passphrase.trimmingCharacters(in: .whitespacesAndNewlines))
            credentials.apiSource = "environment"
            return
        }
        guard let file else { return }
        let keyPath = "secrets.api_credentials_file"
        guard var data = Self.readOwnerOnly(file, keyPath: keyPath, what: "API credentials", issues: &issues)
        else {
            return
        }
        defer { data.resetBytes(in: 0..<data.count) }
        switch Self.parseCredentials(data) {
        case .success(let parsed):
            credentials.api = parsed
            credentials.apiSource = file
        case .failure(let problem):
            issues.append(
                ConfigIssue(
                    keyPath, "\(file): \(problem.message) (the contents are not shown)",
                    fix: "write the three lines COPYBOT_CLOB_API_KEY=…, COPYBOT_CLOB_API_SECRET=…, "
                        + "COPYBOT_CLOB_API_PASSPHRASE=… (as `copybot keys derive-api` prints them), or a JSON "
                        + "object with apiKey, secret and passphrase"))
        }
    }

    struct CredentialsProblem: Error {
        var message: String
    }

    /// `NAME=value` lines or a JSON object. Messages name fields, never values.
    static func parseCredentials(_ data: Data) -> Result<ApiCredentials, CredentialsProblem> {
        let text = String(decoding: data, as: UTF8.self)
        var fields: [String: String] = [:]
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                return .failure(.init(message: "not a valid JSON object"))
            }
            let aliases: [String: [String]] = [
                "key": ["apiKey", "api_key", "key"], "secret": ["secret", "api_secret", "apiSecret"],
                "passphrase": ["passphrase", "api_passphrase", "apiPassphrase"],
            ]
            for (field, names) in aliases {
                if let value = names.lazy.compactMap({ object[$0] as? String }).first {
                    fields[field] = value
                }
            }
        } else {
            let names = [
                "COPYBOT_CLOB_API_KEY": "key", "COPYBOT_CLOB_API_SECRET": "secret",
                "COPYBOT_CLOB_API_PASSPHRASE": "passphrase",
            ]
            for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                .enumerated()
            {
                var line = rawLine.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)) }
                guard let equals = line.firstIndex(of: "=") else {
                    return .failure(.init(message: "line \(number + 1) is not NAME=value"))
                }
                let name = line[..<equals].trimmingCharacters(in: .whitespaces).uppercased()
                guard let field = names[name] else {
                    return .failure(.init(message: "line \(number + 1) sets an unknown name \(name)"))
                }
                var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, let first = value.first, first == "\"" || first == "'",
                    value.last == first
                {
                    value = String(value.dropFirst().dropLast())
                }
                fields[field] = value
            }
        }
        let missing = ["key", "secret", "passphrase"].filter { (fields[$0] ?? "").isEmpty }
        guard missing.isEmpty, let key = fields["key"], let secret = fields["secret"],
            let passphrase = fields["passphrase"]
        else {
            return .failure(.init(message: "missing the API \(missing.joined(separator: ", "))"))
        }
        return .success(ApiCredentials(apiKey: key, secret: secret, passphrase: passphrase))
    }

    // MARK: - Files

    /// The contents of `path` if it is a regular file that only its owner may read; an issue otherwise.
    static func readOwnerOnly(
        _ path: String, keyPath: String, what: String, issues: inout [ConfigIssue]
    ) -> Data? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            issues.append(
                ConfigIssue(
                    keyPath, "the \(what) file \(path) does not exist or cannot be accessed",
                    fix: "create it (umask 077; then chmod 600 \(path)) or correct the path"))
            return nil
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            issues.append(
                ConfigIssue(
                    keyPath, "the \(what) file \(path) is not a regular file",
                    fix: "point it at a regular file"))
            return nil
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            issues.append(
                ConfigIssue(
                    keyPath,
                    "the \(what) file \(path) has mode \(Self.octal(mode)); it must be readable by its owner alone",
                    fix: "chmod 600 \(path)"))
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            issues.append(
                ConfigIssue(
                    keyPath, "the \(what) file \(path) cannot be read by this user",
                    fix: "chown it to the user copybot runs as, keeping mode 600"))
            return nil
        }
        return data
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
