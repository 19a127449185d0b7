//! The tokio + hyper driver against a scripted server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apify_hyper::apify_core::client::ApifyClient as GenericClient;
use apify_hyper::apify_core::error::TransportErrorKind;
use apify_hyper::{ApifyClient, Config, Error, HyperClient, TimeoutTier, Timeouts, models::Request};
use apify_tests::{RecordedRequest, Reply, ScriptedServer};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

const TOKEN: &str = "test-token-5ecr3t";

fn client(server: &ScriptedServer, config: impl FnOnce(Config) -> Config) -> ApifyClient {
    let cfg = config(Config::new().with_token(TOKEN).with_api_url(&server.base_url()).unwrap());
    GenericClient::with_custom_http_client(cfg, HyperClient::new())
}

fn fast(cfg: Config) -> Config {
    cfg.with_min_delay_between_retries(Duration::from_millis(50))
}

fn gap(reqs: &[RecordedRequest], i: usize) -> Duration {
    reqs[i + 1].at - reqs[i].at
}

fn dataset_json(id: &str) -> Value {
    json!({"id": id, "name": null, "userId": "u1", "createdAt": "2024-01-02T03:04:05.000Z",
           "modifiedAt": "2024-01-02T03:04:05.000Z", "accessedAt": "2024-01-02T03:04:05.000Z",
           "itemCount": 2, "cleanItemCount": 2, "consoleUrl": "https://console.apify.com/x"})
}

#[tokio::test]
async fn list_items_sends_the_documented_request_and_reads_pagination_headers() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::items_page(&[json!({"a": 1}), json!({"a": 2})], 10, 2, 57, true));
    let c = client(&server, |c| c);
    let page =
        c.dataset("me/my ds").list_items().offset(10u64).limit(2u64).desc(true).fields(["a", "b"]).await.unwrap();
    assert_eq!(page.items, [json!({"a": 1}), json!({"a": 2})]);
    assert_eq!((page.offset, page.limit, page.count, page.total, page.desc), (10, 2, 2, 57, true));

    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.path(), "/v2/datasets/me~my%20ds/items");
    assert_eq!(req.query(), Some("offset=10&limit=2&desc=true&fields=a%2Cb"));
    assert_eq!(req.header("authorization"), Some("Bearer test-token-5ecr3t"));
    assert_eq!(req.header("accept"), Some("application/json, */*"));
    assert!(req.header("user-agent").unwrap().starts_with("ApifyClient/"), "{:?}", req.header("user-agent"));
    assert!(req.header("accept-encoding").unwrap().contains("gzip"));
}

#[tokio::test]
async fn large_bodies_are_gzipped_and_compressed_responses_decoded() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(201, json!({})));
    server.enqueue(Reply::json(200, json!({"data": dataset_json("ds1")})).gzip());
    server.enqueue(Reply::items_page(&[json!({"big": "x".repeat(5000)})], 0, 1, 1, false).brotli());
    let c = client(&server, |c| c);
    let items: Vec<Value> = (0..50).map(|i| json!({"i": i, "text": "lorem ipsum dolor"})).collect();
    c.dataset("ds1").push_items(&items).await.unwrap();
    let ds = c.dataset("ds1").get().await.unwrap().unwrap();
    assert_eq!(ds.id, "ds1");
    let page = c.dataset("ds1").list_items().await.unwrap();
    assert_eq!(page.items[0]["big"].as_str().unwrap().len(), 5000);

    let push = &server.requests()[0];
    assert_eq!(push.header("content-encoding"), Some("gzip"));
    assert_eq!(push.header("content-type"), Some("application/json; charset=utf-8"));
    assert!(push.body.len() < 400, "compressed to {} bytes", push.body.len());
    assert_eq!(serde_json::from_slice::<Vec<Value>>(&push.decoded_body()).unwrap(), items);
    // Small bodies stay as they are.
    server.enqueue(Reply::json(201, json!({})));
    c.dataset("ds1").push_item(&json!({"a": 1})).await.unwrap();
    let small = server.requests().pop().unwrap();
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(&small.body[..], br#"{"a":1}"#);
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let server = ScriptedServer::start();
    server.enqueue(
        Reply::json(429, json!({"error": {"type": "rate-limit-exceeded", "message": "slow down"}}))
            .header("retry-after", "1"),
    );
    server.enqueue(Reply::json(200, json!({"data": dataset_json("d")})));
    let c = client(&server, fast);
    let ds = c.dataset("d").get().await.unwrap();
    assert!(ds.is_some());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let g = gap(&reqs, 0);
    assert!(g >= Duration::from_millis(990) && g < Duration::from_millis(2500), "waited {g:?}, Retry-After asked 1 s");
    let stats = c.stats();
    assert_eq!((stats.calls, stats.requests, stats.retries), (1, 2, 1));
    assert_eq!(stats.rate_limit_errors, [1]);
}

