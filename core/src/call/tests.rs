use super::*;
use crate::config::TimeoutTier;
use crate::error::TransportErrorKind;
use crate::retry::{FixedJitter, NonIdempotentRetry};
use http::header::USER_AGENT;

fn config() -> Config {
    Config::new().with_token("tok").with_api_url("http://127.0.0.1:1").unwrap()
}

fn request(method: Method, idempotent: bool) -> ApiRequest {
    let path = crate::path::ResourcePath::resource("datasets", "ds").unwrap();
    let cfg = config();
    let mut b =
        crate::request::RequestBuilder::new(&cfg, method, &path, &["items"], "DatasetClient.test", TimeoutTier::Short);
    if idempotent {
        b = b.idempotent();
    }
    b.build().unwrap()
}

fn response(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Bytes> {
    let mut r = http::Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Bytes::from_static(body.as_bytes())).unwrap()
}

enum Step {
    Resp(http::Response<Bytes>),
    Err(TransportErrorKind),
}

/// Drives a call against scripted outcomes with a virtual clock; returns the transcript of
/// (attempt number, send time ms, timeout) and the final result.
type Sent = (u32, u64, Option<Duration>);

fn drive(mut call: Call, steps: Vec<Step>) -> (Vec<Sent>, Result<Response, Error>) {
    let mut now = Instant::ZERO;
    let mut steps = steps.into_iter();
    let mut sends = Vec::new();
    let mut j = FixedJitter(0.0);
    loop {
        match call.poll_action(now, &mut j) {
            Action::Send(a) => {
                sends.push((a.number, now.since_origin().as_millis() as u64, a.timeout));
                match steps.next().expect("more steps") {
                    Step::Resp(r) => call.handle_response(now, None, r),
                    Step::Err(k) => call.handle_transport_error(now, TransportError::msg(k, "scripted")),
                }
            }
            Action::WaitUntil(t) => now = t,
            Action::Done(r) => return (sends, r),
        }
    }
}

fn stats() -> Arc<Stats> {
    Arc::new(Stats::default())
}

#[test]
fn retries_then_succeeds_with_doubling_timeouts() {
    let s = stats();
    let call = Call::new(request(Method::GET, true), &config(), s.clone(), Instant::ZERO);
    let (sends, r) = drive(
        call,
        vec![
            Step::Resp(response(503, &[], "")),
            Step::Err(TransportErrorKind::Timeout),
            Step::Resp(response(429, &[], "")),
            Step::Resp(response(200, &[], "{}")),
        ],
    );
    let secs = |s| Some(Duration::from_secs(s));
    assert_eq!(sends, [(1, 0, secs(5)), (2, 500, secs(10)), (3, 1500, secs(20)), (4, 3500, secs(40))]);
    let r = r.unwrap();
    assert_eq!((r.status.as_u16(), r.attempt), (200, 4));
    let snap = s.snapshot();
    assert_eq!((snap.calls, snap.requests, snap.retries), (1, 4, 3));
    assert_eq!(snap.rate_limit_errors, [0, 0, 1]);
}

#[test]
fn exhausted_retries_return_the_last_response_with_its_attempt() {
    let call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let steps = (0..5)
        .map(|_| Step::Resp(response(500, &[], r#"{"error":{"type":"internal-server-error","message":"boom"}}"#)))
        .collect();
    let (sends, r) = drive(call, steps);
    assert_eq!(sends.len(), 5);
    let r = r.unwrap();
    let err = r.to_api_error();
    let api = err.api_error().unwrap();
    assert_eq!((api.attempt, api.status.as_u16()), (5, 500));
    assert_eq!(api.message, "boom");
}

#[test]
fn transport_errors_surface_typed_with_attempt() {
    let call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Err(TransportErrorKind::Protocol)]);
    assert_eq!(sends.len(), 1);
    let e = r.unwrap_err();
    assert!(
        matches!(&e, Error::Transport { attempt: 1, source, .. } if source.kind() == TransportErrorKind::Protocol),
        "{e:?}"
    );
    assert!(e.to_string().contains("http://127.0.0.1:1/v2/datasets/ds/items"));
}

#[test]
fn safe_only_does_not_retry_a_push_after_a_timeout() {
    let cfg =
        config().with_retry_policy(RetryPolicy { non_idempotent: NonIdempotentRetry::SafeOnly, ..Default::default() });
    let call = Call::new(request(Method::POST, false), &cfg, stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Err(TransportErrorKind::Timeout)]);
    assert_eq!(sends.len(), 1);
    assert!(r.is_err());
    let call = Call::new(request(Method::POST, false), &cfg, stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Err(TransportErrorKind::Connect), Step::Resp(response(201, &[], "{}"))]);
    assert_eq!(sends.len(), 2, "a connect failure proves nothing was processed");
    assert!(r.is_ok());
}

