//! Emulator responses against the official OpenAPI document: drives every storage operation
//! the emulator implements (api-operations.md #66–#73, #75–#80, #82–#86, #87–#103) over raw
//! HTTP, success and error responses alike, records each exchange, and has
//! `tests/python/validate_openapi.py` validate status, headers and JSON bodies against the
//! document with `jsonschema` (Draft 2020-12).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apify_tests::Emulator;
use apify_tests::python::run_script;
use serde_json::{Value, json};

const VALIDATOR: &str = include_str!("../python/validate_openapi.py");
const TOKEN: &str = "openapi-token";

/// Every operation the test must capture with a 2xx response.
const OPERATIONS: &[&str] = &[
    "datasets_get",
    "datasets_post",
    "dataset_get",
    "dataset_put",
    "dataset_delete",
    "dataset_items_get",
    "dataset_items_head",
    "dataset_items_post",
    "keyValueStores_get",
    "keyValueStores_post",
    "keyValueStore_get",
    "keyValueStore_put",
    "keyValueStore_delete",
    "keyValueStore_keys_get",
    "keyValueStore_record_get",
    "keyValueStore_record_head",
    "keyValueStore_record_put",
    "keyValueStore_record_post",
    "keyValueStore_record_delete",
    "requestQueues_get",
    "requestQueues_post",
    "requestQueue_get",
    "requestQueue_put",
    "requestQueue_delete",
    "requestQueue_requests_get",
    "requestQueue_requests_post",
    "requestQueue_request_get",
    "requestQueue_request_put",
    "requestQueue_request_delete",
    "requestQueue_requests_batch_post",
    "requestQueue_requests_batch_delete",
    "requestQueue_head_get",
    "requestQueue_requests_unlock_post",
    "requestQueue_head_lock_post",
    "requestQueue_request_lock_put",
    "requestQueue_request_lock_delete",
];

/// The validator's failures that are known emulator bugs: (operationId, status, part of the
/// message). Each must still occur, or the validator fails (then remove the entry).
const KNOWN_ISSUES: &[(&str, u16, &str, &str)] = &[];

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

/// A response as received.
struct Reply {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to send besides method and path.
#[derive(Default)]
struct Send<'a> {
    /// `Some(None)`: no `Authorization`; `Some(Some(t))`: token `t`; `None`: the right token.
    auth: Option<Option<&'a str>>,
    headers: Vec<(&'a str, String)>,
    body: Option<Vec<u8>>,
}

impl Send<'_> {
    fn json(body: &Value) -> Self {
        Self {
            headers: vec![("content-type", "application/json".into())],
            body: Some(serde_json::to_vec(body).expect("serialising a body")),
            ..Self::default()
        }
    }

    fn raw(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self { headers: vec![("content-type", content_type.into())], body: Some(body.into()), ..Self::default() }
    }
}

/// No body, the right token.
fn none() -> Send<'static> {
    Send::default()
}

/// Sends requests to the emulator and records every exchange.
struct Recorder {
    agent: ureq::Agent,
    base: String,
    captures: Vec<Value>,
}

