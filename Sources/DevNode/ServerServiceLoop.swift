import CLibWebSockets

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The libwebsockets side of a ``LoopbackWebSocketServer``: runs entirely on the service thread
/// (`@unchecked Sendable` only so it can be handed to that thread once).
final class ServerServiceLoop: @unchecked Sendable {
    private let host: String
    private let port: Int
    private let maxMessageBytes: Int
    private let tls: LoopbackTLSFiles?
    private let capturedHeaders: [String]
    private let mailbox: ServerMailbox
    private let events: AsyncStream<LoopbackServerEvent>.Continuation
    private let ready: OneShot<Result<Int, ServerError>>

    private final class Connection {
        let id: LoopbackClientID
        var outgoing: [OutgoingFrame] = []
        var head = 0
        var reassembly: [UInt8] = []

        init(id: LoopbackClientID) { self.id = id }

        var next: OutgoingFrame? { head < outgoing.count ? outgoing[head] : nil }

        func dropFirst() {
            head += 1
            if head == outgoing.count {
                outgoing.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 256, head * 2 >= outgoing.count {
                outgoing.removeFirst(head)
                head = 0
            }
        }
    }

    private var connections: [OpaquePointer: Connection] = [:]
    private var wsiByID: [LoopbackClientID: OpaquePointer] = [:]
    private var reading = true
    private var scratch: [UInt8] = []

    init(
        host: String, port: Int, maxMessageBytes: Int, tls: LoopbackTLSFiles?,
        capturedHeaders: [String], mailbox: ServerMailbox,
        events: AsyncStream<LoopbackServerEvent>.Continuation, ready: OneShot<Result<Int, ServerError>>
    ) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.tls = tls
        self.capturedHeaders = capturedHeaders
        self.mailbox = mailbox
        self.events = events
        self.ready = ready
    }

    /// The service thread's body.
    func run() {
        let protocolName = strdup("copybot-devnode")!
        let iface = strdup(host)!
        let certificate = tls.map { strdup($0.certificatePath)! }
        let privateKey = tls.map { strdup($0.privateKeyPath)! }
        let protocols = UnsafeMutablePointer<lws_protocols>.allocate(capacity: 2)
        protocols.initialize(repeating: lws_protocols(), count: 2)
        defer {
            protocols.deallocate()
            free(protocolName)
            free(iface)
            free(certificate)
            free(privateKey)
        }
        protocols[0].name = UnsafePointer(protocolName)
        protocols[0].callback = serverCallback

        var info = lws_context_creation_info()
        info.port = Int32(port)
        info.iface = UnsafePointer(iface)
        info.protocols = UnsafePointer(protocols)
        info.options = UInt64(LWS_SERVER_OPTION_DISABLE_IPV6)
        if let certificate, let privateKey {
            info.options |= UInt64(LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT)
            info.ssl_cert_filepath = UnsafePointer(certificate)
            info.ssl_private_key_filepath = UnsafePointer(privateKey)
        }
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.fd_limit_per_thread = 256
        reading = mailbox.state.withLock { $0.reading }

        guard let context = lws_create_context(&info) else {
            ready.fulfill(.failure(.listenFailed(host: host, port: port)))
            return
        }
        let vhost = lws_get_vhost_by_name(context, "default")
        let boundPort = vhost.map { Int(lws_get_vhost_listen_port($0)) } ?? port
        mailbox.state.withLock { s in s.context = ContextHandle(pointer: context) }
        ready.fulfill(.success(boundPort))

        while !mailbox.state.withLock({ $0.stopRequested }) {
            if lws_service(context, 0) < 0 { break }
        }

        mailbox.state.withLock { s in
            s.context = nil
            s.commands = []
        }
        lws_context_destroy(context)
        for connection in connections.values {
            events.yield(.disconnected(connection.id))
        }
        connections = [:]
        wsiByID = [:]
        mailbox.state.withLock { $0.clients = [] }
    }

    fileprivate func handle(
        _ wsi: OpaquePointer, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
        _ input: UnsafeMutableRawPointer?, _ length: Int
    ) -> Int32 {
        switch reason {
        case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
            runCommands()
        case LWS_CALLBACK_ESTABLISHED:
            established(wsi)
        case LWS_CALLBACK_RECEIVE:
            return receive(wsi, input, length)
        case LWS_CALLBACK_SERVER_WRITEABLE:
            return writeable(wsi)
        case LWS_CALLBACK_CLOSED:
            closed(wsi)
        default:
            break
        }
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }

    private func established(_ wsi: OpaquePointer) {
        let handshake = readHandshake(wsi)
        let id = mailbox.state.withLock { s in
            let id = LoopbackClientID(rawValue: s.nextClientID)
            s.nextClientID += 1
            s.clients.insert(id)
            s.handshakes[id] = handshake
            return id
        }
        connections[wsi] = Connection(id: id)
        wsiByID[id] = wsi
        if !reading { _ = lws_rx_flow_control(wsi, 0) }
        events.yield(.connected(id))
    }

