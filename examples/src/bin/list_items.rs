//! Reads a dataset with the default driver (tokio + hyper).
//!
//! ```sh
//! APIFY_TOKEN=... cargo run -p apify-examples --bin list_items -- <dataset-id>
//! ```

use apify_hyper::ApifyClient;
use futures_util::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dataset = std::env::args().nth(1).ok_or("usage: list_items <dataset-id>")?;
    let client = ApifyClient::new(std::env::var("APIFY_TOKEN")?);

    let page = client.dataset(&dataset).list_items().limit(10u64).desc(true).await?;
    println!("newest {} of {} items", page.items.len(), page.total);

    // Every item, paged transparently; stops on the first empty page.
    let mut items = client.dataset(&dataset).iterate_items().fields(["url", "title"]);
    while let Some(item) = items.try_next().await? {
        println!("{item}");
    }
    Ok(())
}
