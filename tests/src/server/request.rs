//! What the server saw: one [`RecordedRequest`] per incoming request.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_ENCODING;
use http::{HeaderMap, Method, Uri, Version};

/// One request exactly as the [`ScriptedServer`](super::ScriptedServer) received it.
///
/// The body is kept raw (still compressed if the client compressed it) so tests can
/// assert on what went over the wire; [`decoded_body`](Self::decoded_body) undoes the
/// content encoding.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Request method.
    pub method: Method,
    /// Path and query only (no scheme or authority, even for HTTP/2).
    pub uri: Uri,
    /// HTTP version the request arrived with.
    pub version: Version,
    /// Request headers as received.
    pub headers: HeaderMap,
    /// Raw request body as received, not decoded.
    pub body: Bytes,
    /// When the request head arrived (before the body was read).
    pub at: Instant,
    /// The client's address: requests from one address came on one connection.
    pub peer: SocketAddr,
}

impl RecordedRequest {
    /// The URI path, e.g. `/v2/acts`.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The raw (still percent-encoded) query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// Query parameters in order, percent-decoded with form semantics (`+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(query) = self.uri.query() else {
            return Vec::new();
        };
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(name), form_decode(value))
            })
            .collect()
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find_map(|(n, v)| (n == name).then_some(v))
    }

    /// The first value of header `name` if it is present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body with its `content-encoding` (gzip, deflate, br; possibly stacked) undone.
    ///
    /// # Panics
    ///
    /// Panics on an unknown encoding or a corrupt body: in a test that is a finding.
    pub fn decoded_body(&self) -> Bytes {
        let mut body = self.body.clone();
        let codings: Vec<String> = self
            .headers
            .get_all(CONTENT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty() && c != "identity")
            .collect();
        // Codings are listed in the order they were applied, so undo them backwards.
        for coding in codings.iter().rev() {
            let mut out = Vec::new();
            let result = match coding.as_str() {
                "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out),
                "deflate" => flate2::read::ZlibDecoder::new(&body[..]).read_to_end(&mut out),
                "br" => brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut out),
                other => {
                    panic!("RecordedRequest::decoded_body: unsupported content-encoding {other:?}")
                }
            };
            if let Err(e) = result {
                panic!("RecordedRequest::decoded_body: corrupt {coding} body: {e}");
            }
            body = Bytes::from(out);
        }
        body
    }

    /// The decoded body parsed as JSON.
    ///
    /// # Panics
    ///
    /// Panics if the body is not valid JSON.
    pub fn json(&self) -> serde_json::Value {
        let body = self.decoded_body();
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "RecordedRequest::json: body of {} {} is not JSON ({e}): {:?}",
                self.method,
                self.uri,
                String::from_utf8_lossy(&body)
            )
        })
    }
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}
