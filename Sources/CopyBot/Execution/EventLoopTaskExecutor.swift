import NIOCore

/// A task executor that runs its jobs on one NIO event loop: the loop the CLOB's HTTP connections
/// live on.
///
/// A copy's work runs on it (the engine's decision, the prefetched `GET /book`), so each request
/// is written on the thread that owns its connection and the task goes on, on the thread that read
/// the answer: no hand-off to another thread on the way out or back. Otherwise each request takes
/// two hand-offs (to the loop's thread, and back to a task thread), each a thread wake-up.
///
/// Jobs run in the order they are enqueued, between the loop's I/O; none may block the thread.
/// Store writes still go to the store's own writer and back.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the jobs run on.
    public let eventLoop: any EventLoop

    /// An executor running its jobs on `eventLoop`.
    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `job` on the loop, after what the loop is doing now.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
