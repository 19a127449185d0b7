//! What crosses the wire: headers, compression both ways, large streamed bodies, logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apify_core::client::Environment;
use bytes::Bytes;
use serde_json::{Value, json};

use super::capture::capture;
use super::storage::TOKEN;
use super::{Mode, Outcome, Step, Target, client_for, ensure};
use crate::{Reply, ScriptedServer};

pub(crate) fn dataset_json(id: &str) -> Value {
    json!({"data": {"id": id, "name": null, "userId": "u", "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z", "accessedAt": "2026-01-01T00:00:00.000Z", "itemCount": 0,
        "cleanItemCount": 0, "actId": null, "actRunId": null, "consoleUrl": "https://console.apify.com/x"}})
}

pub(crate) fn auth_and_logs<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.enqueue(Reply::status(500));
    server.enqueue(Reply::json(200, dataset_json("d")));
    let c = client_for(t, &server.base_url(), TOKEN);
    let (got, events) = capture(|| t.mode.call(c.dataset("d").get()));
    let got = got.step("get")?.ok_or("dataset missing")?;
    ensure!(got.id == "d", "got dataset {}", got.id);
    let reqs = server.requests();
    ensure!(reqs.len() == 2, "{} requests for one 500 and one success", reqs.len());
    for r in &reqs {
        ensure!(
            r.header("authorization") == Some(&format!("Bearer {TOKEN}")),
            "auth header {:?}",
            r.header("authorization")
        );
        ensure!(r.header("user-agent").is_some_and(|u| u.starts_with("ApifyClient/")), "{:?}", r.header("user-agent"));
        ensure!(r.header("accept-encoding").is_some_and(|a| a.contains("gzip")), "{:?}", r.header("accept-encoding"));
    }
    let sending: Vec<_> = events.iter().filter(|e| e.message == "Sending request").collect();
    ensure!(sending.len() == 2, "{} 'Sending request' events for 2 attempts", sending.len());
    ensure!(sending[1].field("attempt") == Some("2"), "second attempt logged as {:?}", sending[1].field("attempt"));
    ensure!(sending[0].field("client_method") == Some("DatasetClient.get"), "{:?}", sending[0].fields);
    ensure!(sending[0].field("resource_id") == Some("d"), "{:?}", sending[0].fields);
    ensure!(
        events.iter().any(|e| e.field("status_code") == Some("500")),
        "no event carries status_code=500: {events:?}"
    );
    for e in &events {
        ensure!(!e.message.contains(TOKEN) && !e.fields.values().any(|v| v.contains(TOKEN)), "token logged: {e:?}");
    }
    ensure!(!format!("{c:?}").contains(TOKEN), "token in the client's Debug output");
    Ok(())
}

pub(crate) fn gzip_requests<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.set_fallback(|_| Reply::json(201, json!({"data": {}})));
    let c = client_for(t, &server.base_url(), TOKEN);
    let items: Vec<Value> = (0..200).map(|i| json!({"i": i, "text": "compress me ✓"})).collect();
    t.mode.call(c.dataset("d").push_items(&items)).step("push_items")?;
    t.mode.call(c.dataset("d").push_item(&json!({"a": 1}))).step("push_item")?;
    let reqs = server.requests();
    ensure!(reqs.len() == 2, "{} requests", reqs.len());
    ensure!(
        reqs[0].header("content-encoding") == Some("gzip"),
        "large body sent as {:?}",
        reqs[0].header("content-encoding")
    );
    ensure!(reqs[0].body.len() < 2000, "compressed body is {} bytes", reqs[0].body.len());
    let sent: Vec<Value> = serde_json::from_slice(&reqs[0].decoded_body()).map_err(|e| e.to_string())?;
    ensure!(sent == items, "the decoded body differs from the items pushed");
    ensure!(reqs[1].header("content-encoding").is_none(), "a small body was compressed");
    ensure!(&reqs[1].body[..] == br#"{"a":1}"#, "small body {:?}", reqs[1].body);
    Ok(())
}

pub(crate) fn decompressed_responses<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    let items: Vec<Value> = (0..3000).map(|i| json!({"i": i, "t": "ééé"})).collect();
    server.enqueue(Reply::items_page(&items, 0, 3000, 3000, false).gzip());
    server.enqueue(Reply::items_page(&items, 0, 3000, 3000, false).brotli());
    let c = client_for(t, &server.base_url(), TOKEN);
    for enc in ["gzip", "br"] {
        let page = t.mode.call(c.dataset("d").list_items()).step(enc)?;
        ensure!(page.items == items, "{enc}: {} items decoded", page.items.len());
        ensure!(page.total == 3000, "{enc}: pagination headers lost");
    }
    Ok(())
}

