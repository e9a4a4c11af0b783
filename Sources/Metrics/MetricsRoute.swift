/// Which endpoint a request asks for. `GET` and `HEAD` only; anything else is 405.
public enum MetricsRoute: Equatable, Sendable {
    case metrics
    case healthz
    case readyz
    case notFound
    case methodNotAllowed

    public init(_ head: HTTPRequestHead) {
        guard head.method == "GET" || head.method == "HEAD" else {
            self = .methodNotAllowed
            return
        }
        switch head.path {
        case "/metrics": self = .metrics
        case "/healthz": self = .healthz
        case "/readyz": self = .readyz
        default: self = .notFound
        }
    }

    /// The `Allow` header of a 405 answer.
    public static let allowedMethods = "GET, HEAD"
}
