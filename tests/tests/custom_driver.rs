//! A user's own blocking HTTP client (the `ureq` example driver) runs the same client tree
//! with no async runtime; a client without a timer gets a clear error instead of a retry.

use std::time::Duration;

use apify_core::client::{
    ApifyClient, BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingResponseBody, Environment,
};
use apify_core::config::Config;
use apify_core::error::{Error, GiveUpReason, TransportError, TransportErrorKind};
use apify_examples::ureq_driver::UreqClient;
use apify_tests::{Reply, ScriptedServer};
use serde_json::{Value, json};

fn config(server: &ScriptedServer) -> Config {
    Config::new()
        .with_token("tok")
        .with_api_url(&server.base_url())
        .unwrap()
        .with_min_delay_between_retries(Duration::from_millis(20))
}

#[test]
fn blocking_driver_runs_the_same_tree_with_retries() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(502));
    server.enqueue(Reply::items_page(&[json!({"n": 1})], 0, 10, 1, false).gzip());
    let client = ApifyClient::with_custom_http_client(config(&server), UreqClient::default());
    let page = client.dataset("d").list_items().limit(10u64).send().unwrap();
    assert_eq!(page.items, [json!({"n": 1})]);
    assert_eq!(server.request_count(), 2);
    let reqs = server.requests();
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(20));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer tok"));
}

#[test]
fn blocking_iteration_is_an_iterator() {
    let server = ScriptedServer::start();
    server.route(http::Method::GET, "/v2/key-value-stores/s/keys", |req| {
        let start: u32 = req.query_param("exclusiveStartKey").map_or(0, |k| k[1..].parse::<u32>().unwrap() + 1);
        let keys: Vec<Value> = (start..(start + 2).min(5)).map(|i| json!({"key": format!("k{i}"), "size": i, "recordPublicUrl": "u"})).collect();
        let next = (start + 2 < 5).then(|| format!("k{}", start + 1));
        Reply::json(200, json!({"data": {"items": keys, "count": keys.len(), "limit": 2, "isTruncated": next.is_some(), "nextExclusiveStartKey": next}}))
    });
    let client = ApifyClient::with_custom_http_client(config(&server), UreqClient::default());
    let keys: Vec<String> = client.key_value_store("s").iterate_keys().chunk_size(2).map(|k| k.unwrap().key).collect();
    assert_eq!(keys, ["k0", "k1", "k2", "k3", "k4"]);
    let q: Vec<_> = server.requests().iter().map(|r| r.query().unwrap_or("").to_owned()).collect();
    assert_eq!(q, ["limit=2", "limit=2&exclusiveStartKey=k1", "limit=2&exclusiveStartKey=k3"]);
}

#[test]
fn compressed_bodies_are_decoded_by_the_core_codec() {
    let server = ScriptedServer::start();
    let big: Vec<Value> = (0..3000).map(|i| json!({"i": i, "t": "ééé"})).collect();
    server.enqueue(Reply::json(200, Value::Array(big.clone())).gzip());
    server.enqueue(Reply::json(200, Value::Array(big.clone())).brotli());
    let client = ApifyClient::with_custom_http_client(config(&server), UreqClient::default());
    let streamed: Vec<Value> =
        client.dataset("d").stream_items().send().unwrap().items::<Value>().map(Result::unwrap).collect();
    assert_eq!(streamed, big);
    let bytes = client.dataset("d").get_items_as_bytes().send().unwrap();
    assert_eq!(serde_json::from_slice::<Vec<Value>>(&bytes).unwrap(), big);
    assert!(server.requests()[0].header("accept-encoding").unwrap().contains("br"));
}

#[test]
fn blocking_streams_read_and_upload() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, json!([{"a": 1}, {"a": 2}, {"a": 3}])));
    server.enqueue(Reply::json(201, json!({})));
    let client = ApifyClient::with_custom_http_client(config(&server), UreqClient::default());
    let items: Vec<Value> =
        client.dataset("d").stream_items().send().unwrap().items::<Value>().map(Result::unwrap).collect();
    assert_eq!(items.len(), 3);
    let data = vec![42u8; 300_000];
    client
        .key_value_store("s")
        .upload_record("blob", "application/octet-stream", std::io::Cursor::new(data.clone()))
        .send()
        .unwrap();
    assert_eq!(server.requests()[1].body, data);
}

/// The smallest possible driver: no timer, no clock.
struct NoTimer;

impl Environment for NoTimer {}

impl BlockingHttpClient for NoTimer {
    fn call(&self, _: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
        Ok(BlockingHttpResponse {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            headers: http::HeaderMap::new(),
            body: BlockingResponseBody::Reader(Box::new(std::io::empty())),
        })
    }
}

#[test]
fn a_driver_without_timer_gets_a_clear_error_not_a_panic() {
    let client = ApifyClient::with_custom_http_client(Config::new(), NoTimer);
    let err = client.dataset("d").get().send().unwrap_err();
    let Error::GaveUp { reason: GiveUpReason::NoTimer { delay }, attempts: 1, .. } = &err else {
        panic!("unexpected {err:?}")
    };
    assert!(*delay >= Duration::from_millis(500));
    assert!(err.to_string().contains("no timer"), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    // With no wait needed, retries work without a timer.
    let client =
        ApifyClient::with_custom_http_client(Config::new().with_min_delay_between_retries(Duration::ZERO), NoTimer);
    let err = client.dataset("d").get().send().unwrap_err();
    assert_eq!(err.attempts(), Some(5));
}

#[test]
fn transport_failures_are_typed() {
    // Nothing listens on this port once the server is dropped.
    let url = {
        let s = ScriptedServer::start();
        s.base_url()
    };
    let cfg = Config::new()
        .with_api_url(&url)
        .unwrap()
        .with_max_retries(1)
        .with_min_delay_between_retries(Duration::from_millis(1));
    let client = ApifyClient::with_custom_http_client(cfg, UreqClient::default());
    let err = client.dataset("d").get().send().unwrap_err();
    let t = err.transport_error().expect("a transport error");
    assert_eq!(t.kind(), TransportErrorKind::Connect);
    assert_eq!(err.attempts(), Some(2), "connect failures are retried");
    assert!(err.to_string().contains("/v2/datasets/d"), "{err}");
}