impl Recorder {
    fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self { agent, base: base.trim_end_matches('/').to_owned(), captures: Vec::new() }
    }

    /// Sends one request for operation `op`, records it and asserts its status.
    fn call(&mut self, op: &str, method: &str, path: &str, send: Send<'_>, expect: u16) -> Reply {
        let mut req = http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        match send.auth {
            None => req = req.header("authorization", format!("Bearer {TOKEN}")),
            Some(Some(token)) => req = req.header("authorization", format!("Bearer {token}")),
            Some(None) => {}
        }
        for (name, value) in &send.headers {
            req = req.header(*name, value);
        }
        let result = match send.body {
            Some(body) => self.agent.run(req.body(body).expect("building a request")),
            None => self.agent.run(req.body(()).expect("building a request")),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{op}: {method} {path} failed: {e}"));
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            response.body_mut().with_config().limit(64 << 20).read_to_vec().expect("reading a response body")
        };
        let reply = Reply { headers, body };
        assert_eq!(
            status,
            expect,
            "{op}: {method} {path} answered {status}: {}",
            String::from_utf8_lossy(&reply.body[..reply.body.len().min(500)])
        );
        let text = (!reply.body.is_empty()).then(|| String::from_utf8_lossy(&reply.body).into_owned());
        let headers: serde_json::Map<String, Value> =
            reply.headers.iter().map(|(n, v)| (n.clone(), Value::from(v.as_str()))).collect();
        self.captures.push(json!({
            "operationId": op,
            "method": method,
            "path": path,
            "status": status,
            "contentType": reply.header("content-type"),
            "headers": headers,
            "body": text,
        }));
        reply
    }

    fn get(&mut self, op: &str, path: &str, expect: u16) -> Reply {
        self.call(op, "GET", path, none(), expect)
    }

    fn head(&mut self, op: &str, path: &str, expect: u16) -> Reply {
        self.call(op, "HEAD", path, none(), expect)
    }

    fn post(&mut self, op: &str, path: &str, send: Send<'_>, expect: u16) -> Reply {
        self.call(op, "POST", path, send, expect)
    }

    fn put(&mut self, op: &str, path: &str, send: Send<'_>, expect: u16) -> Reply {
        self.call(op, "PUT", path, send, expect)
    }

    fn delete(&mut self, op: &str, path: &str, send: Send<'_>, expect: u16) -> Reply {
        self.call(op, "DELETE", path, send, expect)
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// A JSON body just over the 9 MiB limit.
fn oversized_json() -> Vec<u8> {
    let mut body = String::from("[{\"blob\":\"");
    body.push_str(&"x".repeat(9 * 1024 * 1024));
    body.push_str("\"}]");
    body.into_bytes()
}

fn datasets(r: &mut Recorder) {
    // #67 get-or-create: 201, then 200 by name; unnamed; invalid name.
    let created = r.post("datasets_post", "/v2/datasets?name=oa-ds", Send::json(&json!({})), 201).json();
    let id = created["data"]["id"].as_str().expect("dataset id").to_owned();
    let again = r.post("datasets_post", "/v2/datasets?name=oa-ds", Send::json(&json!({})), 200).json();
    assert_eq!(again["data"]["id"], id.as_str());
    r.post("datasets_post", "/v2/datasets", Send::json(&json!({})), 201);
    r.post("datasets_post", "/v2/datasets?name=bad_name!", Send::json(&json!({})), 400);
    // #66 list.
    r.get("datasets_get", "/v2/datasets", 200);
    r.get("datasets_get", "/v2/datasets?limit=1&offset=0&desc=true", 200);
    r.get("datasets_get", "/v2/datasets?unnamed=true", 200);
    r.get("datasets_get", "/v2/datasets?limit=abc", 400);
    r.delete("datasets_get", "/v2/datasets", none(), 405);
    // #68 get.
    r.get("dataset_get", &format!("/v2/datasets/{id}"), 200);
    r.get("dataset_get", "/v2/datasets/~oa-ds", 200);
    r.get("dataset_get", "/v2/datasets/NoSuchDataset0000", 404);
    r.call("dataset_get", "GET", &format!("/v2/datasets/{id}"), Send { auth: Some(None), ..none() }, 401);
    let wrong = Send { auth: Some(Some("wrong-token")), ..none() };
    r.call("dataset_get", "GET", &format!("/v2/datasets/{id}"), wrong, 401);
    r.call("dataset_get", "PATCH", &format!("/v2/datasets/{id}"), Send::json(&json!({})), 405);
    // #73 push items: object, array, gzip; errors.
    let items_path = format!("/v2/datasets/{id}/items");
    let pushed = r.post("dataset_items_post", &items_path, Send::json(&json!({"a": 1, "#h": 0})), 201);
    assert!(pushed.header("location").is_some(), "item push carries Location");
    let items = json!([{"a": 2, "b": {"c": [1, 2]}}, {}, {"a": 4, "text": "žluť"}]);
    r.post("dataset_items_post", &items_path, Send::json(&items), 201);
    let mut gz = Send::raw("application/json; charset=utf-8", gzip(br#"[{"a": 5}, {"a": 6}]"#));
    gz.headers.push(("content-encoding", "gzip".into()));
    r.post("dataset_items_post", &items_path, gz, 201);
    r.post("dataset_items_post", &items_path, Send::raw("application/json", "not json"), 400);
    r.post("dataset_items_post", &items_path, Send::json(&json!([1, 2])), 400);
    r.post("dataset_items_post", &items_path, Send::raw("application/json", oversized_json()), 413);
    let mut bogus = Send::json(&json!({"a": 1}));
    bogus.headers.push(("content-encoding", "bogus".into()));
    r.post("dataset_items_post", &items_path, bogus, 415);
    r.post("dataset_items_post", "/v2/datasets/NoSuchDataset0000/items", Send::json(&json!({})), 404);
    // #71 get items: formats, parameters, errors.
    let all = r.get("dataset_items_get", &items_path, 200);
    assert_eq!(all.json().as_array().map(Vec::len), Some(6), "six items pushed");
    assert_eq!(all.header("x-apify-pagination-total"), Some("6"));
    assert_eq!(all.header("x-apify-pagination-desc"), Some("false"), "all five pagination headers");
    r.get("dataset_items_get", &format!("{items_path}?format=json&offset=1&limit=2&desc=true&clean=true"), 200);
    r.get("dataset_items_get", &format!("{items_path}?fields=a,b&omit=b&skipEmpty=1&skipHidden=1"), 200);
    r.get("dataset_items_get", &format!("{items_path}?format=jsonl"), 200);
    r.get("dataset_items_get", &format!("{items_path}?format=csv&bom=1&delimiter=%3B"), 200);
    r.get("dataset_items_get", &format!("{items_path}?format=json&attachment=true"), 200);
    r.get("dataset_items_get", &format!("{items_path}?offset=100"), 200);
    r.get("dataset_items_get", &format!("{items_path}?limit=-1"), 400);
    r.get("dataset_items_get", &format!("{items_path}?format=xlsx"), 400);
    r.get("dataset_items_get", "/v2/datasets/NoSuchDataset0000/items", 404);
    // #72 head items.
    let head = r.head("dataset_items_head", &format!("{items_path}?limit=2"), 200);
    assert_eq!(head.header("x-apify-pagination-limit"), Some("2"));
    r.head("dataset_items_head", "/v2/datasets/NoSuchDataset0000/items", 404);
    // #69 update (rename).
    let ds_path = format!("/v2/datasets/{id}");
    let renamed = r.put("dataset_put", &ds_path, Send::json(&json!({"name": "oa-ds-renamed", "title": "T"})), 200);
    assert_eq!(renamed.json()["data"]["name"], "oa-ds-renamed");
    r.put("dataset_put", &ds_path, Send::json(&json!({"name": "not valid!"})), 400);
    r.put("dataset_put", "/v2/datasets/NoSuchDataset0000", Send::json(&json!({"name": "x"})), 404);
    // #70 delete.
    r.delete("dataset_delete", &ds_path, none(), 204);
    r.delete("dataset_delete", &ds_path, none(), 404);
}

fn key_value_stores(r: &mut Recorder) {
    // #76 get-or-create.
    let created = r.post("keyValueStores_post", "/v2/key-value-stores?name=oa-kvs", Send::json(&json!({})), 201);
    let id = created.json()["data"]["id"].as_str().expect("store id").to_owned();
    r.post("keyValueStores_post", "/v2/key-value-stores?name=oa-kvs", Send::json(&json!({})), 200);
    r.post("keyValueStores_post", "/v2/key-value-stores", Send::json(&json!({})), 201);
    r.post("keyValueStores_post", "/v2/key-value-stores?name=-bad-", Send::json(&json!({})), 400);
    // #75 list.
    r.get("keyValueStores_get", "/v2/key-value-stores", 200);
    r.get("keyValueStores_get", "/v2/key-value-stores?unnamed=1&desc=1&limit=10&offset=0", 200);
    r.get("keyValueStores_get", "/v2/key-value-stores?offset=x", 400);
    // #77 get, #78 update.
    let store = format!("/v2/key-value-stores/{id}");
    r.get("keyValueStore_get", &store, 200);
    r.get("keyValueStore_get", "/v2/key-value-stores/NoSuchStore000000", 404);
    r.put("keyValueStore_put", &store, Send::json(&json!({"name": "oa-kvs-renamed"})), 200);
    r.put("keyValueStore_put", "/v2/key-value-stores/NoSuchStore000000", Send::json(&json!({})), 404);
    // #84 / #85 put and post records: JSON, text, bytes, gzip; errors.
    let put = r.put("keyValueStore_record_put", &format!("{store}/records/obj"), Send::json(&json!({"a": 1})), 201);
    assert!(put.header("location").is_some(), "record put carries Location");
    r.put("keyValueStore_record_put", &format!("{store}/records/text"), Send::raw("text/plain", "hi"), 201);
    let bytes = Send::raw("application/octet-stream", vec![0_u8, 1, 2, 255]);
    r.put("keyValueStore_record_put", &format!("{store}/records/bin.dat"), bytes, 201);
    let mut gz = Send::raw("application/json; charset=utf-8", gzip(br#"{"zipped": true}"#));
    gz.headers.push(("content-encoding", "gzip".into()));
    r.put("keyValueStore_record_put", &format!("{store}/records/zipped"), gz, 201);
    r.put("keyValueStore_record_put", &format!("{store}/records/bad%20key"), Send::raw("text/plain", "x"), 400);
    let huge = Send::raw("application/octet-stream", vec![b'x'; 9 * 1024 * 1024 + 1]);
    r.put("keyValueStore_record_put", &format!("{store}/records/huge"), huge, 413);
    let mut bogus = Send::raw("text/plain", "x");
    bogus.headers.push(("content-encoding", "bogus".into()));
    r.put("keyValueStore_record_put", &format!("{store}/records/enc"), bogus, 415);
    let missing = "/v2/key-value-stores/NoSuchStore000000/records/k";
    r.put("keyValueStore_record_put", missing, Send::raw("text/plain", "x"), 404);
    r.post("keyValueStore_record_post", &format!("{store}/records/posted"), Send::json(&json!({"p": 1})), 201);
    r.post("keyValueStore_record_post", &format!("{store}/records/a%2Fb"), Send::raw("text/plain", "x"), 400);
    // #82 get records.
    let obj = r.get("keyValueStore_record_get", &format!("{store}/records/obj?attachment=true"), 200);
    assert_eq!(obj.json(), json!({"a": 1}));
    r.get("keyValueStore_record_get", &format!("{store}/records/text"), 200);
    r.get("keyValueStore_record_get", &format!("{store}/records/bin.dat"), 200);
    let zipped = r.get("keyValueStore_record_get", &format!("{store}/records/zipped"), 200);
    assert_eq!(zipped.json(), json!({"zipped": true}), "a gzip upload is stored decoded");
    r.get("keyValueStore_record_get", &format!("{store}/records/missing"), 404);
    // #83 record exists.
    r.head("keyValueStore_record_head", &format!("{store}/records/obj"), 200);
    r.head("keyValueStore_record_head", &format!("{store}/records/missing"), 404);
    // #80 keys.
    let keys = r.get("keyValueStore_keys_get", &format!("{store}/keys"), 200).json();
    assert_eq!(keys["data"]["count"], 5, "five records: {keys}");
    let page = r.get("keyValueStore_keys_get", &format!("{store}/keys?limit=2"), 200).json();
    assert_eq!(page["data"]["isTruncated"], true);
    let next = page["data"]["nextExclusiveStartKey"].as_str().expect("nextExclusiveStartKey").to_owned();
    r.get("keyValueStore_keys_get", &format!("{store}/keys?limit=2&exclusiveStartKey={next}"), 200);
    r.get("keyValueStore_keys_get", &format!("{store}/keys?prefix=ob"), 200);
    r.get("keyValueStore_keys_get", &format!("{store}/keys?limit=x"), 400);
    r.get("keyValueStore_keys_get", "/v2/key-value-stores/NoSuchStore000000/keys", 404);
    // #86 delete record, #79 delete store.
    r.delete("keyValueStore_record_delete", &format!("{store}/records/text"), none(), 204);
    r.delete("keyValueStore_record_delete", &format!("{store}/records/text"), none(), 404);
    r.delete("keyValueStore_delete", &store, none(), 204);
    r.delete("keyValueStore_delete", &store, none(), 404);
}

fn request(i: &str) -> Value {
    json!({"uniqueKey": format!("https://example.com/{i}"), "url": format!("https://example.com/{i}")})
}

fn request_queues(r: &mut Recorder) {
    // #88 get-or-create (no body, as the client sends it).
    let created = r.post("requestQueues_post", "/v2/request-queues?name=oa-rq", none(), 201);
    let id = created.json()["data"]["id"].as_str().expect("queue id").to_owned();
    r.post("requestQueues_post", "/v2/request-queues?name=oa-rq", none(), 200);
    r.post("requestQueues_post", "/v2/request-queues", none(), 201);
    r.post("requestQueues_post", "/v2/request-queues?name=a_b", none(), 400);
    // #87 list.
    r.get("requestQueues_get", "/v2/request-queues", 200);
    r.get("requestQueues_get", "/v2/request-queues?unnamed=true&desc=true", 200);
    r.get("requestQueues_get", "/v2/request-queues?desc=maybe", 400);
    // #89 get, #90 update.
    let queue = format!("/v2/request-queues/{id}");
    r.get("requestQueue_get", &queue, 200);
    r.get("requestQueue_get", "/v2/request-queues/NoSuchQueue000000", 404);
    r.put("requestQueue_put", &queue, Send::json(&json!({"name": "oa-rq-renamed"})), 200);
    r.put("requestQueue_put", "/v2/request-queues/NoSuchQueue000000", Send::json(&json!({})), 404);
    // #93 add.
    let requests = format!("{queue}/requests");
    let mut full = request("0");
    full["method"] = "POST".into();
    full["payload"] = "{\"q\":1}".into();
    full["userData"] = json!({"label": "L"});
    full["headers"] = json!({"x-h": "v"});
    let added = r.post("requestQueue_requests_post", &format!("{requests}?clientKey=a"), Send::json(&full), 201);
    let first_id = added.json()["data"]["requestId"].as_str().expect("requestId").to_owned();
    r.post("requestQueue_requests_post", &format!("{requests}?forefront=true"), Send::json(&request("1")), 201);
    r.post("requestQueue_requests_post", &requests, Send::json(&request("0")), 201);
    r.post("requestQueue_requests_post", &requests, Send::json(&json!({"url": "https://e.com"})), 400);
    r.post("requestQueue_requests_post", &requests, Send::raw("application/json", "{"), 400);
    let mut bogus = Send::json(&request("2"));
    bogus.headers.push(("content-encoding", "bogus".into()));
    r.post("requestQueue_requests_post", &requests, bogus, 415);
    let missing_queue = "/v2/request-queues/NoSuchQueue000000/requests";
    r.post("requestQueue_requests_post", missing_queue, Send::json(&request("0")), 404);
    // #97 batch add.
    let batch: Vec<Value> = (10..35).map(|i| request(&i.to_string())).collect();
    let added = r.post(
        "requestQueue_requests_batch_post",
        &format!("{requests}/batch?clientKey=a"),
        Send::json(&json!(batch)),
        201,
    );
    assert_eq!(added.json()["data"]["processedRequests"].as_array().map(Vec::len), Some(25));
    let dups = json!([request("10"), request("40"), request("40")]);
    r.post("requestQueue_requests_batch_post", &format!("{requests}/batch?forefront=false"), Send::json(&dups), 201);
    let too_many: Vec<Value> = (50..76).map(|i| request(&i.to_string())).collect();
    r.post("requestQueue_requests_batch_post", &format!("{requests}/batch"), Send::json(&json!(too_many)), 400);
    // #94 get a request.
    let one = r.get("requestQueue_request_get", &format!("{requests}/{first_id}"), 200).json();
    assert_eq!(one["data"]["userData"], json!({"label": "L"}));
    r.get("requestQueue_request_get", &format!("{requests}/NoSuchRequest00"), 404);
    // #99 head, #101 head/lock.
    r.get("requestQueue_head_get", &format!("{queue}/head?limit=5&clientKey=a"), 200);
    r.get("requestQueue_head_get", &format!("{queue}/head"), 200);
    r.get("requestQueue_head_get", &format!("{queue}/head?limit=x"), 400);
    let lock_path = format!("{queue}/head/lock?lockSecs=60&limit=3&clientKey=a");
    let locked = r.post("requestQueue_head_lock_post", &lock_path, none(), 201).json();
    let locked_ids: Vec<String> = locked["data"]["items"]
        .as_array()
        .expect("locked items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(locked_ids.len(), 3);
    r.post("requestQueue_head_lock_post", &format!("{queue}/head/lock?lockSecs=60&limit=2&clientKey=b"), none(), 201);
    r.post("requestQueue_head_lock_post", &format!("{queue}/head/lock?limit=2"), none(), 400);
    r.post("requestQueue_head_lock_post", &format!("{queue}/head/lock?lockSecs=60&limit=26"), none(), 400);
    r.post("requestQueue_head_lock_post", "/v2/request-queues/NoSuchQueue000000/head/lock?lockSecs=1", none(), 404);
    // #102 prolong, #103 delete lock.
    let (l0, l1, l2) = (&locked_ids[0], &locked_ids[1], &locked_ids[2]);
    r.put(
        "requestQueue_request_lock_put",
        &format!("{requests}/{l0}/lock?lockSecs=120&clientKey=a&forefront=true"),
        none(),
        200,
    );
    r.put("requestQueue_request_lock_put", &format!("{requests}/{l0}/lock?lockSecs=120&clientKey=b"), none(), 403);
    r.put("requestQueue_request_lock_put", &format!("{requests}/{l0}/lock?clientKey=a"), none(), 400);
    r.put(
        "requestQueue_request_lock_put",
        &format!("{requests}/NoSuchRequest00/lock?lockSecs=1&clientKey=a"),
        none(),
        404,
    );
    r.delete("requestQueue_request_lock_delete", &format!("{requests}/{l1}/lock?clientKey=b"), none(), 403);
    r.delete(
        "requestQueue_request_lock_delete",
        &format!("{requests}/{l1}/lock?clientKey=a&forefront=true"),
        none(),
        204,
    );
    r.delete("requestQueue_request_lock_delete", &format!("{requests}/NoSuchRequest00/lock?clientKey=a"), none(), 404);
    // #92 list requests: cursor paging, filters, errors.
    let page = r.get("requestQueue_requests_get", &format!("{requests}?limit=10&clientKey=a"), 200).json();
    let cursor = page["data"]["nextCursor"].as_str().expect("a full page has nextCursor").to_owned();
    r.get("requestQueue_requests_get", &format!("{requests}?limit=10&cursor={cursor}"), 200);
    r.get("requestQueue_requests_get", &format!("{requests}?filter=locked"), 200);
    r.get("requestQueue_requests_get", &format!("{requests}?filter=pending&limit=5"), 200);
    r.get("requestQueue_requests_get", &format!("{requests}?filter=locked,pending"), 200);
    r.get("requestQueue_requests_get", &format!("{requests}?filter=bogus"), 400);
    r.get("requestQueue_requests_get", &format!("{requests}?cursor=not-a-cursor"), 400);
    r.get("requestQueue_requests_get", "/v2/request-queues/NoSuchQueue000000/requests", 404);
    // #95 update: mark handled (by the lock owner); errors.
    let mut handled = one["data"].clone();
    handled["handledAt"] = "2026-01-01T00:00:00.000Z".into();
    r.put("requestQueue_request_put", &format!("{requests}/{first_id}?clientKey=a"), Send::json(&handled), 200);
    let mut other = request(l2);
    other["id"] = l2.as_str().into();
    other["uniqueKey"] = "mismatch".into();
    r.put("requestQueue_request_put", &format!("{requests}/{l2}?clientKey=a"), Send::json(&other), 400);
    let locked_by_b = r.get("requestQueue_requests_get", &format!("{requests}?filter=locked&clientKey=b"), 200).json();
    let b_item = locked_by_b["data"]["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["lockByClient"] == "b"))
        .cloned()
        .expect("a request locked by client b");
    let b_id = b_item["id"].as_str().expect("id").to_owned();
    r.put("requestQueue_request_put", &format!("{requests}/{b_id}?clientKey=a"), Send::json(&b_item), 403);
    r.put("requestQueue_request_put", &format!("{requests}/NoSuchRequest00"), Send::json(&request("z")), 404);
    // #100 unlock.
    let unlocked = r.post("requestQueue_requests_unlock_post", &format!("{requests}/unlock?clientKey=b"), none(), 200);
    assert_eq!(unlocked.json()["data"]["unlockedCount"], 2);
    r.post("requestQueue_requests_unlock_post", &format!("{requests}/unlock?clientKey=a"), none(), 200);
    // #98 batch delete (a DELETE with a JSON body).
    let refs = json!([{"id": l1}, {"uniqueKey": "https://example.com/11"}]);
    let deleted = r.delete(
        "requestQueue_requests_batch_delete",
        &format!("{requests}/batch?clientKey=a"),
        Send::json(&refs),
        200,
    );
    assert_eq!(deleted.json()["data"]["processedRequests"].as_array().map(Vec::len), Some(2));
    let unmatched = json!([{"id": "NoSuchRequest00"}, {"uniqueKey": "https://example.com/never"}]);
    r.delete("requestQueue_requests_batch_delete", &format!("{requests}/batch"), Send::json(&unmatched), 200);
    let too_many: Vec<Value> = (0..26).map(|i| json!({"id": format!("id{i}")})).collect();
    r.delete("requestQueue_requests_batch_delete", &format!("{requests}/batch"), Send::json(&json!(too_many)), 400);
    // #96 delete a request, #91 delete the queue.
    r.delete("requestQueue_request_delete", &format!("{requests}/{l2}?clientKey=a"), none(), 204);
    r.delete("requestQueue_request_delete", &format!("{requests}/{l2}"), none(), 404);
    r.call("requestQueue_get", "PATCH", &queue, none(), 405);
    let counts = r.get("requestQueue_get", &queue, 200).json();
    assert_eq!(counts["data"]["totalRequestCount"], 27 + 1 - 3, "requests left: {counts}");
    r.delete("requestQueue_delete", &queue, none(), 204);
    r.delete("requestQueue_delete", &queue, none(), 404);
}

/// Runs the validator on a capture file; returns whether it passed and its output.
fn validate(captures: &Value, dir: &Path, name: &str) -> (bool, String) {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_vec_pretty(captures).expect("serialising captures")).expect("writing captures");
    let script = dir.join("validate_openapi.py");
    fs::write(&script, VALIDATOR).expect("writing the validator");
    let out = Command::new(apify_tests::python::python())
        .arg(&script)
        .arg(openapi_document())
        .arg(&path)
        .current_dir(dir)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::null())
        .output()
        .expect("running the validator");
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), output)
}

/// The first capture of `op` with `status`.
fn capture_mut<'a>(run: &'a mut Value, op: &str, status: u16) -> &'a mut Value {
    run["captures"]
        .as_array_mut()
        .and_then(|c| c.iter_mut().find(|c| c["operationId"] == op && c["status"] == status))
        .unwrap_or_else(|| panic!("no {op} {status} capture"))
}

/// Rewrites the JSON body of a capture.
fn edit_body(capture: &mut Value, edit: impl FnOnce(&mut Value)) {
    let mut body: Value = serde_json::from_str(capture["body"].as_str().expect("a body")).expect("a JSON body");
    edit(&mut body);
    capture["body"] = body.to_string().into();
}

/// Negative control: the validator must catch corrupted captures (so that a validator that
/// resolves nothing, or reads captures wrongly, cannot pass silently).
fn validator_catches_corruptions(run: &Value, dir: &Path) {
    let mut bad = run.clone();
    edit_body(capture_mut(&mut bad, "dataset_get", 200), |b| {
        b["data"]["createdAt"] = "yesterday".into();
        b["data"]["consoleUrl"] = "not a url".into();
        b["data"].as_object_mut().expect("dataset").remove("userId");
    });
    edit_body(capture_mut(&mut bad, "keyValueStore_keys_get", 200), |b| b["data"]["items"][0]["size"] = "big".into());
    edit_body(capture_mut(&mut bad, "requestQueue_request_get", 200), |b| {
        b["data"].as_object_mut().expect("request").remove("uniqueKey");
    });
    let items = capture_mut(&mut bad, "dataset_items_get", 200);
    items["headers"].as_object_mut().expect("headers").remove("x-apify-pagination-total");
    capture_mut(&mut bad, "requestQueue_head_lock_post", 201)["status"] = 200.into();
    capture_mut(&mut bad, "dataset_delete", 204)["body"] = "{}".into();
    bad["knownIssues"].as_array_mut().expect("known issues").push(json!({
        "operationId": "dataset_get", "status": 200, "contains": "never happens", "note": "stale"
    }));
    let (passed, output) = validate(&bad, dir, "corrupted.json");
    assert!(!passed, "the validator accepted corrupted captures:\n{output}");
    for expected in [
        "$.data.createdAt: 'yesterday' is not a 'date-time'",
        "$.data.consoleUrl: 'not a url' is not a 'uri'",
        "$.data: 'userId' is a required property",
        "$.data.items[0].size: 'big' is not of type 'integer'",
        "$.data: 'uniqueKey' is a required property",
        "response header X-Apify-Pagination-Total (declared) is missing",
        "requestQueue_head_lock_post 200",
        "status 200 is not declared",
        "expected no body",
        "known issue no longer occurs",
    ] {
        assert!(output.contains(expected), "the validator did not report {expected:?}:\n{output}");
    }
    let mut empty = run.clone();
    empty["captures"] = json!([]);
    let (passed, output) = validate(&empty, dir, "empty.json");
    assert!(!passed && output.contains("only 0 captures"), "an empty run must fail:\n{output}");
}

fn openapi_document() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/apify-openapi.json")
}

