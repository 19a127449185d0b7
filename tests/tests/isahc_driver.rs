//! What the conformance kit does not cover for isahc: HTTP/2 and the same client used
//! both blocking and async.

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
fn one_client_blocking_and_async_shares_its_pool() {
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
