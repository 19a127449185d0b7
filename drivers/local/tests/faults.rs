//! Bad input and faults: every case ends in a typed error or a recovery, never a panic, and
//! never loses a committed item (local-storage-format.md §5–§7, §10, §12, §13 W3–W16).

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apify_core::codec::compress_request_body;
use apify_core::config::RequestCompression;
use apify_local::api::{ApiConfig, LocalApi, MAX_BODY_BYTES};
use apify_local::error::StorageError;
use apify_local::format::pyjson;
use apify_local::fsio::Durability;
use apify_local::storage::{
    ItemQuery, Kind, StorageConfig, Storages, StoredRequest, Target, validate_alias, validate_key, validate_name,
};
use apify_local::unique_key::{request_file_name, request_id};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers

fn storages(root: &Path) -> Storages {
    Storages::new(StorageConfig::new(root))
}

fn storages_with(root: &Path, durability: Durability) -> Storages {
    let mut cfg = StorageConfig::new(root);
    cfg.durability = durability;
    Storages::new(cfg)
}

fn api(root: &Path) -> LocalApi {
    LocalApi::new(Arc::new(storages(root)), ApiConfig::default())
}

fn call(api: &LocalApi, method: &str, uri: &str, body: impl Into<Bytes>, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    api.handle(b.body(body.into()).expect("building a request"))
}

fn body_json(r: &Response<Bytes>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {:?}", String::from_utf8_lossy(r.body())))
}

/// Asserts a platform error response: the status and `{"error": {"type", "message"}}`.
#[track_caller]
fn assert_api_error(r: &Response<Bytes>, status: u16, kind: &str) -> String {
    let v = body_json(r);
    assert_eq!(r.status().as_u16(), status, "unexpected status, body {v}");
    assert_eq!(v["error"]["type"], kind, "unexpected error type, body {v}");
    let message = v["error"]["message"].as_str().unwrap_or_else(|| panic!("error without message: {v}"));
    assert!(!message.is_empty());
    message.to_owned()
}

/// Every file and directory under `root`, as sorted relative paths (directories end in `/`).
fn tree(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn item_files(dir: &Path) -> Vec<String> {
    files_in(dir).into_iter().filter(|n| n.ends_with(".json") && n != "__metadata__.json").collect()
}

fn metadata(dir: &Path) -> Value {
    let bytes = fs::read(dir.join("__metadata__.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn req(key: &str) -> StoredRequest {
    StoredRequest::from_api(&json!({"uniqueKey": key, "url": format!("https://example.com/{key}")})).unwrap()
}

/// Keys of the pending requests in the order they would be served.
fn pending_order(rq: &apify_local::storage::RequestQueue) -> Vec<String> {
    let (items, ..) = rq.head(10_000, Some("order-probe")).unwrap();
    items.into_iter().map(|i| i.unique_key).collect()
}

/// A request file exactly as the Python SDK writes it (§10.1, §11): no `__order`, no `id`.
fn python_request_file(unique_key: &str, url: &str, handled_at: Option<&str>) -> String {
    let mut m = serde_json::Map::new();
    m.insert("unique_key".into(), unique_key.into());
    m.insert("url".into(), url.into());
    m.insert("method".into(), "GET".into());
    m.insert("payload".into(), Value::Null);
    m.insert("headers".into(), json!({}));
    m.insert("user_data".into(), json!({}));
    m.insert("retry_count".into(), 0.into());
    m.insert("no_retry".into(), false.into());
    m.insert("loaded_url".into(), Value::Null);
    m.insert("handled_at".into(), handled_at.map_or(Value::Null, Value::from));
    pyjson::to_string_pretty(&Value::Object(m))
}

/// A request file with our `__order` key removed (the engine may add one on open, W5).
fn without_order(path: &Path) -> String {
    let mut v: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    v.as_object_mut().unwrap().shift_remove("__order");
    pyjson::to_string_pretty(&v)
}

/// Metadata of a storage as the Python SDK writes it.
fn python_metadata(id: &str, name: Option<&str>, extra: &[(&str, Value)]) -> String {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), id.into());
    m.insert("name".into(), name.map_or(Value::Null, Value::from));
    m.insert("accessed_at".into(), "2026-11-21 18:41:14.229811+00:00".into());
    m.insert("created_at".into(), "2026-11-21 18:41:14.215384+00:00".into());
    m.insert("modified_at".into(), "2026-11-21 18:41:14.229811+00:00".into());
    for (k, v) in extra {
        m.insert((*k).into(), v.clone());
    }
    pyjson::to_string_pretty(&Value::Object(m))
}

fn python_rq_metadata(id: &str, name: Option<&str>, handled: u64, pending: u64) -> String {
    python_metadata(
        id,
        name,
        &[
            ("had_multiple_clients", false.into()),
            ("handled_request_count", handled.into()),
            ("pending_request_count", pending.into()),
            ("total_request_count", (handled + pending).into()),
        ],
    )
}

/// Writes a KVS record the way the Python SDK does: value file plus sidecar.
fn python_record(store_dir: &Path, key: &str, value: &[u8], content_type: &str) {
    let file = apify_local::storage::encode_key(key);
    fs::write(store_dir.join(&file), value).unwrap();
    let sidecar = pyjson::to_string_pretty(&json!({"key": key, "content_type": content_type, "size": value.len()}));
    fs::write(store_dir.join(format!("{file}.__metadata__.json")), sidecar).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Keys, names, aliases

#[test]
fn invalid_record_keys_are_typed_errors_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    let long = "k".repeat(201);
    let long_unicode = "é".repeat(34);
    let bad = ["", ".", "..", "__metadata__.json", "x.__metadata__.json", ".__metadata__.json", &long, &long_unicode];
    for key in bad {
        assert!(matches!(validate_key(key), Err(StorageError::InvalidName(_))), "validate_key({key:?})");
        let err = kvs.set(key, b"v", "text/plain").unwrap_err();
        assert!(matches!(err, StorageError::InvalidName(_)), "set({key:?}): {err:?}");
        assert!(matches!(kvs.delete(key), Err(StorageError::InvalidName(_))), "delete({key:?})");
        assert_eq!(kvs.get(key).unwrap(), None, "get({key:?})");
    }
    // The longest accepted key, and keys that merely look odd.
    for key in ["k".repeat(200).as_str(), "../escape", "a/b", "%", "INPUT-METAMORPH-1", "klíč-ü"] {
        kvs.set(key, b"v", "text/plain").unwrap_or_else(|e| panic!("set({key:?}): {e}"));
        assert_eq!(kvs.get(key).unwrap().unwrap().value, b"v");
    }
    let dir = tmp.path().join("key_value_stores/default");
    let names = files_in(&dir);
    assert!(names.contains(&"..%2Fescape".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.is_empty() || n == "." || n == ".."));
    // The store metadata was never overwritten by a record.
    assert!(metadata(&dir)["id"].is_string());
    assert_eq!(kvs.list_keys(None, 1000, None).0.len(), 6);
}

#[test]
fn invalid_names_and_aliases_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let long = "a".repeat(64);
    for name in ["", "-a", "a-", "a_b", "a.b", "a b", "..", ".", "../x", "a/b", "ä", &long] {
        assert!(matches!(validate_name(name), Err(StorageError::InvalidName(_))), "validate_name({name:?})");
        let t = Target::Name(name.to_owned());
        assert!(matches!(s.open_dataset(&t), Err(StorageError::InvalidName(_))), "dataset {name:?}");
        assert!(matches!(s.open_key_value_store(&t), Err(StorageError::InvalidName(_))), "kvs {name:?}");
        assert!(matches!(s.open_request_queue(&t), Err(StorageError::InvalidName(_))), "rq {name:?}");
    }
    validate_name(&"a".repeat(63)).unwrap();
    validate_name("a-1-b").unwrap();
    for alias in ["", ".", "..", "a/b", "../x", "a\\b", "a\0b", "default", "__default__"] {
        assert!(matches!(validate_alias(alias), Err(StorageError::InvalidName(_))), "validate_alias({alias:?})");
        let t = Target::Alias(alias.to_owned());
        assert!(matches!(s.open_dataset(&t), Err(StorageError::InvalidName(_))), "dataset alias {alias:?}");
    }
    // Any other directory name is a valid alias (§7.2 of storage-methods.md).
    for alias in ["a.b", "my alias", "Ünï"] {
        s.open_dataset(&Target::Alias(alias.to_owned())).unwrap();
    }
    for id in ["..", "../..", "../datasets/default", "/etc"] {
        let err = s.open_dataset(&Target::Id(id.to_owned())).err();
        assert!(matches!(err, Some(StorageError::NotFound { .. })), "id {id:?}: {err:?}");
    }
}

