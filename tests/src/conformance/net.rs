//! Faults of the network around the API: redirects, oversized and bomb bodies, a server
//! asking to wait longer than the call may, uploads cut or refused midway, names that do
//! not resolve, pooled connections the server closed. The TLS, proxy and HTTP/2 scenarios
//! live in their own modules and run on targets that declare the [`Feature`].

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apify_core::client::Environment;
use apify_core::error::{Error, GiveUpReason, TransportErrorKind};
use apify_core::retry::{NonIdempotentRetry, RetryPolicy};
use bytes::Bytes;
use http::Method;
use serde_json::json;

use super::storage::TOKEN;
use super::wire::dataset_json;
use super::{Feature, FeatureScenario, Mode, Outcome, Scenario, Step, Target, client_for, client_with, ensure};
use crate::raw::{HttpReader, RawServer, lingering_close};
use crate::{Reply, ScriptedServer};

/// The scenarios every network driver runs.
pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<Scenario<D, M>> {
    vec![
        ("redirect: 307/308 resend method and body", redirect_resends_body),
        ("redirect: no token to another host", redirect_to_another_host),
        ("redirect: more than 10 is a typed error", redirect_limit),
        ("redirect: a loop is a typed error", redirect_loop),
        ("redirect: a streamed body is not resent", redirect_streamed_upload),
        ("body cap: a larger body is a typed error", body_cap),
        ("body cap: gzip and brotli bombs stop at it", body_cap_bombs),
        ("body cap: streamed bodies are not capped", body_cap_streamed),
        ("Retry-After of a day fails at once", retry_after_a_day),
        ("Retry-After past the deadline fails at once", retry_after_past_deadline),
        ("upload: 413 in the middle of the body", upload_answered_413),
        ("upload: connection closed midway", upload_closed_midway),
        ("DNS failure is a typed error, retried", dns_failure),
    ]
}

/// The scenarios that need a [`Feature`].
pub(crate) fn feature_scenarios<D: Environment, M: Mode<D>>() -> Vec<FeatureScenario<D, M>> {
    let mut all: Vec<FeatureScenario<D, M>> = vec![
        ("keep-alive: idle connection closed by server", &[Feature::KeepAlive], stale_idle_connection),
        ("keep-alive: closed as the next request came", &[Feature::KeepAlive], closed_as_request_arrives),
    ];
    all.extend(super::tls::scenarios::<D, M>());
    all.extend(super::proxy::scenarios::<D, M>());
    all.extend(super::http2::scenarios::<D, M>());
    all
}

fn kind(e: &Error) -> Option<TransportErrorKind> {
    e.transport_error().map(|t| t.kind())
}

/// Bytes that do not compress: what an upload of a binary file looks like.
pub(crate) fn noise(len: usize) -> Bytes {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn redirect_resends_body<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    for (status, key) in [(307u16, "a"), (308, "b")] {
        let path = format!("/v2/key-value-stores/s/records/{key}");
        server.route(Method::PUT, &path, move |_| Reply::status(status).header("location", format!("/v2/moved/{key}")));
    }
    server.route(Method::PUT, "/v2/moved/*", |_| Reply::status(201));
    let c = client_for(t, &server.base_url(), TOKEN);
    let body = noise(50_000);
    for key in ["a", "b"] {
        server.take_requests();
        let call = c.key_value_store("s").set_record(key, body.clone()).content_type(BINARY);
        t.mode.call(call).step(key)?;
        let reqs = server.requests();
        ensure!(reqs.len() == 2, "{key}: {} requests", reqs.len());
        let (first, second) = (&reqs[0], &reqs[1]);
        ensure!(
            second.method == "PUT" && second.path() == format!("/v2/moved/{key}"),
            "{} {}",
            second.method,
            second.uri
        );
        ensure!(first.decoded_body() == body && second.decoded_body() == body, "{key}: the body was not resent whole");
        ensure!(second.header("authorization").is_some(), "the same host lost the token");
    }
    Ok(())
}

fn redirect_to_another_host<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let other = ScriptedServer::start();
    other.set_fallback(|_| Reply::json(200, dataset_json("d")));
    let server = ScriptedServer::start();
    // Another port is another origin: the token stays behind.
    let to = other.url("/v2/datasets/d");
    server.set_fallback(move |_| Reply::status(302).header("location", to.clone()));
    let c = client_for(t, &server.base_url(), TOKEN);
    let got = t.mode.call(c.dataset("d").get()).step("get")?.ok_or("no dataset")?;
    ensure!(got.id == "d", "{}", got.id);
    let reqs = other.requests();
    ensure!(reqs.len() == 1, "{} requests at the other host", reqs.len());
    ensure!(reqs[0].header("authorization").is_none(), "the token went to another host");
    ensure!(server.requests()[0].header("authorization").is_some(), "the API got no token");
    Ok(())
}

