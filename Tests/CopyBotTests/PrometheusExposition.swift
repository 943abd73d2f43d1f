import Foundation

/// A strict parser of the Prometheus text exposition format 0.0.4, for checking `/metrics`.
///
/// Checks: `# HELP` / `# TYPE` syntax (one TYPE per family, before its samples, known types),
/// metric and label names, label values with `\\`, `\"`, `\n` escapes only, no duplicate labels,
/// float values (incl. `+Inf`, `-Inf`, `NaN`), every sample typed, each family's lines in one
/// group, no duplicate series, counters non-negative, and for histograms: `le` on every bucket,
/// bucket bounds strictly increasing and ending at `+Inf`, counts cumulative, `_count` equal to the
/// `+Inf` bucket, `_sum` present.
struct PrometheusExposition {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
        init(_ line: Int, _ message: String) { description = "line \(line): \(message)" }
    }

    var types: [String: String] = [:]
    var help: [String: String] = [:]
    var samples: [Sample] = []

    /// The value of `name` with exactly `labels`, if present.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample of `name`.
    func samples(named name: String) -> [Sample] { samples.filter { $0.name == name } }

    static let metricName = try! NSRegularExpression(pattern: "^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    static let labelName = try! NSRegularExpression(pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$")
    static let knownTypes: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

    static func matches(_ regex: NSRegularExpression, _ string: String) -> Bool {
        regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil
    }

    init(parsing text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else {
            throw ParseError(0, "the text must end with a newline")
        }
        var familyOrder: [String] = []
        var closedFamilies: Set<String> = []
        var seenSeries: Set<String> = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .enumerated()
        {
            let number = index + 1
            let line = String(raw)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(
                    String.init)
                guard parts.count >= 2, parts[0] == "#" else { continue }  // a comment
                switch parts[1] {
                case "HELP":
                    guard parts.count >= 3, Self.matches(Self.metricName, parts[2]) else {
                        throw ParseError(number, "bad HELP line: \(line)")
                    }
                    guard help[parts[2]] == nil else {
                        throw ParseError(number, "second HELP for \(parts[2])")
                    }
                    let doc = parts.count == 4 ? parts[3] : ""
                    try Self.checkHelpEscapes(doc, line: number)
                    help[parts[2]] = doc
                case "TYPE":
                    guard parts.count == 4, Self.matches(Self.metricName, parts[2]),
                        Self.knownTypes.contains(parts[3])
                    else { throw ParseError(number, "bad TYPE line: \(line)") }
                    guard types[parts[2]] == nil else {
                        throw ParseError(number, "second TYPE for \(parts[2])")
                    }
                    guard !samples.contains(where: { Self.family(of: $0.name, types: types) == parts[2] })
                    else {
                        throw ParseError(number, "TYPE of \(parts[2]) after its samples")
                    }
                    types[parts[2]] = parts[3]
                default: continue  // a comment
                }
                continue
            }
            let sample = try Self.parseSample(line, number: number)
            guard let family = Self.family(of: sample.name, types: types) else {
                throw ParseError(number, "sample \(sample.name) has no TYPE")
            }
            if familyOrder.last != family {
                guard !closedFamilies.contains(family) else {
                    throw ParseError(number, "the lines of \(family) are not in one group")
                }
                if let previous = familyOrder.last { closedFamilies.insert(previous) }
                familyOrder.append(family)
            }
            let key =
                sample.name + "{"
                + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: ",") + "}"
            guard seenSeries.insert(key).inserted else { throw ParseError(number, "duplicate series \(key)") }
            if types[family] == "counter", !(sample.value >= 0) {
                throw ParseError(number, "counter \(sample.name) is \(sample.value)")
            }
            samples.append(sample)
        }
        try checkHistograms()
    }

    /// The family a sample belongs to: its own name, or for `_bucket`/`_sum`/`_count` of a
    /// histogram or summary, the base name.
    static func family(of name: String, types: [String: String]) -> String? {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || (type == "summary" && suffix != "_bucket") {
                return base
            }
        }
        return types[name] != nil ? name : nil
    }

    static func checkHelpEscapes(_ doc: String, line: Int) throws {
        var iterator = doc.makeIterator()
        while let character = iterator.next() {
            guard character == "\\" else { continue }
            guard let next = iterator.next(), next == "\\" || next == "n" else {
                throw ParseError(line, "bad escape in HELP")
            }
        }
    }

    static func parseSample(_ line: String, number: Int) throws -> Sample {
        let characters = Array(line)
        var index = 0
        while index < characters.count, characters[index] != "{", characters[index] != " " { index += 1 }
        let name = String(characters[0..<index])
        guard matches(metricName, name) else { throw ParseError(number, "bad metric name \(name)") }
        var labels: [String: String] = [:]
        if index < characters.count, characters[index] == "{" {
            index += 1
            while true {
                guard index < characters.count else { throw ParseError(number, "unterminated labels") }
                if characters[index] == "}" {
                    index += 1
                    break
                }
                let start = index
                while index < characters.count, characters[index] != "=" { index += 1 }
                let label = String(characters[start..<min(index, characters.count)])
                guard matches(labelName, label), !label.hasPrefix("__") else {
                    throw ParseError(number, "bad label name \(label)")
                }
                index += 1
                guard index < characters.count, characters[index] == "\"" else {
                    throw ParseError(number, "label value of \(label) is not quoted")
                }
                index += 1
                var value = ""
                while true {
                    guard index < characters.count else {
                        throw ParseError(number, "unterminated label value")
                    }
                    let character = characters[index]
                    if character == "\"" { break }
                    if character == "\n" { throw ParseError(number, "raw newline in label value") }
                    if character == "\\" {
                        index += 1
                        guard index < characters.count else { throw ParseError(number, "dangling escape") }
                        switch characters[index] {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw ParseError(number, "bad escape \\\(characters[index]) in label value")
                        }
                    } else {
                        value.append(character)
                    }
                    index += 1
                }
                index += 1
                guard labels.updateValue(value, forKey: label) == nil else {
                    throw ParseError(number, "duplicate label \(label)")
                }
                guard index < characters.count else { throw ParseError(number, "unterminated labels") }
                if characters[index] == "," {
                    index += 1
                } else if characters[index] != "}" {
                    throw ParseError(number, "expected , or } after a label")
                }
            }
        }
        guard index < characters.count, characters[index] == " " else {
            throw ParseError(number, "no value after \(name)")
        }
        let fields = String(characters[index...]).split(separator: " ").map(String.init)
        guard fields.count == 1 || fields.count == 2 else {
            throw ParseError(number, "bad value part in \(line)")
        }
        guard let value = parseValue(fields[0]) else { throw ParseError(number, "bad value \(fields[0])") }
        if fields.count == 2, Int64(fields[1]) == nil {
            throw ParseError(number, "bad timestamp \(fields[1])")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    static func parseValue(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard text.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
            return Double(text)
        }
    }

    func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            var groups: [[String: String]: [(Double, Double)]] = [:]
            var order: [[String: String]] = []
            for sample in samples where sample.name == family + "_bucket" {
                guard let le = sample.labels["le"], let bound = Self.parseValue(le), !bound.isNaN else {
                    throw ParseError(0, "\(family) bucket without a valid le")
                }
                var rest = sample.labels
                rest["le"] = nil
                if groups[rest] == nil { order.append(rest) }
                groups[rest, default: []].append((bound, sample.value))
            }
            guard !order.isEmpty else { throw ParseError(0, "histogram \(family) has no buckets") }
            for labels in order {
                let buckets = groups[labels]!
                for (previous, next) in zip(buckets, buckets.dropFirst()) {
                    guard next.0 > previous.0 else { throw ParseError(0, "\(family) le not increasing") }
                    guard next.1 >= previous.1 else {
                        throw ParseError(0, "\(family) buckets not cumulative")
                    }
                }
                guard buckets.last!.0 == .infinity else { throw ParseError(0, "\(family) lacks le=+Inf") }
                guard let count = value(family + "_count", labels), count == buckets.last!.1 else {
                    throw ParseError(0, "\(family)_count differs from the +Inf bucket")
                }
                guard value(family + "_sum", labels) != nil else {
                    throw ParseError(0, "\(family)_sum missing")
                }
            }
        }
    }
}
