import EVM
import Foundation
import Polymarket

/// Paths into the repository, for tests that read its real configuration and fixtures.
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The registry built from `Config/contracts.polygon.yaml` and `abi/`.
    static func registry() throws -> ExchangeRegistry {
        try ExchangeRegistry.load(
            contractsFile: path("Config/contracts.polygon.yaml"), abiDirectory: path("abi"))
    }

    /// The cases of a fixture file.
    static func fixtureCases(_ name: String) throws -> [[String: Any]] {
        guard let cases = try loadFixture(name)["cases"] as? [[String: Any]] else {
            throw TestFailure(description: "\(name) has no cases")
        }
        return cases
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
}
