//! `Actor::create_proxy_configuration`: Apify Proxy URLs built the way the Python SDK builds
//! them (`http://groups-A+B,session-S,country-US_CA:PASSWORD@proxy.apify.com:8000`), or
//! rotation through your own proxy URLs, with a session always on the same URL.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::actor::Actor;
use crate::error::{Error, Result};

const SESSION_ID_MAX_LENGTH: usize = 50;

/// One proxy to use.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// The whole URL, credentials included.
    pub url: String,
    /// `http` (Apify Proxy), or your URL's.
    pub scheme: String,
    /// The proxy's host.
    pub hostname: String,
    /// The proxy's port.
    pub port: u16,
    /// The user name (for Apify Proxy: groups, session and country).
    pub username: String,
    /// The password.
    pub password: String,
    /// The session, if one was asked for.
    pub session_id: Option<String>,
    /// Apify Proxy groups.
    pub groups: Vec<String>,
    /// Apify Proxy country.
    pub country_code: Option<String>,
    /// Apify Proxy subdivision (with the country).
    pub subdivision_code: Option<String>,
}

impl std::fmt::Debug for ProxyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyInfo")
            .field("scheme", &self.scheme)
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// What `create_proxy_configuration` is asked for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    password: Option<String>,
    groups: Vec<String>,
    country_code: Option<String>,
    subdivision_code: Option<String>,
    proxy_urls: Vec<String>,
}

impl std::fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyOptions")
            .field("groups", &self.groups)
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

impl ProxyOptions {
    /// Apify Proxy, chosen automatically.
    pub fn new() -> Self {
        Self::default()
    }

    /// The Apify Proxy password (default: `APIFY_PROXY_PASSWORD`, else the user's, read
    /// with `APIFY_TOKEN`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Apify Proxy groups (`RESIDENTIAL`, ...).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// A two-letter country (`US`).
    pub fn country_code(mut self, code: impl Into<String>) -> Self {
        self.country_code = Some(code.into());
        self
    }

    /// A subdivision of the country (`CA`), with [`ProxyOptions::country_code`].
    pub fn subdivision_code(mut self, code: impl Into<String>) -> Self {
        self.subdivision_code = Some(code.into());
        self
    }

    /// Your own proxies, rotated, instead of Apify Proxy.
    pub fn proxy_urls<I: IntoIterator<Item = S>, S: Into<String>>(mut self, urls: I) -> Self {
        self.proxy_urls = urls.into_iter().map(Into::into).collect();
        self
    }
}

fn check(value: &str, label: &str, max: Option<usize>) -> Result<()> {
    let ok = !value.is_empty()
        && max.is_none_or(|m| value.chars().count() <= m)
        && value.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '~'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{label} {value:?} must be {}letters, digits, '.', '_' or '~'",
            max.map_or(String::new(), |m| format!("at most {m} "))
        )))
    }
}

/// Proxies for the Actor's requests (`Actor::create_proxy_configuration`).
pub struct ProxyConfiguration {
    options: ProxyOptions,
    password: String,
    hostname: String,
    port: u16,
    next: Mutex<(usize, HashMap<String, usize>)>,
}

