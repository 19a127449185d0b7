//! Runs and builds on the virtual-clock mock (client-behaviour §15–16): long polls across
//! retries, the 404 grace, deadlines, `call`, waiting for resources, and charges whose
//! idempotency key is made once and reused by every retry. No test sleeps.
#![cfg(feature = "test-util")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_core::client::ApifyClient;
use apify_core::client::mock::{MockClient, MockRequest, MockResponse};
use apify_core::config::{Config, Timeout, TimeoutTier};
use apify_core::error::Error;
use apify_core::models::ActorJobStatus;
use apify_core::ops::jobs::Charge;
use serde_json::{Value, json};

fn run(id: &str, status: &str) -> Value {
    json!({"data": {
        "id": id, "actId": "a", "userId": "u", "startedAt": "2026-01-01T00:00:00.000Z", "status": status,
        "meta": {"origin": "API"}, "stats": {}, "options": {"build": "latest", "timeoutSecs": 0, "memoryMbytes": 1024, "diskMbytes": 2048},
        "buildId": "b", "defaultKeyValueStoreId": "k", "defaultDatasetId": "d", "defaultRequestQueueId": "q",
        "generalAccess": "FOLLOW_USER_SETTING"
    }})
}

/// A run's default dataset holding `counted` items by its `itemCount`.
fn dataset(counted: u64) -> MockResponse {
    MockResponse::json(
        200,
        json!({"data": {"id": "d", "userId": "u", "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z", "accessedAt": "2026-01-01T00:00:00.000Z",
            "itemCount": counted, "cleanItemCount": counted, "consoleUrl": "x"}}),
    )
}

fn client(mock: &MockClient) -> ApifyClient<MockClient> {
    ApifyClient::with_custom_http_client(Config::new().with_token("t"), mock.clone())
}

fn polls(reqs: &[MockRequest]) -> Vec<String> {
    reqs.iter().map(|r| r.query("waitForFinish").unwrap_or_default()).collect()
}

#[test]
fn wait_for_finish_long_polls_through_429_and_5xx_until_terminal() {
    let mock = MockClient::scripted(vec![
        MockResponse::json(200, run("r1", "RUNNING")).after(Duration::from_secs(60)),
        MockResponse::error(500, "internal-error", "boom"),
        MockResponse::error(429, "rate-limit-exceeded", "slow down"),
        MockResponse::json(200, run("r1", "RUNNING")).after(Duration::from_secs(60)),
        MockResponse::json(200, run("r1", "SUCCEEDED")).after(Duration::from_secs(3)),
    ]);
    let got = client(&mock).run("r1").wait_for_finish(None).send().unwrap().expect("the run");
    assert_eq!(got.status, ActorJobStatus::Succeeded);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 5);
    assert!(reqs.iter().all(|r| r.uri.path() == "/v2/actor-runs/r1"));
    // No deadline: the server is asked to hold each poll as long as it may; no timeout of ours.
    assert_eq!(polls(&reqs), ["999999"; 5]);
    assert!(reqs.iter().all(|r| r.timeout.is_none()), "polls have no timeout");
    // A 250 ms pause after each answered poll; the retries' own backoffs in between.
    let sleeps = mock.sleeps();
    assert_eq!(sleeps.iter().filter(|d| **d == Duration::from_millis(250)).count(), 2, "{sleeps:?}");
    assert!(sleeps.len() >= 4, "{sleeps:?}");
}

#[test]
fn a_deadline_returns_the_job_as_last_seen() {
    // The server holds a poll for what it is asked, at most 60 s.
    let mock = MockClient::new(|req| {
        let secs: u64 = req.query("waitForFinish").and_then(|s| s.parse().ok()).unwrap_or(0);
        MockResponse::json(200, run("r1", "RUNNING")).after(Duration::from_secs(secs.min(60)))
    });
    let got = client(&mock).run("r1").wait_for_finish(Some(Duration::from_secs(75))).send().unwrap().unwrap();
    assert_eq!(got.status, ActorJobStatus::Running);
    // 75 s: a 60 s poll, a 250 ms pause, then the rest (14 whole seconds), then over.
    // Then, like the official client, polls of `0` every 250 ms until the deadline.
    let p = polls(&mock.requests());
    assert_eq!(p[..2], ["75", "14"]);
    assert!(p[2..].iter().all(|s| s == "0") && p.len() <= 6, "{p:?}");
    assert!(mock.now() >= Duration::from_secs(75) && mock.now() < Duration::from_secs(76), "{:?}", mock.now());
}

