//! A 50 MB dataset streamed through the hyper driver in bounded memory. Alone in its test
//! binary so that the process's peak RSS belongs to this test only.
#![cfg(target_os = "linux")]

use apify_hyper::apify_core::client::ApifyClient as GenericClient;
use apify_hyper::{Config, HyperClient};
use apify_tests::{Reply, ScriptedServer};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[derive(Deserialize)]
struct Item {
    i: u64,
    pad: String,
}

const ITEMS: u64 = 440_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabytes_of_items_in_bounded_memory() {
    let server = ScriptedServer::start();
    let pad = "p".repeat(100);
    server.enqueue(Reply::status(200).header("content-type", "application/json").streamed(move || {
        let pad = pad.clone();
        // Generated lazily in 64 KiB chunks: the server never holds the array either.
        let mut i = 0u64;
        let mut opened = false;
        std::iter::from_fn(move || {
            if i == ITEMS {
                return None;
            }
            let mut chunk = String::with_capacity(70_000);
            if !opened {
                chunk.push('[');
                opened = true;
            }
            while chunk.len() < 64 * 1024 && i < ITEMS {
                if i > 0 {
                    chunk.push(',');
                }
                chunk.push_str(&format!("{{\"i\":{i},\"pad\":\"{pad}\"}}"));
                i += 1;
            }
            if i == ITEMS {
                chunk.push(']');
            }
            Some(Bytes::from(chunk))
        })
    }));
    let cfg = Config::new().with_api_url(&server.base_url()).unwrap();
    let client = GenericClient::with_custom_http_client(cfg, HyperClient::new());

    let baseline = status_kib("VmRSS:");
    let mut items = client.dataset("big").stream_items().await.unwrap().items::<Item>();
    let (mut n, mut bytes) = (0u64, 0usize);
    while let Some(item) = items.next().await {
        let item = item.unwrap();
        assert_eq!(item.i, n);
        // The item's size on the wire: {"i":N,"pad":"..."} plus its comma.
        bytes += item.pad.len() + 16 + item.i.to_string().len();
        n += 1;
    }
    assert_eq!(n, ITEMS);
    assert!(bytes > 50_000_000, "streamed {bytes} bytes");
    let peak = status_kib("VmHWM:");
    let grown_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!("rss baseline {baseline} KiB, peak {peak} KiB");
    assert!(
        grown_mib < 32,
        "peak RSS grew by {grown_mib} MiB while streaming 50 MB (baseline {baseline} KiB, peak {peak} KiB)"
    );
}