#[test]
fn no_timer_gives_a_clear_error() {
    let mut call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let mut j = FixedJitter(0.0);
    let Action::Send(_) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    call.handle_response(Instant::ZERO, None, response(503, &[], ""));
    let Action::WaitUntil(at) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(at, Instant::from_millis(500));
    call.handle_no_timer();
    let Action::Done(Err(e)) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert!(matches!(&e, Error::GaveUp { reason: GiveUpReason::NoTimer { .. }, attempts: 1, .. }), "{e:?}");
    assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(e.to_string().contains("no timer"), "{e}");
}

#[test]
fn zero_delay_retries_need_no_timer() {
    let cfg = config().with_min_delay_between_retries(Duration::ZERO);
    let call = Call::new(request(Method::GET, true), &cfg, stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Resp(response(500, &[], "")), Step::Resp(response(200, &[], "{}"))]);
    assert_eq!(sends.iter().map(|s| s.1).collect::<Vec<_>>(), [0, 0]);
    assert!(r.is_ok());
}

#[test]
fn redirects_are_followed_and_drop_the_token_across_hosts() {
    let mut call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let mut j = FixedJitter(0.0);
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert!(a.request.headers().contains_key(AUTHORIZATION));
    call.handle_response(Instant::ZERO, None, response(302, &[("location", "/v2/other")], ""));
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(a.request.uri(), "http://127.0.0.1:1/v2/other");
    assert_eq!(a.number, 1, "a redirect is not a retry");
    assert!(a.request.headers().contains_key(AUTHORIZATION), "same host keeps the token");
    call.handle_response(Instant::ZERO, None, response(307, &[("location", "https://storage.example/blob?sig=1")], ""));
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(a.request.uri(), "https://storage.example/blob?sig=1");
    assert!(!a.request.headers().contains_key(AUTHORIZATION), "another host never sees the token");
    call.handle_response(Instant::ZERO, None, response(200, &[("content-type", "text/plain")], "hi"));
    let Action::Done(Ok(r)) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(&r.body[..], b"hi");
    assert_eq!(r.url.to_string(), "https://storage.example/blob?sig=1");
}