#[test]
fn dot_dot_never_escapes_the_storage_folder() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("storage");
    // A sibling the attempts below must not touch.
    fs::create_dir(parent.path().join("victim")).unwrap();
    fs::write(parent.path().join("victim/keep.txt"), b"keep").unwrap();
    // It even looks like a storage, so that an existence probe through `..` would succeed.
    let victim_meta = python_metadata("VictimStorage0001", Some("victim"), &[("item_count", 0.into())]);
    fs::write(parent.path().join("victim/__metadata__.json"), &victim_meta).unwrap();
    let s = storages(&root);
    for t in [Target::Alias("..".into()), Target::Alias("../victim".into()), Target::Name("..".into())] {
        assert!(s.open_dataset(&t).is_err(), "{t:?}");
        assert!(s.drop_storage(Kind::Dataset, &t).is_err(), "drop {t:?}");
    }
    for id in ["..", "../..", "../victim"] {
        assert!(!s.drop_storage(Kind::KeyValueStore, &Target::Id(id.into())).unwrap());
    }
    assert!(s.rename(Kind::Dataset, &Target::Default, "../victim").is_err());
    assert!(s.rename(Kind::Dataset, &Target::Default, "..").is_err());
    drop(s);

    let api = api(&root);
    let put = |uri: &str| call(&api, "PUT", uri, "x", &[("content-type", "text/plain")]);
    for key in ["..", "%2E%2E", ".%2E", "..%2F..%2Fvictim%2Fkeep.txt", "..%2Fescape", "%2F"] {
        let r = put(&format!("/v2/key-value-stores/default/records/{key}"));
        assert_api_error(&r, 400, "invalid-record-key");
        let r = call(&api, "DELETE", &format!("/v2/key-value-stores/default/records/{key}"), "", &[]);
        assert_api_error(&r, 404, "record-not-found");
        let r = call(&api, "GET", &format!("/v2/key-value-stores/default/records/{key}"), "", &[]);
        assert_api_error(&r, 404, "record-not-found");
    }
    for id in ["..", "..%2F..", "..%2Fvictim", "~..", "~..%2Fvictim", "local~..%2F..%2Fvictim"] {
        for (method, path) in [
            ("GET", format!("/v2/datasets/{id}")),
            ("POST", format!("/v2/datasets/{id}/items")),
            ("DELETE", format!("/v2/datasets/{id}")),
            ("DELETE", format!("/v2/key-value-stores/{id}")),
            ("DELETE", format!("/v2/request-queues/{id}")),
            ("PUT", format!("/v2/key-value-stores/{id}/records/k")),
            ("POST", format!("/v2/request-queues/{id}/requests")),
        ] {
            let body =
                if path.ends_with("requests") { r#"{"uniqueKey":"u","url":"https://e.com"}"# } else { r#"{"a":1}"# };
            let r = call(&api, method, &path, body, &[("content-type", "application/json")]);
            let status = r.status().as_u16();
            assert!(
                status == 400 || status == 404,
                "{method} {path}: {status} {:?}",
                String::from_utf8_lossy(r.body())
            );
            body_json(&r)["error"]["type"].as_str().unwrap();
        }
    }
    for name in ["..", "..%2Fvictim", "%2E%2E"] {
        let r = call(&api, "POST", &format!("/v2/datasets?name={name}"), "", &[]);
        assert_api_error(&r, 400, "invalid-parameter");
    }
    let r = call(&api, "PUT", "/v2/datasets/default", r#"{"name":"../victim"}"#, &[]);
    assert_api_error(&r, 400, "invalid-parameter");
    // A unique key with `..` is fine: the file name is a hash.
    let r = call(
        &api,
        "POST",
        "/v2/request-queues/default/requests",
        r#"{"uniqueKey":"../../victim","url":"https://e.com/x"}"#,
        &[],
    );
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", String::from_utf8_lossy(r.body()));
    let r = call(&api, "GET", "/v2/request-queues/default/requests/..%2F..%2Fvictim", "", &[]);
    assert_api_error(&r, 404, "record-not-found");
    drop(api);

    assert_eq!(files_in(parent.path()), ["storage", "victim"], "nothing was created next to the storage folder");
    assert_eq!(tree(&parent.path().join("victim")), ["__metadata__.json", "keep.txt"]);
    assert_eq!(fs::read_to_string(parent.path().join("victim/__metadata__.json")).unwrap(), victim_meta);
    assert_eq!(fs::read(parent.path().join("victim/keep.txt")).unwrap(), b"keep");
    // Inside the folder, only storage directories one level below their type directory.
    for p in tree(&root) {
        let parts: Vec<&str> = p.trim_end_matches('/').split('/').collect();
        assert!(parts.iter().all(|c| *c != ".." && *c != "." && !c.is_empty()), "{p}");
        assert!(
            matches!(parts[0], "datasets" | "key_value_stores" | "request_queues" | ".locks") && parts.len() <= 3,
            "unexpected path {p}"
        );
    }
    assert!(!root.join("request_queues/default").join("victim").exists());
    assert_eq!(item_files(&root.join("request_queues/default")), [request_file_name("../../victim")]);
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[test]
fn malformed_json_bodies_get_the_platform_error_body() {
    let tmp = tempfile::tempdir().unwrap();
    let api = api(tmp.path());
    let json_ct = [("content-type", "application/json")];
    for (method, path) in [
        ("POST", "/v2/datasets/default/items"),
        ("POST", "/v2/request-queues/default/requests"),
        ("POST", "/v2/request-queues/default/requests/batch"),
        ("DELETE", "/v2/request-queues/default/requests/batch"),
        ("PUT", "/v2/datasets/default"),
        ("POST", "/v2/datasets"),
    ] {
        for body in ["{bad", "[1,", "{\"a\": NaN}", "nul", "\"unterminated"] {
            let r = call(&api, method, path, body, &json_ct);
            let msg = assert_api_error(&r, 400, "invalid-request");
            assert!(msg.contains("JSON"), "{method} {path} {body:?}: {msg}");
        }
    }
    // Well-formed JSON of the wrong shape.
    for body in ["42", "\"abc\"", "null", "true"] {
        let r = call(&api, "POST", "/v2/datasets/default/items", body, &json_ct);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let r = call(&api, "POST", "/v2/request-queues/default/requests/batch", body, &json_ct);
        assert_api_error(&r, 400, "invalid-request");
    }
    for body in [r#"{"url":"https://e.com"}"#, r#"{"uniqueKey":"k"}"#, r#"{"uniqueKey":"","url":"u"}"#, "[]"] {
        let r = call(&api, "POST", "/v2/request-queues/default/requests", body, &json_ct);
        assert_api_error(&r, 400, "invalid-request");
    }
    let s = api.storages();
    assert_eq!(s.open_dataset(&Target::Default).unwrap().0.item_count(), 0);
    assert_eq!(s.open_request_queue(&Target::Default).unwrap().0.counts(), (0, 0, 0));
}

#[test]
fn non_object_items_are_refused_w11() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let (ds, _) = s.open_dataset(&Target::Default).unwrap();
    ds.push(&[json!({"n": 1})]).unwrap();
    for items in [
        vec![json!("abc")],
        vec![json!(1), json!(2)],
        vec![json!({"ok": true}), json!([1])],
        vec![json!(null)],
        vec![json!([{"nested": "array"}])],
    ] {
        let err = ds.push(&items).unwrap_err();
        assert!(matches!(err, StorageError::InvalidArgument(_)), "{items:?}: {err:?}");
    }
    assert_eq!(ds.item_count(), 1);
    let dir = tmp.path().join("datasets/default");
    assert_eq!(item_files(&dir), ["000000001.json"]);
    drop((ds, s));

    let api = api(tmp.path());
    for body in [r#""abc""#, "[1,2]", r#"[{"a":1},"x"]"#, "[[{}]]", "[null]"] {
        let r = call(&api, "POST", "/v2/datasets/default/items", body, &[("content-type", "application/json")]);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(body_json(&r)["error"]["type"].is_string());
    }
    assert_eq!(item_files(&dir), ["000000001.json"]);
    let r = call(&api, "POST", "/v2/datasets/default/items", r#"[{"n":2},{"n":3}]"#, &[]);
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(item_files(&dir), ["000000001.json", "000000002.json", "000000003.json"]);
}

#[test]
fn oversize_payloads_are_413_including_gzip_bombs() {
    let tmp = tempfile::tempdir().unwrap();
    let api = api(tmp.path());
    let over = MAX_BODY_BYTES + 1;
    // A JSON array of one object, exactly `over` bytes.
    let filler = over - r#"[{"s":""}]"#.len();
    let big_items = format!(r#"[{{"s":"{}"}}]"#, "x".repeat(filler));
    assert_eq!(big_items.len(), over);
    let r =
        call(&api, "POST", "/v2/datasets/default/items", big_items.clone(), &[("content-type", "application/json")]);
    let msg = assert_api_error(&r, 413, "request-too-large");
    assert!(msg.contains("9437184") && msg.contains(&over.to_string()), "{msg}");

    // Gzip bodies small on the wire that inflate past the limit.
    let (gz, enc) = compress_request_body(big_items.as_bytes(), None, RequestCompression::Gzip).unwrap();
    assert!(gz.len() < 100_000, "{}", gz.len());
    let r = call(
        &api,
        "POST",
        "/v2/datasets/default/items",
        gz,
        &[("content-type", "application/json"), ("content-encoding", enc)],
    );
    assert_api_error(&r, 413, "request-too-large");
    let zeros = vec![0u8; over];
    let (gz, _) = compress_request_body(&zeros, None, RequestCompression::Gzip).unwrap();
    let r = call(
        &api,
        "PUT",
        "/v2/key-value-stores/default/records/BOMB",
        gz,
        &[("content-type", "application/octet-stream"), ("content-encoding", "gzip")],
    );
    assert_api_error(&r, 413, "request-too-large");
    let (br, enc) = compress_request_body(&zeros, None, RequestCompression::Brotli).unwrap();
    let r = call(
        &api,
        "PUT",
        "/v2/key-value-stores/default/records/BOMB",
        br,
        &[("content-type", "application/octet-stream"), ("content-encoding", enc)],
    );
    assert_api_error(&r, 413, "request-too-large");
    // A broken gzip stream and an unknown coding.
    let r = call(&api, "PUT", "/v2/key-value-stores/default/records/K", "not gzip", &[("content-encoding", "gzip")]);
    assert_api_error(&r, 400, "invalid-request");
    let r = call(&api, "PUT", "/v2/key-value-stores/default/records/K", "x", &[("content-encoding", "zstd-ish")]);
    assert_api_error(&r, 415, "unsupported-content-encoding");

    let r = call(&api, "PUT", "/v2/key-value-stores/default/records/BIG", vec![7u8; over], &[]);
    assert_api_error(&r, 413, "request-too-large");
    let r = call(&api, "POST", "/v2/request-queues/default/requests/batch", big_items, &[]);
    assert_api_error(&r, 413, "request-too-large");
    // Exactly at the limit is accepted.
    let r = call(&api, "PUT", "/v2/key-value-stores/default/records/AT_LIMIT", vec![7u8; MAX_BODY_BYTES], &[]);
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", String::from_utf8_lossy(r.body()));

    let s = api.storages();
    assert_eq!(s.open_dataset(&Target::Default).unwrap().0.item_count(), 0);
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    let keys: Vec<String> = kvs.list_keys(None, 100, None).0.into_iter().map(|k| k.key).collect();
    assert_eq!(keys, ["AT_LIMIT"]);
    assert_eq!(kvs.info("AT_LIMIT").unwrap().size, MAX_BODY_BYTES as u64);
    assert!(files_in(&tmp.path().join("key_value_stores/default")).iter().all(|f| !f.ends_with(".tmp")));
}

// ---------------------------------------------------------------------------------------------
// The input record (§6, W7)

#[test]
fn a_missing_input_is_none_and_404() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Arc::new(storages(tmp.path()));
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert_eq!(kvs.get("INPUT").unwrap(), None);
    assert_eq!(kvs.info("INPUT"), None);
    drop(kvs);
    let api = LocalApi::new(s, ApiConfig::default());
    let r = call(&api, "GET", "/v2/key-value-stores/default/records/INPUT", "", &[]);
    assert_api_error(&r, 404, "record-not-found");
    let r = call(&api, "HEAD", "/v2/key-value-stores/default/records/INPUT", "", &[]);
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_second_input_file_is_refused_and_the_store_stays_usable_after_a_restart() {
    for (first, second) in [("INPUT", "INPUT.json"), ("INPUT.json", "INPUT"), ("INPUT.txt", "INPUT.bin")] {
        let tmp = tempfile::tempdir().unwrap();
        {
            let api = api(tmp.path());
            let put = |key: &str| {
                call(
                    &api,
                    "PUT",
                    &format!("/v2/key-value-stores/default/records/{key}"),
                    r#"{"a": 1}"#,
                    &[("content-type", "application/json")],
                )
            };
            assert!(put(first).status().is_success(), "{first}");
            // `INPUT` is redirected to the input file, so writing it again is fine.
            assert!(put("INPUT").status().is_success());
            if second != "INPUT" {
                let msg = assert_api_error(&put(second), 409, "record-key-conflict");
                assert!(msg.contains(first) && msg.contains(second), "{msg}");
            }
        }
        // A restart: the store is usable, with one input file.
        let api = api(tmp.path());
        let dir = tmp.path().join("key_value_stores/default");
        let values: Vec<String> = files_in(&dir).into_iter().filter(|f| !f.ends_with(".__metadata__.json")).collect();
        assert_eq!(values, [first.to_owned(), "__metadata__.json".to_owned()], "{first}/{second}");
        let r = call(&api, "GET", "/v2/key-value-stores/default/records/INPUT", "", &[]);
        assert_eq!(r.status(), StatusCode::OK, "{first}/{second}");
        assert_eq!(body_json(&r), json!({"a": 1}));
        let r = call(&api, "DELETE", "/v2/key-value-stores/default/records/INPUT", "", &[]);
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        // With the input file gone, the other name may be written.
        let r = call(&api, "PUT", &format!("/v2/key-value-stores/default/records/{second}"), "x", &[]);
        assert!(r.status().is_success(), "{second}: {}", r.status());
    }
}

#[test]
fn two_input_files_written_by_others_are_resolved_the_same_way_on_every_open() {
    // Written by hand or by another tool: the Python SDK refuses such a store; ours picks
    // one and keeps the store usable, including the delete that repairs it.
    for (pair, chosen) in [(["INPUT", "INPUT.json"], "INPUT"), (["INPUT.txt", "INPUT.bin"], "INPUT.bin")] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("key_value_stores/default");
        fs::create_dir_all(&dir).unwrap();
        for f in pair {
            fs::write(dir.join(f), format!("\"{f}\"")).unwrap();
        }
        for _ in 0..2 {
            let s = storages(tmp.path());
            let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
            assert_eq!(kvs.get("INPUT").unwrap().unwrap().value, format!("\"{chosen}\"").into_bytes(), "{pair:?}");
        }
        let api = api(tmp.path());
        let r = call(&api, "DELETE", "/v2/key-value-stores/default/records/INPUT", "", &[]);
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{pair:?}");
        assert!(!dir.join(chosen).exists());
        drop(api);
        // The other file is the input now.
        let other = pair.iter().find(|f| **f != chosen).unwrap();
        let s = storages(tmp.path());
        let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        assert_eq!(kvs.get("INPUT").unwrap().unwrap().value, format!("\"{other}\"").into_bytes());
    }
    // A file whose sidecar names the input key wins over the bare name.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("key_value_stores/default");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("INPUT"), b"{}").unwrap();
    fs::write(dir.join("INPUT.json"), b"[]").unwrap();
    fs::write(dir.join("INPUT.json.__metadata__.json"), br#"{"key": "INPUT", "content_type": "application/json"}"#)
        .unwrap();
    let s = storages(tmp.path());
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert_eq!(kvs.get("INPUT").unwrap().unwrap().value, b"[]");
    assert_eq!(kvs.list_keys(None, 10, None).0.iter().filter(|k| k.key == "INPUT").count(), 1);
}

#[test]
fn a_sidecar_of_the_input_file_is_not_a_second_input_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("key_value_stores/default");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("INPUT.json"), b"{}").unwrap();
    fs::write(dir.join("INPUT.json.__metadata__.json"), br#"{"key": "INPUT", "content_type": "application/json"}"#)
        .unwrap();
    let s = storages(tmp.path());
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert_eq!(kvs.get("INPUT").unwrap().unwrap().value, b"{}");
}

#[test]
fn an_input_file_without_sidecar_gets_one_w7() {
    // The verified variants of §6, plus the §11 INPUT.json (sidecar of 87 bytes, verbatim).
    let s11_input = b"{\"startUrls\": [{\"url\": \"https://example.com\"}], \"maxItems\": 3}\n";
    let s11_sidecar =
        "{\n  \"key\": \"INPUT\",\n  \"content_type\": \"application/json; charset=utf-8\",\n  \"size\": 63\n}";
    let cases: [(&str, &[u8], &str); 5] = [
        ("INPUT.json", s11_input, "application/json; charset=utf-8"),
        ("INPUT", b"{\"x\":1}", "application/json; charset=utf-8"),
        ("INPUT.txt", b"hello", "text/plain; charset=utf-8"),
        ("INPUT", b"notjson", "application/octet-stream"),
        ("INPUT.bin", b"\x01\x02", "application/octet-stream"),
    ];
    for (file, bytes, content_type) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("key_value_stores/default");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(file), bytes).unwrap();
        let s = storages(tmp.path());
        let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        let rec = kvs.get("INPUT").unwrap().unwrap_or_else(|| panic!("{file}: no input"));
        assert_eq!((rec.key.as_str(), rec.value.as_slice(), rec.content_type.as_str()), ("INPUT", bytes, content_type));
        let sidecar = fs::read_to_string(dir.join(format!("{file}.__metadata__.json"))).unwrap();
        let expected =
            pyjson::to_string_pretty(&json!({"key": "INPUT", "content_type": content_type, "size": bytes.len()}));
        assert_eq!(sidecar, expected, "{file}");
        if file == "INPUT.json" {
            assert_eq!(sidecar, s11_sidecar);
        }
        let keys = kvs.list_keys(None, 10, None).0;
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].key.as_str(), keys[0].size), ("INPUT", bytes.len() as u64));
        // The file keeps its name: no `INPUT` file is created next to `INPUT.json`.
        assert_eq!(files_in(&dir), [file.to_owned(), format!("{file}.__metadata__.json"), "__metadata__.json".into()]);
    }

    // A hand-written sidecar is never overwritten (W7, fixing D10): camelCase, no size, text.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("key_value_stores/default");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("INPUT.json"), b"{\"a\": 1}").unwrap();
    let hand = b"{\"key\":\"INPUT\",\"contentType\":\"text/plain; charset=utf-8\"}\n";
    fs::write(dir.join("INPUT.json.__metadata__.json"), hand).unwrap();
    for round in 0..2 {
        let s = storages(tmp.path());
        let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        let rec = kvs.get("INPUT").unwrap().unwrap();
        assert_eq!(rec.content_type, "text/plain; charset=utf-8", "round {round}");
        assert_eq!(kvs.info("INPUT").unwrap().size, 8);
        drop(kvs);
        s.flush().unwrap();
        drop(s);
        assert_eq!(fs::read(dir.join("INPUT.json.__metadata__.json")).unwrap(), hand, "round {round}");
    }
    // Writing the input key goes to the input file (redirection), with a fresh sidecar.
    let s = storages(tmp.path());
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    kvs.set("INPUT", b"{\"b\": 2}", "application/json; charset=utf-8").unwrap();
    assert_eq!(fs::read(dir.join("INPUT.json")).unwrap(), b"{\"b\": 2}");
    assert!(!dir.join("INPUT").exists());
    // Purge keeps the input file and its sidecar (§7).
    kvs.set("OTHER", b"x", "text/plain").unwrap();
    kvs.purge().unwrap();
    assert_eq!(files_in(&dir), ["INPUT.json", "INPUT.json.__metadata__.json", "__metadata__.json"]);
    assert_eq!(kvs.get("INPUT").unwrap().unwrap().value, b"{\"b\": 2}");
}

