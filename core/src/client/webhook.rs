//! Webhooks and their dispatches: `client.webhooks()`, `client.webhook(id)`,
//! `client.webhook_dispatches()`.

use super::base::{Base, resource_client};
use super::builder::CallBuilder;
use super::paginator::Paginator;
use crate::models::WebhookEventType;
use crate::ops::api::ApiOp;
use crate::ops::kinds::{
    CreateWebhook, Delete, GetDispatch, GetWebhook, ListDispatches, ListWebhooks, TestWebhook, UpdateWebhook,
};
use crate::ops::registry::{self as r, OpSpec};

/// Where webhooks are listed: all, an Actor's or a task's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookScope {
    Global,
    Actor,
    Task,
}

resource_client!(
    /// Webhooks: `client.webhooks()`, `actor.webhooks()`, `task.webhooks()`.
    WebhookCollectionClient,
    WebhookScope
);

impl<D> WebhookCollectionClient<D> {
    pub(crate) fn new(base: Base<D>, scope: WebhookScope) -> Self {
        Self { base, scope }
    }

    fn list_spec(&self) -> &'static OpSpec {
        match self.scope {
            WebhookScope::Actor => &r::ACTOR_WEBHOOKS_GET,
            WebhookScope::Task => &r::ACTOR_TASK_WEBHOOKS_GET,
            WebhookScope::Global => &r::WEBHOOKS_GET,
        }
    }

    /// One page of webhooks (`offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListWebhooks>> {
        self.base.op(self.list_spec())
    }

    /// Every webhook, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListWebhooks>> {
        self.base.iterate(self.list_spec())
    }

    /// Creates a webhook for `event_types` that calls `request_url` (`actor_id`,
    /// `payload_template`, `idempotency_key`, ...).
    pub fn create<I, E>(&self, event_types: I, request_url: &str) -> CallBuilder<D, ApiOp<CreateWebhook>>
    where
        I: IntoIterator<Item = E>,
        E: Into<WebhookEventType>,
    {
        let op = ApiOp::<CreateWebhook>::new(&r::WEBHOOKS_POST).event_types(event_types).request_url(request_url);
        self.base.call(op)
    }
}

resource_client!(
    /// A webhook: `client.webhook(id)`.
    WebhookClient
);

impl<D> WebhookClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// The webhook, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetWebhook>> {
        self.base.op(&r::WEBHOOK_GET)
    }

    /// Changes the fields set with the setters.
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateWebhook>> {
        self.base.op(&r::WEBHOOK_PUT)
    }

    /// Deletes the webhook.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::WEBHOOK_DELETE)
    }

    /// Sends a test event; returns its dispatch.
    pub fn test(&self) -> CallBuilder<D, ApiOp<TestWebhook>> {
        self.base.op(&r::WEBHOOK_TEST_POST)
    }

    /// The webhook's dispatches.
    pub fn dispatches(&self) -> WebhookDispatchCollectionClient<D> {
        WebhookDispatchCollectionClient::new(self.base.chained("dispatches"), true)
    }
}

resource_client!(
    /// Webhook dispatches: `client.webhook_dispatches()`, `webhook.dispatches()`.
    WebhookDispatchCollectionClient,
    bool
);

impl<D> WebhookDispatchCollectionClient<D> {
    pub(crate) fn new(base: Base<D>, of_webhook: bool) -> Self {
        Self { base, scope: of_webhook }
    }

    fn list_spec(&self) -> &'static OpSpec {
        if self.scope { &r::WEBHOOK_WEBHOOK_DISPATCHES_GET } else { &r::WEBHOOK_DISPATCHES_GET }
    }

    /// One page of dispatches (`offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListDispatches>> {
        self.base.op(self.list_spec())
    }

    /// Every dispatch, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListDispatches>> {
        self.base.iterate(self.list_spec())
    }
}

resource_client!(
    /// A webhook dispatch: `client.webhook_dispatch(id)`.
    WebhookDispatchClient
);

impl<D> WebhookDispatchClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// The dispatch, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetDispatch>> {
        self.base.op(&r::WEBHOOK_DISPATCH_GET)
    }
}
