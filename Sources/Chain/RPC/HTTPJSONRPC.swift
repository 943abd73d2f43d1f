import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// JSON-RPC over HTTP POST with several endpoints and failover: a call that cannot reach an
/// endpoint, or gets a 5xx/429 from it, moves on to the next; the endpoint that answered last is
/// tried first next time.
public final class HTTPJSONRPC: Sendable {
    private let endpoints: [String]
    private let client: HTTPClient
    private let timeout: Duration
    private let maximumResponseBytes: Int
    private let logger: Logger
    private let state = Mutex((preferred: 0, nextID: UInt64(1)))

    /// Creates a transport over `endpoints` (at least one), sharing `client`.
    public init(
        endpoints: [String], client: HTTPClient, timeout: Duration = .seconds(30),
        maximumResponseBytes: Int = 256 << 20, logger: Logger
    ) {
        precondition(!endpoints.isEmpty, "at least one HTTP endpoint")
        self.endpoints = endpoints
        self.client = client
        self.timeout = timeout
        self.maximumResponseBytes = maximumResponseBytes
        self.logger = logger
    }

    /// Calls `method` with `params` (JSON text) and returns the raw bytes of `result`.
    public func call(_ method: String, params: String) async throws -> [UInt8] {
        let (first, id) = state.withLock { s -> (Int, UInt64) in
            defer { s.nextID &+= 1 }
            return (s.preferred, s.nextID)
        }
        let body = JSONRPCCodec.request(id: id, method: method, params: params)
        var lastError: any Error = ChainRPCError.unavailable("no endpoint tried")
        for attempt in 0..<endpoints.count {
            let index = (first + attempt) % endpoints.count
            do {
                let result = try await post(body, to: endpoints[index], id: id)
                if attempt > 0 { state.withLock { $0.preferred = index } }
                return result
            } catch let error as ChainRPCError {
                switch error {
                case .unavailable:
                    lastError = error
                    logger.warning("JSON-RPC \(method) via \(Self.redact(endpoints[index])) failed: \(error)")
                default: throw error
                }
            }
        }
        throw lastError
    }

    private func post(_ body: String, to url: String, id: UInt64) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(
                request,
                timeout: .nanoseconds(
                    Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds
                        / 1_000_000_000))
            bytes = try await response.body.collect(upTo: maximumResponseBytes)
        } catch {
            throw ChainRPCError.unavailable("\(error)")
        }
        guard response.status.code < 500, response.status != .tooManyRequests else {
            throw ChainRPCError.unavailable("HTTP \(response.status.code)")
        }
        let message: JSONRPCCodec.Message
        do {
            message = try bytes.withUnsafeReadableBytes { buffer in
                Result { () throws(JSONRPCCodec.MalformedMessage) in try JSONRPCCodec.parseMessage(buffer) }
            }.get()
        } catch {
            if response.status.code >= 400 { throw ChainRPCError.unavailable("HTTP \(response.status.code)") }
            throw ChainRPCError.malformed("\(error)")
        }
        guard case .response(let answerID, let result) = message, answerID == id else {
            if response.status.code >= 400 { throw ChainRPCError.unavailable("HTTP \(response.status.code)") }
            throw ChainRPCError.malformed("the answer is not the response to request \(id)")
        }
        switch result {
        case .success(let bytes): return bytes
        case .failure(let error):
            // Not sorted into kinds by wording: providers word the same refusal in many ways
            // (see `EventSource`, which halves an `eth_getLogs` range on any failure).
            throw ChainRPCError.server(code: error.code, message: error.text)
        }
    }

    /// An endpoint for logs: provider URLs often carry an API key in the path or query.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return "<endpoint>" }
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" && $0 != "?" }
        return url[..<schemeEnd.upperBound] + host + (rest.count > host.count ? "/…" : "")
    }
}
