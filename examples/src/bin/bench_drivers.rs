//! Every driver on the same servers, beside a raw hyper client with no Apify logic (the
//! floor), raw libcurl (the isahc driver's own floors: a multi handle, and blocking easy
//! handles on their threads) and the official Python client 3.4.0.
//!
//! ```sh
//! cargo run --release -p apify-examples --bin bench_drivers [-- --quick]
//! ```
//!
//! Figures: sequential small GETs (a JSON record from the `apify-local` emulator), ten
//! times as many at 32 concurrent requests, and streaming 1,000,000 dataset items (bytes through the
//! client, MB/s, and the peak RSS of the process that read them). Each measurement runs in
//! a fresh child process, so peak RSS is that driver's alone; the drivers take turns over
//! five rounds and each figure is the median (the Python client runs once). The Python
//! peer (`apify-client` 3.4.0) comes from the tests' shared helper, `apify_tests::python`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use apify_core::client::{ApifyClient, BlockingHttpClient, HttpClient};
use apify_core::config::Config;
use apify_tests::{Emulator, Reply, ScriptedServer};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// `raw-hyper` first: the floor every ratio is taken against. `raw-curl` and
/// `raw-curl-blocking` are libcurl's own floors, for the isahc driver (async, blocking).
const DRIVERS: [&str; 7] =
    ["raw-hyper", "raw-curl", "raw-curl-blocking", "hyper", "isahc-blocking", "isahc-async", "async-std"];
const CONCURRENCY: usize = 32;
const ROUNDS: usize = 5;

/// What one child measures: `get` (sequential), `conc` (32 at once) or `stream`.
struct Work {
    kind: String,
    url: String,
    /// Record path (`get`, `conc`) or items path (`stream`).
    path: String,
    n: usize,
}

fn config(url: &str) -> Config {
    Config::new().with_token("bench-token").with_api_url(url).expect("url")
}

/// The headers every client sends (user agent, accept, token, accepted encodings), so that
/// the floors make the very same requests.
fn sent_headers(url: &str) -> http::HeaderMap {
    let mut headers = (*config(url).default_headers()).clone();
    headers.insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static(apify_core::codec::ACCEPT_ENCODING));
    headers
}

