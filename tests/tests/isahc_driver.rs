//! What the conformance kit does not cover for isahc: HTTP/2, the same client used both
//! blocking and async, connection reuse and the request line of blocking calls (which run
//! curl's easy interface on the caller's thread), and the agent thread of async calls
//! (many transfers on one multi handle, cancelled calls).

use apify_core::client::ApifyClient;
use apify_core::config::Config;
use apify_isahc::IsahcClient;
use apify_tests::{Reply, ScriptedServer};
use serde_json::json;

fn dataset(id: &str) -> serde_json::Value {
    json!({"data": {"id": id, "name": null, "userId": "u1", "createdAt": "2024-01-02T03:04:05.000Z",
           "modifiedAt": "2024-01-02T03:04:05.000Z", "accessedAt": "2024-01-02T03:04:05.000Z",
           "itemCount": 2, "cleanItemCount": 2, "consoleUrl": "https://console.apify.com/x"}})
}

/// A client with default settings on the server.
fn client(server: &ScriptedServer) -> ApifyClient<IsahcClient> {
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    ApifyClient::with_custom_http_client(cfg, IsahcClient::new())
}

#[test]
fn speaks_http2_with_prior_knowledge() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, dataset("d")).gzip());
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let driver = IsahcClient::builder().http2_prior_knowledge(true).build().unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, driver);
    assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    // Async calls and streams, on the agent thread's multi handle, too.
    server.enqueue(Reply::json(200, dataset("e")).gzip());
    server.enqueue(Reply::bytes(200, &b"[1,2]"[..]));
    futures_lite::future::block_on(async {
        assert_eq!(c.dataset("e").get().await.unwrap().unwrap().id, "e");
        let mut stream = c.dataset("e").stream_items().await.unwrap();
        let chunk = futures_lite::StreamExt::next(&mut stream).await.unwrap().unwrap();
        assert_eq!(&chunk[..], b"[1,2]");
    });
    let versions: Vec<_> = server.requests().iter().map(|r| r.version).collect();
    assert_eq!(versions, [http::Version::HTTP_2; 3]);
}

#[test]
fn one_client_blocking_and_async() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset("d")));
    let c = client(&server);
    assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    let got = futures_lite::future::block_on(async { c.dataset("d").get().await });
    assert_eq!(got.unwrap().unwrap().id, "d");
    assert_eq!(server.request_count(), 2);
    assert_eq!(c.stats().calls, 2);
}

#[test]
fn blocking_calls_reuse_their_connection() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset("d")));
    let c = client(&server);
    for _ in 0..5 {
        assert_eq!(c.dataset("d").get().send().unwrap().unwrap().id, "d");
    }
    let peers: std::collections::HashSet<_> = server.requests().iter().map(|r| r.peer).collect();
    assert_eq!(server.request_count(), 5);
    assert_eq!(peers.len(), 1, "five calls from one thread should share one connection");

    // Another thread takes the idle handle (and its connection) instead of opening one.
    let c2 = c.clone();
    std::thread::spawn(move || c2.dataset("d").get().send().unwrap()).join().unwrap();
    let peers: std::collections::HashSet<_> = server.requests().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 1);
}

#[test]
fn blocking_request_lines_and_bodies() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, json!({"data": {}})));
    let cfg = Config::new().with_token("tok").with_api_url(&server.base_url()).unwrap();
    let c = ApifyClient::with_custom_http_client(cfg, IsahcClient::new());
    let store = c.key_value_store("s");
    store.set_record("k", json!({"a": 1})).send().unwrap();
    store.delete_record("k").send().unwrap();
    c.dataset("d").push_items(&[json!({"x": 1})]).send().unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let (put, del, post) = (&reqs[0], &reqs[1], &reqs[2]);
    assert_eq!((put.method.as_str(), put.path()), ("PUT", "/v2/key-value-stores/s/records/k"));
    assert_eq!(put.json(), json!({"a": 1}));
    assert_eq!(put.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(put.headers["content-length"], put.body.len().to_string().as_str());
    assert!(!put.headers.contains_key("expect"));
    assert_eq!(put.headers["authorization"], "Bearer tok");
    assert_eq!((del.method.as_str(), del.path()), ("DELETE", "/v2/key-value-stores/s/records/k"));
    assert!(del.body.is_empty());
    assert!(!del.headers.contains_key("content-type"), "curl must not add a form type");
    assert_eq!(post.method, "POST");
    assert_eq!(post.json(), json!([{"x": 1}]));
    for r in &reqs {
        assert!(r.headers["accept-encoding"].to_str().unwrap().contains("gzip"));
    }
}

/// Async calls share one curl multi handle on the client's agent thread: many at once must
/// each get their own response.
#[test]
fn concurrent_async_calls_each_get_their_own_response() {
    let server = ScriptedServer::start();
    server.set_fallback(|r| {
        let id = r.path().trim_start_matches("/v2/datasets/").to_owned();
        Reply::json(200, dataset(&id))
    });
    let c = client(&server);
    let ids: Vec<String> = (0..64).map(|i| format!("ds{i}")).collect();
    let got = futures_lite::future::block_on(futures_util::future::join_all(ids.iter().map(|id| {
        let c = &c;
        async move { c.dataset(id).get().await.unwrap().unwrap().id }
    })));
    assert_eq!(got, ids);
    assert_eq!(server.request_count(), 64);
}