#[tokio::test]
async fn retries_503_with_doubling_backoff_then_gives_the_last_error() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(503, json!({"error": {"type": "x", "message": "down"}})));
    let c = client(&server, |cfg| fast(cfg).with_max_retries(3));
    let err = c.dataset("d").get().await.unwrap_err();
    let api = err.api_error().expect("an API error");
    assert_eq!((api.status.as_u16(), api.attempt, api.message.as_str()), (503, 4, "down"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    // Waits are uniform in [d, 2d] with d = 50, 100, 200 ms.
    for (i, d) in [50u64, 100, 200].into_iter().enumerate() {
        let g = gap(&reqs, i);
        assert!(
            g >= Duration::from_millis(d) && g < Duration::from_millis(2 * d + 250),
            "gap {i}: {g:?} for d = {d} ms"
        );
    }
}

#[tokio::test]
async fn not_found_rules_and_typed_errors() {
    let server = ScriptedServer::start();
    let nf = || Reply::json(404, json!({"error": {"type": "record-not-found", "message": "Store was not found."}}));
    server.enqueue(nf()).enqueue(nf()).enqueue(nf()).enqueue(nf()).enqueue(Reply::status(204));
    let c = client(&server, |c| c);
    assert!(c.key_value_store("s").get().await.unwrap().is_none());
    assert!(c.key_value_store("s").get_record("k").await.unwrap().is_none());
    assert!(!c.key_value_store("s").record_exists("k").await.unwrap());
    let err = c.key_value_store("s").delete_record("k").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.api_error().unwrap().error_type.as_ref().unwrap().as_str(), "record-not-found");
    c.key_value_store("s").delete().await.unwrap();
    assert_eq!(server.request_count(), 5, "404s are not retried");
    // Refused before any I/O.
    let err = c.key_value_store("s").get_record("..").await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(server.request_count(), 5);
}

#[tokio::test]
async fn stalled_server_times_out_per_attempt_with_doubling() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, json!({"data": null})).delay(Duration::from_secs(3)));
    let timeouts = Timeouts { short: Duration::from_millis(300), ..Timeouts::default() };
    let c = client(&server, |cfg| fast(cfg).with_max_retries(1).with_timeouts(timeouts));
    let start = Instant::now();
    let err = c.dataset("d").get().await.unwrap_err();
    let took = start.elapsed();
    let t = err.transport_error().expect("transport error");
    assert_eq!(t.kind(), TransportErrorKind::Timeout);
    assert_eq!(err.attempts(), Some(2));
    // 300 ms + wait (50..100 ms) + 600 ms.
    assert!(took >= Duration::from_millis(900) && took < Duration::from_millis(2000), "{took:?}");
    // A per-call override wins.
    server.set_fallback(|_| Reply::json(200, json!({"data": dataset_json("d")})).delay(Duration::from_millis(400)));
    let ds = c.dataset("d").get().timeout(Duration::from_secs(2)).await.unwrap();
    assert!(ds.is_some());
    let _ = TimeoutTier::Short;
}

#[tokio::test]
async fn resets_and_truncated_bodies_are_retried() {
    let server = ScriptedServer::start();
    let ok = Reply::json(200, json!({"data": dataset_json("d")}));
    server.enqueue(Reply::json(200, json!({})).reset_before_head());
    server.enqueue(ok.clone().truncate_after(20));
    server.enqueue(ok);
    let c = client(&server, fast);
    let ds = c.dataset("d").get().await.unwrap().unwrap();
    assert_eq!(ds.id, "d");
    assert_eq!(server.request_count(), 3);
    assert_eq!(c.stats().retries, 2);
}

