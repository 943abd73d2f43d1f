/// An EIP-712 domain. Every member is optional; the `EIP712Domain` type lists the present ones
/// in the order name, version, chainId, verifyingContract, salt.
public struct EIP712Domain: Hashable, Sendable {
    /// `string name`.
    public var name: String?
    /// `string version`.
    public var version: String?
    /// `uint256 chainId`.
    public var chainId: UInt256?
    /// `address verifyingContract`.
    public var verifyingContract: Address?
    /// `bytes32 salt`.
    public var salt: Bytes32?

    /// Creates a domain.
    public init(
        name: String? = nil, version: String? = nil, chainId: UInt256? = nil,
        verifyingContract: Address? = nil, salt: Bytes32? = nil
    ) {
        self.name = name
        self.version = version
        self.chainId = chainId
        self.verifyingContract = verifyingContract
        self.salt = salt
    }

    /// The members of the `EIP712Domain` type for this domain.
    public var fields: [EIP712Field] {
        var fields: [EIP712Field] = []
        if name != nil { fields.append(EIP712Field(name: "name", type: "string")) }
        if version != nil { fields.append(EIP712Field(name: "version", type: "string")) }
        if chainId != nil { fields.append(EIP712Field(name: "chainId", type: "uint256")) }
        if verifyingContract != nil { fields.append(EIP712Field(name: "verifyingContract", type: "address")) }
        if salt != nil { fields.append(EIP712Field(name: "salt", type: "bytes32")) }
        return fields
    }

    /// The domain as a struct value.
    public var value: [String: EIP712Value] {
        var value: [String: EIP712Value] = [:]
        if let name { value["name"] = .string(name) }
        if let version { value["version"] = .string(version) }
        if let chainId { value["chainId"] = .uint(chainId) }
        if let verifyingContract { value["verifyingContract"] = .address(verifyingContract) }
        if let salt { value["salt"] = .fixedBytes(salt.bytes) }
        return value
    }

    /// `hashStruct(domain)`, the domain separator.
    public var separator: Bytes32 {
        // The domain type has no references and every value matches it, so this cannot fail.
        try! EIP712Types(["EIP712Domain": fields]).hashStruct("EIP712Domain", value)
    }
}

/// EIP-712 hashing entry points.
public enum EIP712 {
    /// `keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ structHash)`, the digest that is signed.
    public static func digest(domainSeparator: Bytes32, structHash: Bytes32) -> Bytes32 {
        withUnsafeTemporaryAllocation(byteCount: 66, alignment: 8) { buffer in
            buffer[0] = 0x19
            buffer[1] = 0x01
            domainSeparator.store(into: buffer, at: 2)
            structHash.store(into: buffer, at: 34)
            return Keccak256.hash(UnsafeRawBufferPointer(buffer))
        }
    }

    /// keccak256 of words laid end to end: the `hashStruct` of a struct whose members all
    /// encode to one word each (`typeHash` first).
    public static func hashWords(_ words: [Bytes32]) -> Bytes32 {
        withUnsafeTemporaryAllocation(byteCount: 32 * words.count, alignment: 8) { buffer in
            for (i, word) in words.enumerated() { word.store(into: buffer, at: 32 * i) }
            return Keccak256.hash(UnsafeRawBufferPointer(buffer))
        }
    }
}

/// A complete typed-data message, as `eth_signTypedData_v4` takes it.
public struct EIP712TypedData: Hashable, Sendable {
    /// The struct types (without `EIP712Domain`).
    public var types: EIP712Types
    /// The message's struct type.
    public var primaryType: String
    /// The domain.
    public var domain: EIP712Domain
    /// The message.
    public var message: [String: EIP712Value]

    /// Creates typed data.
    public init(types: EIP712Types, primaryType: String, domain: EIP712Domain, message: [String: EIP712Value])
    {
        self.types = types
        self.primaryType = primaryType
        self.domain = domain
        self.message = message
    }

    /// `hashStruct(message)`.
    public func structHash() throws(EIP712Error) -> Bytes32 {
        try types.hashStruct(primaryType, message)
    }

    /// The digest to sign: `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`.
    public func digest() throws(EIP712Error) -> Bytes32 {
        EIP712.digest(domainSeparator: domain.separator, structHash: try structHash())
    }
}
