import EVM
import Foundation
import Testing

/// How the `copybot` executable reports failures: the usage text only when the arguments
/// themselves were wrong, and what a GTD order needs.
@Suite("copybot command errors", .serialized)
struct CommandErrorTests {
    static func keyEnvironment() -> [String: String] {
        let key = PrivateKey.generate()
        return ["COPYBOT_PRIVATE_KEY": key.withUnsafeKeyBytes { Hex.encode($0) }]
    }

    @Test("a run-time failure prints the error and its fix, without the usage text")
    func runtimeFailure() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let missing = "/nonexistent/copybot-\(UUID().uuidString).yaml"
        let status = try await ServiceTestSupport.runCopybot(["status"], environment: [:], config: missing)
        #expect(status.status == 1)
        #expect(status.output.contains("Error:"), "\(status.output)")
        #expect(status.output.contains("copybot config check"), "\(status.output)")
        #expect(!status.output.contains("Usage:"), "\(status.output)")
        // Wrong arguments still show how to call the command.
        let wrong = try await ServiceTestSupport.runCopybot(["status", "--no-such-flag"], environment: [:])
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("Usage:"), "\(wrong.output)")
    }

    @Test("order build: GTD takes --expiration into the order; FAK signs market-order amounts")
    func orderBuild() throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServiceTestSupport.executable.path))
        let base = [
            "order", "build", "--token-id", "123", "--side", "BUY", "--price", "0.58", "--size", "8.62",
        ]
        func run(_ extra: [String]) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = ServiceTestSupport.executable
            process.arguments = base + extra
            process.currentDirectoryURL = ServiceTestSupport.root
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COPYBOT_") }
                .merging(Self.keyEnvironment()) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        let gtd = try run(["--order-type", "GTD", "--expiration", "1900000000"])
        #expect(gtd.status == 0, "\(gtd.output)")
        #expect(gtd.output.contains(#""expiration":"1900000000""#), "\(gtd.output)")
        let missing = try run(["--order-type", "GTD"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("--expiration"), "\(missing.output)")
        let fak = try run(["--order-type", "FAK"])
        #expect(fak.status == 0, "\(fak.output)")
        // 8.62 × 0.58 = 4.9996 spent to the cent, 4.99, for at least 4.99 / 0.58 = 8.6034 shares.
        #expect(fak.output.contains(#""makerAmount":"4990000""#), "\(fak.output)")
        #expect(fak.output.contains(#""takerAmount":"8603400""#), "\(fak.output)")
        let gtc = try run([])
        #expect(
            gtc.output.contains(#""makerAmount":"4999600""#),
            "a limit order keeps the limit rule: \(gtc.output)")
    }
}