// ---------------------------------------------------------------------------------------------
// Damaged files

#[test]
fn corrupt_metadata_is_set_aside_and_data_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let old_rq_id = {
        let s = storages(root);
        let (ds, _) = s.open_dataset(&Target::Name("named".into())).unwrap();
        ds.push(&[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]).unwrap();
        let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        kvs.set("A", b"{\"a\": 1}", "application/json; charset=utf-8").unwrap();
        let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
        rq.add(vec![req("a"), req("b"), req("c")], false, None).unwrap();
        let id = request_id("a");
        let mut handled = rq.get(&id).unwrap().unwrap().request;
        handled.handled_at = Some(time::OffsetDateTime::now_utc());
        rq.update(&id, handled, false, None).unwrap();
        rq.id().to_owned()
    };
    let garbage: [&[u8]; 3] = [b"{\"id\": \"abc\", \"created_at\": ", b"[]", b"\x00\xff binary"];
    let dirs = ["datasets/named", "key_value_stores/default", "request_queues/default"];
    for (dir, bad) in dirs.iter().zip(garbage) {
        fs::write(root.join(dir).join("__metadata__.json"), bad).unwrap();
    }
    let s = storages(root);
    let (ds, created) = s.open_dataset(&Target::Name("named".into())).unwrap();
    assert!(created, "a storage with unreadable metadata is adopted with fresh metadata");
    assert_eq!(ds.item_count(), 3);
    let items = ds.get_items(&ItemQuery::default()).unwrap().items;
    assert_eq!(items, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
    assert_eq!(ds.meta().name.as_deref(), Some("named"));
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert_eq!(kvs.get("A").unwrap().unwrap().value, b"{\"a\": 1}");
    let keys: Vec<String> = kvs.list_keys(None, 10, None).0.into_iter().map(|k| k.key).collect();
    assert_eq!(keys, ["A".to_owned(), format!("__RQ_STATE_{old_rq_id}")], "the set-aside file is not a record");
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    assert_eq!(rq.counts(), (1, 2, 3));
    assert_eq!(pending_order(&rq), ["b", "c"]);
    for (dir, bad) in dirs.iter().zip(garbage) {
        let d = root.join(dir);
        assert_eq!(fs::read(d.join("__metadata__.json.corrupt")).unwrap(), bad, "{dir}: original kept aside");
        let m = metadata(&d);
        assert_eq!(m["id"].as_str().unwrap().len(), 17, "{dir}: {m}");
    }
    assert_eq!(metadata(&root.join("datasets/named"))["item_count"], 3);
    assert_eq!(metadata(&root.join("request_queues/default"))["handled_request_count"], 1);
    // Writing goes on after the recovery.
    ds.push(&[json!({"n": 4})]).unwrap();
    assert_eq!(item_files(&root.join("datasets/named")).last().unwrap(), "000000004.json");
}

