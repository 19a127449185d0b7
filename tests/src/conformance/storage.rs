//! The storage methods end to end, against the emulator (network drivers) or the driver's
//! own storage (in-process drivers).

use std::time::Duration;

use apify_core::client::{ApifyClient, Environment};
use apify_core::models::{RecordValue, Request};
use apify_core::ops::request_queue::RequestRef;
use serde_json::{Value, json};

use super::{Mode, Outcome, Step, Target, client_for, ensure};
use crate::Emulator;

/// A client on fresh storage; keeps the emulator (if any) alive.
pub(crate) struct Fresh<D> {
    pub(crate) client: ApifyClient<D>,
    _emulator: Option<(Emulator, tempfile::TempDir)>,
}

pub(crate) const TOKEN: &str = "conformance-s3cr3t-token";

impl<D: Environment> Fresh<D> {
    pub(crate) fn new<M>(t: &Target<D, M>) -> Self {
        if !t.network {
            return Self { client: (t.make)(apify_core::config::Config::new()), _emulator: None };
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let emulator = Emulator::start(dir.path(), Some(TOKEN));
        let client = client_for(t, emulator.url(), TOKEN);
        Self { client, _emulator: Some((emulator, dir)) }
    }
}

pub(crate) fn datasets<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let env = Fresh::new(t);
    let (c, m) = (&env.client, &t.mode);
    let ds = m.call(c.datasets().get_or_create().name("conformance-ds")).step("get_or_create")?;
    ensure!(ds.name.as_deref() == Some("conformance-ds"), "created with name {:?}", ds.name);
    let again = m.call(c.datasets().get_or_create().name("conformance-ds")).step("get_or_create again")?;
    ensure!(again.id == ds.id, "get_or_create made a second dataset ({} vs {})", again.id, ds.id);

    let d = c.dataset(&ds.id);
    let items: Vec<Value> = (0..300).map(|i| json!({"i": i, "text": "ünï ✓", "pad": "x".repeat(i % 40)})).collect();
    m.call(d.push_items(&items)).step("push_items")?;
    m.call(d.push_item(&json!({"i": 300}))).step("push_item")?;

    let page = m.call(d.list_items().offset(10u64).limit(5u64)).step("list_items")?;
    ensure!(page.total == 301, "total {} after 301 pushed", page.total);
    let got: Vec<&Value> = page.items.iter().map(|v| &v["i"]).collect();
    ensure!(got == [10, 11, 12, 13, 14], "offset 10 limit 5 gave {got:?}");
    ensure!(page.items[0]["text"] == "ünï ✓", "text came back as {}", page.items[0]["text"]);
    let last = m.call(d.list_items().desc(true).limit(1u64)).step("list_items desc")?;
    ensure!(last.items.first().map(|v| &v["i"]) == Some(&json!(300)), "newest first gave {:?}", last.items);
    let fields = m.call(d.list_items().fields(["i"]).limit(1u64)).step("list_items fields")?;
    ensure!(fields.items == [json!({"i": 0})], "fields=i gave {:?}", fields.items);

    let info = m.call(d.get()).step("get")?.ok_or("the dataset is missing")?;
    ensure!(info.item_count == 301, "itemCount {}", info.item_count);
    let renamed = m.call(d.update().name("conformance-renamed")).step("update")?;
    ensure!(renamed.name.as_deref() == Some("conformance-renamed"), "renamed to {:?}", renamed.name);
    let listed = m.call(c.datasets().list()).step("list")?;
    ensure!(listed.items.iter().any(|x| x.id == ds.id), "the dataset is not listed");
    m.call(d.delete()).step("delete")?;
    ensure!(m.call(d.get()).step("get after delete")?.is_none(), "a deleted dataset is still there");
    Ok(())
}

