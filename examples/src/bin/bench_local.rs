//! Local storage benchmarks beside the Python SDK (apify 4.1) on the same machine, in the
//! same run. Prints each figure with the peer's.
//!
//! ```sh
//! cargo run --release -p apify-examples --bin bench_local            # full size
//! cargo run --release -p apify-examples --bin bench_local -- --quick # 10x smaller
//! cargo run --release -p apify-examples --bin bench_local -- --ours-only  # no peer, no emulator
//! ```
//!
//! The Python peer (`apify` 4.1.0) comes from the tests' shared helper, `apify_tests::python`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apify::{Actor, Configuration, OpenOptions};
use apify_local::fsio::Durability;
use serde_json::json;

struct Sizes {
    batch_items: usize,
    single_items: usize,
    requests: usize,
    records: usize,
    emulator_ops: usize,
}

/// The Python peers, from the one helper every test uses (a virtualenv under `target/`,
/// or `$APIFY_TEST_PYTHON`).
fn python() -> Option<PathBuf> {
    Some(apify_tests::python::python())
}

const PY_BENCH: &str = r#"
import asyncio, json, sys, time
from apify import Actor
mode, n = sys.argv[1], int(sys.argv[2])
async def main():
    async with Actor:
        if mode in ('batch', 'single'):
            ds = await Actor.open_dataset(name='bench-' + mode)
            items = [{'url': f'https://example.com/page/{i}', 'title': 'Hello world', 'n': i} for i in range(n)]
            t = time.perf_counter()
            if mode == 'batch':
                await ds.push_data(items)
            else:
                for it in items:
                    await ds.push_data(it)
        elif mode == 'kvs':
            kvs = await Actor.open_key_value_store(name='bench-kvs')
            t = time.perf_counter()
            for value in ('first', 'second'):
                for i in range(n):
                    await kvs.set_value(f'record-{i}', {'n': i, 'value': value, 'title': 'Hello world'})
        else:
            rq = await Actor.open_request_queue(name='bench-rq')
            urls = [f'https://example.com/page/{i}' for i in range(n)]
            t = time.perf_counter()
            await rq.add_requests(urls, wait_for_all_requests_to_be_added=True, wait_time_between_batches=__import__('datetime').timedelta(0))
            handled = 0
            while (r := await rq.fetch_next_request()) is not None:
                await rq.mark_request_as_handled(r)
                handled += 1
            assert handled == n, handled
        print(json.dumps({'seconds': time.perf_counter() - t}))
asyncio.run(main())
"#;

/// Brings the machine to the same state before every measurement, ours and the peer's:
/// earlier writes are flushed, and (when allowed, i.e. as root) the kernel's dentry and
/// inode caches are emptied. Files kept from earlier runs otherwise lengthen the kernel's
/// hash chains, so every later run, whoever's, pays for them on each file it creates.
fn settle() {
    let _ = Command::new("sync").status();
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    std::thread::sleep(Duration::from_millis(500));
}

/// Keeps every benchmark directory until the end: deleting 100,000 files while the next
/// measurement runs would disturb it.
struct Keep {
    parent: PathBuf,
    dirs: std::sync::Mutex<Vec<tempfile::TempDir>>,
}

impl Keep {
    /// Under `$BENCH_DIR`, else `target/bench-local`.
    fn new() -> Self {
        let parent = std::env::var_os("BENCH_DIR")
            .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-local"), PathBuf::from);
        std::fs::create_dir_all(&parent).expect("creating the benchmark directory");
        spread_subdirectories(&parent);
        Self { parent, dirs: std::sync::Mutex::new(Vec::new()) }
    }

    fn dir(&self) -> PathBuf {
        // On tmpfs nothing is gained by keeping files (no disk, no inode scans), and they
        // would stay in the kernel's caches: the previous run's files go first.
        if on_tmpfs(&self.parent) {
            self.dirs.lock().expect("lock").clear();
        }
        let d = tempfile::tempdir_in(&self.parent).expect("tempdir");
        let p = d.path().to_owned();
        self.dirs.lock().expect("lock").push(d);
        p
    }
}