#[tokio::test]
async fn truncated_json_is_a_typed_error_not_retried() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::text(200, "{\"data\": {\"id\""));
    let c = client(&server, fast);
    let err = c.dataset("d").get().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponseBody { status: 200, .. }), "{err:?}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn stream_items_decodes_as_it_reads() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(200).header("content-type", "application/json").gzip().streamed(|| {
        let items = (1..20_000).map(|i| Bytes::from(format!(",{{\"i\":{i},\"s\":\"é ✓\"}}")));
        std::iter::once(Bytes::from_static(b"[{\"i\":0,\"s\":\"\xc3\xa9 \xe2\x9c\x93\"}"))
            .chain(items)
            .chain(std::iter::once(Bytes::from_static(b"]")))
    }));
    let c = client(&server, |c| c);
    let body = c.dataset("d").stream_items().limit(20_000u64).await.unwrap();
    assert_eq!(body.content_type(), Some("application/json"));
    let items: Vec<Value> = body.items::<Value>().try_collect().await.unwrap();
    assert_eq!(items.len(), 20_000);
    assert!(items.iter().enumerate().all(|(i, v)| v["i"] == i && v["s"] == "é ✓"));
    assert_eq!(server.requests()[0].query(), Some("format=json&limit=20000"));
}

#[tokio::test]
async fn stream_error_bodies_become_api_errors_and_missing_records_none() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(400, json!({"error": {"type": "invalid-parameter", "message": "bad limit"}})));
    server.enqueue(Reply::json(404, json!({"error": {"type": "record-not-found", "message": "no"}})));
    server.enqueue(
        Reply::bytes(200, vec![7u8; 100_000])
            .header("content-type", "application/octet-stream")
            .drip(16 * 1024, Duration::from_millis(5)),
    );
    let c = client(&server, |c| c);
    let err = c.dataset("d").stream_items().await.unwrap_err();
    assert_eq!(err.api_error().unwrap().message, "bad limit");
    assert!(c.key_value_store("s").stream_record("nope").await.unwrap().is_none());
    let rec = c.key_value_store("s").stream_record("blob").await.unwrap().unwrap();
    assert_eq!(rec.content_type.as_deref(), Some("application/octet-stream"));
    let mut n = 0;
    let mut chunks = rec.value;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.iter().all(|b| *b == 7));
        n += chunk.len();
    }
    assert_eq!(n, 100_000);
}

#[tokio::test]
async fn uploads_stream_chunked_in_one_attempt() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(201, json!({})));
    let c = client(&server, |c| c);
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..100).map(|i| Ok(Bytes::from(vec![i as u8; 10_000]))).collect();
    c.key_value_store("s")
        .upload_record("big.bin", "application/octet-stream", futures_util::stream::iter(chunks))
        .await
        .unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.path(), "/v2/key-value-stores/s/records/big.bin");
    assert_eq!(req.header("transfer-encoding"), Some("chunked"));
    assert_eq!(req.header("content-encoding"), None, "streams are never compressed");
    assert_eq!(req.body.len(), 1_000_000);
    assert!(req.body.chunks(10_000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)));

    // A failed upload is not retried: the stream is gone.
    server.set_fallback(|_| Reply::status(503));
    let one = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
    let err = c.key_value_store("s").upload_record("k", "text/plain", one).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn iterate_items_pages_to_the_end() {
    let server = ScriptedServer::start();
    server.route(http::Method::GET, "/v2/datasets/d/items", |req| {
        let offset: u64 = req.query_param("offset").unwrap().parse().unwrap();
        let limit: u64 = req.query_param("limit").unwrap().parse().unwrap();
        let items: Vec<Value> = (offset..(offset + limit).min(2500)).map(|i| json!({"i": i})).collect();
        Reply::items_page(&items, offset, limit, 2500, false)
    });
    let c = client(&server, |c| c);
    let items: Vec<Value> = c.dataset("d").iterate_items().try_collect().await.unwrap();
    assert_eq!(items.len(), 2500);
    assert!(items.iter().enumerate().all(|(i, v)| v["i"] == i));
    let offsets: Vec<_> = server.requests().iter().map(|r| r.query_param("offset").unwrap()).collect();
    assert_eq!(offsets, ["0", "1000", "2000", "2500"]);
    // An overall limit and a chunk size.
    server.take_requests();
    let some: Vec<Value> =
        c.dataset("d").iterate_items().offset(100u64).limit(1500u64).chunk_size(700).try_collect().await.unwrap();
    assert_eq!(some.len(), 1500);
    assert_eq!(some[0]["i"], 100);
    let q: Vec<_> = server.requests().iter().map(|r| r.query().unwrap().to_owned()).collect();
    assert_eq!(q, ["offset=100&limit=700", "offset=800&limit=700", "offset=1500&limit=100"]);
}

