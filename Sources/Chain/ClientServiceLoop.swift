import CLibWebSockets
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The libwebsockets side of a ``WebSocketClient``. Everything here runs on the service thread:
/// it creates the context, connects, answers lws callbacks, schedules reconnects and finally destroys
/// the context. It is `@unchecked Sendable` only to be handed to that thread once; after that no
/// other thread touches it (callers reach it only through ``ClientMailbox``).
final class ClientServiceLoop: @unchecked Sendable {
    private let configuration: WebSocketConfiguration
    private let url: WebSocketURL
    private let logger: Logger
    private let mailbox: ClientMailbox
    private let buffer: EventBuffer

    // Service-thread state.
    private var context: OpaquePointer?
    private var wsi: OpaquePointer?
    private var connectionPending = false
    private var established = false
    private var stopping = false
    private var readPaused = false
    private var attempt = 0
    private var closeReason: String?
    private var reassembly: [UInt8] = []

    // C memory that must outlive the context.
    private let strings: CStrings
    private let protocols: UnsafeMutablePointer<lws_protocols>
    private let retryPolicy: UnsafeMutablePointer<lws_retry_bo_t>
    private let retryTable: UnsafeMutablePointer<UInt32>
    private let reconnectTimer: UnsafeMutablePointer<copybot_lws_sul_t>
    private let pendingWsi: UnsafeMutablePointer<OpaquePointer?>
    private let headers: [(name: UnsafeMutablePointer<CChar>, value: [UInt8])]
    private let address: UnsafeMutablePointer<CChar>
    private let path: UnsafeMutablePointer<CChar>
    private let hostHeader: UnsafeMutablePointer<CChar>

    init(
        configuration: WebSocketConfiguration, url: WebSocketURL, logger: Logger, mailbox: ClientMailbox,
        buffer: EventBuffer
    ) {
        self.configuration = configuration
        self.url = url
        self.logger = logger
        self.mailbox = mailbox
        self.buffer = buffer
        let strings = CStrings()
        self.strings = strings

        protocols = .allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        protocols[0].name = UnsafePointer(strings.make("copybot-chain"))
        protocols[0].callback = clientCallback

        retryTable = .allocate(capacity: 1)
        retryTable.initialize(to: 1000)
        retryPolicy = .allocate(capacity: 1)
        var policy = lws_retry_bo_t()
        policy.retry_ms_table = UnsafePointer(retryTable)
        policy.retry_ms_table_count = 1
        policy.conceal_count = UInt16(LWS_RETRY_CONCEAL_ALWAYS)
        let ping = configuration.pingInterval.wholeSecondsRoundedUp
        policy.secs_since_valid_ping = UInt16(ping)
        policy.secs_since_valid_hangup = UInt16(ping + configuration.pongTimeout.wholeSecondsRoundedUp)
        retryPolicy.initialize(to: policy)

        reconnectTimer = .allocate(capacity: 1)
        reconnectTimer.initialize(to: copybot_lws_sul_t())
        pendingWsi = .allocate(capacity: 1)
        pendingWsi.initialize(to: nil)

        address = strings.make(url.host)
        path = strings.make(url.path)
        hostHeader = strings.make(url.hostHeader)
        headers = configuration.headers.map { header in
            (strings.make(header.name.lowercased() + ":"), Array(header.value.utf8))
        }
    }

    deinit {
        protocols.deallocate()
        retryPolicy.deallocate()
        retryTable.deallocate()
        reconnectTimer.deallocate()
        pendingWsi.deallocate()
    }

    // MARK: - Thread body

