import EVM
import Polymarket

/// What `copybot abi list`, `abi topics` and `abi decode` print, separated from the terminal so
/// tests can drive them.
public struct ABIReport: Sendable {
    public let registry: ExchangeRegistry

    /// Creates a report over a loaded registry.
    public init(registry: ExchangeRegistry) { self.registry = registry }

    /// One block per contract: name, address, ABI file, block range, and every event with its topic0.
    public func list() -> String {
        var out = ""
        for contract in registry.contracts {
            let range =
                "blocks \(contract.firstBlock.map(String.init) ?? "?")...\(contract.lastBlock.map(String.init) ?? "live")"
            out +=
                "\(contract.name)  \(contract.address)  abi/\(contract.abiFile)  \(range)\(contract.negRisk ? "  neg-risk" : "")\n"
            for event in contract.abi.events {
                let role = event == contract.fillEvent ? "  [fills → trades]" : ""
                out += "  \(event.topic0.hex)  \(event.signature)\(role)\n"
            }
        }
        return out
    }

    /// The log filter copybot subscribes with: contract addresses and fill topic0s, one per line.
    public func topics() -> String {
        var out = ""
        for topic in registry.fillTopics {
            let names = Set(
                registry.contracts.filter { $0.fillEvent.topic0 == topic }.map(\.fillEvent.signature))
            out += "\(topic.hex)  \(names.sorted().joined(separator: ", "))\n"
        }
        return out
    }
}

/// `copybot abi decode`: one eth JSON-RPC log object or `eth_subscription` frame per input line,
/// one JSON line per decoded event out; an undecodable line gives an error line naming the line
/// number and the reason, and decoding goes on.
public struct LogDecodeCommand: Sendable {
    public let registry: ExchangeRegistry

    /// Counts of what a run did.
    public struct Summary: Hashable, Sendable {
        public var lines = 0
        public var trades = 0
        public var events = 0
        public var errors = 0

        /// Creates a summary with the given counts.
        public init(lines: Int = 0, trades: Int = 0, events: Int = 0, errors: Int = 0) {
            self.lines = lines
            self.trades = trades
            self.events = events
            self.errors = errors
        }
    }

    /// Creates the command over a loaded registry.
    public init(registry: ExchangeRegistry) { self.registry = registry }

    /// One decoded input line.
    public struct DecodedLine: Hashable, Sendable {
        /// The output JSON line.
        public var json: String
        /// Whether the line was a fill (and so carries the trade fields).
        public var isTrade: Bool
    }

    /// Decodes one input line into an output JSON line, or an error message.
    public func decode(line: String, number: Int) -> Result<DecodedLine, LineError> {
        let log: EthLog
        do { log = try EthLogParser.parse(line: line) } catch {
            return .failure(LineError(line: number, reason: "\(error)"))
        }
        let decoded: ExchangeRegistry.DecodedLog
        do { decoded = try registry.decode(log) } catch {
            return .failure(LineError(line: number, reason: "\(error)"))
        }
        var out = "{\"line\":\(number)"
        var isTrade = false
        switch decoded {
        case .trade(let trade):
            guard let contract = registry.contract(at: log.address) else {
                return .failure(LineError(line: number, reason: "unknown contract"))
            }
            isTrade = true
            out += ",\"event\":\"\(contract.fillEvent.name)\",\"kind\":\"trade\","
            TradeJSON.writeFields(trade, to: &out)
            if let parameters = try? contract.fillEvent.decode(topics: log.topics, data: log.data) {
                out += ",\"args\":"
                Self.writeArguments(parameters, to: &out)
            }
        case .event(let exchange, let event, let parameters):
            out += ",\"event\":\"\(event.name)\",\"kind\":\"event\",\"exchange\":"
            JSONString.write(exchange, to: &out)
            out +=
                ",\"block\":\(log.blockNumber),\"tx\":\"\(log.transactionHash.hex)\",\"log_index\":\(log.logIndex)"
            out += ",\"removed\":\(log.removed),\"args\":"
            Self.writeArguments(parameters, to: &out)
        }
        out += "}"
        return .success(DecodedLine(json: out, isTrade: isTrade))
    }

    /// Decodes every line of `lines`, writing results to `output` and errors to `errors`.
    public func run(
        lines: some Sequence<String>, output: (String) -> Void, errors: (String) -> Void
    ) -> Summary {
        var summary = Summary()
        for (i, line) in lines.enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            summary.lines += 1
            switch decode(line: line, number: i + 1) {
            case .success(let decoded):
                output(decoded.json)
                if decoded.isTrade { summary.trades += 1 } else { summary.events += 1 }
            case .failure(let error):
                summary.errors += 1
                errors(error.description)
            }
        }
        return summary
    }

    private static func writeArguments(_ parameters: [DecodedParameter], to out: inout String) {
        out += "{"
        for (i, parameter) in parameters.enumerated() {
            if i > 0 { out += "," }
            JSONString.write(parameter.name.isEmpty ? "arg\(i)" : parameter.name, to: &out)
            out += ":"
            parameter.value.writeJSON(to: &out)
        }
        out += "}"
    }
}

/// An input line that could not be decoded.
public struct LineError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public var description: String { "line \(line): \(reason)" }
}
