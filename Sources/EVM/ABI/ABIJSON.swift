import Foundation

/// One parameter of an ABI JSON entry: `{"name": .., "type": .., "indexed": .., "components": [..]}`.
public struct ABIParameter: Codable, Hashable, Sendable {
    public var name: String
    public var type: String
    public var internalType: String?
    public var indexed: Bool?
    public var components: [ABIParameter]?

    /// Creates a parameter.
    public init(name: String, type: String, indexed: Bool? = nil, components: [ABIParameter]? = nil) {
        self.name = name
        self.type = type
        self.indexed = indexed
        self.components = components
    }

    /// The parameter's type, with tuples resolved from their components.
    public func abiType() throws(ABIError) -> ABIType {
        try ABIType(parameterType: type, components: components)
    }
}

/// One entry of an ABI JSON array; only what copybot reads is modelled, the rest is ignored.
public struct ABIEntry: Codable, Hashable, Sendable {
    public var type: String?
    public var name: String?
    public var inputs: [ABIParameter]?
    public var anonymous: Bool?
}

/// An event declared in an ABI, ready to decode logs.
public struct ABIEvent: Hashable, Sendable, CustomStringConvertible {
    /// The event name.
    public let name: String
    /// All inputs in declaration order.
    public let inputs: [ABIParameter]
    /// The resolved type of each input.
    public let types: [ABIType]
    /// Anonymous events have no topic0.
    public let anonymous: Bool
    /// The canonical signature, `Name(type1,type2)`.
    public let signature: String
    /// keccak256 of the signature: the first topic of every log of this event.
    public let topic0: Bytes32

    /// Builds an event from its name and inputs, resolving and checking every type.
    public init(name: String, inputs: [ABIParameter], anonymous: Bool = false) throws(ABIError) {
        guard !name.isEmpty else { throw .invalidJSON("an event without a name") }
        var types: [ABIType] = []
        for input in inputs {
            do { types.append(try input.abiType()) } catch {
                throw .invalidJSON("event \(name), input '\(input.name)': \(error)")
            }
        }
        let indexedCount = inputs.filter { $0.indexed == true }.count
        guard indexedCount <= (anonymous ? 4 : 3) else {
            throw .invalidJSON(
                "event \(name) has \(indexedCount) indexed inputs; at most \(anonymous ? 4 : 3) fit in topics"
            )
        }
        self.name = name
        self.inputs = inputs
        self.types = types
        self.anonymous = anonymous
        self.signature = name + "(" + types.map(\.description).joined(separator: ",") + ")"
        self.topic0 = Keccak256.hash(utf8: signature)
    }

    public var description: String { signature }

    /// Whether an indexed input of this type is stored as the keccak hash of its encoding.
    /// Only elementary value types sit in a topic as themselves.
    public static func isHashedWhenIndexed(_ type: ABIType) -> Bool {
        switch type {
        case .uint, .int, .address, .bool, .fixedBytes: false
        default: true
        }
    }

    /// Decodes a log's topics and data into the event's inputs, in declaration order.
    ///
    /// Indexed inputs come from topics 1... (0... for anonymous events); an indexed input of a
    /// dynamic or reference type holds the 32-byte hash of its value (`hashed == true`).
    public func decode(topics: [Bytes32], data: [UInt8]) throws(ABIError) -> [DecodedParameter] {
        let indexedCount = inputs.filter { $0.indexed == true }.count
        let expectedTopics = indexedCount + (anonymous ? 0 : 1)
        guard topics.count == expectedTopics else {
            throw .topicMismatch("\(name) needs \(expectedTopics) topics, the log has \(topics.count)")
        }
        if !anonymous, topics[0] != topic0 {
            throw .topicMismatch("topic0 \(topics[0].hex) is not \(signature)")
        }
        var dataTypes: [ABIType] = []
        for (input, type) in zip(inputs, types) where input.indexed != true { dataTypes.append(type) }
        let dataValues = try ABIDecoder.decode(dataTypes, from: data)
        var result: [DecodedParameter] = []
        result.reserveCapacity(inputs.count)
        var topicIndex = anonymous ? 0 : 1
        var dataIndex = 0
        for (input, type) in zip(inputs, types) {
            if input.indexed == true {
                let topic = topics[topicIndex]
                topicIndex += 1
                if Self.isHashedWhenIndexed(type) {
                    result.append(
                        DecodedParameter(
                            name: input.name, type: type, indexed: true, hashed: true,
                            value: .fixedBytes(topic.bytes)))
                } else {
                    let value = try ABIDecoder.decode([type], from: topic.bytes)[0]
                    result.append(
                        DecodedParameter(
                            name: input.name, type: type, indexed: true, hashed: false, value: value))
                }
            } else {
                result.append(
                    DecodedParameter(
                        name: input.name, type: type, indexed: false, hashed: false,
                        value: dataValues[dataIndex]))
                dataIndex += 1
            }
        }
        return result
    }
}

/// One decoded input of an event.
public struct DecodedParameter: Hashable, Sendable {
    public var name: String
    public var type: ABIType
    public var indexed: Bool
    /// True when the value is the keccak hash that an indexed dynamic input leaves in its topic.
    public var hashed: Bool
    public var value: ABIValue
}

/// A contract ABI as loaded from JSON: its events (functions and errors are not needed by copybot).
public struct ContractABI: Hashable, Sendable {
    /// Every event, in file order.
    public let events: [ABIEvent]

    /// Parses standard ABI JSON: an array of entries as solc emits, or an artifact object with an
    /// `abi` array (Foundry, Hardhat).
    public init(json: Data) throws(ABIError) {
        let entries: [ABIEntry]
        do {
            if let array = try? JSONDecoder().decode([ABIEntry].self, from: json) {
                entries = array
            } else {
                entries = try JSONDecoder().decode(Artifact.self, from: json).abi
            }
        } catch {
            throw .invalidJSON(
                "not an ABI array or an artifact with an \"abi\" array (\(Self.describe(error)))")
        }
        var events: [ABIEvent] = []
        for entry in entries where entry.type == "event" {
            events.append(
                try ABIEvent(
                    name: entry.name ?? "", inputs: entry.inputs ?? [], anonymous: entry.anonymous ?? false))
        }
        self.events = events
    }

    /// The events named `name` (overloads share a name).
    public func events(named name: String) -> [ABIEvent] { events.filter { $0.name == name } }

    /// The non-anonymous event whose topic0 is `topic`.
    public func event(topic0 topic: Bytes32) -> ABIEvent? {
        events.first { !$0.anonymous && $0.topic0 == topic }
    }

    private struct Artifact: Decodable { var abi: [ABIEntry] }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, let context):
            return
                "missing key '\(key.stringValue)' at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context):
            return
                "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