#[test]
fn a_truncated_item_file_is_a_corrupt_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let (ds, _) = s.open_dataset(&Target::Default).unwrap();
    ds.push(&[json!({"n": 1}), json!({"n": 2, "long": "x".repeat(100)}), json!({"n": 3})]).unwrap();
    let path = tmp.path().join("datasets/default/000000002.json");
    let full = fs::read(&path).unwrap();
    fs::write(&path, &full[..full.len() / 2]).unwrap();
    match ds.get_items(&ItemQuery::default()) {
        Err(StorageError::Corrupt { path: p, detail }) => {
            assert!(p.ends_with("000000002.json"), "{}", p.display());
            assert!(!detail.is_empty());
            let shown = StorageError::Corrupt { path: p, detail }.to_string();
            assert!(shown.contains("000000002.json"), "{shown}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let one = |offset, desc| ds.get_items(&ItemQuery { offset, limit: Some(1), desc, ..Default::default() });
    assert_eq!(one(0, false).unwrap().items, [json!({"n": 1})]);
    assert_eq!(one(2, false).unwrap().items, [json!({"n": 3})]);
    assert_eq!(one(0, true).unwrap().items, [json!({"n": 3})]);
    // An empty file and a missing file are corrupt too, and nothing panics.
    fs::write(&path, b"").unwrap();
    assert!(matches!(one(1, false), Err(StorageError::Corrupt { .. })));
    fs::remove_file(&path).unwrap();
    assert!(matches!(one(1, false), Err(StorageError::Corrupt { .. })));
    // Through the API it is an error response, not a panic.
    drop((ds, s));
    let api = api(tmp.path());
    let r = call(&api, "GET", "/v2/datasets/default/items", "", &[]);
    assert!(r.status().is_server_error(), "{}", r.status());
    let r = call(&api, "GET", "/v2/datasets/default/items?offset=2", "", &[]);
    assert_eq!(body_json(&r), json!([{"n": 3}]));
}

#[test]
fn item_count_is_recovered_from_the_files_w3() {
    for recorded in [0u64, 1, 2, 7] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("datasets/default");
        {
            let s = storages(tmp.path());
            let (ds, _) = s.open_dataset(&Target::Default).unwrap();
            ds.push(&[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]).unwrap();
        }
        let before: Vec<Vec<u8>> = item_files(&dir).iter().map(|f| fs::read(dir.join(f)).unwrap()).collect();
        let mut m = metadata(&dir);
        m["item_count"] = recorded.into();
        fs::write(dir.join("__metadata__.json"), pyjson::to_string_pretty(&m)).unwrap();

        let s = storages(tmp.path());
        let (ds, _) = s.open_dataset(&Target::Default).unwrap();
        assert_eq!(ds.item_count(), 3, "recorded {recorded}");
        assert_eq!(metadata(&dir)["item_count"], 3, "the recovered count is written back");
        ds.push(&[json!({"n": 4})]).unwrap();
        let after = item_files(&dir);
        assert_eq!(after, ["000000001.json", "000000002.json", "000000003.json", "000000004.json"]);
        for (i, b) in before.iter().enumerate() {
            assert_eq!(&fs::read(dir.join(&after[i])).unwrap(), b, "item {} was overwritten (D5)", i + 1);
        }
        let page = ds.get_items(&ItemQuery::default()).unwrap();
        assert_eq!(page.total, 4);
        assert_eq!(page.items.last().unwrap(), &json!({"n": 4}));
    }
}

#[test]
fn invalid_kvs_sidecars_are_skipped_not_listed_w13() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("key_value_stores/default");
    fs::create_dir_all(&dir).unwrap();
    python_record(&dir, "A", b"a", "text/plain; charset=utf-8");
    fs::write(dir.join("B"), b"b").unwrap();
    fs::write(dir.join("B.__metadata__.json"), b"{\"key\": \"B\", \"content_type\": ").unwrap();
    python_record(&dir, "C", b"c", "text/plain; charset=utf-8");
    fs::write(dir.join("D"), b"d").unwrap();
    fs::write(dir.join("D.__metadata__.json"), b"{\"content_type\": \"text/plain\"}").unwrap();
    fs::write(dir.join("E"), b"e").unwrap();
    fs::write(dir.join("E.__metadata__.json"), b"[\"E\"]").unwrap();
    python_record(&dir, "F", b"f", "text/plain; charset=utf-8");
    // A value without sidecar, and a sidecar without value.
    fs::write(dir.join("G"), b"g").unwrap();
    fs::write(dir.join("H.__metadata__.json"), pyjson::to_string_pretty(&json!({"key": "H", "content_type": "x"})))
        .unwrap();
    // camelCase and no size (legacy/CLI sidecar) is valid.
    fs::write(dir.join("I"), b"iii").unwrap();
    fs::write(dir.join("I.__metadata__.json"), b"{\"key\": \"I\", \"contentType\": \"text/plain\"}").unwrap();

    let s = Arc::new(storages(tmp.path()));
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    let keys: Vec<(String, u64)> = kvs.list_keys(None, 100, None).0.into_iter().map(|k| (k.key, k.size)).collect();
    assert_eq!(keys, [("A".into(), 1), ("C".into(), 1), ("F".into(), 1), ("I".into(), 3)]);
    // Paging never repeats a stale entry (D12).
    let (page, more) = kvs.list_keys(Some("A"), 1, None);
    assert_eq!((page[0].key.as_str(), more), ("C", true));
    let (page, _) = kvs.list_keys(Some("C"), 1, None);
    assert_eq!(page[0].key, "F");
    for k in ["B", "D", "E", "G", "H"] {
        assert_eq!(kvs.get(k).unwrap(), None, "{k}");
    }
    drop(kvs);
    let api = LocalApi::new(s, ApiConfig::default());
    let r = call(&api, "GET", "/v2/key-value-stores/default/keys", "", &[]);
    let listed: Vec<String> =
        body_json(&r)["data"]["items"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap().into()).collect();
    assert_eq!(listed, ["A", "C", "F", "I"]);
    // The damaged files are left for a human: nothing was deleted.
    for f in ["B", "B.__metadata__.json", "D.__metadata__.json", "E.__metadata__.json", "G", "H.__metadata__.json"] {
        assert!(dir.join(f).exists(), "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Request queues

#[test]
fn a_request_file_collision_is_an_error_and_overwrites_nothing_w14() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("request_queues/default");
    fs::create_dir_all(&dir).unwrap();
    // A 60-bit collision cannot be found; instead the target file already holds another key.
    let target = request_file_name("https://example.com/new");
    let squatter = python_request_file("https://example.com/other", "https://example.com/other", None);
    fs::write(dir.join(&target), &squatter).unwrap();

    let s = Arc::new(storages(tmp.path()));
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    assert_eq!(rq.counts(), (0, 1, 1));
    let new =
        StoredRequest::from_api(&json!({"uniqueKey": "https://example.com/new", "url": "https://example.com/new"}))
            .unwrap();
    match rq.add(vec![req("fine"), new.clone()], false, None) {
        Err(StorageError::Collision { file, existing, new }) => {
            assert_eq!(file, target);
            assert_eq!(existing, "https://example.com/other");
            assert_eq!(new, "https://example.com/new");
        }
        other => panic!("expected Collision, got {other:?}"),
    }
    assert_eq!(without_order(&dir.join(&target)), squatter, "the existing file is not overwritten");
    assert_eq!(rq.counts(), (0, 1, 1), "the failed batch added nothing");
    assert!(!dir.join(request_file_name("fine")).exists());
    assert_eq!(pending_order(&rq), ["https://example.com/other"]);
    drop(rq);
    let api = LocalApi::new(s, ApiConfig::default());
    let r = call(
        &api,
        "POST",
        "/v2/request-queues/default/requests",
        r#"{"uniqueKey":"https://example.com/new","url":"https://example.com/new"}"#,
        &[],
    );
    assert_api_error(&r, 409, "request-queue-duplicate-requests");
    assert_eq!(without_order(&dir.join(&target)), squatter);
}

#[test]
fn nan_and_infinity_written_by_python_read_as_null_w15() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // What `json.dumps(..., indent=2)` writes for float('nan') and float('inf').
    let ds_dir = root.join("datasets/default");
    fs::create_dir_all(&ds_dir).unwrap();
    fs::write(
        ds_dir.join("__metadata__.json"),
        python_metadata("DsWithNaN00000001", None, &[("item_count", 1.into())]),
    )
    .unwrap();
    fs::write(ds_dir.join("000000001.json"), "{\n  \"a\": NaN,\n  \"b\": Infinity,\n  \"c\": -Infinity,\n  \"s\": \"NaN Infinity\",\n  \"l\": [\n    NaN,\n    1.5\n  ]\n}")
        .unwrap();
    let rq_dir = root.join("request_queues/default");
    fs::create_dir_all(&rq_dir).unwrap();
    fs::write(rq_dir.join("__metadata__.json"), python_rq_metadata("RqWithNaN00000001", None, 0, 1)).unwrap();
    let file = python_request_file("https://e.com/nan", "https://e.com/nan", None)
        .replace("\"user_data\": {}", "\"user_data\": {\n    \"score\": NaN\n  }");
    fs::write(rq_dir.join(request_file_name("https://e.com/nan")), file).unwrap();
    let kvs_dir = root.join("key_value_stores/default");
    fs::create_dir_all(&kvs_dir).unwrap();
    python_record(&kvs_dir, "STATE", b"{\n  \"x\": NaN,\n  \"y\": -Infinity\n}", "application/json; charset=utf-8");

    let s = Arc::new(storages(root));
    let (ds, _) = s.open_dataset(&Target::Default).unwrap();
    let items = ds.get_items(&ItemQuery::default()).unwrap().items;
    assert_eq!(items, [json!({"a": null, "b": null, "c": null, "s": "NaN Infinity", "l": [null, 1.5]})]);
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    assert_eq!(rq.counts(), (0, 1, 1));
    let got = rq.get(&request_id("https://e.com/nan")).unwrap().unwrap();
    assert_eq!(Value::Object(got.request.user_data), json!({"score": null}));
    drop((ds, rq));

    let api = LocalApi::new(s, ApiConfig::default());
    let r = call(&api, "GET", "/v2/datasets/default/items", "", &[]);
    assert_eq!(body_json(&r)[0]["a"], Value::Null);
    let r =
        call(&api, "GET", &format!("/v2/request-queues/default/requests/{}", request_id("https://e.com/nan")), "", &[]);
    assert_eq!(body_json(&r)["data"]["userData"], json!({"score": null}));
    let r = call(&api, "GET", "/v2/key-value-stores/default/records/STATE", "", &[]);
    assert_eq!(r.status(), StatusCode::OK);
    // Regression (fixed): a JSON record with NaN (as Python writes it) is served verbatim, which is not
    // JSON; W15 says readers map the tokens to null.
    let parsed: Result<Value, _> = serde_json::from_slice(r.body());
    assert_eq!(parsed.ok(), Some(json!({"x": null, "y": null})), "body {:?}", String::from_utf8_lossy(r.body()));
}

#[test]
fn the_advisory_lock_makes_a_second_opener_fail_w4() {
    let tmp = tempfile::tempdir().unwrap();
    let first = storages(tmp.path());
    let (ds, _) = first.open_dataset(&Target::Default).unwrap();
    let (_kvs, _) = first.open_key_value_store(&Target::Name("shared".into())).unwrap();
    let (_rq, _) = first.open_request_queue(&Target::Alias("q".into())).unwrap();
    ds.push(&[json!({"n": 1})]).unwrap();

    let second = Arc::new(storages(tmp.path()));
    assert!(matches!(second.open_dataset(&Target::Default), Err(StorageError::InUse(_))));
    let id = ds.id().to_owned();
    assert!(matches!(second.open_dataset(&Target::Id(id.clone())), Err(StorageError::InUse(_))));
    match second.open_key_value_store(&Target::Name("shared".into())).err() {
        Some(StorageError::InUse(msg)) => assert!(msg.contains("in use"), "{msg}"),
        other => panic!("expected InUse, got {other:?}"),
    }
    assert!(matches!(second.open_request_queue(&Target::Alias("q".into())), Err(StorageError::InUse(_))));
    // Other storages of the same folder, and the same name of another type, are free.
    second.open_dataset(&Target::Name("other".into())).unwrap();
    second.open_key_value_store(&Target::Default).unwrap();
    // Through the API: 409 storage-in-use.
    let api2 = LocalApi::new(second.clone(), ApiConfig::default());
    let r = call(&api2, "POST", "/v2/datasets/default/items", r#"{"n":2}"#, &[]);
    assert_api_error(&r, 409, "storage-in-use");
    // Released when the first closes.
    drop((ds, _kvs, _rq, first));
    let (ds2, _) = second.open_dataset(&Target::Default).unwrap();
    assert_eq!(ds2.item_count(), 1);
    // Lock files live outside the storage directories.
    assert!(tmp.path().join(".locks/datasets/default.lock").exists());
    assert_eq!(item_files(&tmp.path().join("datasets/default")), ["000000001.json"]);
}

#[test]
fn a_second_storages_cannot_drop_or_rename_a_storage_in_use_w4() {
    let tmp = tempfile::tempdir().unwrap();
    let first = storages(tmp.path());
    let (busy, _) = first.open_dataset(&Target::Name("busy".into())).unwrap();
    busy.push(&[json!({"n": 1})]).unwrap();
    let (busy2, _) = first.open_dataset(&Target::Name("busy2".into())).unwrap();
    busy2.push(&[json!({"n": 1})]).unwrap();
    let second = storages(tmp.path());
    let dropped = second.drop_storage(Kind::Dataset, &Target::Name("busy".into()));
    // Regression (fixed): `drop_storage` takes no lock, so another opener deletes a storage that is in
    // use (W4: a second opener fails fast with "storage in use").
    assert!(matches!(dropped, Err(StorageError::InUse(_))), "{dropped:?}");
    assert!(tmp.path().join("datasets/busy/000000001.json").exists());
    let renamed = second.rename(Kind::Dataset, &Target::Name("busy2".into()), "moved");
    // Regression (fixed): the same for `rename`: the directory of an open storage is moved away.
    assert!(matches!(renamed, Err(StorageError::InUse(_))), "{renamed:?}");
    assert!(tmp.path().join("datasets/busy2/000000001.json").exists());
    // Either way, the first opener gets typed errors, not panics.
    let _ = busy.push(&[json!({"n": 2})]);
    let _ = busy2.get_items(&ItemQuery::default());
}

/// Renaming closes the old handle (it writes nowhere afterwards), carries the metadata
/// along current, refuses `default` and names taken, and a reopen under the new name works.
#[test]
fn rename_closes_old_handles_and_keeps_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let (ds, _) = s.open_dataset(&Target::Name("before".into())).unwrap();
    ds.push(&[json!({"n": 1}), json!({"n": 2})]).unwrap();
    let (_other, _) = s.open_dataset(&Target::Name("taken".into())).unwrap();
    for bad in ["default", "taken", "no/slash"] {
        let r = s.rename(Kind::Dataset, &Target::Name("before".into()), bad);
        assert!(matches!(r, Err(StorageError::InvalidName(_))), "{bad}: {r:?}");
    }
    // Refused renames leave the handle working.
    ds.push(&[json!({"n": 3})]).unwrap();
    s.rename(Kind::Dataset, &Target::Name("before".into()), "after").unwrap();
    assert!(matches!(ds.push(&[json!({"n": 4})]), Err(StorageError::NotFound { .. })));
    assert!(!tmp.path().join("datasets/before").exists());
    let meta =
        pyjson::parse_tolerant(&fs::read(tmp.path().join("datasets/after/__metadata__.json")).unwrap()).unwrap().0;
    assert_eq!((meta["name"].as_str(), meta["item_count"].as_u64()), (Some("after"), Some(3)));
    let (renamed, created) = s.open_dataset(&Target::Name("after".into())).unwrap();
    assert!(!created);
    renamed.push(&[json!({"n": 4})]).unwrap();
    assert_eq!(renamed.item_count(), 4);
    assert!(s.open_dataset(&Target::Default).is_ok(), "the default dataset is untouched");
}

#[test]
fn reopening_a_dropped_storage_in_the_same_process_works() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let (ds, _) = s.open_dataset(&Target::Name("gone".into())).unwrap();
    ds.push(&[json!({"n": 1})]).unwrap();
    assert!(s.drop_storage(Kind::Dataset, &Target::Name("gone".into())).unwrap());
    assert!(!tmp.path().join("datasets/gone").exists());
    // Writing through a stale handle is a typed "not found", not a panic, and recreates nothing.
    assert!(matches!(ds.push(&[json!({"n": 2})]), Err(StorageError::NotFound { .. })));
    assert!(!tmp.path().join("datasets/gone").exists());
    let reopened = s.open_dataset(&Target::Name("gone".into()));
    // Regression (fixed): the dropped storage's lock is still held by the stale `Arc<Dataset>`, so the
    // same process gets `InUse` ("in use by another process") when it recreates the storage.
    let (fresh, created) = reopened.as_ref().expect("reopening a dropped storage");
    assert!(created);
    assert_eq!(fresh.item_count(), 0);
    // The stale handle still cannot write, now into the new storage of the same name.
    assert!(matches!(ds.push(&[json!({"n": 3})]), Err(StorageError::NotFound { .. })));
    fresh.push(&[json!({"n": 4})]).unwrap();
    assert_eq!(fresh.get_items(&ItemQuery::default()).unwrap().items, [json!({"n": 4})]);
    drop((reopened, ds));
    let (fresh, _) = s.open_dataset(&Target::Name("gone".into())).unwrap();
    assert_eq!(fresh.item_count(), 1);
}

