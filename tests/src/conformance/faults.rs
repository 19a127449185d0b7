//! The fault matrix: each fault against the scripted server, checking attempts, waits
//! (against the delays the core logged), typed errors and that nothing is lost.

use std::time::Duration;

use apify_core::client::Environment;
use apify_core::config::Timeouts;
use apify_core::error::{Error, TransportErrorKind};
use apify_core::models::Request;
use apify_core::retry::{NonIdempotentRetry, RetryPolicy};
use serde_json::{Value, json};

use super::capture::{capture, retry_delays};
use super::storage::TOKEN;
use super::wire::dataset_json;
use super::{Mode, Outcome, Scenario, Step, Target, client_for, client_with, ensure};
use crate::{RecordedRequest, Reply, ScriptedServer};

/// The fault scenarios, by name.
pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<Scenario<D, M>> {
    vec![
        ("fault: 429 with Retry-After", rate_limited_with_retry_after),
        ("fault: 429 with Retry-After as an HTTP date", rate_limited_until_a_date),
        ("fault: 429 without Retry-After", rate_limited),
        ("fault: 500, 502, 503 then success", server_errors),
        ("fault: reset before the head", reset_before_head),
        ("fault: reset during the body", reset_during_body),
        ("fault: truncated JSON is a typed error", truncated_json),
        ("fault: stalled response times out", stalled),
        ("fault: slow-drip body", slow_drip),
        ("fault: non-retryable errors keep their cause", non_retryable),
        ("fault: pushes under faults lose nothing", pushes_lose_nothing),
        ("fault: non-idempotent policy switch", non_idempotent_policy),
    ]
}

const SLACK: Duration = Duration::from_millis(1500);

/// Checks that each gap between attempts is at least the delay the core logged for it,
/// plus `extra` (time the failed attempt itself took, e.g. a timeout), and not much more.
fn check_waits(reqs: &[RecordedRequest], delays: &[u64], extra: Duration) -> Outcome {
    ensure!(delays.len() + 1 == reqs.len(), "{} retry decisions logged for {} attempts", delays.len(), reqs.len());
    for (i, d) in delays.iter().enumerate() {
        let gap = reqs[i + 1].at - reqs[i].at;
        let want = Duration::from_millis(*d);
        // 5 ms tolerance for timer granularity on either side of the server's clock.
        ensure!(
            gap + Duration::from_millis(5) >= want + extra,
            "attempt {} came {gap:?} after, the core waited {want:?}",
            i + 2
        );
        ensure!(gap <= want + extra + SLACK, "attempt {} came {gap:?} after a {want:?} wait", i + 2);
    }
    Ok(())
}

/// One idempotent call (`dataset.get`) through faults, then the success reply.
fn through<D: Environment, M: Mode<D>>(
    t: &Target<D, M>,
    faults: Vec<Reply>,
    configure: impl FnOnce(apify_core::config::Config) -> apify_core::config::Config,
) -> Result<(ScriptedServer, Vec<u64>), String> {
    let server = ScriptedServer::start();
    let n = faults.len();
    for f in faults {
        server.enqueue(f);
    }
    server.enqueue(Reply::json(200, dataset_json("d")));
    let c = client_with(t, &server.base_url(), configure);
    let (got, events) = capture(|| t.mode.call(c.dataset("d").get()));
    let got = got.step("get through faults")?.ok_or("None after faults")?;
    ensure!(got.id == "d", "got {}", got.id);
    ensure!(server.request_count() == n + 1, "{} attempts for {n} faults", server.request_count());
    let stats = c.stats();
    ensure!(stats.retries as usize == n, "stats count {} retries for {n} faults", stats.retries);
    Ok((server, retry_delays(&events)))
}

fn rate_limited_with_retry_after<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let limited = Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "slow down"}}))
        .header("retry-after", "1");
    let (server, delays) = through(t, vec![limited], |c| c)?;
    ensure!(delays.first().is_some_and(|d| *d >= 1000), "Retry-After: 1 gave a {delays:?} ms wait");
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

