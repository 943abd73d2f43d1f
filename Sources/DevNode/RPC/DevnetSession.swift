import EVM
import Synchronization

/// One WebSocket client of a ``DevnetRPC``: its subscriptions and its outgoing frames.
///
/// Everything the session sends goes through its ``DevnetConnection`` while the session's lock is
/// held, so a subscription's id always reaches the client before its first notification, and
/// notifications arrive in chain order.
public final class DevnetSession: Sendable {
    /// Unique among the sessions of its ``DevnetRPC`` (the first is 1).
    public let id: Int
    private let rpc: DevnetRPC
    private let connection: any DevnetConnection
    private let state: Mutex<State>

    struct Subscription: Sendable {
        enum Kind: Sendable {
            case logs(LogFilter)
            case newHeads
        }

        var id: String
        var kind: Kind
        /// Dead (the `staleSubscriptions` fault): registered, but never notified again.
        var stale = false
    }

    struct State: Sendable {
        var subscriptions: [Subscription] = []
        var rng: DevnetRandom
        var closed = false

        mutating func subscribe(_ kind: Subscription.Kind) -> String {
            var id: String
            repeat {
                var bytes: [UInt8] = []
                withUnsafeBytes(of: rng.next().bigEndian) { bytes += $0 }
                withUnsafeBytes(of: rng.next().bigEndian) { bytes += $0 }
                id = Hex.encode(bytes)
            } while subscriptions.contains { $0.id == id }
            subscriptions.append(Subscription(id: id, kind: kind))
            return id
        }

        mutating func unsubscribe(_ id: String) -> Bool {
            guard let i = subscriptions.firstIndex(where: { $0.id == id }) else { return false }
            subscriptions.remove(at: i)
            return true
        }
    }

    init(id: Int, rpc: DevnetRPC, connection: any DevnetConnection, seed: UInt64) {
        self.id = id
        self.rpc = rpc
        self.connection = connection
        self.state = Mutex(State(rng: DevnetRandom(seed: seed)))
    }

    /// Handles one text message from the client (a request or a batch) and sends the response,
    /// if any, through the connection.
    public func receive(_ text: String) {
        state.withLock { s in
            guard !s.closed else { return }
            var session: State? = s
            let response = rpc.respond(to: text, session: &session).text
            if let session { s = session }
            if let response { connection.send(response) }
        }
    }

    /// Ends the session: its subscriptions are dropped and nothing more is sent. Call it when the
    /// client disconnects (the session is not released before).
    public func close() {
        state.withLock { s in
            s.closed = true
            s.subscriptions = []
        }
        rpc.sessionClosed(id)
    }

    /// The ids of the session's subscriptions, live or stale, oldest first.
    public var subscriptionIDs: [String] { state.withLock { $0.subscriptions.map(\.id) } }

    /// The ids of the subscriptions that still get notifications.
    public var liveSubscriptionIDs: [String] {
        state.withLock { $0.subscriptions.filter { !$0.stale }.map(\.id) }
    }

    /// Kills the session's current subscriptions silently (see ``DevnetRPC/stallSubscriptions()``).
    public func stallSubscriptions() {
        state.withLock { s in
            for i in s.subscriptions.indices { s.subscriptions[i].stale = true }
        }
    }

    // MARK: - Notifications

    func deliver(_ update: ChainUpdate, faults: DevnetFaults) {
        state.withLock { s in
            guard !s.closed else { return }
            for i in s.subscriptions.indices where !s.subscriptions[i].stale {
                if s.rng.chance(faults.staleSubscriptions) { s.subscriptions[i].stale = true }
            }
            let live = s.subscriptions.filter { !$0.stale }
            guard !live.isEmpty else { return }
            let sample = update.newBlocks.lazy.flatMap(\.logs).first ?? update.removedLogs.first
            func push(_ subscription: String, _ result: String, log: EthLog?) {
                if s.rng.chance(faults.malformedFrames),
                    let kind = faults.malformedFrameKinds.randomElement(using: &s.rng)
                {
                    connection.send(
                        HostileFrames.make(
                            kind, subscription: subscription, realResult: result, log: log ?? sample,
                            hugeBytes: faults.hugeFrameBytes, rng: &s.rng))
                }
                let frame = Self.notification(subscription, result)
                connection.send(frame)
                if s.rng.chance(faults.duplicateNotifications) { connection.send(frame) }
            }
            for subscription in live {
                guard case .logs(let filter) = subscription.kind else { continue }
                for log in update.removedLogs where filter.matches(log) {
                    push(subscription.id, JSONWriter.log(log), log: log)
                }
            }
            for block in update.newBlocks {
                for subscription in live {
                    switch subscription.kind {
                    case .newHeads:
                        var header = ""
                        JSONWriter.writeHeader(block, to: &header)
                        push(subscription.id, header, log: nil)
                    case .logs(let filter):
                        for log in block.logs where filter.matches(log) {
                            push(subscription.id, JSONWriter.log(log), log: log)
                        }
                    }
                }
            }
        }
    }

