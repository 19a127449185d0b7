//! The `apify-local` binary as a user runs it: it prints its URL, binds loopback, checks the
//! token, refuses oversized bodies without reading them, bounds connections in number and
//! time, logs to stderr without the token, refuses a folder another server holds, and on
//! SIGTERM finishes and flushes before exiting (nothing acknowledged is lost).
#![cfg(all(unix, feature = "server"))]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::*;

#[test]
fn help_explains_the_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_apify-local")).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--storage-dir",
        "--port",
        "--host",
        "--token",
        "--header-timeout-ms",
        "--body-timeout-ms",
        "--idle-timeout-ms",
        "--max-connections",
        "--log-level",
    ] {
        assert!(text.contains(flag), "{flag} is explained:\n{text}");
    }
}

#[test]
fn token_oversize_and_sigterm_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let mut server = serve(&storage, &["--token", "s3cret", "--durability", "relaxed"]);
    let url = server.url.clone();

    // 401 with the platform's error body, without and with a wrong token.
    for token in [None, Some("wrong")] {
        let (status, body) = call(&url, "GET", "/v2/datasets", token, b"");
        assert_eq!(status, 401);
        assert!(json(&body)["error"]["type"].is_string());
    }

    let (status, body) = call(&url, "POST", "/v2/datasets?name=kept", Some("s3cret"), b"");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let id = json(&body)["data"]["id"].as_str().unwrap().to_owned();
    let items: Vec<Value> = (0..250).map(|i| serde_json::json!({"n": i})).collect();
    let (status, _) =
        call(&url, "POST", &format!("/v2/datasets/{id}/items"), Some("s3cret"), &serde_json::to_vec(&items).unwrap());
    assert_eq!(status, 201);
    let (status, _) = call(&url, "PUT", "/v2/key-value-stores/default/records/OUT", Some("s3cret"), br#"{"ok": true}"#);
    assert_eq!(status, 201);

    // Over 9 MiB: 413 with the platform's error type, and nothing stored.
    let big = vec![b' '; 9_437_184 + 10];
    let (status, body) = call(&url, "POST", &format!("/v2/datasets/{id}/items"), Some("s3cret"), &big);
    assert_eq!(status, 413);
    assert_eq!(json(&body)["error"]["type"], "request-too-large");

    // SIGTERM: a clean exit, and the folder says what was acknowledged.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let stderr = server.stderr();
    assert!(stderr.contains("shutting down"), "{stderr}");

    let dir = storage.join("datasets/kept");
    let files = std::fs::read_dir(&dir).unwrap().filter(|e| {
        let name = e.as_ref().unwrap().file_name();
        let name = name.to_string_lossy();
        name.len() == 14 && name.ends_with(".json")
    });
    assert_eq!(files.count(), 250);
    let meta = json(&std::fs::read(dir.join("__metadata__.json")).unwrap());
    assert_eq!(meta["item_count"], 250, "the metadata was flushed on shutdown: {meta}");
    let out = std::fs::read(storage.join("key_value_stores/default/OUT")).unwrap();
    assert_eq!(json(&out), serde_json::json!({"ok": true}));
    assert!(storage.join("key_value_stores/default/OUT.__metadata__.json").exists());
    // The port is free again: the process is gone, not lingering.
    assert!(TcpStream::connect(url.trim_start_matches("http://")).is_err());
}

/// #4: a client trickling its request head is closed once the header timeout passes.
#[test]
fn a_slowloris_head_is_closed_after_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &["--header-timeout-ms", "1000", "--idle-timeout-ms", "60000"]);
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(format!("GET /v2/datasets HTTP/1.1\r\nHost: {}\r\n", server.addr()).as_bytes()).unwrap();
    // A header line every 100 ms: bytes keep moving, the head never ends.
    let took = closed_within(&mut s, Duration::from_secs(10), |s| {
        let _ = s.write_all(b"X-Slow: 1\r\n");
    });
    let took = took.expect("a connection trickling its head was still open after 10 s");
    assert!(took >= Duration::from_millis(800), "closed after {took:?}, before the header timeout");
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
    // Normal requests are unaffected.
    assert_eq!(call(&server.url, "GET", "/v2/datasets", None, b"").0, 200);
}

