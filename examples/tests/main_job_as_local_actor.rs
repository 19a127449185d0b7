//! The main job (`examples/src/bin/actor.rs`) runs unchanged as a local Actor of the
//! emulator: started through the API, it runs at home, its queue, dataset and records on
//! the emulator, and the caller reads them back.

use apify_core::config::Config;
use apify_core::models::{ActorJobStatus, RecordValue};
use apify_hyper::ApifyClient;
use apify_local::platform::{LocalActor, PlatformOptions};
use apify_tests::Emulator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_job_runs_as_a_local_actor() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_actor").replace('\'', r"'\''");
    let options = PlatformOptions {
        actors: vec![LocalActor::new("main", &format!("'{bin}'")).unwrap()],
        workdir: dir.path().to_owned(),
        ..PlatformOptions::default()
    };
    let emulator = Emulator::with_platform(&dir.path().join("storage"), Some("t"), options);
    let client = ApifyClient::from_config(Config::new().with_token("t").with_api_url(emulator.url()).unwrap());
    let input = json!({"startUrls": [{"url": "https://example.com/"}], "maxDepth": 1, "maxItems": 10});
    let run = client.actor("main").call().input(input).await.unwrap().expect("the run exists");
    let log = client.run(&run.id).log().get().await.unwrap().unwrap_or_default();
    assert_eq!(run.status, ActorJobStatus::Succeeded, "{log}");
    // The start URL and its three links.
    let items = client.run(&run.id).dataset().list_items().await.unwrap();
    assert_eq!(items.items.len(), 4, "{:?}", items.items);
    assert_eq!(items.items[0]["url"], "https://example.com/");
    let output = client.run(&run.id).key_value_store().get_record("OUTPUT").await.unwrap().expect("OUTPUT");
    assert_eq!(output.value, RecordValue::Json(json!({"itemsPushed": 4, "requestsHandled": 4, "finished": true})));
    let csv = client.run(&run.id).key_value_store().get_record("RESULTS.csv").await.unwrap().expect("RESULTS.csv");
    assert!(matches!(&csv.value, RecordValue::Text(t) if t.lines().count() == 5), "{:?}", csv.value);
    assert!(log.contains("done; results are in the default dataset"), "{log}");
    // At home: nothing in the working directory's local storage.
    assert!(!dir.path().join("storage").join("datasets").join("default").exists());
}
