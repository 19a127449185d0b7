//! Dataset operations (storage-methods §3).

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::registry;
use super::{Op, Operation, setters};
use crate::config::{Config, TimeoutTier};
use crate::error::Error;
use crate::models::{Dataset, DatasetStatistics, ListPage, open_enum};
use crate::path::{Query, ResourcePath};
use crate::request::RequestBuilder;
use crate::response::{NotFound, Response, expect_data, expect_no_content};

/// Largest request body the API accepts (9 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 9 * 1024 * 1024;
/// Largest body of one push chunk: 9 MiB minus 0.01 %, as the Apify SDK packs them.
pub const MAX_PUSH_CHUNK_BYTES: usize = 9_436_241;

/// Filters shared by every read of dataset items.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)]
pub struct ItemFilters {
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    pub desc: Option<bool>,
    pub clean: Option<bool>,
    pub fields: Option<Vec<String>>,
    pub output_fields: Option<Vec<String>>,
    pub omit: Option<Vec<String>>,
    pub unwind: Option<Vec<String>>,
    pub skip_empty: Option<bool>,
    pub skip_hidden: Option<bool>,
    pub flatten: Option<Vec<String>>,
    pub view: Option<String>,
    pub simplified: Option<bool>,
    pub skip_failed_pages: Option<bool>,
    pub signature: Option<String>,
}

impl ItemFilters {
    /// Appends the set filters to a query.
    pub fn write_query(&self, q: &mut Query) {
        q.opt("offset", self.offset)
            .opt("limit", self.limit)
            .opt("desc", self.desc)
            .opt("clean", self.clean)
            .opt("fields", self.fields.as_ref())
            .opt("outputFields", self.output_fields.as_ref())
            .opt("omit", self.omit.as_ref())
            .opt("unwind", self.unwind.as_ref())
            .opt("skipEmpty", self.skip_empty)
            .opt("skipHidden", self.skip_hidden)
            .opt("flatten", self.flatten.as_ref())
            .opt("view", self.view.as_ref())
            .opt("simplified", self.simplified)
            .opt("skipFailedPages", self.skip_failed_pages)
            .opt("signature", self.signature.as_ref());
    }
}

/// Setters for every [`ItemFilters`] field of a type with a `filters` field.
macro_rules! filter_setters {
    ($($paged:ident)? [$($g:ident),*] $ty:ty) => {
        setters!($($paged)? [$($g),*] $ty {
            /// Skip this many items.
            offset in filters: u64,
            /// Return at most this many items (for iteration: in total).
            limit in filters: u64,
            /// Newest first.
            desc in filters: bool,
            /// Only clean items (`skipHidden` + `skipEmpty`).
            clean in filters: bool,
            /// Only these fields.
            fields in filters: [list],
            /// Only these fields, in this order (`outputFields`).
            output_fields in filters: [list],
            /// Leave out these fields.
            omit in filters: [list],
            /// Unwind these array or object fields.
            unwind in filters: [list],
            /// Skip empty items.
            skip_empty in filters: bool,
            /// Skip fields starting with `#`.
            skip_hidden in filters: bool,
            /// Flatten these nested fields.
            flatten in filters: [list],
            /// Use this dataset view.
            view in filters: String,
            /// Apply the simplified legacy format.
            simplified in filters: bool,
            /// Skip failed pages of legacy crawlers.
            skip_failed_pages in filters: bool,
            /// Signature for reading without a token.
            signature in filters: String,
        });
    };
}
pub(crate) use filter_setters;

/// The format options of a download (and of a `HEAD` of items), declared once.
macro_rules! format_setters {
    ([$($mode:ident)?] [$($g:ident),*] $ty:ty) => {
        setters!($($mode)? [$($g),*] $ty {
            /// Output format (default `json`).
            format: ItemFormat,
            /// Prefix CSV with a byte-order mark.
            bom: bool,
            /// CSV delimiter.
            delimiter: String,
            /// CSV without the header row.
            skip_header_row: bool,
            /// XML root element name.
            xml_root: String,
            /// XML row element name.
            xml_row: String,
            /// Ask for `Content-Disposition: attachment`.
            attachment: bool,
            /// RSS title.
            feed_title: String,
            /// RSS description.
            feed_description: String,
        });
    };
}

