//! One logical API call as a sans-IO state machine: attempts, retries, waits, redirects.
//!
//! The driver loop (str0m/quinn style) is the whole contract:
//!
//! ```text
//! let mut call = Call::new(request, &config, stats, now());
//! loop {
//!     match call.poll_action(now(), &mut jitter) {
//!         Action::Send(attempt) => match http.send(attempt.request, attempt.timeout) {
//!             Ok(response) => call.handle_response(now(), wall(), response),
//!             Err(e)       => call.handle_transport_error(now(), e),
//!         },
//!         Action::WaitUntil(t) => sleep_until(t),       // or call.handle_no_timer()
//!         Action::Done(result) => return result,        // then decode with the op
//!     }
//! }
//! ```
//!
//! Every `handle_*` must follow a `Send`, and `poll_action` must be called after each
//! `handle_*`. Time is whatever the driver passes in; it only has to be monotonic.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::config::{Config, Timeout, Timeouts};
use crate::error::{Error, GiveUpReason, TransportError, TransportErrorKind};
use crate::request::{ApiRequest, OpMeta, merge_headers};
use crate::response::Response;
use crate::retry::{Decision, JitterSource, Outcome, RetryPolicy, RetryState, StopReason};
use crate::stats::Stats;
use crate::time::Instant;

/// Redirects followed in one call at most (the official clients' transports allow as many
/// or more); one more is a [`TransportErrorKind::Redirect`] error.
pub const MAX_REDIRECTS: u8 = 10;

/// One attempt to send.
#[derive(Debug)]
pub struct Attempt {
    /// The request.
    pub request: http::Request<Bytes>,
    /// Timeout of the whole attempt, body included (`None`: no timeout).
    pub timeout: Option<Duration>,
    /// 1-based attempt number.
    pub number: u32,
    /// The largest response body the driver may buffer (`None` for a streamed response).
    pub max_body: Option<u64>,
}

/// What the driver must do next.
#[derive(Debug)]
#[must_use]
pub enum Action {
    /// Send this attempt, then report with `handle_response` or `handle_transport_error`.
    Send(Attempt),
    /// Sleep until this instant, then poll again (or call `handle_no_timer`).
    WaitUntil(Instant),
    /// The call is over: the final response (any status; decode it with the operation) or
    /// an error.
    Done(Result<Response, Error>),
}

/// How to continue after a streamed response's head arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadDisposition {
    /// 2xx: hand the body to the caller; the call is over (no retries once streaming).
    Stream,
    /// Read the whole (error) body, then report it with `handle_response`.
    ReadBody,
}

#[derive(Debug)]
enum Failure {
    Response(Response),
    Transport(TransportError),
}

#[derive(Debug)]
enum State {
    Ready,
    Redirect,
    InFlight,
    Failed(Failure, Option<SystemTime>),
    Waiting { at: Instant, delay: Duration, last: Failure },
    Done(Option<Result<Response, Error>>),
}

/// A logical call in progress.
#[derive(Debug)]
pub struct Call {
    meta: OpMeta,
    first_timeout: Timeout,
    // Target of the next send; changes only when following a redirect.
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    defaults: Arc<HeaderMap>,
    // Set by redirects: the token never leaves the API's host; a redirect to GET drops the
    // body and the headers that describe it.
    drop_token: bool,
    drop_content: bool,
    body: Bytes,
    policy: RetryPolicy,
    timeouts: Timeouts,
    retry: RetryState,
    stats: Arc<Stats>,
    state: State,
    redirects: u8,
    // Where this call's redirects went, to refuse a loop before the limit.
    visited: Vec<(Method, Uri)>,
    max_body: Option<u64>,
}

/// What a redirect response leads to.
enum Redirected {
    Followed,
    /// Not a redirect to follow (no `Location`, 300, 304...): the response is the answer.
    AsIs,
    Refused(TransportError),
}