fn on_tmpfs(dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        const TMPFS_MAGIC: i64 = 0x0102_1994;
        // `f_type`'s integer type differs between architectures.
        #[allow(clippy::unnecessary_cast)]
        rustix::fs::statfs(dir).is_ok_and(|s| s.f_type as i64 == TMPFS_MAGIC)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        false
    }
}

/// Marks the benchmark directory "top" (`chattr +T`) so ext4 places each measurement's
/// folder in a fresh block group. Without it, every file created next to thousands of files
/// deleted in the last minutes (earlier runs, `cargo test`'s temp dirs) costs ext4 without a
/// journal a scan over them: 10 µs a file becomes 150 µs, for both peers, drowning the
/// difference being measured.
fn spread_subdirectories(dir: &Path) {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
        let applied = std::fs::File::open(dir)
            .ok()
            .is_some_and(|f| ioctl_getflags(&f).and_then(|flags| ioctl_setflags(&f, flags | IFlags::TOPDIR)).is_ok());
        if !applied && !on_tmpfs(dir) {
            eprintln!("note: could not mark {} as a top directory; figures may vary more", dir.display());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}

fn run_python(keep: &Keep, python: &Path, mode: &str, n: usize) -> Option<f64> {
    let dir = keep.dir();
    settle();
    let out = Command::new(python)
        .args(["-c", PY_BENCH, mode, &n.to_string()])
        .current_dir(&dir)
        .env("APIFY_LOCAL_STORAGE_DIR", dir.join("storage"))
        .env("APIFY_LOG_LEVEL", "WARNING")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python {mode} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout).lines().last()?.to_owned();
    serde_json::from_str::<serde_json::Value>(&line).ok()?["seconds"].as_f64()
}

async fn actor(dir: &Path, durability: Durability) -> Actor {
    let cfg =
        Configuration { storage_dir: dir.join("storage"), local_durability: durability, ..Configuration::default() };
    Actor::with_config(cfg).await.expect("actor")
}

fn items(n: usize) -> Vec<serde_json::Value> {
    (0..n).map(|i| json!({"url": format!("https://example.com/page/{i}"), "title": "Hello world", "n": i})).collect()
}

/// Median of three runs of our side, each in a fresh process like the peer's: one run's
/// heap and caches do not carry over into the next.
fn ours(keep: &Keep, mode: &str, n: usize, durability: Durability) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let dir = keep.dir();
        let durability = if durability == Durability::Full { "full" } else { "relaxed" };
        let out = Command::new(std::env::current_exe().expect("the benchmark's own path"))
            .args(["--one", mode, &n.to_string(), durability])
            .arg(&dir)
            .output()
            .expect("running one measurement");
        assert!(out.status.success(), "measurement failed: {}", String::from_utf8_lossy(&out.stderr));
        let secs = String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().expect("seconds");
        runs.push(secs);
    }
    runs.sort_by(f64::total_cmp);
    runs[1]
}

