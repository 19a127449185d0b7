//! Self-tests of the scripted fake server, driven by clients that are not part of the
//! product: `ureq` for ordinary exchanges, a handwritten request over `TcpStream` where the
//! exact bytes (or the exact way the connection dies) matter, and hyper's bare HTTP/2
//! connection for h2c.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpStream};
use std::time::{Duration, Instant};

use apify_tests::server::{RecordedRequest, Reply, ScriptedServer};
use bytes::Bytes;
use http::{Method, Version};
use serde_json::json;

/// A fresh agent per test: no pooled connection can leak between scripted faults.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent()
}

fn get(agent: &ureq::Agent, url: &str) -> http::Response<ureq::Body> {
    agent.get(url).call().expect("request failed")
}

fn body_of(mut response: http::Response<ureq::Body>) -> Vec<u8> {
    response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_vec().expect("reading the body failed")
}

fn header<'a>(response: &'a http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// Sends `request` verbatim, then reads until EOF or error. Returns the bytes read and how
/// reading ended (`Ok` for a clean EOF).
fn raw_exchange(server: &ScriptedServer, request: &str) -> (Vec<u8>, io::Result<()>) {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (received, Ok(())),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (received, Err(e)),
        }
    }
}

/// Splits a raw HTTP/1.1 response into lowercase head text and body bytes.
fn split_head(raw: &[u8]) -> (String, &[u8]) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no complete response head");
    (String::from_utf8(raw[..end].to_vec()).unwrap().to_ascii_lowercase(), &raw[end + 4..])
}

