import Foundation

/// Runs work that must not share the machine with other such work (load-sensitive test runs: the
/// listener under every fault, a cluster of processes), across suites and processes: an advisory
/// `flock` on a file in the temporary directory, waited for without blocking a thread.
public enum ExclusiveRun {
    /// Runs `body` while holding the lock `name`.
    public static func run<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("copybot-\(name).lock").path
        let fd = open(path, O_CREAT | O_RDWR, 0o600)
        guard fd >= 0 else { return try await body() }
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