/// #4: a body that does not arrive within the body timeout gets 408, and the connection is
/// closed.
#[test]
fn a_stalled_body_gets_408_after_the_body_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &["--body-timeout-ms", "700", "--idle-timeout-ms", "60000"]);
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v2/datasets/default/items HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{{\"a\": 1",
        server.addr()
    );
    let start = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    let (status, head, body) = read_response(&mut s);
    let took = start.elapsed();
    assert_eq!(status, 408, "{head}");
    assert!(took >= Duration::from_millis(500), "answered after {took:?}, before the body timeout");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(json(&body)["error"]["type"], "request-timeout");
    assert!(closed_within(&mut s, Duration::from_secs(10), |_| {}).is_some(), "closed after the 408");
    let (status, body) = call(&server.url, "GET", "/v2/datasets/default/items", None, b"");
    assert_eq!((status, json(&body)), (200, serde_json::json!([])), "nothing was stored");
}

/// #4: a connection that sends nothing, and a kept-alive one between requests, are closed
/// once idle for the idle timeout (the header timeout is far away here).
#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &["--idle-timeout-ms", "600", "--header-timeout-ms", "60000"]);

    let mut silent = TcpStream::connect(server.addr()).unwrap();
    let took = closed_within(&mut silent, Duration::from_secs(10), |_| {});
    let took = took.expect("a connection that sent nothing was still open after 10 s");
    assert!((Duration::from_millis(400)..Duration::from_secs(5)).contains(&took), "closed after {took:?}");

    let mut kept = TcpStream::connect(server.addr()).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!("GET /v2/datasets HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr());
    for _ in 0..3 {
        // Within the idle timeout the connection is reused: idle time counts from the end
        // of the last request.
        kept.write_all(request.as_bytes()).unwrap();
        let (status, head, _) = read_response(&mut kept);
        assert_eq!(status, 200);
        assert!(!head.contains("connection: close"), "{head}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let took = closed_within(&mut kept, Duration::from_secs(10), |_| {});
    let took = took.expect("an idle kept-alive connection was still open after 10 s");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

/// #4: 300 idle connections against a server limited to 128 descriptors: it stays within
/// its connection limit (half the descriptors), closes the idlest for newcomers, keeps
/// serving, and does not spin.
#[cfg(target_os = "linux")]
#[test]
fn idle_connections_beyond_the_descriptor_limit_do_not_stop_service() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve_with_nofile(128, &tmp.path().join("storage"), &[]);
    assert_eq!(call(&server.url, "POST", "/v2/datasets?name=kept", None, b"").0, 201);
    let held: Vec<TcpStream> = (0..300).map(|_| connect(server.addr())).collect();
    std::thread::sleep(Duration::from_millis(500));

    let pid = server.child.id();
    let cpu_before = cpu_time(pid);
    let window = Instant::now();
    for i in 0..10 {
        let (status, body) = call_with(&server.url, "GET", "/v2/datasets/~kept", "", b"", Duration::from_secs(5));
        assert_eq!(
            status,
            200,
            "request {i} with 300 idle connections held: {}\n{}",
            String::from_utf8_lossy(&body),
            server.stderr()
        );
        let item = format!(r#"{{"i": {i}}}"#);
        let (status, _) =
            call_with(&server.url, "POST", "/v2/datasets/~kept/items", "", item.as_bytes(), Duration::from_secs(5));
        assert_eq!(status, 201);
    }
    std::thread::sleep(Duration::from_secs(1));
    let cpu = cpu_time(pid) - cpu_before;
    let elapsed = window.elapsed();
    assert!(cpu < elapsed / 2, "{cpu:?} of CPU in {elapsed:?}: the server spins");
    let stderr = server.stderr();
    assert!(!stderr.contains("accepting connections failed"), "the connection limit keeps descriptors free:\n{stderr}");
    drop(held);
}

/// #4: at the connection limit with every connection busy (here uploading), a newcomer is
/// answered 503 and closed; once one is free again, service resumes.
#[test]
fn at_the_limit_with_all_busy_a_newcomer_gets_503() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &["--max-connections", "2"]);
    let head = format!(
        "POST /v2/datasets/default/items HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[",
        server.addr()
    );
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = call_with(&server.url, "GET", "/v2/datasets", "", b"", Duration::from_secs(5));
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["error"]["type"], "server-busy");
    let stderr = server.stderr_with("all connections are busy");
    assert!(stderr.contains("all connections are busy"), "{stderr}");
    // One upload ends: its connection is free (idle), the next newcomer gets it.
    let mut done = busy.remove(0);
    done.write_all(format!("{}]", " ".repeat(98)).as_bytes()).unwrap();
    done.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_response(&mut done).0, 201);
    let (status, body) = call_with(&server.url, "GET", "/v2/datasets", "", b"", Duration::from_secs(5));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// #4: with a connection limit above the descriptor limit, `accept` fails (EMFILE): the
