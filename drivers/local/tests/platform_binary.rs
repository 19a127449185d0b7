//! The local platform of the `apify-local` binary under stress: a `kill -9` of the emulator
//! with runs in flight, an Actor that prints 100 MB, one that ignores SIGTERM and never
//! exits, and 50 runs at once.
#![cfg(all(unix, feature = "server"))]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn run_of(url: &str, actor: &str, query: &str) -> Value {
    let (status, body) = call(url, "POST", &format!("/v2/acts/{actor}/runs?{query}"), None, b"{}");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    json(&body)["data"].clone()
}

fn get_run(url: &str, id: &str) -> Value {
    let (status, body) = call(url, "GET", &format!("/v2/actor-runs/{id}"), None, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    json(&body)["data"].clone()
}

fn log_of(url: &str, id: &str) -> String {
    let (status, body) = call(url, "GET", &format!("/v2/actor-runs/{id}/log"), None, b"");
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body).into_owned()
}

/// Whether any process of group `pgid` is alive (`kill -0 -PGID`).
fn group_alive(pgid: i64) -> bool {
    std::process::Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn wait_until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_killed_emulator_leaves_no_run_running_and_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    // A grandchild too: the whole group must go.
    let spin = "spin=echo started; sh -c 'sleep 300' & sleep 300";
    let server = serve(&storage, &["--actor", spin]);
    let ids: Vec<String> = (0..3).map(|_| run_of(&server.url, "spin", "")["id"].as_str().unwrap().to_owned()).collect();
    for id in &ids {
        wait_until(Duration::from_secs(10), "the run starts", || log_of(&server.url, id).contains("started"));
    }
    let groups: Vec<i64> = ids
        .iter()
        .map(|id| {
            let record: Value =
                serde_json::from_slice(&std::fs::read(storage.join("actor_runs").join(id).join("run.json")).unwrap())
                    .unwrap();
            assert_eq!(record["status"], "RUNNING");
            record["processGroup"].as_i64().expect("the record names the process group")
        })
        .collect();
    assert!(groups.iter().all(|g| group_alive(*g)));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    drop(server);
    // The watchdog of each run sees the emulator's pipe close and kills its group.
    wait_until(Duration::from_secs(5), "every run's processes are gone", || groups.iter().all(|g| !group_alive(*g)));

    let server = serve(&storage, &["--actor", spin]);
    for id in &ids {
        let run = get_run(&server.url, id);
        assert_eq!(run["status"], "FAILED", "{run}");
        assert!(run["finishedAt"].is_string());
        assert!(run["statusMessage"].as_str().unwrap().contains("lost"), "{run}");
        let log = log_of(&server.url, id);
        assert!(log.contains("started") && log.contains("ACTOR: The run's process was lost"), "{log}");
    }
    // The folder is usable: a new run goes through.
    let (status, body) = call(&server.url, "POST", "/v2/acts/spin/runs", None, b"");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn an_actor_printing_100_mb_is_logged_whole() {
    let dir = tempfile::tempdir().unwrap();
    // 100 MiB of 64-byte lines.
    let chatty = "chatty=yes 'a line of the chatty Actor, padded to sixty-four bytes in all..' | head -c 104857600";
    let server = serve(&dir.path().join("storage"), &["--actor", chatty]);
    let run = run_of(&server.url, "chatty", "waitForFinish=60");
    let run = if run["status"] == "SUCCEEDED" { run } else { wait_done(&server.url, run["id"].as_str().unwrap()) };
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let (status, body) =
        call(&server.url, "GET", &format!("/v2/actor-runs/{}/log?raw=1", run["id"].as_str().unwrap()), None, b"");
    assert_eq!(status, 200);
    let lines = 104_857_600 / 64;
    // Each line got a 24-byte timestamp and a space.
    assert_eq!(body.len(), 104_857_600 + lines * 25);
    assert!(body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).all(|l| l.len() == 64 + 24 && l[23] == b'Z'));
}

fn wait_done(url: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (_, body) = call(url, "GET", &format!("/v2/actor-runs/{id}?waitForFinish=60"), None, b"");
        let run = json(&body)["data"].clone();
        if !matches!(run["status"].as_str(), Some("READY" | "RUNNING" | "ABORTING" | "TIMING-OUT")) {
            return run;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the run did not finish: {run}");
    }
}

