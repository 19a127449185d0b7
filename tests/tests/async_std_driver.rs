//! What the conformance kit does not cover for the async-std driver: its keep-alive pool.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use apify_async_std::AsyncStdClient;
use apify_core::client::ApifyClient;
use apify_core::config::Config;

const DATASET: &str = r#"{"data":{"id":"d","name":null,"userId":"u1","createdAt":"2024-01-02T03:04:05.000Z","modifiedAt":"2024-01-02T03:04:05.000Z","accessedAt":"2024-01-02T03:04:05.000Z","itemCount":0,"cleanItemCount":0,"consoleUrl":"https://console.apify.com/x"}}"#;

/// A server that answers each connection once, keep-alive and all, then closes it, as
/// servers do with idle connections.
fn one_answer_per_connection(connections: usize) -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut served = 0;
        for stream in listener.incoming().take(connections) {
            let mut s = stream.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client closed before sending a request");
                head.extend_from_slice(&buf[..n]);
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{DATASET}",
                DATASET.len()
            );
            s.write_all(reply.as_bytes()).unwrap();
            served += 1;
        }
        served
    });
    (url, server)
}

#[test]
fn a_pooled_connection_the_server_closed_is_not_reused() {
    let (url, server) = one_answer_per_connection(2);
    let client = ApifyClient::with_custom_http_client(Config::new().with_api_url(&url).unwrap(), AsyncStdClient::new());
    async_std::task::block_on(async {
        assert_eq!(client.dataset("d").get().await.unwrap().unwrap().id, "d");
        // Let the server's FIN arrive before the next call looks at the pooled connection.
        async_std::task::sleep(Duration::from_millis(100)).await;
        assert_eq!(client.dataset("d").get().await.unwrap().unwrap().id, "d");
    });
    // The dead connection was noticed before use: a new one, and no failed attempt.
    assert_eq!(server.join().unwrap(), 2);
    assert_eq!(client.stats().retries, 0, "{:?}", client.stats());
}
