//! Network settings every driver shares, decided here once: proxies (an explicit one, or
//! `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` with `NO_PROXY`), and extra TLS roots.
//!
//! Nothing here reads the environment or opens a socket: a driver hands its environment in
//! ([`ProxyConfig::from_env`] takes a lookup function) and asks, per request, which proxy
//! (if any) to go through ([`ProxyConfig::proxy_for`]).

use std::fmt;
// `core::net`: addresses only, no sockets (the CI grep forbids `std::net` here).
use core::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Uri};

use crate::error::Error;

/// A certificate authority to trust besides a driver's default roots (a private CA, a
/// TLS-inspecting corporate proxy).
#[derive(Clone, PartialEq, Eq)]
pub struct RootCertificate {
    der: Bytes,
}

impl fmt::Debug for RootCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootCertificate({} bytes of DER)", self.der.len())
    }
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

impl RootCertificate {
    /// A certificate in DER form.
    pub fn from_der(der: impl Into<Bytes>) -> Self {
        Self { der: der.into() }
    }

    /// Every `CERTIFICATE` block of a PEM file (a bundle may hold several). Fails when
    /// there is none or one does not decode.
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Self>, Error> {
        let text = std::str::from_utf8(pem).map_err(|_| Error::invalid_argument("a PEM file is text"))?;
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(PEM_BEGIN) {
            let body = &rest[start + PEM_BEGIN.len()..];
            let end = body.find(PEM_END).ok_or_else(|| Error::invalid_argument("a PEM certificate has no END line"))?;
            let b64: String = body[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::invalid_argument(format!("a PEM certificate does not decode: {e}")))?;
            out.push(Self::from_der(der));
            rest = &body[end + PEM_END.len()..];
        }
        if out.is_empty() {
            return Err(Error::invalid_argument("no CERTIFICATE block in the PEM data"));
        }
        Ok(out)
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM form (for drivers whose TLS library takes PEM, such as libcurl).
    pub fn to_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut out = String::with_capacity(b64.len() + 80);
        out.push_str(PEM_BEGIN);
        out.push('\n');
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(PEM_END);
        out.push('\n');
        out
    }
}

/// An HTTP proxy: `http://[user:password@]host[:port]`. Its credentials are sent as
/// `Proxy-Authorization: Basic` and never shown by `Debug` or in errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: Arc<str>,
    port: u16,
    // `user:password`, percent-decoded.
    credentials: Option<Arc<str>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        d.field("host", &self.host).field("port", &self.port);
        if self.credentials.is_some() {
            d.field("credentials", &"<redacted>");
        }
        d.finish()
    }
}

impl Proxy {
    /// Parses a proxy URL. A bare `host:port` means `http://host:port`; the default port
    /// is 80 (1080 for none: socks is not supported, nor are `https://` proxies). The error
    /// never repeats the URL, which may hold a password.
    pub fn new(url: &str) -> Result<Self, Error> {
        let url = url.trim();
        let invalid = |why: &str| Error::invalid_argument(format!("invalid proxy URL: {why}"));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                let scheme = scheme.to_ascii_lowercase();
                return Err(invalid(&format!("{scheme}:// proxies are not supported (only http://)")));
            }
            None => url,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let uri: Uri = format!("http://{hostport}/").parse().map_err(|_| invalid("not a host[:port]"))?;
        let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| invalid("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(80);
        let credentials = userinfo
            .map(|u| {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().map(|c| c.into_owned());
                let (user, password) = (decode(user), decode(password));
                match (user, password) {
                    (Ok(user), Ok(password)) => Ok(format!("{user}:{password}")),
                    _ => Err(invalid("credentials are not UTF-8")),
                }
            })
            .transpose()?;
        Ok(Self { host: host.into(), port, credentials: credentials.map(Into::into) })
    }

