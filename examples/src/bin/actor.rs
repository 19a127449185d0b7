//! The main job: an Actor-style program. It reads its INPUT, processes a request queue,
//! pushes results to the default dataset and writes records, all in `./storage` by default,
//! with no token and no network.
//!
//! ```sh
//! cargo run -p apify-examples --bin actor
//! # the same program against the emulator (`apify-local serve --token t`) or the platform:
//! APIFY_IS_AT_HOME=1 APIFY_API_BASE_URL=http://127.0.0.1:8080 APIFY_TOKEN=t \
//!   ACTOR_DEFAULT_DATASET_ID=default ACTOR_DEFAULT_KEY_VALUE_STORE_ID=default \
//!   ACTOR_DEFAULT_REQUEST_QUEUE_ID=default cargo run -p apify-examples --bin actor
//! ```
//!
//! Put an `INPUT.json` in the default key-value store (or the working directory), e.g.
//! `{"startUrls": [{"url": "https://example.com/docs/"}], "maxDepth": 2, "maxItems": 50}`.

use apify::{Actor, ExportFormat, OpenOptions, RequestSpec};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    start_urls: Vec<StartUrl>,
    #[serde(default = "default_depth")]
    max_depth: u64,
    #[serde(default = "default_items")]
    max_items: usize,
}

#[derive(Debug, Deserialize)]
struct StartUrl {
    url: String,
}

fn default_depth() -> u64 {
    2
}

fn default_items() -> usize {
    100
}

impl Default for Input {
    fn default() -> Self {
        Self {
            start_urls: vec![
                StartUrl { url: "https://example.com/docs/".into() },
                StartUrl { url: "https://example.org/".into() },
            ],
            max_depth: default_depth(),
            max_items: default_items(),
        }
    }
}

/// Stands in for fetching a page: derives its "links" from the URL, so the example needs no
/// network and always does the same work.
fn pretend_fetch(url: &str) -> (String, Vec<String>) {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let title = format!("Page {}", path.trim_end_matches('/'));
    let links = ["intro", "guide", "faq"].iter().map(|s| format!("{}/{s}", url.trim_end_matches('/'))).collect();
    (title, links)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_target(false).init();

    let actor = Actor::init().await?;
    let input: Input = actor.get_input().await?.unwrap_or_default();
    tracing::info!(
        start_urls = input.start_urls.len(),
        max_depth = input.max_depth,
        max_items = input.max_items,
        "starting"
    );

    let queue = actor.open_request_queue(OpenOptions::new()).await?;
    let starts = input.start_urls.iter().map(|s| RequestSpec::from_url(&s.url).user_data("depth", 0));
    queue.add_requests(starts, false).await?;

    let mut pushed = 0;
    while let Some(request) = queue.fetch_next_request().await? {
        let depth = request.user_data.as_ref().and_then(|d| d.get("depth")).and_then(|d| d.as_u64()).unwrap_or(0);
        let (title, links) = pretend_fetch(&request.url);
        if pushed < input.max_items {
            actor.push_data(&json!({"url": request.url, "title": title, "depth": depth})).await?;
            pushed += 1;
        }
        if depth < input.max_depth && pushed < input.max_items {
            let children = links.iter().map(|l| RequestSpec::from_url(l).user_data("depth", depth + 1));
            queue.add_requests(children, false).await?;
        }
        queue.mark_request_as_handled(&request).await?;
    }

    let dataset = actor.open_dataset(OpenOptions::new()).await?;
    let store = actor.open_key_value_store(OpenOptions::new()).await?;
    dataset.export_to("RESULTS.csv", ExportFormat::Csv { collect_all_keys: false }, &store).await?;
    let info = queue.get_info().await?;
    actor
        .set_value(
            "OUTPUT",
            &json!({
                "itemsPushed": pushed,
                "requestsHandled": info.as_ref().map(|q| q.handled_request_count),
                "finished": queue.is_finished().await?,
            }),
        )
        .await?;
    tracing::info!(
        items = pushed,
        "done; results are in the default dataset, OUTPUT and RESULTS.csv in the default key-value store"
    );
    if !actor.is_at_home() {
        println!("Results: {}", actor.config().storage_dir.join("datasets/default").display());
        println!("Output:  {}", store.get_public_url("OUTPUT").await?);
    }
    actor.exit().await?;
    Ok(())
}