    /// The request line and headers, still available while ESTABLISHED is being handled.
    private func readHandshake(_ wsi: OpaquePointer) -> LoopbackHandshake {
        func standard(_ token: lws_token_indexes) -> String? {
            let length = Int(lws_hdr_total_length(wsi, token))
            guard length > 0 else { return nil }
            var buffer = [CChar](repeating: 0, count: length + 1)
            guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
            return String(
                decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        func custom(_ name: String) -> String? {
            let key = name + ":"
            let keyLength = Int32(key.utf8.count)
            let length = Int(lws_hdr_custom_length(wsi, key, keyLength))
            guard length >= 0 else { return nil }
            var buffer = [CChar](repeating: 0, count: length + 1)
            guard lws_hdr_custom_copy(wsi, &buffer, Int32(buffer.count), key, keyLength) >= 0 else {
                return nil
            }
            return String(
                decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        var headers: [String: String] = [:]
        let known: [(String, lws_token_indexes)] = [
            ("host", WSI_TOKEN_HOST), ("origin", WSI_TOKEN_ORIGIN),
            ("authorization", WSI_TOKEN_HTTP_AUTHORIZATION), ("user-agent", WSI_TOKEN_HTTP_USER_AGENT),
        ]
        for (name, token) in known {
            if let value = standard(token) { headers[name] = value }
        }
        for name in capturedHeaders {
            if let value = custom(name) { headers[name] = value }
        }
        return LoopbackHandshake(path: standard(WSI_TOKEN_GET_URI) ?? "/", headers: headers)
    }

    private func closed(_ wsi: OpaquePointer) {
        guard let connection = connections.removeValue(forKey: wsi) else { return }
        wsiByID[connection.id] = nil
        _ = mailbox.state.withLock { $0.clients.remove(connection.id) }
        events.yield(.disconnected(connection.id))
    }

    private func runCommands() {
        let commands = mailbox.state.withLock { s in
            defer { s.commands = [] }
            return s.commands
        }
        for command in commands {
            switch command {
            case .send(let id, let frames):
                guard let wsi = wsiByID[id], let connection = connections[wsi] else { continue }
                connection.outgoing.append(contentsOf: frames)
                _ = lws_callback_on_writable(wsi)
            case .broadcast(let frame):
                for (wsi, connection) in connections {
                    connection.outgoing.append(frame)
                    _ = lws_callback_on_writable(wsi)
                }
            case .disconnect(let id):
                guard let wsi = wsiByID[id] else { continue }
                // No close frame: shut the socket down under lws, then let lws reap the wsi.
                _ = shutdown(lws_get_socket_fd(wsi), Int32(SHUT_RDWR))
                lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC)
            case .setReading(let enabled):
                reading = enabled
                for wsi in connections.keys {
                    _ = lws_rx_flow_control(wsi, enabled ? 1 : 0)
                }
            }
        }
    }

    private func receive(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard let connection = connections[wsi] else { return 0 }
        let remaining = lws_remaining_packet_payload(wsi)
        if connection.reassembly.count + length + remaining > maxMessageBytes {
            // Just -1: lws 4.1.6 double-frees if lws_close_reason() precedes it here.
            connection.reassembly = []
            return -1
        }
        if let input, length > 0 {
            connection.reassembly.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
        }
        guard lws_is_final_fragment(wsi) != 0, remaining == 0 else { return 0 }
        if lws_frame_is_binary(wsi) != 0 {
            events.yield(.binary(connection.id, connection.reassembly))
        } else {
            events.yield(.text(connection.id, String(decoding: connection.reassembly, as: UTF8.self)))
        }
        connection.reassembly.removeAll(keepingCapacity: connection.reassembly.capacity <= 65536)
        return 0
    }

    private func writeable(_ wsi: OpaquePointer) -> Int32 {
        guard let connection = connections[wsi] else { return 0 }
        let pre = Int(copybot_lws_pre())
        var writes = 0
        while let frame = connection.next, writes < 64 {
            let count = frame.payload.count
            if scratch.count < pre + count { scratch = [UInt8](repeating: 0, count: pre + count) }
            let written = scratch.withUnsafeMutableBufferPointer { buffer in
                let start = buffer.baseAddress! + pre
                frame.payload.withUnsafeBufferPointer { payload in
                    if let source = payload.baseAddress { start.update(from: source, count: count) }
                }
                return lws_write(wsi, start, count, frame.flags)
            }
            if written < Int32(count) { return -1 }
            connection.dropFirst()
            writes += 1
            if lws_send_pipe_choked(wsi) != 0 { break }
        }
        if connection.next != nil { _ = lws_callback_on_writable(wsi) }
        if scratch.count > 1 << 20 { scratch = [] }
        return 0
    }
}

/// The C callback of the server protocol: finds the loop through the context user pointer.
private func serverCallback(
    _ wsi: OpaquePointer?, _ reason: lws_callback_reasons, _ user: UnsafeMutableRawPointer?,
    _ input: UnsafeMutableRawPointer?, _ length: Int
) -> Int32 {
    guard let wsi, let context = lws_get_context(wsi), let owner = lws_context_user(context) else { return 0 }
    return Unmanaged<ServerServiceLoop>.fromOpaque(owner).takeUnretainedValue()
        .handle(wsi, reason, user, input, length)
}
