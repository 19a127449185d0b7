//! A run's log followed line by line as it is written: once with the async hyper driver,
//! once with the blocking isahc driver (no runtime), then redirected to `tracing` while
//! waiting for the run — against a scripted stand-in of the API on 127.0.0.1.
//!
//! ```sh
//! cargo run -p apify-examples --bin streamed_log
//! ```

use apify_examples::usage::{fake_api, run_with_redirected_log, stream_log, stream_log_blocking};
use apify_hyper::Config;

#[tokio::main]
async fn main() -> Result<(), apify_hyper::Error> {
    tracing_subscriber::fmt().with_target(true).init();
    let api = fake_api::start();
    let config = Config::new().with_token("MY-TOKEN").with_api_url(&api.base_url())?;

    let client = apify_hyper::ApifyClient::from_config(config.clone());
    for line in stream_log(&client, "run-1").await? {
        println!("async:    {line}");
    }

    let blocking = apify_isahc::ApifyClient::from_config(config);
    let lines = tokio::task::spawn_blocking(move || stream_log_blocking(&blocking, "run-1")).await.expect("joined")?;
    for line in lines {
        println!("blocking: {line}");
    }

    // The redirected messages arrive as `tracing` events (target `apify::actor_log`).
    let status = run_with_redirected_log(&client, "john-doe/hello-world").await?;
    println!("the run ended {status}");
    Ok(())
}
