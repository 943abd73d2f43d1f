import Foundation
import Logging
import PostgresNIO

@testable import Store

/// The test PostgreSQL server (`COPYBOT_TEST_POSTGRES_URL`; see StoreTests' `PostgresTestServer`
/// and `scripts/postgres-test-server.sh`). Without it the suites that need it are skipped, or fail
/// when `COPYBOT_REQUIRE_POSTGRES=1`.
enum TestPostgres {
    static let environment = ProcessInfo.processInfo.environment

    static var url: String? {
        guard let url = environment["COPYBOT_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    static var enabled: Bool { url != nil || environment["COPYBOT_REQUIRE_POSTGRES"] == "1" }

    static let logger: Logger = {
        var logger = Logger(label: "copybot.test.postgres")
        logger.logLevel = .warning
        return logger
    }()

    /// A schema of its own on the test server, created and migrated, and the URL that names it to
    /// copybot (through `options`); drop it with ``cleanUp(_:schema:)``.
    static func freshSchema(
        prefix: String
    ) async throws -> (store: PostgresStore, url: String, schema: String) {
        guard let url else {
            throw PostgresStoreError("COPYBOT_TEST_POSTGRES_URL is not set but COPYBOT_REQUIRE_POSTGRES=1")
        }
        var configuration = try PostgresStoreConfiguration(url: url)
        let schema = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        configuration.schema = schema
        let store = try await PostgresStore(configuration: configuration, logger: logger)
        let storeURL = url + (url.contains("?") ? "&" : "?") + "options=-c%20search_path%3D\(schema)"
        return (store, storeURL, schema)
    }

    /// Runs `body` with a fresh schema (``freshSchema(prefix:)``: the store, the URL naming the
    /// schema, its name) and drops the schema afterwards, whether `body` throws or not.
    static func withFreshSchema(
        prefix: String, _ body: (PostgresStore, String, String) async throws -> Void
    ) async throws {
        let (store, url, schema) = try await freshSchema(prefix: prefix)
        do {
            try await body(store, url, schema)
        } catch {
            await cleanUp(store, schema: schema)
            throw error
        }
        await cleanUp(store, schema: schema)
    }

    /// Drops `schema` and stops `store`.
    static func cleanUp(_ store: PostgresStore, schema: String) async {
        _ = try? await store.client.query(
            "DROP SCHEMA IF EXISTS \(unescaped: PostgresStoreConfiguration.quoted(schema)) CASCADE",
            logger: logger)
        await store.shutdown()
    }
}