/// A server counting the bytes it has produced for a streamed body.
fn counting(
    produced: Arc<AtomicUsize>,
    chunks: impl Iterator<Item = Bytes> + Send + 'static,
) -> impl Iterator<Item = Bytes> + Send + 'static {
    chunks.inspect(move |b| {
        produced.fetch_add(b.len(), Ordering::SeqCst);
    })
}

const STREAM_ITEMS: usize = 400_000;

pub(crate) fn large_item_stream<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    let produced = Arc::new(AtomicUsize::new(0));
    let p = produced.clone();
    server.set_fallback(move |_| {
        let p = p.clone();
        Reply::status(200).header("content-type", "application/json").streamed(move || {
            let items = (0..STREAM_ITEMS).map(|i| {
                let sep = if i == 0 { "[" } else { "," };
                Bytes::from(format!("{sep}{{\"i\":{i},\"pad\":\"{}\"}}", "p".repeat(40)))
            });
            counting(p.clone(), items.chain(std::iter::once(Bytes::from_static(b"]"))))
        })
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    let mut items = t.mode.items(c.dataset("d").stream_items()).step("stream_items")?;
    let first = items.next().ok_or("no item")?.step("first item")?;
    let at_first = produced.load(Ordering::SeqCst);
    ensure!(first["i"] == 0, "first item {first}");
    let mut n = 1usize;
    for item in items {
        let item = item.step("item")?;
        ensure!(item["i"] == n, "item {n} is {item}");
        n += 1;
    }
    let total = produced.load(Ordering::SeqCst);
    ensure!(n == STREAM_ITEMS, "{n} of {STREAM_ITEMS} items");
    // Bounded memory: the first item was in hand long before the body was all sent.
    ensure!(at_first < total / 2, "the driver buffered {at_first} of {total} bytes before the first item");
    Ok(())
}

const RECORD_BYTES: usize = 48 << 20;

pub(crate) fn large_record_stream<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    let produced = Arc::new(AtomicUsize::new(0));
    let p = produced.clone();
    server.set_fallback(move |_| {
        let p = p.clone();
        Reply::status(200).header("content-type", "application/octet-stream").streamed(move || {
            let chunks = (0..RECORD_BYTES / 65536).map(|i| Bytes::from(vec![(i % 251) as u8; 65536]));
            counting(p.clone(), chunks)
        })
    });
    let c = client_for(t, &server.base_url(), TOKEN);
    let (ct, chunks) =
        t.mode.record(c.key_value_store("s").stream_record("big")).step("stream_record")?.ok_or("None")?;
    ensure!(ct.as_deref() == Some("application/octet-stream"), "content type {ct:?}");
    let mut at_first = None;
    let mut offset = 0usize;
    for chunk in chunks {
        let chunk = chunk.step("chunk")?;
        at_first.get_or_insert_with(|| produced.load(Ordering::SeqCst));
        for (j, b) in chunk.iter().enumerate() {
            let want = (((offset + j) / 65536) % 251) as u8;
            ensure!(*b == want, "byte {} is {b}, not {want}", offset + j);
        }
        offset += chunk.len();
    }
    ensure!(offset == RECORD_BYTES, "{offset} of {RECORD_BYTES} bytes");
    let at_first = at_first.unwrap_or(0);
    ensure!(at_first < RECORD_BYTES / 2, "the driver buffered {at_first} bytes before the first chunk");
    Ok(())
}

pub(crate) fn streamed_upload<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = ScriptedServer::start();
    server.enqueue(Reply::json(201, json!({})));
    server.set_fallback(|_| Reply::status(503));
    let c = client_for(t, &server.base_url(), TOKEN);
    let chunks: Vec<Bytes> = (0..50u8).map(|i| Bytes::from(vec![i; 20_000])).collect();
    let store = c.key_value_store("s");
    t.mode.upload(&store, "big.bin", "application/octet-stream", chunks).step("upload")?;
    let reqs = server.requests();
    let req = reqs.first().ok_or("no request")?;
    ensure!(
        req.method == "PUT" && req.path() == "/v2/key-value-stores/s/records/big.bin",
        "{} {}",
        req.method,
        req.path()
    );
    ensure!(req.header("transfer-encoding") == Some("chunked"), "sent with {:?}", req.header("transfer-encoding"));
    ensure!(req.header("content-encoding").is_none(), "a stream was compressed");
    ensure!(req.body.len() == 1_000_000, "{} bytes arrived of 1,000,000", req.body.len());
    ensure!(req.body.chunks(20_000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)), "bytes out of order");
    // A stream is sent once: a failure is not retried.
    let err =
        t.mode.upload(&store, "k", "text/plain", vec![Bytes::from_static(b"x")]).err().ok_or("a 503 succeeded")?;
    ensure!(err.status().map(|s| s.as_u16()) == Some(503), "{err:?}");
    ensure!(server.request_count() == 2, "{} attempts for two uploads", server.request_count());
    Ok(())
}
