//! Response bodies handed to the caller: async streams and blocking readers, with
//! incremental decoders for dataset items (JSON arrays), JSONL and lines.

use std::io::Read;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{Method, Uri};
use serde::de::DeserializeOwned;

use super::exec::io_to_transport;
use super::http::ByteStream;
use crate::error::{BoxError, Error, TransportError, TransportErrorKind};
use crate::response::Response;
use crate::stream::{JsonArrayDecoder, JsonLinesDecoder, LineDecoder};

/// Where a body came from, so chunk failures name the call.
#[derive(Debug, Clone)]
struct Origin {
    attempt: u32,
    method: Method,
    url: Uri,
}

impl Origin {
    fn of(head: &Response) -> Self {
        Self { attempt: head.attempt, method: head.method.clone(), url: head.url.clone() }
    }

    fn error(&self, source: TransportError) -> Error {
        Error::Transport { source, attempt: self.attempt, method: self.method.clone(), url: self.url.to_string() }
    }
}

/// A response body as an async stream of chunks (already decompressed).
pub struct BodyStream {
    inner: ByteStream,
    origin: Origin,
    content_type: Option<String>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream").field("url", &self.origin.url).finish_non_exhaustive()
    }
}

impl BodyStream {
    pub(crate) fn new(inner: ByteStream, head: &Response) -> Self {
        Self { inner, origin: Origin::of(head), content_type: head.header("content-type").map(str::to_owned) }
    }

    /// The response's `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Decodes a JSON array body item by item, with memory bounded by the largest item.
    pub fn items<T: DeserializeOwned>(self) -> ItemStream<T, JsonArrayDecoder> {
        ItemStream { body: self, decoder: JsonArrayDecoder::new(), done: false, _item: PhantomData }
    }

    /// Decodes a JSONL body (`format=jsonl`) item by item.
    pub fn json_lines<T: DeserializeOwned>(self) -> ItemStream<T, JsonLinesDecoder> {
        ItemStream { body: self, decoder: JsonLinesDecoder::new(), done: false, _item: PhantomData }
    }

    /// Splits the body into lines (UTF-8 is decoded per complete line).
    pub fn lines(self) -> LineStream {
        LineStream { body: self, decoder: LineDecoder::new(), done: false }
    }

    /// Collects the whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(this.origin.error(e)))),
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An incremental decoder of items from byte chunks.
pub trait ItemDecoder: Send + Unpin {
    /// Adds input.
    fn feed(&mut self, chunk: &[u8]);
    /// The next complete item, if any.
    fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T, Error>>;
    /// Marks the end of input; an error if the document was cut short.
    fn end(&mut self) -> Result<(), Error>;
}

impl ItemDecoder for JsonArrayDecoder {
    fn feed(&mut self, chunk: &[u8]) {
        Self::feed(self, chunk);
    }
    fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T, Error>> {
        self.next_item().map(|r| r.map_err(Error::from))
    }
    fn end(&mut self) -> Result<(), Error> {
        self.finish().map_err(Error::from)
    }
}

impl ItemDecoder for JsonLinesDecoder {
    fn feed(&mut self, chunk: &[u8]) {
        Self::feed(self, chunk);
    }
    fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T, Error>> {
        self.next_item().map(|r| r.map_err(Error::from))
    }
    fn end(&mut self) -> Result<(), Error> {
        // The last line, if unterminated, becomes available to `next`.
        self.finish();
        Ok(())
    }
}

/// Items decoded from a [`BodyStream`] as they arrive.
pub struct ItemStream<T, Dec> {
    body: BodyStream,
    decoder: Dec,
    done: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T, Dec> std::fmt::Debug for ItemStream<T, Dec> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemStream").field("body", &self.body).finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned, Dec: ItemDecoder> Stream for ItemStream<T, Dec> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.decoder.next::<T>() {
                return Poll::Ready(Some(item));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.decoder.feed(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if let Err(e) = this.decoder.end() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A streamed response body: [`BodyStream`] on async drivers, [`BodyReader`] on blocking
/// ones; both can be read line by line.
pub trait StreamBody: Send + 'static {
    /// Its lines: a `Stream` or an `Iterator` of `Result<String, Error>`.
    type Lines: Send + 'static;
    /// Splits the body into lines as it arrives.
    fn into_lines(self) -> Self::Lines;
}

impl StreamBody for BodyStream {
    type Lines = LineStream;
    fn into_lines(self) -> LineStream {
        self.lines()
    }
}

impl StreamBody for BodyReader {
    type Lines = LineIter;
    fn into_lines(self) -> LineIter {
        self.lines()
    }
}

/// Lines of a [`BodyStream`].
pub struct LineStream {
    body: BodyStream,
    decoder: LineDecoder,
    done: bool,
}

impl std::fmt::Debug for LineStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineStream").field("body", &self.body).finish_non_exhaustive()
    }
}