#[test]
fn both_durabilities_leave_no_temp_files_and_the_same_bytes() {
    let mut trees = Vec::new();
    for durability in [Durability::Full, Durability::Relaxed] {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = storages_with(tmp.path(), durability);
            let (ds, _) = s.open_dataset(&Target::Default).unwrap();
            for i in 0..5 {
                ds.push(&[json!({"i": i, "f": 0.1 + 0.2}), json!({"i": i, "u": "ü✓"})]).unwrap();
            }
            ds.push(&[]).unwrap();
            let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
            for i in 0..5 {
                kvs.set(&format!("K{i}"), format!("v{i}").as_bytes(), "text/plain; charset=utf-8").unwrap();
            }
            kvs.set("K0", b"again", "text/plain; charset=utf-8").unwrap();
            kvs.delete("K1").unwrap();
            let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
            rq.add((0..10).map(|i| req(&format!("r{i}"))).collect(), false, None).unwrap();
            rq.add(vec![req("front")], true, None).unwrap();
            let head = rq.lock_head(3, Duration::from_secs(60), Some("c")).unwrap();
            for item in head.items {
                let mut r = rq.get(&item.id).unwrap().unwrap().request;
                r.handled_at = Some(time::OffsetDateTime::now_utc());
                rq.update(&item.id, r, false, Some("c")).unwrap();
            }
            s.flush().unwrap();
        }
        let all = tree(tmp.path());
        let temps: Vec<&String> = all.iter().filter(|p| p.ends_with(".tmp") || p.contains(".tmp")).collect();
        assert!(temps.is_empty(), "{durability:?}: {temps:?}");
        #[cfg(unix)]
        for p in all.iter().filter(|p| !p.ends_with('/') && !p.starts_with(".locks")) {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(tmp.path().join(p)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{durability:?}: {p}");
        }
        let ds_dir = tmp.path().join("datasets/default");
        let items: Vec<Vec<u8>> = item_files(&ds_dir).iter().map(|f| fs::read(ds_dir.join(f)).unwrap()).collect();
        let kv_dir = tmp.path().join("key_value_stores/default");
        let records: Vec<(String, Vec<u8>)> = files_in(&kv_dir)
            .into_iter()
            .filter(|f| f.starts_with('K'))
            .map(|f| (f.clone(), fs::read(kv_dir.join(f)).unwrap()))
            .collect();
        trees.push((all.len(), items, records));
    }
    assert_eq!(trees[0], trees[1], "Full and Relaxed write the same files");
    assert_eq!(trees[0].1.len(), 10);
}

