import CLibWebSockets
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A dedicated OS thread running one closure (the libwebsockets service thread of the server).
///
/// `join()` waits asynchronously for the closure to return, then reaps the thread. A thread never
/// joined is detached when this object goes away. (Chain has the same helper; DevNode depends only
/// on CLibWebSockets, so it keeps its own small copy.)
final class ServiceThread: Sendable {
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

    /// Starts a thread named `name` running `body`, or reports why it could not.
    static func start(
        name: String, body: @escaping @Sendable () -> Void
    ) -> Result<ServiceThread, ServerError> {
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
            return .failure(.threadStartFailed(code: code))
        }
        thread.state.withLock { $0.handle = handle }
        return .success(thread)
    }

    private func markFinished() {
        let waiters = state.withLock { s in
            s.finished = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits for the closure to return, then reaps the thread.
    func join() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.finished { return true }
                s.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        if let handle = state.withLock({ s in
            defer { s.handle = nil }; return s.handle
        }) {
            _ = pthread_join(handle, nil)
        }
    }

    deinit {
        if let handle = state.withLock({ $0.handle }) {
            _ = pthread_detach(handle)
        }
    }
}
