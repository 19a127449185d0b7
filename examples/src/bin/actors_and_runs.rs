//! The usage guide's Actor and run snippets: create an Actor, call it (start + wait), list
//! its runs, read the last successful run's dataset — here against a scripted stand-in of
//! the API on 127.0.0.1, with every request logged with its fields.
//!
//! ```sh
//! cargo run -p apify-examples --bin actors_and_runs
//! RUST_LOG=apify_core=debug cargo run -p apify-examples --bin actors_and_runs   # every attempt
//! ```
//!
//! Against the platform, the same code runs with `ApifyClient::new(token)`.

use apify_examples::usage::{actors_and_runs, fake_api};
use apify_hyper::{ApifyClient, Config};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), apify_hyper::Error> {
    // The core logs each attempt with `client_method`, `resource_id`, `method`, `url`,
    // `attempt` and `status_code`: filter on them with any `tracing` subscriber.
    let level = std::env::var("RUST_LOG").ok().and_then(|l| l.rsplit('=').next()?.parse().ok());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .with(tracing_subscriber::filter::LevelFilter::from_level(level.unwrap_or(tracing::Level::INFO)))
        .init();

    let api = fake_api::start();
    let client = ApifyClient::from_config(Config::new().with_token("MY-TOKEN").with_api_url(&api.base_url())?);
    let seen = actors_and_runs(&client).await?;
    println!("created Actor {}", seen.actor_id);
    println!("the run ended {}", seen.run_status);
    println!("runs, newest first: {:?}", seen.runs);
    println!("last successful run's items: {:?}", seen.items);
    Ok(())
}