#[tokio::test]
async fn request_queue_calls_send_the_client_key_where_documented() {
    let server = ScriptedServer::start();
    server.set_fallback(|req| match req.path() {
        p if p.ends_with("/requests/batch") => Reply::json(201, json!({"data": {"processedRequests": [], "unprocessedRequests": [{"uniqueKey": "u", "url": "https://e.com"}]}})),
        p if p.ends_with("/head/lock") => Reply::json(201, json!({"data": {"limit": 5, "queueModifiedAt": "2024-01-01T00:00:00.000Z", "hadMultipleClients": false, "lockSecs": 60, "items": [{"id": "r1", "uniqueKey": "a", "url": "https://a", "lockExpiresAt": "2024-01-01T00:01:00.000Z"}]}})),
        _ => Reply::json(200, json!({"data": {"id": "r1", "uniqueKey": "a", "url": "https://a"}})),
    });
    let c = client(&server, |c| c);
    let rq = c.request_queue("q").with_client_key("worker-1");
    let head = rq.list_and_lock_head(Duration::from_secs(60)).limit(5u64).await.unwrap();
    assert_eq!(head.items[0].id, "r1");
    rq.get_request("r1").await.unwrap();
    let reqs: Vec<Request> = (0..30).map(|i| Request::new(format!("k{i}"), format!("https://e.com/{i}"))).collect();
    let res = rq.batch_add_requests(&reqs).forefront(true).await.unwrap();
    assert_eq!(res.unprocessed_requests.len(), 2, "merged over two batches");
    let sent = server.requests();
    assert_eq!(sent[0].uri, "/v2/request-queues/q/head/lock?lockSecs=60&limit=5&clientKey=worker-1");
    assert_eq!(sent[1].uri, "/v2/request-queues/q/requests/r1", "no clientKey on get_request");
    assert_eq!(sent[2].uri, "/v2/request-queues/q/requests/batch?forefront=true&clientKey=worker-1");
    assert_eq!(sent[2].json().as_array().unwrap().len(), 25);
    assert_eq!(sent[3].json().as_array().unwrap().len(), 5);
    let err = c.request_queue("q").with_client_key(&"x".repeat(33)).list_head().await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// Captures formatted log output of one thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_carry_call_fields_but_never_the_token() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(500));
    server.enqueue(Reply::json(200, json!({"data": dataset_json("d")})));
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let c = rt.block_on(async { client(&server, fast) });
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async { c.dataset("d").get().await.unwrap() });
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Sending request"), "{logs}");
    assert!(
        logs.contains("client_method=\"DatasetClient.get\"") || logs.contains("client_method=DatasetClient.get"),
        "{logs}"
    );
    assert!(logs.contains("resource_id=\"d\"") || logs.contains("resource_id=d"), "{logs}");
    assert!(logs.contains("attempt=2"), "{logs}");
    assert!(logs.contains("status_code=500"), "{logs}");
    assert!(logs.contains("Retrying request"), "{logs}");
    assert!(!logs.contains(TOKEN), "token leaked into logs");
    assert!(!format!("{c:?}").contains(TOKEN), "token leaked into Debug");
}

#[tokio::test]
async fn speaks_http2_with_prior_knowledge() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, json!({"data": dataset_json("d")})).gzip());
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let http2 = HyperClient::builder().http2_prior_knowledge(true).build().unwrap();
    let c: ApifyClient = GenericClient::with_custom_http_client(cfg, http2);
    assert_eq!(c.dataset("d").get().await.unwrap().unwrap().id, "d");
    assert_eq!(server.requests()[0].version, http::Version::HTTP_2);
}