#[test]
fn a_missing_job_gets_three_seconds_of_grace_then_none() {
    // Missing for a while (replicas catching up), then found.
    let mock = MockClient::scripted(vec![
        MockResponse::error(404, "record-not-found", "no run"),
        MockResponse::error(404, "record-not-found", "no run").after(Duration::from_secs(1)),
        MockResponse::error(404, "record-not-found", "no run").after(Duration::from_secs(1)),
        MockResponse::json(200, run("r1", "SUCCEEDED")),
    ]);
    let got = client(&mock).run("r1").wait_for_finish(None).send().unwrap();
    assert_eq!(got.map(|r| r.status), Some(ActorJobStatus::Succeeded));

    // Missing for good: `None` once the grace is over, not an error, not forever.
    let mock =
        MockClient::new(|_| MockResponse::error(404, "record-not-found", "no run").after(Duration::from_millis(500)));
    let got = client(&mock).run("r1").wait_for_finish(None).send().unwrap();
    assert!(got.is_none());
    let n = mock.requests().len();
    assert!((4..=6).contains(&n), "{n} polls");
    assert!(mock.now() > Duration::from_secs(3) && mock.now() < Duration::from_secs(5), "{:?}", mock.now());

    // Any other error ends the wait at once.
    let mock = MockClient::new(|_| MockResponse::error(403, "insufficient-permissions", "no"));
    let e = client(&mock).build("b1").wait_for_finish(None).send().unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::FORBIDDEN));
}

