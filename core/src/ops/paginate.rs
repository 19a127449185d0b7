//! Pagination as explicit state (client-behaviour §9): offset/limit for collections and
//! dataset items, `exclusiveStartKey` for KVS keys, `cursor` for request-queue requests.
//! The operation's own `offset`/`limit` (or starting key/cursor) describe the overall
//! window; `chunk_size` is the page size. Paging never stops on `total`, which can lag.

use super::Operation;
use super::dataset::ListItems;
use super::key_value_store::ListKeys;
use super::request_queue::ListRequests;
use super::storage::{ListStorages, StorageKind};
use crate::models::{KeyValueStoreKey, ListOfKeys, ListOfRequests, ListPage, Request};
use serde::de::DeserializeOwned;

/// An operation that can be iterated page by page.
pub trait Paginated: Operation + Sized {
    /// What iteration yields.
    type Item: Send + 'static;
    /// Paging state between pages.
    type State: Send + std::fmt::Debug;
    /// Starts iterating with pages of `chunk_size` (the kind's default when `None`).
    fn start(&self, chunk_size: Option<u64>) -> Self::State;
    /// The options of the next page, or `None` when iteration is over.
    fn next_page(&self, state: &mut Self::State) -> Option<Self>;
    /// Takes a page and returns the items to yield from it.
    fn on_page(state: &mut Self::State, page: Self::Output) -> Vec<Self::Item>;
}

/// Offset/limit paging state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetPager {
    offset: u64,
    remaining: Option<u64>,
    chunk: Option<u64>,
    page_size: Option<u64>,
    done: bool,
}

impl OffsetPager {
    /// Window `[offset, offset + limit)` in pages of `chunk`.
    pub fn new(offset: Option<u64>, limit: Option<u64>, chunk: Option<u64>) -> Self {
        Self {
            offset: offset.unwrap_or(0),
            remaining: limit,
            chunk: chunk.filter(|c| *c > 0),
            page_size: None,
            done: false,
        }
    }

    /// `(offset, limit)` of the next page; a `None` limit means "let the API decide".
    pub fn next_page(&mut self) -> Option<(u64, Option<u64>)> {
        if self.done || self.remaining == Some(0) {
            self.done = true;
            return None;
        }
        self.page_size = match (self.chunk, self.remaining) {
            (Some(c), Some(r)) => Some(c.min(r)),
            (c, r) => c.or(r),
        };
        Some((self.offset, self.page_size))
    }

    /// Advances past a page that scanned `count` rows and returned `items` items; returns
    /// how many of those items are inside the window.
    pub fn on_page(&mut self, count: u64, items: usize) -> usize {
        let items = items as u64;
        let scanned = count.max(items);
        if scanned == 0 {
            self.done = true;
            return 0;
        }
        // Advance by rows scanned, not returned: `clean`/`skipEmpty` pages skip rows.
        self.offset += self.page_size.map_or(scanned, |ps| scanned.min(ps));
        let take = self.remaining.map_or(items, |r| items.min(r));
        if let Some(r) = &mut self.remaining {
            *r -= take;
        }
        take as usize
    }
}

/// Paging state for KVS keys (`exclusiveStartKey` → `nextExclusiveStartKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPager {
    next_key: Option<String>,
    remaining: Option<u64>,
    chunk: u64,
    done: bool,
}

impl KeyPager {
    /// Keys after `start` (exclusive), at most `limit`, in pages of `chunk` (default 1000).
    pub fn new(start: Option<String>, limit: Option<u64>, chunk: Option<u64>) -> Self {
        Self { next_key: start, remaining: limit, chunk: chunk.filter(|c| *c > 0).unwrap_or(1000), done: false }
    }

    /// `(exclusiveStartKey, limit)` of the next page.
    pub fn next_page(&mut self) -> Option<(Option<String>, u64)> {
        if self.done || self.remaining == Some(0) {
            return None;
        }
        Some((self.next_key.clone(), self.remaining.map_or(self.chunk, |r| r.min(self.chunk))))
    }

