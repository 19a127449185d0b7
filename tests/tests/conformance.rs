//! The conformance kit run against every driver of the workspace: tokio + hyper, isahc
//! blocking and async, async-std, the local driver in process, and the custom `ureq`
//! driver of the examples.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apify_core::client::ApifyClient;
use apify_local::LocalClient;
use apify_local::fsio::Durability;
use apify_local::storage::{StorageConfig, Storages};
use apify_tests::conformance::{Async, BlockOn, Blocking, Feature, NetSettings, Target, run_conformance};

struct Tokio(tokio::runtime::Runtime);

impl BlockOn for Tokio {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

struct AsyncStd;

impl BlockOn for AsyncStd {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

/// Any executor: isahc's futures need none in particular.
struct FuturesLite;

impl BlockOn for FuturesLite {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }
}

fn run<D: apify_core::client::Environment, M: apify_tests::conformance::Mode<D>>(target: Target<D, M>) {
    let report = run_conformance(&target);
    println!("{report}");
    report.assert_passed();
}

#[test]
fn hyper_on_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let target = Target::network("hyper", Async::new(Tokio(rt)), apify_hyper::HyperClient::new)
        .with_settings(&[Feature::Tls, Feature::Proxy, Feature::Http2], hyper_with);
    run(target);
}

fn hyper_with(s: &NetSettings) -> apify_hyper::HyperClient {
    let mut b = apify_hyper::HyperClient::builder().http2_prior_knowledge(s.http2_prior_knowledge);
    for root in &s.roots {
        b = b.add_root_certificate(root.clone());
    }
    // The kit's own proxies, or none: never the process environment.
    b.proxy(s.proxy.clone().unwrap_or_default()).build().expect("hyper client")
}

#[test]
fn isahc_blocking() {
    let target = Target::network("isahc-blocking", Blocking, apify_isahc::IsahcClient::new)
        .with_settings(&[Feature::Tls, Feature::Proxy, Feature::Http2], isahc_with);
    run(target);
}

#[test]
fn isahc_async() {
    let target = Target::network("isahc-async", Async::new(FuturesLite), apify_isahc::IsahcClient::new)
        .with_settings(&[Feature::Tls, Feature::Proxy, Feature::Http2], isahc_with);
    run(target);
}

fn isahc_with(s: &NetSettings) -> apify_isahc::IsahcClient {
    let mut b = apify_isahc::IsahcClient::builder().http2_prior_knowledge(s.http2_prior_knowledge);
    for root in &s.roots {
        b = b.add_root_certificate(root.clone());
    }
    b.proxy(s.proxy.clone().unwrap_or_default()).build().expect("isahc client")
}

#[test]
fn async_std() {
    let target = Target::network("async-std", Async::new(AsyncStd), apify_async_std::AsyncStdClient::new)
        .with_settings(&[Feature::Tls, Feature::Proxy], |s| {
            let mut b = apify_async_std::AsyncStdClient::builder();
            for root in &s.roots {
                b = b.add_root_certificate(root.clone());
            }
            b.proxy(s.proxy.clone().unwrap_or_default()).build().expect("async-std client")
        })
        .not_applicable(Feature::Http2, "the async-std driver speaks HTTP/1.1 only");
    run(target);
}

#[test]
fn custom_ureq_driver() {
    let target = Target::network("custom-ureq", Blocking, apify_examples::ureq_driver::UreqClient::default)
        .not_applicable(Feature::Tls, "the example ureq driver takes no extra roots (webpki roots only)")
        .not_applicable(Feature::Proxy, "the example ureq driver takes no proxy settings")
        .not_applicable(Feature::Http2, "ureq speaks HTTP/1.1 only");
    run(target);
}

#[test]
fn local_driver_in_process() {
    let root = tempfile::tempdir().unwrap();
    let base: PathBuf = root.path().to_owned();
    let n = Arc::new(AtomicUsize::new(0));
    let make = move || {
        let dir = base.join(format!("s{}", n.fetch_add(1, Ordering::SeqCst)));
        let mut cfg = StorageConfig::new(dir);
        cfg.durability = Durability::Relaxed;
        ApifyClient::with_custom_http_client(Default::default(), LocalClient::new(Arc::new(Storages::new(cfg))))
    };
    run(Target::in_process("local", Blocking, make));
    run(Target::in_process("local-async", Async::new(FuturesLite), {
        let base = root.path().join("async");
        let n = AtomicUsize::new(0);
        move || {
            let dir = base.join(format!("s{}", n.fetch_add(1, Ordering::SeqCst)));
            ApifyClient::with_custom_http_client(
                Default::default(),
                LocalClient::new(Arc::new(Storages::new(StorageConfig::new(dir)))),
            )
        }
    }));
}

/// The kit must catch a broken driver: this one drops the `Authorization` header and has
/// no timer, so the auth scenario and every scenario that has to wait between retries
/// fail, while those that need neither pass.
#[test]
fn the_kit_catches_a_broken_driver() {
    use apify_core::client::{BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, Environment};
    use apify_core::error::TransportError;
    use apify_examples::ureq_driver::UreqClient;

    #[derive(Default)]
    struct NoAuthNoTimer(UreqClient);
    impl Environment for NoAuthNoTimer {}
    impl BlockingHttpClient for NoAuthNoTimer {
        fn call(&self, mut request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
            request.request.headers_mut().remove(http::header::AUTHORIZATION);
            self.0.call(request)
        }
    }

    let report = run_conformance(&Target::network("broken", Blocking, NoAuthNoTimer::default));
    let failed: Vec<&str> = report.failures().map(|r| r.name).collect();
    for must_fail in
        ["auth header, and no token in logs", "fault: 429 without Retry-After", "fault: reset before the head"]
    {
        assert!(failed.contains(&must_fail), "{must_fail} passed with a broken driver:\n{report}");
    }
    for must_pass in ["gzip request bodies", "decompressed responses", "fault: truncated JSON is a typed error"] {
        assert!(!failed.contains(&must_pass), "{must_pass} failed:\n{report}");
    }
}