macro_rules! event {
    ($level:ident, $call:expr, $msg:literal $(, $($field:tt)*)?) => {
        tracing::$level!(
            client_method = $call.meta.client_method,
            resource_id = $call.meta.resource_id.as_deref(),
            method = %$call.method,
            url = %$call.uri,
            attempt = $call.retry.attempts(),
            $($($field)*,)?
            $msg
        )
    };
}

impl Call {
    /// Starts a call of `request` at `now`, counting it in `stats`.
    pub fn new(request: ApiRequest, config: &Config, stats: Arc<Stats>, now: Instant) -> Self {
        stats.record_call();
        let ApiRequest { method, uri, headers, defaults, body, timeout, meta } = request;
        let mut policy = config.retry_policy().clone();
        if !meta.replayable {
            // A streamed body is gone once sent.
            policy.max_retries = 0;
        }
        Self {
            meta,
            first_timeout: timeout,
            method,
            uri,
            headers,
            defaults,
            drop_token: false,
            drop_content: false,
            body,
            retry: RetryState::new(&policy, now),
            timeouts: *config.timeouts(),
            policy,
            stats,
            state: State::Ready,
            redirects: 0,
            visited: Vec::new(),
            max_body: config.max_response_body(),
        }
    }

    /// Facts about the operation.
    pub fn meta(&self) -> &OpMeta {
        &self.meta
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.retry.attempts()
    }

    /// The largest response body a buffered read may hold (error bodies of streamed calls
    /// included).
    pub fn max_body(&self) -> Option<u64> {
        self.max_body
    }

    /// The next thing to do. `jitter` is drawn from only when a retry is decided.
    pub fn poll_action(&mut self, now: Instant, jitter: &mut dyn JitterSource) -> Action {
        loop {
            match std::mem::replace(&mut self.state, State::InFlight) {
                State::Ready => {
                    self.retry.start_attempt();
                    return self.send(now);
                }
                State::Redirect => return self.send(now),
                State::InFlight => {
                    self.state = State::Done(None);
                    return Action::Done(Err(Error::invalid_argument(
                        "driver contract violated: poll_action called while an attempt is in flight",
                    )));
                }
                State::Waiting { at, delay, last } => {
                    if now >= at {
                        self.state = State::Ready;
                        continue;
                    }
                    self.state = State::Waiting { at, delay, last };
                    return Action::WaitUntil(at);
                }
                State::Failed(failure, wall) => {
                    if let Some(action) = self.decide(failure, wall, now, jitter) {
                        return action;
                    }
                }
                State::Done(result) => {
                    self.state = State::Done(None);
                    return Action::Done(result.unwrap_or_else(|| {
                        Err(Error::invalid_argument("driver contract violated: the call is already over"))
                    }));
                }
            }
        }
    }

    fn send(&mut self, now: Instant) -> Action {
        self.stats.record_request();
        let timeout = self.retry.attempt_timeout(&self.timeouts, self.first_timeout, now);
        event!(debug, self, "Sending request");
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        let (drop_token, drop_content) = (self.drop_token, self.drop_content);
        *req.headers_mut() = merge_headers(&self.defaults, &self.headers, |name| {
            (drop_token && name == AUTHORIZATION)
                || (drop_content && (name == CONTENT_TYPE || name == CONTENT_ENCODING || name == CONTENT_LENGTH))
        });
        self.state = State::InFlight;
        let max_body = if self.meta.streamed { None } else { self.max_body };
        Action::Send(Attempt { request: req, timeout, number: self.retry.attempts(), max_body })
    }

