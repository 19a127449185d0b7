//! HTTP/2 faults, on a loopback h2c server: a stream refused with `REFUSED_STREAM`, a GOAWAY
//! that names none of the request's streams, and a graceful GOAWAY after an answer. HTTP/2
//! says the refused requests were not processed (RFC 9113 §8.1.4), so they are retried even
//! where a retry must be safe: each scenario pushes items under `SafeOnly` and checks that
//! the server processed the push exactly once.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use apify_core::client::Environment;
use apify_core::retry::{NonIdempotentRetry, RetryPolicy};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::wire::dataset_json;
use super::{Feature, FeatureScenario, Mode, NetSettings, Outcome, Step, Target, client_on, ensure};

pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<FeatureScenario<D, M>> {
    vec![
        ("HTTP/2: REFUSED_STREAM is retried, even a POST", &[Feature::Http2], refused_stream),
        ("HTTP/2: GOAWAY before the stream is retried", &[Feature::Http2], goaway_before_stream),
        ("HTTP/2: graceful GOAWAY, then a new connection", &[Feature::Http2], graceful_goaway),
    ]
}

/// What the server does with a stream (or, for [`Answer::GoAwayFirst`], a connection).
#[derive(Clone, Copy)]
enum Answer {
    /// 200 with a dataset, or 201 to a POST.
    Ok,
    /// `RST_STREAM` with `REFUSED_STREAM`, the request unread.
    Refuse,
    /// Answer, and start a graceful shutdown of the connection (GOAWAY) at once.
    OkThenGoAway,
    /// On the connection's first stream: `GOAWAY` with last stream 0, then close (written
    /// frame by frame: the h2 crate has no way to leave out a stream it received).
    GoAwayFirst,
}

type Plan = Arc<dyn Fn(usize, usize) -> Answer + Send + Sync>;

