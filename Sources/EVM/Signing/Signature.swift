import CSecp256k1

/// A recoverable secp256k1 ECDSA signature as Ethereum serialises it: `r ‖ s ‖ v`, 65 bytes,
/// with `v` = 27 + recovery id.
///
/// Signatures made by ``PrivateKey`` are canonical (low `s`, as libsecp256k1 always produces).
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    /// The `r` component.
    public var r: Bytes32
    /// The `s` component.
    public var s: Bytes32
    /// The recovery byte: 27 or 28.
    public var v: UInt8

    /// Why bytes are not a signature, or a signature recovers no key.
    public enum Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        /// A serialised signature has 65 bytes.
        case wrongLength(Int)
        /// `v` must be 27 or 28 (or 0 or 1, which are read as 27 and 28).
        case invalidRecoveryByte(UInt8)
        /// `r` or `s` is zero or not below the curve order.
        case invalidComponents
        /// No public key recovers from this signature and digest.
        case recoveryFailed
        /// The hex text is not valid.
        case hex(Hex.Error)

        public var description: String {
            switch self {
            case .wrongLength(let n): "a signature has 65 bytes, got \(n)"
            case .invalidRecoveryByte(let v): "invalid signature recovery byte \(v) (expected 27 or 28)"
            case .invalidComponents: "signature r or s is out of range"
            case .recoveryFailed: "no public key recovers from this signature"
            case .hex(let e): "invalid signature hex: \(e)"
            }
        }
    }

    /// Creates a signature from its components; `v` is 27 or 28.
    public init(r: Bytes32, s: Bytes32, v: UInt8) {
        self.r = r
        self.s = s
        self.v = v
    }

    /// Reads the 65-byte `r ‖ s ‖ v` form. A `v` of 0 or 1 is accepted and stored as 27 or 28.
    public init(bytes: some Collection<UInt8>) throws(Error) {
        let array = Array(bytes)
        guard array.count == 65 else { throw .wrongLength(array.count) }
        var v = array[64]
        if v < 2 { v += 27 }
        guard v == 27 || v == 28 else { throw .invalidRecoveryByte(array[64]) }
        self.r = Bytes32(bytes: array[0..<32])!
        self.s = Bytes32(bytes: array[32..<64])!
        self.v = v
    }

    /// Parses `0x` and 130 hex digits.
    public init(hex: String) throws(Error) {
        let bytes: [UInt8]
        do { bytes = try Hex.decode(hex) } catch { throw .hex(error) }
        try self.init(bytes: bytes)
    }

    /// The recovery id, 0 or 1.
    public var recoveryID: Int32 { Int32(v) - 27 }

    /// The 65 bytes `r ‖ s ‖ v`.
    public var bytes: [UInt8] { r.bytes + s.bytes + [v] }

    /// The 64 bytes `r ‖ s`.
    public var compact: [UInt8] { r.bytes + s.bytes }

    /// `0x` and 130 lowercase hex digits, the form Ethereum tools print.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    /// The address whose key made this signature over `digest`.
    ///
    /// Uses libsecp256k1's static context, which is sufficient (and safe) for verification work.
    public func recoverAddress(digest: Bytes32) throws(Error) -> Address {
        guard v == 27 || v == 28 else { throw .invalidRecoveryByte(v) }
        let context = copybot_secp256k1_context_static()!
        var recoverable = secp256k1_ecdsa_recoverable_signature()
        let parsed = compact.withUnsafeBufferPointer { input in
            secp256k1_ecdsa_recoverable_signature_parse_compact(
                context, &recoverable, input.baseAddress!, recoveryID)
        }
        guard parsed == 1 else { throw .invalidComponents }
        var publicKey = secp256k1_pubkey()
        let recovered = digest.bytes.withUnsafeBufferPointer { message in
            secp256k1_ecdsa_recover(context, &publicKey, &recoverable, message.baseAddress!)
        }
        guard recovered == 1 else { throw .recoveryFailed }
        return Secp256k1.address(of: publicKey, context: context)
    }
}

/// Helpers shared by the signing types.
enum Secp256k1 {
    /// The 64-byte uncompressed public key (x ‖ y, no 0x04 prefix).
    static func uncompressed(_ key: secp256k1_pubkey, context: OpaquePointer) -> [UInt8] {
        var key = key
        var output = [UInt8](repeating: 0, count: 65)
        var length = 65
        let ok = output.withUnsafeMutableBufferPointer { out in
            secp256k1_ec_pubkey_serialize(
                context, out.baseAddress!, &length, &key, copybot_secp256k1_ec_uncompressed())
        }
        precondition(ok == 1 && length == 65, "secp256k1_ec_pubkey_serialize failed")
        return Array(output[1...])
    }

    /// The Ethereum address of a public key: the last 20 bytes of keccak256(x ‖ y).
    static func address(of key: secp256k1_pubkey, context: OpaquePointer) -> Address {
        let hash = Keccak256.hash(uncompressed(key, context: context)).bytes
        return Address(bytes: hash[12...])!
    }
}