/// A queue the Python SDK wrote (no `__order`) and its state record: the order on open is the
/// reference order (W5 rules 1–3), merged with requests that do carry `__order`.
#[test]
fn python_written_queue_takes_the_state_record_order_w5() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let id = "PyQueue0000000001";
    let dir = root.join("request_queues/default");
    fs::create_dir_all(&dir).unwrap();
    let keys = ["f1", "f2", "r1", "r2", "r3", "zz-rest", "aa-rest", "h"];
    for k in keys {
        let url = format!("https://example.com/{k}");
        let handled = (k == "h").then_some("2026-11-21 18:41:14.228393+00:00");
        fs::write(dir.join(request_file_name(k)), python_request_file(k, &url, handled)).unwrap();
    }
    // Two of ours, with `__order`: a forefront one (-3) and a regular one (7).
    for (k, order) in [("ours-front", -3), ("ours-regular", 7)] {
        let text = python_request_file(k, &format!("https://example.com/{k}"), None);
        let text = format!("{},\n  \"__order\": {order}\n}}", text.strip_suffix("\n}").unwrap());
        fs::write(dir.join(request_file_name(k)), text).unwrap();
    }
    fs::write(dir.join("__metadata__.json"), python_rq_metadata(id, None, 1, 9)).unwrap();
    let kvs_dir = root.join("key_value_stores/default");
    fs::create_dir_all(&kvs_dir).unwrap();
    let state = json!({
        "sequence_counter": 5,
        "forefront_sequence_counter": 2,
        "forefront_requests": {"f1": 0, "f2": 1},
        "regular_requests": {"r3": 4, "r1": 0, "r2": 1},
        "in_progress_requests": ["r1"],
        "handled_requests": ["h"],
    });
    python_record(
        &kvs_dir,
        &format!("__RQ_STATE_{id}"),
        pyjson::to_string_pretty(&state).as_bytes(),
        "application/json",
    );

    // The rest sorts by file name, which is a hash: compute the expected tail.
    let mut rest = vec!["zz-rest", "aa-rest"];
    rest.sort_by_key(|k| request_file_name(k));
    let mut expected: Vec<&str> = vec!["f2", "f1", "ours-front", "ours-regular", "r1", "r2", "r3"];
    expected.extend(&rest);

    let s = storages(root);
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    assert_eq!(rq.id(), id);
    assert_eq!(rq.counts(), (1, 9, 10));
    assert_eq!(pending_order(&rq), expected, "in_progress_requests are served again, handled ones never");
    // New requests go to the end and to the front.
    rq.add(vec![req("new-regular")], false, None).unwrap();
    rq.add(vec![req("new-front")], true, None).unwrap();
    let mut expected_now: Vec<&str> = vec!["new-front"];
    expected_now.extend(&expected);
    expected_now.push("new-regular");
    assert_eq!(pending_order(&rq), expected_now);
    // Re-adding a handled request does nothing; a forefront re-add moves a queued one first.
    let out = rq.add(vec![req("h"), req("r2")], true, None).unwrap();
    assert!(out[0].was_already_handled && out[1].was_already_present);
    let mut expected_moved: Vec<&str> = vec!["r2"];
    expected_moved.extend(expected_now.iter().filter(|k| **k != "r2"));
    assert_eq!(pending_order(&rq), expected_moved);
    drop(rq);
    s.flush().unwrap();
    drop(s);

    // The state record we wrote gives the Python reader the same order (§10.4 service order).
    let record: Value = serde_json::from_slice(&fs::read(kvs_dir.join(format!("__RQ_STATE_{id}"))).unwrap()).unwrap();
    assert_eq!(python_service_order(&record), expected_moved, "{record}");
    assert_eq!(record["handled_requests"], json!(["h"]));
    let sidecar: Value =
        serde_json::from_slice(&fs::read(kvs_dir.join(format!("__RQ_STATE_{id}.__metadata__.json"))).unwrap()).unwrap();
    assert_eq!(sidecar["content_type"], "application/json");

    // And our own reader keeps it across a restart.
    let s = storages(root);
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    let after = pending_order(&rq);
    // Regression (fixed): files without `__order` are re-placed below the minimum / above the maximum
    // of the files that have one on every open (the orders assigned on the previous open were
    // kept only in memory), so requests added by us before the restart jump the queue.
    assert_eq!(after, expected_moved, "order changed across a restart");
    let mut sorted_after = after.clone();
    sorted_after.sort();
    let mut sorted_expected: Vec<String> = expected_moved.iter().map(|s| (*s).to_owned()).collect();
    sorted_expected.sort();
    assert_eq!(sorted_after, sorted_expected, "no request lost or duplicated across a restart");
}

