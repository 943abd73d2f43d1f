import CFuzzDriver
import EVM
import Foundation
import Polymarket

/// libFuzzer entry point: everything that reads untrusted bytes on the way from a node's frame to a
/// `TradeEvent` gets the input.
///
/// - The whole input as a JSON-RPC frame or log object (the log parser), and a parsed log through
///   the exchange registry (fill mapping or generic event decoding).
/// - A first line as an ABI type string, the rest as ABI data for it (or for a fixed set of types
///   when the line does not parse); a successful decode must re-encode and decode to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let text = String(decoding: bytes, as: UTF8.self)

    if let log = try? EthLogParser.parse(line: text) {
        _ = try? registry.decode(log)
    }

    var types = fixedTypes
    var data = bytes[...]
    if let newline = bytes.firstIndex(of: 0x0A), newline < 200 {
        if let type = try? ABIType(parsing: String(decoding: bytes[..<newline], as: UTF8.self)) {
            types = [[type]]
        }
        data = bytes[(newline + 1)...]
    }
    for typeList in types {
        guard let decoded = try? ABIDecoder.decode(typeList, from: Array(data)) else { continue }
        guard let encoded = try? ABIEncoder.encode(decoded, as: typeList),
            let again = try? ABIDecoder.decode(typeList, from: encoded), again == decoded
        else {
            fatalError("decoded value does not round-trip: \(typeList) \(decoded)")
        }
    }
    return 0
}

/// The executable's entry point (SwiftPM names it `<target>_main`): hands the command line to
/// libFuzzer's driver, so the usual libFuzzer flags work.
@_cdecl("DecoderFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}

/// Types exercised when the input does not start with a type line.
private let fixedTypes: [[ABIType]] = [
    "uint8", "int16", "bytes", "string", "(uint256,bytes)[]", "string[][2]", "(address,(bytes32,string)[])",
    "int256[3][]", "bool[]",
].map { [try! ABIType(parsing: $0)] }

/// The real exchange configuration of the repository.
private let registry: ExchangeRegistry = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    return try! ExchangeRegistry.load(
        contractsFile: root.appendingPathComponent("Config/contracts.polygon.yaml").path,
        abiDirectory: root.appendingPathComponent("abi").path)
}()