/// `GET .../items` decoded into a page of `T` (JSON items by default).
#[derive(Debug)]
pub struct ListItems<T = Value> {
    /// The filters.
    pub filters: ItemFilters,
    _item: PhantomData<fn() -> T>,
}

impl<T> Default for ListItems<T> {
    fn default() -> Self {
        Self { filters: ItemFilters::default(), _item: PhantomData }
    }
}

impl<T> Clone for ListItems<T> {
    fn clone(&self) -> Self {
        Self { filters: self.filters.clone(), _item: PhantomData }
    }
}

impl ListItems {
    /// No filters: every item.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T> ListItems<T> {
    /// The same options, decoding items as `U`.
    pub fn items_as<U>(self) -> ListItems<U> {
        ListItems { filters: self.filters, _item: PhantomData }
    }
}

filter_setters!(paged [T] ListItems<T>);

/// Builds a page from the items body and the `X-Apify-Pagination-*` headers. A top-level
/// object counts as a one-item list; `count` is `max(header, items)`, because `clean`
/// and `skipEmpty` scan more rows than they return.
pub fn items_page<T: DeserializeOwned>(resp: &Response) -> Result<ListPage<T>, Error> {
    let first = resp.body.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<T> =
        if first == Some(&b'{') { vec![resp.json("dataset item")?] } else { resp.json("dataset items")? };
    let num = |name: &str| resp.header(name).and_then(|v| v.trim().parse::<u64>().ok());
    let len = items.len() as u64;
    Ok(ListPage {
        total: num("x-apify-pagination-total").unwrap_or(len),
        offset: num("x-apify-pagination-offset").unwrap_or(0),
        limit: num("x-apify-pagination-limit").unwrap_or(len),
        count: num("x-apify-pagination-count").unwrap_or(0).max(len),
        desc: resp.header("x-apify-pagination-desc").is_some_and(|d| d.trim().eq_ignore_ascii_case("true")),
        unnamed: None,
        items,
    })
}

impl<T: DeserializeOwned + Send + 'static> Operation for ListItems<T> {
    type Output = ListPage<T>;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut q = Query::new();
        self.filters.write_query(&mut q);
        let req =
            RequestBuilder::new(config, Method::GET, target, &["items"], "DatasetClient.list_items", TimeoutTier::Long)
                .operation(&registry::DATASET_ITEMS_GET)
                .query(q)
                .build()?;
        Ok(Op::new(req, |r| items_page(&r.success()?)))
    }
}

/// `HEAD .../items`: the pagination headers of a listing without its items (how many items
/// the filters select, cheaply), with every option of a download.
impl Operation for DownloadItems<HeadOnly> {
    type Output = ListPage<()>;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let q = self.query();
        let req = RequestBuilder::for_op(config, &registry::DATASET_ITEMS_HEAD, target, &[]).query(q).build()?;
        Ok(Op::new(req, |r| {
            let r = r.success()?;
            let num = |name: &str| r.header(name).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
            Ok(ListPage {
                total: num("x-apify-pagination-total"),
                offset: num("x-apify-pagination-offset"),
                limit: num("x-apify-pagination-limit"),
                count: num("x-apify-pagination-count"),
                desc: r.header("x-apify-pagination-desc").is_some_and(|d| d.trim().eq_ignore_ascii_case("true")),
                unnamed: None,
                items: Vec::new(),
            })
        }))
    }
}

open_enum! {
    /// Format of downloaded items.
    ItemFormat {
        /// JSON array.
        Json = "json",
        /// One JSON object per line.
        Jsonl = "jsonl",
        /// Comma-separated values.
        Csv = "csv",
        /// HTML table.
        Html = "html",
        /// Excel workbook.
        Xlsx = "xlsx",
        /// XML.
        Xml = "xml",
        /// RSS feed.
        Rss = "rss",
    }
}