/// An h2c server on `127.0.0.1`; `plan(connection, stream)` (both from 0) says what each
/// stream gets. It records the request bodies it processed.
struct H2Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    processed: Arc<Mutex<Vec<(String, Bytes)>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl H2Server {
    fn start(plan: impl Fn(usize, usize) -> Answer + Send + Sync + 'static) -> Self {
        let plan: Plan = Arc::new(plan);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("h2 server runtime: {e}"));
        let listener = runtime
            .block_on(TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))
            .unwrap_or_else(|e| panic!("h2 server bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("h2 server address: {e}"));
        let connections = Arc::new(AtomicUsize::new(0));
        let processed = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (connections.clone(), processed.clone());
        runtime.spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let i = count.fetch_add(1, Ordering::SeqCst);
                let (plan, log) = (plan.clone(), log.clone());
                tokio::spawn(async move {
                    if matches!(plan(i, 0), Answer::GoAwayFirst) {
                        let _ = goaway_first(socket).await;
                    } else {
                        let _ = serve(i, socket, plan, log).await;
                    }
                });
            }
        });
        Self { addr, connections, processed, runtime: Some(runtime) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// `METHOD path` and body of every request answered.
    fn processed(&self) -> Vec<(String, Bytes)> {
        self.processed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        // Not `drop`: that would block on connections a client still holds open.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(
    i: usize,
    socket: TcpStream,
    plan: Plan,
    log: Arc<Mutex<Vec<(String, Bytes)>>>,
) -> Result<(), h2::Error> {
    let mut conn = h2::server::handshake(socket).await?;
    let mut n = 0;
    // The connection makes progress only while it is polled: each stream runs in a task.
    while let Some(stream) = conn.accept().await {
        let (req, mut respond) = stream?;
        let answer = plan(i, n);
        n += 1;
        if let Answer::Refuse = answer {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        if let Answer::OkThenGoAway = answer {
            // The streams already accepted finish; no new one is.
            conn.graceful_shutdown();
        }
        let log = log.clone();
        tokio::spawn(async move {
            let what = format!("{} {}", req.method(), req.uri().path());
            let post = req.method() == http::Method::POST;
            let mut body = req.into_body();
            let mut got = Vec::new();
            while let Some(chunk) = body.data().await {
                let Ok(chunk) = chunk else { return };
                let _ = body.flow_control().release_capacity(chunk.len());
                got.extend_from_slice(&chunk);
            }
            log.lock().unwrap_or_else(|e| e.into_inner()).push((what, Bytes::from(got)));
            let (status, body) = if post { (201, "{}".to_owned()) } else { (200, dataset_json("d").to_string()) };
            let head = http::Response::builder().status(status).header("content-type", "application/json").body(());
            let Ok(head) = head else { return };
            if let Ok(mut send) = respond.send_response(head, false) {
                let _ = send.send_data(Bytes::from(body), true);
            }
        });
    }
    Ok(())
}

/// The preface and settings, then `GOAWAY` (last stream 0, `NO_ERROR`) as the first
/// request's HEADERS arrive: the request was not processed.
async fn goaway_first(mut socket: TcpStream) -> std::io::Result<()> {
    const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];
    const GOAWAY: [u8; 17] = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut preface = [0u8; 24];
    socket.read_exact(&mut preface).await?;
    socket.write_all(&SETTINGS).await?;
    loop {
        let mut head = [0u8; 9];
        socket.read_exact(&mut head).await?;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0; len];
        socket.read_exact(&mut payload).await?;
        match (head[3], head[4]) {
            // Their SETTINGS (not an ACK of ours).
            (4, flags) if flags & 1 == 0 => socket.write_all(&SETTINGS_ACK).await?,
            // HEADERS: a request.
            (1, _) => {
                socket.write_all(&GOAWAY).await?;
                socket.shutdown().await?;
                let mut sink = [0u8; 4096];
                while socket.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            _ => {}
        }
    }
}

fn h2c() -> NetSettings {
    NetSettings { http2_prior_knowledge: true, ..NetSettings::default() }
}

/// A push under `SafeOnly`: retried only after a failure that proves it was not processed.
fn safe_push<D: Environment, M: Mode<D>>(t: &Target<D, M>, server: &H2Server) -> Result<Bytes, String> {
    let c = client_on(t, &server.url(), &h2c(), |c| {
        let policy = RetryPolicy { non_idempotent: NonIdempotentRetry::SafeOnly, ..c.retry_policy().clone() };
        c.with_retry_policy(policy)
    });
    let body = Bytes::from_static(br#"[{"n":1},{"n":2}]"#);
    t.mode.call(c.dataset("d").push_items_json(body.clone())).step("push under SafeOnly")?;
    Ok(body)
}

fn pushes(server: &H2Server) -> Vec<Bytes> {
    server.processed().into_iter().filter(|(what, _)| what == "POST /v2/datasets/d/items").map(|(_, b)| b).collect()
}

fn refused_stream<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = H2Server::start(|conn, stream| if (conn, stream) == (0, 0) { Answer::Refuse } else { Answer::Ok });
    let body = safe_push(t, &server)?;
    ensure!(pushes(&server) == [body], "pushes processed: {:?}", server.processed());
    Ok(())
}

fn goaway_before_stream<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = H2Server::start(|conn, _| if conn == 0 { Answer::GoAwayFirst } else { Answer::Ok });
    let body = safe_push(t, &server)?;
    ensure!(pushes(&server) == [body], "pushes processed: {:?}", server.processed());
    ensure!(server.connections() == 2, "{} connections", server.connections());
    Ok(())
}

fn graceful_goaway<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    // Every connection answers one stream and goes away.
    let server = H2Server::start(|_, stream| if stream == 0 { Answer::OkThenGoAway } else { Answer::Refuse });
    let c = client_on(t, &server.url(), &h2c(), |c| c);
    for n in 0..3 {
        let got = t.mode.call(c.dataset("d").get()).step(&format!("get {n}"))?.ok_or("no dataset")?;
        ensure!(got.id == "d", "{}", got.id);
    }
    let body = safe_push(t, &server)?;
    ensure!(pushes(&server) == [body], "pushes processed: {:?}", server.processed());
    ensure!(server.processed().len() == 4, "requests processed: {:?}", server.processed());
    Ok(())
}
