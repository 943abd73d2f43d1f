import EVM
import Foundation
import Yams

/// One exchange contract from `Config/contracts.*.yaml`, with its ABI loaded and its fill event mapped.
public struct ExchangeContract: Hashable, Sendable {
    public var name: String
    public var address: Address
    /// The ABI file name, relative to the ABI directory.
    public var abiFile: String
    public var abi: ContractABI
    /// The event that reports one fill of one order.
    public var fillEvent: ABIEvent
    var mapping: FillMapping
    /// No event of the contract is older than this block.
    public var firstBlock: UInt64?
    /// No event of the contract is newer than this block (nil while it is live).
    public var lastBlock: UInt64?
    public var collateral: Address?
    /// Whether this is the NegRisk exchange of its version.
    public var negRisk: Bool
}

/// Why the contracts configuration could not be loaded. The description names the file and key.
public struct RegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file at fault.
    public var file: String
    /// The key path in it, e.g. `exchanges[2].address`, or empty for the whole file.
    public var keyPath: String
    public var message: String

    /// Creates an error about `keyPath` in `file`.
    public init(file: String, keyPath: String, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        keyPath.isEmpty ? "\(file): \(message)" : "\(file): \(keyPath): \(message)"
    }
}

/// The exchanges copybot listens to, loaded from configuration, and the decoding of their logs.
public struct ExchangeRegistry: Sendable {
    /// The chain the contracts live on.
    public let chainId: UInt64
    /// Every configured exchange, in file order.
    public let contracts: [ExchangeContract]
    private let indexByAddress: [Address: Int]

    /// The decoded form of one log of a configured exchange.
    public enum DecodedLog: Hashable, Sendable {
        /// A fill: one trade of the order's maker.
        case trade(TradeEvent)
        /// Another event of the exchange's ABI (OrdersMatched among them, which repeats the taker's
        /// fill totals and so is never a trade).
        case event(exchange: String, event: ABIEvent, parameters: [DecodedParameter])
    }

    /// Loads `contractsFile` (YAML) and the ABI files it names from `abiDirectory`.
    public static func load(
        contractsFile: String, abiDirectory: String
    ) throws(RegistryError) -> ExchangeRegistry {
        let text: String
        do { text = try String(contentsOfFile: contractsFile, encoding: .utf8) } catch {
            throw RegistryError(
                file: contractsFile, keyPath: "",
                message: "cannot read the file (\(error.localizedDescription))")
        }
        return try ExchangeRegistry(yaml: text, fileName: contractsFile) { file throws(RegistryError) in
            let path = (abiDirectory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RegistryError(
                    file: contractsFile, keyPath: "",
                    message: "ABI file \(path) does not exist or cannot be read")
            }
            return data
        }
    }

    /// Builds the registry from YAML text; `loadABI` returns the bytes of an ABI file by name.
    public init(
        yaml: String, fileName: String, loadABI: (String) throws(RegistryError) -> Data
    ) throws(RegistryError) {
        func fail(_ keyPath: String, _ message: String) -> RegistryError {
            RegistryError(file: fileName, keyPath: keyPath, message: message)
        }
        let file: ContractsFile
        do { file = try YAMLDecoder().decode(ContractsFile.self, from: yaml) } catch {
            throw fail(Self.keyPath(of: error), Self.message(of: error))
        }
        guard !file.exchanges.isEmpty else { throw fail("exchanges", "no exchanges configured") }
        var contracts: [ExchangeContract] = []
        var index: [Address: Int] = [:]
        var abis: [String: ContractABI] = [:]
        for (i, entry) in file.exchanges.enumerated() {
            let path = "exchanges[\(i)]"
            guard !entry.name.isEmpty else { throw fail("\(path).name", "must not be empty") }
            guard !contracts.contains(where: { $0.name == entry.name }) else {
                throw fail("\(path).name", "'\(entry.name)' is used by two exchanges; names must be unique")
            }
            let address: Address
            do { address = try Address(entry.address) } catch { throw fail("\(path).address", "\(error)") }
            if let other = index[address] {
                throw fail("\(path).address", "\(address) is already configured as \(contracts[other].name)")
            }
            let abi: ContractABI
            if let cached = abis[entry.abi] {
                abi = cached
            } else {
                let data: Data
                do { data = try loadABI(entry.abi) } catch { throw fail("\(path).abi", error.message) }
                do { abi = try ContractABI(json: data) } catch {
                    throw fail("\(path).abi", "\(entry.abi): \(error)")
                }
                abis[entry.abi] = abi
            }
            let eventName = entry.fill_event ?? "OrderFilled"
            let candidates = abi.events(named: eventName)
            guard !candidates.isEmpty else {
                throw fail("\(path).fill_event", "\(entry.abi) has no event named \(eventName)")
            }
            guard candidates.count == 1, let fillEvent = candidates.first else {
                throw fail(
                    "\(path).fill_event",
                    "\(entry.abi) has \(candidates.count) events named \(eventName); overloads are ambiguous")
            }
            let mapping: FillMapping
            do { mapping = try FillMapping(event: fillEvent) } catch {
                throw fail("\(path).abi", "\(entry.abi): \(error)")
            }
            if let first = entry.first_block, let last = entry.last_block, first > last {
                throw fail("\(path).last_block", "\(last) is before first_block \(first)")
            }
            var collateral: Address? = nil
            if let text = entry.collateral {
                do { collateral = try Address(text) } catch { throw fail("\(path).collateral", "\(error)") }
            }
            index[address] = contracts.count
            contracts.append(
                ExchangeContract(
                    name: entry.name, address: address, abiFile: entry.abi, abi: abi, fillEvent: fillEvent,
                    mapping: mapping, firstBlock: entry.first_block, lastBlock: entry.last_block,
                    collateral: collateral, negRisk: entry.neg_risk ?? false))
        }
        self.chainId = file.chain_id
        self.contracts = contracts
        self.indexByAddress = index
    }