/// What a download of items gives: the body (`get_items_as_bytes`, `stream_items`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemsBody;

/// What a download of items gives: only the head (`HEAD .../items`, `get_items_head`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadOnly;

/// `HEAD .../items`: a download's options, answered with the pagination figures only.
pub type ItemsHead = DownloadItems<HeadOnly>;

/// `GET .../items?format=`: items as raw bytes in any format (`get_items_as_bytes`,
/// `stream_items`); with `M = HeadOnly`, the same request as `HEAD` ([`ItemsHead`]).
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct DownloadItems<M = ItemsBody> {
    /// The filters.
    pub filters: ItemFilters,
    pub format: Option<ItemFormat>,
    pub bom: Option<bool>,
    pub delimiter: Option<String>,
    pub skip_header_row: Option<bool>,
    pub xml_root: Option<String>,
    pub xml_row: Option<String>,
    pub attachment: Option<bool>,
    pub feed_title: Option<String>,
    pub feed_description: Option<String>,
    _out: PhantomData<fn() -> M>,
}

filter_setters!(streamed [M] DownloadItems<M>);
format_setters!([streamed] [M] DownloadItems<M>);

impl DownloadItems {
    /// Every item as JSON.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<M> DownloadItems<M> {
    /// The query: `format` (always sent), filters, then format options.
    pub fn query(&self) -> Query {
        let mut q = Query::new();
        q.push("format", self.format.as_ref().map_or("json", ItemFormat::as_str));
        self.filters.write_query(&mut q);
        q.opt("bom", self.bom)
            .opt("delimiter", self.delimiter.as_ref())
            .opt("skipHeaderRow", self.skip_header_row)
            .opt("xmlRoot", self.xml_root.as_ref())
            .opt("xmlRow", self.xml_row.as_ref())
            .opt("attachment", self.attachment)
            .opt("feedTitle", self.feed_title.as_ref())
            .opt("feedDescription", self.feed_description.as_ref());
        q
    }
}

impl DownloadItems {
    /// The request; `streamed` marks it for `stream_items`.
    pub fn api_request(
        &self,
        config: &Config,
        target: &ResourcePath,
        streamed: bool,
    ) -> Result<crate::request::ApiRequest, Error> {
        let name = if streamed { "DatasetClient.stream_items" } else { "DatasetClient.get_items_as_bytes" };
        let mut b = RequestBuilder::new(config, Method::GET, target, &["items"], name, TimeoutTier::Long)
            .operation(&registry::DATASET_ITEMS_GET)
            .query(self.query());
        if streamed {
            b = b.streamed();
        }
        b.build()
    }
}

impl Operation for DownloadItems {
    type Output = Bytes;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Bytes>, Error> {
        Ok(Op::new(self.api_request(config, target, false)?, |r| Ok(r.success()?.body)))
    }
}

/// `POST .../items`: one body of items, at most 9 MiB.
#[derive(Debug, Clone)]
pub struct PushItems {
    body: Bytes,
}

impl PushItems {
    /// A JSON body as given: one object, or an array of objects.
    pub fn raw_json(body: impl Into<Bytes>) -> Self {
        Self { body: body.into() }
    }

    /// One item (an object) or a slice of them, serialised as JSON.
    pub fn json<T: Serialize + ?Sized>(items: &T) -> Result<Self, Error> {
        Ok(Self { body: crate::json::to_vec(items)?.into() })
    }
}

