//! What the tests of the `apify-local` binary share: the child server and raw HTTP/1.1 calls.
#![allow(dead_code)]
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The child server, killed if a test fails before stopping it.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) url: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    /// What it wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Its stderr once it contains `needle` (or after 5 s, for the assertion to show).
    pub(crate) fn stderr_with(&self, needle: &str) -> String {
        let start = Instant::now();
        while !self.stderr().contains(needle) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stderr()
    }

    pub(crate) fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Waits for the process to exit, then for the rest of its stderr.
    pub(crate) fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < within, "apify-local did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(storage: &Path, extra: &[&str]) -> Serve {
    spawn(Command::new(env!("CARGO_BIN_EXE_apify-local")), storage, extra)
}

/// The binary with its descriptor limit (soft and hard) lowered to `nofile`.
pub(crate) fn serve_with_nofile(nofile: u32, storage: &Path, extra: &[&str]) -> Serve {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_apify-local")]);
    spawn(cmd, storage, extra)
}

/// Starts `cmd serve --port 0 --storage-dir STORAGE EXTRA..`; stderr is collected as it
/// comes (a full pipe would block the server).
pub(crate) fn spawn(mut cmd: Command, storage: &Path, extra: &[&str]) -> Serve {
    let mut child = cmd
        .args(["serve", "--port", "0", "--storage-dir"])
        .arg(storage)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting apify-local");
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = BufReader::new(child.stderr.take().unwrap());
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        while pipe.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().last().unwrap_or_default().to_owned();
    let serve = Serve { child, url, stderr, reader: Some(reader) };
    assert!(
        serve.url.starts_with("http://127.0.0.1:"),
        "the first line names a loopback URL: {line:?}\n{}",
        serve.stderr()
    );
    serve
}

/// One HTTP/1.1 request; returns status and body.
pub(crate) fn call(url: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    call_with(url, method, path, &auth, body, Duration::from_secs(20))
}

/// One HTTP/1.1 request with `extra` header lines, the answer awaited at most `within`.
pub(crate) fn call_with(
    url: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
    within: Duration,
) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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

/// One response read off a connection that stays open: status, lower-cased head, body.
pub(crate) fn read_response(s: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut buf).expect("reading a response head");
        assert!(n > 0, "the connection closed before a response: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = raw[end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut buf).expect("reading a response body");
        assert!(n > 0, "the connection closed inside a body");
        body.extend_from_slice(&buf[..n]);
    }
    (status, head, body)
}

/// Waits until the server closes `s`, calling `tick` between checks (every 100 ms); the
/// time it took, or `None` if it was still open after `within`.
pub(crate) fn closed_within(
    s: &mut TcpStream,
    within: Duration,
    mut tick: impl FnMut(&mut TcpStream),
) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 1024];
    while start.elapsed() < within {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => return Some(start.elapsed()),
        }
        tick(s);
    }
    None
}

/// A connection that is not used (bounded: a wedged server must fail the test, not hang it).
#[cfg(target_os = "linux")]
pub(crate) fn connect(addr: &str) -> TcpStream {
    TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5)).expect("connecting")
}

/// CPU time (user + system) the process has used, from /proc (clock ticks of 10 ms).
#[cfg(target_os = "linux")]
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

pub(crate) fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}