    /// The exchange at `address`, if configured.
    public func contract(at address: Address) -> ExchangeContract? {
        indexByAddress[address].map { contracts[$0] }
    }

    /// The distinct topic0s of the configured fill events (for the log subscription filter).
    public var fillTopics: [Bytes32] {
        var seen = Set<Bytes32>()
        return contracts.map(\.fillEvent.topic0).filter { seen.insert($0).inserted }
    }

    /// Decodes a log of a configured exchange: a fill becomes a ``TradeEvent``; any other event
    /// of its ABI is decoded generically.
    public func decode(_ log: EthLog) throws(TradeDecodingError) -> DecodedLog {
        guard let i = indexByAddress[log.address] else { throw .unknownContract(log.address) }
        let contract = contracts[i]
        guard let topic0 = log.topics.first else { throw .noTopics }
        if topic0 == contract.fillEvent.topic0 {
            return .trade(try trade(log, contract: contract))
        }
        guard let event = contract.abi.event(topic0: topic0) else {
            throw .unknownEvent(exchange: contract.name, topic0: topic0)
        }
        do {
            return .event(
                exchange: contract.name, event: event,
                parameters: try event.decode(topics: log.topics, data: log.data))
        } catch { throw .abi(error) }
    }

    /// The trade in a fill log; the hot path of the listener.
    public func trade(_ log: EthLog) throws(TradeDecodingError) -> TradeEvent? {
        guard let i = indexByAddress[log.address] else { throw .unknownContract(log.address) }
        let contract = contracts[i]
        guard log.topics.first == contract.fillEvent.topic0 else { return nil }
        return try trade(log, contract: contract)
    }

    private func trade(_ log: EthLog, contract: ExchangeContract) throws(TradeDecodingError) -> TradeEvent {
        let fill = try contract.mapping.read(topics: log.topics, data: log.data)
        return TradeEvent(
            exchange: contract.name, contract: contract.address, blockNumber: log.blockNumber,
            blockHash: log.blockHash, transactionHash: log.transactionHash, logIndex: log.logIndex,
            orderHash: fill.orderHash, wallet: fill.maker, counterparty: fill.taker, side: fill.side,
            tokenId: fill.tokenId, shares: fill.shares, collateral: fill.collateral, price: fill.price,
            fee: fill.fee, removed: log.removed)
    }

    // MARK: - YAML model

    private struct ContractsFile: Decodable {
        var chain_id: UInt64
        var exchanges: [Entry]
    }

    private struct Entry: Decodable {
        var name: String
        var address: String
        var abi: String
        var fill_event: String?
        var first_block: UInt64?
        var last_block: UInt64?
        var collateral: String?
        var neg_risk: Bool?
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let i = key.intValue {
                text += "[\(i)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text
    }

    private static func keyPath(of error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context): return path(context.codingPath + [key])
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            return path(context.codingPath)
        default: return ""
        }
    }

    private static func message(of error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound: return "required key is missing"
        case DecodingError.typeMismatch(let type, _):
            return "expected \(type == UInt64.self ? "a non-negative integer" : "\(type)")"
        case DecodingError.valueNotFound(let type, _): return "expected \(type), found nothing"
        case DecodingError.dataCorrupted(let context):
            if let underlying = context.underlyingError { return "invalid YAML: \(underlying)" }
            return context.debugDescription
        case let error as YamlError: return "invalid YAML: \(error)"
        default: return "\(error)"
        }
    }
}
