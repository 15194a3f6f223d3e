import Metrics

/// The API's own counters; request counts and latency histograms per
/// route come from Hummingbird's `MetricsMiddleware`.
struct APIMetrics: Sendable {
    let registrations = Counter(label: "cdnsd_acmedns_registrations_total")
    let updates = Counter(label: "cdnsd_challenge_writes_total", dimensions: [("api", "acme-dns"), ("action", "update")])
    let presents = Counter(label: "cdnsd_challenge_writes_total", dimensions: [("api", "httpreq"), ("action", "present")])
    let cleanups = Counter(label: "cdnsd_challenge_writes_total", dimensions: [("api", "httpreq"), ("action", "cleanup")])
    let acmeDNSAuthFailures = Counter(label: "cdnsd_api_auth_failures_total", dimensions: [("api", "acme-dns")])
    let httpreqAuthFailures = Counter(label: "cdnsd_api_auth_failures_total", dimensions: [("api", "httpreq")])
    let adminAuthFailures = Counter(label: "cdnsd_api_auth_failures_total", dimensions: [("api", "admin")])
    /// 429 answers, by why.
    let limitedAuth = Counter(label: "cdnsd_api_rate_limited_total", dimensions: [("reason", "auth_failures")])
    let limitedRegister = Counter(label: "cdnsd_api_rate_limited_total", dimensions: [("reason", "register")])
    let limitedBcrypt = Counter(label: "cdnsd_api_rate_limited_total", dimensions: [("reason", "bcrypt_busy")])
    /// Writes answered 503 because the store could not commit them.
    let storeUnavailable = Counter(label: "cdnsd_api_store_unavailable_total")
    let accountCapReached = Counter(label: "cdnsd_api_rate_limited_total", dimensions: [("reason", "max_accounts")])
}
