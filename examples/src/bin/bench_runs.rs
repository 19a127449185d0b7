//! Local runs of the emulator beside their floor, in one run on one machine: a `call` of a
//! trivial Actor end to end (start, process, wait) beside spawning the same command directly,
//! and beside `apify run` of the Apify CLI when one is given; and the log streaming
//! throughput from a chatty Actor to a `log?stream=1` reader beside reading the same
//! command's stdout directly.
//!
//! ```sh
//! cargo run --release -p apify-examples --bin bench_runs
//! cargo run --release -p apify-examples --bin bench_runs -- --quick
//! cargo run --release -p apify-examples --bin bench_runs -- --relaxed   # storages without fsync
//! cargo run --release -p apify-examples --bin bench_runs -- --cli "$(npm root)/.bin/apify"
//! ```

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apify_core::config::Config;
use apify_core::models::ActorJobStatus;
use apify_hyper::ApifyClient;
use apify_local::api::{ApiConfig, LocalApi};
use apify_local::fsio::Durability;
use apify_local::platform::{LocalActor, PlatformOptions};
use apify_local::server::{Server, ServerOptions};
use apify_local::storage::{StorageConfig, Storages};
use futures_util::StreamExt;

const TRIVIAL: &str = "true";

fn chatty(bytes: usize) -> String {
    format!("yes 'a line of the chatty Actor, padded to sixty-four bytes in all..' | head -c {bytes}")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn spawn_floor(n: usize) -> Duration {
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let status = Command::new("sh").args(["-c", TRIVIAL]).stdin(Stdio::null()).status().expect("sh");
                assert!(status.success());
                t.elapsed()
            })
            .collect(),
    )
}

/// `apify run` in a project whose start script is the trivial command.
fn cli_runs(cli: &str, n: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("package.json"),
        br#"{"name": "bench", "version": "0.0.1", "scripts": {"start": "true"}}"#,
    )
    .expect("package.json");
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let out = Command::new(cli)
                    .arg("run")
                    .env("APIFY_CLI_DISABLE_TELEMETRY", "1")
                    .current_dir(dir.path())
                    .stdin(Stdio::null())
                    .output()
                    .expect("apify run");
                assert!(out.status.success(), "apify run failed: {}", String::from_utf8_lossy(&out.stderr));
                t.elapsed()
            })
            .collect(),
    )
}

/// Reads the chatty command's stdout directly: the floor of log throughput.
fn read_floor(bytes: usize) -> Duration {
    use std::io::Read;
    let t = Instant::now();
    let mut child = Command::new("sh").args(["-c", &chatty(bytes)]).stdout(Stdio::piped()).spawn().expect("sh");
    let mut out = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = out.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    child.wait().expect("wait");
    assert_eq!(total, bytes);
    t.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let cli = args.iter().position(|a| a == "--cli").and_then(|i| args.get(i + 1)).cloned();
    let calls = if quick { 10 } else { 50 };
    let log_bytes = if quick { 10 << 20 } else { 100 << 20 };

    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = StorageConfig::new(dir.path().join("storage"));
    cfg.durability = if args.iter().any(|a| a == "--relaxed") { Durability::Relaxed } else { Durability::Full };
    let api = LocalApi::new(
        std::sync::Arc::new(Storages::new(cfg)),
        ApiConfig { public_base: String::new(), ..ApiConfig::default() },
    );
    let platform = PlatformOptions {
        actors: vec![
            LocalActor::new("trivial", TRIVIAL).expect("actor"),
            LocalActor::new("chatty", &chatty(log_bytes)).expect("actor"),
        ],
        workdir: dir.path().to_owned(),
        ..PlatformOptions::default()
    };
    let options = ServerOptions { platform, ..ServerOptions::default() };
    let server = Server::bind_with(([127, 0, 0, 1], 0).into(), api, options).await.expect("bind");
    let client = ApifyClient::from_config(Config::new().with_api_url(&server.url()).expect("url"));

    println!(
        "local runs, {calls} calls each (medians), durability {:?}",
        if args.iter().any(|a| a == "--relaxed") { "relaxed" } else { "full" }
    );
    // Warm up both paths once.
    let _ = spawn_floor(3);
    client.actor("trivial").call().await.expect("call");
    let floor = spawn_floor(calls);
    let mut ours = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..calls {
        let t = Instant::now();
        let run = client.actor("trivial").call().await.expect("call").expect("run");
        ours.push(t.elapsed());
        assert_eq!(run.status, ActorJobStatus::Succeeded);
        let t = Instant::now();
        let started = client.actor("trivial").start().await.expect("start");
        starts.push(t.elapsed());
        client.run(&started.id).wait_for_finish(None).await.expect("wait");
    }
    let ours = median(ours);
    let starts = median(starts);
    println!("{:<44} {:>9} {:>11} {:>7}", "", "ours ms", "floor ms", "ratio");
    println!(
        "{:<44} {:>9.2} {:>11.2} {:>7.2}",
        "call of a trivial Actor vs `sh -c true`",
        ms(ours),
        ms(floor),
        ms(ours) / ms(floor)
    );
    println!(
        "{:<44} {:>9.2} {:>11.2} {:>7.2}",
        "start answered (POST runs) vs `sh -c true`",
        ms(starts),
        ms(floor),
        ms(starts) / ms(floor)
    );
    if let Some(cli) = &cli {
        let runs = if quick { 3 } else { 10 };
        let theirs = cli_runs(cli, runs);
        println!(
            "{:<44} {:>9.2} {:>11.2} {:>7.3}",
            format!("call vs `apify run` ({runs} runs)"),
            ms(ours),
            ms(theirs),
            ms(ours) / ms(theirs)
        );
    }

    let floor = read_floor(log_bytes);
    let run = client.actor("chatty").start().await.expect("start");
    let t = Instant::now();
    let mut lines = client.run(&run.id).log().stream().raw(true).await.expect("stream").expect("log");
    let mut total = 0usize;
    while let Some(line) = lines.next().await {
        total += line.expect("line").len() + 1;
    }
    let took = t.elapsed();
    // Each 64-byte line got a 25-byte timestamp prefix on the way.
    assert_eq!(total, log_bytes + log_bytes / 64 * 25, "streamed {total} bytes");
    let mb = log_bytes as f64 / 1e6;
    println!(
        "{:<44} {:>9.0} {:>11.0} {:>7.2}",
        format!("log streamed, MB/s of output ({} MB)", log_bytes >> 20),
        mb / took.as_secs_f64(),
        mb / floor.as_secs_f64(),
        took.as_secs_f64() / floor.as_secs_f64()
    );
    server.shutdown().await;
}
