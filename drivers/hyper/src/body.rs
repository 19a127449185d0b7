//! Bodies between hyper and the core: request bodies (whole or streamed) and response
//! bodies as raw chunk streams (the core decodes them).

use std::pin::Pin;
use std::task::{Context, Poll};

use apify_core::client::ByteStream;
use apify_core::error::TransportError;
use bytes::Bytes;
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

/// hyper's response body as a stream of raw chunks, its errors classified; the core's
/// [`DecodedStream`](apify_core::client::decoding::DecodedStream) decodes it.
pub(crate) struct IncomingStream(pub(crate) Incoming);

impl Stream for IncomingStream {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.0).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    // Trailers carry nothing the core reads.
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(classify::body_error(e)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
