//! Users, the Store and the tools: `client.user(None)` (`me`), `client.store()`,
//! `client.tools()`.

use http::Method;
use serde_json::Value;

use super::base::{Base, resource_client};
use super::builder::CallBuilder;
use super::paginator::Paginator;
use crate::ops::api::ApiOp;
use crate::ops::kinds::{
    DecodeAndVerify, EncodeAndSign, GetBrowserInfo, GetLimits, GetMonthlyUsage, GetUser, ListStore, UpdateLimits,
};
use crate::ops::registry as r;

resource_client!(
    /// A user: `client.user(None)` is the token's own account (`me`).
    UserClient
);

impl<D> UserClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    fn is_me(&self) -> bool {
        self.base.resource_id() == Some("me")
    }

    /// The user: private data for `me`, public data for anyone else; `None` if missing.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetUser>> {
        self.base.op(if self.is_me() { &r::USERS_ME_GET } else { &r::USER_GET })
    }

    /// Usage of the current billing cycle (`.date("YYYY-MM-DD")` for another cycle).
    pub fn monthly_usage(&self) -> CallBuilder<D, ApiOp<GetMonthlyUsage>> {
        self.base.op(&r::USERS_ME_USAGE_MONTHLY_GET)
    }

    /// Account limits and current usage.
    pub fn limits(&self) -> CallBuilder<D, ApiOp<GetLimits>> {
        self.base.op(&r::USERS_ME_LIMITS_GET)
    }

    /// Changes `max_monthly_usage_usd` or `data_retention_days`.
    pub fn update_limits(&self) -> CallBuilder<D, ApiOp<UpdateLimits>> {
        self.base.op(&r::USERS_ME_LIMITS_PUT)
    }
}

resource_client!(
    /// Apify Store: `client.store()`.
    StoreCollectionClient
);

impl<D> StoreCollectionClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// One page of Store Actors (`search`, `sort_by`, `category`, `username`,
    /// `pricing_model`, ...).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListStore>> {
        self.base.op(&r::STORE_GET)
    }

    /// Every Store Actor, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListStore>> {
        self.base.iterate(&r::STORE_GET)
    }
}

resource_client!(
    /// Tools of the API that are not resources: `client.tools()`.
    ToolsClient
);

impl<D> ToolsClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// What the API saw of this request: method, client IP, country, headers
    /// (`.skip_headers(true)`, `.raw_headers(true)`; `.method(..)` to send another method).
    pub fn browser_info(&self) -> CallBuilder<D, ApiOp<GetBrowserInfo>> {
        self.base.op(&r::TOOLS_BROWSER_INFO_GET)
    }

    /// Encodes `value` and signs it with the account's key.
    pub fn encode_and_sign(&self, value: Value) -> CallBuilder<D, ApiOp<EncodeAndSign>> {
        self.base.call(ApiOp::<EncodeAndSign>::new(&r::TOOLS_ENCODE_AND_SIGN_POST).body_json(value))
    }

    /// Decodes a value made by `encode_and_sign` and tells who signed it.
    pub fn decode_and_verify(&self, encoded: &str) -> CallBuilder<D, ApiOp<DecodeAndVerify>> {
        self.base
            .call(ApiOp::<DecodeAndVerify>::new(&r::TOOLS_DECODE_AND_VERIFY_POST).body_field("encoded", encoded.into()))
    }
}

impl<D> CallBuilder<D, ApiOp<GetBrowserInfo>> {
    /// Sends the request with `GET` (default), `POST`, `PUT` or `DELETE`.
    pub fn method(self, method: Method) -> Self {
        let spec = match method {
            Method::POST => &r::TOOLS_BROWSER_INFO_POST,
            Method::PUT => &r::TOOLS_BROWSER_INFO_PUT,
            Method::DELETE => &r::TOOLS_BROWSER_INFO_DELETE,
            _ => &r::TOOLS_BROWSER_INFO_GET,
        };
        self.map_op(|o| o.with_spec(spec))
    }
}
