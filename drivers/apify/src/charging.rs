//! Pay-per-event charging, as the Python SDK's `ChargingManager`: the run's pricing (from
//! `APIFY_ACTOR_PRICING_INFO` and `APIFY_CHARGED_ACTOR_EVENT_COUNTS`, else the run object at
//! home), the budget `ACTOR_MAX_TOTAL_CHARGE_USD`, charges that stop at the budget (the count
//! that was charged is returned), idempotency keys remembered for three minutes, and locally
//! (`ACTOR_TEST_PAY_PER_EVENT`) a `charging-log` dataset of every charge. Amounts are kept in
//! integer pico-dollars, so `0.3 / 0.1` is 3, as with the Python SDK's decimals.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::actor::{Actor, OpenOptions};
use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// The synthetic event of each item pushed to the default dataset.
pub const DEFAULT_DATASET_ITEM_EVENT: &str = "apify-default-dataset-item";
const LOG_DATASET: &str = "charging-log";
const KEY_TTL: Duration = Duration::from_secs(180);
const PICO: i128 = 1_000_000_000_000;

/// A decimal amount of USD as pico-dollars; `None` for what is not a finite amount ≥ 0.
pub(crate) fn parse_usd(text: &str) -> Option<i128> {
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 20
    {
        return None;
    }
    let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(12).collect();
    Some(whole.checked_mul(PICO)? + digits.parse::<i128>().ok()?)
}

fn usd_of(v: &Value) -> Option<i128> {
    match v {
        // Display of an f64 is its shortest exact decimal, never an exponent.
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).and_then(|f| parse_usd(&format!("{f}"))),
        Value::String(s) => parse_usd(s),
        _ => None,
    }
}

fn to_f64(pico: i128) -> f64 {
    pico as f64 / PICO as f64
}

/// What a charge did.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeResult {
    /// No more events of this kind fit in the budget.
    pub event_charge_limit_reached: bool,
    /// How many were charged (fewer than asked when the budget ran out).
    pub charged_count: u64,
    /// How many of each known event still fit (`None`: no limit).
    pub chargeable_within_limit: BTreeMap<String, Option<u64>>,
}

/// The run's pricing (`Actor::get_pricing_info`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActorPricingInfo {
    /// `PAY_PER_EVENT`, `PRICE_PER_DATASET_ITEM`, `FLAT_PRICE_PER_MONTH`, `FREE`, or none.
    pub pricing_model: Option<String>,
    /// The budget of the run (infinite when none is set).
    pub max_total_charge_usd: f64,
    /// Whether the run charges per event.
    pub is_pay_per_event: bool,
    /// The price of each known event.
    pub per_event_prices: BTreeMap<String, f64>,
}

/// The charging state of a run.
pub(crate) struct Charging {
    model: Option<String>,
    /// `None`: no budget.
    max: Option<i128>,
    prices: BTreeMap<String, (i128, String)>,
    charged: BTreeMap<String, (u64, i128)>,
    keys: HashMap<String, (String, u64, Instant)>,
    warned: bool,
    is_at_home: bool,
    log: Option<Dataset>,
}