/// An HTTP-date `Retry-After` beside a `Date` the client cannot read: the wait is measured
/// from the driver's wall clock.
fn rate_limited_until_a_date<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    let limited = Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "slow down"}}))
        .header("retry-after", httpdate::fmt_http_date(at))
        .header("date", "not a date");
    let (server, delays) = through(t, vec![limited], |c| c)?;
    // The date has whole seconds: it is 1 to 2 s away.
    ensure!(
        delays.first().is_some_and(|d| (900..=2100).contains(d)),
        "Retry-After two seconds ahead gave a {delays:?} ms wait"
    );
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

fn rate_limited<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let limited = || Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "slow down"}}));
    let (server, delays) = through(t, vec![limited(), limited()], |c| c)?;
    // Apify's schedule: a wait drawn in [d, 2d], d doubling from the base delay.
    let base = super::BASE_DELAY.as_millis() as u64;
    ensure!((base..=2 * base).contains(&delays[0]), "first wait {} ms", delays[0]);
    ensure!((2 * base..=4 * base).contains(&delays[1]), "second wait {} ms", delays[1]);
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

fn server_errors<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let faults = [500, 502, 503].map(|s| Reply::json(s, json!({"error": {"type": "x", "message": "down"}})));
    let (server, delays) = through(t, faults.into(), |c| c)?;
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

fn reset_before_head<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let (server, delays) = through(t, vec![Reply::status(200).reset_before_head()], |c| c)?;
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

fn reset_during_body<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let cut = Reply::json(200, dataset_json("d")).truncate_after(30);
    let (server, delays) = through(t, vec![cut.clone(), cut], |c| c)?;
    check_waits(&server.requests(), &delays, Duration::ZERO)
}

fn truncated_json<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    // A complete HTTP response whose JSON is cut: the server answered, so no retry.
    server.enqueue(
        Reply::bytes(200, &br#"{"data": {"id": "d", "name": nu"#[..]).header("content-type", "application/json"),
    );
    let c = client_for(t, &server.base_url(), TOKEN);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("truncated JSON was accepted")?;
    ensure!(matches!(err, Error::InvalidResponseBody { status: 200, .. }), "error {err:?}");
    ensure!(std::error::Error::source(&err).is_some(), "the JSON error was not kept as the cause: {err:?}");
    ensure!(server.request_count() == 1, "{} attempts", server.request_count());
    Ok(())
}

fn stalled<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let timeout = Duration::from_millis(300);
    let stall = Reply::json(200, dataset_json("d")).delay(Duration::from_secs(3));
    let timeouts = Timeouts { short: timeout, ..Timeouts::default() };
    let (server, delays) = through(t, vec![stall], |c| c.with_timeouts(timeouts))?;
    check_waits(&server.requests(), &delays, timeout)?;

    // With no retries left, the timeout surfaces as a typed transport error.
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset_json("d")).delay(Duration::from_secs(3)));
    let c = client_with(t, &server.base_url(), |c| c.with_timeouts(timeouts).with_max_retries(0));
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("a stalled server answered")?;
    let kind = err.transport_error().map(|e| e.kind());
    ensure!(kind == Some(TransportErrorKind::Timeout), "error {err:?}");
    Ok(())
}

fn slow_drip<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    let items: Vec<Value> = (0..100).map(|i| json!({"i": i})).collect();
    // ~1 KiB in 64-byte drops every 10 ms: slow, but within the attempt's timeout.
    server.enqueue(Reply::items_page(&items, 0, 100, 100, false).drip(64, Duration::from_millis(10)));
    let c = client_for(t, &server.base_url(), TOKEN);
    let page = t.mode.call(c.dataset("d").list_items()).step("list_items")?;
    ensure!(page.items == items, "{} items", page.items.len());
    ensure!(server.request_count() == 1, "{} attempts for a slow but complete body", server.request_count());
    Ok(())
}

