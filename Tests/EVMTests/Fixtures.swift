import EVM
import Foundation

/// Reads the conformance fixtures in `Tests/Fixtures`, written by `scripts/fixtures/*.py` from the
/// official Python packages.
enum Fixtures {
    static func url(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    /// The top-level JSON object of a fixture file.
    static func object(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: url(name))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError("\(name) is not a JSON object")
        }
        return object
    }

    /// The array under `key` of a fixture file.
    static func list(_ name: String, key: String) throws -> [[String: Any]] {
        guard let list = try object(name)[key] as? [[String: Any]] else {
            throw FixtureError("\(name) has no \(key)")
        }
        return list
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Builds the ABIValue a fixture's JSON stands for, guided by the type.
func abiValue(json: Any, type: ABIType) throws -> ABIValue {
    func string() throws -> String {
        guard let s = json as? String else {
            throw FixtureError("expected a string for \(type), got \(json)")
        }
        return s
    }
    switch type {
    case .uint:
        guard let v = UInt256(decimal: try string()) else { throw FixtureError("bad uint \(json)") }
        return .uint(v)
    case .int:
        guard let v = UInt256(signedDecimal: try string()) else { throw FixtureError("bad int \(json)") }
        return .int(v)
    case .address: return .address(try Address(try string()))
    case .bool:
        guard let b = json as? Bool else { throw FixtureError("bad bool \(json)") }
        return .bool(b)
    case .fixedBytes: return .fixedBytes(try Hex.decode(try string()))
    case .bytes: return .bytes(try Hex.decode(try string()))
    case .string: return .string(try string())
    case .fixedArray(let element, _), .array(let element):
        guard let list = json as? [Any] else { throw FixtureError("expected an array for \(type)") }
        return .array(try list.map { try abiValue(json: $0, type: element) })
    case .tuple(let components):
        guard let list = json as? [Any], list.count == components.count else {
            throw FixtureError("expected \(components.count) components for \(type)")
        }
        return .tuple(try zip(list, components).map { try abiValue(json: $0, type: $1) })
    }
}

/// The top-level object of `Tests/Fixtures/<name>`.
func loadFixture(_ name: String) throws -> [String: Any] { try Fixtures.object(name) }

extension [String: Any] {
    /// The string under `key`, or a fixture error naming the key.
    func string(_ key: String) throws -> String {
        guard let value = self[key] as? String else { throw FixtureError("missing string '\(key)'") }
        return value
    }
}
