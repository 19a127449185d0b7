//! The Rust storage engine and the real Apify SDK for Python (apify 4.1.0 / crawlee 1.11) read
//! each other's storage folders (local-storage-format.md §1–§11 and §13; storage-methods.md §7).
//!
//! - Python → Rust: the §11 scenario (and a second one with pending forefront requests, a named
//!   queue, big integers and NaN) is run by Python; Rust reads every item, record and request,
//!   and serves the pending requests in the order Python would (checked against Python itself,
//!   on a copy of the folder, and against the `__RQ_STATE_` record).
//! - Rust → Python: the engine writes datasets, records and queues; Python reads them back and
//!   checks exact values, content types, counts and the order `fetch_next_request()` serves.
//!   Python also writes the same data, and the files are compared byte for byte where the
//!   format is byte-exact.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apify_local::format::{pyjson, timestamp};
use apify_local::storage::{ItemQuery, StorageConfig, Storages, StoredRequest, Target, encode_key};
use apify_local::unique_key::{request_file_name, request_id};
use apify_tests::python::run_script;
use serde_json::{Map, Value, json};

const S11: &str = include_str!("../python/sdk_files_s11.py");
const RQ_ORDER: &str = include_str!("../python/sdk_files_rq_order.py");
const READ: &str = include_str!("../python/sdk_files_read.py");
const WRITE: &str = include_str!("../python/sdk_files_write.py");

// ---------------------------------------------------------------------------------------------
// Helpers

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "apify-sdk-files-{label}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a Python script with `cwd` as the project directory and `storage` as the storage folder.
fn python(source: &str, args: &[&str], cwd: &Path, storage: &Path, purge: bool) -> String {
    let storage = storage.to_str().unwrap();
    let env = [
        ("APIFY_LOCAL_STORAGE_DIR", storage),
        ("CRAWLEE_STORAGE_DIR", storage),
        ("APIFY_PURGE_ON_START", if purge { "true" } else { "false" }),
        ("CRAWLEE_PURGE_ON_START", if purge { "true" } else { "false" }),
        ("APIFY_INPUT_KEY", "INPUT"),
    ];
    let out = run_script(source, args, cwd, &env);
    String::from_utf8(out.stdout).unwrap()
}

