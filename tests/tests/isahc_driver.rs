//! What the conformance kit does not cover for isahc: HTTP/2, the same client used both
//! blocking and async, connection reuse and the request line of blocking calls (which run
//! curl's easy interface on the caller's thread).

use apify_core::client::ApifyClient;
use apify_core::config::Config;
use apify_isahc::IsahcClient;
use apify_tests::{Reply, ScriptedServer};
use serde_json::json;

fn dataset(id: &str) -> serde_json::Value {
    json!({"data": {"id": id, "name": null, "userId": "u1", "createdAt": "2024-01-02T03:04:05.000Z",
           "modifiedAt": "2024-01-02T03:04:05.000Z", "accessedAt": "2024-01-02T03:04:05.000Z",
           "itemCount": 2, "cleanItemCount": 2, "consoleUrl": "https://console.apify.com/x"}})
}

#[test]
fn speaks_http2_with_prior_knowledge() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, dataset("d")).gzip());
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let driver = IsahcClient::builder().http2_prior_knowledge(true).build().unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, driver);
    assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    assert_eq!(server.requests()[0].version, http::Version::HTTP_2);
}

#[test]
fn one_client_blocking_and_async() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset("d")));
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, IsahcClient::new());
    assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    let got = futures_lite::future::block_on(async { c.dataset("d").get().await });
    assert_eq!(got.unwrap().unwrap().id, "d");
    assert_eq!(server.request_count(), 2);
    assert_eq!(c.stats().calls, 2);
}

#[test]
fn blocking_calls_reuse_their_connection() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset("d")));
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, IsahcClient::new());
    for _ in 0..5 {
        assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    }
    let peers: std::collections::HashSet<_> = server.requests().iter().map(|r| r.peer).collect();
    assert_eq!(server.request_count(), 5);
    assert_eq!(peers.len(), 1, "five calls from one thread should share one connection");

    // Another thread takes the idle handle (and its connection) instead of opening one.
    let c2 = c.clone();
    std::thread::spawn(move || c2.dataset("d").get().send().unwrap()).join().unwrap();
    let peers: std::collections::HashSet<_> = server.requests().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 1);
}

#[test]
fn blocking_request_lines_and_bodies() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, json!({"data": {}})));
    let cfg = Config::new().with_token("tok").with_api_url(&server.base_url()).unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, IsahcClient::new());
    let store = c.key_value_store("s");
    store.set_record("k", json!({"a": 1})).send().unwrap();
    store.delete_record("k").send().unwrap();
    c.dataset("d").push_items(&[json!({"x": 1})]).send().unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let (put, del, post) = (&reqs[0], &reqs[1], &reqs[2]);
    assert_eq!((put.method.as_str(), put.path()), ("PUT", "/v2/key-value-stores/s/records/k"));
    assert_eq!(put.json(), json!({"a": 1}));
    assert_eq!(put.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(put.headers["content-length"], put.body.len().to_string().as_str());
    assert!(!put.headers.contains_key("expect"));
    assert_eq!(put.headers["authorization"], "Bearer tok");
    assert_eq!((del.method.as_str(), del.path()), ("DELETE", "/v2/key-value-stores/s/records/k"));
    assert!(del.body.is_empty());
    assert!(!del.headers.contains_key("content-type"), "curl must not add a form type");
    assert_eq!(post.method, "POST");
    assert_eq!(post.json(), json!([{"x": 1}]));
    for r in &reqs {
        assert!(r.headers["accept-encoding"].to_str().unwrap().contains("gzip"));
    }
}
