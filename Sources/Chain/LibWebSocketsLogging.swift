import CLibWebSockets

/// The process-wide log level of libwebsockets (lws has a single global one, writing to stderr).
///
/// Call it once at startup, before any client or server runs. lws's own default also prints
/// notices (a few lines per context created).
public enum LibWebSocketsLogging {
    /// Which lws messages reach stderr.
    public enum Level: Sendable {
        /// Nothing.
        case silent
        /// Errors only.
        case errors
        /// Errors and warnings.
        case warnings
        /// Errors, warnings and notices (the lws default).
        case notices
    }

    /// Sets the lws log level for the whole process.
    public static func setLevel(_ level: Level) {
        let mask: Int32
        switch level {
        case .silent: mask = 0
        case .errors: mask = Int32(LLL_ERR)
        case .warnings: mask = Int32(LLL_ERR | LLL_WARN)
        case .notices: mask = Int32(LLL_ERR | LLL_WARN | LLL_NOTICE)
        }
        lws_set_log_level(mask, nil)
    }
}
