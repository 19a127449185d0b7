//! Client configuration: explicit values only. Environment variables are read by drivers
//! and the SDK layer and handed in through [`Config::apply_env`].

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue, USER_AGENT};

use crate::error::Error;
use crate::retry::RetryPolicy;

/// Default limit of a buffered response body (512 MiB), see
/// [`Config::with_max_response_body`].
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 512 * 1024 * 1024;

/// Default API address; `/v2` is appended during normalisation.
pub const DEFAULT_API_URL: &str = "https://api.apify.com";

/// An Apify API token. Its `Debug` output is redacted and it has no `Display`, so it does
/// not end up in logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().into())
    }

    /// The secret itself; only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The timeout tier of an operation (client-behaviour §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutTier {
    /// Metadata CRUD (default 5 s).
    Short,
    /// Lists, creates, batches (default 30 s).
    Medium,
    /// Data transfer and streaming (default 360 s).
    Long,
    /// No timeout at all (waiting for runs, log streams).
    None,
}

/// How long one attempt of a call may take: a tier, or an explicit duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// Use the configured duration of this tier.
    Tier(TimeoutTier),
    /// Use this duration for the first attempt (it doubles per attempt, capped by `max`).
    Fixed(Duration),
}

impl From<TimeoutTier> for Timeout {
    fn from(t: TimeoutTier) -> Self {
        Self::Tier(t)
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Self {
        Self::Fixed(d)
    }
}

/// Durations of the timeout tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `short` tier, default 5 s.
    pub short: Duration,
    /// `medium` tier, default 30 s.
    pub medium: Duration,
    /// `long` tier, default 360 s.
    pub long: Duration,
    /// Hard cap of any single attempt, default 360 s.
    pub max: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            short: Duration::from_secs(5),
            medium: Duration::from_secs(30),
            long: Duration::from_secs(360),
            max: Duration::from_secs(360),
        }
    }
}

impl Timeouts {
    /// Timeout of the 1-based `attempt`: `min(base × 2^(attempt−1), max)`; `None` for the
    /// `none` tier.
    pub fn for_attempt(&self, timeout: Timeout, attempt: u32) -> Option<Duration> {
        let base = match timeout {
            Timeout::Tier(TimeoutTier::Short) => self.short,
            Timeout::Tier(TimeoutTier::Medium) => self.medium,
            Timeout::Tier(TimeoutTier::Long) => self.long,
            Timeout::Tier(TimeoutTier::None) => return None,
            Timeout::Fixed(d) => d,
        };
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        Some(base.saturating_mul(factor).min(self.max))
    }
}

/// Whether and how request bodies are compressed (client-behaviour §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RequestCompression {
    /// gzip, level 6, for compressible bodies of at least 1024 bytes (the official clients).
    #[default]
    Gzip,
    /// brotli, quality 6, under the same conditions (what the Apify SDK uses for itself);
    /// with the `brotli-requests` feature.
    #[cfg(feature = "brotli-requests")]
    Brotli,
    /// Never compress.
    Off,
}

