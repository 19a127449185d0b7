//! Bringing your own HTTP client: a complete blocking driver on `ureq` in one screen.
//!
//! The client only sends one attempt and reports what happened; retries, backoff,
//! redirects, timeouts per attempt and body decoding rules all come from `apify-core`.

use std::time::{Duration, SystemTime};

use apify_core::client::decoding::{DecodedReader, take_decoder};
use apify_core::client::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    Environment,
};
use apify_core::codec::ACCEPT_ENCODING;
use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::http::{HeaderValue, Request, header};
use apify_core::time::{ClockOrigin, Instant};

/// A blocking driver built on a `ureq::Agent`.
#[derive(Debug, Clone)]
pub struct UreqClient {
    agent: ureq::Agent,
    origin: ClockOrigin,
}

impl Default for UreqClient {
    fn default() -> Self {
        let agent = ureq::Agent::config_builder()
            // The core follows redirects itself (and drops the token across hosts).
            .max_redirects(0)
            // Error statuses are answers, not failures: the core decides about them.
            .http_status_as_error(false)
            .build()
            .into();
        Self { agent, origin: ClockOrigin::new(std::time::Instant::now()) }
    }
}

impl Environment for UreqClient {
    fn now(&self) -> Instant {
        self.origin.to_core(std::time::Instant::now())
    }

    fn wall_clock(&self) -> Option<SystemTime> {
        Some(SystemTime::now())
    }

    fn random_seed(&self) -> u64 {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(7, |d| d.as_nanos() as u64)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Says whether the request could have reached the server, which decides retries.
fn classify(e: ureq::Error) -> TransportError {
    let kind = match &e {
        ureq::Error::HostNotFound => TransportErrorKind::Dns,
        // std's resolver (ureq's default) fails with an uncategorised error of this text.
        ureq::Error::Io(io) if io.to_string().starts_with("failed to lookup address") => TransportErrorKind::Dns,
        ureq::Error::ConnectionFailed => TransportErrorKind::Connect,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::Io(_) | ureq::Error::BodyStalled => TransportErrorKind::ConnectionClosed,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => TransportErrorKind::Unsupported,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, e)
}

impl BlockingHttpClient for UreqClient {
    fn call(&self, request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
        let BlockingHttpRequest { request, timeout, stream_response, max_body } = request;
        let (mut parts, body) = request.into_parts();
        parts.headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT_ENCODING));
        let body = match body {
            BlockingRequestBody::Full(b) => ureq::SendBody::from_owned_reader(std::io::Cursor::new(b)),
            BlockingRequestBody::Reader(r) => ureq::SendBody::from_owned_reader(r),
        };
        let request = self.agent.configure_request(Request::from_parts(parts, body)).timeout_global(timeout).build();
        let response = self.agent.run(request).map_err(classify)?;
        let (mut parts, body) = response.into_parts();
        // The core's decoders handle every encoding it advertises, for any driver.
        let reader = DecodedReader::new(body.into_reader(), take_decoder(&mut parts.headers));
        let body = if stream_response {
            BlockingResponseBody::Reader(Box::new(reader))
        } else {
            // The core's limit, counted decoded: a compression bomb stops here.
            BlockingResponseBody::Full(reader.limit(max_body).read_all()?)
        };
        Ok(BlockingHttpResponse { status: parts.status, headers: parts.headers, body })
    }

    fn sleep(&self, duration: Duration) -> bool {
        std::thread::sleep(duration);
        true
    }
}