pub(crate) fn key_value_stores<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let env = Fresh::new(t);
    let (c, m) = (&env.client, &t.mode);
    let kvs = m.call(c.key_value_stores().get_or_create().name("conformance-kvs")).step("get_or_create")?;
    let s = c.key_value_store(&kvs.id);
    m.call(s.set_record("json", json!({"a": [1, 2], "é": true}))).step("set_record json")?;
    m.call(s.set_record("text", "plain text ✓")).step("set_record text")?;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    m.call(s.set_record("bin", bytes.clone())).step("set_record bytes")?;

    let rec = m.call(s.get_record("json")).step("get_record json")?.ok_or("json record missing")?;
    ensure!(rec.value == RecordValue::Json(json!({"a": [1, 2], "é": true})), "json record read as {:?}", rec.value);
    let rec = m.call(s.get_record("text")).step("get_record text")?.ok_or("text record missing")?;
    ensure!(rec.value == RecordValue::Text("plain text ✓".into()), "text record read as {:?}", rec.value);
    ensure!(rec.content_type.as_deref().is_some_and(|ct| ct.starts_with("text/plain")), "{:?}", rec.content_type);
    let rec = m.call(s.get_record_as_bytes("bin")).step("get_record_as_bytes")?.ok_or("bin record missing")?;
    ensure!(rec.value[..] == bytes[..], "{} bytes came back instead of 5000 equal ones", rec.value.len());
    ensure!(m.call(s.record_exists("bin")).step("record_exists")?, "record_exists says no");

    let keys = m.call(s.list_keys()).step("list_keys")?;
    let names: Vec<&str> = keys.items.iter().map(|k| k.key.as_str()).collect();
    ensure!(names == ["bin", "json", "text"], "keys {names:?}");
    let after = m.call(s.list_keys().exclusive_start_key("bin").limit(1u64)).step("list_keys from")?;
    ensure!(after.items.len() == 1 && after.items[0].key == "json" && after.is_truncated, "{after:?}");

    m.call(s.delete_record("text")).step("delete_record")?;
    ensure!(m.call(s.get_record("text")).step("get deleted")?.is_none(), "a deleted record is still there");
    ensure!(m.call(s.get_record("never")).step("get missing")?.is_none(), "a missing record is not None");
    let bad = m.call(s.set_record("bad/key", "x"));
    ensure!(bad.is_err(), "an invalid key was accepted");
    m.call(s.delete()).step("delete")?;
    ensure!(m.call(s.get()).step("get after delete")?.is_none(), "a deleted store is still there");
    Ok(())
}