/// Configuration of an [`ApifyClient`](crate::client::ApifyClient).
#[derive(Clone)]
pub struct Config {
    token: Option<Token>,
    api_base: Arc<str>,
    // The same, parsed once: every request reuses its scheme, host and path.
    api_base_uri: http::Uri,
    public_base: Arc<str>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    extra_headers: HeaderMap,
    user_agent_suffix: Vec<String>,
    is_at_home: bool,
    workflow_key: Option<String>,
    compression: RequestCompression,
    max_response_body: Option<u64>,
    // Headers shared by every request, built once.
    headers: OnceLock<Arc<HeaderMap>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: None,
            api_base: "https://api.apify.com/v2".into(),
            api_base_uri: http::Uri::from_static("https://api.apify.com/v2"),
            public_base: DEFAULT_API_URL.into(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            extra_headers: HeaderMap::new(),
            user_agent_suffix: Vec::new(),
            is_at_home: false,
            workflow_key: None,
            compression: RequestCompression::default(),
            max_response_body: Some(DEFAULT_MAX_RESPONSE_BODY),
            headers: OnceLock::new(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("api_base", &self.api_base)
            .field("public_base", &self.public_base)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("extra_headers", &self.extra_headers.keys().collect::<Vec<_>>())
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("is_at_home", &self.is_at_home)
            .field("workflow_key", &self.workflow_key.as_ref().map(|_| "<set>"))
            .field("compression", &self.compression)
            .field("max_response_body", &self.max_response_body)
            .finish()
    }
}

/// Strips trailing `/` and appends `/v2` unless the path already ends in it.
fn normalize_api_url(raw: &str, with_version: bool) -> Result<String, Error> {
    let raw_trimmed = raw.trim();
    let invalid = |why: &dyn fmt::Display| Error::invalid_argument(format!("invalid API URL {raw:?}: {why}"));
    if raw_trimmed.contains('#') || raw_trimmed.contains('?') {
        return Err(invalid(&"a base URL takes no query or fragment"));
    }
    if raw_trimmed.split_once("://").is_some_and(|(_, rest)| rest.split('/').next().is_some_and(|a| a.contains('@'))) {
        // Not echoed: the URL holds credentials.
        return Err(Error::invalid_argument("invalid API URL: credentials in a URL are not supported; set a token"));
    }
    let parsed: http::Uri = raw_trimmed.parse().map_err(|e| invalid(&e))?;
    let scheme = parsed.scheme_str().map(str::to_ascii_lowercase);
    let host = parsed.host().filter(|h| !h.is_empty());
    let (Some(scheme @ ("http" | "https")), Some(host)) = (scheme.as_deref(), host) else {
        return Err(invalid(&"expected an http or https URL with a host"));
    };
    // The form `url::Url` gives: lower-case scheme and host, no default port.
    let default_port = if scheme == "https" { 443 } else { 80 };
    let mut s = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(port) = parsed.port_u16().filter(|p| *p != default_port) {
        s.push(':');
        s.push_str(&port.to_string());
    }
    let path = parsed.path().trim_end_matches('/');
    let has_version = path.ends_with("/v2");
    s.push_str(path);
    if with_version && !has_version {
        s.push_str("/v2");
    } else if !with_version && has_version {
        s.truncate(s.len() - 3);
    }
    Ok(s)
}

impl Config {
    /// Defaults: no token, `https://api.apify.com`, 4 retries from 500 ms, default tiers.
    pub fn new() -> Self {
        Self::default()
    }

    fn changed(mut self) -> Self {
        self.headers = OnceLock::new();
        self
    }

    /// Sets the API token, sent as `Authorization: Bearer`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then(|| Token::new(token));
        self.changed()
    }

    /// Sets the API address (`/v2` is appended once). The public URL is separate and stays
    /// `https://api.apify.com` unless set with [`Config::with_api_public_url`].
    pub fn with_api_url(mut self, url: &str) -> Result<Self, Error> {
        let base = normalize_api_url(url, true)?;
        self.api_base_uri = http::Uri::try_from(base.as_str())
            .map_err(|e| Error::invalid_argument(format!("invalid API URL {url:?}: {e}")))?;
        self.api_base = base.into();
        Ok(self.changed())
    }

    /// Sets the address used only for shareable URLs (dataset items, KVS keys and records).
    pub fn with_api_public_url(mut self, url: &str) -> Result<Self, Error> {
        self.public_base = normalize_api_url(url, false)?.into();
        Ok(self)
    }

