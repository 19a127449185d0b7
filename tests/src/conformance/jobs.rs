//! Runs, logs and charges against the scripted server: long polls through 429/5xx, the 404
//! grace, `call` with a deadline, a log stream cut mid-line and reopened, and a charge
//! retried with the same idempotency key.

use std::time::{Duration, Instant};

use apify_core::client::Environment;
use apify_core::models::ActorJobStatus;
use serde_json::json;

use super::storage::TOKEN;
use super::{Mode, Outcome, Scenario, Step, Target, client_for, ensure};
use crate::{Reply, ScriptedServer, run_json};

/// The run scenarios, by name.
pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<Scenario<D, M>> {
    vec![
        ("runs: wait_for_finish through 429 and 5xx", wait_through_faults),
        ("runs: the 404 grace, found and gone", not_found_grace),
        ("runs: call with a deadline", call_with_deadline),
        ("logs: a stream cut mid-line, reopened", log_cut_and_reopened),
        ("runs: a retried charge keeps its key", charge_keeps_its_key),
    ]
}

fn wait_through_faults<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server
        .enqueue(Reply::run("r1", "RUNNING").delay(Duration::from_millis(200)))
        .enqueue(Reply::json(503, json!({"error": {"type": "service-unavailable", "message": "x"}})))
        .enqueue(
            Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "x"}}))
                .header("retry-after", "0"),
        )
        .enqueue(Reply::run("r1", "RUNNING").delay(Duration::from_millis(200)))
        .enqueue(Reply::run("r1", "SUCCEEDED"));
    let c = client_for(t, &server.base_url(), TOKEN);
    let run = t.mode.call(c.run("r1").wait_for_finish(None)).step("wait_for_finish")?.ok_or("no run")?;
    ensure!(run.status == ActorJobStatus::Succeeded, "ended as {}", run.status);
    let reqs = server.requests();
    ensure!(reqs.len() == 5, "{} polls for 5 replies", reqs.len());
    for r in &reqs {
        ensure!(r.path() == "/v2/actor-runs/r1", "polled {}", r.path());
        ensure!(
            r.query_param("waitForFinish").as_deref() == Some("999999"),
            "waitForFinish {:?}",
            r.query_param("waitForFinish")
        );
    }
    // A pause of at least 250 ms after each answered poll.
    ensure!(reqs[1].at - reqs[0].at >= Duration::from_millis(440), "no pause after the first poll");
    Ok(())
}

fn not_found_grace<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let missing = || Reply::json(404, json!({"error": {"type": "record-not-found", "message": "no run"}}));
    let server = ScriptedServer::start();
    server.enqueue(missing()).enqueue(missing()).enqueue(Reply::build("b1", "SUCCEEDED"));
    let c = client_for(t, &server.base_url(), TOKEN);
    let build = t.mode.call(c.build("b1").wait_for_finish(None)).step("wait through 404s")?;
    ensure!(build.is_some_and(|b| b.status == ActorJobStatus::Succeeded), "the build was not found after 404s");

    let server = ScriptedServer::start();
    server.set_fallback(move |_| missing());
    let c = client_for(t, &server.base_url(), TOKEN);
    let start = Instant::now();
    let run = t.mode.call(c.run("gone").wait_for_finish(None)).step("wait for a missing run")?;
    let took = start.elapsed();
    ensure!(run.is_none(), "a missing run was found");
    ensure!(took >= Duration::from_secs(3) && took < Duration::from_secs(6), "gave up after {took:?}, not ~3 s");
    Ok(())
}

fn call_with_deadline<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.route(http::Method::POST, "/v2/actors/john~a/runs", |_| Reply::json(201, run_json("r2", "READY")));
    // The server holds each poll for what it is asked, as the platform does (capped).
    server.set_fallback(|req| {
        let secs: u64 = req.query_param("waitForFinish").and_then(|s| s.parse().ok()).unwrap_or(0);
        Reply::run("r2", "RUNNING").delay(Duration::from_millis(secs.min(2) * 1000))
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    let start = Instant::now();
    let run = t
        .mode
        .call(c.actor("john/a").call().input(json!({"n": 1})).wait_duration(Duration::from_secs(1)))
        .step("call")?
        .ok_or("no run")?;
    let took = start.elapsed();
    ensure!(run.id == "r2" && run.status == ActorJobStatus::Running, "call returned {} {}", run.id, run.status);
    ensure!(took >= Duration::from_secs(1) && took < Duration::from_secs(4), "the deadline of 1 s took {took:?}");
    let reqs = server.requests();
    ensure!(reqs[0].json() == json!({"n": 1}), "the input was {}", reqs[0].json());
    ensure!(reqs[1].path() == "/v2/actor-runs/r2", "waited on {}", reqs[1].path());
    ensure!(
        reqs[1].query_param("waitForFinish").as_deref() == Some("1"),
        "first poll {:?}",
        reqs[1].query_param("waitForFinish")
    );
    Ok(())
}

fn log_cut_and_reopened<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let log =
        "2026-01-01T00:00:01.000Z first line\n2026-01-01T00:00:02.000Z second line\n2026-01-01T00:00:03.000Z third";
    let server = ScriptedServer::start();
    // The first stream breaks in the middle of the second line.
    server.enqueue(Reply::log(log).truncate_after(50));
    server.enqueue(Reply::log(log));
    let c = client_for(t, &server.base_url(), TOKEN);
    let lines = t.mode.log_lines(c.run("r1").log().stream()).step("open the log")?.ok_or("no log")?;
    let got: Vec<Result<String, String>> = lines.map(|l| l.map_err(|e| e.to_string())).collect();
    ensure!(got.first() == Some(&Ok("2026-01-01T00:00:01.000Z first line".to_owned())), "first line {:?}", got.first());
    ensure!(got.len() == 2 && got[1].is_err(), "a cut stream must end in an error, not a partial line: {got:?}");
    let lines = t.mode.log_lines(c.run("r1").log().stream()).step("reopen the log")?.ok_or("no log")?;
    let got: Vec<String> = lines.collect::<Result<_, _>>().step("read the reopened log")?;
    ensure!(got.len() == 3 && got[2] == "2026-01-01T00:00:03.000Z third", "reopened log {got:?}");
    for r in server.requests() {
        ensure!(r.query_param("stream").as_deref() == Some("true"), "stream={:?}", r.query_param("stream"));
    }
    Ok(())
}

fn charge_keeps_its_key<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server
        .enqueue(Reply::json(500, json!({"error": {"type": "internal-error", "message": "x"}})))
        .enqueue(Reply::status(502))
        .enqueue(Reply::json(201, json!({})));
    let c = client_for(t, &server.base_url(), TOKEN);
    t.mode.call(c.run("r1").charge("ANALYZE").count(2)).step("charge")?;
    let reqs = server.requests();
    ensure!(reqs.len() == 3, "{} attempts", reqs.len());
    let keys: Vec<Option<&str>> = reqs.iter().map(|r| r.header("idempotency-key")).collect();
    let first = keys[0].ok_or("no idempotency-key")?;
    ensure!(keys.iter().all(|k| *k == Some(first)), "keys differ between retries: {keys:?}");
    ensure!(first.starts_with("r1-ANALYZE-"), "key {first}");
    ensure!(reqs[0].json() == json!({"eventName": "ANALYZE", "count": 2}), "body {}", reqs[0].json());
    Ok(())
}