fn redirect_limit<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.set_fallback(|r| Reply::status(302).header("location", format!("{}/x", r.path())));
    let c = client_for(t, &server.base_url(), TOKEN);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("endless redirects succeeded")?;
    ensure!(kind(&err) == Some(TransportErrorKind::Redirect), "{err:?}");
    ensure!(err.to_string().contains("more than 10 redirects"), "{err}");
    ensure!(server.request_count() == 11, "{} requests for 10 redirects", server.request_count());
    Ok(())
}

fn redirect_loop<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.route(Method::GET, "/v2/datasets/d", |_| Reply::status(302).header("location", "/v2/elsewhere"));
    server.route(Method::GET, "/v2/elsewhere", |_| Reply::status(301).header("location", "/v2/datasets/d"));
    let c = client_for(t, &server.base_url(), TOKEN);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("a redirect loop succeeded")?;
    ensure!(kind(&err) == Some(TransportErrorKind::Redirect) && err.to_string().contains("loop"), "{err:?}");
    ensure!(server.request_count() == 2, "{} requests", server.request_count());
    Ok(())
}

fn redirect_streamed_upload<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server
        .route(Method::PUT, "/v2/key-value-stores/s/records/k", |_| Reply::status(307).header("location", "/v2/moved"));
    server.set_fallback(|_| Reply::status(201));
    let c = client_for(t, &server.base_url(), TOKEN);
    let chunks = vec![Bytes::from_static(b"part one, "), Bytes::from_static(b"part two")];
    let err = t.mode.upload(&c.key_value_store("s"), "k", "text/plain", chunks).err().ok_or("resent a stream")?;
    ensure!(kind(&err) == Some(TransportErrorKind::Redirect), "{err:?}");
    ensure!(server.request_count() == 1, "{} requests", server.request_count());
    Ok(())
}

const CAP: u64 = 1 << 20;

fn capped<D: Environment, M: Mode<D>>(t: &Target<D, M>, server: &ScriptedServer) -> apify_core::client::ApifyClient<D> {
    client_with(t, &server.base_url(), |c| c.with_max_response_body(Some(CAP)))
}

fn body_cap<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    let record = |len: usize| Reply::bytes(200, vec![b'x'; len]).header("content-type", "application/octet-stream");
    server.route(Method::GET, "/v2/key-value-stores/s/records/fits", move |_| record(CAP as usize));
    server.route(Method::GET, "/v2/key-value-stores/s/records/big", move |_| record(2 * CAP as usize));
    let c = capped(t, &server);
    let store = c.key_value_store("s");
    let fits = t.mode.call(store.get_record_as_bytes("fits")).step("a body at the cap")?.ok_or("no record")?;
    ensure!(fits.value.len() as u64 == CAP, "{} bytes", fits.value.len());
    let err = t.mode.call(store.get_record_as_bytes("big")).err().ok_or("a body over the cap was read")?;
    ensure!(kind(&err) == Some(TransportErrorKind::BodyTooLarge), "{err:?}");
    ensure!(err.to_string().contains("1048576"), "the limit is not named: {err}");
    ensure!(server.request_count() == 2, "{} requests: the body cap was retried", server.request_count());
    Ok(())
}

/// 64 MiB of zeros, compressed to some KiB.
fn bombs() -> [(&'static str, Vec<u8>); 2] {
    let zeros = vec![0u8; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 9, 22);
    for _ in 0..64 {
        let _ = gz.write_all(&zeros);
        let _ = br.write_all(&zeros);
    }
    let _ = br.flush();
    [("gzip", gz.finish().unwrap_or_default()), ("br", br.into_inner())]
}

fn body_cap_bombs<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    for (encoding, packed) in bombs() {
        ensure!(packed.len() < 100 * 1024, "{encoding} bomb of {} bytes", packed.len());
        let server = ScriptedServer::start();
        let packed = Bytes::from(packed);
        server.set_fallback(move |_| {
            Reply::bytes(200, packed.clone())
                .header("content-type", "application/octet-stream")
                .header("content-encoding", encoding)
        });
        let c = capped(t, &server);
        let started = Instant::now();
        let err = t.mode.call(c.key_value_store("s").get_record_as_bytes("bomb")).err();
        let err = err.ok_or_else(|| format!("a 64 MiB {encoding} bomb passed a 1 MiB cap"))?;
        ensure!(kind(&err) == Some(TransportErrorKind::BodyTooLarge), "{encoding}: {err:?}");
        ensure!(server.request_count() == 1, "{encoding}: {} requests", server.request_count());
        ensure!(started.elapsed() < Duration::from_secs(5), "{encoding}: {:?}", started.elapsed());
    }
    Ok(())
}

