//! Every call's future is boxed when it is awaited, and is copied in full as it is set up
//! (rustc builds a future on the stack, then moves it): its size is a cost on every call.
//! Until 2026-11-22 the async-std driver's made a `get_record` future of 12.7 KiB, and those
//! copies were a third of the instructions of a small GET. These bounds keep it small.

use std::future::IntoFuture;

use apify_core::client::{ApifyClient, HttpClient, HttpRequest, RequestBody};
use apify_core::config::Config;
use apify_local::storage::{StorageConfig, Storages};

/// Bytes allowed for a whole `get_record` call future (core and driver).
const CALL_LIMIT: usize = 8 * 1024;
/// Bytes allowed for the driver's own future of one exchange.
const DRIVER_LIMIT: usize = 4 * 1024;

fn check<D: HttpClient + Clone>(name: &str, driver: D) {
    let request = HttpRequest {
        request: http::Request::new(RequestBody::Full(bytes::Bytes::new())),
        timeout: None,
        stream_response: false,
        max_body: None,
    };
    let exchange = driver.call(request);
    let exchange_size = size_of_val(&exchange);
    drop(exchange);
    let client = ApifyClient::with_custom_http_client(Config::default(), driver);
    let call = client.key_value_store("store").get_record("key").into_future();
    let call_size = size_of_val(&*call);
    eprintln!("{name}: call future {call_size} B, driver future {exchange_size} B");
    assert!(exchange_size <= DRIVER_LIMIT, "{name}: the driver's future is {exchange_size} B");
    assert!(call_size <= CALL_LIMIT, "{name}: a get_record future is {call_size} B");
}

#[test]
fn hyper_futures_stay_small() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _guard = rt.enter();
    check("hyper", apify_hyper::HyperClient::new());
}

#[test]
fn isahc_futures_stay_small() {
    check("isahc", apify_isahc::IsahcClient::new());
}

#[test]
fn async_std_futures_stay_small() {
    check("async-std", apify_async_std::AsyncStdClient::new());
}

#[test]
fn local_futures_stay_small() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storages = Storages::new(StorageConfig::new(dir.path()));
    check("local", apify_local::LocalClient::new(std::sync::Arc::new(storages)));
}
