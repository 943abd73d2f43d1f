/// A command that failed at run time (a file, a server, the configuration): printed as
/// `Error: <message>` with exit status 1 and, unlike `ValidationError`, without the usage text,
/// which only helps when the arguments themselves were wrong.
struct CommandFailure: Error, CustomStringConvertible {
    /// What went wrong and, where known, what to do.
    let description: String

    /// A failure with `message`.
    init(_ message: String) { self.description = message }
}
