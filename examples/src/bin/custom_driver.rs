//! Lists the first items of a dataset through a user-supplied blocking HTTP client, with
//! no async runtime at all.
//!
//! ```sh
//! APIFY_TOKEN=... cargo run -p apify-examples --bin custom_driver -- <dataset-id> [api-url]
//! # prove the driver with the conformance kit (local servers only, no token):
//! cargo run -p apify-examples --bin custom_driver -- --conformance
//! ```

use apify_core::client::ApifyClient;
use apify_core::config::Config;
use apify_examples::ureq_driver::UreqClient;
use apify_tests::conformance::{Blocking, Target, run_conformance};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dataset = args.next().ok_or("usage: custom_driver <dataset-id> [api-url] | --conformance")?;
    if dataset == "--conformance" {
        // The same suite every driver of this workspace passes, against local servers.
        let report = run_conformance(&Target::network("ureq", Blocking, UreqClient::default));
        print!("{report}");
        let failed = report.failures().count();
        return if failed == 0 { Ok(()) } else { Err(format!("{failed} scenarios failed").into()) };
    }
    let mut config = Config::new().with_token(std::env::var("APIFY_TOKEN").unwrap_or_default());
    if let Some(url) = args.next() {
        config = config.with_api_url(&url)?;
    }
    let client = ApifyClient::with_custom_http_client(config, UreqClient::default());

    let page = client.dataset(&dataset).list_items().limit(10u64).send()?;
    println!("items {}..{} of {}:", page.offset, page.offset + page.count, page.total);
    for item in &page.items {
        println!("{item}");
    }
    // Iteration is a plain `Iterator` on a blocking driver.
    let all = client.dataset(&dataset).iterate_items().chunk_size(1000).count();
    println!("{all} items in total; {:?}", client.stats());
    Ok(())
}