fn rss_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn key_of(path: &str) -> (&str, &str) {
    // `/v2/key-value-stores/{id}/records/{key}`
    let mut parts = path.trim_start_matches("/v2/key-value-stores/").split("/records/");
    (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
}

fn dataset_of(path: &str) -> &str {
    path.trim_start_matches("/v2/datasets/").trim_end_matches("/items")
}

/// Runs `w` on an async driver; returns (seconds, bytes).
fn run_async<D: HttpClient + Clone>(
    driver: D,
    w: &Work,
    block_on: impl Fn(std::pin::Pin<Box<dyn Future<Output = (f64, usize)> + '_>>) -> (f64, usize),
    spawn_all: impl Fn(
        Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()>>>,
) -> (f64, usize) {
    let client = ApifyClient::with_custom_http_client(config(&w.url), driver);
    block_on(Box::pin(async move {
        match w.kind.as_str() {
            "get" => {
                let (id, key) = key_of(&w.path);
                let store = client.key_value_store(id);
                let t = Instant::now();
                for _ in 0..w.n {
                    assert!(store.get_record(key).await.expect("get").is_some());
                }
                (t.elapsed().as_secs_f64(), 0)
            }
            "conc" => {
                let (id, key) = key_of(&w.path);
                let per = w.n / CONCURRENCY;
                let tasks = (0..CONCURRENCY)
                    .map(|_| {
                        let store = client.key_value_store(id);
                        let key = key.to_owned();
                        Box::pin(async move {
                            for _ in 0..per {
                                assert!(store.get_record(&key).await.expect("get").is_some());
                            }
                        }) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
                    })
                    .collect();
                let t = Instant::now();
                spawn_all(tasks).await;
                (t.elapsed().as_secs_f64(), 0)
            }
            _ => {
                let t = Instant::now();
                let mut body = client.dataset(dataset_of(&w.path)).stream_items().await.expect("stream");
                let mut bytes = 0;
                while let Some(chunk) = body.next().await {
                    bytes += chunk.expect("chunk").len();
                }
                (t.elapsed().as_secs_f64(), bytes)
            }
        }
    }))
}

fn run_blocking<D: BlockingHttpClient>(driver: D, w: &Work) -> (f64, usize) {
    let client = ApifyClient::with_custom_http_client(config(&w.url), driver);
    match w.kind.as_str() {
        "get" => {
            let (id, key) = key_of(&w.path);
            let store = client.key_value_store(id);
            let t = Instant::now();
            for _ in 0..w.n {
                assert!(store.get_record(key).send().expect("get").is_some());
            }
            (t.elapsed().as_secs_f64(), 0)
        }
        "conc" => {
            let (id, key) = key_of(&w.path);
            let per = w.n / CONCURRENCY;
            let t = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..CONCURRENCY {
                    let store = client.key_value_store(id);
                    s.spawn(move || {
                        for _ in 0..per {
                            assert!(store.get_record(key).send().expect("get").is_some());
                        }
                    });
                }
            });
            (t.elapsed().as_secs_f64(), 0)
        }
        _ => {
            let t = Instant::now();
            let mut body = client.dataset(dataset_of(&w.path)).stream_items().send().expect("stream");
            let bytes = std::io::copy(&mut body, &mut std::io::sink()).expect("read");
            (t.elapsed().as_secs_f64(), bytes as usize)
        }
    }
}

/// The floor: hyper-util's pooled client, the same requests, no retries, no parsing.
fn run_raw_hyper(rt: &tokio::runtime::Runtime, w: &Work) -> (f64, usize) {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, http_body_util::Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONCURRENCY)
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    // Byte for byte the request the clients send (they ask for the record as an attachment).
    let query = if w.kind == "stream" { "?format=json" } else { "?attachment=true" };
    let uri: http::Uri = format!("{}{}{query}", w.url, w.path).parse().expect("uri");
    // Leaked once (a child process of one run), so that the closure stays `Copy`.
    let headers: &'static http::HeaderMap = Box::leak(Box::new(sent_headers(&w.url)));
    let get = move |client: Client<_, _>, uri: http::Uri| {
        let mut req = http::Request::get(uri).body(http_body_util::Empty::<Bytes>::new()).expect("request");
        *req.headers_mut() = headers.clone();
        async move {
            let resp = client.request(req).await.expect("send");
            assert!(resp.status().is_success());
            let mut body = resp.into_body();
            let mut n = 0;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.expect("body").into_data() {
                    n += data.len();
                }
            }
            n
        }
    };
    rt.block_on(async {
        let t = Instant::now();
        let mut bytes = 0;
        match w.kind.as_str() {
            "conc" => {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..CONCURRENCY {
                    let (client, uri, per) = (client.clone(), uri.clone(), w.n / CONCURRENCY);
                    set.spawn(async move {
                        for _ in 0..per {
                            get(client.clone(), uri.clone()).await;
                        }
                    });
                }
                while set.join_next().await.is_some() {}
            }
            "get" => {
                for _ in 0..w.n {
                    get(client.clone(), uri.clone()).await;
                }
            }
            _ => bytes = get(client.clone(), uri.clone()).await,
        }
        (t.elapsed().as_secs_f64(), bytes)
    })
}

/// Counts the bytes of a raw libcurl transfer.
struct Count(usize);

impl curl::easy::Handler for Count {
    fn write(&mut self, data: &[u8]) -> Result<usize, curl::easy::WriteError> {
        self.0 += data.len();
        Ok(data.len())
    }
}

/// A raw libcurl handle making the clients' request for `w`, with their headers.
fn raw_easy(w: &Work) -> curl::easy::Easy2<Count> {
    let query = if w.kind == "stream" { "?format=json" } else { "?attachment=true" };
    let mut easy = curl::easy::Easy2::new(Count(0));
    easy.url(&format!("{}{}{query}", w.url, w.path)).expect("url");
    let mut headers = curl::easy::List::new();
    for (name, value) in &sent_headers(&w.url) {
        headers.append(&format!("{name}: {}", value.to_str().expect("ascii"))).expect("header");
    }
    easy.http_headers(headers).expect("headers");
    easy
}