pub(crate) fn request_queues<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let env = Fresh::new(t);
    let (c, m) = (&env.client, &t.mode);
    let rq = m.call(c.request_queues().get_or_create().name("conformance-rq")).step("get_or_create")?;
    let q = c.request_queue(&rq.id).with_client_key("conformance-client");

    let first = m.call(q.add_request(Request::new("a", "https://example.com/a"))).step("add_request")?;
    ensure!(!first.was_already_present, "a new request was 'already present'");
    let dup = m.call(q.add_request(Request::new("a", "https://example.com/a"))).step("add_request again")?;
    ensure!(dup.was_already_present && dup.request_id == first.request_id, "dedup failed: {dup:?}");
    let batch: Vec<Request> =
        (0..30).map(|i| Request::new(format!("b{i}"), format!("https://example.com/b{i}"))).collect();
    let added = m.call(q.batch_add_requests(&batch)).step("batch_add_requests")?;
    ensure!(added.processed_requests.len() == 30, "batch of 30 processed {}", added.processed_requests.len());
    ensure!(added.unprocessed_requests.is_empty(), "unprocessed {:?}", added.unprocessed_requests);
    let front = m.call(q.add_request(Request::new("f", "https://example.com/f")).forefront(true)).step("forefront")?;

    let head = m.call(q.list_head().limit(3u64)).step("list_head")?;
    let keys: Vec<&str> = head.items.iter().map(|r| r.unique_key.as_str()).collect();
    ensure!(keys == ["f", "a", "b0"], "head {keys:?}");

    let locked = m.call(q.list_and_lock_head(Duration::from_secs(60)).limit(2u64)).step("list_and_lock_head")?;
    let ids: Vec<String> = locked.items.iter().map(|r| r.id.clone()).collect();
    ensure!(ids.len() == 2 && ids[0] == front.request_id, "locked {ids:?}");
    let next = m.call(q.list_and_lock_head(Duration::from_secs(60)).limit(1u64)).step("lock again")?;
    ensure!(next.items.len() == 1 && !ids.contains(&next.items[0].id), "a locked request was handed out twice");
    m.call(q.prolong_request_lock(&ids[0], Duration::from_secs(120))).step("prolong_request_lock")?;
    m.call(q.delete_request_lock(&ids[1])).step("delete_request_lock")?;

    let mut req = m.call(q.get_request(&ids[0])).step("get_request")?.ok_or("a locked request is missing")?;
    ensure!(req.url == "https://example.com/f", "got {}", req.url);
    req.handled_at = Some(apify_core::models::timestamp::parse("2026-01-01T00:00:00.000Z").map_err(|e| e.to_string())?);
    m.call(q.update_request(req)).step("update_request")?;
    let unlocked = m.call(q.unlock_requests()).step("unlock_requests")?;
    ensure!(unlocked.unlocked_count >= 1, "unlocked {}", unlocked.unlocked_count);

    let all = m.collect(q.iterate_requests().chunk_size(7)).step("iterate_requests")?;
    ensure!(all.len() == 32, "iterated {} requests of 32", all.len());
    let deleted = m
        .call(
            q.batch_delete_requests(vec![RequestRef::UniqueKey("b0".into()), RequestRef::Id(first.request_id.clone())]),
        )
        .step("batch_delete_requests")?;
    ensure!(deleted.processed_requests.len() == 2, "batch delete processed {:?}", deleted.processed_requests);
    ensure!(m.call(q.get_request(&first.request_id)).step("get deleted")?.is_none(), "a deleted request is there");
    let info = m.call(q.get()).step("get")?.ok_or("the queue is missing")?;
    ensure!(info.total_request_count == 30, "totalRequestCount {}", info.total_request_count);
    ensure!(info.handled_request_count == 1, "handledRequestCount {}", info.handled_request_count);
    m.call(q.delete()).step("delete")?;
    ensure!(m.call(q.get()).step("get after delete")?.is_none(), "a deleted queue is still there");
    Ok(())
}

pub(crate) fn pagination<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let env = Fresh::new(t);
    let (c, m) = (&env.client, &t.mode);
    let ds = m.call(c.datasets().get_or_create().name("paged")).step("get_or_create")?;
    let d = c.dataset(&ds.id);
    let items: Vec<Value> = (0..2500).map(|i| json!({"i": i})).collect();
    m.call(d.push_items(&items)).step("push_items")?;
    let all = m.collect(d.iterate_items().chunk_size(1000)).step("iterate_items")?;
    ensure!(all.len() == 2500, "iterated {} of 2500 items", all.len());
    ensure!(all.iter().enumerate().all(|(i, v)| v["i"] == i), "items out of order");
    let some = m.collect(d.iterate_items().chunk_size(400).offset(100u64).limit(1000u64)).step("iterate limit")?;
    ensure!(
        some.len() == 1000 && some[0]["i"] == 100,
        "offset 100 limit 1000 gave {} from {:?}",
        some.len(),
        some.first()
    );

    let s = c.key_value_store(&m.call(c.key_value_stores().get_or_create().name("paged")).step("kvs")?.id);
    for i in 0..23 {
        m.call(s.set_record(&format!("k{i:02}"), json!(i))).step("set_record")?;
    }
    let keys = m.collect(s.iterate_keys().chunk_size(5)).step("iterate_keys")?;
    let names: Vec<String> = keys.into_iter().map(|k| k.key).collect();
    let want: Vec<String> = (0..23).map(|i| format!("k{i:02}")).collect();
    ensure!(names == want, "iterate_keys gave {names:?}");

    let datasets = m.collect(c.datasets().iterate().chunk_size(1)).step("datasets iterate")?;
    ensure!(datasets.iter().any(|x| x.id == ds.id), "the collection iteration missed the dataset");
    Ok(())
}
