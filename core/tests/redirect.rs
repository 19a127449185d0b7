//! Log redirection and the status-message watcher (client-behaviour §17) on the
//! virtual-clock mock: reopening an empty log with backoff, `from_start`, levels, and a
//! watcher that stops with the run (no fixed 6 s sleep).
#![cfg(feature = "test-util")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_core::client::ApifyClient;
use apify_core::client::mock::{MockClient, MockResponse};
use apify_core::config::Config;
use apify_core::stream::LogLevel;
use serde_json::json;

fn client(mock: &MockClient) -> ApifyClient<MockClient> {
    ApifyClient::with_custom_http_client(Config::new().with_token("t"), mock.clone())
}

type Seen = Arc<Mutex<Vec<(String, LogLevel)>>>;

/// A mock whose log answers come from a script (the last one repeats) and whose run is
/// `status`.
fn log_and_run(logs: Vec<MockResponse>, status: &'static str) -> MockClient {
    let logs = Mutex::new(logs);
    MockClient::new(move |req| {
        if !req.uri.path().ends_with("/log") {
            return run(status, "", false);
        }
        let mut l = logs.lock().unwrap();
        if l.len() > 1 { l.remove(0) } else { l[0].clone() }
    })
}

#[test]
fn an_empty_log_is_reopened_with_backoff_then_redirected_message_by_message() {
    let log = "2026-01-01T00:00:01.000Z INFO  start\n2026-01-01T00:00:02.000Z ERROR failed\n  at x\n2026-01-01T00:00:03.000Z WARN  last";
    let mock = log_and_run(
        vec![
            MockResponse::text(200, ""),
            MockResponse::text(200, ""),
            MockResponse::text(200, ""),
            MockResponse::text(200, log),
        ],
        "RUNNING",
    );
    let seen: Seen = Arc::default();
    let s = seen.clone();
    client(&mock)
        .run("r1")
        .get_streamed_log()
        .on_message(move |logger, m| {
            assert_eq!(logger, "apify.run runId:r1");
            s.lock().unwrap().push((m.text.clone(), m.level));
        })
        .send()
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1], ("2026-01-01T00:00:02.000Z ERROR failed\n  at x".to_owned(), LogLevel::Error));
    assert_eq!(seen[2].1, LogLevel::Warn);
    assert_eq!(mock.sleeps(), [Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(2)]);
    let reqs: Vec<_> = mock.requests().into_iter().filter(|r| r.uri.path().ends_with("/log")).collect();
    assert_eq!(reqs.len(), 4);
    assert!(
        reqs.iter().all(|r| r.query("stream").as_deref() == Some("true") && r.query("raw").as_deref() == Some("true"))
    );
    assert!(reqs.iter().all(|r| r.timeout.is_none()), "a live log has no timeout");
}

#[test]
fn the_backoff_is_capped_and_a_missing_log_ends_the_redirection() {
    let mock = log_and_run(vec![MockResponse::text(200, "")], "RUNNING");
    client(&mock).run("r1").get_streamed_log().max_reopens(6).send().unwrap();
    let s: Vec<u64> = mock.sleeps().iter().map(|d| d.as_millis() as u64).collect();
    assert_eq!(s, [500, 1000, 2000, 4000, 5000, 5000]);

    let mock = MockClient::new(|_| MockResponse::error(404, "record-not-found", "no run"));
    client(&mock).run("r1").get_streamed_log().send().unwrap();
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn an_empty_log_of_a_run_that_ended_is_read_once_whole_and_the_redirection_ends() {
    // The live stream stays empty (a run that ended before anyone listened); the plain
    // read has it all.
    let mock = MockClient::new(|req| match (req.uri.path(), req.query("stream")) {
        ("/v2/actor-runs/r1/log", Some(_)) => MockResponse::text(200, ""),
        ("/v2/actor-runs/r1/log", None) => MockResponse::text(200, "2026-01-01T00:00:01.000Z INFO  all there"),
        _ => run("SUCCEEDED", "done", true),
    });
    let seen: Seen = Arc::default();
    let s = seen.clone();
    client(&mock)
        .run("r1")
        .get_streamed_log()
        .on_message(move |_, m| s.lock().unwrap().push((m.text.clone(), m.level)))
        .send()
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
    let last = mock.requests().pop().unwrap();
    assert_eq!((last.uri.path(), last.query("raw").as_deref()), ("/v2/actor-runs/r1/log", Some("true")));
    assert!(mock.sleeps().is_empty(), "no pause once the run is over");
}

#[test]
fn from_start_false_skips_what_was_logged_before() {
    // The mock's wall clock starts at 2026-01-01T00:00:00Z.
    let log = "2025-12-31T23:59:59.000Z INFO  old\n2026-01-01T00:00:05.000Z INFO  new\n";
    let mock = MockClient::new(move |_| MockResponse::text(200, log));
    let seen: Seen = Arc::default();
    let s = seen.clone();
    client(&mock)
        .actor("a")
        .last_run()
        .status("RUNNING")
        .get_streamed_log()
        .from_start(false)
        .on_message(move |_, m| s.lock().unwrap().push((m.text.clone(), m.level)))
        .send()
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["2026-01-01T00:00:05.000Z INFO  new"]);
    assert_eq!(mock.requests()[0].uri.path(), "/v2/actors/a/runs/last/log");
    assert_eq!(mock.requests()[0].query("status").as_deref(), Some("RUNNING"));
}

fn run(status: &str, message: &str, terminal: bool) -> MockResponse {
    MockResponse::json(
        200,
        json!({"data": {
            "id": "r1", "actId": "a", "userId": "u", "startedAt": "2026-01-01T00:00:00.000Z", "status": status,
            "statusMessage": message, "isStatusMessageTerminal": terminal,
            "meta": {"origin": "API"}, "stats": {}, "options": {"build": "latest", "timeoutSecs": 0, "memoryMbytes": 1024, "diskMbytes": 2048},
            "buildId": "b", "defaultKeyValueStoreId": "k", "defaultDatasetId": "d", "defaultRequestQueueId": "q",
            "generalAccess": "FOLLOW_USER_SETTING"
        }}),
    )
}

#[test]
fn the_watcher_logs_changes_and_stops_with_the_run() {
    let mock = MockClient::scripted(vec![
        run("RUNNING", "a", false),
        run("RUNNING", "a", false),
        run("RUNNING", "b", false),
        run("SUCCEEDED", "done", false),
        run("SUCCEEDED", "never read", false),
    ]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    client(&mock)
        .run("r1")
        .get_status_message_watcher()
        .on_change(move |_, r| {
            s.lock().unwrap().push(format!("{}: {}", r.status, r.status_message.clone().unwrap_or_default()))
        })
        .send()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["RUNNING: a", "RUNNING: b", "SUCCEEDED: done"]);
    assert_eq!(mock.requests().len(), 4, "stops right after the terminal read");
    assert_eq!(mock.sleeps(), [Duration::from_secs(1); 3]);

    // A terminal message ends it too.
    let mock = MockClient::scripted(vec![run("RUNNING", "x", true)]);
    client(&mock).run("r1").get_status_message_watcher().check_period(Duration::from_millis(10)).send().unwrap();
    assert_eq!(mock.requests().len(), 1);
}