    /// Takes a page; returns its keys inside the window.
    pub fn on_page(&mut self, page: ListOfKeys) -> Vec<KeyValueStoreKey> {
        let mut items = page.items;
        if let Some(r) = &mut self.remaining {
            items.truncate(*r as usize);
            *r -= items.len() as u64;
        }
        self.next_key = page.next_exclusive_start_key;
        self.done = self.next_key.is_none() || items.is_empty();
        items
    }
}

/// Paging state for request-queue requests (`cursor` → `nextCursor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPager {
    cursor: Option<String>,
    remaining: Option<u64>,
    chunk: u64,
    done: bool,
}

impl CursorPager {
    /// Requests from `cursor`, at most `limit`, in pages of `chunk` (default 1000).
    pub fn new(cursor: Option<String>, limit: Option<u64>, chunk: Option<u64>) -> Self {
        Self { cursor, remaining: limit, chunk: chunk.filter(|c| *c > 0).unwrap_or(1000), done: false }
    }

    /// `(cursor, limit)` of the next page.
    pub fn next_page(&mut self) -> Option<(Option<String>, u64)> {
        if self.done || self.remaining == Some(0) {
            return None;
        }
        Some((self.cursor.clone(), self.remaining.map_or(self.chunk, |r| r.min(self.chunk))))
    }

    /// Takes a page; returns its requests inside the window.
    pub fn on_page(&mut self, page: ListOfRequests) -> Vec<Request> {
        let mut items = page.items;
        if let Some(r) = &mut self.remaining {
            items.truncate(*r as usize);
            *r -= items.len() as u64;
        }
        self.cursor = page.next_cursor;
        self.done = self.cursor.is_none() || items.is_empty();
        items
    }
}

fn take_window<T>(state: &mut OffsetPager, page: ListPage<T>) -> Vec<T> {
    let mut items = page.items;
    let take = state.on_page(page.count, items.len());
    items.truncate(take);
    items
}

impl<T: DeserializeOwned + Send + 'static> Paginated for ListItems<T> {
    type Item = T;
    type State = OffsetPager;
    fn start(&self, chunk_size: Option<u64>) -> OffsetPager {
        OffsetPager::new(self.filters.offset, self.filters.limit, chunk_size.or(Some(1000)))
    }
    fn next_page(&self, state: &mut OffsetPager) -> Option<Self> {
        let (offset, limit) = state.next_page()?;
        let mut op = self.clone();
        op.filters.offset = Some(offset);
        op.filters.limit = limit;
        Some(op)
    }
    fn on_page(state: &mut OffsetPager, page: ListPage<T>) -> Vec<T> {
        take_window(state, page)
    }
}

impl<K: StorageKind> Paginated for ListStorages<K> {
    type Item = K::ListItem;
    type State = OffsetPager;
    fn start(&self, chunk_size: Option<u64>) -> OffsetPager {
        OffsetPager::new(self.offset, self.limit, chunk_size)
    }
    fn next_page(&self, state: &mut OffsetPager) -> Option<Self> {
        let (offset, limit) = state.next_page()?;
        let mut op = self.clone();
        op.offset = Some(offset);
        op.limit = limit;
        Some(op)
    }
    fn on_page(state: &mut OffsetPager, page: ListPage<K::ListItem>) -> Vec<K::ListItem> {
        take_window(state, page)
    }
}

impl Paginated for ListKeys {
    type Item = KeyValueStoreKey;
    type State = KeyPager;
    fn start(&self, chunk_size: Option<u64>) -> KeyPager {
        KeyPager::new(self.exclusive_start_key.clone(), self.limit, chunk_size)
    }
    fn next_page(&self, state: &mut KeyPager) -> Option<Self> {
        let (key, limit) = state.next_page()?;
        let mut op = self.clone();
        op.exclusive_start_key = key;
        op.limit = Some(limit);
        op.iterating = true;
        Some(op)
    }
    fn on_page(state: &mut KeyPager, page: ListOfKeys) -> Vec<KeyValueStoreKey> {
        state.on_page(page)
    }
}