#[test]
fn see_other_turns_a_post_into_a_bare_get() {
    let cfg = config();
    let path = crate::path::ResourcePath::resource("datasets", "ds").unwrap();
    let req = crate::request::RequestBuilder::new(&cfg, Method::POST, &path, &["items"], "t", TimeoutTier::Short)
        .raw_json(Bytes::from_static(b"[1]"), "application/json")
        .build()
        .unwrap();
    let mut call = Call::new(req, &cfg, stats(), Instant::ZERO);
    let mut j = FixedJitter(0.0);
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(a.request.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(&a.request.body()[..], b"[1]");
    call.handle_response(Instant::ZERO, None, response(303, &[("location", "/v2/done")], ""));
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!((a.request.method(), a.request.uri().path()), (&Method::GET, "/v2/done"));
    assert!(a.request.body().is_empty() && !a.request.headers().contains_key(CONTENT_TYPE));
    assert!(a.request.headers().contains_key(AUTHORIZATION) && a.request.headers().contains_key(USER_AGENT));
}

#[test]
fn contract_violations_are_errors_not_panics() {
    let mut call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let mut j = FixedJitter(0.0);
    call.handle_response(Instant::ZERO, None, response(200, &[], ""));
    assert!(matches!(call.poll_action(Instant::ZERO, &mut j), Action::Done(Err(Error::InvalidArgument(_)))));
    let mut call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let _ = call.poll_action(Instant::ZERO, &mut j);
    assert!(matches!(call.poll_action(Instant::ZERO, &mut j), Action::Done(Err(_))));
    assert!(matches!(call.poll_action(Instant::ZERO, &mut j), Action::Done(Err(_))));
}

#[test]
fn streamed_heads() {
    let mut call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let mut j = FixedJitter(0.0);
    let Action::Send(_) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    assert_eq!(
        call.handle_response_head(Instant::ZERO, StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new()),
        HeadDisposition::ReadBody
    );
    call.handle_response(Instant::ZERO, None, response(503, &[], ""));
    let Action::WaitUntil(t) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
    let Action::Send(_) = call.poll_action(t, &mut j) else { panic!() };
    assert_eq!(call.handle_response_head(t, StatusCode::OK, &HeaderMap::new()), HeadDisposition::Stream);
    let Action::Done(Ok(r)) = call.poll_action(t, &mut j) else { panic!() };
    assert_eq!(r.attempt, 2);
}

/// The transport error a call ended with.
fn transport_kind(r: &Result<Response, Error>) -> Option<TransportErrorKind> {
    r.as_ref().err().and_then(Error::transport_error).map(TransportError::kind)
}

#[test]
fn redirects_stop_at_the_limit_with_a_typed_error() {
    let call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let steps = (0..=MAX_REDIRECTS)
        .map(|i| Step::Resp(response(302, &[("location", &format!("/v2/hop{i}"))], "")))
        .chain([Step::Resp(response(200, &[], "{}"))])
        .collect();
    let (sends, r) = drive(call, steps);
    assert_eq!(sends.len(), usize::from(MAX_REDIRECTS) + 1, "the original and {MAX_REDIRECTS} redirects");
    assert_eq!(transport_kind(&r), Some(TransportErrorKind::Redirect), "{r:?}");
    let e = r.unwrap_err();
    assert!(e.to_string().contains("more than 10 redirects"), "{e}");
    assert_eq!(e.attempts(), Some(1), "not retried");
}

#[test]
fn a_redirect_loop_is_refused_before_the_limit() {
    let call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let steps = vec![
        Step::Resp(response(302, &[("location", "/v2/b")], "")),
        Step::Resp(response(301, &[("location", "/v2/datasets/ds/items")], "")),
        Step::Resp(response(200, &[], "{}")),
    ];
    let (sends, r) = drive(call, steps);
    assert_eq!(sends.len(), 2);
    assert_eq!(transport_kind(&r), Some(TransportErrorKind::Redirect));
    assert!(r.unwrap_err().to_string().contains("redirect loop"));
}

#[test]
fn https_to_http_and_other_schemes_are_refused() {
    let cfg = Config::new().with_token("tok").with_api_url("https://api.example").unwrap();
    for location in ["http://api.example/v2/x", "http://elsewhere.example/x", "ftp://api.example/x", "file:///etc/x"] {
        let path = crate::path::ResourcePath::resource("datasets", "ds").unwrap();
        let req = crate::request::RequestBuilder::new(&cfg, Method::GET, &path, &[], "t", TimeoutTier::Short)
            .build()
            .unwrap();
        let call = Call::new(req, &cfg, stats(), Instant::ZERO);
        let (sends, r) = drive(call, vec![Step::Resp(response(302, &[("location", location)], ""))]);
        assert_eq!(sends.len(), 1, "{location} was followed");
        if location.starts_with("file:") {
            // Not an absolute URL `http::Uri` reads: the 302 is the answer.
            assert_eq!(r.map(|r| r.status.as_u16()).ok(), Some(302));
            continue;
        }
        assert_eq!(transport_kind(&r), Some(TransportErrorKind::Redirect), "{location}: {r:?}");
        let e = r.unwrap_err().to_string();
        assert!(!e.contains("tok"), "{e}");
    }
}

fn post(cfg: &Config, replayable: bool) -> ApiRequest {
    let path = crate::path::ResourcePath::resource("key-value-stores", "s").unwrap();
    let b = crate::request::RequestBuilder::new(cfg, Method::PUT, &path, &["records", "k"], "t", TimeoutTier::Short)
        .raw_json(Bytes::from_static(b"{\"a\":1}"), "application/json");
    if replayable { b.build().unwrap() } else { b.not_replayable().build().unwrap() }
}

#[test]
fn temporary_and_permanent_redirects_resend_method_and_body() {
    let cfg = config();
    for status in [307, 308] {
        let mut call = Call::new(post(&cfg, true), &cfg, stats(), Instant::ZERO);
        let mut j = FixedJitter(0.0);
        let Action::Send(_) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
        call.handle_response(Instant::ZERO, None, response(status, &[("location", "/v2/moved")], ""));
        let Action::Send(a) = call.poll_action(Instant::ZERO, &mut j) else { panic!() };
        assert_eq!((a.request.method(), a.request.uri().path()), (&Method::PUT, "/v2/moved"));
        assert_eq!(&a.request.body()[..], b"{\"a\":1}");
        assert_eq!(a.request.headers()[CONTENT_TYPE], "application/json");
    }
    // A streamed body cannot be sent again: a typed error instead of an empty resend.
    for status in [307, 308, 301] {
        let call = Call::new(post(&cfg, false), &cfg, stats(), Instant::ZERO);
        let (sends, r) = drive(call, vec![Step::Resp(response(status, &[("location", "/v2/moved")], ""))]);
        assert_eq!(sends.len(), 1);
        assert_eq!(transport_kind(&r), Some(TransportErrorKind::Redirect), "{status}: {r:?}");
        assert!(r.unwrap_err().to_string().contains("streamed request body"));
    }
    // 303 asks for a GET of another resource: nothing to resend, so it is followed.
    let call = Call::new(post(&cfg, false), &cfg, stats(), Instant::ZERO);
    let steps = vec![Step::Resp(response(303, &[("location", "/v2/done")], "")), Step::Resp(response(200, &[], "{}"))];
    let (sends, r) = drive(call, steps);
    assert_eq!(sends.len(), 2);
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn a_body_past_the_limit_is_a_typed_error_not_retried() {
    let cfg = config().with_max_response_body(Some(4));
    let call = Call::new(request(Method::GET, true), &cfg, stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Resp(response(200, &[], "12345"))]);
    assert_eq!(sends.len(), 1);
    assert_eq!(transport_kind(&r), Some(TransportErrorKind::BodyTooLarge));
    assert!(r.unwrap_err().to_string().contains("limit of 4 bytes"));
    let call = Call::new(request(Method::GET, true), &cfg, stats(), Instant::ZERO);
    let (_, r) = drive(call, vec![Step::Resp(response(200, &[], "1234"))]);
    assert!(r.is_ok());
    // The attempt tells the driver; a streamed call is not limited.
    let mut call = Call::new(request(Method::GET, true), &cfg, stats(), Instant::ZERO);
    let Action::Send(a) = call.poll_action(Instant::ZERO, &mut FixedJitter(0.0)) else { panic!() };
    assert_eq!(a.max_body, Some(4));
    assert_eq!(Config::new().max_response_body(), Some(crate::config::DEFAULT_MAX_RESPONSE_BODY));
}

#[test]
fn a_407_is_a_proxy_error_not_retried() {
    let call = Call::new(request(Method::GET, true), &config(), stats(), Instant::ZERO);
    let (sends, r) = drive(call, vec![Step::Resp(response(407, &[("proxy-authenticate", "Basic")], ""))]);
    assert_eq!(sends.len(), 1);
    assert_eq!(transport_kind(&r), Some(TransportErrorKind::ProxyAuth));
    assert!(r.unwrap_err().to_string().contains("proxy authentication required"));
}
