//! A scripted stand-in for the parts of the API the walk-throughs use, on 127.0.0.1 (the
//! examples never reach the internet).

use std::time::Duration;

use apify_tests::{Reply, ScriptedServer, run_json};
use http::Method;
use serde_json::json;

/// The log the fake run writes.
pub const LOG: &str = "2026-01-01T00:00:01.000Z ACTOR: Pulling container image\n\
    2026-01-01T00:00:02.000Z INFO  Hello from the run\n\
    2026-01-01T00:00:03.000Z WARN  Almost done\n";

/// A server answering the walk-through's requests.
pub fn start() -> ScriptedServer {
    let server = ScriptedServer::start();
    server.route(Method::POST, "/v2/actors", |req| {
        let body = req.json();
        Reply::json(
            201,
            json!({"data": {
                "id": "HG7ML7M8z78YcAPEB", "userId": "u", "name": body["name"], "username": "john-doe",
                "isPublic": false, "createdAt": "2026-01-01T00:00:00.000Z", "modifiedAt": "2026-01-01T00:00:00.000Z",
                "stats": {}, "versions": [], "defaultRunOptions": body["defaultRunOptions"]
            }}),
        )
    });
    server
        .route(Method::POST, "/v2/actors/john-doe~hello-world/runs", |_| Reply::json(201, run_json("run-1", "READY")));
    server.route(Method::GET, "/v2/actor-runs/run-1", |_| {
        Reply::run("run-1", "SUCCEEDED").delay(Duration::from_millis(50))
    });
    server.route(Method::GET, "/v2/actors/john-doe~hello-world/runs", |_| {
        Reply::json(
            200,
            json!({"data": {"total": 2, "offset": 0, "limit": 10, "count": 2, "desc": true, "items": [
                {"id": "run-1", "actId": "a", "status": "SUCCEEDED", "startedAt": "2026-01-01T00:00:00.000Z",
                 "buildId": "b", "buildNumber": "0.0.1", "meta": {"origin": "API"}, "usageTotalUsd": 0.0,
                 "defaultKeyValueStoreId": "k", "defaultDatasetId": "d", "defaultRequestQueueId": "q"},
                {"id": "run-0", "actId": "a", "status": "FAILED", "startedAt": "2025-12-31T00:00:00.000Z",
                 "buildId": "b", "buildNumber": "0.0.1", "meta": {"origin": "API"}, "usageTotalUsd": 0.0,
                 "defaultKeyValueStoreId": "k", "defaultDatasetId": "d", "defaultRequestQueueId": "q"}
            ]}}),
        )
    });
    server.route(Method::GET, "/v2/actors/john-doe~hello-world/runs/last/dataset/items", |req| {
        assert_eq!(req.query_param("status").as_deref(), Some("SUCCEEDED"));
        Reply::items_page(&[json!({"greeting": "hi", "n": 1}), json!({"greeting": "hi", "n": 2})], 0, 2, 2, false)
    });
    server.route(Method::GET, "/v2/actor-runs/run-1/log", |_| Reply::log(LOG).drip(16, Duration::from_millis(5)));
    server
}
