import Crypto
import EVM

/// CLOB API credentials (L2). The secret and passphrase never appear in descriptions,
/// reflection, `dump` or errors.
public struct ApiCredentials: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The API key (sent as `POLY_API_KEY` and as the order `owner`). Not secret.
    public var apiKey: String
    /// The HMAC secret, URL-safe base64.
    public var secret: String
    /// The passphrase (sent as `POLY_PASSPHRASE`).
    public var passphrase: String

    /// Creates credentials.
    public init(apiKey: String, secret: String, passphrase: String) {
        self.apiKey = apiKey
        self.secret = secret
        self.passphrase = passphrase
    }

    public var description: String {
        "ApiCredentials(apiKey: \(apiKey), secret: <redacted>, passphrase: <redacted>)"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["apiKey": apiKey, "secret": "<redacted>", "passphrase": "<redacted>"])
    }
}

/// Request headers in the order they are sent. The values of `POLY_PASSPHRASE` and
/// `POLY_SIGNATURE` are redacted in descriptions, mirrors and `dump`.
public struct ClobHeaders: Hashable, Sendable, Sequence, CustomStringConvertible,
    CustomDebugStringConvertible,
    CustomReflectable
{
    /// The header names whose values are secret or replayable.
    public static let redacted: Set<String> = [ClobAuth.passphraseHeader, ClobAuth.signatureHeader]

    /// Name/value pairs in order.
    public var entries: [(name: String, value: String)]

    /// Creates headers.
    public init(_ entries: [(name: String, value: String)]) { self.entries = entries }

    /// The value of `name`.
    public subscript(name: String) -> String? { entries.first { $0.name == name }?.value }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { entries.makeIterator() }

    public static func == (lhs: ClobHeaders, rhs: ClobHeaders) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(entry.name)
            hasher.combine(entry.value)
        }
    }

    public var description: String {
        "["
            + entries.map { "\($0.name): \(Self.redacted.contains($0.name) ? "<redacted>" : $0.value)" }
            .joined(separator: ", ") + "]"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["headers": description]) }
}

/// Why authentication headers could not be made.
public enum ClobAuthError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The API secret is not URL-safe base64. (The secret itself is never included.)
    case invalidSecret

    public var description: String { "the CLOB API secret is not valid URL-safe base64" }
}

/// CLOB authentication: L1 (EIP-712 `ClobAuth`, to create or derive API keys) and L2 (HMAC over
/// each request).
public enum ClobAuth {
    public static let addressHeader = "POLY_ADDRESS"
    public static let signatureHeader = "POLY_SIGNATURE"
    public static let timestampHeader = "POLY_TIMESTAMP"
    public static let nonceHeader = "POLY_NONCE"
    public static let apiKeyHeader = "POLY_API_KEY"
    public static let passphraseHeader = "POLY_PASSPHRASE"

    /// The text every L1 signature attests.
    public static let attestation = "This message attests that I control the given wallet"

    /// `ClobAuth(address address,string timestamp,uint256 nonce,string message)`.
    public static let types = EIP712Types([
        "ClobAuth": [
            EIP712Field(name: "address", type: "address"), EIP712Field(name: "timestamp", type: "string"),
            EIP712Field(name: "nonce", type: "uint256"), EIP712Field(name: "message", type: "string"),
        ]
    ])

    /// The L1 domain: `{name: "ClobAuthDomain", version: "1", chainId}`.
    public static func domain(chainId: UInt64) -> EIP712Domain {
        EIP712Domain(name: "ClobAuthDomain", version: "1", chainId: UInt256(chainId))
    }

    /// The digest an L1 header signs.
    public static func l1Digest(
        address: Address, timestamp: Int64, nonce: UInt256, chainId: UInt64
    ) -> Bytes32 {
        let data = EIP712TypedData(
            types: types, primaryType: "ClobAuth", domain: domain(chainId: chainId),
            message: [
                "address": .address(address), "timestamp": .string(String(timestamp)), "nonce": .uint(nonce),
                "message": .string(attestation),
            ])
        // The message matches the fixed type above, so this cannot fail.
        return try! data.digest()
    }

    /// L1 headers (POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_NONCE) for
    /// `POST /auth/api-key` and `GET /auth/derive-api-key`. `timestamp` is Unix seconds.
    public static func l1Headers(
        signer: any DigestSigner, chainId: UInt64, timestamp: Int64, nonce: UInt256 = .zero
    )
        -> ClobHeaders
    {
        let digest = l1Digest(address: signer.address, timestamp: timestamp, nonce: nonce, chainId: chainId)
        return ClobHeaders([
            (addressHeader, signer.address.checksummed),
            (signatureHeader, signer.sign(digest: digest).hex),
            (timestampHeader, String(timestamp)),
            (nonceHeader, nonce.decimalString),
        ])
    }

    /// The L2 signature: URL-safe base64 (padded) of HMAC-SHA256 keyed with the URL-safe-base64-decoded
    /// secret over `timestamp + method + path + body`. Pass the exact body bytes that are sent.
    public static func l2Signature(
        secret: String, timestamp: Int64, method: String, path: String,
        body: some Collection<UInt8> = [UInt8]()
    ) throws(ClobAuthError) -> String {
        guard let key = Base64URL.decode(secret) else { throw .invalidSecret }
        var message = Array(String(timestamp).utf8)
        message += method.utf8
        message += path.utf8
        message += body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return Base64URL.encode(Array(mac))
    }

    /// L2 headers (POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_API_KEY, POLY_PASSPHRASE).
    public static func l2Headers(
        address: Address, credentials: ApiCredentials, timestamp: Int64, method: String, path: String,
        body: some Collection<UInt8> = [UInt8]()
    ) throws(ClobAuthError) -> ClobHeaders {
        let signature = try l2Signature(
            secret: credentials.secret, timestamp: timestamp, method: method, path: path, body: body)
        return ClobHeaders([
            (addressHeader, address.checksummed),
            (signatureHeader, signature),
            (timestampHeader, String(timestamp)),
            (apiKeyHeader, credentials.apiKey),
            (passphraseHeader, credentials.passphrase),
        ])
    }
}

/// URL-safe base64 (RFC 4648 §5) with padding.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes URL-safe (or standard) base64; missing padding is tolerated. Nil on other characters.
    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        values.reserveCapacity(text.utf8.count)
        var padding = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            values.append(v)
        }
        guard values.count % 4 != 1, padding <= 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var i = 0
        while i + 1 < values.count {
            let v0 = values[i]
            let v1 = values[i + 1]
            out.append(v0 << 2 | v1 >> 4)
            if i + 2 < values.count {
                let v2 = values[i + 2]
                out.append(v1 << 4 | v2 >> 2)
                if i + 3 < values.count { out.append(v2 << 6 | values[i + 3]) }
            }
            i += 4
        }
        return out
    }
}