/// One measurement of ours (the child side of [`ours`]); returns seconds.
async fn ours_once(dir: &Path, mode: &str, n: usize, durability: Durability) -> f64 {
    let a = actor(dir, durability).await;
    let start;
    match mode {
        "batch" => {
            let ds = a.open_dataset(OpenOptions::new().name("bench-batch")).await.unwrap();
            let data = items(n);
            settle();
            start = Instant::now();
            ds.push_data(&data).await.unwrap();
        }
        "single" => {
            let ds = a.open_dataset(OpenOptions::new().name("bench-single")).await.unwrap();
            let data = items(n);
            settle();
            start = Instant::now();
            for it in &data {
                ds.push_data(it).await.unwrap();
            }
        }
        "kvs" => {
            // Every record written, then every one overwritten: both kinds of record write.
            let kvs = a.open_key_value_store(OpenOptions::new().name("bench-kvs")).await.unwrap();
            settle();
            start = Instant::now();
            for value in ["first", "second"] {
                for i in 0..n {
                    let v = json!({"n": i, "value": value, "title": "Hello world"});
                    kvs.set_value(&format!("record-{i}"), &v).await.unwrap();
                }
            }
        }
        _ => {
            let rq = a.open_request_queue(OpenOptions::new().name("bench-rq")).await.unwrap();
            let urls: Vec<String> = (0..n).map(|i| format!("https://example.com/page/{i}")).collect();
            settle();
            start = Instant::now();
            rq.add_requests(urls, false).await.unwrap();
            let mut handled = 0;
            while let Some(r) = rq.fetch_next_request().await.unwrap() {
                rq.mark_request_as_handled(&r).await.unwrap();
                handled += 1;
            }
            assert_eq!(handled, n);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    a.exit().await.unwrap();
    secs
}

fn row(name: &str, ours_relaxed: f64, ours_full: f64, peer: Option<f64>, target: Option<f64>) {
    let target = target.map_or_else(String::new, |t| format!("   target {t}x"));
    match peer {
        Some(p) => println!(
            "{name:<44} ours {ours_relaxed:>8.3} s (fsync: {ours_full:>7.3} s)   python {p:>8.2} s   speed-up {:>6.1}x (fsync: {:>5.1}x){target}",
            p / ours_relaxed,
            p / ours_full
        ),
        None => println!("{name:<44} ours {ours_relaxed:>8.3} s (fsync: {ours_full:>7.3} s)   python: not available"),
    }
}

/// The official Python client (apify-client 3.4) doing the emulator benchmark's work
/// against the same server.
const PY_CLIENT_BENCH: &str = r#"
import asyncio, json, sys, time
from apify_client import ApifyClient, ApifyClientAsync
url, ops, store_id, ds_id = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
store = ApifyClient('t', api_url=url).key_value_store(store_id)
t = time.perf_counter()
for _ in range(ops):
    assert store.get_record('REC') is not None
seq = ops / (time.perf_counter() - t)
async def conc():
    s = ApifyClientAsync('t', api_url=url).key_value_store(store_id)
    async def worker():
        for _ in range(ops // 32):
            assert await s.get_record('REC') is not None
    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(32)))
    return ops // 32 * 32 / (time.perf_counter() - t)
conc_rate = asyncio.run(conc())
ds = ApifyClient('t', api_url=url).dataset(ds_id)
batch = [{'url': f'https://example.com/page/{i}', 'title': 'Hello world', 'n': i} for i in range(1000)]
rounds = max(ops // 1000, 5)
t = time.perf_counter()
for _ in range(rounds):
    ds.push_items(batch)
push = rounds * 1000 / (time.perf_counter() - t)
print(json.dumps({'seq': seq, 'conc': conc_rate, 'push': push}))
"#;

async fn emulator(keep: &Keep, ops: usize, python: Option<&Path>) {
    use apify_core::client::ApifyClient;
    let dir = keep.dir();
    let mut cfg = apify_local::storage::StorageConfig::new(dir.join("storage"));
    cfg.durability = Durability::Relaxed;
    let storages = Arc::new(apify_local::storage::Storages::new(cfg));
    let api = apify_local::api::LocalApi::new(storages, apify_local::api::ApiConfig::default());
    let server = apify_local::server::Server::bind(([127, 0, 0, 1], 0).into(), api, Duration::from_secs(60))
        .await
        .expect("bind");
    let config = apify_core::config::Config::new().with_api_url(&server.url()).unwrap();
    let client = ApifyClient::with_custom_http_client(config, apify_hyper::HyperClient::new());
    let kvs = client.key_value_stores().get_or_create().name("bench").await.unwrap();
    let store = client.key_value_store(&kvs.id);
    store.set_record("REC", json!({"hello": "world", "n": 42})).await.unwrap();
    let start = Instant::now();
    for _ in 0..ops {
        store.get_record("REC").await.unwrap().unwrap();
    }
    let seq = ops as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let store = store.clone();
        let per = ops / 32;
        tasks.spawn(async move {
            for _ in 0..per {
                store.get_record("REC").await.unwrap().unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let conc = (ops / 32 * 32) as f64 / start.elapsed().as_secs_f64();
    let ds = client.datasets().get_or_create().name("bench").await.unwrap();
    let batch = items(1000);
    let rounds = (ops / 1000).max(5);
    let start = Instant::now();
    for _ in 0..rounds {
        client.dataset(&ds.id).push_items(&batch).await.unwrap();
    }
    let push = (rounds * 1000) as f64 / start.elapsed().as_secs_f64();
    let url = server.url();
    let peer = python.and_then(|py| {
        let out = Command::new(py)
            .args(["-c", PY_CLIENT_BENCH, &url, &ops.to_string(), &kvs.id, &ds.id])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let line = String::from_utf8_lossy(&out.stdout).lines().last()?.to_owned();
        serde_json::from_str::<serde_json::Value>(&line).ok()
    });
    let fig = |key: &str| peer.as_ref().and_then(|p| p[key].as_f64());
    let show = |name: &str, ours: f64, key: &str| match fig(key) {
        Some(p) => println!("{name:<44} ours {ours:>8.0}/s   python client {p:>8.0}/s   ratio {:>5.1}x", ours / p),
        None => println!("{name:<44} ours {ours:>8.0}/s   python client: not available"),
    };
    println!("emulator over loopback, the same server for both clients (ours: hyper driver):");
    show("  GET record, sequential", seq, "seq");
    show("  GET record, 32 concurrent", conc, "conc");
    show("  push items (batches of 1000), items/s", push, "push");
    server.shutdown().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, mode, n, durability, dir] = args.as_slice()
        && flag == "--one"
    {
        let durability = Durability::parse(durability).expect("durability");
        let secs = ours_once(Path::new(dir), mode, n.parse().expect("count"), durability).await;
        println!("{secs}");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let s = if quick {
        Sizes { batch_items: 10_000, single_items: 10_000, requests: 1_000, records: 1_000, emulator_ops: 2_000 }
    } else {
        Sizes { batch_items: 100_000, single_items: 100_000, requests: 10_000, records: 10_000, emulator_ops: 20_000 }
    };
    let ours_only = args.iter().any(|a| a == "--ours-only");
    let py = if ours_only { None } else { python() };
    if py.is_none() && !ours_only {
        eprintln!("Python peer not available (needs apify==4.1.0); printing our figures only");
    }
    println!(
        "machine: {} cores; sizes: {} items, {} requests",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        s.batch_items,
        s.requests
    );
    let cases = [
        ("batch", s.batch_items, format!("push {} items as one batch", s.batch_items), Some(30.0)),
        ("single", s.single_items, format!("push {} items one by one", s.single_items), Some(30.0)),
        ("rq", s.requests, format!("add {} requests, fetch + mark handled", s.requests), Some(20.0)),
        ("kvs", s.records, format!("set {} records, then overwrite each", s.records), None),
    ];
    let keep = Keep::new();
    if args.iter().any(|a| a == "--emulator-only") {
        emulator(&keep, s.emulator_ops, py.as_deref()).await;
        return;
    }
    // All our runs first: the Python SDK rewrites a file per push (deleting an inode each
    // time), which would slow down whatever creates files after it.
    let mut ours_figures = Vec::new();
    for (mode, n, _, _) in &cases {
        let relaxed = ours(&keep, mode, *n, Durability::Relaxed);
        let full = ours(&keep, mode, *n, Durability::Full);
        ours_figures.push((relaxed, full));
    }
    for ((mode, n, name, target), (relaxed, full)) in cases.iter().zip(ours_figures) {
        let peer = py.as_deref().and_then(|p| run_python(&keep, p, mode, *n));
        row(name, relaxed, full, peer, *target);
    }
    if !ours_only {
        emulator(&keep, s.emulator_ops, py.as_deref()).await;
    }
}
