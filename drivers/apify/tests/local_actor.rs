//! The SDK on local storage: the Python SDK's semantics, with our fixes (W8, W9, W11).

use std::path::Path;

use apify::{Actor, Configuration, ExportFormat, GetData, OpenOptions, RecordValue, RequestSpec};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

fn config(dir: &Path) -> Configuration {
    Configuration {
        storage_dir: dir.join("storage"),
        local_durability: apify_local::fsio::Durability::Relaxed,
        ..Configuration::default()
    }
}

async fn actor(dir: &Path) -> Actor {
    Actor::with_config(config(dir)).await.unwrap()
}

#[tokio::test]
async fn datasets_push_read_iterate_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let a = actor(dir.path()).await;
    a.push_data(&json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1})).await.unwrap();
    a.push_data(&json!([{"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}}, {"n": 3, "extra": null}]))
        .await
        .unwrap();
    // The item file is byte-identical to the Python SDK's (local-storage-format §11).
    let first = std::fs::read_to_string(dir.path().join("storage/datasets/default/000000001.json")).unwrap();
    assert_eq!(first, "{\n  \"url\": \"https://a.example\",\n  \"title\": \"Ä unicode ✓\",\n  \"n\": 1\n}");

    let ds = a.open_dataset(OpenOptions::new()).await.unwrap();
    let page = ds.get_data(GetData::new().offset(1).limit(5)).await.unwrap();
    assert_eq!((page.count, page.offset, page.limit, page.total, page.desc), (2, 1, 5, 3, false));
    assert_eq!(page.items[1], json!({"n": 3, "extra": null}));
    let desc: Vec<Value> = ds.get_data(GetData::new().desc(true)).await.unwrap().items;
    assert_eq!(desc.iter().map(|i| i["n"].as_u64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    let all: Vec<Value> = ds.iterate_items(GetData::new().fields(["n"])).try_collect().await.unwrap();
    assert_eq!(all, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);

    // Non-objects are refused (W11), NaN too; nothing is written.
    assert!(a.push_data(&json!(["a", "b"])).await.is_err());
    assert!(a.push_data(&json!("abc")).await.is_err());
    assert!(a.push_data(&[f64::NAN]).await.is_err());
    assert_eq!(ds.get_info().await.unwrap().unwrap().item_count, 3);

    let kvs = a.open_key_value_store(OpenOptions::new()).await.unwrap();
    ds.export_to("EXPORT_CSV", ExportFormat::Csv { collect_all_keys: false }, &kvs).await.unwrap();
    ds.export_to("EXPORT_JSON", ExportFormat::Json, &kvs).await.unwrap();
    let csv = std::fs::read_to_string(dir.path().join("storage/key_value_stores/default/EXPORT_CSV")).unwrap();
    assert_eq!(csv, "url,title,n\nhttps://a.example,Ä unicode ✓,1\nhttps://b.example,,2\n,,3\n");
    // W9: a real JSON array, not a JSON string holding one.
    let exported = kvs.get_value("EXPORT_JSON").await.unwrap().unwrap();
    let RecordValue::Json(Value::Array(items)) = exported else { panic!("{exported:?}") };
    assert_eq!(items.len(), 3);
    a.exit().await.unwrap();
}

#[tokio::test]
async fn values_keep_their_types_and_content_types() {
    let dir = tempfile::tempdir().unwrap();
    let a = actor(dir.path()).await;
    let kvs = a.open_key_value_store(OpenOptions::new()).await.unwrap();
    kvs.set_value("DICT", &json!({"a": 1, "b": [1, 2], "u": "ü"})).await.unwrap();
    kvs.set_value("STR", "hello text").await.unwrap();
    kvs.set_value("INT", &42).await.unwrap();
    kvs.set_value("BOOL", &true).await.unwrap();
    kvs.set_value("NULL", &Value::Null).await.unwrap();
    kvs.set_value_with_content_type("BYTES", vec![0u8, 1, 2, b'b'], "application/octet-stream").await.unwrap();
    kvs.set_value_with_content_type("CSV", "a,b\n1,2\n", "text/csv").await.unwrap();
    kvs.set_value_with_content_type("RAWJSON", r#"{"a":1}"#, "application/json").await.unwrap();
    // W8: text declared as JSON must be JSON.
    assert!(kvs.set_value_with_content_type("BAD", "not json", "application/json").await.is_err());

    let dict = std::fs::read_to_string(dir.path().join("storage/key_value_stores/default/DICT")).unwrap();
    assert_eq!(dict, "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"u\": \"ü\"\n}");
    let sidecar =
        std::fs::read_to_string(dir.path().join("storage/key_value_stores/default/DICT.__metadata__.json")).unwrap();
    assert_eq!(
        sidecar,
        "{\n  \"key\": \"DICT\",\n  \"content_type\": \"application/json; charset=utf-8\",\n  \"size\": 52\n}"
    );

    assert_eq!(kvs.get_value("STR").await.unwrap(), Some(RecordValue::Text("hello text".into())));
    assert_eq!(kvs.get_value_as::<i64>("INT").await.unwrap(), Some(42), "numbers stay numbers (W8)");
    assert_eq!(kvs.get_value_as::<bool>("BOOL").await.unwrap(), Some(true));
    assert_eq!(kvs.get_value("NULL").await.unwrap(), Some(RecordValue::Json(Value::Null)));
    assert_eq!(kvs.get_value("BYTES").await.unwrap(), Some(RecordValue::Bytes(vec![0u8, 1, 2, b'b'].into())));
    assert_eq!(kvs.get_value("CSV").await.unwrap(), Some(RecordValue::Text("a,b\n1,2\n".into())));
    assert_eq!(kvs.get_value_as::<Value>("RAWJSON").await.unwrap(), Some(json!({"a": 1})));
    assert_eq!(kvs.get_value("MISSING").await.unwrap(), None);
    assert!(kvs.record_exists("NULL").await.unwrap());
    kvs.delete_value("STR").await.unwrap();
    kvs.delete_value("STR").await.unwrap();
    assert!(!kvs.record_exists("STR").await.unwrap());

    kvs.set_value("weird key/with spaces?&#", "v").await.unwrap();
    let url = kvs.get_public_url("weird key/with spaces?&#").await.unwrap();
    assert!(
        url.starts_with("file:///")
            && url.ends_with("/storage/key_value_stores/default/weird%2520key%252Fwith%2520spaces%253F%2526%2523"),
        "{url}"
    );
    let keys: Vec<String> = kvs.iterate_keys().map_ok(|k| k.key).try_collect().await.unwrap();
    assert_eq!(keys, ["BOOL", "BYTES", "CSV", "DICT", "INT", "NULL", "RAWJSON", "weird key/with spaces?&#"]);
}

#[tokio::test]
async fn input_from_an_input_json_without_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("storage/key_value_stores/default");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("INPUT.json"), r#"{"startUrls": [{"url": "https://example.com"}], "maxItems": 3}"#)
        .unwrap();
    let a = actor(dir.path()).await;
    let input: Value = a.get_input().await.unwrap().unwrap();
    assert_eq!(input["maxItems"], 3);
    // Purge on start kept the input file and gave it a sidecar (§6, W7).
    assert!(store.join("INPUT.json.__metadata__.json").exists());
}

#[tokio::test]
async fn purge_on_start_empties_unnamed_storages_only() {
    let dir = tempfile::tempdir().unwrap();
    {
        let a = actor(dir.path()).await;
        a.push_data(&json!({"run": 1})).await.unwrap();
        a.open_dataset(OpenOptions::new().name("kept")).await.unwrap().push_data(&json!({"run": 1})).await.unwrap();
        a.open_dataset(OpenOptions::new().alias("scratch")).await.unwrap().push_data(&json!({"run": 1})).await.unwrap();
        a.set_value("OLD", "x").await.unwrap();
        a.exit().await.unwrap();
    }
    {
        let a = actor(dir.path()).await;
        let default = a.open_dataset(OpenOptions::new()).await.unwrap();
        assert_eq!(default.get_data(GetData::new()).await.unwrap().total, 0);
        let kept = a.open_dataset(OpenOptions::new().name("kept")).await.unwrap();
        assert_eq!(kept.get_data(GetData::new()).await.unwrap().total, 1);
        let scratch = a.open_dataset(OpenOptions::new().alias("scratch")).await.unwrap();
        assert_eq!(scratch.get_data(GetData::new()).await.unwrap().total, 0);
        assert!(a.get_value("OLD").await.unwrap().is_none());
        // Opening by ID gives the same storage, and it is not purged twice.
        kept.push_data(&json!({"run": 2})).await.unwrap();
        let by_id = a.open_dataset(OpenOptions::new().id(kept.id())).await.unwrap();
        assert_eq!(by_id.get_data(GetData::new()).await.unwrap().total, 2);
    }
    // Every handle of the previous run is gone, so its storage locks are released.

    let mut cfg = config(dir.path());
    cfg.purge_on_start = false;
    let a = Actor::with_config(cfg).await.unwrap();
    assert_eq!(
        a.open_dataset(OpenOptions::new().alias("scratch"))
            .await
            .unwrap()
            .get_data(GetData::new())
            .await
            .unwrap()
            .total,
        0
    );
    a.push_data(&json!({"run": 3})).await.unwrap();
}

#[tokio::test]
async fn request_queue_serves_in_the_reference_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = actor(dir.path()).await;
    let rq = a.open_request_queue(OpenOptions::new()).await.unwrap();
    let r1 = rq.add_request("https://Example.COM/path/?b=2&a=1&utm_source=x#frag", false).await.unwrap();
    assert_eq!((r1.unique_key.as_str(), r1.was_already_present), ("https://example.com/path?a=1&b=2", false));
    let dup = rq.add_request("https://example.com/path?a=1&b=2", false).await.unwrap();
    assert!(dup.was_already_present);
    let post = RequestSpec::from_url("https://example.com/post")
        .method("POST")
        .payload("{\"q\":1}")
        .header("content-type", "application/json")
        .use_extended_unique_key(true)
        .label("DETAIL")
        .user_data("foo", "bar");
    rq.add_request(post, false).await.unwrap();
    rq.add_requests(["https://example.com/1", "https://example.com/2", "https://example.com/3"], false).await.unwrap();
    rq.add_request("https://example.com/front", true).await.unwrap();
    rq.add_request("https://example.com/front2", true).await.unwrap();

    // The verified run of local-storage-format §11: front2, front (reclaimed), then path.
    let mut order = Vec::new();
    let r = rq.fetch_next_request().await.unwrap().unwrap();
    order.push(r.url.clone());
    rq.mark_request_as_handled(&r).await.unwrap().unwrap();
    let mut r = rq.fetch_next_request().await.unwrap().unwrap();
    order.push(r.url.clone());
    r.retry_count = Some(r.retry_count.unwrap_or(0) + 1);
    rq.reclaim_request(&r, false).await.unwrap().unwrap();
    let r = rq.fetch_next_request().await.unwrap().unwrap();
    order.push(r.url.clone());
    assert_eq!(
        order,
        [
            "https://example.com/front2",
            "https://example.com/front",
            "https://Example.COM/path/?b=2&a=1&utm_source=x#frag"
        ]
    );
    assert!(!rq.is_empty().await.unwrap());
    assert!(!rq.is_finished().await.unwrap());
    let info = rq.get_info().await.unwrap().unwrap();
    assert_eq!((info.handled_request_count, info.pending_request_count, info.total_request_count), (1, 6, 7));
    // The reclaimed request kept its new retry count and went to the end.
    let mut rest = Vec::new();
    while let Some(r) = rq.fetch_next_request().await.unwrap() {
        rest.push((r.url.clone(), r.retry_count.unwrap_or(0)));
        rq.mark_request_as_handled(&r).await.unwrap().unwrap();
    }
    assert_eq!(rest.last().unwrap(), &("https://example.com/front".to_owned(), 1));
    assert_eq!(rest.len(), 5);
    rq.mark_request_as_handled(&r).await.unwrap().unwrap();
    assert!(rq.is_empty().await.unwrap());
    assert!(rq.is_finished().await.unwrap());
    // Handled requests are remembered: adding one again does nothing.
    assert!(rq.add_request("https://example.com/1", false).await.unwrap().was_already_handled);
    // A request not in progress is not marked twice.
    assert!(rq.mark_request_as_handled(&r).await.unwrap().is_none());
}

#[tokio::test]
async fn bad_open_calls_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = actor(dir.path()).await;
    let err = a.open_dataset(OpenOptions::new().id("x").name("y")).await.unwrap_err();
    assert!(matches!(err, apify::Error::InvalidArgument(_)), "{err}");
    let err = a.open_dataset(OpenOptions::new().force_cloud()).await.unwrap_err();
    assert!(
        err.to_string().contains("you need to provide an Apify token using the APIFY_TOKEN environment variable"),
        "{err}"
    );
    let err = a.open_dataset(OpenOptions::new().name("bad_name")).await.unwrap_err();
    assert!(err.to_string().contains("bad_name"), "{err}");
    let err = a.open_dataset(OpenOptions::new().alias("../escape")).await.unwrap_err();
    assert!(err.to_string().contains("escape"), "{err}");
    assert!(!dir.path().join("storage/escape").exists() && !dir.path().join("escape").exists());
    let err = a.open_request_queue(OpenOptions::new().id("no-such-id")).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let named = a.open_dataset(OpenOptions::new().name("gone")).await.unwrap();
    named.drop().await.unwrap();
    assert!(!dir.path().join("storage/datasets/gone").exists());
}