/// libcurl's own floor: one multi handle on one thread driving the same requests (one at a
/// time for `get`, 32 at once for `conc`), easy handles reused, no Apify logic.
fn run_raw_curl(w: &Work) -> (f64, usize) {
    use curl::multi::Multi;
    let (width, total) = match w.kind.as_str() {
        "conc" => (CONCURRENCY, w.n),
        "get" => (1, w.n),
        _ => (1, 1),
    };
    let multi = Multi::new();
    let new_easy = || raw_easy(w);
    let t = Instant::now();
    let mut handles: Vec<_> = (0..width).map(|_| Some(multi.add2(new_easy()).expect("add"))).collect();
    for (i, h) in handles.iter_mut().enumerate() {
        h.as_mut().expect("handle").set_token(i).expect("token");
    }
    let (mut started, mut done, mut bytes) = (width, 0, 0);
    while done < total {
        multi.perform().expect("perform");
        let mut finished = Vec::new();
        multi.messages(|m| {
            if let (Ok(token), Some(result)) = (m.token(), m.result()) {
                result.expect("transfer");
                finished.push(token);
            }
        });
        for token in finished {
            let mut easy = multi.remove2(handles[token].take().expect("handle")).expect("remove");
            assert_eq!(easy.response_code().expect("code"), 200);
            bytes += std::mem::take(&mut easy.get_mut().0);
            done += 1;
            if started < total {
                started += 1;
                let mut h = multi.add2(easy).expect("add");
                h.set_token(token).expect("token");
                handles[token] = Some(h);
            }
        }
        if done < total {
            multi.wait(&mut [], std::time::Duration::from_secs(1)).expect("wait");
        }
    }
    (t.elapsed().as_secs_f64(), if w.kind == "stream" { bytes } else { 0 })
}

/// libcurl's blocking floor, what the blocking isahc client does without Apify logic: each
/// thread (32 for `conc`) performs on its own reused easy handle, one request at a time.
fn run_raw_curl_blocking(w: &Work) -> (f64, usize) {
    let (threads, per) = match w.kind.as_str() {
        "conc" => (CONCURRENCY, w.n / CONCURRENCY),
        "get" => (1, w.n),
        _ => (1, 1),
    };
    let t = Instant::now();
    let bytes: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut easy = raw_easy(w);
                    let mut bytes = 0;
                    for _ in 0..per {
                        easy.perform().expect("transfer");
                        assert_eq!(easy.response_code().expect("code"), 200);
                        bytes += std::mem::take(&mut easy.get_mut().0);
                    }
                    bytes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    (t.elapsed().as_secs_f64(), if w.kind == "stream" { bytes } else { 0 })
}

fn child(driver: &str, w: &Work) {
    let tokio_rt = || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let (secs, bytes) = match driver {
        "raw-hyper" => run_raw_hyper(&tokio_rt(), w),
        "raw-curl" => run_raw_curl(w),
        "raw-curl-blocking" => run_raw_curl_blocking(w),
        "hyper" => {
            let rt = tokio_rt();
            let driver = rt.block_on(async { apify_hyper::HyperClient::new() });
            run_async(
                driver,
                w,
                |f| rt.block_on(f),
                |tasks| {
                    let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
                    Box::pin(async move {
                        for h in handles {
                            h.await.expect("task");
                        }
                    })
                },
            )
        }
        "isahc-blocking" => run_blocking(apify_isahc::IsahcClient::new(), w),
        "isahc-async" => run_async(
            apify_isahc::IsahcClient::new(),
            w,
            |f| futures_lite::future::block_on(f),
            // isahc's agent thread does the I/O: joining on one thread is enough.
            |tasks| {
                Box::pin(async move {
                    futures_util::future::join_all(tasks).await;
                })
            },
        ),
        "async-std" => run_async(
            apify_async_std::AsyncStdClient::new(),
            w,
            |f| async_std::task::block_on(f),
            |tasks| {
                let handles: Vec<_> = tasks.into_iter().map(async_std::task::spawn).collect();
                Box::pin(async move {
                    futures_util::future::join_all(handles).await;
                })
            },
        ),
        other => panic!("unknown driver {other}"),
    };
    println!("{}", json!({"secs": secs, "bytes": bytes, "rss_kib": rss_peak_kib()}));
}

/// A child command, pinned to the CPUs in `$BENCH_CLIENT_CPUS` if set (with the parent,
/// and so the servers, pinned elsewhere by `taskset`), to measure clients without sharing
/// cores with the server.
fn child_command(program: &std::ffi::OsStr) -> Command {
    match std::env::var("BENCH_CLIENT_CPUS") {
        Ok(cpus) if !cpus.is_empty() => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(program);
            c
        }
        _ => Command::new(program),
    }
}

