//! Proxies: a loopback proxy written here records each request it is asked for (a
//! `CONNECT host:port`, or an absolute-form `GET http://...`) and its
//! `Proxy-Authorization`, refuses wrong credentials with 407, and tunnels the bytes to the
//! target. Drivers get their proxies as a [`ProxyConfig`]: explicit, or read from an
//! environment map (never the process environment, which other scenarios share).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};

use apify_core::client::Environment;
use apify_core::error::TransportErrorKind;
use apify_core::net::{Proxy, ProxyConfig};
use bytes::Bytes;

use super::net::{answer, noise};
use super::tls::{pki, tls_server};
use super::{Feature, FeatureScenario, Mode, NetSettings, Outcome, Step, Target, client_on, ensure};
use crate::raw::{HttpReader, IO_TIMEOUT, RawServer};
use crate::{Reply, ScriptedServer};

pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<FeatureScenario<D, M>> {
    vec![
        ("proxy: http target in absolute form", &[Feature::Proxy], http_target),
        ("proxy: https target through CONNECT", &[Feature::Proxy, Feature::Tls], https_target),
        ("proxy: 407 is typed, credentials unseen", &[Feature::Proxy, Feature::Tls], wrong_credentials),
        ("proxy: from an environment, NO_PROXY", &[Feature::Proxy], from_environment),
        ("proxy: streamed uploads go through it", &[Feature::Proxy, Feature::Tls], streamed_uploads),
    ]
}

/// What the proxy was asked.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    auth: Option<String>,
}

struct TestProxy {
    server: RawServer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const USER: &str = "proxy-user";
const PASSWORD: &str = "pr0xy:s3cret";
// base64("proxy-user:pr0xy:s3cret")
const BASIC: &str = "Basic cHJveHktdXNlcjpwcjB4eTpzM2NyZXQ=";

impl TestProxy {
    /// A proxy that wants [`USER`] and [`PASSWORD`].
    fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = RawServer::start(move |_, client| {
            let mut r = HttpReader::new(&client);
            let Ok(Some(head)) = r.head() else { return };
            let auth = head.header("proxy-authorization").map(str::to_owned);
            log.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
                method: head.method.clone(),
                target: head.target.clone(),
                auth: auth.clone(),
            });
            if auth.as_deref() != Some(BASIC) {
                let _ = r.respond(407, &[("proxy-authenticate", "Basic realm=\"test\""), ("connection", "close")], b"");
                return;
            }
            let connect = head.method == "CONNECT";
            let authority = if connect {
                head.target.clone()
            } else {
                head.target.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned()
            };
            let Ok(upstream) = TcpStream::connect(&authority) else {
                let _ = r.respond(502, &[("connection", "close")], b"");
                return;
            };
            let _ = upstream.set_read_timeout(Some(IO_TIMEOUT));
            let mut up = &upstream;
            if connect {
                let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            } else {
                // Sent on as it came: the origin server reads absolute form too.
                let mut again = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
                for (n, v) in &head.headers {
                    again.push_str(&format!("{n}: {v}\r\n"));
                }
                again.push_str("\r\n");
                let _ = up.write_all(again.as_bytes());
            }
            let _ = up.write_all(&r.take_buffered());
            pump(&client, &upstream);
        });
        Self { server, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn url(&self, credentials: Option<(&str, &str)>) -> Proxy {
        let p = Proxy::new(&self.server.base_url()).expect("proxy URL");
        match credentials {
            Some((u, pw)) => p.with_credentials(u, pw),
            None => p,
        }
    }
}