impl Charging {
    /// Reads the pricing from the configuration, or from the run at home.
    pub(crate) async fn open(actor: &Actor) -> Result<Self> {
        let c = actor.config();
        if c.test_pay_per_event && c.is_at_home {
            return Err(Error::Config(
                "ACTOR_TEST_PAY_PER_EVENT is only supported in a local development environment".into(),
            ));
        }
        let mut max = c.max_total_charge_usd.as_deref().and_then(parse_usd);
        let (mut pricing, mut counts) = (c.actor_pricing_info.clone(), c.charged_event_counts.clone());
        if (pricing.is_none() || counts.is_none())
            && c.is_at_home
            && let Some(id) = &c.actor_run_id
        {
            match actor.new_client()?.run(id).get().await? {
                Some(run) => {
                    let run = serde_json::to_value(run).unwrap_or_default();
                    pricing = Some(run["pricingInfo"].clone()).filter(|p| !p.is_null());
                    counts = Some(run["chargedEventCounts"].clone());
                    max = usd_of(&run["options"]["maxTotalChargeUsd"]);
                }
                // Without its run there is no pricing to follow: nothing is charged.
                None => tracing::warn!(run_id = %id, "this run was not found; charging is off"),
            }
        }
        let pricing = pricing.unwrap_or(Value::Null);
        let model = if c.test_pay_per_event {
            Some("PAY_PER_EVENT".to_owned())
        } else {
            pricing["pricingModel"].as_str().map(str::to_owned)
        };
        let mut prices = BTreeMap::new();
        if let Some(events) = pricing["pricingPerEvent"]["actorChargeEvents"].as_object() {
            for (name, e) in events {
                if let Some(p) = usd_of(&e["eventPriceUsd"]) {
                    prices.insert(name.clone(), (p, e["eventTitle"].as_str().unwrap_or(name).to_owned()));
                }
            }
        }
        let mut charged = BTreeMap::new();
        for (name, n) in counts.as_ref().and_then(Value::as_object).into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            let price = prices.get(name).map_or(0, |(p, _)| *p);
            charged.insert(name.clone(), (n, price * i128::from(n)));
        }
        let log = if !c.is_at_home && model.as_deref() == Some("PAY_PER_EVENT") {
            let ds = actor.open_dataset(OpenOptions::new().name(LOG_DATASET)).await?;
            if c.purge_on_start {
                ds.drop().await?;
            }
            Some(actor.open_dataset(OpenOptions::new().name(LOG_DATASET)).await?)
        } else {
            None
        };
        Ok(Self { model, max, prices, charged, keys: HashMap::new(), warned: false, is_at_home: c.is_at_home, log })
    }

    pub(crate) fn is_pay_per_event(&self) -> bool {
        self.model.as_deref() == Some("PAY_PER_EVENT")
    }

    /// An unknown event is free at home and costs $1 locally, so a local budget can be hit.
    fn price(&self, event: &str) -> i128 {
        self.prices.get(event).map_or(if self.is_at_home { 0 } else { PICO }, |(p, _)| *p)
    }

    fn total(&self) -> i128 {
        self.charged.values().map(|(_, a)| a).sum()
    }

    /// How many of `event` fit in what is left (`None`: no limit).
    fn within_limit(&self, event: &str) -> Option<u64> {
        let price = self.price(event);
        let max = self.max?;
        (price > 0).then(|| u64::try_from(((max - self.total()) / price).max(0)).unwrap_or(u64::MAX))
    }

    fn chargeable(&self) -> BTreeMap<String, Option<u64>> {
        self.prices.keys().map(|e| (e.clone(), self.within_limit(e))).collect()
    }

    fn limit_reached(&self, event: &str) -> bool {
        self.within_limit(event).is_some_and(|n| n == 0)
    }

    fn result(&self, event: &str, charged_count: u64) -> ChargeResult {
        ChargeResult {
            event_charge_limit_reached: self.limit_reached(event),
            charged_count,
            chargeable_within_limit: self.chargeable(),
        }
    }

    /// How many of `count` items fit when each costs `event` and, in the default dataset,
    /// the synthetic item event.
    pub(crate) fn push_limit(&self, count: u64, event: Option<&str>) -> u64 {
        let price = event.map_or(0, |e| self.price(e)) + self.price(DEFAULT_DATASET_ITEM_EVENT);
        match self.max {
            Some(max) if price > 0 => {
                count.min(u64::try_from(((max - self.total()) / price).max(0)).unwrap_or(u64::MAX))
            }
            _ => count,
        }
    }

    pub(crate) async fn charge(
        &mut self,
        actor: &Actor,
        event: &str,
        count: u64,
        key: Option<&str>,
    ) -> Result<ChargeResult> {
        if key.is_some_and(|k| k.trim().is_empty()) {
            return Err(Error::InvalidArgument("idempotency_key must not be blank".into()));
        }
        if !self.is_pay_per_event() {
            if !self.warned {
                tracing::warn!(
                    "Ignored attempt to charge for an event - the Actor does not use the pay-per-event pricing"
                );
                self.warned = true;
            }
            return Ok(self.result(event, 0));
        }
        if count == 0 {
            return Ok(self.result(event, 0));
        }
        self.keys.retain(|_, (_, _, at)| at.elapsed() < KEY_TTL);
        if let Some(k) = key
            && let Some((previous, n, _)) = self.keys.get(k)
        {
            // A repeat under the same key is the first charge, as on the platform.
            let n = if previous == event { *n } else { 0 };
            return Ok(self.result(event, n));
        }
        let charged = self.within_limit(event).map_or(count, |n| n.min(count));
        if charged == 0 {
            return Ok(self.result(event, 0));
        }
        if self.is_at_home && !event.starts_with("apify-") {
            if self.prices.contains_key(event) {
                let id = actor
                    .config()
                    .actor_run_id
                    .clone()
                    .ok_or_else(|| Error::Config("ACTOR_RUN_ID is not set".into()))?;
                let mut call = actor.new_client()?.run(&id).charge(event).count(charged);
                if let Some(k) = key {
                    call = call.idempotency_key(k);
                }
                call.await?;
            } else {
                tracing::warn!(event, "Attempting to charge for an unknown event");
            }
        }
        let price = self.price(event);
        let entry = self.charged.entry(event.to_owned()).or_insert((0, 0));
        entry.0 += charged;
        entry.1 += price * i128::from(charged);
        if let Some(k) = key {
            self.keys.insert(k.to_owned(), (event.to_owned(), charged, Instant::now()));
        }
        if let Some(log) = &self.log {
            let title = self.prices.get(event).map_or_else(|| format!("Unknown event '{event}'"), |(_, t)| t.clone());
            let at = apify_core::models::timestamp::format(&time::OffsetDateTime::now_utc());
            log.push_data(&json!({
                "event_name": event, "event_title": title, "event_price_usd": (to_f64(price) * 1000.0).round() / 1000.0,
                "charged_count": charged, "idempotency_key": key, "timestamp": at,
            }))
            .await?;
        }
        if charged < count {
            tracing::info!(event, asked = count, charged, "charging more would exceed max_total_charge_usd");
        }
        Ok(self.result(event, charged))
    }

    pub(crate) fn pricing_info(&self) -> ActorPricingInfo {
        ActorPricingInfo {
            pricing_model: self.model.clone(),
            max_total_charge_usd: self.max.map_or(f64::INFINITY, to_f64),
            is_pay_per_event: self.is_pay_per_event(),
            per_event_prices: self.prices.iter().map(|(k, (p, _))| (k.clone(), to_f64(*p))).collect(),
        }
    }

    pub(crate) fn charged_count(&self, event: &str) -> u64 {
        self.charged.get(event).map_or(0, |(n, _)| *n)
    }
}

