import CLibWebSockets
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A dedicated OS thread running one closure: the libwebsockets service thread.
///
/// ``join()`` waits (asynchronously) for the closure to return and then reaps the thread, so once it
/// returns the thread no longer exists. A thread that is never joined is detached when this object
/// goes away, so it is reaped by the system. Used by the client here and by the devnet's server.
public final class ServiceThread: Sendable {
    /// `pthread_create` failed with this error code.
    public struct StartError: Error, Hashable, Sendable {
        public var code: Int32
    }

    private struct State {
        var handle: pthread_t?
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private final class Start {
        let name: String
        let body: () -> Void
        let thread: ServiceThread

        init(name: String, body: @escaping () -> Void, thread: ServiceThread) {
            self.name = name
            self.body = body
            self.thread = thread
        }
    }

    private let state = Mutex(State())

    private init() {}

    /// Starts a thread named `name` (as seen in /proc; 15 bytes kept) running `body`.
    public static func start(
        name: String, body: @escaping @Sendable () -> Void
    ) throws(StartError) -> ServiceThread {
        let thread = ServiceThread()
        let start = Unmanaged.passRetained(Start(name: name, body: body, thread: thread))
        var handle = pthread_t()
        let code = pthread_create(
            &handle, nil,
            { raw in
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                copybot_set_thread_name(start.name)
                start.body()
                start.thread.markFinished()
                return nil
            }, start.toOpaque())
        guard code == 0 else {
            start.release()
            throw StartError(code: code)
        }
        thread.state.withLock { $0.handle = handle }
        return thread
    }

    private func markFinished() {
        let waiters = state.withLock { s in
            s.finished = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for the closure to return, then reaps the thread (only the first joiner does; the
    /// others just wait).
    public func join() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.finished { return true }
                s.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        // The closure has returned: the thread is about to exit, so this blocks only briefly.
        if let handle = state.withLock({ s in
            defer { s.handle = nil }; return s.handle
        }) {
            _ = pthread_join(handle, nil)
        }
    }

    deinit {
        // Never joined (e.g. the owner was dropped without shutdown): let the system reap it.
        if let handle = state.withLock({ $0.handle }) {
            _ = pthread_detach(handle)
        }
    }
}