/// The order in which the Python SDK serves a state record: forefront by descending sequence,
/// then regular by ascending sequence (§10.4).
fn python_service_order(record: &Value) -> Vec<String> {
    let seqs = |field: &str| {
        let mut v: Vec<(i64, String)> =
            record[field].as_object().unwrap().iter().map(|(k, s)| (s.as_i64().unwrap(), k.clone())).collect();
        v.sort();
        v
    };
    let mut out: Vec<String> = seqs("forefront_requests").into_iter().rev().map(|(_, k)| k).collect();
    out.extend(seqs("regular_requests").into_iter().map(|(_, k)| k));
    out
}

/// FIFO order of requests the Python SDK left pending survives our adds and a restart.
#[test]
fn python_pending_requests_stay_ahead_of_ours_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let id = "PyQueue0000000002";
    let dir = root.join("request_queues/default");
    fs::create_dir_all(&dir).unwrap();
    for k in ["p1", "p2", "p3"] {
        fs::write(dir.join(request_file_name(k)), python_request_file(k, &format!("https://example.com/{k}"), None))
            .unwrap();
    }
    fs::write(dir.join("__metadata__.json"), python_rq_metadata(id, None, 0, 3)).unwrap();
    let kvs_dir = root.join("key_value_stores/default");
    fs::create_dir_all(&kvs_dir).unwrap();
    let state = json!({"sequence_counter": 3, "forefront_sequence_counter": 0, "forefront_requests": {},
        "regular_requests": {"p1": 0, "p2": 1, "p3": 2}, "in_progress_requests": [], "handled_requests": []});
    python_record(
        &kvs_dir,
        &format!("__RQ_STATE_{id}"),
        pyjson::to_string_pretty(&state).as_bytes(),
        "application/json",
    );
    {
        let s = storages(root);
        let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
        rq.add(vec![req("n1")], false, None).unwrap();
        assert_eq!(pending_order(&rq), ["p1", "p2", "p3", "n1"]);
    }
    let s = storages(root);
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    let order = pending_order(&rq);
    // Regression (fixed): after the restart `n1` (which has `__order` 4) comes before p1..p3, which get
    // fresh orders 5..7 above it: FIFO is broken (see w5-order-not-persisted).
    assert_eq!(order, ["p1", "p2", "p3", "n1"]);
    assert_eq!(order.len(), 4);
}