impl Paginated for ListRequests {
    type Item = Request;
    type State = CursorPager;
    fn start(&self, chunk_size: Option<u64>) -> CursorPager {
        CursorPager::new(self.cursor.clone(), self.limit, chunk_size)
    }
    fn next_page(&self, state: &mut CursorPager) -> Option<Self> {
        let (cursor, limit) = state.next_page()?;
        let mut op = self.clone();
        op.cursor = cursor;
        op.limit = Some(limit);
        Some(op)
    }
    fn on_page(state: &mut CursorPager, page: ListOfRequests) -> Vec<Request> {
        state.on_page(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a dataset of `total` rows and returns the offsets requested.
    fn offsets(
        total: u64,
        offset: Option<u64>,
        limit: Option<u64>,
        chunk: Option<u64>,
    ) -> (Vec<(u64, Option<u64>)>, u64) {
        let mut p = OffsetPager::new(offset, limit, chunk);
        let mut seen = Vec::new();
        let mut yielded = 0;
        while let Some((o, l)) = p.next_page() {
            seen.push((o, l));
            let n = total.saturating_sub(o).min(l.unwrap_or(1000));
            yielded += p.on_page(n, n as usize) as u64;
            assert!(seen.len() < 100);
        }
        (seen, yielded)
    }

    #[test]
    fn offset_paging_matches_the_official_client() {
        let (seen, n) = offsets(2500, None, None, Some(1000));
        assert_eq!(seen, [(0, Some(1000)), (1000, Some(1000)), (2000, Some(1000)), (2500, Some(1000))]);
        assert_eq!(n, 2500);
        let (seen, n) = offsets(2500, Some(100), Some(1500), Some(700));
        assert_eq!(seen, [(100, Some(700)), (800, Some(700)), (1500, Some(100))]);
        assert_eq!(n, 1500);
        let (seen, n) = offsets(0, None, None, None);
        assert_eq!(seen, [(0, None)]);
        assert_eq!(n, 0);
    }

    #[test]
    fn offset_advances_by_rows_scanned() {
        let mut p = OffsetPager::new(None, None, Some(10));
        assert_eq!(p.next_page(), Some((0, Some(10))));
        // `clean` returned 3 items but scanned 10 rows.
        assert_eq!(p.on_page(10, 3), 3);
        assert_eq!(p.next_page(), Some((10, Some(10))));
    }

    #[test]
    fn key_paging_follows_next_key_and_limit() {
        let page = |keys: &[&str], next: Option<&str>| ListOfKeys {
            items: keys
                .iter()
                .map(|k| KeyValueStoreKey {
                    key: (*k).into(),
                    size: 1,
                    record_public_url: None,
                    extra: Default::default(),
                })
                .collect(),
            count: keys.len() as u64,
            limit: 2,
            exclusive_start_key: None,
            is_truncated: next.is_some(),
            next_exclusive_start_key: next.map(Into::into),
        };
        let mut p = KeyPager::new(None, Some(3), Some(2));
        assert_eq!(p.next_page(), Some((None, 2)));
        assert_eq!(p.on_page(page(&["a", "b"], Some("b"))).len(), 2);
        assert_eq!(p.next_page(), Some((Some("b".into()), 1)));
        assert_eq!(p.on_page(page(&["c"], Some("c"))).len(), 1);
        assert_eq!(p.next_page(), None, "limit reached");
        let mut p = KeyPager::new(Some("x".into()), None, None);
        assert_eq!(p.next_page(), Some((Some("x".into()), 1000)));
        p.on_page(page(&["y"], None));
        assert_eq!(p.next_page(), None, "no next key");
    }

    #[test]
    fn cursor_paging_stops_without_next_cursor() {
        let page = |n: usize, next: Option<&str>| ListOfRequests {
            items: (0..n).map(|i| Request::new(format!("k{i}"), "https://e.com")).collect(),
            limit: 1000,
            exclusive_start_id: None,
            cursor: None,
            next_cursor: next.map(Into::into),
        };
        let mut p = CursorPager::new(None, None, None);
        assert_eq!(p.next_page(), Some((None, 1000)));
        assert_eq!(p.on_page(page(1000, Some("c1"))).len(), 1000);
        assert_eq!(p.next_page(), Some((Some("c1".into()), 1000)));
        assert_eq!(p.on_page(page(5, None)).len(), 5);
        assert_eq!(p.next_page(), None);
    }
}