    /// The service thread's body: returns once a stop is requested and the context is destroyed.
    func run() {
        reconnectTimer.pointee.owner = Unmanaged.passUnretained(self).toOpaque()

        var info = lws_context_creation_info()
        info.port = CONTEXT_PORT_NO_LISTEN
        info.protocols = UnsafePointer(protocols)
        info.options = UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.fd_limit_per_thread = 16
        info.timeout_secs = UInt32(configuration.connectTimeout.wholeSecondsRoundedUp)
        info.connect_timeout_secs = UInt32(configuration.connectTimeout.wholeSecondsRoundedUp)
        if let caFile = configuration.tlsCAFile {
            info.client_ssl_ca_filepath = UnsafePointer(strings.make(caFile))
        }

        guard let context = lws_create_context(&info) else {
            logger.error("libwebsockets could not create a context")
            buffer.push(.error(.contextCreationFailed))
            finishStopped()
            return
        }
        self.context = context
        let stopAlready = mailbox.state.withLock { s in
            s.context = LWSContextHandle(pointer: context)
            return s.stopRequested
        }

        if !stopAlready {
            connect()
            while !mailbox.state.withLock({ $0.stopRequested }) {
                if lws_service(context, 0) < 0 {
                    logger.error("lws_service failed; the WebSocket client stops")
                    break
                }
            }
        }

        stopping = true
        mailbox.state.withLock { s in s.context = nil }
        lws_sul_cancel(timerPointer)
        lws_context_destroy(context)
        self.context = nil
        wsi = nil
        finishStopped()
    }

    private func finishStopped() {
        mailbox.markStopped()
        buffer.finish()
        logger.debug("WebSocket service thread finished")
    }

    private var timerPointer: UnsafeMutablePointer<lws_sorted_usec_list_t> {
        UnsafeMutableRawPointer(reconnectTimer).assumingMemoryBound(to: lws_sorted_usec_list_t.self)
    }

    // MARK: - Connecting

    fileprivate func connect() {
        guard let context, !stopping else { return }
        var info = lws_client_connect_info()
        info.context = context
        info.address = UnsafePointer(address)
        info.port = Int32(url.port)
        if url.isSecure {
            var flags = LCCSCF_USE_SSL.rawValue
            if configuration.tlsAllowSelfSigned { flags |= LCCSCF_ALLOW_SELFSIGNED.rawValue }
            info.ssl_connection = Int32(flags)
        }
        info.path = UnsafePointer(path)
        info.host = UnsafePointer(hostHeader)
        info.origin = UnsafePointer(hostHeader)
        info.local_protocol_name = protocols[0].name
        info.ietf_version_or_minus_one = -1
        info.retry_and_idle_policy = UnsafePointer(retryPolicy)
        info.pwsi = pendingWsi
        // alpn stays NULL: this libwebsockets build enables HTTP/2 and must not negotiate it here.

        connectionPending = true
        logger.debug("connecting", metadata: ["attempt": "\(attempt)"])
        if lws_client_connect_via_info(&info) == nil, connectionPending {
            // No CONNECTION_ERROR callback comes for this: schedule the retry here.
            connectionFailed("could not start the connection to \(url.redacted)")
        }
    }

    private func connectionFailed(_ reason: String) {
        connectionPending = false
        pendingWsi.pointee = nil
        mailbox.statistics.withLock { $0.connectionFailures += 1 }
        if !stopping {
            logger.warning("WebSocket connection failed: \(reason)")
            buffer.push(.error(.connectionFailed(reason: reason)))
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard let context, !stopping else { return }
        let delay = configuration.backoff.delay(forAttempt: attempt, unit: Double.random(in: 0..<1))
        attempt += 1
        let micros = max(1, Int64(delay.seconds * 1_000_000))
        logger.info("reconnecting in \(delay)", metadata: ["attempt": "\(attempt)"])
        lws_sul_schedule(context, 0, timerPointer, reconnectTimerFired, lws_usec_t(micros))
    }

    // MARK: - Callbacks

    fileprivate func handle(
        _ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            serviceMailbox()

        case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
            return appendHeaders(wsi, input, length)

        case LWS_CALLBACK_CLIENT_ESTABLISHED:
            established(wsi)

        case LWS_CALLBACK_CLIENT_RECEIVE:
            return receive(wsi, input, length)

        case LWS_CALLBACK_CLIENT_WRITEABLE:
            return writeable(wsi)

        case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
            closeReason = Self.describeClose(input, length)

        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            if connectionPending {
                let text = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
                connectionFailed(text.flatMap { $0.isEmpty ? nil : $0 } ?? "connection error")
            }

        case LWS_CALLBACK_CLIENT_CLOSED:
            closed(wsi)

        case LWS_CALLBACK_WSI_DESTROY:
            // Safety net: a connection that vanished without CONNECTION_ERROR or CLIENT_CLOSED.
            if established, wsi == self.wsi {
                closed(wsi)
            } else if connectionPending, wsi == pendingWsi.pointee {
                connectionFailed("connection closed during the handshake")
            }

        default:
            break
        }
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }

