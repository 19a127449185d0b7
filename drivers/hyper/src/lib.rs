//! apify-hyper
