/// Decodes ABI-encoded data, defensively.
///
/// Every offset and length is checked against the data before use, so hostile input (truncated
/// data, offsets outside it, lengths near 2^256, absurd array lengths) ends in a typed
/// ``ABIError``, never a crash, a hang or a huge allocation. Padding must be zero and values must
/// fit their type, as in a strict decoder. Overlapping offsets that would make decoding read far
/// more than the data holds are refused with ``ABIError/decodingBudgetExceeded``.
public struct ABIDecoder {
    /// How many times the data size decoding may read in total (canonical data reads it once).
    public static let budgetFactor = 4

    /// Decodes `data` as the tuple of `types` (the layout of function arguments and event data).
    public static func decode(_ types: [ABIType], from data: [UInt8]) throws(ABIError) -> [ABIValue] {
        try data.withUnsafeBytes { buffer in
            Result { () throws(ABIError) in try decode(types, from: buffer) }
        }.get()
    }

    /// Decodes `data` as the tuple of `types`.
    public static func decode(
        _ types: [ABIType], from data: UnsafeRawBufferPointer
    ) throws(ABIError) -> [ABIValue] {
        var decoder = ABIDecoder(data: data)
        return try decoder.decodeTuple(types, base: 0)
    }

    /// Decodes one value of `type` whose encoding starts at byte 0 of `data`, as for a single
    /// dynamic value that is not wrapped in a tuple.
    public static func decodeSingle(_ type: ABIType, from data: [UInt8]) throws(ABIError) -> ABIValue {
        try data.withUnsafeBytes { buffer in
            Result { () throws(ABIError) in
                var decoder = ABIDecoder(data: buffer)
                return try decoder.decodeValue(type, at: 0)
            }
        }.get()
    }

    private let data: UnsafeRawBufferPointer
    private var budget: Int

    private init(data: UnsafeRawBufferPointer) {
        self.data = data
        self.budget =
            Swift.max(data.count, 1024).multipliedReportingOverflow(by: Self.budgetFactor).partialValue
    }

    private mutating func spend(_ bytes: Int) throws(ABIError) {
        budget -= bytes
        if budget < 0 { throw .decodingBudgetExceeded }
    }

    private func word(at offset: Int) throws(ABIError) -> Bytes32 {
        guard offset >= 0, offset <= data.count - 32 else {
            throw .outOfBounds(offset: offset, needed: 32, available: Swift.max(0, data.count - offset))
        }
        return Bytes32(loadingFrom: data, at: offset)
    }

    /// Reads a word that is an offset or a length: it must address something inside the data.
    private func smallInteger(at offset: Int) throws(ABIError) -> Int {
        let w = try word(at: offset)
        guard w.w0 | w.w1 | w.w2 == 0, w.w3 <= UInt64(data.count) else { throw .offsetTooLarge(at: offset) }
        return Int(w.w3)
    }

    mutating func decodeTuple(_ types: [ABIType], base: Int) throws(ABIError) -> [ABIValue] {
        var values: [ABIValue] = []
        values.reserveCapacity(types.count)
        var head = base
        for type in types {
            if type.isDynamic {
                let relative = try smallInteger(at: head)
                try spend(32)
                guard base + relative <= data.count else { throw .offsetTooLarge(at: head) }
                values.append(try decodeValue(type, at: base + relative))
                head += 32
            } else {
                values.append(try decodeValue(type, at: head))
                head += type.headSize
            }
        }
        return values
    }

