//! Request goldens for every storage method of the Python client (storage-methods.md §2–§6)
//! and decoding of fabricated responses (client-behaviour.md §6–§9, §13–§14).
//!
//! Each golden pins the method, the full URI (query in our order), every header, the body
//! (decompressed when gzipped), the timeout tier and the operation facts that drive retries
//! and logging. Nothing here touches the network: operations are pure values.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apify_core::codec::{ContentDecoder, compress_request_body};
use apify_core::config::{Config, RequestCompression, Timeout, TimeoutTier};
use apify_core::error::Error;
use apify_core::models::{BatchAddResult, GeneralAccess, ListOfKeys, Record, RecordValue, Request, RequestQueueHead};
use apify_core::ops::dataset::{
    DownloadItems, GetStatistics, ItemFormat, ListItems, MAX_PAYLOAD_BYTES, MAX_PUSH_CHUNK_BYTES, PushItems,
    chunk_items,
};
use apify_core::ops::key_value_store::{
    DeleteRecord, GetRecord, GetRecordAsBytes, ListKeys, RecordExists, SetRecord, UploadRecord,
};
use apify_core::ops::paginate::Paginated;
use apify_core::ops::plan::{
    BatchAdd, BatchDelete, IntoPlan, ItemsPublicUrl, KeysPublicUrl, Plan, PushChunks, RecordPublicUrl,
};
use apify_core::ops::request_queue::{
    AddRequest, BatchAddRequests, BatchDeleteRequests, DeleteRequest, DeleteRequestLock, GetRequest, ListAndLockHead,
    ListHead, ListRequests, ProlongRequestLock, RequestRef, UnlockRequests, UpdateRequest, chunk_requests,
};
use apify_core::ops::storage::{
    Datasets, DeleteStorage, GetOrCreate, GetStorage, KeyValueStores, ListStorages, Ownership, RequestQueues,
    StorageKind, UpdateStorage,
};
use apify_core::ops::{Op, Operation};
use apify_core::path::ResourcePath;
use apify_core::request::ApiRequest;
use apify_core::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use TimeoutTier::{Long, Medium, Short};

const API: &str = "https://api.apify.com/v2";
const JSON: &str = "application/json";
const JSON_UTF8: &str = "application/json; charset=utf-8";
// Spec test vectors (storage-methods.md §5).
const SIGNED_ID: &str = "SXbMqrlubLsNFPDfT";
const SECRET: &str = "secret";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn cfg() -> Config {
    Config::new().with_token("t").with_api_url("https://api.apify.com").unwrap()
}

fn path(collection: &str, id: &str) -> ResourcePath {
    ResourcePath::resource(collection, id).unwrap()
}

fn ds(id: &str) -> ResourcePath {
    path("datasets", id)
}

fn kvs(id: &str) -> ResourcePath {
    path("key-value-stores", id)
}

fn rq(id: &str) -> ResourcePath {
    path("request-queues", id)
}

fn rq_ck(id: &str) -> ResourcePath {
    rq(id).with_client_key("ck").unwrap()
}

fn run_child(child: &'static str) -> ResourcePath {
    path("actor-runs", "r1").chained(child)
}

fn build<O: Operation>(op: O, target: &ResourcePath) -> Op<O::Output> {
    op.build(&cfg(), target).expect("operation builds")
}

fn req<O: Operation>(op: O, target: &ResourcePath) -> ApiRequest {
    build(op, target).request
}

/// What one request must look like on the wire.
struct Golden {
    method: Method,
    uri: String,
    /// Headers besides `User-Agent`, `Accept` and `Authorization` (always expected).
    headers: Vec<(&'static str, String)>,
    /// The body after undoing any `Content-Encoding`.
    body: Vec<u8>,
    tier: TimeoutTier,
    client_method: &'static str,
    idempotent: bool,
}

fn golden(method: Method, uri: &str, tier: TimeoutTier, client_method: &'static str, idempotent: bool) -> Golden {
    Golden { method, uri: uri.to_owned(), headers: Vec::new(), body: Vec::new(), tier, client_method, idempotent }
}

impl Golden {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("content-type", content_type)
    }

    fn json(self, body: &str) -> Self {
        self.body(JSON, body)
    }

    /// Compares method, URI, sorted headers, decoded body and the operation facts.
    fn check(&self, req: &ApiRequest) {
        let what = format!("{} {}", self.method, self.uri);
        let http = req.to_http();
        assert_eq!(http.method(), self.method, "method of {what}");
        assert_eq!(http.uri().to_string(), self.uri, "URI of {what}");

        let mut got: Vec<(String, String)> = http
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII header").to_owned()))
            .collect();
        for (name, value) in &mut got {
            if name == "user-agent" {
                assert!(value.starts_with("ApifyClient/"), "User-Agent of {what}: {value}");
                *value = "ApifyClient/*".into();
            }
        }
        got.sort();
        let mut want: Vec<(String, String)> =
            [("accept", "application/json, */*"), ("authorization", "Bearer t"), ("user-agent", "ApifyClient/*")]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .chain(self.headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())))
                .collect();
        want.sort();
        assert_eq!(got, want, "headers of {what}");

        let encoding = http.headers().get("content-encoding").map(|v| v.to_str().unwrap());
        let body = ContentDecoder::decode_all(encoding, http.body().clone()).expect("decodable body");
        assert_eq!(String::from_utf8_lossy(&body), String::from_utf8_lossy(&self.body), "body of {what}");
        assert_eq!(body, self.body, "body bytes of {what}");

        assert_eq!(req.timeout, Timeout::Tier(self.tier), "timeout tier of {what}");
        assert_eq!(req.meta.client_method, self.client_method, "client method of {what}");
        assert_eq!(req.meta.idempotent, self.idempotent, "idempotency of {what}");
    }
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

/// A final response to `req`, as a driver would hand it to the core.
fn respond(req: &ApiRequest, status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response {
    Response {
        status: StatusCode::from_u16(status).unwrap(),
        headers: header_map(headers),
        body: body.into(),
        attempt: 1,
        method: req.method.clone(),
        url: req.uri.clone(),
    }
}

fn decode<T: 'static>(op: Op<T>, status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Result<T, Error> {
    let resp = respond(&op.request, status, headers, body);
    op.decode(resp)
}

fn data(v: &Value) -> String {
    json!({ "data": v }).to_string()
}

fn dataset_json(id: &str, secret: Option<&str>) -> Value {
    json!({
        "id": id,
        "name": "my-ds",
        "userId": "u1",
        "createdAt": "2019-12-12T07:34:14.202Z",
        "modifiedAt": "2019-12-13T08:36:13.202Z",
        "accessedAt": "2019-12-14T08:36:13.202Z",
        "itemCount": 7,
        "cleanItemCount": 5,
        "consoleUrl": "https://console.apify.com/storage/datasets/x",
        "urlSigningSecretKey": secret,
        "generalAccess": "SOMETHING_NEW",
        "futureField": {"a": 1}
    })
}

fn kvs_json(id: &str, secret: Option<&str>) -> Value {
    json!({
        "id": id,
        "name": null,
        "createdAt": "2019-12-12T07:34:14.202Z",
        "modifiedAt": "2019-12-13T08:36:13.202Z",
        "accessedAt": "2019-12-14T08:36:13.202Z",
        "urlSigningSecretKey": secret
    })
}

fn rq_json(id: &str) -> Value {
    json!({
        "id": id,
        "userId": "u1",
        "createdAt": "2019-12-12T07:34:14.202Z",
        "modifiedAt": "2019-12-13T08:36:13.202Z",
        "accessedAt": "2019-12-14T08:36:13.202Z",
        "totalRequestCount": 3,
        "handledRequestCount": 1,
        "pendingRequestCount": 2,
        "hadMultipleClients": false,
        "consoleUrl": "https://console.apify.com/storage/request-queues/x"
    })
}

fn list_json(item: &Value) -> Value {
    json!({"total": 1, "offset": 0, "limit": 1000, "count": 1, "desc": false, "unnamed": false, "items": [item]})
}

fn api_error(err: Error) -> apify_core::error::ApiError {
    match err {
        Error::Api(e) => *e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn assert_invalid_argument<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::InvalidArgument(_)) => {}
        other => panic!("{what}: expected InvalidArgument, got {other:?}"),
    }
}

fn pending() -> Request {
    Request::new("k1", "https://example.com/1")
}

// ---------------------------------------------------------------------------------------
// §2 Storage collections
// ---------------------------------------------------------------------------------------

