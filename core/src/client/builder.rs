//! Calls under construction. A resource method returns a builder; option setters refine
//! it; then `.await` runs it on an async driver, or `.send()` on a blocking one. The same
//! builder type serves both, so there is one tree of resource methods.

use std::future::IntoFuture;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;

use super::body::{BodyReader, BodyStream, StreamBody, map_upload};
use super::exec::{ClientInner, execute, execute_blocking, run_plan, run_plan_blocking};
use super::http::{BlockingHttpClient, BoxFuture, HttpClient};
use crate::config::{Config, Timeout};
use crate::error::{BoxError, Error};
use crate::models::Record;
use crate::ops::dataset::DownloadItems;
use crate::ops::key_value_store::{DownloadRecords, GetRecordAsBytes, UploadRecord};
use crate::ops::plan::{IntoPlan, Plan};
use crate::path::ResourcePath;
use crate::request::ApiRequest;
use crate::response::{NotFound, Response, expect_no_content};

/// A call ready to run: `.await` it (async driver) or `.send()` it (blocking driver).
#[must_use = "a call does nothing until it is awaited or sent"]
pub struct CallBuilder<D, O> {
    client: Arc<ClientInner<D>>,
    parts: Result<(ResourcePath, O), Error>,
    timeout: Option<Timeout>,
}

impl<D, O> std::fmt::Debug for CallBuilder<D, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBuilder")
            .field("target", &self.parts.as_ref().map(|p| p.0.as_str()))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<D, O> CallBuilder<D, O> {
    pub(crate) fn new(client: Arc<ClientInner<D>>, parts: Result<(ResourcePath, O), Error>) -> Self {
        Self { client, parts, timeout: None }
    }

    pub(crate) fn map_op(mut self, f: impl FnOnce(O) -> O) -> Self {
        self.parts = self.parts.map(|(t, o)| (t, f(o)));
        self
    }

    pub(crate) fn try_map_op(mut self, f: impl FnOnce(O) -> Result<O, Error>) -> Self {
        self.parts = self.parts.and_then(|(t, o)| Ok((t, f(o)?)));
        self
    }

    /// Overrides the timeout of the first attempt (it doubles per retry, capped by `max`).
    pub fn timeout(mut self, timeout: impl Into<Timeout>) -> Self {
        self.timeout = Some(timeout.into());
        self
    }

    /// The operation's options, unless building it already failed.
    pub fn options(&self) -> Option<&O> {
        self.parts.as_ref().ok().map(|p| &p.1)
    }

    /// The first request the call would send, built without sending anything (with the
    /// clock at zero): to inspect or log a call, or to test which request a method makes.
    pub fn request(&self) -> Result<ApiRequest, Error>
    where
        O: IntoPlan + Clone,
    {
        let (target, op) = self.parts.as_ref().map_err(|e| Error::invalid_argument(e.to_string()))?;
        let mut plan = op.clone().into_plan();
        let cx = crate::ops::plan::PlanCx::new(&self.client.config, target);
        match plan.next(&cx)? {
            crate::ops::plan::Step::Send(mut req) => {
                if let Some(t) = self.timeout
                    && !req.meta.own_timeout
                {
                    req.timeout = t;
                }
                Ok(req)
            }
            crate::ops::plan::Step::SendAll(mut reqs) if !reqs.is_empty() => Ok(reqs.remove(0)),
            _ => Err(Error::invalid_argument("this call sends no request")),
        }
    }
}

impl<D: HttpClient, O: IntoPlan> IntoFuture for CallBuilder<D, O> {
    type Output = Result<<O::Plan as Plan>::Output, Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (target, op) = self.parts?;
            run_plan(&self.client, &target, op.into_plan(), self.timeout).await
        })
    }
}

impl<D: BlockingHttpClient, O: IntoPlan> CallBuilder<D, O> {
    /// Runs the call on the blocking driver.
    pub fn send(self) -> Result<<O::Plan as Plan>::Output, Error> {
        let (target, op) = self.parts?;
        run_plan_blocking(&self.client, &target, op.into_plan(), self.timeout)
    }
}

/// An operation whose successful body is handed to the caller as a stream.
pub trait StreamOperation: Send + 'static {
    /// The result, given the body type (`BodyStream` or `BodyReader`).
    type Output<B: StreamBody>: Send + 'static;
    /// The request (marked as streamed).
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error>;
    /// Shapes the result: `body` is `Some` for a 2xx, `None` with the full error response
    /// otherwise.
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<Self::Output<B>, Error>;
}

impl StreamOperation for DownloadItems {
    type Output<B: StreamBody> = B;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        self.api_request(config, target, true)
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<B, Error> {
        match body {
            Some(b) if head.is_success() => Ok(b),
            _ => Err(head.to_api_error()),
        }
    }
}

