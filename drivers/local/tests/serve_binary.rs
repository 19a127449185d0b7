//! The `apify-local` binary as a user runs it: it prints its URL, binds loopback, checks the
//! token, refuses oversized bodies without reading them, and on SIGTERM finishes and
//! flushes before exiting (nothing acknowledged is lost).
#![cfg(all(unix, feature = "server"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The child server, killed if a test fails before stopping it.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(storage: &std::path::Path, extra: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apify-local"))
        .args(["serve", "--port", "0", "--storage-dir"])
        .arg(storage)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting apify-local");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().last().unwrap_or_default().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "the first line names a loopback URL: {line:?}");
    Serve { child, url }
}

/// One HTTP/1.1 request; returns status and body.
fn call(url: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before an oversized body is all sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    (status, raw[split..].to_vec())
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[test]
fn help_explains_the_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_apify-local")).args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--storage-dir", "--port", "--host", "--token"] {
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
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "apify-local did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
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
