import EVM
import Foundation

/// Loads `Tests/Fixtures/<name>` (no SwiftPM resources: the path is relative to this file).
func loadFixture(_ name: String) throws -> [String: Any] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
    let data = try Data(contentsOf: url)
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw FixtureError.malformed(name)
    }
    return object
}

enum FixtureError: Error {
    case malformed(String)
}

extension [String: Any] {
    func string(_ key: String) throws -> String {
        guard let value = self[key] as? String else { throw FixtureError.malformed(key) }
        return value
    }
}