/// server backs off (no busy loop), warns once for the burst, and serves again once the
/// descriptors are back.
#[cfg(target_os = "linux")]
#[test]
fn running_out_of_descriptors_backs_off() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve_with_nofile(64, &tmp.path().join("storage"), &["--max-connections", "1000"]);
    let held: Vec<TcpStream> = (0..200).map(|_| connect(server.addr())).collect();
    std::thread::sleep(Duration::from_millis(500));
    let pid = server.child.id();
    let cpu_before = cpu_time(pid);
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let cpu = cpu_time(pid) - cpu_before;
    assert!(cpu < window.elapsed() / 2, "{cpu:?} of CPU in {:?}: the accept loop spins", window.elapsed());
    drop(held);
    let start = Instant::now();
    loop {
        let (status, _) = call_with(&server.url, "GET", "/v2/datasets", "", b"", Duration::from_secs(5));
        if status == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "not serving again after the descriptors came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stderr = server.stderr();
    let warnings = stderr.matches("accepting connections failed").count();
    assert_eq!(warnings, 1, "one warning for the burst:\n{stderr}");
    assert!(stderr.contains("WARN"), "{stderr}");
}

/// #5: a declared Content-Length over the limit gets 413 from the headers: with
/// `Expect: 100-continue` instead of a `100 Continue`, and without it before any body byte;
/// the connection says it closes and does.
#[test]
fn oversized_uploads_are_refused_from_the_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &[]);
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "POST /v2/datasets/default/items HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{expect}\r\n",
            server.addr(),
            50 << 20
        );
        s.write_all(head.as_bytes()).unwrap();
        let (status, head, body) = read_response(&mut s);
        assert_eq!(status, 413, "{expect:?}: {head}");
        assert!(head.contains("connection: close"), "{head}");
        assert_eq!(json(&body)["error"]["type"], "request-too-large");
        let closed = closed_within(&mut s, Duration::from_secs(10), |_| {});
        assert!(closed.is_some(), "the connection is closed after the 413");
    }

    // A chunked body is refused as soon as it passes the limit: the 413 is there to read
    // while the upload has not ended.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /v2/datasets/default/items HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.addr()
    );
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..10 {
        let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = s.write_all(&chunk);
        let _ = s.write_all(b"\r\n");
    }
    let (status, head, body) = read_response(&mut s);
    assert_eq!(status, 413, "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(json(&body)["error"]["type"], "request-too-large");
    // Nothing was stored, and the server goes on.
    let (status, body) = call(&server.url, "GET", "/v2/datasets/default/items", None, b"");
    assert_eq!(status, 200);
    assert_eq!(json(&body), serde_json::json!([]));
}

/// #6: `--log-level debug` logs one line per request on stderr, and never the token,
/// whether it came in the header or in `?token=`.
#[test]
fn requests_are_logged_without_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let token = "s3cr3t-T0KEN-value";
    let server = serve(&tmp.path().join("storage"), &["--token", token, "--log-level", "debug"]);
    let auth = format!("Authorization: Bearer {token}\r\n");
    let within = Duration::from_secs(20);
    assert_eq!(call_with(&server.url, "GET", "/v2/datasets?limit=3", &auth, b"", within).0, 200);
    let query = format!("/v2/key-value-stores?token={token}&desc=1");
    assert_eq!(call_with(&server.url, "GET", &query, "", b"", within).0, 200);
    let encoded = format!("/v2/request-queues?%74oken={token}");
    assert_eq!(call_with(&server.url, "GET", &encoded, "", b"", within).0, 200);
    assert_eq!(call_with(&server.url, "GET", "/v2/datasets", "Authorization: Bearer wrong\r\n", b"", within).0, 401);
    let stderr = server.stderr_with("status=401");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("DEBUG") && l.contains("request")).collect();
    for expected in [
        "path=/v2/datasets?limit=3 status=200",
        "path=/v2/key-value-stores?desc=1 status=200",
        "path=/v2/request-queues status=200",
        "path=/v2/datasets status=401",
    ] {
        assert!(
            lines.iter().any(|l| l.contains("method=GET") && l.contains(expected) && l.contains("elapsed=")),
            "{expected}:\n{stderr}"
        );
    }
    assert!(!stderr.contains(token), "the token is in the log:\n{stderr}");
    assert!(!stderr.to_ascii_lowercase().contains("authorization"), "{stderr}");
}

