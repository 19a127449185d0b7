//! Profiling aid: pushes items one by one through the SDK on local storage.
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
    let t = std::time::Instant::now();
    for i in 0..n {
        ds.push_data(&serde_json::json!({"url": format!("https://example.com/{i}"), "title": "Hello world", "n": i}))
            .await
            .unwrap();
    }
    eprintln!("{n} pushes in {:?} ({:?}/push)", t.elapsed(), t.elapsed() / n as u32);
}