impl Stream for LineStream {
    type Item = Result<String, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(line) = this.decoder.next_line() {
                return Poll::Ready(Some(line.map_err(Error::from)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.decoder.feed(&chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    match this.decoder.finish() {
                        Ok(Some(last)) => return Poll::Ready(Some(Ok(last))),
                        Ok(None) => return Poll::Ready(None),
                        Err(e) => return Poll::Ready(Some(Err(e.into()))),
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A response body as a blocking reader (already decompressed).
pub struct BodyReader {
    inner: Box<dyn Read + Send>,
    origin: Origin,
    content_type: Option<String>,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader").field("url", &self.origin.url).finish_non_exhaustive()
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

const READ_CHUNK: usize = 64 * 1024;

impl BodyReader {
    pub(crate) fn new(inner: Box<dyn Read + Send>, head: &Response) -> Self {
        Self { inner, origin: Origin::of(head), content_type: head.header("content-type").map(str::to_owned) }
    }

    /// The response's `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Decodes a JSON array body item by item, with memory bounded by the largest item.
    pub fn items<T: DeserializeOwned>(self) -> ItemIter<T, JsonArrayDecoder> {
        ItemIter {
            body: self,
            decoder: JsonArrayDecoder::new(),
            buf: vec![0; READ_CHUNK],
            done: false,
            _item: PhantomData,
        }
    }

    /// Decodes a JSONL body item by item.
    pub fn json_lines<T: DeserializeOwned>(self) -> ItemIter<T, JsonLinesDecoder> {
        ItemIter {
            body: self,
            decoder: JsonLinesDecoder::new(),
            buf: vec![0; READ_CHUNK],
            done: false,
            _item: PhantomData,
        }
    }

    /// Decodes the body line by line (logs), as it is read.
    pub fn lines(self) -> LineIter {
        LineIter { body: self, decoder: LineDecoder::new(), buf: vec![0; READ_CHUNK], done: false }
    }

    /// Reads the whole body.
    pub fn bytes(mut self) -> Result<Bytes, Error> {
        let mut out = Vec::new();
        self.inner.read_to_end(&mut out).map_err(|e| self.origin.error(io_to_transport(e)))?;
        Ok(out.into())
    }

    pub(crate) fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| self.origin.error(io_to_transport(e))),
            }
        }
    }
}

/// Lines of a [`BodyReader`], as they are read (a log followed live).
pub struct LineIter {
    body: BodyReader,
    decoder: LineDecoder,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for LineIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineIter").field("body", &self.body).finish_non_exhaustive()
    }
}

impl Iterator for LineIter {
    type Item = Result<String, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(line) = self.decoder.next_line() {
                return Some(line.map_err(Error::from));
            }
            if self.done {
                return None;
            }
            match self.body.read_chunk(&mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return self.decoder.finish().map_err(Error::from).transpose();
                }
                Ok(n) => self.decoder.feed(&self.buf[..n]),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Items decoded from a [`BodyReader`] as they are read.
pub struct ItemIter<T, Dec> {
    body: BodyReader,
    decoder: Dec,
    buf: Vec<u8>,
    done: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T, Dec> std::fmt::Debug for ItemIter<T, Dec> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemIter").field("body", &self.body).finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned, Dec: ItemDecoder> Iterator for ItemIter<T, Dec> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.decoder.next::<T>() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            match self.body.read_chunk(&mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    if let Err(e) = self.decoder.end() {
                        return Some(Err(e));
                    }
                }
                Ok(n) => self.decoder.feed(&self.buf[..n]),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Adapts a caller's upload stream to the driver's chunk stream.
pub(crate) fn map_upload<S, E>(stream: S) -> ByteStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    struct Upload<S>(Pin<Box<S>>);
    impl<S, E> Stream for Upload<S>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        type Item = Result<Bytes, TransportError>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.as_mut().poll_next(cx) {
                // An empty chunk would end a chunked body early; skip it.
                Poll::Ready(Some(Ok(b))) if b.is_empty() => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Ready(Some(r)) => {
                    Poll::Ready(Some(r.map_err(|e| TransportError::new(TransportErrorKind::RequestBody, e))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        }
    }
    Box::pin(Upload(Box::pin(stream)))
}
