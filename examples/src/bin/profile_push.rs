//! Profiling aid: pushes items to a local dataset through the SDK, one by one or as one
//! batch (`--batch`), or adds and handles requests (`--rq`), and prints the time per item.
use apify::{Actor, Configuration, OpenOptions};
use apify_local::fsio::Durability;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    // `$BENCH_DIR` (default: here); `PROFILE_KEEP=1` leaves the files, so that deleting them
    // does not slow down the next run on ext4 without a journal (see BENCHMARKS.md).
    let tmp = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    let dir = tmp.path().to_owned();
    let _cleanup = if std::env::var_os("PROFILE_KEEP").is_some() {
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    };
    let cfg = Configuration {
        storage_dir: dir.join("storage"),
        local_durability: Durability::Relaxed,
        ..Configuration::default()
    };
    let a = Actor::with_config(cfg).await.unwrap();
    let ds = a.open_dataset(OpenOptions::new().name("p")).await.unwrap();
    let items: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"url": format!("https://example.com/{i}"), "title": "Hello world", "n": i}))
        .collect();
    if std::env::args().any(|a| a == "--rq") {
        let rq = a.open_request_queue(OpenOptions::new().name("p")).await.unwrap();
        let urls: Vec<String> = (0..n).map(|i| format!("https://example.com/page/{i}")).collect();
        let t = std::time::Instant::now();
        rq.add_requests(urls, false).await.unwrap();
        let added = t.elapsed();
        while let Some(r) = rq.fetch_next_request().await.unwrap() {
            rq.mark_request_as_handled(&r).await.unwrap();
        }
        eprintln!("{n} requests in {:?} ({:?}/request; adding {added:?})", t.elapsed(), t.elapsed() / n as u32);
        return;
    }
    let t = std::time::Instant::now();
    if std::env::args().any(|a| a == "--batch") {
        ds.push_data(&items).await.unwrap();
    } else {
        for item in &items {
            ds.push_data(item).await.unwrap();
        }
    }
    eprintln!("{n} items in {:?} ({:?}/item)", t.elapsed(), t.elapsed() / n as u32);
}
