//! apify-examples