#[test]
fn binds_only_loopback_with_free_port() {
    let server = ScriptedServer::start();
    let other = ScriptedServer::start();
    assert_eq!(server.addr().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_ne!(server.addr().port(), 0);
    assert_ne!(server.addr().port(), other.addr().port());
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{}", server.addr().port()));
    assert_eq!(server.url("/v2/acts"), format!("{}/v2/acts", server.base_url()));
}

#[test]
fn enqueued_replies_are_served_in_order_then_default_fallback() {
    let server = ScriptedServer::start();
    server
        .enqueue(Reply::status(503))
        .enqueue(Reply::text(201, "second"))
        .enqueue(Reply::json(200, json!({"data": {"n": 3}})));
    assert_eq!(server.queued(), 3);
    let agent = agent();

    let first = get(&agent, &server.url("/a"));
    assert_eq!(first.status(), 503);
    assert_eq!(header(&first, "content-length"), Some("0"));

    let second = get(&agent, &server.url("/b"));
    assert_eq!(second.status(), 201);
    assert_eq!(header(&second, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(body_of(second), b"second");

    let third = get(&agent, &server.url("/c"));
    assert_eq!(header(&third, "content-type"), Some("application/json; charset=utf-8"));
    let value: serde_json::Value = serde_json::from_slice(&body_of(third)).unwrap();
    assert_eq!(value, json!({"data": {"n": 3}}));
    assert_eq!(server.queued(), 0);

    let unscripted = get(&agent, &server.url("/d?x=1"));
    assert_eq!(unscripted.status(), 500);
    let value: serde_json::Value = serde_json::from_slice(&body_of(unscripted)).unwrap();
    assert_eq!(value["error"]["type"], "test-server-unscripted");
    assert!(value["error"]["message"].as_str().unwrap().contains("GET /d?x=1"), "{value}");

    let paths: Vec<String> = server.requests().iter().map(|r| r.uri.to_string()).collect();
    assert_eq!(paths, ["/a", "/b", "/c", "/d?x=1"]);
}

#[test]
fn custom_fallback_sees_the_request() {
    let server = ScriptedServer::start();
    server.set_fallback(|req: &RecordedRequest| Reply::text(404, &format!("nothing at {}", req.path())));
    server.enqueue(Reply::status(200));
    let agent = agent();
    assert_eq!(get(&agent, &server.url("/first")).status(), 200);
    for _ in 0..2 {
        let response = get(&agent, &server.url("/missing"));
        assert_eq!(response.status(), 404);
        assert_eq!(body_of(response), b"nothing at /missing");
    }
}

#[test]
fn routes_take_precedence_over_the_queue() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::text(200, "queued"));
    server
        .route(Method::GET, "/v2/datasets/abc/items", |req| {
            let offset: u64 = req.query_param("offset").unwrap().parse().unwrap();
            let items: Vec<_> = (offset..offset + 2).map(|i| json!({"i": i})).collect();
            Reply::items_page(&items, offset, 2, 10, false)
        })
        .route(Method::GET, "/v2/key-value-stores/*", |req| Reply::text(200, &format!("prefix {}", req.path())));
    let agent = agent();

    let page = get(&agent, &server.url("/v2/datasets/abc/items?offset=4&limit=2"));
    assert_eq!(header(&page, "x-apify-pagination-offset"), Some("4"));
    assert_eq!(header(&page, "x-apify-pagination-limit"), Some("2"));
    assert_eq!(header(&page, "x-apify-pagination-count"), Some("2"));
    assert_eq!(header(&page, "x-apify-pagination-total"), Some("10"));
    assert_eq!(header(&page, "x-apify-pagination-desc"), Some("false"));
    let items: serde_json::Value = serde_json::from_slice(&body_of(page)).unwrap();
    assert_eq!(items, json!([{"i": 4}, {"i": 5}]));

    let prefixed = get(&agent, &server.url("/v2/key-value-stores/s1/records/k"));
    assert_eq!(body_of(prefixed), b"prefix /v2/key-value-stores/s1/records/k");

    // Exact routes don't match longer paths, and the method must match too.
    let response = agent.post(&server.url("/v2/datasets/abc/items")).send_empty().unwrap();
    assert_eq!(body_of(response), b"queued");
    assert_eq!(get(&agent, &server.url("/v2/datasets/abc/items/x")).status(), 500);
    assert_eq!(server.request_count(), 4);
}

#[test]
fn records_method_uri_headers_body_and_query() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(201));
    let before = Instant::now();
    let response = agent()
        .put(&server.url("/v2/acts/a%2Fb?token=t&name=hello%20world&q=a+b&empty=&flag"))
        .header("x-custom", "one")
        .header("content-type", "application/json")
        .send(br#"{"k":1}"#.as_slice())
        .unwrap();
    assert_eq!(response.status(), 201);

    let requests = server.take_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(server.request_count(), 0, "take_requests forgets");
    let req = &requests[0];
    assert_eq!(req.method, Method::PUT);
    assert_eq!(req.version, Version::HTTP_11);
    assert_eq!(req.path(), "/v2/acts/a%2Fb");
    assert_eq!(req.query(), Some("token=t&name=hello%20world&q=a+b&empty=&flag"));
    assert_eq!(
        req.query_pairs(),
        [("token", "t"), ("name", "hello world"), ("q", "a b"), ("empty", ""), ("flag", "")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(req.query_param("name").as_deref(), Some("hello world"));
    assert_eq!(req.header("x-custom"), Some("one"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body, Bytes::from_static(br#"{"k":1}"#));
    assert_eq!(req.json(), json!({"k": 1}));
    assert!(req.at >= before && req.at <= Instant::now());
}

#[test]
fn decoded_body_gunzips_a_gzip_request() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(200));
    let payload = serde_json::to_vec(&json!([{"a": 1}, {"b": "two"}])).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&payload).unwrap();
    let compressed = encoder.finish().unwrap();

    agent().post(&server.url("/v2/datasets/d/items")).header("content-encoding", "gzip").send(&compressed[..]).unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.body, compressed, "body is recorded raw");
    assert_eq!(req.decoded_body(), payload);
    assert_eq!(req.json(), json!([{"a": 1}, {"b": "two"}]));
}

#[test]
fn gzip_and_brotli_replies_decode() {
    let server = ScriptedServer::start();
    let value = json!({"data": {"text": "x".repeat(10_000)}});
    server.enqueue(Reply::json(200, value.clone()).gzip());
    server.enqueue(Reply::json(200, value.clone()).brotli());
    let agent = agent();

    let response = get(&agent, &server.url("/gz"));
    assert_eq!(header(&response, "content-encoding"), Some("gzip"));
    let length: usize = header(&response, "content-length").unwrap().parse().unwrap();
    let raw = body_of(response);
    assert_eq!(raw.len(), length);
    assert!(raw.len() < 1_000, "compressed: {} bytes", raw.len());
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&gunzip(&raw)).unwrap(), value);

    let response = get(&agent, &server.url("/br"));
    assert_eq!(header(&response, "content-encoding"), Some("br"));
    let raw = body_of(response);
    let mut decoded = Vec::new();
    brotli::Decompressor::new(&raw[..], 4096).read_to_end(&mut decoded).unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(), value);
}