#[test]
fn an_actor_that_ignores_sigterm_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let forever = "forever=trap '' TERM; echo stubborn; while :; do sleep 1; done";
    let server = serve(&dir.path().join("storage"), &["--actor", forever, "--kill-grace-ms", "300"]);
    let started = Instant::now();
    let run = run_of(&server.url, "forever", "timeout=1&waitForFinish=20");
    let took = started.elapsed();
    assert_eq!(run["status"], "TIMED-OUT", "{run}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let id = run["id"].as_str().unwrap();
    let log = log_of(&server.url, id);
    assert!(log.contains("stubborn") && log.contains("reached the timeout of 1 seconds"), "{log}");
    assert!(run["finishedAt"].is_string() && run["stats"]["durationMillis"].as_u64().unwrap() >= 1000, "{run}");
}

#[test]
fn fifty_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Each run waits for the gate, so all 50 hold their slots when the 51st asks.
    let gate = dir.path().join("go");
    let echo = format!(
        "echo=echo \"I am $ACTOR_RUN_ID with $ACTOR_DEFAULT_DATASET_ID\"; while [ ! -e '{}' ]; do sleep 0.05; done",
        gate.display()
    );
    let server = serve(&dir.path().join("storage"), &["--actor", &echo, "--max-concurrent-runs", "50"]);
    let url = server.url.clone();
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || run_of(&url, "echo", "")["id"].as_str().unwrap().to_owned())
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // The 51st is over the limit while the 50 run.
    let (status, body) = call(&url, "POST", "/v2/acts/echo/runs", None, b"");
    assert_eq!(status, 402, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["error"]["type"], "concurrent-runs-limit-exceeded");
    std::fs::write(&gate, b"").unwrap();
    let mut datasets = std::collections::HashSet::new();
    for id in &ids {
        let run = wait_done(&url, id);
        assert_eq!(run["status"], "SUCCEEDED", "{run}");
        let dataset = run["defaultDatasetId"].as_str().unwrap().to_owned();
        assert!(log_of(&url, id).contains(&format!("I am {id} with {dataset}")));
        datasets.insert(dataset);
    }
    assert_eq!(datasets.len(), 50, "each run has its own dataset");
    let (_, body) = call(&url, "GET", "/v2/actor-runs?limit=1000&status=SUCCEEDED", None, b"");
    assert_eq!(json(&body)["data"]["total"], 50);
}

#[test]
fn a_stopped_emulator_stops_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let spin = "spin=echo started; sleep 300";
    let mut server = serve(&storage, &["--actor", spin, "--kill-grace-ms", "300"]);
    let id = run_of(&server.url, "spin", "")["id"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(10), "the run starts", || log_of(&server.url, &id).contains("started"));
    let record = |storage: &std::path::Path| -> Value {
        serde_json::from_slice(&std::fs::read(storage.join("actor_runs").join(&id).join("run.json")).unwrap()).unwrap()
    };
    let pgid = record(&storage)["processGroup"].as_i64().unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait(Duration::from_secs(10)).success());
    // Killed before the emulator exits; reaped by whoever inherited them just after.
    wait_until(Duration::from_secs(5), "the run's processes are gone", || !group_alive(pgid));
    let run = record(&storage);
    assert_eq!(run["status"], "ABORTED", "{run}");
    assert!(run["processGroup"].is_null() && run["finishedAt"].is_string(), "{run}");
    let log = std::fs::read_to_string(storage.join("actor_runs").join(&id).join("log.txt")).unwrap();
    assert!(log.contains("ACTOR: The run was aborted: the emulator is shutting down."), "{log}");
}

#[test]
fn bad_run_options_are_clear_errors_and_huge_ones_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("storage"), &["--actor", "echo=echo \"$ACTOR_TIMEOUT_AT\""]);
    // A timeout too large for any clock is no timeout, not a crash.
    let run = run_of(&server.url, "echo", "timeout=18446744073709551615&waitForFinish=20");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let run = run_of(&server.url, "echo", "timeout=600&waitForFinish=20");
    let log = log_of(&server.url, run["id"].as_str().unwrap());
    assert!(log.trim_end().ends_with('Z') && log.len() > 40, "ACTOR_TIMEOUT_AT is set: {log}");
    for (query, kind) in
        [("memory=100", "invalid-parameter"), ("timeout=-1", "invalid-parameter"), ("build=9.9", "record-not-found")]
    {
        let (status, body) = call(&server.url, "POST", &format!("/v2/acts/echo/runs?{query}"), None, b"");
        assert!(status == 400 || status == 404, "{query}: {status}");
        assert_eq!(json(&body)["error"]["type"], kind, "{query}");
    }
    let (status, body) = call(&server.url, "POST", "/v2/acts/nobody/runs", None, b"");
    assert_eq!((status, json(&body)["error"]["type"].as_str()), (404, Some("record-not-found")));
}