impl StreamOperation for DownloadRecords {
    type Output<B: StreamBody> = B;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        self.api_request(config, target)
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<B, Error> {
        match body {
            Some(b) if head.is_success() => Ok(b),
            _ => Err(head.to_api_error()),
        }
    }
}

impl StreamOperation for GetRecordAsBytes {
    type Output<B: StreamBody> = Option<Record<B>>;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        self.api_request(config, target, true)
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<Option<Record<B>>, Error> {
        match body {
            Some(value) if head.is_success() => {
                let content_type = head.header("content-type").map(str::to_owned);
                Ok(Some(Record { key: self.key, value, content_type }))
            }
            _ if head.status == http::StatusCode::NOT_FOUND => Ok(None),
            _ => Err(head.to_api_error()),
        }
    }
}

/// A call whose body arrives as a stream (`stream_items`, `stream_record`).
#[must_use = "a call does nothing until it is awaited or sent"]
pub struct StreamCall<D, S> {
    inner: CallBuilder<D, S>,
}

impl<D, S> StreamCall<D, S> {
    pub(crate) fn new(inner: CallBuilder<D, S>) -> Self {
        Self { inner }
    }

    pub(crate) fn map_op(self, f: impl FnOnce(S) -> S) -> Self {
        Self { inner: self.inner.map_op(f) }
    }

    /// Overrides the timeout for the response head (and for each later chunk).
    pub fn timeout(self, timeout: impl Into<Timeout>) -> Self {
        Self { inner: self.inner.timeout(timeout) }
    }

    /// The request the call would send, built without sending it.
    pub fn request(&self) -> Result<ApiRequest, Error>
    where
        S: StreamOperation,
    {
        let (target, op) = self.inner.parts.as_ref().map_err(|e| Error::invalid_argument(e.to_string()))?;
        let mut req = op.request(&self.inner.client.config, target)?;
        if let Some(t) = self.inner.timeout {
            req.timeout = t;
        }
        Ok(req)
    }
}

impl<D: HttpClient, S: StreamOperation> IntoFuture for StreamCall<D, S> {
    type Output = Result<S::Output<BodyStream>, Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let CallBuilder { client, parts, timeout } = self.inner;
            let (target, op) = parts?;
            let mut req = op.request(&client.config, &target)?;
            if let Some(t) = timeout {
                req.timeout = t;
            }
            let (head, body) = execute(&client, req, None).await?;
            let body = body.map(|b| BodyStream::new(b, &head));
            op.output(head, body)
        })
    }
}

impl<D: BlockingHttpClient, S: StreamOperation> StreamCall<D, S> {
    /// Runs the call on the blocking driver; the body is read as you read the result.
    pub fn send(self) -> Result<S::Output<BodyReader>, Error> {
        let CallBuilder { client, parts, timeout } = self.inner;
        let (target, op) = parts?;
        let mut req = op.request(&client.config, &target)?;
        if let Some(t) = timeout {
            req.timeout = t;
        }
        let (head, body) = execute_blocking(&client, req, None)?;
        let body = body.map(|b| BodyReader::new(b, &head));
        op.output(head, body)
    }
}

/// A streamed upload of a record: one attempt, since a stream cannot be rewound.
#[must_use = "a call does nothing until it is awaited or sent"]
pub struct UploadCall<D, B> {
    inner: CallBuilder<D, UploadRecord>,
    body: B,
}

impl<D, B> UploadCall<D, B> {
    pub(crate) fn new(inner: CallBuilder<D, UploadRecord>, body: B) -> Self {
        Self { inner, body }
    }

    /// Overrides the timeout of the upload.
    pub fn timeout(self, timeout: impl Into<Timeout>) -> Self {
        Self { inner: self.inner.timeout(timeout), body: self.body }
    }
}

impl<D, S, E> IntoFuture for UploadCall<D, S>
where
    D: HttpClient,
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let CallBuilder { client, parts, timeout } = self.inner;
            let (target, op) = parts?;
            let mut req = op.request(&client.config, &target)?;
            if let Some(t) = timeout {
                req.timeout = t;
            }
            let (head, _) = execute(&client, req, Some(map_upload(self.body))).await?;
            expect_no_content(head, NotFound::Error)
        })
    }
}

impl<D: BlockingHttpClient, R: Read + Send + 'static> UploadCall<D, R> {
    /// Uploads the reader's bytes.
    pub fn send(self) -> Result<(), Error> {
        let CallBuilder { client, parts, timeout } = self.inner;
        let (target, op) = parts?;
        let mut req = op.request(&client.config, &target)?;
        if let Some(t) = timeout {
            req.timeout = t;
        }
        let (head, _) = execute_blocking(&client, req, Some(Box::new(self.body)))?;
        expect_no_content(head, NotFound::Error)
    }
}
