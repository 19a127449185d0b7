//! The official Python API client (`apify-client` 3.4.0) against the emulator: every storage
//! method of storage-methods.md §2–§6, driven by `tests/python/client_compat.py`, then a check
//! that what the client wrote is in the storage folder in the Python SDK's layout.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use apify_local::storage::{ItemQuery, Target};
use apify_tests::Emulator;
use apify_tests::python::run_script;
use serde_json::Value;

const SCRIPT: &str = include_str!("../python/client_compat.py");
const TOKEN: &str = "test-token";

/// Checks the script skips because of known emulator bugs; it fails the run when one of them no
/// longer reproduces, and so does this list when it changes.
const KNOWN_BUGS: &[&str] = &[];

/// A scratch directory, removed when dropped (kept when the test fails, for inspection).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("apify-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).expect("creating a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

/// The directory of the storage with this ID under `type_dir` (unnamed storages live in a
/// directory not named after the ID).
fn dir_of_id(type_dir: &Path, id: &str) -> PathBuf {
    fs::read_dir(type_dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", type_dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("__metadata__.json").exists() && read_json(&p.join("__metadata__.json"))["id"] == id)
        .unwrap_or_else(|| panic!("no storage with ID {id} under {}", type_dir.display()))
}

#[test]
fn official_python_client_against_the_emulator() {
    let started = Instant::now();
    let tmp = TempDir::new("client-compat");
    let storage = tmp.0.join("storage");
    let emulator = Emulator::start(&storage, Some(TOKEN));

    let out = run_script(SCRIPT, &[emulator.url(), TOKEN], &tmp.0, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let result: Value = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).expect("the RESULT line is JSON"))
        .expect("the script printed no RESULT line");
    let skipped: Vec<&str> =
        result["known_bugs"].as_array().expect("known_bugs").iter().filter_map(Value::as_str).collect();
    assert_eq!(skipped, KNOWN_BUGS, "the script skipped other known bugs than listed here");

    // What the client wrote, through the emulator's storages.
    let ds_expect = &result["dataset"];
    let items = ds_expect["items"].as_array().expect("items");
    let (ds, created) = emulator.storages().open_dataset(&Target::Name("compat-items".into())).expect("dataset");
    assert!(!created, "the dataset must already exist");
    assert_eq!(ds.id(), str_of(ds_expect, "id"));
    let page = ds.get_items(&ItemQuery::default()).expect("reading items");
    assert_eq!(&page.items, items, "the items the client pushed");
    let (kvs, _) = emulator.storages().open_key_value_store(&Target::Name("compat-kvs".into())).expect("kvs");
    assert_eq!(kvs.id(), str_of(&result["kvs"], "id"));
    let bytes_record = kvs.get("bytes").expect("reading a record").expect("the bytes record exists");
    assert_eq!(bytes_record.content_type, "application/octet-stream");
    assert!(kvs.get("text").expect("reading a record").is_none(), "the deleted record is gone");
    let (rq, _) = emulator.storages().open_request_queue(&Target::Name("compat-rq".into())).expect("rq");
    let counts = &result["rq"]["counts"];
    let expect_counts = (counts["handled"].as_u64(), counts["pending"].as_u64(), counts["total"].as_u64());
    let (handled, pending, total) = rq.counts();
    assert_eq!((Some(handled), Some(pending), Some(total)), expect_counts, "request counts");
    drop((ds, kvs, rq));

    // Stop the emulator (it persists its state) and read the files.
    drop(emulator);

    // Datasets: `000000001.json`... and the metadata.
    let dir = storage.join("datasets/compat-items");
    let meta = read_json(&dir.join("__metadata__.json"));
    assert_eq!((str_of(&meta, "id"), str_of(&meta, "name")), (str_of(ds_expect, "id"), "compat-items"));
    assert_eq!(meta["item_count"], items.len(), "item_count in {}", dir.display());
    for (i, item) in items.iter().enumerate() {
        let file = dir.join(format!("{:09}.json", i + 1));
        assert_eq!(&read_json(&file), item, "{}", file.display());
    }
    assert!(!dir.join(format!("{:09}.json", items.len() + 1)).exists(), "no extra item file");
    let large = storage.join("datasets/compat-large");
    assert_eq!(read_json(&large.join("__metadata__.json"))["item_count"], 2000);
    assert_eq!(read_json(&large.join("000002000.json"))["i"], 1999, "the last item of the gzipped push");
    assert!(!large.join("000002001.json").exists(), "the refused pushes added nothing");

    // Key-value store: value file + `<key>.__metadata__.json` sidecar per record.
    let dir = storage.join("key_value_stores/compat-kvs");
    assert_eq!(read_json(&dir.join("__metadata__.json"))["name"], "compat-kvs");
    for (key, expect) in result["kvs"]["records"].as_object().expect("records") {
        let file = str_of(expect, "file");
        let value = fs::read(dir.join(file)).unwrap_or_else(|e| panic!("value file {file} of {key}: {e}"));
        let sidecar = read_json(&dir.join(format!("{file}.__metadata__.json")));
        assert_eq!(sidecar["key"], key.as_str(), "sidecar key of {key}");
        assert_eq!(sidecar["size"], value.len(), "sidecar size of {key}");
        let content_type = str_of(&sidecar, "content_type");
        assert!(content_type.starts_with(str_of(expect, "content_type_prefix")), "{key}: {content_type}");
        if let Some(json) = expect.get("json") {
            let stored: Value = serde_json::from_slice(&value).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"));
            assert_eq!(&stored, json, "value of {key}");
        } else if let Some(text) = expect.get("text") {
            assert_eq!(String::from_utf8_lossy(&value), text.as_str().unwrap_or_default(), "value of {key}");
        } else {
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, str_of(expect, "hex"), "value of {key}");
        }
    }
    for key in result["kvs"]["deleted"].as_array().expect("deleted").iter().filter_map(Value::as_str) {
        assert!(!dir.join(key).exists(), "the value file of deleted {key} is gone");
        assert!(!dir.join(format!("{key}.__metadata__.json")).exists(), "the sidecar of deleted {key} is gone");
    }

    // Request queue: one `sha256(unique key)[:15].json` per request, counts in the metadata.
    let rq_expect = &result["rq"];
    let dir = storage.join("request_queues/compat-rq");
    let meta = read_json(&dir.join("__metadata__.json"));
    assert_eq!(str_of(&meta, "id"), str_of(rq_expect, "id"));
    for (field, key) in [("total_request_count", "total"), ("handled_request_count", "handled")] {
        assert_eq!(meta[field], rq_expect["counts"][key], "{field}");
    }
    assert_eq!(meta["pending_request_count"], rq_expect["counts"]["pending"]);
    assert_eq!(meta["had_multiple_clients"], true, "two client keys used the queue");
    let requests = rq_expect["requests"].as_array().expect("requests");
    assert_eq!(Some(requests.len() as u64), rq_expect["counts"]["total"].as_u64(), "iterate_requests saw all");
    for r in requests {
        let file = dir.join(str_of(r, "file"));
        let stored = read_json(&file);
        assert_eq!(stored["unique_key"], r["unique_key"], "{}", file.display());
        assert_eq!(!stored["handled_at"].is_null(), r["handled"] == true, "handled_at of {}", file.display());
    }
    let request_files = fs::read_dir(&dir)
        .expect("listing the queue")
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".json") && n != "__metadata__.json"))
        .count();
    assert_eq!(request_files, requests.len(), "one file per request, none for the deleted ones");
    // The state record the Python SDK reads to keep the queue order.
    let state = read_json(&storage.join(format!("key_value_stores/default/__RQ_STATE_{}", str_of(rq_expect, "id"))));
    assert_eq!(state["handled_requests"].as_array().map(Vec::len), Some(1), "one handled request in {state}");

    // Every storage the collection clients created, named ones in a directory of their name.
    for (kind, type_dir) in
        [("datasets", "datasets"), ("key-value-stores", "key_value_stores"), ("request-queues", "request_queues")]
    {
        let ids = result["collections"][kind].as_array().expect("collection IDs");
        for (id, name) in
            ids.iter().filter_map(Value::as_str).zip([Some(format!("{kind}-a")), Some(format!("{kind}-b")), None])
        {
            let dir = dir_of_id(&storage.join(type_dir), id);
            let meta = read_json(&dir.join("__metadata__.json"));
            match name {
                Some(name) => {
                    assert_eq!(dir.file_name().and_then(|n| n.to_str()), Some(name.as_str()), "{kind} {id}");
                    assert_eq!(meta["name"], name.as_str(), "{kind} {id}");
                }
                None => assert!(meta["name"].is_null(), "the unnamed {kind} {id} has no name"),
            }
        }
        // Renamed and then deleted storages leave nothing behind.
        for gone in [
            "compat-tmp",
            "compat-renamed",
            "compat-kvs-tmp",
            "compat-kvs-renamed",
            "compat-rq-tmp",
            "compat-rq-renamed",
        ] {
            assert!(!storage.join(type_dir).join(gone).exists(), "{type_dir}/{gone} must be gone");
        }
    }
    println!("python client compatibility test took {:.1} s", started.elapsed().as_secs_f64());
}