#[test]
fn delay_stalls_the_head_without_blocking_other_connections() {
    let server = ScriptedServer::start();
    let delay = Duration::from_millis(1000);
    server.route(Method::GET, "/slow", move |_| Reply::text(200, "late").delay(delay));
    server.route(Method::GET, "/fast", |_| Reply::text(200, "quick"));

    let slow_url = server.url("/slow");
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let response = get(&agent(), &slow_url);
        (started.elapsed(), body_of(response))
    });
    // While /slow is stalled, another connection is served promptly.
    while server.request_count() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    assert_eq!(body_of(get(&agent(), &server.url("/fast"))), b"quick");
    let fast_elapsed = started.elapsed();

    let (slow_elapsed, body) = slow.join().unwrap();
    assert_eq!(body, b"late");
    assert!(slow_elapsed >= delay, "slow took {slow_elapsed:?}");
    assert!(slow_elapsed < delay * 10, "slow took {slow_elapsed:?}");
    assert!(fast_elapsed < delay / 2, "fast took {fast_elapsed:?}");
}

#[test]
fn drip_sends_the_head_at_once_and_the_body_slowly() {
    let server = ScriptedServer::start();
    let interval = Duration::from_millis(200);
    server.enqueue(Reply::text(200, "0123456789").drip(3, interval));

    let started = Instant::now();
    let response = get(&agent(), &server.url("/drip"));
    let head_elapsed = started.elapsed();
    assert_eq!(header(&response, "content-length"), Some("10"));
    let body = body_of(response);
    let body_elapsed = started.elapsed();

    assert_eq!(body, b"0123456789");
    assert!(head_elapsed < interval, "head took {head_elapsed:?}");
    // Four chunks (3+3+3+1), each preceded by one interval.
    assert!(body_elapsed >= interval * 4, "body took {body_elapsed:?}");
}

#[test]
fn drip_arrives_in_separate_small_reads() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::bytes(200, vec![b'x'; 12]).drip(4, Duration::from_millis(60)));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(b"GET /d HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").unwrap();
    let mut reads = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        reads.push(buf[..n].to_vec());
    }
    let all: Vec<u8> = reads.concat();
    let (head, body) = split_head(&all);
    assert!(head.contains("content-length: 12"), "{head}");
    assert_eq!(body, vec![b'x'; 12]);
    // The body cannot have come in a single read with the head.
    assert!(reads.len() >= 3, "{} reads", reads.len());
}

#[test]
fn reset_before_head_resets_the_connection() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, json!({})).reset_before_head());
    let (received, ended) = raw_exchange(&server, "GET /r HTTP/1.1\r\nhost: t\r\n\r\n");
    assert!(received.is_empty(), "got {:?}", String::from_utf8_lossy(&received));
    let error = ended.expect_err("connection should be reset, not closed cleanly");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error}");
    assert_eq!(server.request_count(), 1, "the request is still recorded");

    // A real client sees an error too, and the server keeps serving afterwards.
    server.enqueue(Reply::status(200).reset_before_head());
    server.enqueue(Reply::text(200, "after"));
    let agent = agent();
    let result = agent.get(&server.url("/r2")).call();
    assert!(result.is_err(), "ureq got {result:?}");
    assert_eq!(body_of(get(&agent, &server.url("/r3"))), b"after");
}

