import CSecp256k1

/// Something that signs 32-byte digests for one Ethereum address.
///
/// The order builder and the CLOB authentication depend on this protocol, not on
/// ``PrivateKey``, so tests (or a remote signer) can stand in.
public protocol DigestSigner: Sendable {
    /// The address whose key signs.
    var address: Address { get }
    /// Signs `digest` (already hashed; no prefix is added).
    func sign(digest: Bytes32) -> Signature
}

/// A secp256k1 private key.
///
/// The 32 key bytes live in memory this object owns and are overwritten with zeros when it is
/// released. Copies the caller made before handing the key over (a hex string read from the
/// environment, say) are beyond its reach: drop them promptly. The key never appears in
/// `description`, `debugDescription`, mirrors or `dump`: they print `PrivateKey(<redacted>)`.
///
/// Each key owns one libsecp256k1 context, created with `SECP256K1_CONTEXT_NONE` and randomised
/// (blinding against side channels). After initialisation the context is only read, which
/// libsecp256k1 allows from any number of threads, so the key is `Sendable`.
public final class PrivateKey: DigestSigner, @unchecked Sendable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// Why bytes are not a private key.
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A key has 32 bytes.
        case wrongLength(Int)
        /// Zero, or not below the curve order.
        case outOfRange
        /// The text is not hex. (The offending text is never included.)
        case invalidHex

        public var description: String {
            switch self {
            case .wrongLength(let n): "a private key has 32 bytes, got \(n)"
            case .outOfRange: "private key is zero or not below the secp256k1 curve order"
            case .invalidHex: "private key is not valid hex"
            }
        }
    }

    /// The 32 key bytes (owned; zeroed in `deinit`).
    private let secret: UnsafeMutableRawBufferPointer
    /// This key's libsecp256k1 context.
    private let context: OpaquePointer
    /// The address of this key.
    public let address: Address
    /// The 64-byte uncompressed public key (x ‖ y).
    public let publicKey: [UInt8]

    /// Creates a key from exactly 32 bytes.
    public init(bytes: some Collection<UInt8>) throws(Error) {
        guard bytes.count == 32 else { throw .wrongLength(bytes.count) }
        let secret = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
        _ = secret.initializeMemory(as: UInt8.self, from: bytes)
        guard let context = secp256k1_context_create(copybot_secp256k1_context_none()) else {
            fatalError("secp256k1_context_create failed")
        }
        guard
            secp256k1_ec_seckey_verify(context, secret.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
        else {
            copybot_secure_zero(secret.baseAddress, 32)
            secret.deallocate()
            secp256k1_context_destroy(context)
            throw .outOfRange
        }
        // Blinding for the signing and key-generation code paths.
        var seed = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<32 { seed[i] = UInt8.random(in: .min ... .max, using: &generator) }
        let randomized = seed.withUnsafeBufferPointer { secp256k1_context_randomize(context, $0.baseAddress) }
        precondition(randomized == 1, "secp256k1_context_randomize failed")
        seed.withUnsafeMutableBytes { copybot_secure_zero($0.baseAddress, 32) }

        var publicKey = secp256k1_pubkey()
        let created = secp256k1_ec_pubkey_create(
            context, &publicKey, secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
        precondition(created == 1, "secp256k1_ec_pubkey_create failed for a verified key")
        self.secret = secret
        self.context = context
        self.publicKey = Secp256k1.uncompressed(publicKey, context: context)
        self.address = Secp256k1.address(of: publicKey, context: context)
    }

    /// Parses 64 hex digits, with or without `0x`. The text is never echoed in errors.
    public convenience init(hex: String) throws(Error) {
        var bytes: [UInt8]
        do { bytes = try Hex.decode(String(hex.trimmingSpaces)) } catch { throw .invalidHex }
        defer { bytes.withUnsafeMutableBytes { copybot_secure_zero($0.baseAddress, $0.count) } }
        try self.init(bytes: bytes)
    }

    /// A fresh random key drawn from `generator`.
    public static func generate(using generator: inout some RandomNumberGenerator) -> PrivateKey {
        while true {
            var bytes = [UInt8](repeating: 0, count: 32)
            for i in 0..<32 { bytes[i] = UInt8.random(in: .min ... .max, using: &generator) }
            defer { bytes.withUnsafeMutableBytes { copybot_secure_zero($0.baseAddress, 32) } }
            if let key = try? PrivateKey(bytes: bytes) { return key }
        }
    }

    /// A fresh random key from the system's secure generator.
    public static func generate() -> PrivateKey {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    deinit {
        copybot_secure_zero(secret.baseAddress, secret.count)
        secret.deallocate()
        secp256k1_context_destroy(context)
    }

    /// Signs a 32-byte digest with an RFC 6979 deterministic nonce (libsecp256k1's default),
    /// returning a low-`s` signature with `v` = 27 + recovery id.
    public func sign(digest: Bytes32) -> Signature {
        var recoverable = secp256k1_ecdsa_recoverable_signature()
        let message = digest.bytes
        let signed = message.withUnsafeBufferPointer { msg in
            secp256k1_ecdsa_sign_recoverable(
                context, &recoverable, msg.baseAddress!,
                secret.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil)
        }
        precondition(signed == 1, "secp256k1_ecdsa_sign_recoverable failed for a verified key")
        var compact = [UInt8](repeating: 0, count: 64)
        var recoveryID: Int32 = 0
        _ = compact.withUnsafeMutableBufferPointer { out in
            secp256k1_ecdsa_recoverable_signature_serialize_compact(
                context, out.baseAddress!, &recoveryID, &recoverable)
        }
        return Signature(
            r: Bytes32(bytes: compact[0..<32])!, s: Bytes32(bytes: compact[32..<64])!,
            v: UInt8(27 + recoveryID))
    }

    /// Calls `body` with the 32 key bytes. Do not let them escape.
    public func withUnsafeKeyBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(secret))
    }

    public var description: String { "PrivateKey(<redacted>)" }
    public var debugDescription: String { "PrivateKey(<redacted>)" }
    public var customMirror: Mirror {
        Mirror(self, children: ["address": address.checksummed], displayStyle: .class)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return self[start...end]
    }
}