/// Listing requests page by page (cursor) returns every request once, including handled files
/// written by the Python SDK (which all lack `__order`).
#[test]
fn listing_python_handled_requests_by_pages_loses_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("request_queues/default");
    fs::create_dir_all(&dir).unwrap();
    let keys: Vec<String> = (0..6).map(|i| format!("https://example.com/{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let handled = (i % 2 == 0).then_some("2026-11-21 18:41:14.228393+00:00");
        fs::write(dir.join(request_file_name(k)), python_request_file(k, k, handled)).unwrap();
    }
    fs::write(dir.join("__metadata__.json"), python_rq_metadata("PyQueue0000000003", None, 3, 3)).unwrap();
    let s = storages(tmp.path());
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    assert_eq!(rq.counts(), (3, 3, 6));
    let (all, _) = rq.list(100, None, false, false, None).unwrap();
    assert_eq!(all.len(), 6);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let (page, next) = rq.list(1, cursor.as_deref(), false, false, None).unwrap();
        seen.extend(page.into_iter().map(|e| e.request.unique_key));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    seen.sort();
    let mut expected = keys.clone();
    expected.sort();
    // Regression (fixed): every handled file without `__order` gets order 0, so they share one cursor
    // position and paging past the first skips the others.
    assert_eq!(seen, expected);
    assert!(seen.len() >= 4, "{seen:?}");
}

#[test]
fn dropping_a_queue_deletes_its_state_record_w16() {
    let tmp = tempfile::tempdir().unwrap();
    let kvs_dir = tmp.path().join("key_value_stores/default");
    let s = storages(tmp.path());
    let (rq, _) = s.open_request_queue(&Target::Name("named-q".into())).unwrap();
    let id = rq.id().to_owned();
    rq.add(vec![req("a"), req("b")], false, None).unwrap();
    drop(rq);
    let (keep, _) = s.open_request_queue(&Target::Alias("kept".into())).unwrap();
    let keep_id = keep.id().to_owned();
    drop(keep);
    s.flush().unwrap();
    let record = format!("__RQ_STATE_{id}");
    assert!(kvs_dir.join(&record).exists());
    assert!(kvs_dir.join(format!("{record}.__metadata__.json")).exists());
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert!(kvs.get(&record).unwrap().is_some());

    assert!(s.drop_storage(Kind::RequestQueue, &Target::Name("named-q".into())).unwrap());
    assert!(!tmp.path().join("request_queues/named-q").exists());
    assert!(!kvs_dir.join(&record).exists(), "the state record outlived its queue (D8)");
    assert!(!kvs_dir.join(format!("{record}.__metadata__.json")).exists());
    assert!(kvs.get(&record).unwrap().is_none());
    assert!(kvs_dir.join(format!("__RQ_STATE_{keep_id}")).exists(), "other queues' records are kept");
    // Closing does not bring it back.
    drop(kvs);
    s.flush().unwrap();
    drop(s);
    assert!(!kvs_dir.join(&record).exists());
    // Dropping what does not exist is `false`, not an error.
    let s = storages(tmp.path());
    assert!(!s.drop_storage(Kind::RequestQueue, &Target::Id("NoSuchQueue000000".into())).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Names and aliases (W6)

#[test]
fn names_and_aliases_do_not_mix_w6() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = storages(tmp.path());
        s.open_dataset(&Target::Alias("by-alias".into())).unwrap().0.push(&[json!({"a": 1})]).unwrap();
        s.open_dataset(&Target::Name("by-name".into())).unwrap().0.push(&[json!({"b": 1})]).unwrap();
        s.open_dataset(&Target::Default).unwrap();
    }
    assert_eq!(metadata(&tmp.path().join("datasets/by-alias"))["name"], Value::Null);
    assert_eq!(metadata(&tmp.path().join("datasets/by-name"))["name"], "by-name");
    let s = storages(tmp.path());
    assert!(matches!(s.open_dataset(&Target::Name("by-alias".into())), Err(StorageError::InvalidName(_))));
    assert!(matches!(s.open_dataset(&Target::Alias("by-name".into())), Err(StorageError::InvalidName(_))));
    assert!(matches!(s.open_dataset(&Target::Alias("default".into())), Err(StorageError::InvalidName(_))));
    assert!(matches!(s.open_dataset(&Target::Name("default".into())), Err(StorageError::InvalidName(_))));
    // The data of either is untouched and both still open their proper way.
    assert_eq!(s.open_dataset(&Target::Alias("by-alias".into())).unwrap().0.item_count(), 1);
    assert_eq!(s.open_dataset(&Target::Name("by-name".into())).unwrap().0.item_count(), 1);
    assert_eq!(metadata(&tmp.path().join("datasets/by-alias"))["name"], Value::Null);
    // By ID, either works.
    let id = metadata(&tmp.path().join("datasets/by-alias"))["id"].as_str().unwrap().to_owned();
    let (by_id, _) = s.open_dataset(&Target::Id(id)).unwrap();
    assert_eq!(by_id.item_count(), 1);
}

#[test]
fn the_name_default_cannot_take_over_the_default_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let s = storages(tmp.path());
    let named = s.open_dataset(&Target::Name("default".into()));
    // Regression (fixed): `validate_name("default")` passes and, when `datasets/default` does not exist
    // yet, the default storage's directory is created with `"name": "default"`; from then on
    // `Target::Default` fails with InvalidName (W6: the directory belongs to the default storage).
    assert!(matches!(named, Err(StorageError::InvalidName(_))), "{:?}", named.as_ref().map(|(d, _)| d.meta()));
    drop(named);
    drop(s);
    let s = storages(tmp.path());
    let default = s.open_dataset(&Target::Default);
    let (ds, _) = default.as_ref().expect("the default dataset opens");
    assert_eq!(ds.meta().name, None);
    // Whatever happened, it is a typed result, never a panic, and the API agrees.
    drop(default);
    drop(s);
    let api = api(tmp.path());
    let r = call(&api, "POST", "/v2/datasets?name=default", "", &[]);
    assert!(r.status().as_u16() < 500, "{}", r.status());
}

/// The Python SDK numbers its next item from `item_count` in `__metadata__.json`: the file
/// is current after every push (not only after a flush), so that after a crash of ours
/// Python appends instead of writing over our items.
#[test]
fn item_count_on_disk_is_current_after_every_push() {
    for durability in [Durability::Relaxed, Durability::Full] {
        let tmp = tempfile::tempdir().unwrap();
        let s = storages_with(tmp.path(), durability);
        let (ds, _) = s.open_dataset(&Target::Name("counted".into())).unwrap();
        let on_disk = || {
            let meta =
                pyjson::parse_tolerant(&fs::read(tmp.path().join("datasets/counted/__metadata__.json")).unwrap())
                    .unwrap()
                    .0;
            meta["item_count"].as_u64().unwrap()
        };
        ds.push(&[json!({"n": 1})]).unwrap();
        assert_eq!(on_disk(), 1);
        for n in 2..=20 {
            ds.push(&[json!({"n": n})]).unwrap();
            assert_eq!(on_disk(), n, "{durability:?}");
        }
        ds.push(&[json!({"n": 21}), json!({"n": 22})]).unwrap();
        assert_eq!(on_disk(), 22);
        // No spare or temp file is visible as data.
        let json_files = fs::read_dir(tmp.path().join("datasets/counted"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json"))
            .count();
        assert_eq!(json_files, 23);
    }
}
