import Foundation

/// The top-level object of `Tests/Fixtures/<name>`.
func loadFixture(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Tests/Fixtures/\(name)")))
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw TestFailure(description: "\(name) is not a JSON object")
    }
    return object
}

extension [String: Any] {
    /// The string under `key`, or a failure naming the key.
    func string(_ key: String) throws -> String {
        guard let value = self[key] as? String else {
            throw TestFailure(description: "missing string '\(key)'")
        }
        return value
    }
}