#[test]
fn tasks_and_finished_runs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let actor = "echo=echo \"task $ACTOR_TASK_ID\"";
    let mut server = serve(&storage, &["--actor", actor]);
    let body = br#"{"actId": "echo", "name": "kept", "input": {"a": 1}, "options": {"timeoutSecs": 30}}"#;
    let (status, created) = call(&server.url, "POST", "/v2/actor-tasks", None, body);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&created));
    let task_id = json(&created)["data"]["id"].as_str().unwrap().to_owned();
    let (status, run) = call(&server.url, "POST", "/v2/actor-tasks/local~kept/runs?waitForFinish=20", None, b"");
    assert_eq!(status, 201);
    let run = json(&run)["data"].clone();
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert!(log_of(&server.url, &run_id).contains(&format!("task {task_id}")), "ACTOR_TASK_ID is set");
    // An Actor created through the API is kept too, with its sources.
    let made = br#"{"name": "made", "versions": [{"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
        "sourceFiles": [{"name": "Dockerfile", "content": "CMD echo made here"}]}]}"#;
    let (status, body) = call(&server.url, "POST", "/v2/acts", None, made);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait(Duration::from_secs(10)).success());

    let server = serve(&storage, &["--actor", actor]);
    let made_run = run_of(&server.url, "made", "waitForFinish=20");
    assert_eq!(made_run["status"], "SUCCEEDED", "{made_run}");
    assert!(log_of(&server.url, made_run["id"].as_str().unwrap()).contains("made here"));
    let (status, task) = call(&server.url, "GET", &format!("/v2/actor-tasks/{task_id}"), None, b"");
    assert_eq!(status, 200);
    let task = json(&task)["data"].clone();
    assert_eq!((task["name"].as_str(), task["input"]["a"].as_i64()), (Some("kept"), Some(1)), "{task}");
    assert_eq!(task["options"]["timeoutSecs"], 30);
    assert_eq!(task["stats"]["totalRuns"], 1);
    let (status, last) = call(&server.url, "GET", "/v2/actor-tasks/local~kept/runs/last?status=SUCCEEDED", None, b"");
    assert_eq!(status, 200);
    assert_eq!(json(&last)["data"]["id"], run_id.as_str());
    assert!(log_of(&server.url, &run_id).contains(&format!("task {task_id}")), "the log is kept");
    // A task of an Actor that is no longer declared says so when started.
    drop(server);
    let server = serve(&storage, &["--actor", "other=true"]);
    let (status, body) = call(&server.url, "POST", "/v2/actor-tasks/local~kept/runs", None, b"");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(
        json(&body)["error"]["message"].as_str().unwrap().contains("not declared"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Accepts one HTTP request on `listener`, answers 200 and returns the request's text.
fn receive_one(listener: &std::net::TcpListener) -> String {
    use std::io::{Read, Write};
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
                return text;
            }
        }
        assert!(n > 0, "the request ended early: {text}");
    }
}

#[test]
fn a_webhook_dispatch_outlives_a_restart_and_is_delivered_when_the_receiver_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let flags = ["--actor", "echo=echo hi", "--webhook-retry-ms", "100", "--webhook-max-retries", "1000"];
    let mut server = serve(&storage, &flags);
    // A port with nobody listening, for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hook = format!(
        r#"{{"eventTypes": ["ACTOR.RUN.SUCCEEDED"], "requestUrl": "http://127.0.0.1:{port}/later", "condition": {{"actorId": "echo"}}}}"#
    );
    let (status, body) = call(&server.url, "POST", "/v2/webhooks", None, hook.as_bytes());
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let run = run_of(&server.url, "echo", "waitForFinish=20");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let dispatch = |url: &str| -> Value {
        let (_, body) = call(url, "GET", "/v2/webhook-dispatches", None, b"");
        json(&body)["data"]["items"][0].clone()
    };
    wait_until(Duration::from_secs(10), "a failed call is recorded", || {
        dispatch(&server.url)["calls"].as_array().is_some_and(|c| !c.is_empty())
    });
    let d = dispatch(&server.url);
    assert_eq!(d["status"], "ACTIVE", "{d}");
    assert!(d["calls"][0]["errorMessage"].as_str().unwrap().contains("connect"), "{d}");
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait(Duration::from_secs(10)).success());

    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = serve(&storage, &flags);
    let request = receive_one(&listener);
    assert!(request.starts_with("POST /later HTTP/1.1"), "{request}");
    assert!(request.contains(&format!("\"id\":\"{}\"", run["id"].as_str().unwrap())), "{request}");
    wait_until(Duration::from_secs(10), "the dispatch succeeds", || dispatch(&server.url)["status"] == "SUCCEEDED");
    let d = dispatch(&server.url);
    let calls = d["calls"].as_array().unwrap();
    assert!(calls.len() >= 2 && calls.last().unwrap()["responseStatus"] == 200, "{d}");
}