/// #6: warnings reach stderr at the default level (here a corrupt record sidecar, skipped),
/// request lines do not; `RUST_LOG` is honoured without the flag.
#[test]
fn warnings_are_logged_at_the_default_level() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let store = storage.join("key_value_stores/default");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("REC"), b"{}").unwrap();
    std::fs::write(store.join("REC.__metadata__.json"), b"{not json").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apify-local"));
    cmd.env_remove("RUST_LOG");
    let server = spawn(cmd, &storage, &[]);
    assert_eq!(call(&server.url, "GET", "/v2/key-value-stores/default/keys", None, b"").0, 200);
    let stderr = server.stderr_with("REC.__metadata__.json");
    assert!(stderr.lines().any(|l| l.contains("WARN") && l.contains("REC.__metadata__.json")), "{stderr}");
    assert!(!stderr.contains("status=200"), "requests are debug lines:\n{stderr}");
    drop(server);

    let other = tmp.path().join("other");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apify-local"));
    cmd.env("RUST_LOG", "debug");
    let server = spawn(cmd, &other, &[]);
    assert_eq!(call(&server.url, "GET", "/v2/datasets", None, b"").0, 200);
    let stderr = server.stderr_with("path=/v2/datasets status=200");
    assert!(stderr.contains("path=/v2/datasets status=200"), "{stderr}");
}

/// #7: a second server on the same folder exits at once, naming the folder and the lock;
/// the first goes on serving.
#[test]
fn a_second_server_on_the_same_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let first = serve(&storage, &[]);
    assert_eq!(call(&first.url, "POST", "/v2/datasets?name=mine", None, b"").0, 201);

    let mut second = Command::new(env!("CARGO_BIN_EXE_apify-local"))
        .args(["serve", "--port", "0", "--storage-dir"])
        .arg(&storage)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = second.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = second.wait_with_output().unwrap();
    let status = status.unwrap_or_else(|| panic!("the second server was still running after 10 s: {out:?}"));
    assert!(!status.success(), "the second server started: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&storage.display().to_string()), "names the folder: {stderr}");
    assert!(stderr.contains(&storage.join(".locks/serve.lock").display().to_string()), "names the lock: {stderr}");
    assert!(stderr.contains("already being served"), "{stderr}");
    assert!(out.stdout.is_empty(), "no URL printed: {}", String::from_utf8_lossy(&out.stdout));

    let (status, body) = call(&first.url, "GET", "/v2/datasets/~mine", None, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// #8: the Bearer scheme is case-insensitive; a wrong token (or credentials of another
/// scheme) is `invalid-token`, a missing one `token-not-provided`.
#[test]
fn the_bearer_scheme_is_case_insensitive_and_wrong_tokens_are_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let server = serve(&tmp.path().join("storage"), &["--token", "s3cret"]);
    let within = Duration::from_secs(20);
    let get = |extra: &str, path: &str| call_with(&server.url, "GET", path, extra, b"", within);
    for header in
        ["Authorization: Bearer s3cret\r\n", "Authorization: bearer s3cret\r\n", "Authorization: BEARER  s3cret\r\n"]
    {
        let (status, body) = get(header, "/v2/datasets");
        assert_eq!(status, 200, "{header:?}: {}", String::from_utf8_lossy(&body));
    }
    assert_eq!(get("", "/v2/datasets?token=s3cret").0, 200);
    for (header, path) in [
        ("Authorization: Bearer wrong\r\n", "/v2/datasets"),
        ("Authorization: bearer wrong\r\n", "/v2/datasets"),
        ("Authorization: Basic czNjcmV0\r\n", "/v2/datasets"),
        ("", "/v2/datasets?token=wrong"),
    ] {
        let (status, body) = get(header, path);
        assert_eq!(status, 401, "{header:?} {path}");
        assert_eq!(json(&body)["error"]["type"], "invalid-token", "{header:?} {path}");
    }
    let (status, body) = get("", "/v2/datasets");
    assert_eq!(status, 401);
    assert_eq!(json(&body)["error"]["type"], "token-not-provided");
}