#[test]
fn delay_then_reset() {
    let server = ScriptedServer::start();
    let delay = Duration::from_millis(200);
    server.enqueue(Reply::status(200).delay(delay).reset_before_head());
    let started = Instant::now();
    let (received, ended) = raw_exchange(&server, "GET /r HTTP/1.1\r\nhost: t\r\n\r\n");
    assert!(started.elapsed() >= delay);
    assert!(received.is_empty());
    assert_eq!(ended.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn truncate_after_sends_a_short_body_then_closes() {
    let server = ScriptedServer::start();
    let body: Vec<u8> = (0..100u8).collect();
    server.enqueue(Reply::bytes(200, body.clone()).truncate_after(10));
    let (received, ended) = raw_exchange(&server, "GET /t HTTP/1.1\r\nhost: t\r\n\r\n");
    ended.expect("a clean close (FIN) after the partial body");
    let (head, partial) = split_head(&received);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 100"), "{head}");
    assert_eq!(partial, &body[..10]);

    // ureq sees an error while reading the body.
    server.enqueue(Reply::bytes(200, body).truncate_after(10));
    let mut response = get(&agent(), &server.url("/t2"));
    let result = response.body_mut().read_to_vec();
    assert!(result.is_err(), "ureq got {result:?}");
}

#[test]
fn truncate_after_large_prefix_reaches_a_slow_reader_whole() {
    let server = ScriptedServer::start();
    let body: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let cut = 3_000_000;
    server.enqueue(Reply::bytes(200, body.clone()).truncate_after(cut));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(b"GET /t HTTP/1.1\r\nhost: t\r\n\r\n").unwrap();
    // Let the socket buffers fill so the server has unflushed bytes when it wants to cut.
    std::thread::sleep(Duration::from_millis(300));
    let mut received = Vec::new();
    stream.read_to_end(&mut received).expect("clean close");
    let (head, partial) = split_head(&received);
    assert!(head.contains("content-length: 4000000"), "{head}");
    assert_eq!(partial.len(), cut);
    assert!(partial == &body[..cut]);
}

#[test]
fn truncate_after_zero_sends_only_the_head() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::text(200, "never seen").truncate_after(0));
    let (received, ended) = raw_exchange(&server, "GET /t HTTP/1.1\r\nhost: t\r\n\r\n");
    ended.unwrap();
    let (head, partial) = split_head(&received);
    assert!(head.contains("content-length: 10"), "{head}");
    assert!(partial.is_empty());
}

#[test]
fn truncate_after_with_drip_and_gzip_counts_wire_bytes() {
    let server = ScriptedServer::start();
    let text = "abcdefghij".repeat(1_000);
    server.enqueue(Reply::text(200, &text).gzip().drip(7, Duration::from_millis(1)).truncate_after(20));
    let (received, ended) = raw_exchange(&server, "GET /t HTTP/1.1\r\nhost: t\r\n\r\n");
    ended.unwrap();
    let (head, partial) = split_head(&received);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(partial.len(), 20);
    assert_eq!(&partial[..2], &[0x1f, 0x8b], "gzip magic");
}

#[test]
fn truncate_after_beyond_the_body_is_a_normal_reply() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::text(200, "short").truncate_after(5));
    server.enqueue(
        Reply::status(200).streamed(|| [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]).truncate_after(4),
    );
    let agent = agent();
    assert_eq!(body_of(get(&agent, &server.url("/a"))), b"short");
    assert_eq!(body_of(get(&agent, &server.url("/b"))), b"abcd");
}

#[test]
fn truncated_stream_has_no_final_chunk() {
    let server = ScriptedServer::start();
    server.enqueue(
        Reply::status(200).streamed(|| (0..100).map(|_| Bytes::from_static(b"0123456789"))).truncate_after(25),
    );
    let (received, ended) = raw_exchange(&server, "GET /s HTTP/1.1\r\nhost: t\r\n\r\n");
    ended.unwrap();
    let (head, body) = split_head(&received);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let text = String::from_utf8_lossy(body);
    assert!(!text.ends_with("0\r\n\r\n"), "{text:?}");
    let payload: String = text.split("\r\n").enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, s)| s).collect();
    assert_eq!(payload, "0123456789012345678901234");

    server.enqueue(
        Reply::status(200).streamed(|| (0..100).map(|_| Bytes::from_static(b"0123456789"))).truncate_after(25),
    );
    let mut response = get(&agent(), &server.url("/s2"));
    let result = response.body_mut().read_to_vec();
    assert!(result.is_err(), "ureq got {result:?}");
}

/// Deterministic ~5 MB JSON array, generated chunk by chunk.
fn big_array_chunks() -> impl Iterator<Item = Bytes> + Send {
    let items = (0..60_000u32).map(|i| {
        let separator = if i == 0 { "" } else { "," };
        Bytes::from(format!("{separator}{{\"id\":{i},\"name\":\"item-{i:08}\",\"pad\":\"{}\"}}", "p".repeat(48)))
    });
    std::iter::once(Bytes::from_static(b"[")).chain(items).chain(std::iter::once(Bytes::from_static(b"]")))
}