    // Returns `None` to continue the poll loop (an immediate retry).
    fn decide(
        &mut self,
        failure: Failure,
        wall: Option<SystemTime>,
        now: Instant,
        jitter: &mut dyn JitterSource,
    ) -> Option<Action> {
        let outcome = match &failure {
            Failure::Response(r) => Outcome::Response { status: r.status, headers: &r.headers },
            Failure::Transport(e) => Outcome::Transport(e.kind()),
        };
        let decision = self.retry.on_failure(&self.policy, &outcome, self.meta.idempotent, now, wall, jitter);
        match decision {
            Decision::Retry { delay, retry_after, kind } => {
                self.stats.record_retry();
                event!(
                    debug,
                    self,
                    "Retrying request",
                    delay_ms = delay.as_millis() as u64,
                    kind = ?kind,
                    retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                    budget_remaining = self.policy.budget.as_ref().map(|b| b.remaining())
                );
                if delay.is_zero() {
                    self.state = State::Ready;
                    None
                } else {
                    let at = now + delay;
                    self.state = State::Waiting { at, delay, last: failure };
                    Some(Action::WaitUntil(at))
                }
            }
            Decision::Stop(reason) => {
                match (&failure, reason) {
                    (Failure::Response(r), StopReason::NotRetryable) => {
                        event!(debug, self, "Status code is not retryable", status_code = r.status.as_u16())
                    }
                    (Failure::Transport(e), StopReason::NotRetryable) => {
                        event!(debug, self, "Exception is not retryable", error = %e)
                    }
                    _ => event!(debug, self, "Not retrying", reason = ?reason),
                }
                let result = self.final_result(failure);
                self.state = State::Done(None);
                Some(Action::Done(result))
            }
            Decision::GiveUp(reason) => Some(self.give_up(reason, failure)),
        }
    }

    fn give_up(&mut self, reason: GiveUpReason, failure: Failure) -> Action {
        event!(debug, self, "Giving up retrying", reason = %reason);
        let last = match self.final_result(failure) {
            Ok(resp) => resp.to_api_error(),
            Err(e) => e,
        };
        self.state = State::Done(None);
        Action::Done(Err(Error::GaveUp { reason, attempts: self.retry.attempts(), last: Box::new(last) }))
    }

    fn final_result(&self, failure: Failure) -> Result<Response, Error> {
        match failure {
            Failure::Response(r) => Ok(r),
            Failure::Transport(source) => Err(Error::Transport {
                source,
                attempt: self.retry.attempts(),
                method: self.method.clone(),
                url: self.uri.to_string(),
            }),
        }
    }

    fn expect_in_flight(&mut self) -> bool {
        if matches!(self.state, State::InFlight) {
            return true;
        }
        self.state = State::Done(Some(Err(Error::invalid_argument(
            "driver contract violated: a result was reported with no attempt in flight",
        ))));
        false
    }