/// Reads storages with the Python SDK (`sdk_files_read.py`, no purge), checking `spec`'s
/// expectations in Python, and returns what Python read.
fn python_read(cwd: &Path, storage: &Path, spec: &Value) -> Value {
    static N: AtomicU64 = AtomicU64::new(0);
    let spec_path = cwd.join(format!("read-spec-{}.json", N.fetch_add(1, Ordering::Relaxed)));
    fs::write(&spec_path, serde_json::to_vec(spec).unwrap()).unwrap();
    let stdout = python(READ, &[spec_path.to_str().unwrap()], cwd, storage, false);
    let line = stdout.lines().find_map(|l| l.strip_prefix("DUMP ")).unwrap_or_else(|| panic!("no DUMP in {stdout}"));
    pyjson::parse_tolerant(line.as_bytes()).unwrap().0
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under `root` (relative path → bytes).
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn read_json(path: &Path) -> Value {
    pyjson::parse_tolerant(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap().0
}

/// The order in which the Python SDK serves a state record: in-progress cleared, forefront by
/// descending sequence, then regular by ascending sequence (§10.4).
fn state_record_order(record: &Value) -> Vec<String> {
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

fn pending_order(rq: &apify_local::storage::RequestQueue) -> Vec<String> {
    let (items, ..) = rq.head(100_000, Some("rust")).unwrap();
    items.into_iter().map(|i| i.unique_key).collect()
}

fn python_order(dump: &Value) -> Vec<String> {
    dump["order"].as_array().unwrap().iter().map(|r| r["unique_key"].as_str().unwrap().to_owned()).collect()
}

/// A record's value decoded by the rules of §5.5, tagged like `sdk_files_read.py` tags
/// Python's `get_value` result.
fn decode_like_python(content_type: &str, bytes: &[u8]) -> Value {
    if content_type == "application/x-none" {
        return json!({"type": "none"});
    }
    if content_type.contains("application/json") {
        let v = pyjson::parse_tolerant(bytes).unwrap().0;
        let ty = match &v {
            Value::Null => return json!({"type": "none"}),
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_f64() => "float",
            Value::Number(_) => "int",
            Value::String(_) => "str",
            Value::Array(_) => "list",
            Value::Object(_) => "dict",
        };
        return json!({"type": ty, "value": v});
    }
    if content_type.starts_with("text/") {
        return json!({"type": "str", "value": String::from_utf8(bytes.to_vec()).unwrap()});
    }
    json!({"type": "bytes", "base64": base64(bytes)})
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn is_python_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let head = b.len() >= 25
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let tail = &s[19.min(s.len())..];
    head && (tail == "+00:00" || (tail.len() == 13 && tail.starts_with('.') && tail.ends_with("+00:00")))
}

// ---------------------------------------------------------------------------------------------
// Python → Rust: the §11 scenario

fn seed_s11(storage: &Path) {
    let kvs = storage.join("key_value_stores/default");
    fs::create_dir_all(&kvs).unwrap();
    fs::write(kvs.join("INPUT.json"), b"{\"startUrls\": [{\"url\": \"https://example.com\"}], \"maxItems\": 3}\n")
        .unwrap();
    fs::write(kvs.join("OLD_RECORD"), b"old").unwrap();
    fs::create_dir_all(storage.join("datasets/default")).unwrap();
    fs::write(storage.join("datasets/default/000000001.json"), b"{\"stale\": true}").unwrap();
    fs::create_dir_all(storage.join("datasets/my-named-ds")).unwrap();
}

/// Every record of the default KVS after §11 (except the state record): key, content type
/// and the exact bytes of the value file (§11, verbatim).
fn s11_records() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let json = "application/json; charset=utf-8";
    let text = "text/plain; charset=utf-8";
    vec![
        ("APIFY_GLOBAL_STATE", "application/json", b"{\n  \"counter\": 1\n}".to_vec()),
        ("BOOL", text, b"True".to_vec()),
        ("BYTES", "application/octet-stream", b"\x00\x01\x02binary".to_vec()),
        ("CSV", "text/csv", b"a,b\n1,2\n".to_vec()),
        ("DICT", json, "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"u\": \"ü\"\n}".as_bytes().to_vec()),
        (
            "EXPORT_CSV",
            "text/csv",
            "url,title,n\nhttps://a.example,Ä unicode ✓,1\nhttps://b.example,,2\n,,3\n".as_bytes().to_vec(),
        ),
        (
            "EXPORT_JSON",
            "application/json",
            br#""[{\"url\": \"https://a.example\", \"title\": \"\\u00c4 unicode \\u2713\", \"n\": 1}, {\"url\": \"https://b.example\", \"n\": 2, \"nested\": {\"x\": [1, 2]}}, {\"n\": 3, \"extra\": null}]""#.to_vec(),
        ),
        ("INPUT", json, b"{\"startUrls\": [{\"url\": \"https://example.com\"}], \"maxItems\": 3}\n".to_vec()),
        ("INT", text, b"42".to_vec()),
        ("LIST", json, b"[\n  1,\n  2,\n  3\n]".to_vec()),
        ("PNG.png", "image/png", b"\x89PNG fake".to_vec()),
        ("STR", text, b"hello text".to_vec()),
        ("TO_DELETE", "application/x-none", Vec::new()),
        ("weird key/with spaces?&#", text, b"v".to_vec()),
    ]
}

const S11_KEYS: [&str; 7] = [
    "https://example.com/path?a=1&b=2",
    "POST|60d83e70|6ae0f660|https://example.com/post",
    "https://example.com/1",
    "https://example.com/2",
    "https://example.com/3",
    "https://example.com/front",
    "https://example.com/front2",
];

#[test]
fn python_s11_folder_is_read_exactly_by_rust() {
    let tmp = TempDir::new("s11");
    let project = tmp.path().join("project");
    let storage = project.join("storage");
    seed_s11(&storage);
    let out = python(S11, &[], &project, &storage, true);
    let printed = |prefix: &str| {
        out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {out}")).to_owned()
    };
    assert_eq!(printed("INPUT = "), "{'startUrls': [{'url': 'https://example.com'}], 'maxItems': 3}");

    // What Python itself reads, from a copy (Python's reads write metadata and state records).
    let copy = tmp.path().join("copy");
    copy_dir(&storage, &copy.join("storage"));
    let read_spec = json!({
        "datasets": [{"open": {}}, {"open": {"alias": "my-alias"}}, {"open": {"name": "my-named-ds"}}],
        "kvs": [{"open": {}}],
        "rqs": [{"open": {}, "get": S11_KEYS}],
    });
    let py = python_read(&copy, &copy.join("storage"), &read_spec);
    let before = files(&storage);

    let rq_id = read_json(&storage.join("request_queues/default/__metadata__.json"))["id"].as_str().unwrap().to_owned();
    let state_file = storage.join(format!("key_value_stores/default/__RQ_STATE_{rq_id}"));
    let state = read_json(&state_file);
    let expected_order: Vec<String> = [0, 1, 2, 3, 4, 5].iter().map(|i| S11_KEYS[*i].to_owned()).collect();
    assert_eq!(state_record_order(&state), expected_order, "the reference order of §11");
    assert_eq!(python_order(&py["rqs"][0]), expected_order, "what Python serves next");

    {
        let s = Storages::new(StorageConfig::new(&storage));
        // Datasets: the default one, an alias and a name.
        let (ds, created) = s.open_dataset(&Target::Default).unwrap();
        assert!(!created);
        let items = ds.get_items(&ItemQuery::default()).unwrap().items;
        assert_eq!(
            items,
            [
                json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1}),
                json!({"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}}),
                json!({"n": 3, "extra": null}),
            ]
        );
        assert_eq!(Value::Array(items), py["datasets"][0]["items"]);
        assert_eq!(ds.meta().id, py["datasets"][0]["id"].as_str().unwrap());
        assert_eq!(ds.item_count(), 3);
        let desc = ds.get_items(&ItemQuery { desc: true, ..Default::default() }).unwrap().items;
        assert_eq!(desc.iter().map(|i| i["n"].as_u64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
        let page = ds.get_items(&ItemQuery { offset: 1, limit: Some(5), ..Default::default() }).unwrap();
        assert_eq!((page.count, page.offset, page.limit, page.total, page.items.len()), (2, 1, 5, 3, 2));
        let (alias, _) = s.open_dataset(&Target::Alias("my-alias".into())).unwrap();
        assert_eq!(alias.get_items(&ItemQuery::default()).unwrap().items, [json!({"aliased": true})]);
        assert_eq!(alias.meta().name, None);
        let (named, _) = s.open_dataset(&Target::Name("my-named-ds".into())).unwrap();
        assert_eq!(named.get_items(&ItemQuery::default()).unwrap().items, [json!({"named": true})]);
        assert_eq!(named.meta().name.as_deref(), Some("my-named-ds"));
        let (by_id, _) = s.open_dataset(&Target::Id(py["datasets"][2]["id"].as_str().unwrap().into())).unwrap();
        assert_eq!(by_id.item_count(), 1);

        // The default KVS: keys, content types, sizes and bytes.
        let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
        let listed: Vec<Value> = kvs
            .list_keys(None, 1000, None)
            .0
            .into_iter()
            .map(|k| json!({"key": k.key, "content_type": k.content_type, "size": k.size}))
            .collect();
        assert_eq!(Value::Array(listed.clone()), py["kvs"][0]["keys"], "the listing equals Python's");
        let mut expected_keys: Vec<Value> = s11_records()
            .into_iter()
            .map(|(k, ct, bytes)| json!({"key": k, "content_type": ct, "size": bytes.len()}))
            .collect();
        let state_size = fs::metadata(&state_file).unwrap().len();
        let state_key = format!("__RQ_STATE_{rq_id}");
        expected_keys.insert(13, json!({"key": state_key, "content_type": "application/json", "size": state_size}));
        assert_eq!(listed, expected_keys, "§11 listing, in the byte order of the file names");
        let (page, more) = kvs.list_keys(Some("DICT"), 3, None);
        assert_eq!(page.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["EXPORT_CSV", "EXPORT_JSON", "INPUT"]);
        assert!(more);
        for (key, content_type, bytes) in s11_records() {
            let rec = kvs.get(key).unwrap().unwrap_or_else(|| panic!("record {key:?} is missing"));
            assert_eq!((rec.key.as_str(), rec.content_type.as_str()), (key, content_type));
            assert_eq!(rec.value, bytes, "{key}");
            assert_eq!(
                decode_like_python(&rec.content_type, &rec.value),
                py["kvs"][0]["values"][key],
                "{key} decodes as Python decodes it (§5.5)"
            );
        }
        assert_eq!(py["kvs"][0]["values"]["INT"], json!({"type": "str", "value": "42"}), "D4");
        assert_eq!(py["kvs"][0]["exists"]["TO_DELETE"], true, "D3: an x-none record exists");
        assert_eq!(
            py["kvs"][0]["input"],
            json!({"type": "dict", "value": {"startUrls": [{"url": "https://example.com"}], "maxItems": 3}})
        );
        assert_eq!(kvs.get("OLD_RECORD").unwrap(), None, "purged by Python");
        // Public URLs: the file URI of the value file, `%` escaped as `%25` (D2).
        assert_eq!(kvs.public_file_uri("DICT").unwrap(), printed("public url: "));
        assert_eq!(kvs.public_file_uri("weird key/with spaces?&#").unwrap(), printed("public url weird: "));

        // The request queue.
        let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
        assert_eq!(rq.id(), rq_id);
        assert_eq!(rq.counts(), (1, 6, 7));
        let py_counts = &py["rqs"][0]["counts"];
        assert_eq!(py_counts, &json!([1, 6, 7]));
        for key in S11_KEYS {
            let entry = rq.get(&request_id(key)).unwrap().unwrap_or_else(|| panic!("request {key:?} is missing"));
            let r = &entry.request;
            let p = &py["rqs"][0]["requests"][key];
            assert_eq!(r.unique_key, key);
            assert_eq!(r.url, p["url"].as_str().unwrap(), "{key}");
            assert_eq!(r.method, p["method"].as_str().unwrap(), "{key}");
            assert_eq!(r.payload.as_deref(), p["payload"].as_str(), "{key}");
            assert_eq!(Value::Object(r.headers.clone()), p["headers"], "{key}");
            assert_eq!(Value::Object(r.user_data.clone()), p["user_data"], "{key}");
            assert_eq!(r.retry_count, p["retry_count"].as_u64().unwrap(), "{key}");
            assert_eq!(r.no_retry, p["no_retry"].as_bool().unwrap(), "{key}");
            assert_eq!(r.loaded_url.as_deref(), p["loaded_url"].as_str(), "{key}");
            assert_eq!(r.handled_at.is_some(), !p["handled_at"].is_null(), "{key}");
            let file = read_json(&storage.join("request_queues/default").join(request_file_name(key)));
            if let Some(at) = r.handled_at {
                assert_eq!(timestamp::format_python(at), file["handled_at"].as_str().unwrap());
            }
        }
        let post = rq.get(&request_id(S11_KEYS[1])).unwrap().unwrap().request;
        assert_eq!(post.payload.as_deref(), Some("{\"q\":1}"));
        assert_eq!(Value::Object(post.user_data), json!({"label": "DETAIL", "foo": "bar"}));
        assert_eq!(Value::Object(post.headers), json!({"content-type": "application/json"}));
        assert_eq!(rq.get(&request_id("https://example.com/front")).unwrap().unwrap().request.retry_count, 1);
        assert_eq!(
            rq.get(&request_id(S11_KEYS[0])).unwrap().unwrap().request.url,
            "https://Example.COM/path/?b=2&a=1&utm_source=x#frag"
        );
        // The pending order: the in-progress `path` request is served again, first.
        assert_eq!(pending_order(&rq), expected_order);
        s.flush().unwrap();
    }

    // Opening and closing changed no data file (only metadata and the state record; a request
    // file may gain our `__order` key, which the Python reader ignores, §10.1 and W5).
    let after = files(&storage);
    for (path, bytes) in &before {
        if path.rsplit('/').next() == Some("__metadata__.json") || path.contains("__RQ_STATE_") {
            continue;
        }
        let now = after.get(path).unwrap_or_else(|| panic!("{path} was deleted by reading"));
        if path.starts_with("request_queues/") && now != bytes {
            let mut v = read_json_bytes(now);
            v.as_object_mut().unwrap().shift_remove("__order");
            assert_eq!(pyjson::to_string_pretty(&v).as_bytes(), bytes.as_slice(), "{path} was changed by reading");
            continue;
        }
        assert_eq!(now, bytes, "{path} was changed by reading");
    }
    assert_eq!(
        after.keys().filter(|p| !p.starts_with(".locks")).collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "no file was added or removed"
    );

    // After Rust has closed the folder, Python still serves the same order and reads the same
    // records (our `__RQ_STATE_` record replaced Python's).
    let records: Map<String, Value> = s11_records()
        .into_iter()
        .filter(|(k, ..)| *k != "APIFY_GLOBAL_STATE" && *k != "INPUT")
        .map(|(k, ct, bytes)| (k.to_owned(), json!({"content_type": ct, "value": decode_like_python(ct, &bytes)})))
        .collect();
    python_read(
        &project,
        &storage,
        &json!({
            "kvs": [{"open": {}, "expect": {"records": records}}],
            "rqs": [{"open": {}, "expect": {"order": expected_order, "counts": [1, 6, 7]}}],
        }),
    );

    // The input file without its sidecar (as the Apify CLI writes it): Rust generates the same
    // sidecar Python generated (§6), byte for byte.
    let python_sidecar = fs::read(copy.join("storage/key_value_stores/default/INPUT.json.__metadata__.json")).unwrap();
    assert_eq!(
        python_sidecar,
        b"{\n  \"key\": \"INPUT\",\n  \"content_type\": \"application/json; charset=utf-8\",\n  \"size\": 63\n}"
    );
    let bare = tmp.path().join("bare");
    copy_dir(&copy.join("storage"), &bare);
    fs::remove_file(bare.join("key_value_stores/default/INPUT.json.__metadata__.json")).unwrap();
    let s = Storages::new(StorageConfig::new(&bare));
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    assert_eq!(fs::read(bare.join("key_value_stores/default/INPUT.json.__metadata__.json")).unwrap(), python_sidecar);
    let input = kvs.get("INPUT").unwrap().unwrap();
    assert_eq!(input.content_type, "application/json; charset=utf-8");
    assert!(!bare.join("key_value_stores/default/INPUT").exists());
}

// ---------------------------------------------------------------------------------------------
// Python → Rust: forefront, reclaims, named queues, big numbers

fn url(name: &str) -> String {
    format!("https://example.com/{name}")
}

#[test]
fn python_queue_order_and_numbers_are_kept_by_rust() {
    let tmp = TempDir::new("order");
    let project = tmp.path().join("project");
    let storage = project.join("storage");
    fs::create_dir_all(&storage).unwrap();
    python(RQ_ORDER, &[], &project, &storage, true);

    let named_expected: Vec<String> = ["f0", "r1", "r2", "r4", "r5", "f1"].iter().map(|n| url(n)).collect();
    let mut default_expected = vec![url("urgent")];
    default_expected.extend((4..25).map(|i| url(&format!("n{i}"))));
    default_expected.push(url("n3"));

    let copy = tmp.path().join("copy");
    copy_dir(&storage, &copy.join("storage"));
    let py = python_read(
        &copy,
        &copy.join("storage"),
        &json!({
            "rqs": [
                {"open": {"name": "order-q"}, "get": [url("r3"), url("r0"), url("f1")]},
                {"open": {}},
            ],
        }),
    );
    assert_eq!(python_order(&py["rqs"][0]), named_expected, "Python's own order of the named queue");
    assert_eq!(python_order(&py["rqs"][1]), default_expected, "Python's own order of the default queue");

    let named_id =
        read_json(&storage.join("request_queues/order-q/__metadata__.json"))["id"].as_str().unwrap().to_owned();
    let default_id =
        read_json(&storage.join("request_queues/default/__metadata__.json"))["id"].as_str().unwrap().to_owned();
    let kvs_dir = storage.join("key_value_stores/default");
    let named_state = read_json(&kvs_dir.join(format!("__RQ_STATE_{named_id}")));
    assert_eq!(state_record_order(&named_state), named_expected);
    assert_eq!(state_record_order(&read_json(&kvs_dir.join(format!("__RQ_STATE_{default_id}")))), default_expected);
    assert_eq!(named_state["in_progress_requests"], json!([url("f0")]));

    {
        let s = Storages::new(StorageConfig::new(&storage));
        let (q, _) = s.open_request_queue(&Target::Name("order-q".into())).unwrap();
        assert_eq!(pending_order(&q), named_expected);
        assert_eq!(q.counts(), (2, 6, 8));
        assert_eq!(json!([2, 6, 8]), py["rqs"][0]["counts"]);
        let f1 = q.get(&request_id(&url("f1"))).unwrap().unwrap().request;
        assert_eq!(f1.retry_count, 1);
        assert!(q.get(&request_id(&url("r3"))).unwrap().unwrap().request.handled_at.is_some());
        let (d, _) = s.open_request_queue(&Target::Default).unwrap();
        assert_eq!(pending_order(&d), default_expected);
        assert_eq!(d.counts(), (3, 23, 26));

        // Rust adds to Python's queue: one to the front, one to the back.
        q.add(
            vec![StoredRequest::from_api(&json!({"uniqueKey": url("rust-last"), "url": url("rust-last")})).unwrap()],
            false,
            Some("rust"),
        )
        .unwrap();
        q.add(
            vec![StoredRequest::from_api(&json!({"uniqueKey": url("rust-front"), "url": url("rust-front")})).unwrap()],
            true,
            Some("rust"),
        )
        .unwrap();

        // Numbers Python wrote: big integers stay integers (§2), NaN/Infinity read as null (W15).
        let (numbers, _) = s.open_dataset(&Target::Name("numbers".into())).unwrap();
        let item = numbers.get_items(&ItemQuery::default()).unwrap().items.remove(0);
        assert_eq!(item["nan"], Value::Null);
        assert_eq!(item["inf"], Value::Null);
        assert_eq!(item["ninf"], Value::Null);
        assert_eq!(item["f"].as_f64(), Some(0.1 + 0.2));
        assert_eq!(item["tiny"].as_f64(), Some(1e-5));
        // Known limitation (README): without serde_json's `arbitrary_precision` (which a library
        // must not switch on for its users: it breaks `flatten` and untagged enums) an integer
        // beyond 64 bits is read as the nearest float, never as an error or a null.
        assert_eq!(item["big"].as_f64(), Some(2f64.powi(70)));
        assert_eq!(item["neg"].as_f64(), Some(-(2f64.powi(65))));
        assert!(item["big"].is_number());
    }
    let mut named_now = vec![url("rust-front")];
    named_now.extend(named_expected.iter().cloned());
    named_now.push(url("rust-last"));
    // Python serves our order, through the state record we wrote on closing.
    python_read(
        &project,
        &storage,
        &json!({"rqs": [
            {"open": {"name": "order-q"}, "expect": {"order": named_now, "counts": [2, 8, 10]}},
            {"open": {}, "expect": {"order": default_expected, "counts": [3, 23, 26]}},
        ]}),
    );
    // Rust reopens the folder (Python fetched everything but handled nothing): the same order.
    let s = Storages::new(StorageConfig::new(&storage));
    let (q, _) = s.open_request_queue(&Target::Name("order-q".into())).unwrap();
    assert_eq!(q.counts(), (2, 8, 10));
    let order = pending_order(&q);
    // Regression (fixed): the orders given on open to Python's files (no `__order`) were never written,
    // so on this reopen they are placed around our two requests again: `f0` jumps ahead of
    // `rust-front` and `rust-last` ahead of `r1` (see faults.rs, w5-order-not-persisted).
    assert_eq!(order, named_now);
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected_sorted = named_now.clone();
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted, "nothing lost or duplicated");
}

// ---------------------------------------------------------------------------------------------
// Rust → Python

fn dataset_items() -> Vec<(Value, Vec<Value>)> {
    let default = vec![
        json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1}),
        json!({"a": {"b": {"c": [1, {"d": []}, {}]}}, "e": [], "f": {}}),
        json!({
            "sum": 0.1 + 0.2,
            "small": 1e-5,
            "tiny": 2.5e-7,
            "big": 1e16,
            "bigger": 1.2345678901234568e17,
            "one": 1.0,
            "hundred": 100.0,
            "neg_zero": -0.0,
            "fixed": 1_000_000_000_000_000.0,
            "ten_thousandth": 0.0001,
        }),
        json!({"max_u64": u64::MAX, "min_i64": i64::MIN, "beyond_f64": 9_007_199_254_740_993_u64, "zero": 0}),
        json!({
            "ctrl": "\u{1}\u{1f}\u{8}\t\n\u{c}\r",
            "quote": "\"\\/",
            "del": "\u{7f}",
            "seps": "\u{2028}\u{2029}",
            "emoji": "😀",
            "cjk": "漢字",
            "nul": "\u{0}",
        }),
        json!({}),
        json!({"null": null, "bools": [true, false], "Ünïcödé kéy": "välue"}),
    ];
    vec![
        (json!({}), default),
        (json!({"name": "named-ds"}), vec![json!({"named": true}), json!({"list": [1, 2.5, "x", null]})]),
        (json!({"alias": "my-alias"}), vec![json!({"aliased": true})]),
    ]
}

fn target_of(open: &Value) -> Target {
    if let Some(n) = open["name"].as_str() {
        Target::Name(n.into())
    } else if let Some(a) = open["alias"].as_str() {
        Target::Alias(a.into())
    } else {
        Target::Default
    }
}

/// A KVS record of the data set: how Rust stores it, and how Python reads it back.
struct Rec {
    key: &'static str,
    /// What Python's `set_value` gets (`None`: not written by Python, W8 differs).
    python: Option<Value>,
    bytes: Vec<u8>,
    content_type: &'static str,
    /// `get_value` in Python, tagged.
    reads_as: Value,
}

fn records() -> Vec<Rec> {
    let json_ct = "application/json; charset=utf-8";
    let text = "text/plain; charset=utf-8";
    let j = |v: &Value| pyjson::to_string_pretty(v).into_bytes();
    let dict = json!({"a": 1, "b": [1, 2], "u": "ü"});
    let floats = json!({"sum": 0.1 + 0.2, "small": 1e-5, "big": 1e16, "neg_zero": -0.0, "int": u64::MAX});
    let unicode = json!({"x": 1, "ü": ["✓", "\u{2028}"]});
    let bytes = b"\x00\x01\x02binary\xff".to_vec();
    let png = b"\x89PNG fake".to_vec();
    vec![
        Rec {
            key: "DICT",
            python: Some(json!({"kind": "json", "value": dict})),
            bytes: j(&dict),
            content_type: json_ct,
            reads_as: json!({"type": "dict", "value": dict}),
        },
        Rec {
            key: "LIST",
            python: Some(json!({"kind": "json", "value": [1, 2, 3]})),
            bytes: j(&json!([1, 2, 3])),
            content_type: json_ct,
            reads_as: json!({"type": "list", "value": [1, 2, 3]}),
        },
        Rec {
            key: "FLOATS",
            python: Some(json!({"kind": "json", "value": floats})),
            bytes: j(&floats),
            content_type: json_ct,
            reads_as: json!({"type": "dict", "value": floats}),
        },
        Rec {
            key: "STR",
            python: Some(json!({"kind": "str", "value": "hello text ✓"})),
            bytes: "hello text ✓".as_bytes().to_vec(),
            content_type: text,
            reads_as: json!({"type": "str", "value": "hello text ✓"}),
        },
        Rec {
            key: "BYTES",
            python: Some(json!({"kind": "bytes", "base64": base64(&bytes)})),
            bytes: bytes.clone(),
            content_type: "application/octet-stream",
            reads_as: json!({"type": "bytes", "base64": base64(&bytes)}),
        },
        Rec {
            key: "CSV",
            python: Some(json!({"kind": "str", "value": "a,b\n1,2\n", "content_type": "text/csv"})),
            bytes: b"a,b\n1,2\n".to_vec(),
            content_type: "text/csv",
            reads_as: json!({"type": "str", "value": "a,b\n1,2\n"}),
        },
        Rec {
            key: "PNG.png",
            python: Some(json!({"kind": "bytes", "base64": base64(&png), "content_type": "image/png"})),
            bytes: png.clone(),
            content_type: "image/png",
            reads_as: json!({"type": "bytes", "base64": base64(&png)}),
        },
        Rec {
            key: "weird key/with spaces?&#",
            python: Some(json!({"kind": "str", "value": "v"})),
            bytes: b"v".to_vec(),
            content_type: text,
            reads_as: json!({"type": "str", "value": "v"}),
        },
        Rec {
            key: "klíč-ü",
            python: Some(json!({"kind": "json", "value": unicode})),
            bytes: j(&unicode),
            content_type: json_ct,
            reads_as: json!({"type": "dict", "value": unicode}),
        },
        Rec {
            key: "INPUT",
            python: Some(json!({"kind": "json", "value": {"startUrls": [{"url": "https://example.com"}]}})),
            bytes: j(&json!({"startUrls": [{"url": "https://example.com"}]})),
            content_type: json_ct,
            reads_as: json!({"type": "dict", "value": {"startUrls": [{"url": "https://example.com"}]}}),
        },
        // W8: numbers, booleans and null are JSON, so Python reads them with their type.
        Rec {
            key: "INT",
            python: None,
            bytes: b"42".to_vec(),
            content_type: json_ct,
            reads_as: json!({"type": "int", "value": 42}),
        },
        Rec {
            key: "FLOAT",
            python: None,
            bytes: b"1.5".to_vec(),
            content_type: json_ct,
            reads_as: json!({"type": "float", "value": 1.5}),
        },
        Rec {
            key: "BOOL",
            python: None,
            bytes: b"true".to_vec(),
            content_type: json_ct,
            reads_as: json!({"type": "bool", "value": true}),
        },
        Rec {
            key: "NULL",
            python: None,
            bytes: b"null".to_vec(),
            content_type: json_ct,
            reads_as: json!({"type": "none"}),
        },
    ]
}

/// Requests of the data set, in the wire form `StoredRequest::from_api` takes and the form
/// `sdk_files_write.py` takes.
fn rq_request(name: &str) -> (Value, Value) {
    let u = url(name);
    if name == "post" {
        let key = "POST|60d83e70|6ae0f660|https://example.com/post";
        return (
            json!({"uniqueKey": key, "url": u, "method": "POST", "payload": "{\"q\":1}",
                   "headers": {"content-type": "application/json"}, "userData": {"label": "DETAIL", "foo": "bar"}}),
            json!({"unique_key": key, "url": u, "method": "POST", "payload": "{\"q\":1}",
                   "headers": {"content-type": "application/json"}, "label": "DETAIL", "user_data": {"foo": "bar"}}),
        );
    }
    if name == "unicode" {
        let u = "https://example.com/ä?q=ü";
        let key = "https://example.com/%c3%a4?q=%c3%bc";
        return (
            json!({"uniqueKey": key, "url": u, "userData": {"k": [1, {"z": null}], "ü": "✓"}}),
            json!({"unique_key": key, "url": u, "user_data": {"k": [1, {"z": null}], "ü": "✓"}}),
        );
    }
    (json!({"uniqueKey": u, "url": u}), json!({"unique_key": u, "url": u}))
}

fn unique_key(name: &str) -> String {
    rq_request(name).0["uniqueKey"].as_str().unwrap().to_owned()
}

fn stored(name: &str) -> StoredRequest {
    StoredRequest::from_api(&rq_request(name).0).unwrap()
}

/// Writes the data set with the Rust engine; returns the expected pending orders.
fn rust_writes(storage: &Path) -> (Vec<String>, Vec<String>) {
    let s = Storages::new(StorageConfig::new(storage));
    for (open, items) in dataset_items() {
        let (ds, _) = s.open_dataset(&target_of(&open)).unwrap();
        ds.push(&items).unwrap();
    }
    let (kvs, _) = s.open_key_value_store(&Target::Default).unwrap();
    for r in records() {
        kvs.set(r.key, &r.bytes, r.content_type).unwrap();
    }
    let (named_kvs, _) = s.open_key_value_store(&Target::Name("named-kvs".into())).unwrap();
    named_kvs.set("K", b"{\n  \"named\": true\n}", "application/json; charset=utf-8").unwrap();

    let client = Some("rust");
    let lock = Duration::from_secs(300);
    let (rq, _) = s.open_request_queue(&Target::Default).unwrap();
    rq.add(vec![stored("r1"), stored("post"), stored("unicode"), stored("r4")], false, client).unwrap();
    rq.add(vec![stored("f1")], true, client).unwrap();
    rq.add(vec![stored("f2")], true, client).unwrap();
    // f2 is served first and handled.
    let head = rq.lock_head(1, lock, client).unwrap();
    assert_eq!(head.items[0].unique_key, unique_key("f2"));
    let mut f2 = rq.get(&head.items[0].id).unwrap().unwrap().request;
    f2.handled_at = timestamp::parse_any("2026-11-21 18:41:14.228393+00:00");
    rq.update(&head.items[0].id, f2, false, client).unwrap();
    // f1 is retried: its retry count goes up and it stays where it is.
    let head = rq.lock_head(1, lock, client).unwrap();
    assert_eq!(head.items[0].unique_key, unique_key("f1"));
    let mut f1 = rq.get(&head.items[0].id).unwrap().unwrap().request;
    f1.retry_count += 1;
    rq.update(&head.items[0].id, f1, false, client).unwrap();
    // f1, r1 and post are taken; r1 goes back to the front, f1 back in place, post stays in
    // progress (so the Python reader must serve it again).
    let head = rq.lock_head(3, lock, client).unwrap();
    let keys: Vec<&str> = head.items.iter().map(|h| h.unique_key.as_str()).collect();
    assert_eq!(keys, [unique_key("f1"), unique_key("r1"), unique_key("post")]);
    rq.delete_lock(&head.items[1].id, true, client).unwrap();
    rq.delete_lock(&head.items[0].id, false, client).unwrap();
    let default_order: Vec<String> = ["r1", "f1", "post", "unicode", "r4"].iter().map(|n| unique_key(n)).collect();
    let unlocked: Vec<String> = default_order.iter().filter(|k| **k != unique_key("post")).cloned().collect();
    assert_eq!(pending_order(&rq), unlocked, "the locked request is not at the head");
    assert_eq!(rq.counts(), (1, 5, 6));

    let (named, _) = s.open_request_queue(&Target::Name("named-q".into())).unwrap();
    named.add(vec![stored("n1"), stored("n2")], false, client).unwrap();
    named.add(vec![stored("n3")], true, client).unwrap();
    let named_order: Vec<String> = ["n3", "n1", "n2"].iter().map(|n| unique_key(n)).collect();
    assert_eq!(pending_order(&named), named_order);
    s.flush().unwrap();
    (default_order, named_order)
}

/// Writes the same data set with the Python SDK.
fn python_writes(project: &Path, storage: &Path) {
    let kvs_records: Vec<Value> = records()
        .into_iter()
        .filter_map(|r| {
            let mut p = r.python?;
            p["key"] = r.key.into();
            Some(p)
        })
        .collect();
    let req = |n: &str| rq_request(n).1;
    let spec = json!({
        "datasets": dataset_items().into_iter().map(|(open, items)| json!({"open": open, "items": items})).collect::<Vec<_>>(),
        "kvs": [
            {"open": {}, "records": kvs_records},
            {"open": {"name": "named-kvs"}, "records": [{"key": "K", "kind": "json", "value": {"named": true}}]},
        ],
        "rqs": [
            {"open": {}, "add": [[[req("r1"), req("post"), req("unicode"), req("r4")], false], [[req("f1")], true], [[req("f2")], true]],
             "handle": 1, "retry": 1},
            {"open": {"name": "named-q"}, "add": [[[req("n1"), req("n2")], false], [[req("n3")], true]]},
        ],
    });
    let spec_path = project.join("write-spec.json");
    fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
    python(WRITE, &[spec_path.to_str().unwrap()], project, storage, true);
}

/// A request file with the parts that legitimately differ normalised: our `__order` key is
/// removed and `handled_at` (a timestamp of the run) is replaced, after checking its format.
fn normalised_request_file(bytes: &[u8]) -> String {
    let mut v = read_json_bytes(bytes);
    let m = v.as_object_mut().unwrap();
    m.shift_remove("__order");
    if let Some(Value::String(at)) = m.get("handled_at") {
        assert!(is_python_timestamp(at), "{at}");
        m.insert("handled_at".into(), "<handled_at>".into());
    }
    pyjson::to_string_pretty(&v)
}

fn read_json_bytes(bytes: &[u8]) -> Value {
    pyjson::parse_tolerant(bytes).unwrap().0
}

#[test]
fn rust_written_folder_is_read_exactly_by_python() {
    let tmp = TempDir::new("rust-writes");
    let project = tmp.path().join("project");
    let storage = project.join("storage");
    fs::create_dir_all(&project).unwrap();
    let (default_order, named_order) = rust_writes(&storage);

    // Byte-exact where the format is (§2, §4.1, §5.2, §10.1): the same data written by Python.
    let py_project = tmp.path().join("py-project");
    let py_storage = py_project.join("storage");
    fs::create_dir_all(&py_project).unwrap();
    python_writes(&py_project, &py_storage);
    let ours = files(&storage);
    let theirs = files(&py_storage);
    let mut compared = 0;
    for (path, bytes) in &theirs {
        let name = path.rsplit('/').next().unwrap();
        if name == "__metadata__.json" || name.starts_with("__RQ_STATE_") {
            continue;
        }
        let mine = ours.get(path).unwrap_or_else(|| panic!("{path}: Python wrote it, Rust did not"));
        if path.starts_with("request_queues/") {
            assert_eq!(normalised_request_file(mine), normalised_request_file(bytes), "{path}");
        } else {
            assert_eq!(
                String::from_utf8_lossy(mine),
                String::from_utf8_lossy(bytes),
                "{path} differs from what Python writes"
            );
            assert_eq!(mine, bytes, "{path}");
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} files compared");
    // Every item and request file we wrote has its Python twin.
    for path in
        ours.keys().filter(|p| p.ends_with(".json") && (p.starts_with("datasets/") || p.starts_with("request_queues/")))
    {
        assert!(theirs.contains_key(path), "{path} has no Python twin");
    }
    // Metadata: the same fields in the same order, timestamps in Python's format.
    for (path, bytes) in &theirs {
        let is_meta = path.ends_with("/__metadata__.json") && path.matches('/').count() == 2;
        let is_state = path.rsplit('/').next().unwrap().starts_with("__RQ_STATE_") && !path.ends_with(".json");
        if !is_meta && !is_state {
            continue;
        }
        let theirs_v = read_json_bytes(bytes);
        let ours_path = if is_state {
            let prefix = path.rsplit_once('/').unwrap().0;
            ours.keys().find(|p| p.starts_with(prefix) && p.contains("__RQ_STATE_") && !p.ends_with(".json")).unwrap()
        } else {
            path
        };
        let ours_v = read_json_bytes(&ours[ours_path]);
        let fields = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(fields(&ours_v), fields(&theirs_v), "{path}: field order");
        for field in ["accessed_at", "created_at", "modified_at"] {
            if let Some(at) = ours_v.get(field) {
                assert!(is_python_timestamp(at.as_str().unwrap()), "{path}: {field} {at}");
            }
        }
        for field in [
            "name",
            "item_count",
            "had_multiple_clients",
            "handled_request_count",
            "pending_request_count",
            "total_request_count",
        ] {
            assert_eq!(ours_v.get(field), theirs_v.get(field), "{path}: {field}");
        }
    }
    #[cfg(unix)]
    for path in ours.keys().filter(|p| !p.starts_with(".locks")) {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(storage.join(path)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}");
    }

    // Python reads what Rust wrote and checks it (in Python: exact values and types).
    // In listing order: the byte order of the encoded file names (§5.6).
    let mut all_records = records();
    all_records.sort_by_key(|r| encode_key(r.key));
    let records_expect: Map<String, Value> = all_records
        .into_iter()
        .map(|r| (r.key.to_owned(), json!({"content_type": r.content_type, "value": r.reads_as})))
        .collect();
    let input = records().into_iter().find(|r| r.key == "INPUT").unwrap().reads_as;
    let request_expect = |name: &str, handled: bool, retry: u64| {
        let (wire, _) = rq_request(name);
        (
            unique_key(name),
            json!({
                "url": wire["url"], "method": wire.get("method").cloned().unwrap_or_else(|| "GET".into()),
                "payload": wire.get("payload").cloned().unwrap_or(Value::Null),
                "headers": wire.get("headers").cloned().unwrap_or_else(|| json!({})),
                "user_data": wire.get("userData").cloned().unwrap_or_else(|| json!({})),
                "retry_count": retry, "handled": handled,
            }),
        )
    };
    let all = [
        ("r1", false, 0),
        ("post", false, 0),
        ("unicode", false, 0),
        ("r4", false, 0),
        ("f1", false, 1),
        ("f2", true, 0),
    ];
    let requests: Map<String, Value> = all.iter().map(|(n, h, r)| request_expect(n, *h, *r)).collect();
    let named_requests: Map<String, Value> = ["n1", "n2", "n3"].iter().map(|n| request_expect(n, false, 0)).collect();
    let spec = json!({
        "datasets": dataset_items().into_iter().map(|(open, items)| json!({"open": open, "expect": {"items": items}})).collect::<Vec<_>>(),
        "kvs": [
            {"open": {}, "expect": {"records": records_expect, "input": input}},
            {"open": {"name": "named-kvs"}, "expect": {"records": {"K": {"content_type": "application/json; charset=utf-8", "value": {"type": "dict", "value": {"named": true}}}}}},
        ],
        "rqs": [
            {"open": {}, "get": requests.keys().collect::<Vec<_>>(), "expect": {"order": default_order, "counts": [1, 5, 6], "requests": requests}},
            {"open": {"name": "named-q"}, "get": named_requests.keys().collect::<Vec<_>>(), "expect": {"order": named_order, "counts": [0, 3, 3], "requests": named_requests}},
        ],
    });
    let before_read = files(&storage);
    let py = python_read(&project, &storage, &spec);

    // And the same from the Rust side of the dump.
    let datasets = dataset_items();
    for (i, (_, items)) in datasets.iter().enumerate() {
        let got = &py["datasets"][i];
        assert_eq!(got["item_count"], items.len(), "dataset {i}");
        assert_eq!(got["items"].as_array().unwrap().len(), items.len());
    }
    assert_eq!(py["datasets"][1]["name"], "named-ds");
    assert_eq!(py["datasets"][2]["name"], Value::Null);
    let listed: Vec<&str> =
        py["kvs"][0]["keys"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap()).collect();
    let mut encoded: Vec<(String, &str)> = records().iter().map(|r| (encode_key(r.key), r.key)).collect();
    encoded.sort();
    let expected_listing: Vec<&str> = encoded.iter().map(|(_, k)| *k).collect();
    assert_eq!(
        listed.iter().filter(|k| !k.starts_with("__RQ_STATE_")).copied().collect::<Vec<_>>(),
        expected_listing,
        "Python lists our records in the byte order of their file names"
    );
    assert_eq!(listed.iter().filter(|k| k.starts_with("__RQ_STATE_")).count(), 2, "one state record per queue");
    assert_eq!(python_order(&py["rqs"][0]), default_order);
    assert_eq!(python_order(&py["rqs"][1]), named_order);
    assert_eq!(py["rqs"][1]["name"], "named-q");

    // Reading did not change our data files.
    let after_read = files(&storage);
    for (path, bytes) in &before_read {
        let name = path.rsplit('/').next().unwrap();
        if name.starts_with("__") {
            continue;
        }
        assert_eq!(after_read.get(path), Some(bytes), "{path} changed when Python read it");
    }
}