    /// An `eth_subscription` notification frame.
    static func notification(_ subscription: String, _ result: String) -> String {
        var out = "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\""
        out += subscription
        out += "\",\"result\":"
        out += result
        out += "}}"
        return out
    }
}

/// The hostile frames of the `malformedFrames` and `malformedResponses` faults.
enum HostileFrames {
    /// A hostile answer in place of `{"jsonrpc":"2.0","id":id,"result":realResult}`.
    static func response(
        _ kind: DevnetMalformedFrame, id: JSONValue, method: String, realResult: String, hugeBytes: Int,
        rng: inout DevnetRandom
    ) -> String {
        let real = DevnetRPC.response(id: id, result: realResult)
        switch kind {
        case .invalidJSON:
            return String(real.prefix(max(1, real.count / 2)))
        case .wrongTypes:
            if method == "eth_getLogs" && rng.chance(0.5) {
                return DevnetRPC.response(
                    id: id,
                    result: "[{\"address\":12,\"topics\":\"0x00\",\"data\":null,\"blockNumber\":70000001,"
                        + "\"transactionHash\":true,\"transactionIndex\":[],\"blockHash\":\"0x\",\"logIndex\":-1,"
                        + "\"removed\":\"no\"}]")
            }
            return DevnetRPC.response(
                id: id, result: realResult.hasPrefix("[") ? "{\"logs\":\"none\"}" : "[12]")
        case .unknownSubscription:
            return DevnetRPC.response(id: .number(String(rng.next() >> 12)), result: realResult)
        case .unconfiguredAddress:
            guard method == "eth_getLogs", realResult != "[]", let firstEnd = realResult.firstIndex(of: "}")
            else {
                return String(real.prefix(max(1, real.count / 2)))
            }
            // Repeat the first log with another address ("address" leads every log object).
            var first = String(realResult[realResult.index(after: realResult.startIndex)...firstEnd])
            let address = "\"" + rng.address().lowercased + "\""
            first = "{\"address\":" + address + first.dropFirst("{\"address\":".count + address.count)
            return DevnetRPC.response(id: id, result: "[" + first + "," + realResult.dropFirst())
        case .hugeFrame:
            let prefix = "{\"jsonrpc\":\"2.0\",\"id\":" + id.text + ",\"result\":\""
            return prefix + String(repeating: "a", count: max(0, hugeBytes - prefix.utf8.count - 2)) + "\"}"
        }
    }

    static func make(
        _ kind: DevnetMalformedFrame, subscription: String, realResult: String, log: EthLog?, hugeBytes: Int,
        rng: inout DevnetRandom
    ) -> String {
        switch kind {
        case .invalidJSON:
            let real = DevnetSession.notification(subscription, realResult)
            switch rng.int(in: 0...3) {
            case 0: return String(real.prefix(real.count / 2))
            case 1:
                return "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":"
            case 2: return "not json \u{7F}"
            default:
                return real.split(separator: ":", omittingEmptySubsequences: false).joined(separator: "=")
            }
        case .wrongTypes:
            switch rng.int(in: 0...3) {
            case 0:
                return DevnetSession.notification(
                    subscription,
                    "{\"address\":12,\"topics\":\"0x00\",\"data\":null,\"blockNumber\":70000001,"
                        + "\"transactionHash\":true,\"transactionIndex\":[],\"blockHash\":\"0x\",\"logIndex\":-1,"
                        + "\"removed\":\"no\"}")
            case 1:
                return "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":[\"\(subscription)\","
                    + realResult + "]}"
            case 2:
                return
                    "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":12345,"
                    + "\"result\":" + realResult + "}}"
            default:
                return DevnetSession.notification(subscription, "\"0xdeadbeef\"")
            }
        case .unknownSubscription:
            var bytes: [UInt8] = []
            withUnsafeBytes(of: rng.next()) { bytes += $0 }
            withUnsafeBytes(of: rng.next()) { bytes += $0 }
            return DevnetSession.notification(Hex.encode(bytes), realResult)
        case .unconfiguredAddress:
            guard var log else { return "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\"" }
            log.address = rng.address()
            return DevnetSession.notification(subscription, JSONWriter.log(log))
        case .hugeFrame:
            let prefix =
                "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\""
                + subscription + "\",\"result\":{\"padding\":\""
            let suffix = "\"}}}"
            let padding = max(0, hugeBytes - prefix.utf8.count - suffix.utf8.count)
            return prefix + String(repeating: "a", count: padding) + suffix
        }
    }
}