impl std::fmt::Debug for ProxyConfiguration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfiguration")
            .field("options", &self.options)
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl ProxyConfiguration {
    /// Checks `options`; `password` is the Apify Proxy password found (unused with your URLs).
    pub fn new(options: ProxyOptions, password: Option<String>, hostname: &str, port: u16) -> Result<Self> {
        for g in &options.groups {
            check(g, "proxy group", None)?;
        }
        if let Some(c) = &options.country_code
            && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Error::InvalidArgument(format!("country_code {c:?} must be two capital letters (ISO 3166-1)")));
        }
        if let Some(s) = &options.subdivision_code {
            if options.country_code.is_none() {
                return Err(Error::InvalidArgument("subdivision_code needs a country_code".into()));
            }
            if !((1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())) {
                return Err(Error::InvalidArgument(format!(
                    "subdivision_code {s:?} must be 1 to 3 capital letters or digits"
                )));
            }
        }
        let custom = !options.proxy_urls.is_empty();
        if custom && (!options.groups.is_empty() || options.country_code.is_some()) {
            return Err(Error::InvalidArgument(
                "Cannot combine custom proxies with Apify Proxy: proxy_urls with groups or country_code".into(),
            ));
        }
        for u in &options.proxy_urls {
            let parsed = url::Url::parse(u).map_err(|e| Error::InvalidArgument(format!("proxy URL {u:?}: {e}")))?;
            if parsed.host_str().is_none() {
                return Err(Error::InvalidArgument(format!("proxy URL {u:?} has no host")));
            }
        }
        let password = match (custom, password.or_else(|| options.password.clone())) {
            (true, p) => p.unwrap_or_default(),
            (false, Some(p)) => p,
            (false, None) => {
                return Err(Error::Config(
                    "Apify Proxy password must be provided with ProxyOptions::password or the APIFY_PROXY_PASSWORD environment variable, or APIFY_TOKEN set so it can be read from the API".into(),
                ));
            }
        };
        Ok(Self { options, password, hostname: hostname.to_owned(), port, next: Mutex::new((0, HashMap::new())) })
    }

    /// The Apify Proxy user name for a session.
    fn username(&self, session_id: Option<&str>) -> String {
        let o = &self.options;
        let mut parts = Vec::new();
        if !o.groups.is_empty() {
            parts.push(format!("groups-{}", o.groups.join("+")));
        }
        if let Some(s) = session_id {
            parts.push(format!("session-{s}"));
        }
        match (&o.country_code, &o.subdivision_code) {
            (Some(c), Some(s)) => parts.push(format!("country-{c}_{s}")),
            (Some(c), None) => parts.push(format!("country-{c}")),
            _ => {}
        }
        if parts.is_empty() { "auto".into() } else { parts.join(",") }
    }

    /// A proxy; the same `session_id` always gets the same one.
    pub fn new_proxy_info(&self, session_id: Option<&str>) -> Result<ProxyInfo> {
        if let Some(s) = session_id {
            check(s, "session_id", Some(SESSION_ID_MAX_LENGTH))?;
        }
        let o = &self.options;
        if o.proxy_urls.is_empty() {
            let username = self.username(session_id);
            let enc =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            return Ok(ProxyInfo {
                url: format!("http://{}:{}@{}:{}", username, enc(&self.password), self.hostname, self.port),
                scheme: "http".into(),
                hostname: self.hostname.clone(),
                port: self.port,
                username,
                password: self.password.clone(),
                session_id: session_id.map(str::to_owned),
                groups: o.groups.clone(),
                country_code: o.country_code.clone(),
                subdivision_code: o.subdivision_code.clone(),
            });
        }
        let index = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (counter, sessions) = &mut *next;
            let mut take = || {
                let i = *counter % o.proxy_urls.len();
                *counter += 1;
                i
            };
            match session_id {
                Some(s) => match sessions.get(s) {
                    Some(i) => *i,
                    None => {
                        let i = take();
                        sessions.insert(s.to_owned(), i);
                        i
                    }
                },
                None => take(),
            }
        };
        let raw = &o.proxy_urls[index];
        let u = url::Url::parse(raw).map_err(|e| Error::InvalidArgument(format!("proxy URL {raw:?}: {e}")))?;
        Ok(ProxyInfo {
            url: raw.clone(),
            scheme: u.scheme().to_owned(),
            hostname: u.host_str().unwrap_or_default().to_owned(),
            port: u.port_or_known_default().unwrap_or(80),
            username: u.username().to_owned(),
            password: u.password().unwrap_or_default().to_owned(),
            session_id: session_id.map(str::to_owned),
            groups: Vec::new(),
            country_code: None,
            subdivision_code: None,
        })
    }

    /// The URL of [`ProxyConfiguration::new_proxy_info`].
    pub fn new_url(&self, session_id: Option<&str>) -> Result<String> {
        self.new_proxy_info(session_id).map(|p| p.url)
    }
}

