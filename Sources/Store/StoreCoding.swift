import CopyEngine
import EVM
import Foundation

/// The stored forms both SQL stores share: rich values as JSON text of their `Codable` forms
/// (exact: amounts as six-decimal text, 256-bit numbers as decimal text), amounts as six-decimal
/// text, 32-byte words as 32 bytes.
enum StoreCoding {
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corrupt("\(T.self) \(text): \(error)")
        }
    }

    static func fixed6(_ text: String) throws -> Fixed6 {
        guard let value = Fixed6(text) else { throw StoreError.corrupt("amount \(text)") }
        return value
    }

    static func data(_ word: Bytes32) -> Data { Data(word.bytes) }

    static func bytes32(_ data: Data) throws -> Bytes32 {
        guard let word = Bytes32(bytes: data) else {
            throw StoreError.corrupt("expected 32 bytes, found \(data.count)")
        }
        return word
    }
}