fn body_cap_streamed<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::bytes(200, vec![b'y'; 3 * CAP as usize]).header("content-type", "text/plain"));
    let c = capped(t, &server);
    let (_, chunks) = t.mode.record(c.key_value_store("s").stream_record("k")).step("stream")?.ok_or("no record")?;
    let mut total = 0;
    for chunk in chunks {
        total += chunk.step("chunk")?.len();
    }
    ensure!(total as u64 == 3 * CAP, "{total} bytes streamed of {}", 3 * CAP);
    Ok(())
}

fn throttled(retry_after: &'static str) -> Reply {
    Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "later"}}))
        .header("retry-after", retry_after)
}

fn retry_after_a_day<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.set_fallback(|_| throttled("86400"));
    let c = client_for(t, &server.base_url(), TOKEN);
    let started = Instant::now();
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("a day's Retry-After succeeded")?;
    ensure!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let Error::GaveUp { reason: GiveUpReason::RetryAfterTooLong { retry_after }, .. } = &err else {
        return Err(format!("error {err:?}"));
    };
    ensure!(*retry_after == Duration::from_secs(86400), "{retry_after:?}");
    ensure!(err.status().map(|s| s.as_u16()) == Some(429), "the 429 is not kept: {err:?}");
    ensure!(server.request_count() == 1, "{} requests", server.request_count());
    Ok(())
}

fn retry_after_past_deadline<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.set_fallback(|_| throttled("30"));
    let deadline = Duration::from_secs(2);
    let c = client_with(t, &server.base_url(), |c| {
        let policy = RetryPolicy { deadline: Some(deadline), ..c.retry_policy().clone() };
        c.with_retry_policy(policy)
    });
    let started = Instant::now();
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("succeeded")?;
    ensure!(started.elapsed() < deadline, "took {:?}, slept towards the hint", started.elapsed());
    let Error::GaveUp { reason: GiveUpReason::RetryAfterPastDeadline { retry_after, .. }, .. } = &err else {
        return Err(format!("error {err:?}"));
    };
    ensure!(*retry_after == Duration::from_secs(30), "{retry_after:?}");
    ensure!(err.to_string().contains("deadline"), "{err}");
    ensure!(server.request_count() == 1, "{} requests", server.request_count());
    Ok(())
}

const UPLOAD: usize = 8 << 20;

/// A media type the client does not compress: the server sees the bytes as sent.
const BINARY: &str = "application/x-7z-compressed";

