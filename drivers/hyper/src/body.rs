//! Bodies between hyper and the core: request bodies (whole or streamed) and response
//! bodies (collected or streamed), decoded on the fly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apify_core::client::ByteStream;
use apify_core::codec::ContentDecoder;
use apify_core::error::{TransportError, TransportErrorKind};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::classify;

/// A request body hyper can send: whole (replayable by the core) or streamed.
pub(crate) enum RequestBody {
    Full(Option<Bytes>),
    Stream(ByteStream),
}

impl RequestBody {
    pub(crate) fn full(b: Bytes) -> Self {
        Self::Full((!b.is_empty()).then_some(b))
    }

    pub(crate) fn stream(s: ByteStream) -> Self {
        Self::Stream(s)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        match self.get_mut() {
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Stream(s) => s.as_mut().poll_next(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Stream(_) => SizeHint::default(),
        }
    }
}

fn decode(decoder: &mut Option<ContentDecoder>, data: Bytes) -> Result<Bytes, TransportError> {
    match decoder {
        Some(d) => d.decode(data).map_err(|e| TransportError::new(TransportErrorKind::IncompleteBody, e)),
        None => Ok(data),
    }
}

fn finish(decoder: Option<ContentDecoder>) -> Result<Bytes, TransportError> {
    match decoder {
        Some(d) => d.finish().map_err(|e| TransportError::new(TransportErrorKind::IncompleteBody, e)),
        None => Ok(Bytes::new()),
    }
}

/// Reads a whole body, decoding it.
pub(crate) async fn collect(mut body: Incoming, mut decoder: Option<ContentDecoder>) -> Result<Bytes, TransportError> {
    let mut out = BytesMut::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(classify::body_error)?;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&decode(&mut decoder, data)?);
        }
    }
    out.extend_from_slice(&finish(decoder)?);
    Ok(out.freeze())
}

/// A response body as a stream of decoded chunks. With a timeout, each chunk must arrive
/// within it (the whole stream may take longer: it is read at the caller's pace).
pub(crate) struct ResponseStream {
    body: Incoming,
    decoder: Option<ContentDecoder>,
    idle: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl ResponseStream {
    pub(crate) fn new(body: Incoming, decoder: Option<ContentDecoder>, idle: Option<Duration>) -> Self {
        Self { body, decoder, idle, timer: None, done: false }
    }
}

impl Stream for ResponseStream {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return match finish(this.decoder.take()) {
                        Ok(b) if b.is_empty() => Poll::Ready(None),
                        other => Poll::Ready(Some(other)),
                    };
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(classify::body_error(e))));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    // Data arrived: the idle clock starts again.
                    this.timer = None;
                    let Ok(data) = frame.into_data() else { continue };
                    match decode(&mut this.decoder, data) {
                        Ok(b) if b.is_empty() => continue,
                        Ok(b) => return Poll::Ready(Some(Ok(b))),
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Pending => {
                    let Some(idle) = this.idle else { return Poll::Pending };
                    let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        return Poll::Ready(Some(Err(TransportError::msg(
                            TransportErrorKind::Timeout,
                            format!("no body data for {idle:?}"),
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