    /// Reports the response of the attempt in flight, with its whole (decoded) body.
    /// `wall` is the wall-clock time, used only to read an HTTP-date `Retry-After`.
    pub fn handle_response(&mut self, now: Instant, wall: Option<SystemTime>, response: http::Response<Bytes>) {
        let _ = now;
        if !self.expect_in_flight() {
            return;
        }
        let (parts, body) = response.into_parts();
        let status = parts.status;
        if let Some(limit) = self.max_body.filter(|l| body.len() as u64 > *l) {
            // The driver did not enforce the limit; the call fails as if it had.
            let e = crate::client::decoding::too_large(limit);
            event!(debug, self, "Response body too large", limit);
            self.state = State::Failed(Failure::Transport(e), None);
            return;
        }
        if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            // Only a proxy answers 407 (RFC 9110 §15.5.8); an `http://` target through a
            // proxy sees it as a response. The same typed error as a refused CONNECT.
            let e = TransportError::msg(
                TransportErrorKind::ProxyAuth,
                "the proxy answered 407: its credentials are missing or wrong",
            );
            self.state = State::Failed(Failure::Transport(e), None);
            return;
        }
        if status.is_redirection() {
            match self.follow_redirect(status, &parts.headers) {
                Redirected::Followed => return,
                Redirected::Refused(e) => {
                    event!(debug, self, "Redirect not followed", status_code = status.as_u16(), error = %e);
                    self.state = State::Failed(Failure::Transport(e), None);
                    return;
                }
                Redirected::AsIs => {}
            }
        }
        let resp = Response {
            status,
            headers: parts.headers,
            body,
            attempt: self.retry.attempts(),
            method: self.method.clone(),
            url: self.uri.clone(),
        };
        if status.is_success() || status.is_informational() || status.is_redirection() {
            event!(debug, self, "Request successful", status_code = status.as_u16());
            self.retry.on_success(&self.policy);
            self.state = State::Done(Some(Ok(resp)));
            return;
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.record_rate_limit(self.retry.attempts());
        }
        event!(debug, self, "Request unsuccessful", status_code = status.as_u16());
        self.state = State::Failed(Failure::Response(resp), wall);
    }

    /// Reports the head of a streamed response. On 2xx the call is over and the body goes
    /// to the caller; otherwise read the whole body and call [`Call::handle_response`].
    pub fn handle_response_head(&mut self, now: Instant, status: StatusCode, headers: &HeaderMap) -> HeadDisposition {
        let _ = now;
        if !status.is_success() {
            return HeadDisposition::ReadBody;
        }
        if !self.expect_in_flight() {
            return HeadDisposition::ReadBody;
        }
        event!(debug, self, "Request successful", status_code = status.as_u16());
        self.retry.on_success(&self.policy);
        let resp = Response {
            status,
            headers: headers.clone(),
            body: Bytes::new(),
            attempt: self.retry.attempts(),
            method: self.method.clone(),
            url: self.uri.clone(),
        };
        self.state = State::Done(Some(Ok(resp)));
        HeadDisposition::Stream
    }

    /// Reports that the attempt in flight failed below HTTP.
    pub fn handle_transport_error(&mut self, now: Instant, error: TransportError) {
        let _ = now;
        if !self.expect_in_flight() {
            return;
        }
        event!(debug, self, "Request threw exception", error = %error);
        self.state = State::Failed(Failure::Transport(error), None);
    }

    /// Reports that the driver cannot wait: the call ends with
    /// [`GiveUpReason::NoTimer`] instead of retrying.
    pub fn handle_no_timer(&mut self) {
        if let State::Waiting { delay, last, .. } = std::mem::replace(&mut self.state, State::Done(None)) {
            let Action::Done(result) = self.give_up(GiveUpReason::NoTimer { delay }, last) else { return };
            self.state = State::Done(Some(result));
        }
    }

    // Follows a redirect in place (drivers hand 3xx to the core so that every driver follows
    // them the same way), or says why not.
    fn follow_redirect(&mut self, status: StatusCode, headers: &HeaderMap) -> Redirected {
        let refuse = |m: String| Redirected::Refused(TransportError::msg(TransportErrorKind::Redirect, m));
        let Some(location) = headers.get(LOCATION).and_then(|l| l.to_str().ok()) else { return Redirected::AsIs };
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Redirected::AsIs;
        }
        if self.redirects >= MAX_REDIRECTS {
            return refuse(format!("more than {MAX_REDIRECTS} redirects"));
        }
        // A Location that is no URL leaves the 3xx as the answer, as before.
        let Some(next) = resolve(&self.uri, location) else { return Redirected::AsIs };
        let (from, to) = (self.uri.scheme_str().unwrap_or(""), next.scheme_str().unwrap_or(""));
        if !matches!(to, "http" | "https") {
            return refuse(format!("a redirect to a {to}: URL"));
        }
        if from == "https" && to == "http" {
            // The token, the body and the answer would cross the network in clear.
            let host = next.authority().map_or("", |a| a.as_str());
            return refuse(format!("a redirect from https to http (http://{host}) is not followed"));
        }
        let to_get =
            status == StatusCode::SEE_OTHER || (matches!(status.as_u16(), 301 | 302) && self.method == Method::POST);
        let to_get = to_get && self.method != Method::HEAD;
        if !to_get && !self.meta.replayable && !self.drop_content {
            // 307/308 (and 301/302 of a PUT) resend the body; a streamed one is gone.
            return refuse(format!("a {} redirect needs the streamed request body again", status.as_u16()));
        }
        let next_method = if to_get { Method::GET } else { self.method.clone() };
        if self.visited.is_empty() {
            self.visited.push((self.method.clone(), self.uri.clone()));
        }
        if self.visited.iter().any(|(m, u)| *m == next_method && *u == next) {
            return refuse(format!("a redirect loop (back to {} {})", next_method, next.path()));
        }
        if next.authority() != self.uri.authority() || next.scheme() != self.uri.scheme() {
            // Never send the token to another host (records redirect to object storage).
            self.drop_token = true;
        }
        if to_get {
            self.method = Method::GET;
            self.body = Bytes::new();
            self.drop_content = true;
        }
        event!(debug, self, "Following redirect", status_code = status.as_u16(), location = %next);
        self.visited.push((next_method, next.clone()));
        self.uri = next;
        self.redirects += 1;
        self.state = State::Redirect;
        Redirected::Followed
    }
}

