import Chain
import EVM
import Foundation
import Logging
import NIOCore
import PostgresNIO

// MARK: - ChainStateStore

extension PostgresStore: ChainStateStore {
    public func loadState(stream: String) async throws -> ChainState? {
        try await transaction(snapshot: true) { c in
            guard
                let cursor = try await c.row(
                    "SELECT block_number, block_hash FROM chain_cursor WHERE stream = \(stream)",
                    logger: logger)
            else { return nil }
            let blocks = try await c.rows(
                """
                SELECT block_number, block_hash FROM chain_blocks WHERE stream = \(stream)
                ORDER BY block_number
                """, logger: logger)
            return ChainState(cursor: try Self.blockRef(cursor), recentBlocks: try blocks.map(Self.blockRef))
        }
    }

    /// As ``SQLiteStore``'s: one transaction. Two writers of one stream (there should be one
    /// listener per stream) are serialised by an advisory lock on the stream, so the event
    /// sequence numbers taken from the stored maximum stay unique.
    public func apply(_ step: ChainStep, stream: String) async throws -> [ChainEvent] {
        try await transaction(syncedLater: true) { c in
            try await c.run(
                "SELECT pg_advisory_xact_lock(\(Self.chainLock), hashtext(\(stream)))", logger: logger)
            var events: [ChainEvent] = []
            var seq =
                try await c.row(
                    """
                    SELECT GREATEST(COALESCE(MAX(delivery_seq), 0), COALESCE(MAX(retraction_seq), 0)) AS seq
                    FROM chain_logs WHERE stream = \(stream)
                    """, logger: logger)?("seq", as: Int64.self) ?? 0
            if let forget = step.forgetAbove {
                try await c.run(
                    "DELETE FROM chain_blocks WHERE stream = \(stream) AND block_number > \(Int64(forget))",
                    logger: logger)
            }
            for (identity, log) in step.logs {
                let id = StoreCoding.data(identity.hash)
                if let existing = try await c.row(
                    """
                    SELECT retracted, block_number, block_hash, tx_index, log_index FROM chain_logs
                    WHERE stream = \(stream) AND identity = \(id)
                    """, logger: logger)
                {
                    // Already delivered: delivered again only if it moved or was retracted.
                    let wasRetracted = try existing("retracted", as: Bool.self)
                    let moved =
                        try existing("block_number", as: Int64.self) != Int64(log.blockNumber)
                        || existing("block_hash", as: Data.self) != StoreCoding.data(log.blockHash)
                        || existing("tx_index", as: Int64.self) != Int64(log.transactionIndex)
                        || existing("log_index", as: Int64.self) != Int64(log.logIndex)
                    guard wasRetracted || moved else { continue }
                    try await c.run(
                        """
                        UPDATE chain_logs SET block_number = \(Int64(log.blockNumber)),
                            block_hash = \(StoreCoding.data(log.blockHash)), tx_index = \(Int64(log.transactionIndex)),
                            log_index = \(Int64(log.logIndex))
                        WHERE stream = \(stream) AND identity = \(id)
                        """, logger: logger)
                    // Retracted earlier and canonical again (a reorg reverted), or re-included
                    // elsewhere (a reorg moved it): delivered anew, at its new position.
                    seq += 1
                    try await c.run(
                        """
                        UPDATE chain_logs SET retracted = FALSE, retraction_seq = NULL, retraction_acked = FALSE,
                            delivered_acked = FALSE, delivery_seq = \(seq)
                        WHERE stream = \(stream) AND identity = \(id)
                        """, logger: logger)
                    events.append(.log(log, identity))
                    continue
                }
                seq += 1
                try await c.run(
                    """
                    INSERT INTO chain_logs (stream, identity, address, topics, data, block_number, block_hash,
                        tx_hash, tx_index, log_index, delivery_seq)
                    VALUES (\(stream), \(id), \(Data(log.address.bytes)), \(Data(log.topics.flatMap(\.bytes))),
                        \(Data(log.data)), \(Int64(log.blockNumber)), \(StoreCoding.data(log.blockHash)),
                        \(StoreCoding.data(log.transactionHash)), \(Int64(log.transactionIndex)),
                        \(Int64(log.logIndex)), \(seq))
                    """, logger: logger)
                events.append(.log(log, identity))
            }
            for identity in step.retractions {
                let id = StoreCoding.data(identity.hash)
                guard
                    let row = try await c.row(
                        """
                        SELECT * FROM chain_logs WHERE stream = \(stream) AND identity = \(id) AND NOT retracted
                        """, logger: logger)
                else { continue }
                seq += 1
                try await c.run(
                    """
                    UPDATE chain_logs SET retracted = TRUE, retraction_seq = \(seq)
                    WHERE stream = \(stream) AND identity = \(id)
                    """, logger: logger)
                events.append(.retracted(try Self.log(row), identity))
            }
            for block in step.blocks {
                try await c.run(
                    """
                    INSERT INTO chain_blocks (stream, block_number, block_hash)
                    VALUES (\(stream), \(Int64(block.number)), \(StoreCoding.data(block.hash)))
                    ON CONFLICT (stream, block_number) DO UPDATE SET block_hash = excluded.block_hash
                    """, logger: logger)
            }
            if let cursor = step.cursor {
                try await c.run(
                    """
                    INSERT INTO chain_cursor (stream, block_number, block_hash)
                    VALUES (\(stream), \(Int64(cursor.number)), \(StoreCoding.data(cursor.hash)))
                    ON CONFLICT (stream) DO UPDATE
                        SET block_number = excluded.block_number, block_hash = excluded.block_hash
                    """, logger: logger)
            }
            if let below = step.pruneBelow {
                try await c.run(
                    """
                    DELETE FROM chain_logs WHERE stream = \(stream) AND block_number < \(Int64(below))
                        AND delivered_acked AND (NOT retracted OR retraction_acked)
                    """, logger: logger)
                try await c.run(
                    "DELETE FROM chain_blocks WHERE stream = \(stream) AND block_number < \(Int64(below))",
                    logger: logger)
            }
            return events
        }
    }