fn non_retryable<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(400, json!({"error": {"type": "invalid-parameter", "message": "bad limit"}})));
    let c = client_for(t, &server.base_url(), TOKEN);
    let err = t.mode.call(c.dataset("d").list_items()).err().ok_or("a 400 succeeded")?;
    let api = err.api_error().ok_or_else(|| format!("not an API error: {err:?}"))?;
    ensure!(api.status.as_u16() == 400 && api.message == "bad limit", "{api:?}");
    ensure!(api.error_type.as_ref().map(|t| t.as_str()) == Some("invalid-parameter"), "{api:?}");
    ensure!(server.request_count() == 1, "a 400 was retried");

    // A retryable failure that outlasts the retries keeps the last cause.
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(503, json!({"error": {"type": "x", "message": "still down"}})));
    let c = client_with(t, &server.base_url(), |c| c.with_max_retries(2));
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("503s succeeded")?;
    let api = err.api_error().ok_or_else(|| format!("not an API error: {err:?}"))?;
    ensure!((api.status.as_u16(), api.attempt, api.message.as_str()) == (503, 3, "still down"), "{api:?}");
    ensure!(server.request_count() == 3, "{} attempts with 2 retries", server.request_count());
    Ok(())
}

fn pushes_lose_nothing<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(503, json!({"error": {"type": "x", "message": "down"}})));
    server.enqueue(Reply::status(201).reset_before_head());
    server.set_fallback(|_| Reply::json(201, json!({"data": {}})));
    let c = client_for(t, &server.base_url(), TOKEN);
    let items: Vec<Value> = (0..500).map(|i| json!({"i": i})).collect();
    t.mode.call(c.dataset("d").push_items(&items)).step("push_items")?;
    let reqs = server.requests();
    ensure!(reqs.len() == 3, "{} attempts", reqs.len());
    let sent: Vec<Value> = serde_json::from_slice(&reqs[2].decoded_body()).map_err(|e| e.to_string())?;
    ensure!(sent == items, "the successful attempt carried {} items of 500", sent.len());

    server.take_requests();
    server.enqueue(Reply::json(502, json!({"error": {"type": "x", "message": "down"}})));
    let batch: Vec<Request> =
        (0..25).map(|i| Request::new(format!("k{i}"), format!("https://example.com/{i}"))).collect();
    let processed: Vec<Value> = batch
        .iter()
        .map(|r| json!({"requestId": format!("id-{}", r.unique_key), "uniqueKey": r.unique_key, "wasAlreadyPresent": false, "wasAlreadyHandled": false}))
        .collect();
    server.set_fallback(move |_| {
        Reply::json(201, json!({"data": {"processedRequests": processed.clone(), "unprocessedRequests": []}}))
    });
    let q = c.request_queue("q");
    let added = t.mode.call(q.batch_add_requests(&batch)).step("batch_add_requests")?;
    ensure!(added.processed_requests.len() == 25, "{} processed", added.processed_requests.len());
    let reqs = server.requests();
    ensure!(reqs.len() == 2, "{} attempts", reqs.len());
    let sent: Vec<Value> = serde_json::from_slice(&reqs[1].decoded_body()).map_err(|e| e.to_string())?;
    ensure!(sent.len() == 25, "the retried batch carried {} requests", sent.len());
    Ok(())
}

fn non_idempotent_policy<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    // The push may have been stored before the connection died: with `SafeOnly` the
    // client does not risk storing it twice, and says why.
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(201).reset_before_head());
    server.set_fallback(|_| Reply::json(201, json!({"data": {}})));
    let c = client_with(t, &server.base_url(), |c| {
        let policy = RetryPolicy { non_idempotent: NonIdempotentRetry::SafeOnly, ..c.retry_policy().clone() };
        c.with_retry_policy(policy)
    });
    let err = t.mode.call(c.dataset("d").push_item(&json!({"a": 1}))).err().ok_or("a reset push succeeded")?;
    let kind = err.transport_error().map(|e| e.kind());
    ensure!(
        matches!(kind, Some(TransportErrorKind::ConnectionClosed | TransportErrorKind::IncompleteBody)),
        "error {err:?}"
    );
    ensure!(server.request_count() == 1, "{} attempts under SafeOnly", server.request_count());
    // A 429 proves the push was not processed: retried even under SafeOnly.
    server.take_requests();
    server.enqueue(Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "x"}})));
    t.mode.call(c.dataset("d").push_item(&json!({"a": 2}))).step("push after 429")?;
    ensure!(server.request_count() == 2, "{} attempts after a 429", server.request_count());
    Ok(())
}