    /// Adds (or replaces) credentials.
    pub fn with_credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some(format!("{user}:{password}").into());
        self
    }

    /// The proxy's host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` (IPv6 in brackets), for a socket address or a URL.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `http://host:port`, without credentials.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// Whether credentials are set.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// `user:password`, for a driver whose library takes them apart (libcurl).
    pub fn expose_credentials(&self) -> Option<&str> {
        self.credentials.as_deref()
    }

    /// The `Proxy-Authorization` value, marked sensitive.
    pub fn authorization(&self) -> Option<HeaderValue> {
        let c = self.credentials.as_deref()?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(c);
        let mut v = HeaderValue::from_str(&format!("Basic {b64}")).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exempt {
    /// `*`: nothing goes through a proxy.
    All,
    /// A domain and its subdomains (`example.com`, `.example.com`), with a port if given.
    Domain(String, Option<u16>),
    /// An address, with a port if given.
    Ip(IpAddr, Option<u16>),
    /// A network in CIDR form.
    Net(IpAddr, u8),
}

impl Exempt {
    fn parse(entry: &str) -> Option<Self> {
        let e = entry.trim().to_ascii_lowercase();
        if e.is_empty() {
            return None;
        }
        if e == "*" {
            return Some(Self::All);
        }
        if let Some((ip, bits)) = e.split_once('/') {
            let ip: IpAddr = ip.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
            return Some(Self::Net(ip, bits.parse().ok()?));
        }
        if let Ok(ip) = e.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Some(Self::Ip(ip, None));
        }
        // `host:port`, `[v6]` and `[v6]:port` (a bare v6 address parsed above).
        let (host, port) = if let Some(rest) = e.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            (h, after.strip_prefix(':').and_then(|p| p.parse().ok()))
        } else if let Some((h, p)) = e.split_once(':') {
            (h, Some(p.parse().ok()?))
        } else {
            (e.as_str(), None)
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(Self::Ip(ip, port));
        }
        let host = host.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
        (!host.is_empty()).then(|| Self::Domain(host.to_owned(), port))
    }

    fn matches(&self, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            Self::All => true,
            Self::Domain(d, p) => {
                port_ok(p) && (host == d || host.strip_suffix(d.as_str()).is_some_and(|pre| pre.ends_with('.')))
            }
            Self::Ip(a, p) => port_ok(p) && ip == Some(*a),
            Self::Net(net, bits) => ip.is_some_and(|ip| in_network(ip, *net, *bits)),
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(bits.min(32));
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(bits.min(128));
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Which proxy each request goes through: one for `http://` targets, one for `https://`
/// targets (tunnelled with `CONNECT`), and the `NO_PROXY` exemptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: Vec<Exempt>,
}

impl ProxyConfig {
    /// No proxy at all (what a driver does when asked to ignore the environment).
    pub fn none() -> Self {
        Self::default()
    }

    /// Every request through `proxy`.
    pub fn all(proxy: Proxy) -> Self {
        Self { http: Some(proxy.clone()), https: Some(proxy), no_proxy: Vec::new() }
    }

