//! The usage guide's examples (`apify_examples::usage`) run against their scripted API and
//! give what the guide says: the binaries stay true.

use apify_examples::usage::{actors_and_runs, fake_api, run_with_redirected_log, stream_log, stream_log_blocking};
use apify_hyper::Config;
use serde_json::json;

fn config(api: &apify_tests::ScriptedServer) -> Config {
    Config::new().with_token("t").with_api_url(&api.base_url()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_and_runs_walkthrough() {
    let api = fake_api::start();
    let client = apify_hyper::ApifyClient::from_config(config(&api));
    let seen = actors_and_runs(&client).await.unwrap();
    assert_eq!(seen.actor_id, "HG7ML7M8z78YcAPEB");
    assert_eq!(seen.run_status, "SUCCEEDED");
    assert_eq!(seen.runs, ["run-1", "run-0"]);
    assert_eq!(seen.items, [json!({"greeting": "hi", "n": 1}), json!({"greeting": "hi", "n": 2})]);
    let reqs = api.requests();
    let create = reqs.iter().find(|r| r.path() == "/v2/actors").unwrap();
    assert_eq!(
        create.json(),
        json!({"name": "hello-world", "title": "Hello world", "defaultRunOptions": {"memoryMbytes": 256}})
    );
    assert!(
        reqs.iter()
            .any(|r| r.path() == "/v2/actor-runs/run-1" && r.query_param("waitForFinish").as_deref() == Some("999999"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_log_async_blocking_and_redirected() {
    let api = fake_api::start();
    let want: Vec<&str> = fake_api::LOG.lines().collect();
    let client = apify_hyper::ApifyClient::from_config(config(&api));
    assert_eq!(stream_log(&client, "run-1").await.unwrap(), want);
    let blocking = apify_isahc::ApifyClient::from_config(config(&api));
    let lines = tokio::task::spawn_blocking(move || stream_log_blocking(&blocking, "run-1")).await.unwrap().unwrap();
    assert_eq!(lines, want);
    assert_eq!(run_with_redirected_log(&client, "john-doe/hello-world").await.unwrap(), "SUCCEEDED");
    assert!(api.requests().iter().any(|r| r.path() == "/v2/actor-runs/run-1/log" && r.query_param("raw").is_some()));
}