#[test]
fn call_starts_then_waits_on_the_new_run_with_its_deadline() {
    let mock = MockClient::new(|req| match (req.method.as_str(), req.uri.path()) {
        ("POST", "/v2/actors/john~a/runs") => MockResponse::json(201, run("new-run", "READY")),
        ("GET", "/v2/actor-runs/new-run") => {
            MockResponse::json(200, run("new-run", "RUNNING")).after(Duration::from_secs(2))
        }
        other => panic!("unexpected {other:?}"),
    });
    let got = client(&mock)
        .actor("john/a")
        .call()
        .input(json!({"n": 1}))
        .memory_mbytes(512u64)
        .wait_duration(Duration::from_secs(5))
        .send()
        .unwrap()
        .unwrap();
    assert_eq!((got.id.as_str(), &got.status), ("new-run", &ActorJobStatus::Running));
    let reqs = mock.requests();
    assert_eq!(reqs[0].query("memory").as_deref(), Some("512"));
    assert_eq!(reqs[0].text(), r#"{"n":1}"#);
    assert_eq!(reqs[0].timeout, None, "call() starts with no timeout (the tier `none`)");
    let p = polls(&reqs[1..]);
    assert_eq!(p[..2], ["5", "2"], "polls count down the deadline");
    assert!(p[2..].iter().all(|s| s == "0"), "{p:?}");

    // The call's timeout applies to the start, not to the polls.
    let mock = MockClient::new(|req| match req.method.as_str() {
        "POST" => MockResponse::json(201, run("r2", "READY")),
        _ => MockResponse::json(200, run("r2", "SUCCEEDED")),
    });
    client(&mock).task("t").call().timeout(Duration::from_secs(7)).send().unwrap();
    let reqs = mock.requests();
    assert_eq!(reqs[0].timeout, Some(Duration::from_secs(7)));
    assert_eq!(reqs[1].timeout, None);
}

#[test]
fn a_start_waits_for_resources_when_asked_and_only_then() {
    let limited = || MockResponse::error(402, "actor-memory-limit-exceeded", "no memory");
    let mock = MockClient::scripted(vec![limited(), limited(), MockResponse::json(201, run("r", "READY"))]);
    let got = client(&mock).actor("a").start().wait_for_resources(true).send().unwrap();
    assert_eq!(got.id, "r");
    assert_eq!(mock.sleeps(), [Duration::from_secs(10), Duration::from_secs(10)]);

    // Bounded: the last pause is cut short, then the last error is returned.
    let mock = MockClient::new(move |_| limited());
    let e = client(&mock).actor("a").start().wait_for_resources(Duration::from_secs(15)).send().unwrap_err();
    assert_eq!(
        e.api_error().and_then(|a| a.error_type.as_ref()).map(|t| t.as_str()),
        Some("actor-memory-limit-exceeded")
    );
    assert_eq!(mock.sleeps(), [Duration::from_secs(10), Duration::from_secs(5)]);
    assert_eq!(mock.requests().len(), 3);

    // Not asked, or another error: at once.
    let mock = MockClient::new(move |_| limited());
    assert!(client(&mock).actor("a").start().send().is_err());
    assert_eq!(mock.requests().len(), 1);
    let mock = MockClient::new(|_| MockResponse::error(400, "invalid-input", "bad"));
    assert!(client(&mock).actor("a").start().wait_for_resources(true).send().is_err());
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn a_charge_makes_its_key_once_and_every_retry_sends_it() {
    let key_of = |seed: u64| {
        let mock = MockClient::scripted(vec![
            MockResponse::error(500, "internal-error", "x"),
            MockResponse::transport(apify_core::error::TransportErrorKind::ConnectionClosed),
            MockResponse::json(201, json!({})),
        ])
        .with_seed(seed);
        client(&mock).run("r1").charge("ANALYZE_PAGE").count(3).send().unwrap();
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 3);
        let keys: Vec<_> = reqs.iter().map(|r| r.header("idempotency-key").unwrap().to_owned()).collect();
        assert!(keys.iter().all(|k| k == &keys[0]), "one key for every attempt: {keys:?}");
        assert_eq!(reqs[0].text(), r#"{"eventName":"ANALYZE_PAGE","count":3}"#);
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        keys[0].clone()
    };
    let a = key_of(42);
    // `{runId}-{eventName}-{epochMillis}-{6 random}`, the time from the driver's wall clock.
    let (prefix, suffix) = a.rsplit_once('-').unwrap();
    assert_eq!(prefix, "r1-ANALYZE_PAGE-1767225600000");
    assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()), "{a}");
    assert_eq!(a, key_of(42), "the same seed makes the same key");
    assert_ne!(a, key_of(43), "another seed, another key");
    assert!(Charge::generated_key("r1", "ANALYZE_PAGE", 1_767_225_600_000, 7).starts_with("r1-ANALYZE_PAGE-"));

    // A key of the caller's is sent as it is; an empty event is refused before sending.
    let mock = MockClient::new(|_| MockResponse::json(201, json!({})));
    client(&mock).run("r1").charge("E").idempotency_key("mine").send().unwrap();
    assert_eq!(mock.requests()[0].header("idempotency-key"), Some("mine"));
    let e = client(&mock).run("r1").charge("").send().unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)));
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn batch_adds_in_parallel_keep_the_order_of_results() {
    use apify_core::models::Request;
    // Later batches answer sooner: the merged result must still follow the input order.
    let mock = MockClient::new(|req| {
        let body: Vec<Value> = serde_json::from_slice(&req.body).unwrap();
        let first = body[0]["uniqueKey"].as_str().unwrap().to_owned();
        let n: u64 = first.trim_start_matches('k').parse().unwrap();
        let processed: Vec<Value> =
            body.iter().map(|r| json!({"uniqueKey": r["uniqueKey"], "requestId": r["uniqueKey"], "wasAlreadyPresent": false, "wasAlreadyHandled": false})).collect();
        MockResponse::json(201, json!({"data": {"processedRequests": processed, "unprocessedRequests": []}}))
            .after(Duration::from_millis(1000 - n))
    });
    let requests: Vec<Request> =
        (0..100).map(|i| Request::new(format!("k{i}"), format!("https://e.com/{i}"))).collect();
    let got = client(&mock).request_queue("q").batch_add_requests(&requests).max_parallel(3).send().unwrap();
    let keys: Vec<_> = got.processed_requests.iter().map(|p| p.unique_key.clone()).collect();
    let want: Vec<_> = (0..100).map(|i| format!("k{i}")).collect();
    assert_eq!(keys, want);
    assert_eq!(mock.requests().len(), 4, "batches of 25");
}

