import ArgumentParser
import CopyBot
import EVM
import Foundation
import Logging
import Polymarket

func loadKey() throws -> PrivateKey {
    do { return try PrivateKeySource(environment: ProcessInfo.processInfo.environment).load() } catch {
        throw CommandFailure(error.description)
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Show the configured signing key's address and derive CLOB API credentials.",
        discussion: """
            The private key comes from COPYBOT_PRIVATE_KEY_FILE (a file readable by its owner only, \
            mode 600 or 400) or COPYBOT_PRIVATE_KEY. It is never printed or logged.
            """,
        subcommands: [Address.self, DeriveAPI.self])

    struct Address: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the address of the configured key.")

        func run() throws {
            print(try loadKey().address.checksummed)
        }
    }

    struct DeriveAPI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "derive-api",
            abstract: "Derive (or with --create, create) the CLOB API credentials of the configured key (L1)."
        )

        @Option(name: .customLong("clob-url"), help: "The CLOB's base URL.")
        var clobURL: String = "https://clob.polymarket.com"

        @Option(name: .customLong("chain-id"), help: "The chain id signed into the L1 headers.")
        var chainID: UInt64 = 137

        @Option(help: "The L1 nonce.")
        var nonce: UInt64 = 0

        @Flag(help: "Create new credentials when none can be derived.")
        var create = false

        func run() async throws {
            let key = try loadKey()
            let http = ClobHTTPClient.makeHTTPClient()
            let client = ClobHTTPClient(
                configuration: .init(baseURL: clobURL, chainId: chainID), http: http, signer: key)
            let result: Result<ApiCredentials, ClobError>
            do {
                result = .success(
                    try await DeriveAPIKeyCommand(client: client).run(nonce: UInt256(nonce), create: create))
            } catch {
                result = .failure(error)
            }
            try await http.shutdown()
            switch result {
            case .success(let credentials):
                FileHandle.standardError.write(Data(("warning: " + DeriveAPIKeyCommand.warning + "\n").utf8))
                print(DeriveAPIKeyCommand.format(credentials), terminator: "")
            case .failure(let error):
                var message = "could not derive API credentials: \(error)"
                if !create, error.kind != .notSent, error.kind != .noAnswer {
                    // The CLOB answers `Could not derive api key!` for a key that never made any.
                    message +=
                        "\nif this key has no API credentials yet, create them with `copybot keys derive-api --create`"
                }
                throw CommandFailure(message)
            }
        }
    }
}

struct OrderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Build signed orders (for checking a setup).",
        subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the signed POST /order JSON body of an order, without sending it.")

        @OptionGroup var contractOptions: ContractOptions

        @Option(name: .customLong("token-id"), help: "The outcome token id (decimal).")
        var tokenID: String

        @Option(help: "BUY or SELL.")
        var side: String

        @Option(help: "Price per share, on the tick (e.g. 0.53).")
        var price: String

        @Option(help: "Shares.")
        var size: String

        @Option(help: "GTD only: when the order expires, in Unix seconds.")
        var expiration: UInt64?

        @Option(
            name: .customLong("tick-size"),
            help: "The market's tick size: 0.1, 0.01, 0.001, 0.0001, 0.005, 0.0025.")
        var tickSize: String = "0.01"

        @Flag(name: .customLong("neg-risk"), help: "Sign for the NegRisk exchange.")
        var negRisk = false

        @Option(name: .customLong("order-type"), help: "GTC, GTD, FOK or FAK.")
        var orderType: String = "GTC"

        @Option(
            name: .customLong("signature-type"), help: "0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271."
        )
        var signatureType: UInt8 = 0

        @Option(help: "The funder (maker) address for proxy, Safe and deposit wallets.")
        var funder: String?

        @Option(help: "The API key written as the order's owner (default: $COPYBOT_CLOB_API_KEY).")
        var owner: String?

        @Option(help: "The exchange (by its name in the contracts file) orders are signed for.")
        var exchange: String = "CTFExchangeV2"

        @Option(
            name: .customLong("neg-risk-exchange"), help: "The NegRisk exchange's name in the contracts file."
        )
        var negRiskExchange: String = "NegRiskCTFExchangeV2"

        @Option(name: .customLong("domain-version"), help: "The EIP-712 domain version of the exchange.")
        var domainVersion: String = "2"

        func run() throws {
            guard let token = UInt256(decimal: tokenID) else {
                throw ValidationError("--token-id must be a decimal number")
            }
            guard let side = Side.allCases.first(where: { $0.text == self.side.uppercased() }) else {
                throw ValidationError("--side must be BUY or SELL")
            }
            guard let price = ExactDecimal(price) else {
                throw ValidationError("--price must be a decimal number")
            }
            guard let size = ExactDecimal(size) else {
                throw ValidationError("--size must be a decimal number")
            }
            guard let tick = TickSize(text: tickSize) else {
                throw ValidationError("--tick-size: unknown tick size \(tickSize)")
            }
            guard let type = OrderType(rawValue: orderType.uppercased()) else {
                throw ValidationError("--order-type must be GTC, GTD, FOK or FAK")
            }
            if type == .gtd, expiration == nil {
                throw ValidationError("--order-type GTD needs --expiration (Unix seconds)")
            }
            if type != .gtd, expiration != nil {
                throw ValidationError("--expiration is for GTD orders only")
            }
            guard let signature = SignatureType(rawValue: signatureType) else {
                throw ValidationError("--signature-type must be 0, 1, 2 or 3")
            }
            var funderAddress: EVM.Address?
            if let funder {
                do { funderAddress = try EVM.Address(funder) } catch {
                    throw ValidationError("--funder: \(error)")
                }
            }
            let contracts: ExchangeContracts
            do {
                contracts = try ExchangeContracts(
                    registry: try contractOptions.loadRegistry(), exchange: exchange,
                    negRiskExchange: negRiskExchange,
                    domainVersion: domainVersion)
            } catch let error as RegistryError {
                throw CommandFailure(error.description)
            }
            let command = OrderBuildCommand(signer: try loadKey(), contracts: contracts)
            do {
                let built = try command.build(
                    .init(
                        tokenID: token, side: side, price: price, size: size, tickSize: tick,
                        negRisk: negRisk,
                        orderType: type, signatureType: signature, funder: funderAddress,
                        owner: owner ?? ProcessInfo.processInfo.environment["COPYBOT_CLOB_API_KEY"] ?? "",
                        expiration: expiration ?? 0))
                print(built.json)
            } catch {
                throw ValidationError(error.description)
            }
        }
    }
}
