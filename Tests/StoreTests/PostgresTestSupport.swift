import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Store

/// The PostgreSQL server the tests use: `COPYBOT_TEST_POSTGRES_URL`
/// (`postgres://copybot:copybot@127.0.0.1:55432/copybot_test`; `scripts/postgres-test-server.sh`
/// starts one). Without it the PostgreSQL cases are skipped (cancelled, with the reason shown),
/// unless `COPYBOT_REQUIRE_POSTGRES=1` is set (as `scripts/test.sh` does): then they fail.
///
/// Each test gets a schema of its own (`t_<uuid>`, created by the store's migration through
/// `search_path`, dropped at the end), so tests run in parallel on one database.
enum PostgresTestServer {
    static let environment = ProcessInfo.processInfo.environment

    /// The server's URL, if set.
    static var url: String? {
        guard let url = environment["COPYBOT_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Whether a missing server fails the tests instead of skipping them.
    static var required: Bool { environment["COPYBOT_REQUIRE_POSTGRES"] == "1" }

    /// Whether the PostgreSQL tests run (to pass, or to fail for want of a server).
    static var enabled: Bool { url != nil || required }

    static let missing =
        "COPYBOT_TEST_POSTGRES_URL is not set but COPYBOT_REQUIRE_POSTGRES=1: start a server with `scripts/postgres-test-server.sh start` and export the URL it prints"

    /// Quiet: the store logs its migrations at info.
    static let logger: Logger = {
        var logger = Logger(label: "copybot.test.postgres")
        logger.logLevel = .warning
        return logger
    }()

    /// A configuration for a new schema on the test server. Without a server: cancels the test
    /// (skipped), or fails it when the server is required.
    static func freshConfiguration() throws -> PostgresStoreConfiguration {
        guard let url else {
            if required {
                throw PostgresServerMissing()
            }
            try Test.cancel("COPYBOT_TEST_POSTGRES_URL is not set: PostgreSQL case skipped")
        }
        var configuration = try PostgresStoreConfiguration(url: url)
        configuration.schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        configuration.maximumConnections = 4
        return configuration
    }

    /// Runs `body` with a configuration for a new schema and drops the schema afterwards.
    static func withSchema(_ body: (PostgresStoreConfiguration) async throws -> Void) async throws {
        let configuration = try freshConfiguration()
        do {
            try await body(configuration)
        } catch {
            await drop(configuration)
            throw error
        }
        await drop(configuration)
    }

    /// Runs `body` with a store on a new schema; shuts it down and drops the schema afterwards.
    static func withStore(_ body: (PostgresStore) async throws -> Void) async throws {
        try await withSchema { configuration in
            let store = try await PostgresStore(configuration: configuration, logger: logger)
            do {
                try await body(store)
            } catch {
                await store.shutdown()
                throw error
            }
            await store.shutdown()
        }
    }

    /// Drops the schema of `configuration` (best effort).
    static func drop(_ configuration: PostgresStoreConfiguration) async {
        guard let schema = configuration.schema else { return }
        var plain = configuration
        plain.schema = nil
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try plain.connection(), id: 1, logger: logger)
            try await connection.query(
                "DROP SCHEMA IF EXISTS \(unescaped: PostgresStoreConfiguration.quoted(schema)) CASCADE",
                logger: logger)
            try await connection.close()
        } catch {
            print("could not drop test schema \(schema): \(PostgresStoreError.explain(error).text)")
        }
    }
}

/// The PostgreSQL tests were required but no server was given.
struct PostgresServerMissing: Error, CustomStringConvertible {
    var description: String { PostgresTestServer.missing }
}