#[test]
fn timeouts_of_the_new_operations_follow_their_tiers() {
    let mock = MockClient::new(|_| MockResponse::json(200, json!({"data": {}})));
    let c = client(&mock);
    let t = |r: Result<apify_core::request::ApiRequest, Error>| r.unwrap().timeout;
    assert_eq!(t(c.actor("a").get().request()), Timeout::Tier(TimeoutTier::Short));
    assert_eq!(t(c.actor("a").start().request()), Timeout::Tier(TimeoutTier::Medium));
    assert_eq!(t(c.run("r").wait_for_finish(None).request()), Timeout::Tier(TimeoutTier::None));
    assert_eq!(t(c.log("r").get().request()), Timeout::Tier(TimeoutTier::Long));
}

#[test]
fn live_items_of_a_running_actor_are_read_as_they_come_and_none_is_missed() {
    // The run pushes items while it runs; `itemCount` lags behind the items that exist.
    #[derive(Default)]
    struct World {
        waits: u32,
    }
    let world = Arc::new(Mutex::new(World::default()));
    let w = world.clone();
    let mock = MockClient::new(move |req| {
        let mut w = w.lock().unwrap();
        let (exists, counted) = match w.waits {
            0 => (4, 3),
            1 => (8, 7),
            _ => (9, 7),
        };
        match req.uri.path() {
            "/v2/actors/a/runs/last" => MockResponse::json(200, run("r1", "RUNNING")),
            "/v2/actor-runs/r1" => {
                assert_eq!(req.query("waitForFinish").as_deref(), Some("5"));
                w.waits += 1;
                let status = if w.waits >= 2 { "SUCCEEDED" } else { "RUNNING" };
                MockResponse::json(200, run("r1", status)).after(Duration::from_secs(5))
            }
            "/v2/actor-runs/r1/dataset" => dataset(counted),
            "/v2/actor-runs/r1/dataset/items" => {
                let offset: u64 = req.query("offset").unwrap().parse().unwrap();
                let limit: u64 = req.query("limit").unwrap().parse().unwrap();
                let items: Vec<Value> = (offset..exists.min(offset + limit)).map(|i| json!({"i": i})).collect();
                let count = items.len().to_string();
                MockResponse::json(200, Value::Array(items)).header("x-apify-pagination-count", &count)
            }
            other => panic!("unexpected {other}"),
        }
    });
    let got: Vec<u64> = client(&mock)
        .actor("a")
        .last_run()
        .iterate_dataset_items()
        .map_plan(|p| p.chunk_size(2))
        .map(|r| r.unwrap()["i"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (0..9).collect::<Vec<_>>(), "every item once, in order");
    assert_eq!(world.lock().unwrap().waits, 2);
    let paths: Vec<String> = mock.requests().iter().map(|r| r.uri.path().to_owned()).collect();
    assert_eq!(paths[0], "/v2/actors/a/runs/last", "the last run is resolved first");
    assert!(paths[1..].iter().all(|p| p.starts_with("/v2/actor-runs/r1")), "{paths:?}");
}

#[test]
fn a_driver_without_clock_or_timer_still_ends_a_wait() {
    use apify_core::client::{BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, Environment};
    // No clock, no timer: time stands still, so the grace and the deadline are counted in
    // polls instead.
    struct Stuck(MockClient);
    impl Environment for Stuck {}
    impl BlockingHttpClient for Stuck {
        fn call(&self, r: BlockingHttpRequest) -> Result<BlockingHttpResponse, apify_core::error::TransportError> {
            self.0.call(r)
        }
    }
    let mock = MockClient::new(|_| MockResponse::error(404, "record-not-found", "no run"));
    let c = ApifyClient::with_custom_http_client(Config::new(), Stuck(mock.clone()));
    assert!(c.run("r").wait_for_finish(None).send().unwrap().is_none());
    assert!(mock.requests().len() <= 16, "{} polls", mock.requests().len());

    let mock = MockClient::new(|_| MockResponse::json(200, run("r", "RUNNING")));
    let c = ApifyClient::with_custom_http_client(Config::new(), Stuck(mock.clone()));
    let got = c.run("r").wait_for_finish(Some(Duration::from_secs(2))).send().unwrap().unwrap();
    assert_eq!(got.status, ActorJobStatus::Running);
    assert!(mock.requests().len() <= 10, "{} polls", mock.requests().len());
}

/// A finished run (`r1`) whose dataset holds `rows` (`{}` for an empty row); `itemCount`
/// says `counted`. Items pages honour `offset`, `limit` and `clean` (empty rows skipped but
/// counted as scanned only when something is returned, as a filter-emptied page reports
/// no scanned rows).
fn finished_run_with(rows: Vec<Value>, counted: u64) -> MockClient {
    MockClient::new(move |req| match req.uri.path() {
        "/v2/actor-runs/r1" => MockResponse::json(200, run("r1", "SUCCEEDED")),
        "/v2/actor-runs/r1/dataset" => dataset(counted),
        "/v2/actor-runs/r1/dataset/items" => {
            let offset: usize = req.query("offset").unwrap().parse().unwrap();
            let limit: usize = req.query("limit").unwrap().parse().unwrap();
            let window: Vec<Value> = rows.iter().skip(offset).take(limit).cloned().collect();
            let clean = req.query("clean").as_deref() == Some("true");
            let items: Vec<Value> =
                window.iter().filter(|v| !clean || v.as_object().is_some_and(|o| !o.is_empty())).cloned().collect();
            let count = if items.is_empty() { 0 } else { window.len() };
            MockResponse::json(200, Value::Array(items)).header("x-apify-pagination-count", &count.to_string())
        }
        other => panic!("unexpected {other}"),
    })
}

#[test]
fn live_items_honour_offset_and_limit() {
    let rows: Vec<Value> = (0..20).map(|i| json!({"i": i})).collect();
    let mock = finished_run_with(rows, 20);
    let got: Vec<u64> = client(&mock)
        .run("r1")
        .iterate_dataset_items()
        .map_plan(|p| p.offset(5).limit(7).chunk_size(3))
        .map(|r| r.unwrap()["i"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (5..12).collect::<Vec<_>>());
}

#[test]
fn live_items_drain_past_rows_the_filters_skip_and_end() {
    // Rows 4..8 are empty: with `clean` a page of them comes back empty, so a plain read
    // must confirm there is more before the drain goes on (and it must not loop).
    let mut rows: Vec<Value> = (0..4).map(|i| json!({"i": i})).collect();
    rows.extend((0..4).map(|_| json!({})));
    rows.extend((8..10).map(|i| json!({"i": i})));
    // `itemCount` lags: it says 4 of the 10 rows.
    let mock = finished_run_with(rows, 4);
    let got: Vec<u64> = client(&mock)
        .run("r1")
        .iterate_dataset_items()
        .map_plan(|p| p.clean(true).chunk_size(4))
        .map(|r| r.unwrap()["i"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [0, 1, 2, 3, 8, 9]);
    assert!(mock.requests().len() < 20, "{} requests", mock.requests().len());
    assert!(mock.requests().iter().all(|r| r.timeout.is_none() || r.timeout == Some(Duration::from_secs(360))));
}

#[test]
fn an_actor_scoped_run_sends_what_its_routes_lack_to_the_run_itself() {
    let mock = MockClient::new(|_| MockResponse::error(404, "record-not-found", "x"));
    let c = client(&mock);
    let path = |r: Result<apify_core::request::ApiRequest, Error>| r.unwrap().uri.path().to_owned();
    let run = c.actor("john/a").run("r1");
    assert_eq!(path(run.get().request()), "/v2/actors/john~a/runs/r1");
    assert_eq!(path(run.abort().request()), "/v2/actors/john~a/runs/r1/abort");
    assert_eq!(path(run.resurrect().request()), "/v2/actors/john~a/runs/r1/resurrect");
    assert_eq!(path(run.update().request()), "/v2/actor-runs/r1");
    assert_eq!(path(run.reboot().request()), "/v2/actor-runs/r1/reboot");
    assert_eq!(path(run.dataset().list_items().request()), "/v2/actor-runs/r1/dataset/items");
    assert_eq!(path(run.log().get().request()), "/v2/actor-runs/r1/log");

    // A task's input is a fixed sub-resource: its 404 is an error; an input is sent as given.
    assert!(c.task("t").get_input().send().unwrap_err().is_not_found());
    let req = c.task("t").update_input(json!({"proxy": {}, "q": 1})).request().unwrap();
    assert_eq!(&req.body[..], br#"{"proxy":{},"q":1}"#);
}
