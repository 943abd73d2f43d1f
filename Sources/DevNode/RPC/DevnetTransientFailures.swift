/// The answers of the `transientErrorRate` fault (see ``DevnetTransientError``): what a provider
/// sends when it drops a request it never ran.
enum TransientFailures {
    /// The failure of `kind` (`variant` picks among the providers' bodies) for the request `text`.
    static func response(
        _ kind: DevnetTransientError, variant: Int, to text: String
    ) -> DevnetHTTPServer.Response {
        let request = try? JSONParser.parse(text)
        // Providers echo the id of a single request; a batch or garbage gets null.
        let id = request?["id"]?.text ?? "null"
        switch kind {
        case .rateLimited:
            let error: String
            switch variant % 4 {
            case 0:
                // Alchemy (conduitxyz/node#36; https://docs.alchemy.com/reference/throughput).
                error =
                    "{\"code\":429,\"message\":\"Your app has exceeded its compute units per second capacity. "
                    + "If you have retries enabled, you can safely ignore this message. If not, check out "
                    + "https://docs.alchemy.com/reference/throughput\"}"
            case 1:
                // Infura (INFURA/infura#201; https://docs.infura.io/api/networks/ethereum/json-rpc-methods).
                error =
                    "{\"code\":-32005,\"message\":\"project ID request rate exceeded\",\"data\":{\"rate\":"
                    + "{\"allowed_rps\":50,\"backoff_seconds\":0,\"current_rps\":52.3},"
                    + "\"see\":\"https://infura.io/docs/ethereum/json-rpc/ratelimits\"}}"
            case 2:
                // QuickNode (https://www.quicknode.com/docs/optimism/error-references).
                error =
                    "{\"code\":429,\"message\":\"The requests per second (RPS) of your requests are higher than "
                    + "your plan allows.\"}"
            default:
                // proxyd's ErrBackendOverCapacity (ethereum-optimism/optimism proxyd/errors.go): HTTP 429.
                error = "{\"code\":-32012,\"message\":\"backend is over capacity\"}"
            }
            return .init(status: 429, body: "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"error\":\(error)}")
        case .unavailable:
            if variant % 2 == 0 {
                // proxyd's ErrNoBackends (ethereum-optimism/optimism proxyd/errors.go): HTTP 503.
                return .init(
                    status: 503,
                    body: "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32011,\"message\":"
                        + "\"no backend is currently healthy to serve traffic\"},\"id\":\(id)}")
            }
            // The edge's own page, no JSON at all (HAProxy's built-in 503 error page).
            return .init(
                status: 503, contentType: "text/html",
                body: "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this "
                    + "request.\n</body></html>\n")
        case .headerNotFound:
            // geth's "header not found", -32000 (ethereum/execution-apis#534), for every request.
            let error = RPCError(code: -32000, message: "header not found")
            switch request {
            case .array(let requests)?:
                let answers = requests.compactMap { r -> String? in
                    guard case .object = r, let id = r["id"] else { return nil }
                    return DevnetRPC.response(id: id, error: error)
                }
                return .init(body: answers.isEmpty ? "" : "[" + answers.joined(separator: ",") + "]")
            case .object?:
                guard let id = request?["id"] else { return .init(body: "") }
                return .init(body: DevnetRPC.response(id: id, error: error))
            default:
                return .init(body: DevnetRPC.response(id: .null, error: error))
            }
        }
    }
}