    mutating func decodeValue(_ type: ABIType, at offset: Int) throws(ABIError) -> ABIValue {
        switch type {
        case .uint(let bits):
            let w = try word(at: offset)
            try spend(32)
            guard UInt256(w).bitWidth <= bits else {
                throw .invalidValue(type: type.description, at: offset, reason: "value exceeds \(bits) bits")
            }
            return .uint(UInt256(w))
        case .int(let bits):
            let w = try word(at: offset)
            try spend(32)
            let value = UInt256(w)
            // The top 256 − bits + 1 bits must all equal the sign bit.
            let negative = value.w0 >> 63 == 1
            let magnitudeBits = (negative ? ~value : value).bitWidth
            guard magnitudeBits <= bits - 1 else {
                throw .invalidValue(
                    type: type.description, at: offset,
                    reason: "value is not a sign-extended \(bits)-bit integer")
            }
            return .int(value)
        case .address:
            let w = try word(at: offset)
            try spend(32)
            guard let address = Address(word: w) else {
                throw .invalidValue(type: "address", at: offset, reason: "high 12 bytes are not zero")
            }
            return .address(address)
        case .bool:
            let w = try word(at: offset)
            try spend(32)
            guard w.w0 | w.w1 | w.w2 == 0, w.w3 <= 1 else {
                throw .invalidValue(type: "bool", at: offset, reason: "not 0 or 1")
            }
            return .bool(w.w3 == 1)
        case .fixedBytes(let n):
            let w = try word(at: offset)
            try spend(32)
            let bytes = w.bytes
            guard bytes[n...].allSatisfy({ $0 == 0 }) else {
                throw .invalidValue(
                    type: type.description, at: offset, reason: "padding after \(n) bytes is not zero")
            }
            return .fixedBytes(Array(bytes[..<n]))
        case .bytes:
            return .bytes(try decodeByteString(at: offset))
        case .string:
            let raw = try decodeByteString(at: offset)
            guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(at: offset) }
            return .string(text)
        case .fixedArray(let element, let count):
            if element.isDynamic {
                return .array(try decodeTuple(Array(repeating: element, count: count), base: offset))
            }
            return .array(try decodeStaticSequence(element, count: count, at: offset))
        case .array(let element):
            let count = try lengthWord(at: offset, elementHeadSize: element.headSize)
            try spend(32)
            if element.isDynamic {
                return .array(try decodeTuple(Array(repeating: element, count: count), base: offset + 32))
            }
            return .array(try decodeStaticSequence(element, count: count, at: offset + 32))
        case .tuple(let components):
            return .tuple(try decodeTuple(components, base: offset))
        }
    }

    private mutating func decodeStaticSequence(
        _ element: ABIType, count: Int, at offset: Int
    ) throws(ABIError) -> [ABIValue] {
        let size = element.headSize
        guard count <= (data.count - Swift.min(offset, data.count)) / Swift.max(size, 1) else {
            throw .outOfBounds(
                offset: offset, needed: count * size, available: Swift.max(0, data.count - offset))
        }
        var values: [ABIValue] = []
        values.reserveCapacity(count)
        for i in 0..<count { values.append(try decodeValue(element, at: offset + i * size)) }
        return values
    }

    /// An array length: each element needs at least `elementHeadSize` bytes after the length word.
    private func lengthWord(at offset: Int, elementHeadSize: Int) throws(ABIError) -> Int {
        let w = try word(at: offset)
        let available = data.count - offset - 32
        guard w.w0 | w.w1 | w.w2 == 0, w.w3 <= UInt64(available / Swift.max(elementHeadSize, 32)) else {
            throw .lengthTooLarge(at: offset, length: UInt256(w).decimalString)
        }
        return Int(w.w3)
    }

    private mutating func decodeByteString(at offset: Int) throws(ABIError) -> [UInt8] {
        let w = try word(at: offset)
        let start = offset + 32
        let available = data.count - start
        guard w.w0 | w.w1 | w.w2 == 0, w.w3 <= UInt64(available) else {
            throw .lengthTooLarge(at: offset, length: UInt256(w).decimalString)
        }
        let length = Int(w.w3)
        let padded = (length + 31) / 32 * 32
        guard padded <= available else {
            throw .outOfBounds(offset: start, needed: padded, available: available)
        }
        try spend(32 + padded)
        for i in length..<padded where data[start + i] != 0 {
            throw .invalidValue(type: "bytes", at: start + i, reason: "padding is not zero")
        }
        return Array(UnsafeRawBufferPointer(rebasing: data[start..<start + length]))
    }
}