    public func pendingEvents(stream: String) async throws -> [ChainEvent] {
        try await transaction(snapshot: true) { c in
            var pending: [(Int64, ChainEvent)] = []
            for row in try await c.rows(
                "SELECT * FROM chain_logs WHERE stream = \(stream) AND NOT delivered_acked", logger: logger)
            {
                let identity = LogIdentity(hash: try StoreCoding.bytes32(row("identity")))
                pending.append((try row("delivery_seq"), .log(try Self.log(row), identity)))
            }
            for row in try await c.rows(
                "SELECT * FROM chain_logs WHERE stream = \(stream) AND retracted AND NOT retraction_acked",
                logger: logger)
            {
                let identity = LogIdentity(hash: try StoreCoding.bytes32(row("identity")))
                pending.append((try row("retraction_seq"), .retracted(try Self.log(row), identity)))
            }
            return pending.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func acknowledge(_ events: [ChainEvent], stream: String) async throws {
        // Identities as `bytea[]` (ByteBuffers: Data does not encode as an array element).
        // A delivery is acknowledged only at the stored position: one superseded by a move is not it.
        var deliveries: [ByteBuffer] = []
        var blockHashes: [ByteBuffer] = []
        var logIndexes: [Int64] = []
        for case .log(let log, let identity) in events {
            deliveries.append(ByteBuffer(bytes: identity.hash.bytes))
            blockHashes.append(ByteBuffer(bytes: log.blockHash.bytes))
            logIndexes.append(Int64(log.logIndex))
        }
        let retractions = events.compactMap { event -> ByteBuffer? in
            if case .retracted(_, let identity) = event { return ByteBuffer(bytes: identity.hash.bytes) }
            return nil
        }
        try await transaction(syncedLater: true) { c in
            if !deliveries.isEmpty {
                try await c.run(
                    """
                    UPDATE chain_logs SET delivered_acked = TRUE
                    FROM unnest(\(deliveries)::bytea[], \(blockHashes)::bytea[], \(logIndexes)::bigint[])
                        AS delivered(identity, block_hash, log_index)
                    WHERE chain_logs.stream = \(stream) AND chain_logs.identity = delivered.identity
                        AND chain_logs.block_hash = delivered.block_hash
                        AND chain_logs.log_index = delivered.log_index
                    """, logger: logger)
            }
            if !retractions.isEmpty {
                try await c.run(
                    """
                    UPDATE chain_logs SET retraction_acked = TRUE
                    WHERE stream = \(stream) AND identity = ANY(\(retractions))
                    """, logger: logger)
            }
        }
    }

    public func liveIdentities(stream: String, aboveBlock: UInt64) async throws -> [LogIdentity: BlockRef] {
        try await read { c in
            var result: [LogIdentity: BlockRef] = [:]
            for row in try await c.rows(
                """
                SELECT identity, block_number, block_hash FROM chain_logs
                WHERE stream = \(stream) AND block_number > \(Int64(aboveBlock)) AND NOT retracted
                """, logger: logger)
            {
                result[LogIdentity(hash: try StoreCoding.bytes32(row("identity")))] = try Self.blockRef(row)
            }
            return result
        }
    }

    public func deliveredCount(stream: String) async throws -> Int {
        try await read { c in
            Int(
                try await c.row(
                    "SELECT COUNT(*) AS n FROM chain_logs WHERE stream = \(stream)", logger: logger)?(
                        "n", as: Int64.self) ?? 0)
        }
    }

    // MARK: - Row mapping

    /// The advisory lock class of a stream's `apply` (the stream's hash is the other key).
    static let chainLock: Int32 = 0x6362_0001

    static func blockRef(_ row: PGRow) throws -> BlockRef {
        BlockRef(
            number: UInt64(try row("block_number", as: Int64.self)),
            hash: try StoreCoding.bytes32(row("block_hash")))
    }

    static func log(_ row: PGRow) throws -> EthLog {
        let topicBytes = try row("topics", as: Data.self)
        guard topicBytes.count % 32 == 0 else {
            throw StoreError.corrupt("topics of \(topicBytes.count) bytes")
        }
        let topics = try stride(from: 0, to: topicBytes.count, by: 32).map {
            try StoreCoding.bytes32(topicBytes[topicBytes.startIndex + $0..<topicBytes.startIndex + $0 + 32])
        }
        guard let address = Address(bytes: try row("address", as: Data.self)) else {
            throw StoreError.corrupt("address")
        }
        return EthLog(
            address: address, topics: topics, data: [UInt8](try row("data", as: Data.self)),
            blockNumber: UInt64(try row("block_number", as: Int64.self)),
            blockHash: try StoreCoding.bytes32(row("block_hash")),
            transactionHash: try StoreCoding.bytes32(row("tx_hash")),
            transactionIndex: UInt64(try row("tx_index", as: Int64.self)),
            logIndex: UInt64(try row("log_index", as: Int64.self)), removed: false)
    }
}