/// Copies both ways until either side is done.
fn pump(a: &TcpStream, b: &TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    let back = std::thread::spawn(move || {
        let (mut from, to) = (b2, a2);
        let _ = std::io::copy(&mut from, &mut &to);
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut from = a;
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || (&*b).write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = b.shutdown(Shutdown::Write);
    let _ = back.join();
}

fn through(proxy: ProxyConfig, tls: bool) -> NetSettings {
    let roots = if tls { vec![pki().root.clone()] } else { Vec::new() };
    NetSettings { roots, proxy: Some(proxy), ..NetSettings::default() }
}

fn dataset_server() -> ScriptedServer {
    let s = ScriptedServer::start();
    s.set_fallback(|_| Reply::json(200, super::wire::dataset_json("d")));
    s
}

fn http_target<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let proxy = TestProxy::start();
    let api = dataset_server();
    let settings = through(ProxyConfig::all(proxy.url(Some((USER, PASSWORD)))), false);
    let c = client_on(t, &api.base_url(), &settings, |c| c);
    t.mode.call(c.dataset("d").get()).step("get through the proxy")?;
    let seen = proxy.seen();
    ensure!(seen.len() == 1, "the proxy saw {seen:?}");
    ensure!(seen[0].method == "GET" && seen[0].target == api.url("/v2/datasets/d"), "{seen:?}");
    ensure!(seen[0].auth.as_deref() == Some(BASIC), "Proxy-Authorization {:?}", seen[0].auth);
    ensure!(api.request_count() == 1, "{} requests reached the API", api.request_count());
    Ok(())
}

fn https_target<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let proxy = TestProxy::start();
    let api = tls_server(&pki().good, |r| while answer(r) {});
    let settings = through(ProxyConfig::all(proxy.url(Some((USER, PASSWORD)))), true);
    let c = client_on(t, &format!("https://{}", api.addr()), &settings, |c| c);
    let got = t.mode.call(c.dataset("d").get()).step("get through a tunnel")?.ok_or("no dataset")?;
    ensure!(got.id == "d", "{}", got.id);
    let seen = proxy.seen();
    ensure!(seen.len() == 1 && seen[0].method == "CONNECT", "the proxy saw {seen:?}");
    ensure!(seen[0].target == api.addr().to_string(), "CONNECT {}", seen[0].target);
    ensure!(seen[0].auth.as_deref() == Some(BASIC), "Proxy-Authorization {:?}", seen[0].auth);
    ensure!(api.connections() == 1, "{} connections to the API", api.connections());
    Ok(())
}

fn wrong_credentials<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let proxy = TestProxy::start();
    let tls_api = tls_server(&pki().good, |r| while answer(r) {});
    let api = dataset_server();
    let wrong = "wr0ng-pa55word";
    for (url, tls) in [(format!("https://{}", tls_api.addr()), true), (api.base_url(), false)] {
        let settings = through(ProxyConfig::all(proxy.url(Some((USER, wrong)))), tls);
        let before = proxy.seen().len();
        let c = client_on(t, &url, &settings, |c| c);
        let err = t.mode.call(c.dataset("d").get()).err().ok_or("a 407 succeeded")?;
        ensure!(err.transport_error().map(|e| e.kind()) == Some(TransportErrorKind::ProxyAuth), "{url}: {err:?}");
        ensure!(err.to_string().contains("proxy authentication required"), "{err}");
        let shown = format!("{err} {err:?} {c:?} {:?}", settings.proxy);
        ensure!(!shown.contains(wrong), "the proxy password is shown: {shown}");
        ensure!(proxy.seen().len() - before == 1, "{url}: a 407 was retried");
    }
    ensure!(tls_api.connections() == 0 && api.request_count() == 0, "the API was reached without the proxy");
    // Without credentials the proxy says the same.
    let settings = through(ProxyConfig::all(proxy.url(None)), false);
    let c = client_on(t, &api.base_url(), &settings, |c| c);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("a 407 succeeded")?;
    ensure!(err.transport_error().map(|e| e.kind()) == Some(TransportErrorKind::ProxyAuth), "{err:?}");
    Ok(())
}