    private func serviceMailbox() {
        let (resume, hasOutgoing) = mailbox.state.withLock { s in
            defer { s.resumeReading = false }
            return (s.resumeReading, !s.outgoing.isEmpty)
        }
        guard let wsi, established else { return }
        if resume, readPaused {
            readPaused = false
            _ = lws_rx_flow_control(wsi, 1)
        }
        if hasOutgoing {
            _ = lws_callback_on_writable(wsi)
        }
    }

    private func established(_ wsi: OpaquePointer) {
        self.wsi = wsi
        connectionPending = false
        pendingWsi.pointee = nil
        established = true
        readPaused = false
        closeReason = nil
        attempt = 0
        reassembly = []
        mailbox.state.withLock { s in s.established = true }
        mailbox.statistics.withLock { $0.connections += 1 }
        logger.info("WebSocket connected")
        if buffer.push(.connected) {
            pauseReading(wsi)
        }
    }

    private func closed(_ wsi: OpaquePointer) {
        guard established, wsi == self.wsi else { return }
        established = false
        self.wsi = nil
        readPaused = false
        reassembly = []
        mailbox.state.withLock { s in
            s.established = false
            s.outgoing.removeAll()
            s.outgoingBytes = 0
        }
        mailbox.statistics.withLock { $0.disconnections += 1 }
        let reason = closeReason ?? (stopping ? "client shut down" : "connection lost")
        closeReason = nil
        if stopping {
            logger.info("WebSocket closed: \(reason)")
        } else {
            logger.warning("WebSocket disconnected: \(reason)")
        }
        buffer.push(.disconnected(reason: reason))
        scheduleReconnect()
    }

    private func pauseReading(_ wsi: OpaquePointer) {
        guard !readPaused else { return }
        readPaused = true
        mailbox.statistics.withLock { $0.readPauses += 1 }
        _ = lws_rx_flow_control(wsi, 0)
    }

    private func receive(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        let remaining = lws_remaining_packet_payload(wsi)
        let limit = configuration.maxMessageBytes
        // The frame header announces the rest of this fragment: refuse before buffering anything.
        if reassembly.count + length + remaining > limit {
            reassembly = []
            mailbox.statistics.withLock { $0.oversizedMessages += 1 }
            logger.error("received a WebSocket message over \(limit) bytes; dropping the connection")
            buffer.push(.error(.messageTooLarge(limit: limit)))
            closeReason = "message over \(limit) bytes"
            // Just -1 (no close frame): lws 4.1.6 double-frees when lws_close_reason() precedes
            // returning -1 from CLIENT_RECEIVE.
            return -1
        }
        if let input, length > 0 {
            reassembly.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
        }
        guard lws_is_final_fragment(wsi) != 0, remaining == 0 else { return 0 }

        let message: WebSocketMessage
        if lws_frame_is_binary(wsi) != 0 {
            message = .binary(reassembly)
        } else if let text = String(validating: reassembly, as: UTF8.self) {
            message = .text(text)
        } else {
            mailbox.statistics.withLock { $0.invalidMessages += 1 }
            logger.warning("discarded a text message that is not valid UTF-8 (\(reassembly.count) bytes)")
            buffer.push(.error(.invalidUTF8(byteCount: reassembly.count)))
            reassembly.removeAll(keepingCapacity: reassembly.capacity <= 65536)
            return 0
        }
        let size = reassembly.count
        reassembly.removeAll(keepingCapacity: reassembly.capacity <= 65536)
        mailbox.statistics.withLock {
            $0.messagesReceived += 1
            $0.bytesReceived += size
        }
        if buffer.push(.message(message)) {
            pauseReading(wsi)
        }
        return 0
    }

