//! Profiling aid: pushes items to a local dataset through the SDK, one by one or as one
//! batch (`--batch`), and prints the time per item.
use apify::{Actor, Configuration, OpenOptions};
use apify_local::fsio::Durability;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let cfg = Configuration {
        storage_dir: dir.path().join("storage"),
        local_durability: Durability::Relaxed,
        ..Configuration::default()
    };
    let a = Actor::with_config(cfg).await.unwrap();
    let ds = a.open_dataset(OpenOptions::new().name("p")).await.unwrap();
    let items: Vec<_> = (0..n)
        .map(|i| serde_json::json!({"url": format!("https://example.com/{i}"), "title": "Hello world", "n": i}))
        .collect();
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