fn from_environment<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let proxy = TestProxy::start();
    let api = dataset_server();
    let with_credentials = format!("http://{USER}:{}@{}", PASSWORD.replace(':', "%3A"), proxy.server.addr());
    let env = |no_proxy: &'static str| {
        let url = with_credentials.clone();
        ProxyConfig::from_env(move |k| match k {
            "HTTP_PROXY" => Some(url.clone()),
            "NO_PROXY" => Some(no_proxy.to_owned()),
            _ => None,
        })
    };
    let c = client_on(t, &api.base_url(), &through(env("example.com"), false), |c| c);
    t.mode.call(c.dataset("d").get()).step("HTTP_PROXY")?;
    let seen = proxy.seen();
    ensure!(seen.len() == 1 && seen[0].auth.as_deref() == Some(BASIC), "the proxy saw {seen:?}");
    // The API's address exempted: straight there.
    for no_proxy in ["127.0.0.1", "*", "127.0.0.0/8"] {
        let c = client_on(t, &api.base_url(), &through(env(no_proxy), false), |c| c);
        t.mode.call(c.dataset("d").get()).step(no_proxy)?;
        ensure!(proxy.seen().len() == 1, "NO_PROXY={no_proxy} went through the proxy");
    }
    ensure!(api.request_count() == 4, "{} requests reached the API", api.request_count());
    Ok(())
}

/// A body sent chunk by chunk takes the same way as a whole one: through the tunnel, in
/// absolute form, and a 407 on the way is typed there too.
fn streamed_uploads<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    const BINARY: &str = "application/octet-stream";
    let body = noise(300_000);
    let chunks = || body.chunks(64 * 1024).map(Bytes::copy_from_slice).collect::<Vec<_>>();
    let proxy = TestProxy::start();
    let received = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let got = received.clone();
    let tls_api = tls_server(&pki().good, move |r| {
        while let Ok(Some(head)) = r.head() {
            let Ok(body) = r.body(&head) else { return };
            got.lock().unwrap_or_else(|e| e.into_inner()).push(body);
            if r.respond(201, &[("content-type", "application/json")], b"{\"data\":{}}").is_err() {
                return;
            }
        }
    });
    let settings = through(ProxyConfig::all(proxy.url(Some((USER, PASSWORD)))), true);
    let c = client_on(t, &format!("https://{}", tls_api.addr()), &settings, |c| c);
    t.mode.upload(&c.key_value_store("s"), "k", BINARY, chunks()).step("streamed upload through a tunnel")?;
    let seen = proxy.seen();
    ensure!(seen.len() == 1 && seen[0].method == "CONNECT", "the proxy saw {seen:?}");
    ensure!(seen[0].auth.as_deref() == Some(BASIC), "Proxy-Authorization {:?}", seen[0].auth);
    ensure!(*received.lock().unwrap_or_else(|e| e.into_inner()) == [body.to_vec()], "the tunnelled body differs");

    let api = ScriptedServer::start();
    api.set_fallback(|_| Reply::json(201, serde_json::json!({"data": {}})));
    let settings = through(ProxyConfig::all(proxy.url(Some((USER, PASSWORD)))), false);
    let c = client_on(t, &api.base_url(), &settings, |c| c);
    t.mode.upload(&c.key_value_store("s"), "k", BINARY, chunks()).step("streamed upload in absolute form")?;
    let seen = proxy.seen();
    ensure!(seen.len() == 2 && seen[1].method == "PUT", "the proxy saw {seen:?}");
    ensure!(seen[1].target == api.url("/v2/key-value-stores/s/records/k"), "{seen:?}");
    let reqs = api.requests();
    ensure!(reqs.len() == 1 && reqs[0].body == body, "the API got {} requests or another body", reqs.len());

    let settings = through(ProxyConfig::all(proxy.url(Some((USER, "wr0ng")))), true);
    let c = client_on(t, &format!("https://{}", tls_api.addr()), &settings, |c| c);
    let err = t.mode.upload(&c.key_value_store("s"), "k", BINARY, chunks()).err().ok_or("a 407 succeeded")?;
    ensure!(err.transport_error().map(|e| e.kind()) == Some(TransportErrorKind::ProxyAuth), "{err:?}");
    ensure!(proxy.seen().len() == 3, "a 407 was retried: {:?}", proxy.seen());
    Ok(())
}