/// Resolves a `Location` against the current URI (RFC 3986 §5.2: absolute, network-path,
/// absolute-path or relative references; the fragment is dropped).
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let reference = location.trim();
    let reference = reference.split_once('#').map_or(reference, |(r, _)| r);
    let scheme_end = reference.find(':').filter(|&i| {
        i > 0 && reference[..i].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    if scheme_end.is_some_and(|i| reference[..i].bytes().next().is_some_and(|b| b.is_ascii_alphabetic())) {
        return without_dot_segments(reference.parse().ok()?);
    }
    let scheme = base.scheme_str()?;
    if let Some(rest) = reference.strip_prefix("//") {
        return without_dot_segments(format!("{scheme}://{rest}").parse().ok()?);
    }
    let authority = base.authority()?;
    let (path, query) = match reference.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (reference, None),
    };
    let (path, query) = if path.is_empty() {
        (base.path().to_owned(), query.or_else(|| if reference.is_empty() { base.query() } else { None }))
    } else if path.starts_with('/') {
        (remove_dot_segments(path), query)
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        (remove_dot_segments(&format!("{dir}/{path}")), query)
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out.parse().ok()
}

/// An absolute URI with its path's dot segments removed (§5.2.2).
fn without_dot_segments(uri: Uri) -> Option<Uri> {
    let Some(scheme) = uri.scheme_str() else { return Some(uri) };
    if !uri.path().contains("/.") {
        return Some(uri);
    }
    let mut out = format!("{scheme}://{}{}", uri.authority()?, remove_dot_segments(uri.path()));
    if let Some(q) = uri.query() {
        out.push('?');
        out.push_str(q);
    }
    out.parse().ok()
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod resolve_tests {
    use super::resolve;
    use http::Uri;

    #[test]
    fn references_resolve_as_rfc_3986_says() {
        // The examples of RFC 3986 §5.4 (normal and abnormal), base http://a/b/c/d;p?q.
        let base: Uri = "http://a/b/c/d;p?q".parse().unwrap();
        let cases = [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("https://other.example/x?y", "https://other.example/x?y"),
            ("https://other.example/a/../b/./c", "https://other.example/b/c"),
            ("//g/./x/../y", "http://g/y"),
        ];
        for (reference, want) in cases {
            let got = resolve(&base, reference).map(|u| u.to_string());
            // `http::Uri` writes an authority-only URI without its root slash.
            let want = want.to_owned();
            assert!(
                got.as_deref() == Some(&want) || got.as_deref() == want.strip_suffix('/'),
                "{reference:?}: {got:?}, want {want}"
            );
        }
    }
}