impl Actor {
    /// Proxies for this Actor's requests: Apify Proxy (password from the options,
    /// `APIFY_PROXY_PASSWORD`, or the user's account with `APIFY_TOKEN`; host and port from
    /// `APIFY_PROXY_HOSTNAME` / `APIFY_PROXY_PORT`), or your own URLs. The proxy's status URL
    /// is not checked.
    pub async fn create_proxy_configuration(&self, options: ProxyOptions) -> Result<ProxyConfiguration> {
        let env = self.get_env();
        let hostname = env.proxy_hostname.clone().unwrap_or_else(|| "proxy.apify.com".into());
        let port = env.proxy_port.unwrap_or(8000);
        let mut password = options.password.clone().or_else(|| env.proxy_password.clone());
        if password.is_none()
            && options.proxy_urls.is_empty()
            && self.config().token.is_some()
            && let Some(apify_core::ops::kinds::UserInfo::Private(me)) = self.new_client()?.user("me").get().await?
        {
            password = me.proxy.map(|p| p.password);
        }
        ProxyConfiguration::new(options, password, &hostname, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apify(options: ProxyOptions) -> ProxyConfiguration {
        ProxyConfiguration::new(options, Some("p@ss".into()), "proxy.apify.com", 8000).unwrap()
    }

    #[test]
    fn apify_proxy_urls_match_the_python_sdk() {
        let table: [(ProxyOptions, Option<&str>, &str); 6] = [
            (ProxyOptions::new(), None, "http://auto:p%40ss@proxy.apify.com:8000"),
            (ProxyOptions::new(), Some("s1"), "http://session-s1:p%40ss@proxy.apify.com:8000"),
            (
                ProxyOptions::new().groups(["RESIDENTIAL"]),
                None,
                "http://groups-RESIDENTIAL:p%40ss@proxy.apify.com:8000",
            ),
            (
                ProxyOptions::new().groups(["A", "B"]).country_code("US"),
                Some("x.y~z"),
                "http://groups-A+B,session-x.y~z,country-US:p%40ss@proxy.apify.com:8000",
            ),
            (
                ProxyOptions::new().country_code("US").subdivision_code("CA"),
                None,
                "http://country-US_CA:p%40ss@proxy.apify.com:8000",
            ),
            (
                ProxyOptions::new().country_code("GB"),
                Some("1"),
                "http://session-1,country-GB:p%40ss@proxy.apify.com:8000",
            ),
        ];
        for (options, session, want) in table {
            let info = apify(options).new_proxy_info(session).unwrap();
            assert_eq!(info.url, want);
            assert_eq!(info.password, "p@ss");
            assert!(!format!("{info:?}").contains("p@ss"), "Debug hides the password");
        }
    }

    #[test]
    fn bad_options_are_refused() {
        let bad = [
            ProxyOptions::new().groups(["no spaces"]),
            ProxyOptions::new().country_code("usa"),
            ProxyOptions::new().subdivision_code("CA"),
            ProxyOptions::new().country_code("US").subdivision_code("CALI"),
            ProxyOptions::new().proxy_urls(["http://a:1"]).groups(["X"]),
            ProxyOptions::new().proxy_urls(["not a url"]),
        ];
        for o in bad {
            assert!(ProxyConfiguration::new(o.clone(), Some("p".into()), "h", 1).is_err(), "{o:?}");
        }
        assert!(ProxyConfiguration::new(ProxyOptions::new(), None, "h", 1).is_err(), "no password");
        let long = "x".repeat(51);
        assert!(apify(ProxyOptions::new()).new_proxy_info(Some(&long)).is_err());
        assert!(apify(ProxyOptions::new()).new_proxy_info(Some("a b")).is_err());
    }

    #[test]
    fn own_urls_rotate_and_sessions_stick() {
        let c = ProxyConfiguration::new(
            ProxyOptions::new().proxy_urls(["http://u:pw@one:3128", "http://two:8080"]),
            None,
            "unused",
            0,
        )
        .unwrap();
        let urls: Vec<String> = (0..3).map(|_| c.new_url(None).unwrap()).collect();
        assert_eq!(urls, ["http://u:pw@one:3128", "http://two:8080", "http://u:pw@one:3128"]);
        let a = c.new_proxy_info(Some("a")).unwrap();
        assert_eq!(c.new_proxy_info(Some("a")).unwrap().url, a.url, "a session keeps its proxy");
        assert_ne!(c.new_proxy_info(Some("b")).unwrap().url, a.url);
        let one = c.new_proxy_info(Some("one")).unwrap();
        assert!(one.hostname == "one" || one.hostname == "two");
        assert_eq!((a.scheme.as_str(), a.port > 0), ("http", true));
    }

    #[tokio::test]
    async fn the_actor_builds_apify_proxy_urls_from_its_options() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            crate::Configuration { storage_dir: dir.path().join("storage"), ..crate::Configuration::default() };
        let actor = Actor::with_config(config).await.unwrap();
        let proxy = actor.create_proxy_configuration(ProxyOptions::new().password("pw").groups(["G"])).await.unwrap();
        let url = proxy.new_url(Some("s")).unwrap();
        assert!(url.starts_with("http://groups-G,session-s:pw@"), "{url}");
    }
}
