import AsyncHTTPClient
import EVM
import Foundation
import Logging
import Polymarket

/// Why the signing key could not be loaded. Never contains the key or any part of it.
public struct KeyLoadingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Loads the private key from `COPYBOT_PRIVATE_KEY` or from the file named by
/// `COPYBOT_PRIVATE_KEY_FILE`, which must be readable by its owner alone (mode 0600 or 0400).
public struct PrivateKeySource: Sendable {
    /// The environment variable holding the key as hex.
    public static let keyVariable = "COPYBOT_PRIVATE_KEY"
    /// The environment variable naming a file holding the key as hex.
    public static let fileVariable = "COPYBOT_PRIVATE_KEY_FILE"

    let environment: [String: String]

    /// Creates a source over `environment` (the process environment in production).
    public init(environment: [String: String]) { self.environment = environment }

    /// Loads the key.
    public func load() throws(KeyLoadingError) -> PrivateKey {
        let inline = environment[Self.keyVariable].flatMap { $0.isEmpty ? nil : $0 }
        let file = environment[Self.fileVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (inline, file) {
        case (.some, .some):
            throw KeyLoadingError("both \(Self.keyVariable) and \(Self.fileVariable) are set; set only one")
        case (.none, .none):
            throw KeyLoadingError(
                "no private key: set \(Self.fileVariable) to a file readable only by you (chmod 600), or \(Self.keyVariable)"
            )
        case (.some(let hex), .none):
            do { return try PrivateKey(hex: hex) } catch {
                throw KeyLoadingError("\(Self.keyVariable) is not a valid private key: \(error)")
            }
        case (.none, .some(let path)):
            return try loadFile(path)
        }
    }

    func loadFile(_ path: String) throws(KeyLoadingError) -> PrivateKey {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw KeyLoadingError(
                "\(Self.fileVariable): cannot read \(path) (it does not exist or is not accessible)")
        }
        guard let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value else {
            throw KeyLoadingError("\(Self.fileVariable): cannot read the permissions of \(path)")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw KeyLoadingError("\(Self.fileVariable): \(path) is not a regular file")
        }
        guard mode & 0o077 == 0 else {
            throw KeyLoadingError(
                "\(Self.fileVariable): \(path) has mode \(String(mode & 0o777, radix: 8)); a key file must be readable "
                    + "by its owner only (mode 600 or 400): run chmod 600 \(path)")
        }
        guard var data = FileManager.default.contents(atPath: path) else {
            throw KeyLoadingError("\(Self.fileVariable): cannot read \(path)")
        }
        defer { data.resetBytes(in: 0..<data.count) }
        let text = String(decoding: data, as: UTF8.self)
        do { return try PrivateKey(hex: text) } catch {
            throw KeyLoadingError("\(Self.fileVariable): \(path) does not hold a valid private key: \(error)")
        }
    }
}

/// `copybot keys derive-api`: L1-authenticated derivation (or creation) of CLOB API credentials.
public struct DeriveAPIKeyCommand: Sendable {
    /// The warning printed with the credentials.
    public static let warning = """
        These CLOB API credentials are shown once. Store them where only you can read them \
        (a file with mode 600, or your secret manager) and pass them through the environment \
        (COPYBOT_CLOB_API_KEY, COPYBOT_CLOB_API_SECRET, COPYBOT_CLOB_API_PASSPHRASE). Anyone who has them \
        can trade as you.
        """

    let client: any ClobAPI

    /// Creates the command over a CLOB client signing with the user's key.
    public init(client: any ClobAPI) { self.client = client }

    /// Derives the credentials for `nonce`; with `create`, creates new ones if none can be derived.
    public func run(nonce: UInt256 = .zero, create: Bool = false) async throws(ClobError) -> ApiCredentials {
        do {
            return try await client.deriveAPIKey(nonce: nonce)
        } catch
            where create
            && (error.kind == .notFound || error.kind == .invalidRequest || error.kind == .unknown)
        {
            return try await client.createAPIKey(nonce: nonce)
        }
    }

    /// The credentials as environment assignments, one per line.
    public static func format(_ credentials: ApiCredentials) -> String {
        "COPYBOT_CLOB_API_KEY=\(credentials.apiKey)\nCOPYBOT_CLOB_API_SECRET=\(credentials.secret)\n"
            + "COPYBOT_CLOB_API_PASSPHRASE=\(credentials.passphrase)\n"
    }
}

/// `copybot order build`: a signed order's `POST /order` JSON body, not sent.
public struct OrderBuildCommand: Sendable {
    /// What to build.
    public struct Arguments: Sendable {
        public var tokenID: UInt256
        public var side: Side
        public var price: ExactDecimal
        public var size: ExactDecimal
        public var tickSize: TickSize
        public var minOrderSize: ExactDecimal
        public var negRisk: Bool
        public var orderType: OrderType
        public var signatureType: SignatureType
        public var funder: Address?
        /// The API key written as `owner` (empty when unknown).
        public var owner: String
        /// GTD expiry in Unix seconds (0: none).
        public var expiration: UInt64

        /// Creates arguments.
        public init(
            tokenID: UInt256, side: Side, price: ExactDecimal, size: ExactDecimal,
            tickSize: TickSize = .hundredth,
            minOrderSize: ExactDecimal = ExactDecimal(0), negRisk: Bool = false, orderType: OrderType = .gtc,
            signatureType: SignatureType = .eoa, funder: Address? = nil, owner: String = "",
            expiration: UInt64 = 0
        ) {
            self.tokenID = tokenID
            self.side = side
            self.price = price
            self.size = size
            self.tickSize = tickSize
            self.minOrderSize = minOrderSize
            self.negRisk = negRisk
            self.orderType = orderType
            self.signatureType = signatureType
            self.funder = funder
            self.owner = owner
            self.expiration = expiration
        }
    }

    let signer: any DigestSigner
    let contracts: ExchangeContracts

    /// Creates the command for a signer and the exchange contracts from configuration.
    public init(signer: any DigestSigner, contracts: ExchangeContracts) {
        self.signer = signer
        self.contracts = contracts
    }

    /// The signed order and its JSON body.
    public func build(_ a: Arguments) throws(OrderError) -> (order: SignedOrder, json: String) {
        if a.signatureType != .eoa, a.funder == nil {
            throw OrderError.unsupportedSignatureType(a.signatureType, version: "2 without --funder")
        }
        let builder = OrderBuilder(signer: signer, signatureType: a.signatureType, funder: a.funder)
        let market = MarketParameters(tickSize: a.tickSize, minOrderSize: a.minOrderSize, negRisk: a.negRisk)
        let signed: SignedOrder
        if AmountPrecision.isMarket(a.orderType) {
            // A market order of `size` shares at a worst price of `price`: a BUY spends what they
            // cost at that price (to the cent), with the amounts the CLOB accepts for market orders.
            signed = try builder.marketOrder(
                MarketOrderRequest(
                    tokenId: a.tokenID, side: a.side, amount: a.side == .buy ? a.size * a.price : a.size,
                    price: a.price),
                market: market, contracts: contracts)
        } else {
            signed = try builder.limitOrder(
                LimitOrderRequest(
                    tokenId: a.tokenID, side: a.side, price: a.price, size: a.size,
                    expiration: a.orderType == .gtd ? a.expiration : 0),
                market: market, contracts: contracts)
        }
        return (signed, try OrderBody.json(signed, owner: a.owner, orderType: a.orderType))
    }
}