/// A client whose agent opens one connection per host and whose attempts may take a
/// minute: only a cancelled transfer can free the connection for the next call in time.
fn one_connection_client(server: &ScriptedServer) -> ApifyClient<IsahcClient> {
    let minute = std::time::Duration::from_secs(60);
    let timeouts = apify_core::config::Timeouts { short: minute, medium: minute, long: minute, max: minute };
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap().with_timeouts(timeouts);
    let driver = IsahcClient::builder().max_connections_per_host(1).build().unwrap();
    ApifyClient::with_custom_http_client(cfg, driver)
}

/// A dropped async call aborts its transfer: with one connection allowed per host, the
/// next call would otherwise wait behind a reply that takes a minute.
#[test]
fn a_dropped_async_call_frees_its_connection() {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(200, dataset("slow")).delay(std::time::Duration::from_secs(60)));
    server.set_fallback(|_| Reply::json(200, dataset("fast")));
    let c = one_connection_client(&server);
    futures_lite::future::block_on(async {
        let slow = async { Some(c.dataset("slow").get().await) };
        let give_up = async {
            async_io::Timer::after(std::time::Duration::from_millis(200)).await;
            None
        };
        assert!(futures_lite::future::or(slow, give_up).await.is_none(), "the slow call should still be running");
        let fast = async { Some(c.dataset("fast").get().await.unwrap().unwrap().id) };
        let stuck = async {
            async_io::Timer::after(std::time::Duration::from_secs(30)).await;
            None
        };
        assert_eq!(futures_lite::future::or(fast, stuck).await.as_deref(), Some("fast"));
    });
    assert_eq!(c.stats().retries, 0);
}

/// A body of `n` bytes that is not the same in any two places.
fn numbered_body(n: usize) -> bytes::Bytes {
    let mut s = String::from("[");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("{i},"));
        i += 1;
    }
    s.push_str("0]");
    s.into()
}

/// Streamed responses pause curl while the reader is behind and resume it as it reads:
/// every byte arrives, once, in order.
#[test]
fn a_slow_reader_gets_every_byte_of_a_streamed_body() {
    let body = numbered_body(3 << 20);
    let server = ScriptedServer::start();
    let served = body.clone();
    server.set_fallback(move |_| {
        let served = served.clone();
        Reply::status(200).streamed(move || {
            let served = served.clone();
            (0..served.len().div_ceil(50_000))
                .map(move |i| served.slice(i * 50_000..((i + 1) * 50_000).min(served.len())))
        })
    });
    let c = client(&server);

    // Blocking: small reads, with pauses long enough for the pipe to fill.
    let mut reader = c.dataset("d").stream_items().send().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = std::io::Read::read(&mut reader, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        if got.len() < 20_000 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), body.len());
    assert!(got == body, "the blocking stream differs from what was sent");

    // Async: the reader starts late, then takes everything.
    let got = futures_lite::future::block_on(async {
        let mut stream = c.dataset("d").stream_items().await.unwrap();
        async_io::Timer::after(std::time::Duration::from_millis(200)).await;
        let mut got = Vec::new();
        while let Some(chunk) = futures_lite::StreamExt::next(&mut stream).await {
            got.extend_from_slice(&chunk.unwrap());
        }
        got
    });
    assert!(got == body, "the async stream differs from what was sent");
}

/// A streamed body dropped half read aborts its transfer and frees its connection.
#[test]
fn a_dropped_stream_frees_its_connection() {
    let server = ScriptedServer::start();
    let body = numbered_body(4 << 20);
    server.enqueue(Reply::status(200).streamed(move || {
        let body = body.clone();
        (0..body.len() / 65536).map(move |i| body.slice(i * 65536..(i + 1) * 65536))
    }));
    server.set_fallback(|_| Reply::json(200, dataset("fast")));
    let c = one_connection_client(&server);
    let mut reader = c.dataset("big").stream_items().send().unwrap();
    std::io::Read::read_exact(&mut reader, &mut [0u8; 1000]).unwrap();
    drop(reader);
    let (tx, rx) = std::sync::mpsc::channel();
    let c2 = c.clone();
    // Async, so on the agent thread whose one connection the stream held.
    std::thread::spawn(move || {
        tx.send(futures_lite::future::block_on(c2.dataset("fast").get().into_future()).map(|d| d.unwrap().id))
    });
    let got =
        rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the next call waited behind the dropped stream");
    assert_eq!(got.unwrap(), "fast");
}

/// Threads of this process whose name starts with `prefix` (Linux names are cut at 15 bytes).
fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// An async streamed upload runs on a thread of its own; a dropped call whose stream stalls
/// ends that thread and frees its connection for the next call.
#[test]
fn a_dropped_streamed_upload_ends_its_thread() {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(200, dataset("fast")));
    let c = one_connection_client(&server);
    futures_lite::future::block_on(async {
        // One chunk, then nothing, ever.
        let first = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"first"))]);
        let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
        let upload =
            async { Some(c.key_value_store("s").upload_record("k", "application/octet-stream", stalled).await) };
        let give_up = async {
            async_io::Timer::after(std::time::Duration::from_millis(300)).await;
            None
        };
        assert!(futures_lite::future::or(upload, give_up).await.is_none(), "the stalled upload should still run");
        let fast = async { Some(c.dataset("fast").get().await.unwrap().unwrap().id) };
        let stuck = async {
            async_io::Timer::after(std::time::Duration::from_secs(30)).await;
            None
        };
        assert_eq!(futures_lite::future::or(fast, stuck).await.as_deref(), Some("fast"));
    });
    let started = std::time::Instant::now();
    while threads_named("apify-isahc-upl") > 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the upload thread outlived its call");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
