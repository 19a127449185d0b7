//! Requests for request queues, with the SDK's unique-key rules
//! (local-storage-format.md §9, storage-methods §7.5).

use apify_core::models::Request;
use apify_local::unique_key::{compute_unique_key, is_http_url};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A request to add, built like the Python SDK's `Request.from_url`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    payload: Option<String>,
    label: Option<String>,
    user_data: Map<String, Value>,
    unique_key: Option<String>,
    session_id: Option<String>,
    keep_url_fragment: bool,
    use_extended_unique_key: bool,
    always_enqueue: bool,
}

impl RequestSpec {
    /// A `GET` of `url`.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: "GET".into(),
            headers: Vec::new(),
            payload: None,
            label: None,
            user_data: Map::new(),
            unique_key: None,
            session_id: None,
            keep_url_fragment: false,
            use_extended_unique_key: false,
            always_enqueue: false,
        }
    }

    /// HTTP method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into().to_ascii_uppercase();
        self
    }

    /// Adds a header (its name is lower-cased).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// Request body.
    pub fn payload(mut self, payload: impl Into<String>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// `user_data.label`.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// A user-data field.
    pub fn user_data(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.user_data.insert(key.into(), value.into());
        self
    }

    /// An explicit unique key (instead of the normalised URL).
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Session ID, part of the extended unique key.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Keep the `#fragment` in the unique key.
    pub fn keep_url_fragment(mut self, on: bool) -> Self {
        self.keep_url_fragment = on;
        self
    }

    /// Include method, headers and payload in the unique key.
    pub fn use_extended_unique_key(mut self, on: bool) -> Self {
        self.use_extended_unique_key = on;
        self
    }

    /// Never deduplicate (a random prefix makes the key unique).
    pub fn always_enqueue(mut self, on: bool) -> Self {
        self.always_enqueue = on;
        self
    }

    /// The request: URL checked (absolute http/https), unique key computed.
    pub fn build(self) -> Result<Request> {
        let url = self.url.trim().to_owned();
        if !is_http_url(&url) {
            return Err(Error::InvalidArgument(format!("request URL {url:?} must be an absolute http or https URL")));
        }
        if self.always_enqueue && self.unique_key.is_some() {
            return Err(Error::InvalidArgument("always_enqueue cannot be combined with an explicit unique_key".into()));
        }
        let mut unique_key = match self.unique_key {
            Some(k) => k,
            None => compute_unique_key(
                &url,
                &self.method,
                &self.headers,
                self.payload.as_deref().map(str::as_bytes),
                self.session_id.as_deref(),
                self.keep_url_fragment,
                self.use_extended_unique_key,
            ),
        };
        if self.always_enqueue {
            unique_key = format!("{}|{unique_key}", apify_local::storage::new_id());
        }
        let mut user_data = Map::new();
        if let Some(l) = self.label {
            user_data.insert("label".into(), l.into());
        }
        user_data.extend(self.user_data);
        let mut r = Request::new(unique_key, url);
        r.method = Some(self.method);
        r.payload = self.payload.map(Value::String);
        if !self.headers.is_empty() {
            r.headers = Some(self.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
        }
        if !user_data.is_empty() {
            r.user_data = Some(user_data);
        }
        Ok(r)
    }
}

/// Anything `add_request` takes: a URL, a [`RequestSpec`], or a ready [`Request`].
pub trait IntoRequest {
    /// The request to add.
    fn into_request(self) -> Result<Request>;
}

impl IntoRequest for &str {
    fn into_request(self) -> Result<Request> {
        RequestSpec::from_url(self).build()
    }
}

impl IntoRequest for String {
    fn into_request(self) -> Result<Request> {
        RequestSpec::from_url(self).build()
    }
}

impl IntoRequest for RequestSpec {
    fn into_request(self) -> Result<Request> {
        self.build()
    }
}

impl IntoRequest for Request {
    fn into_request(self) -> Result<Request> {
        if self.unique_key.is_empty() {
            return Err(Error::InvalidArgument("a request needs a unique_key".into()));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys_follow_the_sdk() {
        let r = "https://Example.COM/path/?b=2&a=1&utm_source=x#frag".into_request().unwrap();
        assert_eq!(r.unique_key, "https://example.com/path?a=1&b=2");
        assert_eq!(r.url, "https://Example.COM/path/?b=2&a=1&utm_source=x#frag");
        let r = RequestSpec::from_url("https://example.com/post")
            .method("POST")
            .payload("{\"q\":1}")
            .header("Content-Type", "application/json")
            .use_extended_unique_key(true)
            .label("DETAIL")
            .user_data("foo", "bar")
            .build()
            .unwrap();
        assert_eq!(r.unique_key, "POST|60d83e70|6ae0f660|https://example.com/post");
        assert_eq!(serde_json::to_value(&r.user_data).unwrap(), serde_json::json!({"label": "DETAIL", "foo": "bar"}));
        let r = RequestSpec::from_url("https://example.com/x").always_enqueue(true).build().unwrap();
        assert!(r.unique_key.ends_with("|https://example.com/x") && r.unique_key.len() == 18 + 21, "{}", r.unique_key);
    }

    #[test]
    fn bad_requests_are_refused() {
        for url in ["ftp://example.com", "/relative", "not a url"] {
            assert!(url.into_request().is_err(), "{url}");
        }
        assert!(RequestSpec::from_url("https://e.com").unique_key("k").always_enqueue(true).build().is_err());
    }
}
