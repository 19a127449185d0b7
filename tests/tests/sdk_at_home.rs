//! The SDK "at home": configured by the platform's environment variables only, it talks
//! to the API (here the emulator on 127.0.0.1) through the hyper driver, and several
//! consumers share one request queue through locks, each request handled exactly once.

use std::collections::{BTreeSet, HashSet};

use apify::{Actor, Configuration, OpenOptions, RecordValue, RequestSpec};
use apify_local::storage::{ItemQuery, Target};
use apify_tests::emulator::Emulator;
use serde_json::json;

const TOKEN: &str = "at-home-token";

fn platform_env(url: &str, storage_dir: &std::path::Path, run: &str) -> Configuration {
    let vars = [
        ("APIFY_IS_AT_HOME", "1"),
        ("APIFY_TOKEN", TOKEN),
        ("APIFY_API_BASE_URL", url),
        ("APIFY_API_PUBLIC_BASE_URL", url),
        ("ACTOR_DEFAULT_DATASET_ID", "default"),
        ("ACTOR_DEFAULT_KEY_VALUE_STORE_ID", "default"),
        ("ACTOR_DEFAULT_REQUEST_QUEUE_ID", "default"),
        ("ACTOR_INPUT_KEY", "MY_INPUT"),
        ("ACTOR_RUN_ID", run),
        // Must be ignored at home: nothing may be written there.
        ("APIFY_LOCAL_STORAGE_DIR", storage_dir.to_str().unwrap()),
    ];
    Configuration::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storages_on_the_platform_through_the_api() {
    let served = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(served.path(), Some(TOKEN));
    let storages = emulator.storages().clone();
    let (kvs, _) = storages.open_key_value_store(&Target::Default).unwrap();
    kvs.set("MY_INPUT", br#"{"start": 7}"#, "application/json").unwrap();

    let actor = Actor::with_config(platform_env(emulator.url(), local.path(), "run-1")).await.unwrap();
    assert!(actor.is_at_home());
    assert_eq!(actor.get_input::<serde_json::Value>().await.unwrap(), Some(json!({"start": 7})));

    actor.push_data(&json!([{"n": 1}, {"n": 2}])).await.unwrap();
    actor.push_data(&json!({"n": 3})).await.unwrap();
    actor.set_value("OUTPUT", &json!({"done": true})).await.unwrap();
    actor.set_value("NOTE", "plain text").await.unwrap();

    // Everything landed on the server, nothing in the local folder.
    let (ds, _) = storages.open_dataset(&Target::Default).unwrap();
    let items = ds.get_items(&ItemQuery::default()).unwrap().items;
    assert_eq!(items, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
    let note = kvs.get("NOTE").unwrap().unwrap();
    assert!(note.content_type.starts_with("text/plain"), "{}", note.content_type);
    assert_eq!(note.value, b"plain text");
    assert!(!local.path().join("datasets").exists());

    // Typed values read back through the API.
    assert_eq!(actor.get_value("OUTPUT").await.unwrap(), Some(RecordValue::Json(json!({"done": true}))));
    assert_eq!(actor.get_value("NOTE").await.unwrap(), Some(RecordValue::Text("plain text".into())));
    assert_eq!(actor.get_value("MISSING").await.unwrap(), None);

    // A named storage is created on the server; its public URL points at the API.
    let named = actor.open_key_value_store(OpenOptions::new().name("results")).await.unwrap();
    named.set_value("A", &json!(1)).await.unwrap();
    assert!(served.path().join("key_value_stores/results/A").exists());
    let url = named.get_public_url("A").await.unwrap();
    assert!(url.starts_with(&format!("{}/v2/key-value-stores/", emulator.url())), "{url}");
    assert!(url.ends_with("/records/A"), "{url}");
    actor.exit().await.unwrap();
}

/// Two Actors (two runs, two client keys) drain one queue together: every request is
/// handled once, none is lost, and the queue ends finished for both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_share_a_queue_through_locks() {
    let served = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let emulator = Emulator::start(served.path(), Some(TOKEN));
    let a = Actor::with_config(platform_env(emulator.url(), local.path(), "run-a")).await.unwrap();
    let b = Actor::with_config(platform_env(emulator.url(), local.path(), "run-b")).await.unwrap();
    assert_ne!(a.client_key(), b.client_key());

    let qa = a.open_request_queue(OpenOptions::new().name("shared")).await.unwrap();
    let qb = b.open_request_queue(OpenOptions::new().name("shared")).await.unwrap();
    assert_eq!(qa.id(), qb.id());
    let urls: Vec<String> = (0..120).map(|i| format!("https://example.com/{i}")).collect();
    qa.add_requests(urls.iter().map(RequestSpec::from_url), false).await.unwrap();
    // Deduplicated by unique key, whoever adds.
    let again = qb.add_request(RequestSpec::from_url(&urls[0]), false).await.unwrap();
    assert!(again.was_already_present);

    async fn drain(q: &apify::RequestQueue) -> Vec<String> {
        let mut handled = Vec::new();
        loop {
            match q.fetch_next_request().await.unwrap() {
                Some(r) => {
                    q.mark_request_as_handled(&r).await.unwrap();
                    handled.push(r.url);
                    // Let the other consumer in.
                    tokio::task::yield_now().await;
                }
                None if q.is_finished().await.unwrap() => return handled,
                None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
    let (from_a, from_b) = tokio::join!(drain(&qa), drain(&qb));
    // `join!` polls both in turn, so both get work.
    assert!(!from_a.is_empty() && !from_b.is_empty(), "{} / {}", from_a.len(), from_b.len());
    let all: Vec<&String> = from_a.iter().chain(&from_b).collect();
    let distinct: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a request was handled twice");
    assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), urls.iter().cloned().collect());
    assert!(qa.is_finished().await.unwrap() && qb.is_finished().await.unwrap());
    let info = qa.get_info().await.unwrap().unwrap();
    assert_eq!((info.handled_request_count, info.pending_request_count), (120, 0));
}