impl Operation for PushItems {
    type Output = ();
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        if self.body.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::invalid_argument(format!(
                "pushed items are {} bytes, above the API limit of {MAX_PAYLOAD_BYTES} bytes; push them in chunks",
                self.body.len()
            )));
        }
        let req = RequestBuilder::new(
            config,
            Method::POST,
            target,
            &["items"],
            "DatasetClient.push_items",
            TimeoutTier::Medium,
        )
        .operation(&registry::DATASET_ITEMS_POST)
        .raw_json(self.body.clone(), "application/json; charset=utf-8")
        .build()?;
        Ok(Op::new(req, |r| expect_no_content(r, NotFound::Error)))
    }
}

/// Packs items greedily into JSON arrays whose whole body is at most `max_bytes`
/// (client-behaviour §13). An item that cannot fit alone is an error naming its index,
/// reported before anything is sent.
pub fn chunk_items<'a, T, I>(items: I, max_bytes: usize) -> Result<Vec<Bytes>, Error>
where
    T: Serialize + 'a,
    I: IntoIterator<Item = &'a T>,
{
    let mut chunks = Vec::new();
    let mut cur = BytesMut::with_capacity(64 * 1024);
    let mut item = Vec::with_capacity(256);
    for (index, value) in items.into_iter().enumerate() {
        item.clear();
        crate::json::write(&mut item, value)?;
        if item.len() + 2 > max_bytes {
            return Err(Error::invalid_argument(format!(
                "Data item at index {index} is too large: {} bytes, the limit is {max_bytes}",
                item.len()
            )));
        }
        // +1 for the comma (or '['), +1 for the closing ']'.
        if !cur.is_empty() && cur.len() + 1 + item.len() + 1 > max_bytes {
            cur.put_u8(b']');
            chunks.push(cur.split().freeze());
        }
        cur.put_u8(if cur.is_empty() { b'[' } else { b',' });
        cur.put_slice(&item);
    }
    if !cur.is_empty() {
        cur.put_u8(b']');
        chunks.push(cur.freeze());
    }
    Ok(chunks)
}

/// `GET .../statistics` (a 404 is an error).
#[derive(Debug, Clone, Default)]
pub struct GetStatistics;

impl Operation for GetStatistics {
    type Output = DatasetStatistics;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let req = RequestBuilder::new(
            config,
            Method::GET,
            target,
            &["statistics"],
            "DatasetClient.get_statistics",
            TimeoutTier::Short,
        )
        .operation(&registry::DATASET_STATISTICS_GET)
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "DatasetStatistics")))
    }
}

/// The shareable items URL of `dataset`: `{public}/v2/datasets/{id}/items?{query}`, signed
/// when the dataset has a signing secret. `expires_at_millis` is Unix milliseconds (`None`:
/// never expires).
pub fn items_public_url(
    config: &Config,
    dataset: &Dataset,
    download: &DownloadItems,
    expires_at_millis: Option<u64>,
) -> Result<String, Error> {
    let path = ResourcePath::resource("datasets", &dataset.id)?;
    let mut q = download.query();
    if let Some(secret) = &dataset.url_signing_secret_key {
        q.push("signature", &crate::signing::storage_signature(&dataset.id, secret, expires_at_millis.unwrap_or(0)));
    }
    let mut url = path.url(&format!("{}/v2", config.public_base_url()), &["items"]);
    url.push('?');
    url.push_str(q.as_str());
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_limit_and_keep_every_item() {
        let items: Vec<Value> = (0..100).map(|i| serde_json::json!({"i": i, "pad": "x".repeat(40)})).collect();
        let chunks = chunk_items(&items, 500).unwrap();
        assert!(chunks.len() > 5);
        let mut all = Vec::new();
        for c in &chunks {
            assert!(c.len() <= 500, "{}", c.len());
            all.extend(serde_json::from_slice::<Vec<Value>>(c).unwrap());
        }
        assert_eq!(all, items);
        let big = vec![serde_json::json!({"a": 1}), serde_json::json!({"p": "y".repeat(600)})];
        let e = chunk_items(&big, 500).unwrap_err();
        assert!(e.to_string().contains("Data item at index 1 is too large"), "{e}");
        assert!(chunk_items::<Value, _>(&[], 500).unwrap().is_empty());
    }
}
