import Foundation
import Logging
import ServiceLifecycle
import Store

/// An open store, as the rest of the application uses it: through its protocols, with one way to
/// close it whatever it is.
public struct OpenedStore: Sendable {
    /// The listener's state, the copy engine's state and the CLI's reads.
    public let store: any CopyBotStore
    /// What the store is, for logs: `sqlite:<path>` or `postgres://user@host:port/db` (never a
    /// password).
    public let description: String
    /// The cluster's queue, membership and election: a PostgreSQL store's; nil for SQLite.
    let cluster: CopyBotApplication.Cluster?
    /// The store's own upkeep while `copybot run` runs (an SQLite store's WAL checkpointer).
    let upkeep: (any Service)?
    private let closeStore: @Sendable () async -> Void

    /// Wraps `store`; `close` releases it.
    init(
        store: any CopyBotStore, description: String, cluster: CopyBotApplication.Cluster? = nil,
        upkeep: (any Service)? = nil, close: @escaping @Sendable () async -> Void
    ) {
        self.store = store
        self.description = description
        self.cluster = cluster
        self.upkeep = upkeep
        self.closeStore = close
    }

    /// Releases the store (stops a PostgreSQL store's connection pool); call once, when done.
    public func close() async { await closeStore() }
}

/// The one place that knows the concrete stores: opens the one `store.url` names.
public enum StoreFactory {
    /// Opens (creating and migrating if needed) the store of `location`. With `mustExist`, an
    /// SQLite file that is not there yet is an error instead of a new empty database (the state
    /// commands read; only `copybot run` creates). A PostgreSQL URL without a password takes it
    /// from the libpq password file, `PGPASSFILE` or `~/.pgpass` in `environment`, when there is
    /// one.
    public static func open(
        _ location: CopyBotConfiguration.Store.Location, logger: Logger, mustExist: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> OpenedStore {
        switch location {
        case .sqlite(let path):
            if mustExist, !FileManager.default.fileExists(atPath: path) {
                throw ApplicationError("no store at \(path) yet: `copybot run` creates it")
            }
            let store = try SQLiteStore(path: path)
            return OpenedStore(
                store: store, description: "sqlite:\(path)", upkeep: store.checkpointer(logger: logger),
                close: {})
        case .postgres(let url):
            var configuration = try PostgresStoreConfiguration(url: url)
            if let file = environment["PGPASSFILE"] ?? environment["HOME"].map({ $0 + "/.pgpass" }) {
                try configuration.readPasswordFile(at: file)
            }
            let store = try await PostgresStore(configuration: configuration, logger: logger)
            return OpenedStore(
                store: store, description: "postgres://\(store.configuration)",
                cluster: CopyBotApplication.Cluster(queue: store, coordinator: store, election: store),
                close: { await store.shutdown() })
        }
    }

    /// Opens the store `configuration.store.url` names; an unusable URL is an error that does not
    /// show a password.
    public static func open(
        _ configuration: CopyBotConfiguration, logger: Logger, mustExist: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> OpenedStore {
        guard let location = configuration.store.location else {
            throw ApplicationError(
                "store.url \(Redaction.store(configuration.store.url)) must start with sqlite:, postgres:// or postgresql://"
            )
        }
        return try await open(location, logger: logger, mustExist: mustExist, environment: environment)
    }
}