    private func writeable(_ wsi: OpaquePointer) -> Int32 {
        // Several queued messages per callback while the socket takes them; then ask again.
        for _ in 0..<64 {
            let (next, more): (WebSocketMessage?, Bool) = mailbox.state.withLock { s in
                guard let message = s.outgoing.popFirst() else { return (nil, false) }
                s.outgoingBytes -= message.byteCount
                return (message, !s.outgoing.isEmpty)
            }
            guard let next else { return 0 }
            if !write(next, to: wsi) {
                logger.warning("WebSocket write failed; dropping the connection")
                closeReason = "write failed"
                return -1
            }
            if !more { return 0 }
            if lws_send_pipe_choked(wsi) != 0 { break }
        }
        _ = lws_callback_on_writable(wsi)
        return 0
    }

    /// Writes one message as a single frame, with the `LWS_PRE` headroom lws_write needs.
    private func write(_ message: WebSocketMessage, to wsi: OpaquePointer) -> Bool {
        let pre = copybot_lws_pre()
        let payload: [UInt8]
        let kind: lws_write_protocol
        switch message {
        case .text(let text):
            payload = Array(text.utf8)
            kind = LWS_WRITE_TEXT
        case .binary(let bytes):
            payload = bytes
            kind = LWS_WRITE_BINARY
        }
        var frame = [UInt8](repeating: 0, count: pre + payload.count)
        frame.replaceSubrange(pre..<frame.count, with: payload)
        let written = frame.withUnsafeMutableBufferPointer { buffer in
            lws_write(wsi, buffer.baseAddress! + pre, payload.count, kind)
        }
        guard written >= Int32(payload.count) else { return false }
        mailbox.statistics.withLock {
            $0.messagesSent += 1
            $0.bytesSent += payload.count
        }
        return true
    }

    private func appendHeaders(
        _ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        guard !headers.isEmpty, let input else { return 0 }
        let cursor = input.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
        guard let start = cursor.pointee else { return -1 }
        let end = start + length
        for header in headers {
            let failed = header.value.withUnsafeBufferPointer { value in
                header.name.withMemoryRebound(to: UInt8.self, capacity: 1) { name in
                    lws_add_http_header_by_name(wsi, name, value.baseAddress, Int32(value.count), cursor, end)
                }
            }
            if failed != 0 {
                logger.error("the WebSocket handshake headers do not fit")
                return -1
            }
        }
        return 0
    }

    private static func describeClose(_ input: UnsafeMutableRawPointer?, _ length: Int) -> String {
        guard let input, length >= 2 else { return "closed by the server" }
        let bytes = UnsafeRawBufferPointer(start: input, count: length)
        let code = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let text = String(decoding: bytes.dropFirst(2), as: UTF8.self)
        return text.isEmpty ? "closed by the server (\(code))" : "closed by the server (\(code): \(text))"
    }

    fileprivate func reconnectTimerExpired() {
        connect()
    }
}

/// The C callback of the client protocol: finds the loop through the context user pointer.
private func clientCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else { return 0 }
    return Unmanaged<ClientServiceLoop>.fromOpaque(owner).takeUnretainedValue()
        .handle(wsi, reason, user, input, length)
}

/// The C callback of the reconnect timer: finds the loop through the timer's owner field.
private func reconnectTimerFired(_ sul: UnsafeMutablePointer<lws_sorted_usec_list_t>?) {
    guard let sul, let owner = copybot_lws_sul_owner(sul) else { return }
    Unmanaged<ClientServiceLoop>.fromOpaque(owner).takeUnretainedValue().reconnectTimerExpired()
}

/// C strings kept alive until this object goes away.
final class CStrings {
    private var storage: [UnsafeMutablePointer<CChar>] = []

    func make(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        storage.append(copy)
        return copy
    }

    deinit {
        for pointer in storage { free(pointer) }
    }
}