#[test]
fn emulator_responses_validate_against_the_openapi_document() {
    let started = Instant::now();
    let tmp = TempDir::new("openapi");
    let emulator = Emulator::start(&tmp.0.join("storage"), Some(TOKEN));
    let mut r = Recorder::new(emulator.url());
    datasets(&mut r);
    key_value_stores(&mut r);
    request_queues(&mut r);
    drop(emulator);

    let captured = r.captures.len();
    let floor = 120;
    assert!(captured >= floor, "only {captured} exchanges captured, expected at least {floor}");
    let known: Vec<Value> = KNOWN_ISSUES
        .iter()
        .map(|(op, status, part, note)| json!({"operationId": op, "status": status, "contains": part, "note": note}))
        .collect();
    let run = json!({
        "minCaptures": floor,
        "requiredOperations": OPERATIONS,
        "knownIssues": known,
        "captures": r.captures,
    });
    let captures_path = tmp.0.join("captures.json");
    fs::write(&captures_path, serde_json::to_vec_pretty(&run).expect("serialising captures"))
        .expect("writing captures");
    let doc = openapi_document();
    let out = run_script(
        VALIDATOR,
        &[doc.to_str().expect("UTF-8 path"), captures_path.to_str().expect("UTF-8 path")],
        &tmp.0,
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(stdout.contains(&format!("validated {captured} captures")), "the validator saw every capture");
    validator_catches_corruptions(&run, &tmp.0);
    println!("{captured} exchanges validated in {:.1} s", started.elapsed().as_secs_f64());
}