#[test]
fn streamed_generator_of_5mb_arrives_intact_and_chunked() {
    let server = ScriptedServer::start();
    let reply = Reply::status(200).header("content-type", "application/json").streamed(big_array_chunks);
    server.enqueue(reply.clone());
    server.enqueue(reply);
    let expected: Vec<u8> = big_array_chunks().flat_map(|b| b.to_vec()).collect();
    assert!(expected.len() > 5_000_000, "{} bytes", expected.len());

    let agent = agent();
    // The reply is Clone: both copies stream the whole body.
    for _ in 0..2 {
        let response = get(&agent, &server.url("/v2/datasets/big/items"));
        assert_eq!(header(&response, "transfer-encoding"), Some("chunked"));
        assert_eq!(header(&response, "content-length"), None);
        let body = body_of(response);
        assert_eq!(body.len(), expected.len());
        assert!(body == expected, "streamed body differs");
    }
    let parsed: serde_json::Value = serde_json::from_slice(&expected).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 60_000);
}

#[test]
fn streamed_gzip_is_compressed_incrementally() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(200).streamed(big_array_chunks).gzip());
    let response = get(&agent(), &server.url("/gz"));
    assert_eq!(header(&response, "content-encoding"), Some("gzip"));
    assert_eq!(header(&response, "transfer-encoding"), Some("chunked"));
    let raw = body_of(response);
    let expected: Vec<u8> = big_array_chunks().flat_map(|b| b.to_vec()).collect();
    assert!(raw.len() < expected.len() / 4);
    assert!(gunzip(&raw) == expected, "decompressed body differs");
}

#[test]
fn handler_panic_becomes_a_500() {
    let server = ScriptedServer::start();
    server.route(Method::GET, "/boom", |_| panic!("scripted panic"));
    let response = get(&agent(), &server.url("/boom"));
    assert_eq!(response.status(), 500);
    let value: serde_json::Value = serde_json::from_slice(&body_of(response)).unwrap();
    assert_eq!(value["error"]["type"], "test-server-handler-panicked");
    assert!(value["error"]["message"].as_str().unwrap().contains("scripted panic"));
}

#[test]
fn server_stops_on_drop() {
    let server = ScriptedServer::start();
    let addr = server.addr();
    server.enqueue(Reply::text(200, "alive"));

    // An idle keep-alive connection that is open when the server goes away.
    let mut open = TcpStream::connect(addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    open.write_all(b"GET /k HTTP/1.1\r\nhost: t\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = open.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("alive"));

    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(5));

    // The open connection was closed...
    match open.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {n} bytes after drop"),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
    }
    let _ = open.shutdown(Shutdown::Both);
    // ...and nobody accepts new ones.
    let error = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
}

#[test]
fn works_inside_an_async_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // Starting and dropping from async code must not trip tokio's nested-runtime checks.
        let server = ScriptedServer::start();
        server.enqueue(Reply::text(200, "ok"));
        let url = server.url("/async");
        let body = tokio::task::spawn_blocking(move || body_of(get(&agent(), &url))).await.unwrap();
        assert_eq!(body, b"ok");
        drop(server);
    });
}

#[test]
fn serves_http2_prior_knowledge() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, json!({"h2": true})).gzip());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let request = http::Request::get(server.url("/h2?x=1")).body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), Version::HTTP_2);
        let raw = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&gunzip(&raw)).unwrap();
        assert_eq!(value, json!({"h2": true}));

        // Over HTTP/2 a reset fails only its stream; the connection keeps working.
        server.enqueue(Reply::status(200).reset_before_head());
        server.enqueue(Reply::text(200, "still here"));
        let request = http::Request::get(server.url("/reset")).body(Empty::<Bytes>::new()).unwrap();
        let result = sender.send_request(request).await;
        assert!(result.is_err(), "got {result:?}");
        let request = http::Request::get(server.url("/after")).body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let raw = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(raw, "still here");
    });
    let req = &server.requests()[0];
    assert_eq!(req.version, Version::HTTP_2);
    assert_eq!(req.uri, "/h2?x=1");
}