fn measure(driver: &str, w: &Work) -> Option<Value> {
    let exe = std::env::current_exe().ok()?;
    let out = child_command(exe.as_os_str())
        .args(["--one", driver, &w.kind, &w.url, &w.path, &w.n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{driver} {} failed: {}", w.kind, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last()?).ok()
}

/// The Python peers, from the one helper every test uses (a virtualenv under `target/`,
/// or `$APIFY_TEST_PYTHON`).
fn python() -> Option<PathBuf> {
    Some(apify_tests::python::python())
}

/// The official Python client doing the same work.
const PY: &str = r#"
import asyncio, json, resource, sys, time
from apify_client import ApifyClient, ApifyClientAsync
kind, url, path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = ApifyClient('bench-token', api_url=url)
t = time.perf_counter(); nbytes = 0
if kind in ('get', 'conc'):
    store_id, key = path.split('/key-value-stores/')[1].split('/records/')
    if kind == 'get':
        store = c.key_value_store(store_id)
        for _ in range(n):
            assert store.get_record(key) is not None
    else:
        async def conc():
            s = ApifyClientAsync('bench-token', api_url=url).key_value_store(store_id)
            async def worker():
                for _ in range(n // 32):
                    assert await s.get_record(key) is not None
            await asyncio.gather(*(worker() for _ in range(32)))
        t = time.perf_counter()
        asyncio.run(conc())
else:
    ds = path.split('/datasets/')[1].split('/items')[0]
    with c.dataset(ds).stream_items() as r:
        for chunk in r.iter_bytes():
            nbytes += len(chunk)
print(json.dumps({'secs': time.perf_counter() - t, 'bytes': nbytes,
                  'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"#;

fn measure_python(py: &Path, w: &Work) -> Option<Value> {
    let out =
        child_command(py.as_os_str()).args(["-c", PY, &w.kind, &w.url, &w.path, &w.n.to_string()]).output().ok()?;
    if !out.status.success() {
        eprintln!("python {} failed: {}", w.kind, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last()?).ok()
}

/// One line of the table: a client's median run per work, and its ratios to the floor.
type Row = (String, Vec<Option<Value>>, Vec<Option<f64>>);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, driver, kind, url, path, n] = args.as_slice()
        && flag == "--one"
    {
        let w = Work { kind: kind.clone(), url: url.clone(), path: path.clone(), n: n.parse().expect("n") };
        child(driver, &w);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (gets, items) = if quick { (2_000, 100_000) } else { (10_000, 1_000_000) };

    // The emulator with one small JSON record, and a server streaming the items.
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(dir.path(), None);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let setup = ApifyClient::with_custom_http_client(config(emulator.url()), apify_hyper::HyperClient::new());
    let record_path = rt.block_on(async {
        let kvs = setup.key_value_stores().get_or_create().name("bench").await.expect("kvs");
        let rec = json!({"hello": "world", "n": 42, "tags": ["a", "b"]});
        setup.key_value_store(&kvs.id).set_record("REC", rec).await.expect("set");
        format!("/v2/key-value-stores/{}/records/REC", kvs.id)
    });
    let stream = ScriptedServer::start();
    let body = Arc::new(
        (0..items)
            .map(|i| {
                format!(
                    "{}{{\"url\":\"https://example.com/page/{i}\",\"title\":\"Hello world\",\"n\":{i}}}",
                    if i == 0 { "[" } else { "," }
                )
            })
            .chain(std::iter::once("]".to_owned()))
            .collect::<String>(),
    );
    let total_bytes = body.len();
    stream.set_fallback(move |_| {
        let body = body.clone();
        Reply::status(200).header("content-type", "application/json").streamed(move || {
            let body = body.clone();
            (0..body.len().div_ceil(65536))
                .map(move |i| Bytes::copy_from_slice(&body.as_bytes()[i * 65536..((i + 1) * 65536).min(body.len())]))
        })
    });

    let py = python();
    println!(
        "machine: {} cores; {gets} GETs, {} at 32 concurrent; {items} items ({:.1} MB) streamed",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        10 * gets,
        total_bytes as f64 / 1e6
    );
    let works = [
        Work { kind: "get".into(), url: emulator.url().to_owned(), path: record_path.clone(), n: gets },
        // Ten times as many: at 32 concurrent calls 10,000 take a tenth of a second, too
        // short to measure on a noisy machine.
        Work { kind: "conc".into(), url: emulator.url().to_owned(), path: record_path, n: 10 * gets },
        Work { kind: "stream".into(), url: stream.base_url(), path: "/v2/datasets/big/items".into(), n: items },
    ];
    // Warm the servers up, then, round by round, run each driver between two runs of the
    // floor on the same work: the machine's speed drifts within seconds, so each run is
    // compared with the floor's runs on either side of it (their geometric mean), and the
    // median of those ratios is reported.
    let _ = measure("raw-hyper", &works[0]);
    let secs = |v: &Option<Value>| v.as_ref().and_then(|v| v["secs"].as_f64());
    let mut runs: Vec<Vec<Vec<Option<Value>>>> = vec![vec![Vec::new(); works.len()]; DRIVERS.len()];
    let mut paired: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); works.len()]; DRIVERS.len()];
    for _ in 0..ROUNDS {
        for (i, w) in works.iter().enumerate() {
            let mut before = measure(DRIVERS[0], w);
            for (d, driver) in DRIVERS.iter().enumerate().skip(1) {
                let run = measure(driver, w);
                let after = measure(DRIVERS[0], w);
                if let (Some(a), Some(b0), Some(b1)) = (secs(&run), secs(&before), secs(&after)) {
                    paired[d][i].push(a / (b0 * b1).sqrt());
                }
                runs[0][i].push(std::mem::replace(&mut before, after));
                runs[d][i].push(run);
            }
            runs[0][i].push(before);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    // Per driver and work: the median run, and the median of the per-round ratios
    // (driver ÷ floor seconds).
    let mut rows: Vec<Row> = Vec::new();
    for (d, driver) in DRIVERS.iter().enumerate() {
        let medians = runs[d]
            .iter()
            .map(|v| {
                let mut v: Vec<Value> = v.iter().flatten().cloned().collect();
                v.sort_by(|a, b| a["secs"].as_f64().unwrap_or(0.0).total_cmp(&b["secs"].as_f64().unwrap_or(0.0)));
                v.get(v.len() / 2).cloned()
            })
            .collect();
        let ratios = (0..works.len()).map(|i| if d == 0 { Some(1.0) } else { median(paired[d][i].clone()) }).collect();
        rows.push(((*driver).to_owned(), medians, ratios));
    }
    if let Some(py) = &py {
        // Run once: compared with the floor's median.
        let figs: Vec<Option<Value>> = works.iter().map(|w| measure_python(py, w)).collect();
        let ratios = figs.iter().zip(&rows[0].1).map(|(a, b)| Some(secs(a)? / secs(b)?)).collect();
        rows.push(("python 3.4.0".into(), figs, ratios));
    } else {
        eprintln!("apify-client 3.4.0 not importable: no Python figures");
    }
    println!(
        "{:<16} {:>11} {:>8} {:>11} {:>8} {:>10} {:>8} {:>10}",
        "driver", "GET µs", "÷floor", "32-conc/s", "÷floor", "stream MB/s", "÷floor", "peak RSS"
    );
    for (name, figs, ratios) in &rows {
        let lat = secs(&figs[0]).map(|s| s / gets as f64 * 1e6);
        let conc = secs(&figs[1]).map(|s| (works[1].n / CONCURRENCY * CONCURRENCY) as f64 / s);
        let mbs = secs(&figs[2]).map(|s| total_bytes as f64 / 1e6 / s);
        let ratio = |i: usize, inverse: bool| match ratios[i] {
            Some(r) if inverse => format!("{:.2}x", 1.0 / r),
            Some(r) => format!("{r:.2}x"),
            None => "-".into(),
        };
        let rss = figs[2]
            .as_ref()
            .and_then(|v| v["rss_kib"].as_u64())
            .map_or_else(|| "-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        let f = |v: Option<f64>, p: usize| v.map_or_else(|| "-".into(), |v| format!("{v:.p$}"));
        println!(
            "{name:<16} {:>11} {:>8} {:>11} {:>8} {:>10} {:>8} {:>10}",
            f(lat, 1),
            ratio(0, false),
            f(conc, 0),
            ratio(1, true),
            f(mbs, 1),
            ratio(2, true),
            rss
        );
    }
    if let Some((_, py_figs, _)) = rows.iter().find(|r| r.0.starts_with("python")) {
        let py = secs(&py_figs[1]).map(|s| works[1].n as f64 / s);
        let times: Vec<String> = rows
            .iter()
            .filter(|r| !r.0.starts_with("python"))
            .filter_map(|(name, figs, _)| {
                let ours = secs(&figs[1]).map(|s| (works[1].n / CONCURRENCY * CONCURRENCY) as f64 / s)?;
                Some(format!("{name} {:.1}x", ours / py?))
            })
            .collect();
        println!("32-conc throughput against the Python client's: {}", times.join(", "));
    }
    println!(
        "÷floor: latency as a multiple of raw hyper's (lower is better), throughput as a fraction of it; \
         the median over the rounds of the ratios to the floor's runs just before and after"
    );
}
