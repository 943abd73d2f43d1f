import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where a ``PostgresStore`` connects, parsed from a `postgres://user:password@host:port/database`
/// URL (`postgresql://` too).
///
/// Query parameters, as libpq reads them: `sslmode` (`disable`, `prefer` — the default — or
/// `require`), `application_name`, `connect_timeout` (seconds) and `options` (server settings
/// for the session, e.g. `options=-c%20search_path%3Dcopybot`). The password is kept for the
/// connection only: ``description`` and every error leave it out.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    /// How the connection uses TLS (`sslmode`).
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, plain otherwise.
        case prefer
        /// TLS with a verified certificate, or no connection.
        case require
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port (5432 unless the URL says otherwise).
    public var port: Int
    /// The role to connect as.
    public var username: String
    /// The role's password, if the URL has one.
    public var password: String?
    /// The database (the user name when the URL names none, as libpq does).
    public var database: String
    /// TLS use.
    public var tls: TLSMode = .prefer
    /// `application_name`, shown in `pg_stat_activity`.
    public var applicationName: String = "copybot"
    /// How long connecting may take.
    public var connectTimeout: Duration = .seconds(10)
    /// `options`: command-line options the server applies to each session (`-c name=value …`).
    public var options: String?
    /// The schema the store's tables live in (created if missing), instead of the server's
    /// `search_path`; nil: the server's default (usually `public`). Tests use one per test.
    public var schema: String?
    /// The most connections the store's pool opens.
    public var maximumConnections: Int = 10

    /// Parses `url`. The error names what is wrong and never shows the password.
    public init(url: String) throws {
        guard let components = URLComponents(string: url) else {
            throw PostgresStoreError("not a valid URL: \(Self.redacted(url))")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql"
        else {
            throw PostgresStoreError("the URL must start with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresStoreError("the URL \(Self.redacted(url)) has no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError(
                "the URL \(Self.redacted(url)) has no user name (write postgres://user@host:5432/database)")
        }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        guard !database.contains("/") else {
            throw PostgresStoreError(
                "the URL \(Self.redacted(url)) has more than a database name in its path")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        self.database = database.isEmpty ? user : database
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw PostgresStoreError(
                        "sslmode=\(value) is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                tls = mode
            case "application_name":
                applicationName = value
            case "options":
                options = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else {
                    throw PostgresStoreError("connect_timeout=\(value) is not a positive number of seconds")
                }
                connectTimeout = .seconds(seconds)
            default:
                throw PostgresStoreError(
                    "unknown URL parameter \(item.name) (known: sslmode, application_name, connect_timeout, options)"
                )
            }
        }
    }

    /// Takes the password from a libpq password file (`~/.pgpass`, or `PGPASSFILE`) when the URL
    /// has none: the first line `host:port:database:user:password` whose fields match (`*`
    /// matches anything; `\:` and `\\` escape). As libpq does, the file must not be readable by
    /// group or others; a file that is missing changes nothing. Returns whether a password was
    /// found.
    @discardableResult
    public mutating func readPasswordFile(at path: String) throws -> Bool {
        guard password == nil, FileManager.default.fileExists(atPath: path) else { return false }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw PostgresStoreError(
                "the password file \(path) is readable by group or others; make it owner-only (chmod 600)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PostgresStoreError("cannot read the password file \(path)")
        }
        let wanted = [host, String(port), database, username]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = Self.passwordFileFields(line)
            guard fields.count == 5 else { continue }
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                password = fields[4]
                return true
            }
        }
        return false
    }

    /// The fields of a password file line, unescaped.
    static func passwordFileFields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var field = ""
        var escaped = false
        for character in line {
            if escaped {
                field.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }

    /// `user@host:port/database`: where the store connects, without the password.
    public var description: String {
        "\(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
            + (schema.map { " (schema \($0))" } ?? "")
    }

    /// `url` with its password replaced and its query dropped, for messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparsable URL>" }
        if components.password != nil { components.percentEncodedPassword = "***" }
        components.query = nil
        return components.string ?? "<unparsable URL>"
    }

    /// The startup parameters every connection sends: the application name and the schema.
    var startupParameters: [(String, String)] {
        var parameters = [("application_name", applicationName)]
        if let options { parameters.append(("options", options)) }
        if let schema { parameters.append(("search_path", Self.quoted(schema))) }
        return parameters
    }

    /// `name` as an SQL identifier.
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    var clientTLS: PostgresClient.Configuration.TLS {
        switch tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    /// The pool's configuration.
    var client: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: clientTLS
        )
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = startupParameters
        configuration.options.maximumConnections = maximumConnections
        return configuration
    }

    /// The configuration of the one connection that migrates at start.
    func connection() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: try connectionTLS())
        configuration.options.connectTimeout = .seconds(connectTimeout.components.seconds)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }
}

/// Why the PostgreSQL store failed: connecting, migrating or a query. Messages name the server
/// (`user@host:port/database`) and PostgreSQL's own reason, never the password.
public struct PostgresStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// PostgreSQL's SQLSTATE, when the server answered with an error.
    public var sqlState: String?

    /// Creates an error.
    public init(_ message: String, sqlState: String? = nil) {
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }

    /// `error` explained: the server's message and SQLSTATE, or what failed on the client side.
    /// PostgresNIO's own descriptions are deliberately generic, so they are unpacked here.
    static func explain(_ error: any Error) -> (text: String, sqlState: String?) {
        if let error = error as? PostgresStoreError { return (error.message, error.sqlState) }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.commitError ?? error.beginError {
                return explain(inner)
            }
        }
        guard let error = error as? PSQLError else { return ("\(error)", nil) }
        if let info = error.serverInfo {
            let state = info[.sqlState]
            var text = info[.message] ?? "server error"
            if let detail = info[.detail] { text += " (\(detail))" }
            if let state { text += " [SQLSTATE \(state)]" }
            return (text, state)
        }
        if error.code == .authMechanismRequiresPassword {
            return ("the server asks for a password and none was given", nil)
        }
        var text = "\(error.code)"
        if let underlying = error.underlying { text += ": \(underlying)" }
        return (text, nil)
    }
}