fn check_collection<K: StorageKind>(collection: &str, names: [&'static str; 2], with_body: bool) {
    let coll = ResourcePath::collection(K::COLLECTION);
    assert_eq!(K::COLLECTION, collection);

    golden(Method::GET, &format!("{API}/{collection}"), Medium, names[0], true)
        .check(&req(ListStorages::<K>::default(), &coll));
    let list = ListStorages::<K>::default()
        .unnamed(true)
        .limit(10u64)
        .offset(0u64)
        .desc(false)
        .ownership(Ownership::SharedWithMe);
    golden(
        Method::GET,
        &format!("{API}/{collection}?unnamed=true&limit=10&offset=0&desc=false&ownership=sharedWithMe"),
        Medium,
        names[0],
        true,
    )
    .check(&req(list, &coll));

    // Named get-or-create returns the same storage on a repeat: idempotent.
    let named = golden(Method::POST, &format!("{API}/{collection}?name=my+store"), Short, names[1], true);
    let named = if with_body { named.json("{}") } else { named };
    named.check(&req(GetOrCreate::<K>::default().name("my store"), &coll));

    // Unnamed get-or-create creates a new storage every time: not idempotent.
    let unnamed = golden(Method::POST, &format!("{API}/{collection}"), Short, names[1], false);
    let unnamed = if with_body { unnamed.json("{}") } else { unnamed };
    unnamed.check(&req(GetOrCreate::<K>::default(), &coll));
}

#[test]
fn collections_list_and_get_or_create() {
    check_collection::<Datasets>(
        "datasets",
        ["DatasetCollectionClient.list", "DatasetCollectionClient.get_or_create"],
        true,
    );
    check_collection::<KeyValueStores>(
        "key-value-stores",
        ["KeyValueStoreCollectionClient.list", "KeyValueStoreCollectionClient.get_or_create"],
        true,
    );
    // Request queues: no body and no Content-Type at all (storage-methods §2).
    check_collection::<RequestQueues>(
        "request-queues",
        ["RequestQueueCollectionClient.list", "RequestQueueCollectionClient.get_or_create"],
        false,
    );
    let rq_named = req(
        GetOrCreate::<RequestQueues>::default().name("q").schema(json!({"x": 1})),
        &ResourcePath::collection("request-queues"),
    );
    assert!(rq_named.body.is_empty() && !rq_named.headers.contains_key("content-type"));
}

#[test]
fn get_or_create_with_schema_and_decoding() {
    let coll = ResourcePath::collection("datasets");
    let schema = json!({"actorSpecification": 1, "fields": {"type": "object"}});
    golden(Method::POST, &format!("{API}/datasets?name=ds"), Short, "DatasetCollectionClient.get_or_create", true)
        .json(r#"{"schema":{"actorSpecification":1,"fields":{"type":"object"}}}"#)
        .check(&req(GetOrCreate::<Datasets>::default().name("ds").schema(schema), &coll));

    // 201 (created) and 200 (existed) both decode to the storage.
    for status in [200, 201] {
        let op = build(GetOrCreate::<Datasets>::default().name("ds"), &coll);
        let got = decode(op, status, &[], data(&dataset_json("d1", None))).unwrap();
        assert_eq!(got.id, "d1");
        let op =
            build(GetOrCreate::<KeyValueStores>::default().name("s"), &ResourcePath::collection("key-value-stores"));
        assert_eq!(decode(op, status, &[], data(&kvs_json("s1", None))).unwrap().id, "s1");
        let op = build(GetOrCreate::<RequestQueues>::default().name("q"), &ResourcePath::collection("request-queues"));
        assert_eq!(decode(op, status, &[], data(&rq_json("q1"))).unwrap().total_request_count, 3);
    }

    let op = build(ListStorages::<Datasets>::default(), &coll);
    let mut item = dataset_json("d1", None);
    item["username"] = json!("jane");
    let page = decode(op, 200, &[], data(&list_json(&item))).unwrap();
    assert_eq!((page.total, page.count, page.limit, page.unnamed), (1, 1, 1000, Some(false)));
    assert_eq!(page.items[0].username.as_deref(), Some("jane"));
}

// ---------------------------------------------------------------------------------------
// §3–§6 get / update / delete of the storage itself
// ---------------------------------------------------------------------------------------

/// `names` are the logged names of `get`, `update` and `delete`.
fn check_storage_crud<K: StorageKind>(
    target: &ResourcePath,
    base: &str,
    names: [&'static str; 3],
    update_tier: TimeoutTier,
) {
    let [get, update, delete] = names;
    golden(Method::GET, base, Short, get, true).check(&req(GetStorage::<K>::default(), target));
    golden(Method::DELETE, base, Short, delete, true).check(&req(DeleteStorage::<K>::default(), target));
    golden(Method::PUT, base, update_tier, update, true)
        .json(r#"{"name":"new-name","title":"Tïtle","generalAccess":"RESTRICTED"}"#)
        .check(&req(
            UpdateStorage::<K>::default().name("new-name").title("Tïtle").general_access(GeneralAccess::Restricted),
            target,
        ));
    // Unset fields are omitted, not sent as null.
    golden(Method::PUT, base, update_tier, update, true)
        .json(r#"{"generalAccess":"ANYONE_WITH_ID_CAN_READ"}"#)
        .check(&req(UpdateStorage::<K>::default().general_access(GeneralAccess::AnyoneWithIdCanRead), target));
}

#[test]
fn storage_get_update_delete() {
    let dataset = ["DatasetClient.get", "DatasetClient.update", "DatasetClient.delete"];
    let store = ["KeyValueStoreClient.get", "KeyValueStoreClient.update", "KeyValueStoreClient.delete"];
    let queue = ["RequestQueueClient.get", "RequestQueueClient.update", "RequestQueueClient.delete"];
    check_storage_crud::<Datasets>(&ds("user/name"), &format!("{API}/datasets/user~name"), dataset, Short);
    // The KVS update is `long` in the official client (client-behaviour §10.2, "sic").
    check_storage_crud::<KeyValueStores>(&kvs("~store"), &format!("{API}/key-value-stores/~store"), store, Long);
    check_storage_crud::<RequestQueues>(&rq("q1"), &format!("{API}/request-queues/q1"), queue, Short);
    // The queue's own CRUD never carries clientKey (client-behaviour §14 lists where it goes).
    check_storage_crud::<RequestQueues>(&rq_ck("q1"), &format!("{API}/request-queues/q1"), queue, Short);
}

#[test]
fn resource_ids_and_metadata() {
    let r = req(GetStorage::<Datasets>::default(), &ds("john/my ds?x"));
    assert_eq!(r.uri, "https://api.apify.com/v2/datasets/john~my%20ds%3Fx");
    assert_eq!(r.meta.resource_id.as_deref(), Some("john/my ds?x"));
    assert!(!r.meta.streamed && r.meta.replayable);
    let chained = req(GetStorage::<Datasets>::default(), &run_child("dataset"));
    assert_eq!(chained.uri, "https://api.apify.com/v2/actor-runs/r1/dataset");
    assert_eq!(chained.meta.resource_id, None);
}

#[test]
fn no_token_means_no_authorization_and_api_url_is_normalised() {
    let config = Config::new().with_api_url("http://127.0.0.1:8080/v2/").unwrap();
    let r = GetStorage::<Datasets>::default().build(&config, &ds("d1")).unwrap().request;
    assert_eq!(r.uri, "http://127.0.0.1:8080/v2/datasets/d1");
    let headers = r.all_headers();
    assert!(!headers.contains_key("authorization"));
    assert_eq!(headers["accept"], "application/json, */*");
}

// ---------------------------------------------------------------------------------------
// §3 DatasetClient
// ---------------------------------------------------------------------------------------

#[test]
fn dataset_list_items() {
    let target = ds("d1");
    golden(Method::GET, &format!("{API}/datasets/d1/items"), Long, "DatasetClient.list_items", true)
        .check(&req(ListItems::new(), &target));
    let op = ListItems::new()
        .offset(0u64)
        .limit(2u64)
        .desc(true)
        .clean(true)
        .fields(["a", "b"])
        .output_fields(["b", "a"])
        .omit(["c"])
        .unwind(["d"])
        .skip_empty(true)
        .skip_hidden(false)
        .flatten(["e.f"])
        .view("overview")
        .simplified(true)
        .skip_failed_pages(true)
        .signature("s/ig");
    golden(
        Method::GET,
        &format!(
            "{API}/datasets/d1/items?offset=0&limit=2&desc=true&clean=true&fields=a%2Cb&outputFields=b%2Ca&omit=c\
             &unwind=d&skipEmpty=true&skipHidden=false&flatten=e.f&view=overview&simplified=true\
             &skipFailedPages=true&signature=s%2Fig"
        ),
        Long,
        "DatasetClient.list_items",
        true,
    )
    .check(&req(op, &target));
}

#[test]
fn dataset_items_page_from_pagination_headers() {
    let headers = [
        ("x-apify-pagination-total", "100"),
        ("x-apify-pagination-offset", "10"),
        ("x-apify-pagination-limit", "3"),
        ("x-apify-pagination-count", "5"),
        ("x-apify-pagination-desc", "TRUE"),
    ];
    let page = decode(build(ListItems::new(), &ds("d1")), 200, &headers, r#"[{"a":1},{"b":2},{}]"#).unwrap();
    assert_eq!(page.items, vec![json!({"a": 1}), json!({"b": 2}), json!({})]);
    assert_eq!((page.total, page.offset, page.limit, page.count, page.desc), (100, 10, 3, 5, true));

    // count = max(header, len(items)); desc compared case-insensitively.
    let headers = [
        ("x-apify-pagination-total", "3"),
        ("x-apify-pagination-offset", "0"),
        ("x-apify-pagination-limit", "1000"),
        ("x-apify-pagination-count", "1"),
        ("x-apify-pagination-desc", "False"),
    ];
    let page = decode(build(ListItems::new(), &ds("d1")), 200, &headers, "[1,2,3]").unwrap();
    assert_eq!((page.count, page.desc, page.limit), (3, false, 1000));

    // A top-level object is a one-item list.
    let page = decode(build(ListItems::new(), &ds("d1")), 200, &headers, r#" {"only":true}"#).unwrap();
    assert_eq!(page.items, vec![json!({"only": true})]);
    assert_eq!(page.count, 1);

    // Typed items.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        a: u32,
    }
    let page = decode(build(ListItems::new().items_as::<Item>(), &ds("d1")), 200, &headers, r#"[{"a":7}]"#).unwrap();
    assert_eq!(page.items, vec![Item { a: 7 }]);
    let e = decode(build(ListItems::new().items_as::<Item>(), &ds("d1")), 200, &headers, r#"[{"a":"x"}]"#).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = decode(build(ListItems::new(), &ds("d1")), 200, &headers, "[1,").unwrap_err();
    assert!(matches!(e, Error::InvalidResponseBody { status: 200, .. }), "{e:?}");
    let e =
        decode(build(ListItems::new(), &ds("d1")), 404, &[], r#"{"error":{"type":"record-not-found","message":"m"}}"#)
            .unwrap_err();
    assert!(e.is_not_found());
}

#[test]
fn dataset_get_items_as_bytes_and_stream() {
    let target = ds("d1");
    // `format` is always sent (storage-methods §3).
    golden(
        Method::GET,
        &format!("{API}/datasets/d1/items?format=json"),
        Long,
        "DatasetClient.get_items_as_bytes",
        true,
    )
    .check(&req(DownloadItems::new(), &target));
    let op = DownloadItems::new()
        .format(ItemFormat::Csv)
        .limit(5u64)
        .fields(["a"])
        .bom(true)
        .delimiter(";")
        .skip_header_row(false)
        .xml_root("root")
        .xml_row("row")
        .attachment(true)
        .feed_title("T i")
        .feed_description("D");
    let uri = format!(
        "{API}/datasets/d1/items?format=csv&limit=5&fields=a&bom=true&delimiter=%3B&skipHeaderRow=false\
         &xmlRoot=root&xmlRow=row&attachment=true&feedTitle=T+i&feedDescription=D"
    );
    golden(Method::GET, &uri, Long, "DatasetClient.get_items_as_bytes", true).check(&req(op.clone(), &target));

    let streamed = op.api_request(&cfg(), &target, true).unwrap();
    golden(Method::GET, &uri, Long, "DatasetClient.stream_items", true).check(&streamed);
    assert!(streamed.meta.streamed);

    let got = decode(build(DownloadItems::new(), &target), 200, &[("content-type", "text/csv")], "a,b\n1,2\n").unwrap();
    assert_eq!(got, "a,b\n1,2\n");
}

#[test]
fn dataset_push_items() {
    let target = ds("d1");
    let items = [json!({"a": 1}), json!({"b": "ü ✓"})];
    golden(Method::POST, &format!("{API}/datasets/d1/items"), Medium, "DatasetClient.push_items", false)
        .body(JSON_UTF8, r#"[{"a":1},{"b":"ü ✓"}]"#)
        .check(&req(PushItems::json(&items).unwrap(), &target));
    golden(Method::POST, &format!("{API}/datasets/d1/items"), Medium, "DatasetClient.push_items", false)
        .body(JSON_UTF8, r#"{"one":true}"#)
        .check(&req(PushItems::json(&json!({"one": true})).unwrap(), &target));
    // A string is sent verbatim, whitespace included.
    golden(Method::POST, &format!("{API}/datasets/d1/items"), Medium, "DatasetClient.push_items", false)
        .body(JSON_UTF8, "[ {\"x\": 1} ]")
        .check(&req(PushItems::raw_json("[ {\"x\": 1} ]"), &target));

    // ≥ 1024 bytes: gzipped; 1023 bytes: as is.
    let big = format!(r#"[{{"p":"{}"}}]"#, "x".repeat(1024));
    let r = req(PushItems::raw_json(big.clone()), &target);
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert!(r.body.len() < 200);
    golden(Method::POST, &format!("{API}/datasets/d1/items"), Medium, "DatasetClient.push_items", false)
        .body(JSON_UTF8, big)
        .header("content-encoding", "gzip")
        .check(&r);
    let edge = format!(r#"[{{"p":"{}"}}]"#, "x".repeat(1023 - 10));
    assert_eq!(edge.len(), 1023);
    let r = req(PushItems::raw_json(edge.clone()), &target);
    assert!(!r.headers.contains_key("content-encoding"));
    assert_eq!(r.body, edge);
    let edge = format!(r#"[{{"p":"{}"}}]"#, "x".repeat(1024 - 10));
    assert_eq!(req(PushItems::raw_json(edge), &target).headers["content-encoding"], "gzip");
    // Compression can be switched off.
    let off = cfg().with_request_compression(RequestCompression::Off);
    let r = PushItems::raw_json(format!("[{}]", "1,".repeat(999) + "1")).build(&off, &target).unwrap().request;
    assert!(!r.headers.contains_key("content-encoding"));

    // Over 9 MiB: refused before sending; NaN refused.
    assert_eq!(MAX_PAYLOAD_BYTES, 9_437_184);
    assert_invalid_argument(PushItems::raw_json(vec![b' '; MAX_PAYLOAD_BYTES + 1]).build(&cfg(), &target), "9 MiB");
    assert!(PushItems::raw_json(vec![b' '; MAX_PAYLOAD_BYTES]).build(&cfg(), &target).is_ok());
    assert_invalid_argument(PushItems::json(&[1.0, f64::NAN]), "NaN");

    // 201 {} is success; a 400 schema-validation error keeps its data.
    assert!(decode(build(PushItems::raw_json("[]"), &target), 201, &[("location", "x")], "{}").is_ok());
    let body = json!({"error": {
        "type": "schema-validation-error",
        "message": "Schema validation failed",
        "data": {"invalidItems": [{"itemPosition": 2, "validationErrors": []}]}
    }})
    .to_string();
    let e = api_error(decode(build(PushItems::raw_json("[]"), &target), 400, &[], body).unwrap_err());
    assert_eq!(e.status, 400);
    assert_eq!(e.error_type.as_ref().map(|t| t.as_str()), Some("schema-validation-error"));
    assert_eq!(e.data["invalidItems"][0]["itemPosition"], 2);
    // A push to a missing dataset is an error even for a client addressed by ID.
    assert!(decode(build(PushItems::raw_json("[]"), &target), 404, &[], "{}").unwrap_err().is_not_found());
}

#[test]
fn push_chunking_packs_greedily_to_the_byte() {
    assert_eq!(MAX_PUSH_CHUNK_BYTES, 9_436_241);
    let items: Vec<Value> = (0..5).map(|i| json!({"a": i})).collect(); // each `{"a":N}` is 7 bytes
    // Two items: `[` + 7 + `,` + 7 + `]` = 17 bytes.
    let chunks = chunk_items(&items, 17).unwrap();
    assert_eq!(chunks, vec![r#"[{"a":0},{"a":1}]"#, r#"[{"a":2},{"a":3}]"#, r#"[{"a":4}]"#]);
    let chunks = chunk_items(&items, 16).unwrap();
    assert_eq!(chunks.len(), 5);
    assert_eq!(chunks[0], r#"[{"a":0}]"#);
    assert_eq!(chunk_items(&items, 9).unwrap().len(), 5);
    let e = chunk_items(&items, 8).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("Data item at index 0 is too large")), "{e:?}");
    let mixed = [json!({"a": 1}), json!({"a": "much longer than the limit"})];
    let e = chunk_items(&mixed, 20).unwrap_err();
    assert!(e.to_string().contains("Data item at index 1 is too large"), "{e}");
    assert!(chunk_items::<Value, _>(&[], 17).unwrap().is_empty());
}

#[test]
fn push_chunks_plan_sends_every_chunk_in_order() {
    let config = cfg();
    let target = ds("d1");
    let items: Vec<Value> = (0..5).map(|i| json!({"a": i})).collect();
    let want = [r#"[{"a":0},{"a":1}]"#, r#"[{"a":2},{"a":3}]"#, r#"[{"a":4}]"#];
    let mut plan = PushChunks::new(chunk_items(&items, 17).unwrap()).into_plan();
    let mut sent = 0;
    while let Some(r) = plan.next_request(&config, &target, None).unwrap() {
        assert!(sent < want.len(), "more requests than chunks");
        golden(Method::POST, &format!("{API}/datasets/d1/items"), Medium, "DatasetClient.push_items", false)
            .body(JSON_UTF8, want[sent])
            .check(&r);
        plan.on_response(respond(&r, 201, &[], "{}")).unwrap();
        sent += 1;
    }
    assert_eq!(sent, want.len());
    plan.finish().unwrap();

    // A failed chunk fails the call.
    let mut plan = PushChunks::new(chunk_items(&items, 17).unwrap());
    let r = plan.next_request(&config, &target, None).unwrap().unwrap();
    let e = plan.on_response(respond(&r, 413, &[], r#"{"error":{"type":"request-too-large","message":"m"}}"#));
    assert_eq!(e.unwrap_err().status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
}

#[test]
fn dataset_statistics() {
    golden(Method::GET, &format!("{API}/datasets/d1/statistics"), Short, "DatasetClient.get_statistics", true)
        .check(&req(GetStatistics, &ds("d1")));
    let body = data(&json!({"fieldStatistics": {"price": {"min": 59, "max": 89}, "name": {"nullCount": 1}}}));
    let stats = decode(build(GetStatistics, &ds("d1")), 200, &[], body).unwrap();
    let fields = stats.field_statistics.unwrap();
    assert_eq!(fields["price"].max, Some(89.0));
    assert_eq!(fields["name"].null_count, Some(1));
    // A fixed sub-path: 404 is an error even for a client addressed by ID (§8).
    assert!(decode(build(GetStatistics, &ds("d1")), 404, &[], "{}").unwrap_err().is_not_found());
}

// ---------------------------------------------------------------------------------------
// §4 KeyValueStoreClient
// ---------------------------------------------------------------------------------------

#[test]
fn kvs_list_keys() {
    let target = kvs("s1");
    golden(Method::GET, &format!("{API}/key-value-stores/s1/keys"), Medium, "KeyValueStoreClient.list_keys", true)
        .check(&req(ListKeys::new(), &target));
    let op = ListKeys::new().limit(10u64).exclusive_start_key("a b/c").collection("imgs").prefix("p-").signature("sig");
    golden(
        Method::GET,
        &format!(
            "{API}/key-value-stores/s1/keys?limit=10&exclusiveStartKey=a+b%2Fc&collection=imgs&prefix=p-&signature=sig"
        ),
        Medium,
        "KeyValueStoreClient.list_keys",
        true,
    )
    .check(&req(op, &target));
    let body = data(&json!({
        "items": [{"key": "a", "size": 3, "recordPublicUrl": "https://x/a"}],
        "count": 1, "limit": 10, "exclusiveStartKey": null, "isTruncated": false, "nextExclusiveStartKey": null
    }));
    let keys: ListOfKeys = decode(build(ListKeys::new(), &target), 200, &[], body).unwrap();
    assert_eq!((keys.items[0].key.as_str(), keys.items[0].size, keys.is_truncated), ("a", 3, false));
}

#[test]
fn kvs_record_reads() {
    let target = kvs("s1");
    let uri = format!("{API}/key-value-stores/s1/records/a%2Fb%20c?attachment=true");
    golden(Method::GET, &uri, Long, "KeyValueStoreClient.get_record", true)
        .check(&req(GetRecord::new("a/b c"), &target));
    golden(Method::GET, &format!("{uri}&signature=s%3D"), Long, "KeyValueStoreClient.get_record", true)
        .check(&req(GetRecord::new("a/b c").signature("s="), &target));
    golden(Method::GET, &uri, Long, "KeyValueStoreClient.get_record_as_bytes", true)
        .check(&req(GetRecordAsBytes::new("a/b c"), &target));
    let streamed = GetRecordAsBytes::new("a/b c").api_request(&cfg(), &target, true).unwrap();
    golden(Method::GET, &uri, Long, "KeyValueStoreClient.stream_record", true).check(&streamed);
    assert!(streamed.meta.streamed);
    golden(
        Method::GET,
        &format!("{API}/key-value-stores/s1/records/kl%C3%AD%C4%8D-%C3%BC?attachment=true"),
        Long,
        "KeyValueStoreClient.get_record",
        true,
    )
    .check(&req(GetRecord::new("klíč-ü"), &target));
    // HEAD: no query at all.
    golden(
        Method::HEAD,
        &format!("{API}/key-value-stores/s1/records/a%2Fb%20c"),
        Long,
        "KeyValueStoreClient.record_exists",
        true,
    )
    .check(&req(RecordExists { key: "a/b c".into() }, &target));
}

#[test]
fn kvs_record_decoding_by_content_type() {
    let target = kvs("s1");
    let get = |status: u16, ct: Option<&str>, body: &'static [u8]| {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        decode(build(GetRecord::new("k"), &target), status, &headers, Bytes::from_static(body))
    };
    let rec = get(200, Some(JSON_UTF8), br#"{"a":[1]}"#).unwrap().unwrap();
    assert_eq!(
        rec,
        Record { key: "k".into(), value: RecordValue::Json(json!({"a": [1]})), content_type: Some(JSON_UTF8.into()) }
    );
    let text = |v: &Option<Record>| match v.as_ref().map(|r| &r.value) {
        Some(RecordValue::Text(t)) => t.clone(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(text(&get(200, Some("text/plain; charset=utf-8"), b"hello").unwrap()), "hello");
    assert_eq!(text(&get(200, Some("text/csv"), b"a,b").unwrap()), "a,b");
    assert_eq!(text(&get(200, Some("application/xml"), b"<a/>").unwrap()), "<a/>");
    assert_eq!(text(&get(200, Some("application/rss+xml"), b"<rss/>").unwrap()), "<rss/>");
    let png = get(200, Some("image/png"), b"\x89PNG").unwrap().unwrap();
    assert_eq!(png.value, RecordValue::Bytes(Bytes::from_static(b"\x89PNG")));
    assert_eq!(png.content_type.as_deref(), Some("image/png"));
    let bin = get(200, Some("application/octet-stream"), b"{}").unwrap().unwrap();
    assert_eq!(bin.value, RecordValue::Bytes(Bytes::from_static(b"{}")));
    // Missing Content-Type: bytes, with `content_type` none (the Python client fails here).
    let bare = get(200, None, b"raw").unwrap().unwrap();
    assert_eq!((bare.value, bare.content_type), (RecordValue::Bytes(Bytes::from_static(b"raw")), None));
    // 204: the value is none (JSON null).
    assert_eq!(get(204, None, b"").unwrap().unwrap().value, RecordValue::Json(Value::Null));
    // 404: none.
    assert_eq!(get(404, None, b"").unwrap(), None);
    // Declared JSON that does not parse.
    let e = get(200, Some(JSON), b"{bad").unwrap_err();
    assert!(matches!(e, Error::InvalidResponseBody { status: 200, .. }), "{e:?}");
    // Other errors surface.
    assert_eq!(get(500, None, b"oops").unwrap_err().status(), Some(StatusCode::INTERNAL_SERVER_ERROR));

    let raw =
        decode(build(GetRecordAsBytes::new("k"), &target), 200, &[("content-type", JSON)], "[1]").unwrap().unwrap();
    assert_eq!((raw.key.as_str(), &raw.value[..], raw.content_type.as_deref()), ("k", &b"[1]"[..], Some(JSON)));
    assert_eq!(decode(build(GetRecordAsBytes::new("k"), &target), 404, &[], "").unwrap(), None);

    let exists = |status: u16| decode(build(RecordExists { key: "k".into() }, &target), status, &[], "");
    assert!(exists(200).unwrap());
    assert!(!exists(404).unwrap());
    assert!(exists(403).is_err());
}

#[test]
fn kvs_set_record() {
    let target = kvs("s1");
    let uri = format!("{API}/key-value-stores/s1/records/a%2Fb%20c");
    let put = |ct: &str, body: &[u8]| {
        golden(Method::PUT, &uri, Long, "KeyValueStoreClient.set_record", true).body(ct, body.to_vec())
    };
    put(JSON_UTF8, r#"{"a":1,"b":"ü"}"#.as_bytes())
        .check(&req(SetRecord::json("a/b c", &json!({"a": 1, "b": "ü"})).unwrap(), &target));
    put(JSON_UTF8, b"null").check(&req(SetRecord::json("a/b c", &Value::Null).unwrap(), &target));
    put("text/plain; charset=utf-8", "hëllo".as_bytes()).check(&req(SetRecord::text("a/b c", "hëllo"), &target));
    put("application/octet-stream", b"\x00\x01").check(&req(SetRecord::bytes("a/b c", vec![0u8, 1]), &target));
    // An explicit type: text/bytes verbatim, JSON values only as JSON.
    put("text/csv", b"a,b").check(&req(SetRecord::text("a/b c", "a,b").content_type("text/csv").unwrap(), &target));
    put(JSON, br#"{"raw": true}"#)
        .check(&req(SetRecord::text("a/b c", r#"{"raw": true}"#).content_type(JSON).unwrap(), &target));
    put("image/png", b"\x89PNG")
        .check(&req(SetRecord::bytes("a/b c", &b"\x89PNG"[..]).content_type("image/png").unwrap(), &target));
    put(JSON, b"[1]").check(&req(SetRecord::json("a/b c", &json!([1])).unwrap().content_type(JSON).unwrap(), &target));
    assert_invalid_argument(SetRecord::json("k", &json!({"a": 1})).unwrap().content_type("text/plain"), "JSON as text");
    assert_invalid_argument(SetRecord::json("k", &f64::INFINITY), "Infinity");

    // 3000 compressible bytes go out gzipped (observed with the Python client); PNG does not.
    let payload = vec![b'a'; 3000];
    let r = req(SetRecord::bytes("a/b c", payload.clone()), &target);
    put("application/octet-stream", &payload).header("content-encoding", "gzip").check(&r);
    let r = req(SetRecord::bytes("a/b c", payload.clone()).content_type("image/png").unwrap(), &target);
    assert!(!r.headers.contains_key("content-encoding"));
    assert_eq!(r.body, payload);

    // A caller-declared encoding is forwarded verbatim, never recompressed.
    let (gz, _) = compress_request_body(&payload, None, RequestCompression::Gzip).unwrap();
    let r = req(SetRecord::bytes("a/b c", gz.clone()).content_encoding("gzip").unwrap(), &target);
    assert_eq!(r.body, gz);
    put("application/octet-stream", &payload).header("content-encoding", "gzip").check(&r);
    let small = req(SetRecord::bytes("a/b c", vec![1u8, 2]).content_encoding("br").unwrap(), &target);
    assert_eq!((small.headers["content-encoding"].to_str().unwrap(), &small.body[..]), ("br", &[1u8, 2][..]));
    assert_invalid_argument(SetRecord::text("k", "x").content_encoding("gzip"), "encoding of text");
    assert_invalid_argument(SetRecord::json("k", &1).unwrap().content_encoding("gzip"), "encoding of JSON");

    assert!(decode(build(SetRecord::text("k", "x"), &target), 201, &[], "{}").is_ok());
    assert!(decode(build(SetRecord::text("k", "x"), &target), 404, &[], "{}").unwrap_err().is_not_found());
}

#[test]
fn kvs_upload_and_delete_record() {
    let target = kvs("s1");
    let r = UploadRecord { key: "vid eo".into(), content_type: "video/mp4".into() }.request(&cfg(), &target).unwrap();
    golden(
        Method::PUT,
        &format!("{API}/key-value-stores/s1/records/vid%20eo"),
        Long,
        "KeyValueStoreClient.set_record",
        true,
    )
    .body("video/mp4", Vec::new())
    .check(&r);
    // A stream cannot be rewound: one attempt, never compressed.
    assert!(!r.meta.replayable);
    assert_invalid_argument(
        UploadRecord { key: "k".into(), content_type: "bad\ntype".into() }.request(&cfg(), &target),
        "bad content type",
    );

    golden(
        Method::DELETE,
        &format!("{API}/key-value-stores/s1/records/k"),
        Short,
        "KeyValueStoreClient.delete_record",
        true,
    )
    .check(&req(DeleteRecord { key: "k".into() }, &target));
    assert!(decode(build(DeleteRecord { key: "k".into() }, &target), 204, &[], "").is_ok());
    // A missing record is an error (§8).
    assert!(decode(build(DeleteRecord { key: "k".into() }, &target), 404, &[], "").unwrap_err().is_not_found());
}

// ---------------------------------------------------------------------------------------
// §6 RequestQueueClient
// ---------------------------------------------------------------------------------------

#[test]
fn rq_head_and_lock() {
    let target = rq_ck("q1");
    golden(
        Method::GET,
        &format!("{API}/request-queues/q1/head?limit=5&clientKey=ck"),
        Short,
        "RequestQueueClient.list_head",
        true,
    )
    .check(&req(ListHead::default().limit(5u64), &target));
    golden(Method::GET, &format!("{API}/request-queues/q1/head"), Short, "RequestQueueClient.list_head", true)
        .check(&req(ListHead::default(), &rq("q1")));
    // Locking hands out different requests on a repeat: not idempotent. Whole seconds.
    golden(
        Method::POST,
        &format!("{API}/request-queues/q1/head/lock?lockSecs=60&limit=25&clientKey=ck"),
        Medium,
        "RequestQueueClient.list_and_lock_head",
        false,
    )
    .check(&req(ListAndLockHead::new(Duration::from_millis(60_900)).limit(25u64), &target));
    assert_invalid_argument(
        ListAndLockHead::new(Duration::from_secs(1)).limit(26u64).build(&cfg(), &target),
        "limit 26",
    );

    let head = data(&json!({
        "limit": 2, "queueModifiedAt": "2018-03-14T23:00:00.000Z", "hadMultipleClients": false,
        "items": [{"id": "a", "uniqueKey": "u", "url": "https://e.com", "method": "GET", "retryCount": 0}]
    }));
    let head: RequestQueueHead = decode(build(ListHead::default(), &target), 200, &[], head).unwrap();
    assert_eq!(head.items[0].id, "a");
    let locked = data(&json!({
        "limit": 1, "queueModifiedAt": "2018-03-14T23:00:00.000Z", "hadMultipleClients": true, "lockSecs": 60,
        "queueHasLockedRequests": true, "clientKey": "ck",
        "items": [{"id": "a", "uniqueKey": "u", "url": "https://e.com", "lockExpiresAt": "2022-06-14T23:00:00.000Z"}]
    }));
    let locked = decode(build(ListAndLockHead::new(Duration::from_secs(60)), &target), 201, &[], locked).unwrap();
    assert_eq!((locked.lock_secs, locked.client_key.as_deref()), (60, Some("ck")));
    assert!(locked.items[0].lock_expires_at.is_some());
}

#[test]
fn rq_single_requests() {
    let target = rq_ck("q1");
    let base = format!("{API}/request-queues/q1/requests");
    let mut r = pending();
    r.id = Some("ignored-on-add".into());
    r.user_data = Some(json!({"label": "DETAIL"}).as_object().unwrap().clone());
    // Adds deduplicate by uniqueKey: idempotent. `id` is never sent on add.
    golden(Method::POST, &format!("{base}?forefront=true&clientKey=ck"), Short, "RequestQueueClient.add_request", true)
        .json(r#"{"uniqueKey":"k1","url":"https://example.com/1","userData":{"label":"DETAIL"}}"#)
        .check(&req(AddRequest::new(r.clone()).forefront(true), &target));
    golden(Method::POST, &base, Short, "RequestQueueClient.add_request", true)
        .json(r#"{"uniqueKey":"k1","url":"https://example.com/1"}"#)
        .check(&req(AddRequest::new(pending()), &rq("q1")));
    assert_invalid_argument(
        AddRequest::new(Request::new("", "https://e.com")).build(&cfg(), &target),
        "empty uniqueKey",
    );
    assert_invalid_argument(AddRequest::new(Request::new("k", "")).build(&cfg(), &target), "empty url");

    // get_request never sends clientKey (§14).
    golden(Method::GET, &format!("{base}/a%2Fb"), Short, "RequestQueueClient.get_request", true)
        .check(&req(GetRequest { id: "a/b".into() }, &target));

    // update_request sends the full request, id included.
    let mut handled = pending();
    handled.id = Some("r1".into());
    handled.handled_at = Some(apify_core::models::timestamp::parse("2024-01-02T03:04:05Z").unwrap());
    golden(
        Method::PUT,
        &format!("{base}/r1?forefront=false&clientKey=ck"),
        Medium,
        "RequestQueueClient.update_request",
        true,
    )
    .json(r#"{"id":"r1","uniqueKey":"k1","url":"https://example.com/1","handledAt":"2024-01-02T03:04:05.000Z"}"#)
    .check(&req(UpdateRequest::new(handled).forefront(false), &target));
    assert_invalid_argument(UpdateRequest::new(pending()).build(&cfg(), &target), "update without id");

    golden(Method::DELETE, &format!("{base}/r1?clientKey=ck"), Short, "RequestQueueClient.delete_request", true)
        .check(&req(DeleteRequest { id: "r1".into() }, &target));
    golden(
        Method::PUT,
        &format!("{base}/r1/lock?lockSecs=30&forefront=true&clientKey=ck"),
        Medium,
        "RequestQueueClient.prolong_request_lock",
        true,
    )
    .check(&req(ProlongRequestLock::new("r1", Duration::from_secs(30)).forefront(true), &target));
    golden(
        Method::DELETE,
        &format!("{base}/r1/lock?forefront=true&clientKey=ck"),
        Short,
        "RequestQueueClient.delete_request_lock",
        true,
    )
    .check(&req(DeleteRequestLock::new("r1").forefront(true), &target));
    golden(Method::DELETE, &format!("{base}/r1/lock"), Short, "RequestQueueClient.delete_request_lock", true)
        .check(&req(DeleteRequestLock::new("r1"), &rq("q1")));

    // Decoding.
    let reg = data(&json!({"requestId": "r1", "wasAlreadyPresent": true, "wasAlreadyHandled": false}));
    let got = decode(build(AddRequest::new(pending()), &target), 201, &[], reg.clone()).unwrap();
    assert_eq!((got.request_id.as_str(), got.was_already_present), ("r1", true));
    let mut with_id = pending();
    with_id.id = Some("r1".into());
    assert!(decode(build(UpdateRequest::new(with_id), &target), 200, &[], reg).is_ok());
    let stored = data(
        &json!({"id": "r1", "uniqueKey": "k1", "url": "https://example.com/1", "lockByClient": "x", "newField": 1}),
    );
    let got = decode(build(GetRequest { id: "r1".into() }, &target), 200, &[], stored).unwrap().unwrap();
    assert_eq!((got.lock_by_client.as_deref(), &got.extra["newField"]), (Some("x"), &json!(1)));
    assert_eq!(decode(build(GetRequest { id: "r1".into() }, &target), 404, &[], "{}").unwrap(), None);
    assert!(decode(build(DeleteRequest { id: "r1".into() }, &target), 404, &[], "").unwrap_err().is_not_found());
    assert!(decode(build(DeleteRequest { id: "r1".into() }, &target), 204, &[], "").is_ok());
    let lock = data(&json!({"lockExpiresAt": "2022-06-14T23:00:00.000Z"}));
    let info = decode(build(ProlongRequestLock::new("r1", Duration::from_secs(30)), &target), 200, &[], lock).unwrap();
    assert_eq!(apify_core::models::timestamp::format(&info.lock_expires_at), "2022-06-14T23:00:00.000Z");
    assert!(decode(build(DeleteRequestLock::new("r1"), &target), 204, &[], "").is_ok());
}

#[test]
fn rq_list_requests_and_unlock() {
    let target = rq_ck("q1");
    golden(
        Method::GET,
        &format!("{API}/request-queues/q1/requests?limit=10&filter=pending%2Clocked&cursor=c%2B1&clientKey=ck"),
        Medium,
        "RequestQueueClient.list_requests",
        true,
    )
    .check(&req(ListRequests::new().limit(10u64).filter(["pending", "locked"]).cursor("c+1"), &target));
    golden(
        Method::GET,
        &format!("{API}/request-queues/q1/requests?exclusiveStartId=r9"),
        Medium,
        "RequestQueueClient.list_requests",
        true,
    )
    .check(&req(ListRequests::new().exclusive_start_id("r9"), &rq("q1")));
    assert_invalid_argument(
        ListRequests::new().filter(["pending"]).exclusive_start_id("x").build(&cfg(), &target),
        "filter with exclusiveStartId",
    );
    let page =
        data(&json!({"items": [{"id": "a", "uniqueKey": "u", "url": "https://e.com"}], "limit": 1, "nextCursor": "n"}));
    let page = decode(build(ListRequests::new(), &target), 200, &[], page).unwrap();
    assert_eq!((page.items.len(), page.next_cursor.as_deref()), (1, Some("n")));

    // Unlocking twice leaves the same state: idempotent; tier long; no body.
    golden(
        Method::POST,
        &format!("{API}/request-queues/q1/requests/unlock?clientKey=ck"),
        Long,
        "RequestQueueClient.unlock_requests",
        true,
    )
    .check(&req(UnlockRequests, &target));
    let got = decode(build(UnlockRequests, &target), 200, &[], data(&json!({"unlockedCount": 4}))).unwrap();
    assert_eq!(got.unlocked_count, 4);
}

#[test]
fn rq_batch_add_request_and_chunking() {
    let target = rq_ck("q1");
    let mut with_id = Request::new("b", "https://e.com/b");
    with_id.id = Some("dropped".into());
    let chunks = chunk_requests(&[pending(), with_id], MAX_PUSH_CHUNK_BYTES).unwrap();
    assert_eq!(chunks.len(), 1);
    let (body, n) = chunks[0].clone();
    assert_eq!(n, 2);
    let want = r#"[{"uniqueKey":"k1","url":"https://example.com/1"},{"uniqueKey":"b","url":"https://e.com/b"}]"#;
    assert_eq!(body, want);
    // `forefront` is always sent; adds deduplicate: idempotent.
    golden(
        Method::POST,
        &format!("{API}/request-queues/q1/requests/batch?forefront=false&clientKey=ck"),
        Medium,
        "RequestQueueClient.batch_add_requests",
        true,
    )
    .json(want)
    .check(&req(BatchAddRequests { body: body.clone(), forefront: false }, &target));

    // ≤ 25 per batch.
    let many: Vec<Request> = (0..60).map(|i| Request::new(format!("k{i}"), format!("https://e.com/{i}"))).collect();
    let sizes: Vec<usize> = chunk_requests(&many, MAX_PUSH_CHUNK_BYTES).unwrap().iter().map(|c| c.1).collect();
    assert_eq!(sizes, [25, 25, 10]);
    // Each item counts its length + 1, plus 2 for the brackets: `{"uniqueKey":"k","url":"u"}` is 27 bytes.
    let tiny: Vec<Request> = (0..4).map(|_| Request::new("k", "u")).collect();
    let at = |max: usize| chunk_requests(&tiny, max).unwrap().iter().map(|c| c.1).collect::<Vec<_>>();
    assert_eq!(at(57), [2, 2]);
    assert_eq!(at(56), [1, 1, 1, 1]);
    // Too large for any batch: sent alone, the API decides.
    assert_eq!(at(10), [1, 1, 1, 1]);
    assert!(chunk_requests(&[Request::new("", "u")], 100).is_err());
}

#[test]
fn rq_batch_add_plan_merges_results() {
    let config = cfg();
    let target = rq_ck("q1");
    let many: Vec<Request> = (0..30).map(|i| Request::new(format!("k{i}"), format!("https://e.com/{i}"))).collect();
    let bodies: Vec<Bytes> = chunk_requests(&many, MAX_PUSH_CHUNK_BYTES).unwrap().into_iter().map(|c| c.0).collect();
    let mut plan = BatchAdd::new(bodies.clone(), false).forefront(true).into_plan();
    let mut seen = 0;
    while let Some(r) = plan.next_request(&config, &target, None).unwrap() {
        let want = bodies.get(seen / 25).expect("no more requests than batches");
        let g = golden(
            Method::POST,
            &format!("{API}/request-queues/q1/requests/batch?forefront=true&clientKey=ck"),
            Medium,
            "RequestQueueClient.batch_add_requests",
            true,
        )
        .json(std::str::from_utf8(want).unwrap());
        // The 25-request batch is over 1024 bytes, so it goes out gzipped; the 5-request one does not.
        let g = if want.len() >= 1024 { g.header("content-encoding", "gzip") } else { g };
        g.check(&r);
        let sent: Vec<Value> = serde_json::from_slice(&sent_body(&r)).unwrap();
        let processed: Vec<Value> = sent
            .iter()
            .map(|s| {
                let key = s["uniqueKey"].as_str().unwrap();
                json!({
                    "requestId": format!("id-{key}"),
                    "uniqueKey": key,
                    "wasAlreadyPresent": false,
                    "wasAlreadyHandled": false
                })
            })
            .collect();
        let unprocessed = if seen == 0 { json!([{"uniqueKey": "k0", "url": "https://e.com/0"}]) } else { json!([]) };
        let body = data(&json!({"processedRequests": processed, "unprocessedRequests": unprocessed}));
        plan.on_response(respond(&r, 201, &[], body)).unwrap();
        seen += sent.len();
    }
    assert_eq!(seen, 30);
    assert!(bodies[0].len() >= 1024 && bodies[1].len() < 1024, "one gzipped batch, one plain");
    let merged: BatchAddResult = plan.finish().unwrap();
    assert_eq!(merged.processed_requests.len(), 30);
    assert_eq!(merged.processed_requests[29].request_id, "id-k29");
    assert_eq!(merged.unprocessed_requests.len(), 1);
    assert_eq!(merged.unprocessed_requests[0].unique_key.as_deref(), Some("k0"));
}

/// The body of a request as the server reads it (after its own `Content-Encoding`).
fn sent_body(req: &ApiRequest) -> Bytes {
    let enc = req.headers.get("content-encoding").map(|v| v.to_str().unwrap());
    ContentDecoder::decode_all(enc, req.body.clone()).unwrap()
}

#[test]
fn rq_batch_delete_and_plan() {
    let target = rq_ck("q1");
    let refs = vec![RequestRef::Id("a".into()), RequestRef::UniqueKey("https://e.com/b".into())];
    // DELETE with a JSON body and the required Content-Type: application/json.
    golden(
        Method::DELETE,
        &format!("{API}/request-queues/q1/requests/batch?clientKey=ck"),
        Short,
        "RequestQueueClient.batch_delete_requests",
        true,
    )
    .json(r#"[{"id":"a"},{"uniqueKey":"https://e.com/b"}]"#)
    .check(&req(BatchDeleteRequests { requests: refs }, &target));
    let too_many = (0..26).map(|i| RequestRef::Id(format!("{i}"))).collect();
    assert_invalid_argument(BatchDeleteRequests { requests: too_many }.build(&cfg(), &target), "26 deletes");

    let all: Vec<RequestRef> = (0..30).map(|i| RequestRef::Id(format!("r{i}"))).collect();
    let mut plan = BatchDelete::new(all).into_plan();
    let mut sizes = Vec::new();
    while let Some(r) = plan.next_request(&cfg(), &target, None).unwrap() {
        assert_eq!((r.method.as_str(), r.headers["content-type"].to_str().unwrap()), ("DELETE", JSON));
        let sent: Vec<Value> = serde_json::from_slice(&sent_body(&r)).unwrap();
        sizes.push(sent.len());
        let processed: Vec<Value> = sent.iter().skip(1).map(|s| json!({"id": s["id"]})).collect();
        let unprocessed = json!([{"id": sent[0]["id"], "uniqueKey": "u", "url": "https://e.com"}]);
        let body = data(&json!({"processedRequests": processed, "unprocessedRequests": unprocessed}));
        plan.on_response(respond(&r, 200, &[], body)).unwrap();
        assert!(sizes.len() <= 2);
    }
    assert_eq!(sizes, [25, 5]);
    let merged = plan.finish().unwrap();
    assert_eq!(merged.processed_requests.len(), 28);
    assert_eq!(merged.unprocessed_requests.iter().map(|u| u.id.clone().unwrap()).collect::<Vec<_>>(), ["r0", "r25"]);

    // A failed batch fails the call.
    let mut plan = BatchDelete::new(vec![RequestRef::Id("a".into())]);
    let r = plan.next_request(&cfg(), &target, None).unwrap().unwrap();
    assert!(plan.on_response(respond(&r, 429, &[], r#"{"error":{"type":"rate-limit-exceeded"}}"#)).is_err());
}

// ---------------------------------------------------------------------------------------
// client-behaviour §5 and §14: encoding, refusals, clientKey
// ---------------------------------------------------------------------------------------

#[test]
fn unsafe_segments_are_refused_before_any_request() {
    for bad in ["", ".", ".."] {
        let what = format!("{bad:?}");
        assert_invalid_argument(ResourcePath::resource("datasets", bad), &what);
        let s = kvs("s1");
        let q = rq("q1");
        assert_invalid_argument(GetRecord::new(bad).build(&cfg(), &s), &what);
        assert_invalid_argument(GetRecordAsBytes::new(bad).build(&cfg(), &s), &what);
        assert_invalid_argument(RecordExists { key: bad.into() }.build(&cfg(), &s), &what);
        assert_invalid_argument(SetRecord::text(bad, "x").build(&cfg(), &s), &what);
        assert_invalid_argument(DeleteRecord { key: bad.into() }.build(&cfg(), &s), &what);
        assert_invalid_argument(
            UploadRecord { key: bad.into(), content_type: "text/plain".into() }.request(&cfg(), &s),
            &what,
        );
        assert_invalid_argument(GetRequest { id: bad.into() }.build(&cfg(), &q), &what);
        assert_invalid_argument(DeleteRequest { id: bad.into() }.build(&cfg(), &q), &what);
        assert_invalid_argument(ProlongRequestLock::new(bad, Duration::from_secs(1)).build(&cfg(), &q), &what);
        assert_invalid_argument(DeleteRequestLock::new(bad).build(&cfg(), &q), &what);
        let mut r = pending();
        r.id = Some(bad.into());
        assert_invalid_argument(UpdateRequest::new(r).build(&cfg(), &q), &what);
    }
    // `/` becomes `~` first, so `a/..` is one harmless segment; `..x` is an ordinary key.
    assert_eq!(req(GetStorage::<Datasets>::default(), &ds("a/..")).uri.to_string(), format!("{API}/datasets/a~.."));
    assert_eq!(
        req(GetRecord::new("..x"), &kvs("s1")).uri.to_string(),
        format!("{API}/key-value-stores/s1/records/..x?attachment=true")
    );
    assert_invalid_argument(rq("q1").with_client_key(""), "empty client key");
    assert_invalid_argument(rq("q1").with_client_key(&"k".repeat(33)), "33-char client key");
    assert!(rq("q1").with_client_key(&"k".repeat(32)).is_ok());
}

#[test]
fn client_key_goes_exactly_where_the_spec_says() {
    let t = rq_ck("q1");
    let mut with_id = pending();
    with_id.id = Some("r1".into());
    let sent_with_key: Vec<ApiRequest> = vec![
        req(ListHead::default(), &t),
        req(ListAndLockHead::new(Duration::from_secs(60)), &t),
        req(AddRequest::new(pending()), &t),
        req(UpdateRequest::new(with_id), &t),
        req(DeleteRequest { id: "r1".into() }, &t),
        req(ProlongRequestLock::new("r1", Duration::from_secs(5)), &t),
        req(DeleteRequestLock::new("r1"), &t),
        req(BatchAddRequests { body: Bytes::from_static(b"[]"), forefront: false }, &t),
        req(BatchDeleteRequests { requests: vec![RequestRef::Id("a".into())] }, &t),
        req(ListRequests::new(), &t),
        req(UnlockRequests, &t),
    ];
    for r in &sent_with_key {
        let q = r.uri.query().unwrap_or_default();
        assert!(q.split('&').any(|p| p == "clientKey=ck"), "{} lacks clientKey: {}", r.meta.client_method, r.uri);
    }
    let sent_without: Vec<ApiRequest> = vec![
        req(GetRequest { id: "r1".into() }, &t),
        req(GetStorage::<RequestQueues>::default(), &t),
        req(UpdateStorage::<RequestQueues>::default(), &t),
        req(DeleteStorage::<RequestQueues>::default(), &t),
    ];
    for r in &sent_without {
        assert!(
            !r.uri.to_string().contains("clientKey"),
            "{} must not send clientKey: {}",
            r.meta.client_method,
            r.uri
        );
    }
}

// ---------------------------------------------------------------------------------------
// §8 404 rules, §6–§7 envelopes and errors
// ---------------------------------------------------------------------------------------

#[test]
fn not_found_rules_by_client_kind() {
    let nf = r#"{"error":{"type":"record-not-found","message":"Dataset was not found"}}"#;
    // get() on an ID client: none; on a chained client: an error (ambiguous parent/child).
    assert!(decode(build(GetStorage::<Datasets>::default(), &ds("d1")), 404, &[], nf).unwrap().is_none());
    let e = decode(build(GetStorage::<Datasets>::default(), &run_child("dataset")), 404, &[], nf).unwrap_err();
    let e = api_error(e);
    assert_eq!((e.status, e.message.as_str()), (StatusCode::NOT_FOUND, "Dataset was not found"));
    assert!(decode(build(GetStorage::<KeyValueStores>::default(), &kvs("s1")), 404, &[], nf).unwrap().is_none());
    assert!(
        decode(build(GetStorage::<KeyValueStores>::default(), &run_child("key-value-store")), 404, &[], nf).is_err()
    );
    assert!(decode(build(GetStorage::<RequestQueues>::default(), &rq("q1")), 404, &[], nf).unwrap().is_none());
    assert!(decode(build(GetStorage::<RequestQueues>::default(), &run_child("request-queue")), 404, &[], nf).is_err());
    // delete(): success on an ID client, an error on a chained one.
    assert!(decode(build(DeleteStorage::<Datasets>::default(), &ds("d1")), 404, &[], nf).is_ok());
    assert!(
        decode(build(DeleteStorage::<Datasets>::default(), &run_child("dataset")), 404, &[], nf)
            .unwrap_err()
            .is_not_found()
    );
    assert!(decode(build(DeleteStorage::<RequestQueues>::default(), &rq("q1")), 404, &[], nf).is_ok());
    // Records: none even on a chained client.
    let chained = run_child("key-value-store");
    assert_eq!(decode(build(GetRecord::new("k"), &chained), 404, &[], nf).unwrap(), None);
    assert_eq!(decode(build(GetRecordAsBytes::new("k"), &chained), 404, &[], nf).unwrap(), None);
    assert!(!decode(build(RecordExists { key: "k".into() }, &chained), 404, &[], "").unwrap());
    // Updates never turn a 404 into anything else.
    assert!(decode(build(UpdateStorage::<Datasets>::default(), &ds("d1")), 404, &[], nf).unwrap_err().is_not_found());
    // A chained client reaches the chained URL.
    golden(
        Method::GET,
        &format!("{API}/actor-runs/r1/key-value-store/records/k?attachment=true"),
        Long,
        "KeyValueStoreClient.get_record",
        true,
    )
    .check(&req(GetRecord::new("k"), &chained));
}

#[test]
fn envelope_and_decode_errors() {
    let op = || build(GetStorage::<Datasets>::default(), &ds("d1"));
    let got = decode(op(), 200, &[("content-type", JSON)], data(&dataset_json("d1", Some("s")))).unwrap().unwrap();
    assert_eq!((got.item_count, got.clean_item_count, got.name.as_deref()), (7, 5, Some("my-ds")));
    assert_eq!(got.url_signing_secret_key.as_deref(), Some("s"));
    // Unknown fields are kept; unknown enum values are open.
    assert_eq!(got.extra["futureField"], json!({"a": 1}));
    assert_eq!(got.general_access, Some(GeneralAccess::Other("SOMETHING_NEW".into())));
    assert_eq!(apify_core::models::timestamp::format(&got.created_at), "2019-12-12T07:34:14.202Z");

    // 2xx that is not JSON: InvalidResponseBody; JSON of the wrong shape: Decode.
    let e = decode(op(), 200, &[], "<html>").unwrap_err();
    assert!(matches!(e, Error::InvalidResponseBody { status: 200, .. }), "{e:?}");
    let e = decode(op(), 200, &[], r#"{"data":{"id":1}}"#).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = decode(op(), 200, &[], r#"{"notData":{}}"#).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = decode(build(UnlockRequests, &rq("q1")), 200, &[], r#"{"data":{"unlockedCount":"x"}}"#).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
}

#[test]
fn api_errors_carry_type_message_data_and_attempt() {
    let op = build(GetStorage::<KeyValueStores>::default(), &kvs("s1"));
    let mut resp = respond(
        &op.request,
        400,
        &[("retry-after", "7")],
        concat!(
            r#"{"error":{"type":"invalid-record-key","message":"Record key contains invalid character","#,
            r#""data":{"k":"v"},"x":1}}"#
        ),
    );
    resp.attempt = 5;
    let e = api_error(op.decode(resp).unwrap_err());
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert_eq!(e.error_type.as_ref().map(|t| t.as_str()), Some("invalid-record-key"));
    assert_eq!(e.message, "Record key contains invalid character");
    assert_eq!(Value::Object(e.data.clone()), json!({"k": "v"}));
    assert_eq!((e.attempt, e.method.as_str()), (5, "GET"));
    assert_eq!(e.url, format!("{API}/key-value-stores/s1"));
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));

    // Not an API error body: the documented defaults.
    for body in ["Bad Gateway", r#"{"foo":1}"#, r#"{"error":"flat"}"#, ""] {
        let op = build(GetStatistics, &ds("d1"));
        let e = api_error(decode(op, 502, &[], body).unwrap_err());
        assert_eq!(e.message, format!("Unexpected error: {body}"));
        assert_eq!((e.error_type.is_none(), e.data.is_empty()), (true, true));
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
    }
    // A type without a message still falls back for the message only.
    let e = api_error(
        decode(build(GetStatistics, &ds("d1")), 429, &[], r#"{"error":{"type":"rate-limit-exceeded"}}"#).unwrap_err(),
    );
    assert_eq!(e.error_type.as_ref().map(|t| t.as_str()), Some("rate-limit-exceeded"));
    assert!(e.message.starts_with("Unexpected error: "), "{}", e.message);
}

// ---------------------------------------------------------------------------------------
// §5 Public URLs (two-step plans)
// ---------------------------------------------------------------------------------------

/// Drives a public-URL plan: one GET of the storage answered with `object`, then the URL.
fn drive_url<P: Plan<Output = String>>(
    mut plan: P,
    config: &Config,
    target: &ResourcePath,
    wall: Option<SystemTime>,
    status: u16,
    object: &Value,
) -> (ApiRequest, Result<String, Error>) {
    let r = plan.next_request(config, target, wall).unwrap().expect("one GET");
    let result = plan.on_response(respond(&r, status, &[("content-type", JSON)], data(object)));
    if let Err(e) = result {
        return (r, Err(e));
    }
    assert!(plan.next_request(config, target, wall).unwrap().is_none(), "exactly one request");
    (r, plan.finish())
}

/// The first step of a public-URL plan: a plain GET of the storage on the client's own path.
/// (Its tier is checked in `public_url_fetch_uses_the_long_tier`.)
fn check_fetch(r: &ApiRequest, uri: &str) {
    assert_eq!((r.method.as_str(), r.uri.to_string().as_str()), ("GET", uri));
    let headers = r.all_headers();
    assert_eq!(headers["authorization"], "Bearer t");
    assert!(r.body.is_empty() && !headers.contains_key("content-type"));
    assert!(r.meta.idempotent);
}

// 1 767 225 600 000 ms is the spec's expiry vector; the wall clock sits one hour before it.
fn wall_one_hour_before_vector() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_767_225_600_000) - Duration::from_secs(3600)
}

#[test]
fn items_public_url_is_signed_with_the_spec_vectors() {
    let config = cfg();
    let signed = dataset_json(SIGNED_ID, Some(SECRET));
    let (r, url) = drive_url(ItemsPublicUrl::default().into_plan(), &config, &ds("me/ds"), None, 200, &signed);
    check_fetch(&r, &format!("{API}/datasets/me~ds"));
    assert_eq!(
        url.unwrap(),
        format!(
            "https://api.apify.com/v2/datasets/{SIGNED_ID}/items?format=json&signature=MC4wLjhkN2h4V2pNeTRZb00zZVZGTWQ2"
        )
    );

    let plan = ItemsPublicUrl::default()
        .format(ItemFormat::Csv)
        .limit(10u64)
        .clean(true)
        .expires_in(Duration::from_secs(3600))
        .into_plan();
    let (_, url) = drive_url(plan, &config, &ds("d1"), Some(wall_one_hour_before_vector()), 200, &signed);
    let sig = "MC4xNzY3MjI1NjAwMDAwLjFGbUVQWktBMjJpb3FobTBpelpnSA==";
    assert_eq!(
        url.unwrap(),
        format!(
            "https://api.apify.com/v2/datasets/{SIGNED_ID}/items?format=csv&limit=10&clean=true\
             &signature=MC4xNzY3MjI1NjAwMDAwLjFGbUVQWktBMjJpb3FobTBpelpnSA%3D%3D"
        )
    );
    let inner = base64::engine::general_purpose::URL_SAFE.decode(sig).unwrap();
    assert_eq!(inner, b"0.1767225600000.1FmEPZKA22ioqhm0izZgH");

    // No secret: no signature.
    let (_, url) =
        drive_url(ItemsPublicUrl::default().into_plan(), &config, &ds("d1"), None, 200, &dataset_json("abc", None));
    assert_eq!(url.unwrap(), "https://api.apify.com/v2/datasets/abc/items?format=json");

    // An expiry needs a wall clock.
    let mut plan = ItemsPublicUrl::default().expires_in(Duration::from_secs(1)).into_plan();
    assert_invalid_argument(plan.next_request(&config, &ds("d1"), None), "expiry without a clock");
}

#[test]
fn public_urls_use_the_public_base_and_the_fetched_id() {
    // Chained client and a private API URL: the URL still names the real storage (pitfall 1).
    let config = Config::new()
        .with_token("t")
        .with_api_url("http://127.0.0.1:8080")
        .unwrap()
        .with_api_public_url("https://public.example/")
        .unwrap();
    let (r, url) = drive_url(
        ItemsPublicUrl::default().into_plan(),
        &config,
        &run_child("dataset"),
        None,
        200,
        &dataset_json("abc", None),
    );
    assert_eq!(r.uri, "http://127.0.0.1:8080/v2/actor-runs/r1/dataset");
    assert_eq!(url.unwrap(), "https://public.example/v2/datasets/abc/items?format=json");

    let (r, url) = drive_url(
        KeysPublicUrl::default().into_plan(),
        &config,
        &run_child("key-value-store"),
        None,
        200,
        &kvs_json("s9", None),
    );
    assert_eq!(
        (r.method.as_str(), r.uri.to_string()),
        ("GET", "http://127.0.0.1:8080/v2/actor-runs/r1/key-value-store".into())
    );
    assert_eq!(url.unwrap(), "https://public.example/v2/key-value-stores/s9/keys");

    // A 404 on the chained GET is an error; on an ID client the storage is missing: also an error.
    let (_, url) =
        drive_url(ItemsPublicUrl::default().into_plan(), &config, &run_child("dataset"), None, 404, &json!({}));
    assert!(url.unwrap_err().is_not_found());
    let (_, url) =
        drive_url(RecordPublicUrl { key: "k".into() }.into_plan(), &config, &kvs("s1"), None, 404, &json!({}));
    assert!(url.is_err());
}

#[test]
fn keys_and_record_public_urls_are_signed() {
    let config = cfg();
    let store = kvs_json(SIGNED_ID, Some(SECRET));
    let (r, url) = drive_url(KeysPublicUrl::default().into_plan(), &config, &kvs("s1"), None, 200, &store);
    check_fetch(&r, &format!("{API}/key-value-stores/s1"));
    assert_eq!(
        url.unwrap(),
        format!(
            "https://api.apify.com/v2/key-value-stores/{SIGNED_ID}/keys?signature=MC4wLjhkN2h4V2pNeTRZb00zZVZGTWQ2"
        )
    );
    let plan = KeysPublicUrl::default()
        .limit(10u64)
        .exclusive_start_key("a b")
        .collection("c")
        .prefix("p/")
        .expires_in(Duration::from_secs(3600))
        .into_plan();
    let (_, url) = drive_url(plan, &config, &kvs("s1"), Some(wall_one_hour_before_vector()), 200, &store);
    assert_eq!(
        url.unwrap(),
        format!(
            "https://api.apify.com/v2/key-value-stores/{SIGNED_ID}/keys?limit=10&exclusiveStartKey=a+b&collection=c\
             &prefix=p%2F&signature=MC4xNzY3MjI1NjAwMDAwLjFGbUVQWktBMjJpb3FobTBpelpnSA%3D%3D"
        )
    );

    // Records: HMAC of the raw key (vector: INPUT → axYJbfgtUqeEbWRXKnXT), no expiry.
    let (_, url) =
        drive_url(RecordPublicUrl { key: "INPUT".into() }.into_plan(), &config, &kvs("s1"), None, 200, &store);
    assert_eq!(
        url.unwrap(),
        format!("https://api.apify.com/v2/key-value-stores/{SIGNED_ID}/records/INPUT?signature=axYJbfgtUqeEbWRXKnXT")
    );
    let (_, url) =
        drive_url(RecordPublicUrl { key: "a/b c".into() }.into_plan(), &config, &kvs("s1"), None, 200, &store);
    let raw_sig = apify_core::signing::hmac_signature(SECRET, "a/b c");
    assert_ne!(raw_sig, apify_core::signing::hmac_signature(SECRET, "a%2Fb%20c"));
    assert_eq!(
        url.unwrap(),
        format!("https://api.apify.com/v2/key-value-stores/{SIGNED_ID}/records/a%2Fb%20c?signature={raw_sig}")
    );
    let (_, url) = drive_url(
        RecordPublicUrl { key: "k".into() }.into_plan(),
        &config,
        &kvs("s1"),
        None,
        200,
        &kvs_json("plain", None),
    );
    assert_eq!(url.unwrap(), "https://api.apify.com/v2/key-value-stores/plain/records/k");
    // `..` never yields a URL (whether it is refused before the GET is checked below).
    let mut plan = RecordPublicUrl { key: "..".into() }.into_plan();
    let refused = match plan.next_request(&config, &kvs("s1"), None) {
        Err(e) => Err(e),
        Ok(r) => {
            let r = r.expect("a GET when not refused up front");
            plan.on_response(respond(&r, 200, &[], data(&store))).and_then(|()| plan.finish())
        }
    };
    assert_invalid_argument(refused, "record URL of `..`");
}

// ---------------------------------------------------------------------------------------
// Iteration: the request of each page (client-behaviour §9)
// ---------------------------------------------------------------------------------------

#[test]
fn iteration_page_requests() {
    // Dataset items: chunk 1000 by default; the offset advances by rows scanned.
    let op = ListItems::new().clean(true);
    let mut state = op.start(None);
    let first = op.next_page(&mut state).unwrap();
    golden(
        Method::GET,
        &format!("{API}/datasets/d1/items?offset=0&limit=1000&clean=true"),
        Long,
        "DatasetClient.list_items",
        true,
    )
    .check(&req(first, &ds("d1")));
    let headers = [
        ("x-apify-pagination-total", "5000"),
        ("x-apify-pagination-offset", "0"),
        ("x-apify-pagination-limit", "1000"),
        ("x-apify-pagination-count", "1000"),
        ("x-apify-pagination-desc", "false"),
    ];
    let page = decode(build(ListItems::new(), &ds("d1")), 200, &headers, "[{},{}]").unwrap();
    assert_eq!(ListItems::on_page(&mut state, page).len(), 2);
    let second = op.next_page(&mut state).unwrap();
    assert_eq!(
        req(second, &ds("d1")).uri,
        "https://api.apify.com/v2/datasets/d1/items?offset=1000&limit=1000&clean=true"
    );

    // Collections: without chunk size or limit, no `limit` at all (the Python client sends limit=0).
    let op = ListStorages::<Datasets>::default();
    let mut state = op.start(None);
    golden(Method::GET, &format!("{API}/datasets?offset=0"), Medium, "DatasetCollectionClient.list", true)
        .check(&req(op.next_page(&mut state).unwrap(), &ResourcePath::collection("datasets")));

    // KVS keys: exclusiveStartKey from nextExclusiveStartKey.
    let op = ListKeys::new().limit(1500u64);
    let mut state = op.start(Some(700));
    let first = req(op.next_page(&mut state).unwrap(), &kvs("s1"));
    assert_eq!(first.uri, "https://api.apify.com/v2/key-value-stores/s1/keys?limit=700");
    let body = data(&json!({
        "items": [{"key": "k0699", "size": 1}],
        "count": 700, "limit": 700, "isTruncated": true, "nextExclusiveStartKey": "k 699"
    }));
    let page = decode(build(ListKeys::new(), &kvs("s1")), 200, &[], body).unwrap();
    ListKeys::on_page(&mut state, page);
    let second = req(op.next_page(&mut state).unwrap(), &kvs("s1"));
    assert_eq!(second.uri, "https://api.apify.com/v2/key-value-stores/s1/keys?limit=700&exclusiveStartKey=k+699");

    // Requests: cursor from nextCursor, clientKey on every page.
    let op = ListRequests::new();
    let mut state = op.start(None);
    let first = req(op.next_page(&mut state).unwrap(), &rq_ck("q1"));
    assert_eq!(first.uri, "https://api.apify.com/v2/request-queues/q1/requests?limit=1000&clientKey=ck");
    let body = data(
        &json!({"items": [{"id": "a", "uniqueKey": "u", "url": "https://e.com"}], "limit": 1000, "nextCursor": "c/2"}),
    );
    let page = decode(build(ListRequests::new(), &rq_ck("q1")), 200, &[], body).unwrap();
    ListRequests::on_page(&mut state, page);
    let second = req(op.next_page(&mut state).unwrap(), &rq_ck("q1"));
    assert_eq!(second.uri, "https://api.apify.com/v2/request-queues/q1/requests?limit=1000&cursor=c%2F2&clientKey=ck");
}

// ---------------------------------------------------------------------------------------
// Tiers and checks the first version got wrong (client-behaviour §5, §10.2).
// ---------------------------------------------------------------------------------------

/// client-behaviour §10.2: `create_items_public_url`, `create_keys_public_url` and
/// `get_record_public_url` are `long`, although their GET is the storage's `get()`.
#[test]
fn public_url_fetch_uses_the_long_tier() {
    let config = cfg();
    let r = ItemsPublicUrl::default().into_plan().next_request(&config, &ds("d1"), None).unwrap().unwrap();
    assert_eq!(r.timeout, Timeout::Tier(Long));
    let r = KeysPublicUrl::default().into_plan().next_request(&config, &kvs("s1"), None).unwrap().unwrap();
    assert_eq!(r.timeout, Timeout::Tier(Long));
    let r = RecordPublicUrl { key: "k".into() }.into_plan().next_request(&config, &kvs("s1"), None).unwrap().unwrap();
    assert_eq!(r.timeout, Timeout::Tier(Long));
}

/// client-behaviour §10.2: `iterate_keys` is `long` while `list_keys` is `medium`.
#[test]
fn iterate_keys_pages_use_the_long_tier() {
    let op = ListKeys::new();
    let mut state = op.start(None);
    let page = op.next_page(&mut state).unwrap();
    assert_eq!(req(page, &kvs("s1")).timeout, Timeout::Tier(Long));
}

/// client-behaviour §5.3: `..` is refused before any I/O, even in the record-URL plan,
/// whose first request is a GET of the store.
#[test]
fn record_public_url_refuses_unsafe_keys_before_the_fetch() {
    for bad in ["", ".", ".."] {
        let mut plan = RecordPublicUrl { key: bad.into() }.into_plan();
        assert_invalid_argument(plan.next_request(&cfg(), &kvs("s1"), None), bad);
    }
}