    /// Retries after the first attempt (default 4, so 5 attempts).
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.retry.max_retries = max_retries;
        self
    }

    /// First backoff step (default 500 ms; each retry waits a random time in `[d, 2d]`,
    /// doubling `d`).
    pub fn with_min_delay_between_retries(mut self, delay: Duration) -> Self {
        self.retry.min_delay = delay;
        self
    }

    /// Replaces the whole retry policy (deadline, budget, `SafeOnly`, jitter mode...).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the timeout tiers. A tier above `max` is capped, with a warning.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        for (name, d) in [("short", timeouts.short), ("medium", timeouts.medium), ("long", timeouts.long)] {
            if d > timeouts.max {
                tracing::warn!(
                    tier = name,
                    requested = ?d,
                    max = ?timeouts.max,
                    "timeout tier is above the maximum and will be capped"
                );
            }
        }
        self.timeouts = timeouts;
        self
    }

    /// Adds a header to every request (merged after the defaults; later values win).
    /// Overriding `Accept`, `Authorization`, `Accept-Encoding` or `User-Agent` is allowed but
    /// logged as a warning.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::invalid_argument(format!("invalid header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::invalid_argument(format!("invalid value of header {name}: {e}")))?;
        if matches!(name.as_str(), "accept" | "authorization" | "accept-encoding" | "user-agent") {
            tracing::warn!(header = %name, "overriding a header the client sets itself");
        }
        self.extra_headers.insert(name, value);
        Ok(self.changed())
    }

    /// Appends `; {part}` to the `User-Agent`.
    pub fn with_user_agent_suffix(mut self, part: impl Into<String>) -> Self {
        self.user_agent_suffix.push(part.into());
        self.changed()
    }

    /// Whether the process runs on the Apify platform (`isAtHome/` in the `User-Agent`).
    pub fn with_is_at_home(mut self, at_home: bool) -> Self {
        self.is_at_home = at_home;
        self.changed()
    }

    /// Value of the `X-Apify-Workflow-Key` header.
    pub fn with_workflow_key(mut self, key: Option<String>) -> Self {
        self.workflow_key = key.filter(|k| !k.is_empty());
        self.changed()
    }

    /// How request bodies are compressed.
    pub fn with_request_compression(mut self, compression: RequestCompression) -> Self {
        self.compression = compression;
        self
    }

    /// The largest response body a call buffers, counted after decompression (default
    /// 512 MiB; `None`: no limit). A larger one fails the call with
    /// [`TransportErrorKind::BodyTooLarge`](crate::error::TransportErrorKind::BodyTooLarge),
    /// not retried, as soon as the limit is passed: a compression bomb is stopped there,
    /// not after it expanded. Streamed bodies (`stream_items`, records, logs) are read at
    /// the caller's pace and not limited.
    pub fn with_max_response_body(mut self, limit: Option<u64>) -> Self {
        self.max_response_body = limit;
        self
    }

    /// The limit of buffered response bodies.
    pub fn max_response_body(&self) -> Option<u64> {
        self.max_response_body
    }

    /// Takes the settings the client reads from the environment, through `lookup` (e.g.
    /// `|k| std::env::var(k).ok()`): `APIFY_IS_AT_HOME` (present = true, whatever its value)
    /// and `APIFY_WORKFLOW_KEY`.
    pub fn apply_env(self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let at_home = lookup("APIFY_IS_AT_HOME").is_some();
        self.with_is_at_home(at_home).with_workflow_key(lookup("APIFY_WORKFLOW_KEY"))
    }

    /// True when a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The configured token.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Versioned API base, e.g. `https://api.apify.com/v2`.
    pub fn api_base_url(&self) -> &str {
        &self.api_base
    }

    /// [`Config::api_base_url`] parsed.
    pub(crate) fn api_base_uri(&self) -> &http::Uri {
        &self.api_base_uri
    }

    /// Public base without `/v2`, e.g. `https://api.apify.com`.
    pub fn public_base_url(&self) -> &str {
        &self.public_base
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The timeout tiers.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Request body compression.
    pub fn request_compression(&self) -> RequestCompression {
        self.compression
    }

    /// `ApifyClient/{version} ({os}; Rust/{rustc}); isAtHome/{bool}[; suffix...]`.
    pub fn user_agent(&self) -> String {
        let mut ua = format!(
            "ApifyClient/{} ({}; Rust/{}); isAtHome/{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            env!("APIFY_RUSTC_VERSION"),
            self.is_at_home
        );
        for part in &self.user_agent_suffix {
            ua.push_str("; ");
            ua.push_str(part);
        }
        ua
    }

    /// Headers sent with every request: defaults, then the extra headers.
    pub fn default_headers(&self) -> Arc<HeaderMap> {
        self.headers
            .get_or_init(|| {
                let mut h = HeaderMap::new();
                if let Ok(ua) = HeaderValue::from_str(&self.user_agent()) {
                    h.insert(USER_AGENT, ua);
                }
                h.insert(ACCEPT, HeaderValue::from_static("application/json, */*"));
                if let Some(token) = &self.token
                    && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                {
                    // Keeps the value out of `Debug` output of the header map.
                    v.set_sensitive(true);
                    h.insert(AUTHORIZATION, v);
                }
                if let Some(key) = &self.workflow_key
                    && let Ok(mut v) = HeaderValue::from_str(key)
                {
                    v.set_sensitive(true);
                    h.insert(HeaderName::from_static("x-apify-workflow-key"), v);
                }
                for (name, value) in &self.extra_headers {
                    h.insert(name, value.clone());
                }
                Arc::new(h)
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_normalisation() {
        let cases = [
            ("https://api.apify.com", "https://api.apify.com/v2"),
            ("https://api.apify.com/v2/", "https://api.apify.com/v2"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v2"),
            ("http://host/prefix/v2", "http://host/prefix/v2"),
            ("http://host/prefix//", "http://host/prefix/v2"),
        ];
        for (given, want) in cases {
            let c = Config::new().with_api_url(given).unwrap();
            assert_eq!(c.api_base_url(), want, "{given}");
        }
        let c = Config::new().with_api_url("http://127.0.0.1:8080/v2").unwrap();
        assert_eq!(c.public_base_url(), "https://api.apify.com");
        let c = Config::new()
            .with_api_public_url("https://public.example/v2/")
            .unwrap()
            .with_api_url("http://127.0.0.1:1")
            .unwrap();
        assert_eq!(c.public_base_url(), "https://public.example");
        assert!(Config::new().with_api_url("ftp://x").is_err());
        assert!(Config::new().with_api_url("not a url").is_err());
        assert!(Config::new().with_api_url("http://h/?token=x").is_err());
        assert!(Config::new().with_api_url("http://h/#x").is_err());
        // A host named `v2` is not a version path.
        assert_eq!(Config::new().with_api_url("http://v2").unwrap().api_base_url(), "http://v2/v2");
        let c = Config::new().with_api_public_url("https://v2").unwrap();
        assert_eq!(c.public_base_url(), "https://v2");
        let e = Config::new().with_api_url("http://user:secret@proxy/").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(Config::new().with_api_url("/relative").is_err());
        let c = Config::new().with_api_url(" HTTPS://API.Apify.com:443/ ").unwrap();
        assert_eq!(c.api_base_url(), "https://api.apify.com/v2");
        let c = Config::new().with_api_url("http://[::1]:8080").unwrap();
        assert_eq!(c.api_base_url(), "http://[::1]:8080/v2");
    }

    #[test]
    fn token_is_redacted() {
        let c = Config::new().with_token("secret-token-123");
        let dbg = format!("{c:?} {:?} {:?}", c.token(), c.default_headers());
        assert!(!dbg.contains("secret-token-123"), "{dbg}");
        assert_eq!(c.default_headers()[AUTHORIZATION], "Bearer secret-token-123");
        assert!(Config::new().with_token("").default_headers().get(AUTHORIZATION).is_none());
    }

    #[test]
    fn user_agent_shape() {
        let c = Config::new().with_user_agent_suffix("my-scraper/1.2").with_is_at_home(true);
        let ua = c.user_agent();
        assert!(ua.starts_with(&format!("ApifyClient/{} (", env!("CARGO_PKG_VERSION"))), "{ua}");
        assert!(ua.contains("; Rust/"), "{ua}");
        assert!(ua.ends_with("); isAtHome/true; my-scraper/1.2"), "{ua}");
    }

    #[test]
    fn env_presence_means_at_home() {
        let c = Config::new().apply_env(|k| (k == "APIFY_IS_AT_HOME").then(String::new));
        assert!(c.user_agent().contains("isAtHome/true"));
        let c = Config::new().apply_env(|k| (k == "APIFY_WORKFLOW_KEY").then(|| "wf".to_owned()));
        assert!(c.user_agent().contains("isAtHome/false"));
        assert_eq!(c.default_headers()["x-apify-workflow-key"], "wf");
    }

    #[test]
    fn extra_headers_override_defaults() {
        let c = Config::new().with_header("Accept", "text/csv").unwrap().with_header("X-A", "1").unwrap();
        let h = c.default_headers();
        assert_eq!(h[ACCEPT], "text/csv");
        assert_eq!(h["x-a"], "1");
        assert!(Config::new().with_header("bad name", "v").is_err());
    }

    #[test]
    fn attempt_timeouts_double_and_cap() {
        let t = Timeouts::default();
        let short: Vec<_> = (1..=5).map(|a| t.for_attempt(TimeoutTier::Short.into(), a).unwrap().as_secs()).collect();
        assert_eq!(short, [5, 10, 20, 40, 80]);
        let medium: Vec<_> = (1..=5).map(|a| t.for_attempt(TimeoutTier::Medium.into(), a).unwrap().as_secs()).collect();
        assert_eq!(medium, [30, 60, 120, 240, 360]);
        assert_eq!(t.for_attempt(TimeoutTier::Long.into(), 3), Some(Duration::from_secs(360)));
        assert_eq!(t.for_attempt(TimeoutTier::None.into(), 1), None);
        assert_eq!(t.for_attempt(Duration::from_secs(1).into(), 2), Some(Duration::from_secs(2)));
        assert_eq!(t.for_attempt(TimeoutTier::Short.into(), 100), Some(Duration::from_secs(360)));
    }
}