/// An upload refused after its first 64 KiB: a 413, then a lingering close.
fn upload_answered_413<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = RawServer::start(|_, stream| {
        let mut r = HttpReader::new(&stream);
        if let Ok(Some(_)) = r.head() {
            let _ = r.some_body(64 * 1024);
            let body = br#"{"error":{"type":"request-too-large","message":"too big"}}"#;
            let _ = r.respond(413, &[("content-type", "application/json"), ("connection", "close")], body);
            lingering_close(&stream, Duration::from_secs(5));
        }
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    let store = c.key_value_store("s");
    for streamed in [false, true] {
        let started = Instant::now();
        let before = server.connections();
        let result = if streamed {
            let chunks = noise(UPLOAD).chunks(256 * 1024).map(Bytes::copy_from_slice).collect();
            t.mode.upload(&store, "k", BINARY, chunks)
        } else {
            t.mode.call(store.set_record("k", noise(UPLOAD)).content_type(BINARY))
        };
        let err = result.err().ok_or("a 413 succeeded")?;
        let api = err.api_error().ok_or_else(|| format!("streamed {streamed}: not the 413 but {err:?}"))?;
        ensure!(api.status.as_u16() == 413 && api.message == "too big", "{api:?}");
        ensure!(server.connections() - before == 1, "streamed {streamed}: a 413 was retried");
        ensure!(started.elapsed() < Duration::from_secs(8), "streamed {streamed}: took {:?}", started.elapsed());
    }
    Ok(())
}

/// An upload whose connection dies after 64 KiB: a whole body is sent again (the PUT is
/// idempotent), a stream cannot be, and a POST under `SafeOnly` is not.
fn upload_closed_midway<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let received = Arc::new(Mutex::new(Vec::<usize>::new()));
    let got = received.clone();
    let server = RawServer::start(move |i, stream| {
        let mut r = HttpReader::new(&stream);
        let Ok(Some(head)) = r.head() else { return };
        if i % 2 == 0 {
            // Dropped with the rest unread.
            let _ = r.some_body(64 * 1024);
            return;
        }
        if let Ok(body) = r.body(&head) {
            got.lock().unwrap_or_else(|e| e.into_inner()).push(body.len());
            let _ = r.respond(201, &[("content-type", "application/json"), ("connection", "close")], b"{\"data\":{}}");
        }
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    let store = c.key_value_store("s");
    t.mode.call(store.set_record("k", noise(UPLOAD)).content_type(BINARY)).step("set_record")?;
    ensure!(server.connections() == 2, "{} connections", server.connections());
    ensure!(*received.lock().unwrap_or_else(|e| e.into_inner()) == [UPLOAD], "the retry did not carry the whole body");

    // Connection 2 is cut again: a stream is sent once.
    let chunks = noise(UPLOAD).chunks(256 * 1024).map(Bytes::copy_from_slice).collect();
    let err = t.mode.upload(&store, "k", BINARY, chunks).err().ok_or("a cut stream succeeded")?;
    ensure!(kind(&err).is_some(), "not a transport error: {err:?}");
    ensure!(server.connections() == 3, "{} connections: a stream was resent", server.connections());

    // Connection 3 answers whatever it is asked (the get makes of it what it can), so
    // that the push meets connection 4, which is cut: the push may have been stored.
    let c = client_with(t, &server.base_url(), |c| {
        let policy = RetryPolicy { non_idempotent: NonIdempotentRetry::SafeOnly, ..c.retry_policy().clone() };
        c.with_retry_policy(policy)
    });
    let _ = t.mode.call(c.dataset("d").get());
    let before = server.connections();
    let items: Vec<serde_json::Value> = (0..20_000).map(|i| json!({"i": i, "pad": "x".repeat(400)})).collect();
    let err = t.mode.call(c.dataset("d").push_items_json(serde_json::to_vec(&items).unwrap_or_default()));
    let err = err.err().ok_or("a cut push succeeded")?;
    ensure!(kind(&err).is_some(), "not a transport error: {err:?}");
    ensure!(server.connections() - before == 1, "a push was retried under SafeOnly");
    Ok(())
}

fn dns_failure<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    // RFC 6761: `.invalid` never resolves.
    let c = client_with(t, "http://apify-conformance.invalid", |c| c.with_max_retries(1));
    let started = Instant::now();
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("a .invalid host answered")?;
    ensure!(kind(&err) == Some(TransportErrorKind::Dns), "{err:?}");
    ensure!(err.attempts() == Some(2), "{:?} attempts with one retry", err.attempts());
    ensure!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    Ok(())
}

/// One dataset answer on a keep-alive connection.
pub(crate) fn answer<S: std::io::Read + Write>(r: &mut HttpReader<S>) -> bool {
    let Ok(Some(head)) = r.head() else { return false };
    let _ = r.body(&head);
    let body = dataset_json("d").to_string();
    r.respond(200, &[("content-type", "application/json")], body.as_bytes()).is_ok()
}

fn stale_idle_connection<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    // Each connection answers once, keep-alive and all, then the server closes it.
    let server = RawServer::start(|_, stream| {
        let mut r = HttpReader::new(&stream);
        answer(&mut r);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    t.mode.call(c.dataset("d").get()).step("first get")?;
    // The server's FIN arrives while the connection idles in the pool.
    std::thread::sleep(Duration::from_millis(200));
    t.mode.call(c.dataset("d").get()).step("second get")?;
    ensure!(server.connections() == 2, "{} connections", server.connections());
    ensure!(c.stats().retries == 0, "the closed connection was used: {:?}", c.stats());
    Ok(())
}

fn closed_as_request_arrives<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let heads = Arc::new(Mutex::new(Vec::<usize>::new()));
    let seen = heads.clone();
    // Connection 0 answers once, then reads the next request and closes without a word;
    // the others answer every request.
    let server = RawServer::start(move |i, stream| {
        let mut r = HttpReader::new(&stream);
        let mut answered = 0;
        while let Ok(Some(head)) = r.head() {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(i);
            if i == 0 && answered == 1 {
                return;
            }
            let _ = r.body(&head);
            let body = dataset_json("d").to_string();
            if r.respond(200, &[("content-type", "application/json")], body.as_bytes()).is_err() {
                return;
            }
            answered += 1;
        }
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    t.mode.call(c.dataset("d").get()).step("first get")?;
    t.mode.call(c.dataset("d").get()).step("second get")?;
    let heads = heads.lock().unwrap_or_else(|e| e.into_inner()).clone();
    ensure!(server.connections() == 2, "{} connections ({heads:?})", server.connections());
    ensure!(heads == [0, 0, 1], "requests per connection {heads:?}");
    ensure!(c.stats().retries <= 1, "{:?}", c.stats());
    Ok(())
}
