//! Responses as the core sees them once a call has finished, and the shared decoding rules:
//! the `data` envelope, error bodies, and when a 404 means "none".

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error};
use crate::retry::parse_retry_after;

/// The final response of a call (after retries), with what an error report needs.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Decoded body.
    pub body: Bytes,
    /// 1-based attempt that produced it.
    pub attempt: u32,
    /// Request method.
    pub method: Method,
    /// Request URL (of the last attempt, after any redirect).
    pub url: Uri,
}

/// A body that is not JSON at all is `InvalidResponseBody`; valid JSON of the wrong shape
/// is `Decode` (client-behaviour §6). serde's own error category cannot tell them apart (it
/// reports a shape error before reaching later garbage), so the body is checked separately,
/// on the error path only (with `Value`, which also validates UTF-8 in strings).
fn parse_error(status: u16, body: &[u8], e: serde_json::Error, what: &'static str) -> Error {
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        Error::Decode { what, source: e }
    } else {
        Error::InvalidResponseBody { status, detail: format!("{what}: {e}"), source: Some(e) }
    }
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// A header as a string, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The API error this response represents.
    pub fn to_api_error(&self) -> Error {
        let mut e =
            ApiError::from_response(self.status, &self.body, self.attempt, self.method.clone(), self.url.to_string());
        e.retry_after = parse_retry_after(&self.headers, None);
        Error::from(e)
    }

    /// `Ok(self)` for 2xx, the API error otherwise.
    pub fn success(self) -> Result<Self, Error> {
        if self.is_success() { Ok(self) } else { Err(self.to_api_error()) }
    }

    /// Parses the body as JSON of type `T` (no envelope).
    pub fn json<T: DeserializeOwned>(&self, what: &'static str) -> Result<T, Error> {
        let status = self.status.as_u16();
        // serde_json skips the strings of ignored fields without checking their UTF-8, so a
        // body that is not JSON (RFC 8259 is UTF-8 only) could decode; check it whole first.
        match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text).map_err(|e| parse_error(status, &self.body, e, what)),
            Err(_) => {
                let e = serde_json::from_slice::<serde_json::Value>(&self.body)
                    .err()
                    .unwrap_or_else(|| serde::de::Error::custom("the body is not valid UTF-8"));
                Err(parse_error(status, &self.body, e, what))
            }
        }
    }

    /// Parses `{"data": T}` and returns `T`.
    pub fn data<T: DeserializeOwned>(&self, what: &'static str) -> Result<T, Error> {
        #[derive(serde::Deserialize)]
        struct Envelope<T> {
            data: T,
        }
        // serde's derived structs also accept a sequence; an envelope is an object only.
        if self.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            let source = serde::de::Error::custom("expected an object with a `data` field");
            return Err(parse_error(self.status.as_u16(), &self.body, source, what));
        }
        self.json::<Envelope<T>>(what).map(|e| e.data)
    }
}

/// How a 404 is treated by an operation (client-behaviour §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// 404 is an error.
    Error,
    /// 404 means "none" (or success for a delete).
    None,
}

impl NotFound {
    /// `None` for clients addressed by ID; `Error` for chained clients, where a 404 is
    /// ambiguous (the parent or the child may be missing).
    pub fn for_resource(resource_id: Option<&str>) -> Self {
        if resource_id.is_some() { Self::None } else { Self::Error }
    }
}

/// Decodes `{"data": T}` of a 2xx; any other status is an error.
pub fn expect_data<T: DeserializeOwned>(resp: Response, what: &'static str) -> Result<T, Error> {
    resp.success()?.data(what)
}

/// Like [`expect_data`], but a 404 gives `None` when the rule says so.
pub fn optional_data<T: DeserializeOwned>(
    resp: Response,
    what: &'static str,
    nf: NotFound,
) -> Result<Option<T>, Error> {
    if resp.status == StatusCode::NOT_FOUND && nf == NotFound::None {
        return Ok(None);
    }
    expect_data(resp, what).map(Some)
}

/// A 2xx with a body that does not matter (deletes, pushes); a 404 is success when the rule
/// says so.
pub fn expect_no_content(resp: Response, nf: NotFound) -> Result<(), Error> {
    if resp.status == StatusCode::NOT_FOUND && nf == NotFound::None {
        return Ok(());
    }
    resp.success().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &'static str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
            attempt: 1,
            method: Method::GET,
            url: Uri::from_static("http://x/v2/datasets/a"),
        }
    }

    #[test]
    fn invalid_utf8_in_a_skipped_field_is_not_json() {
        // Found by the `response` fuzz target: serde_json ignores the bad byte in a key it skips.
        let r = Response { body: Bytes::from_static(b"{\"error\":{\"t\xf9pe\":1},\"data\":{}}"), ..resp(200, "") };
        let err = r.data::<serde_json::Value>("envelope").unwrap_err();
        assert!(matches!(err, Error::InvalidResponseBody { status: 200, .. }), "{err:?}");
    }

    #[test]
    fn envelope_and_errors() {
        let v: serde_json::Value = expect_data(resp(200, r#"{"data":{"id":"a"},"extra":1}"#), "Dataset").unwrap();
        assert_eq!(v["id"], "a");
        let e = expect_data::<serde_json::Value>(resp(200, "{not json"), "Dataset").unwrap_err();
        assert!(matches!(e, Error::InvalidResponseBody { status: 200, .. }), "{e:?}");
        let e = expect_data::<u32>(resp(200, r#"{"data":"text"}"#), "count").unwrap_err();
        assert!(matches!(e, Error::Decode { what: "count", .. }), "{e:?}");
        let e = expect_data::<serde_json::Value>(resp(200, r#"{"nodata":1}"#), "Dataset").unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        let e =
            expect_data::<serde_json::Value>(resp(500, r#"{"error":{"type":"x","message":"m"}}"#), "D").unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }

    #[test]
    fn invalid_json_versus_wrong_shape() {
        // Found by fuzzing: serde's error category alone misclassifies these.
        for body in ["1 x", "{\"a\":1} x", "{\"data\":1,\"data\":2"] {
            let e = expect_data::<serde_json::Value>(resp(200, body), "D").unwrap_err();
            assert!(matches!(e, Error::InvalidResponseBody { .. }), "{body}: {e:?}");
        }
        for body in ["[1,2]", "[1]", "\"data\"", "null"] {
            let e = expect_data::<serde_json::Value>(resp(200, body), "D").unwrap_err();
            assert!(matches!(e, Error::Decode { .. }), "{body}: {e:?}");
        }
    }

    #[test]
    fn not_found_rules() {
        let none: Option<serde_json::Value> = optional_data(resp(404, "{}"), "Dataset", NotFound::None).unwrap();
        assert!(none.is_none());
        let e = optional_data::<serde_json::Value>(resp(404, "{}"), "Dataset", NotFound::Error).unwrap_err();
        assert!(e.is_not_found());
        assert!(expect_no_content(resp(404, ""), NotFound::None).is_ok());
        assert!(expect_no_content(resp(404, ""), NotFound::Error).unwrap_err().is_not_found());
        assert!(expect_no_content(resp(204, ""), NotFound::Error).is_ok());
        assert_eq!(NotFound::for_resource(Some("id")), NotFound::None);
        assert_eq!(NotFound::for_resource(None), NotFound::Error);
    }
}