    /// The conventional variables, read through `lookup` (e.g. `|k| std::env::var(k).ok()`),
    /// lower case first as curl does: `https_proxy` / `HTTPS_PROXY` for `https://` targets,
    /// `http_proxy` (and `HTTP_PROXY` unless `REQUEST_METHOD` says this is a CGI script,
    /// where a request's `Proxy:` header would set it) for `http://` targets,
    /// `all_proxy` / `ALL_PROXY` for both when the specific one is not set, and `no_proxy` /
    /// `NO_PROXY`: a comma- or space-separated list of `*`, domains (matching their
    /// subdomains, a leading `.` or `*.` allowed), IP addresses, CIDR networks, each
    /// optionally with `:port`. An empty or invalid value is ignored (with a warning that
    /// does not repeat it: it may hold a password).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |names: &[&str]| {
            names.iter().find_map(|n| {
                let v = lookup(n)?;
                let v = v.trim();
                if v.is_empty() {
                    return None;
                }
                match Proxy::new(v) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::warn!(variable = n, error = %e, "ignoring a proxy variable");
                        None
                    }
                }
            })
        };
        let cgi = lookup("REQUEST_METHOD").is_some();
        let all = get(&["all_proxy", "ALL_PROXY"]);
        let http = if cgi { get(&["http_proxy"]) } else { get(&["http_proxy", "HTTP_PROXY"]) };
        let https = get(&["https_proxy", "HTTPS_PROXY"]);
        let no_proxy = lookup("no_proxy").or_else(|| lookup("NO_PROXY")).unwrap_or_default();
        Self { http: http.or_else(|| all.clone()), https: https.or(all), no_proxy: Vec::new() }.no_proxy(&no_proxy)
    }

    /// Sets the proxy of `http://` targets.
    pub fn http(mut self, proxy: Option<Proxy>) -> Self {
        self.http = proxy;
        self
    }

    /// Sets the proxy of `https://` targets.
    pub fn https(mut self, proxy: Option<Proxy>) -> Self {
        self.https = proxy;
        self
    }

    /// Adds `NO_PROXY` entries (the syntax of [`ProxyConfig::from_env`]).
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy.extend(list.split([',', ' ']).filter_map(Exempt::parse));
        self
    }

    /// Whether any request can go through a proxy.
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxy `uri` goes through, if any.
    pub fn proxy_for(&self, uri: &Uri) -> Option<&Proxy> {
        let https = uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let proxy = if https { self.https.as_ref() } else { self.http.as_ref() }?;
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let ip = host.parse::<IpAddr>().ok();
        if self.no_proxy.iter().any(|e| e.matches(host, ip, port)) {
            return None;
        }
        Some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn via(c: &ProxyConfig, url: &str) -> Option<String> {
        c.proxy_for(&url.parse().unwrap()).map(Proxy::authority)
    }

    #[test]
    fn proxy_urls_parse_and_hide_their_credentials() {
        let p = Proxy::new("http://us%40er:p%3Ass@Proxy.Example:3128/").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.example", 3128));
        assert_eq!(p.expose_credentials(), Some("us@er:p:ss"));
        let auth = p.authorization().unwrap();
        assert!(auth.is_sensitive());
        assert_eq!(auth, "Basic dXNAZXI6cDpzcw==");
        let shown = format!("{p:?} {:?}", ProxyConfig::all(p.clone()));
        assert!(!shown.contains("p:ss") && !shown.contains("p%3Ass") && shown.contains("<redacted>"), "{shown}");
        assert_eq!(Proxy::new("10.1.2.3:8080").unwrap().url(), "http://10.1.2.3:8080");
        assert_eq!(Proxy::new("http://[::1]:9").unwrap().authority(), "[::1]:9");
        assert_eq!(Proxy::new("http://p").unwrap().port(), 80);
        for bad in ["socks5://u:secret@h:1", "https://u:secret@h", "http://u:secret@", "http://u:secret@a b"] {
            let e = Proxy::new(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn the_environment_picks_a_proxy_per_scheme() {
        let c = ProxyConfig::from_env(env(&[("HTTPS_PROXY", "http://s:1"), ("http_proxy", "http://h:2")]));
        assert_eq!(via(&c, "https://api.apify.com/v2").as_deref(), Some("s:1"));
        assert_eq!(via(&c, "http://api.apify.com/v2").as_deref(), Some("h:2"));
        // Lower case wins; ALL_PROXY fills in.
        let c = ProxyConfig::from_env(env(&[
            ("https_proxy", "http://a:1"),
            ("HTTPS_PROXY", "http://b:1"),
            ("ALL_PROXY", "c:3"),
        ]));
        assert_eq!(via(&c, "https://x/").as_deref(), Some("a:1"));
        assert_eq!(via(&c, "http://x/").as_deref(), Some("c:3"));
        // In a CGI script HTTP_PROXY may come from a request header: ignored.
        let c = ProxyConfig::from_env(env(&[("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")]));
        assert_eq!(via(&c, "http://x/"), None);
        // Empty and invalid values are ignored.
        let c = ProxyConfig::from_env(env(&[("HTTPS_PROXY", ""), ("HTTP_PROXY", "socks5://x:1")]));
        assert!(c.is_empty());
        assert!(ProxyConfig::from_env(env(&[])).is_empty());
    }

    #[test]
    fn no_proxy_matches_domains_addresses_networks_and_ports() {
        let p = Proxy::new("http://p:1").unwrap();
        let c = ProxyConfig::all(p).no_proxy("example.com, .internal ,10.0.0.0/8 127.0.0.1,[::1],svc:8443,*.corp");
        for direct in [
            "https://example.com/",
            "https://api.example.com/",
            "https://a.b.internal/",
            "https://internal/",
            "http://10.20.30.40/",
            "http://127.0.0.1:5000/",
            "http://[::1]:8/",
            "https://svc:8443/",
            "https://x.corp/",
            "https://EXAMPLE.com./",
        ] {
            assert_eq!(via(&c, direct), None, "{direct}");
        }
        for proxied in [
            "https://notexample.com/",
            "https://example.com.evil/",
            "http://11.0.0.1/",
            "https://svc/",
            "http://127.0.0.2/",
        ] {
            assert_eq!(via(&c, proxied).as_deref(), Some("p:1"), "{proxied}");
        }
        let c = ProxyConfig::from_env(env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "*")]));
        assert_eq!(via(&c, "https://anything/"), None);
        let c = ProxyConfig::from_env(env(&[("HTTPS_PROXY", "p:1"), ("no_proxy", "a"), ("NO_PROXY", "*")]));
        assert_eq!(via(&c, "https://b/").as_deref(), Some("p:1"), "lower case no_proxy wins");
    }

    #[test]
    fn pem_round_trips_and_bundles_split() {
        let a = RootCertificate::from_der(vec![1u8, 2, 3, 250, 251, 252]);
        let b = RootCertificate::from_der((0..200u8).collect::<Vec<_>>());
        let bundle = format!("junk\n{}\n# comment\n{}", a.to_pem(), b.to_pem());
        assert_eq!(RootCertificate::from_pem(bundle.as_bytes()).unwrap(), [a, b]);
        assert!(RootCertificate::from_pem(b"no certificate").is_err());
        assert!(RootCertificate::from_pem(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err());
    }
}