impl Actor {
    async fn charging(&self) -> Result<tokio::sync::MutexGuard<'_, Charging>> {
        let cell = self.charging_cell();
        let m = cell.get_or_try_init(|| async { Charging::open(self).await.map(tokio::sync::Mutex::new) }).await?;
        Ok(m.lock().await)
    }

    /// Charges `count` events of `event_name` (pay-per-event); past the budget, fewer (see
    /// `charged_count`). Not pay-per-event: nothing is charged, with one warning.
    pub async fn charge(&self, event_name: &str, count: u64) -> Result<ChargeResult> {
        self.charging().await?.charge(self, event_name, count, None).await
    }

    /// [`Actor::charge`] under an idempotency key: a repeat within three minutes is the
    /// first charge's result and is not sent again.
    pub async fn charge_with_key(&self, event_name: &str, count: u64, idempotency_key: &str) -> Result<ChargeResult> {
        self.charging().await?.charge(self, event_name, count, Some(idempotency_key)).await
    }

    /// The run's pricing.
    pub async fn get_pricing_info(&self) -> Result<ActorPricingInfo> {
        Ok(self.charging().await?.pricing_info())
    }

    /// How many events of `event_name` were charged in this run so far.
    pub async fn get_charged_event_count(&self, event_name: &str) -> Result<u64> {
        Ok(self.charging().await?.charged_count(event_name))
    }

    /// Pushes items to the default dataset and charges `event_name` for each; with a budget,
    /// only the items it pays for are pushed (the rest are dropped, as the Python SDK does).
    pub async fn push_data_charged<T: serde::Serialize + ?Sized>(
        &self,
        data: &T,
        event_name: &str,
    ) -> Result<ChargeResult> {
        if event_name.starts_with("apify-") {
            return Err(Error::InvalidArgument(format!("Cannot charge for synthetic event {event_name:?} manually")));
        }
        let items = crate::dataset::items_of(data)?;
        let mut charging = self.charging().await?;
        if !charging.is_pay_per_event() {
            drop(charging);
            self.push_items(&items).await?;
            return self.charge(event_name, items.len() as u64).await;
        }
        let n = charging.push_limit(items.len() as u64, Some(event_name));
        let fit = &items[..usize::try_from(n).unwrap_or(items.len()).min(items.len())];
        if !fit.is_empty() {
            self.open_dataset(OpenOptions::new()).await?.push_data(fit).await?;
            charging.charge(self, DEFAULT_DATASET_ITEM_EVENT, n, None).await?;
        }
        charging.charge(self, event_name, n, None).await
    }

    /// Pushes items to the default dataset; pay-per-event, only those the budget pays for
    /// (each costs the synthetic `apify-default-dataset-item` event).
    pub(crate) async fn push_items(&self, items: &[Value]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut charging = self.charging().await?;
        if !charging.is_pay_per_event() {
            drop(charging);
            return self.open_dataset(OpenOptions::new()).await?.push_data(items).await;
        }
        let n = charging.push_limit(items.len() as u64, None);
        let fit = &items[..usize::try_from(n).unwrap_or(items.len()).min(items.len())];
        if fit.len() < items.len() {
            tracing::info!(pushed = fit.len(), dropped = items.len() - fit.len(), "the charge budget ends the push");
        }
        if !fit.is_empty() {
            self.open_dataset(OpenOptions::new()).await?.push_data(fit).await?;
            charging.charge(self, DEFAULT_DATASET_ITEM_EVENT, n, None).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Configuration;

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(parse_usd("0.3"), Some(300_000_000_000));
        assert_eq!(parse_usd("2"), Some(2 * PICO));
        assert_eq!(parse_usd(".5"), Some(PICO / 2));
        assert_eq!(usd_of(&json!(0.1)), Some(PICO / 10));
        for bad in ["", ".", "-1", "1e3", "abc", "1.2.3"] {
            assert_eq!(parse_usd(bad), None, "{bad}");
        }
        assert_eq!(parse_usd("0.3").unwrap() / parse_usd("0.1").unwrap(), 3);
    }

    async fn local(max: &str, dir: &std::path::Path) -> Actor {
        let pricing = json!({"pricingModel": "PAY_PER_EVENT", "pricingPerEvent": {"actorChargeEvents": {
            "page": {"eventPriceUsd": 0.5, "eventTitle": "A page"},
            "apify-default-dataset-item": {"eventPriceUsd": 0.1},
        }}});
        let config = Configuration {
            storage_dir: dir.join("storage"),
            test_pay_per_event: true,
            actor_pricing_info: Some(pricing),
            charged_event_counts: Some(json!({})),
            max_total_charge_usd: Some(max.to_owned()),
            ..Configuration::default()
        };
        Actor::with_config(config).await.unwrap()
    }

    #[tokio::test]
    async fn charges_stop_at_the_budget_and_are_logged() {
        let dir = tempfile::tempdir().unwrap();
        let actor = local("2", dir.path()).await;
        let r = actor.charge("page", 3).await.unwrap();
        assert_eq!((r.charged_count, r.event_charge_limit_reached), (3, false));
        assert_eq!(r.chargeable_within_limit["page"], Some(1));
        let r = actor.charge("page", 5).await.unwrap();
        assert_eq!((r.charged_count, r.event_charge_limit_reached), (1, true));
        assert_eq!(actor.charge("page", 1).await.unwrap().charged_count, 0);
        assert_eq!(actor.get_charged_event_count("page").await.unwrap(), 4);
        let log = actor.open_dataset(OpenOptions::new().name(LOG_DATASET)).await.unwrap();
        let entries = log.get_data(crate::GetData::default()).await.unwrap().items;
        let counts: Vec<&Value> = entries.iter().map(|e| &e["charged_count"]).collect();
        assert_eq!(counts, [&json!(3), &json!(1)]);
        assert_eq!(entries[0]["event_title"], "A page");
        let info = actor.get_pricing_info().await.unwrap();
        assert!(info.is_pay_per_event && info.max_total_charge_usd == 2.0 && info.per_event_prices["page"] == 0.5);
    }

    #[tokio::test]
    async fn a_key_charges_once_and_pushes_stop_at_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let actor = local("1", dir.path()).await;
        assert_eq!(actor.charge_with_key("page", 1, "k1").await.unwrap().charged_count, 1);
        assert_eq!(actor.charge_with_key("page", 1, "k1").await.unwrap().charged_count, 1, "the first charge's count");
        assert_eq!(actor.get_charged_event_count("page").await.unwrap(), 1, "charged once");
        assert!(actor.charge_with_key("page", 1, " ").await.is_err());
        // $0.5 left, $0.1 per item: 5 of 8 items are pushed.
        let items: Vec<Value> = (0..8).map(|i| json!({"i": i})).collect();
        actor.push_data(&items).await.unwrap();
        let ds = actor.open_dataset(OpenOptions::new()).await.unwrap();
        assert_eq!(ds.get_data(crate::GetData::default()).await.unwrap().items.len(), 5);
        assert_eq!(actor.get_charged_event_count(DEFAULT_DATASET_ITEM_EVENT).await.unwrap(), 5);
        actor.push_data(&json!({"i": 9})).await.unwrap();
        assert_eq!(ds.get_data(crate::GetData::default()).await.unwrap().items.len(), 5, "the budget is spent");
    }

    #[tokio::test]
    async fn without_pay_per_event_nothing_is_charged() {
        let dir = tempfile::tempdir().unwrap();
        let config = Configuration { storage_dir: dir.path().join("storage"), ..Configuration::default() };
        let actor = Actor::with_config(config).await.unwrap();
        assert_eq!(actor.charge("page", 3).await.unwrap().charged_count, 0);
        let r = actor.push_data_charged(&json!([{"a": 1}, {"a": 2}]), "row").await.unwrap();
        assert_eq!(r.charged_count, 0);
        let ds = actor.open_dataset(OpenOptions::new()).await.unwrap();
        assert_eq!(ds.get_data(crate::GetData::default()).await.unwrap().items.len(), 2, "all pushed");
        assert!(!actor.get_pricing_info().await.unwrap().is_pay_per_event);
    }
}
