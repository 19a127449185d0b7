//! Response bodies for drivers: a driver hands over the bytes as they came off the wire,
//! and these adapters remove the `Content-Encoding` with the core's codec and watch for a
//! stalled stream. Every driver shares them, so none repeats the logic.

use std::future::poll_fn;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::HeaderMap;
use http::header;

use super::http::{BoxFuture, ByteStream};
use crate::codec::{BodyTooLarge, ContentDecoder};
use crate::error::{TransportError, TransportErrorKind};

/// Makes a timer future; a driver passes its runtime's sleep.
pub type SleepFn = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// The decoder for a response's `Content-Encoding`, removing the headers that describe the
/// encoded form (`Content-Encoding`, `Content-Length`). An encoding the core never asked
/// for is passed through untouched, headers included.
pub fn take_decoder(headers: &mut HeaderMap) -> Option<ContentDecoder> {
    let enc = headers.get(header::CONTENT_ENCODING)?.to_str().ok()?;
    let decoder = ContentDecoder::new(Some(enc)).ok()?;
    if decoder.is_identity() {
        return None;
    }
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::CONTENT_LENGTH);
    Some(decoder)
}

fn corrupt(e: std::io::Error) -> TransportError {
    let kind = if BodyTooLarge::is(&e) { TransportErrorKind::BodyTooLarge } else { TransportErrorKind::IncompleteBody };
    TransportError::new(kind, e)
}

/// The error of a body that outgrew `limit` bytes.
pub fn too_large(limit: u64) -> TransportError {
    TransportError::new(TransportErrorKind::BodyTooLarge, BodyTooLarge { limit })
}

/// A body stream with its `Content-Encoding` removed and, optionally, an idle timeout:
/// each chunk must arrive within it, while the whole body is read at the caller's pace.
pub struct DecodedStream<S = ByteStream> {
    inner: S,
    decoder: Option<ContentDecoder>,
    idle: Option<(Duration, SleepFn)>,
    timer: Option<BoxFuture<'static, ()>>,
    done: bool,
    // Decoded bytes handed out, and the most allowed.
    seen: u64,
    limit: Option<u64>,
}

impl<S> std::fmt::Debug for DecodedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedStream").field("decoder", &self.decoder).field("done", &self.done).finish()
    }
}

impl<S> DecodedStream<S> {
    /// Decodes `inner` with `decoder` (`None`: pass-through).
    pub fn new(inner: S, decoder: Option<ContentDecoder>) -> Self {
        Self { inner, decoder, idle: None, timer: None, done: false, seen: 0, limit: None }
    }

    /// Fails the stream with a [`TransportErrorKind::BodyTooLarge`] once more than `limit`
    /// decoded bytes came (`None`: no limit). The decoder stops as soon as it passes the
    /// limit, so a compression bomb never expands beyond it.
    pub fn limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        if let Some(l) = limit {
            self.decoder = self.decoder.take().map(|d| d.limit(l));
        }
        self
    }

    fn count(&mut self, chunk: Bytes) -> Poll<Option<Result<Bytes, TransportError>>> {
        self.seen = self.seen.saturating_add(chunk.len() as u64);
        match self.limit {
            Some(limit) if self.seen > limit => {
                self.done = true;
                Poll::Ready(Some(Err(too_large(limit))))
            }
            _ => Poll::Ready(Some(Ok(chunk))),
        }
    }

    /// Fails the stream with a [`TransportErrorKind::Timeout`] when no chunk arrives for
    /// `after` (`None`: wait forever).
    pub fn idle_timeout(mut self, after: Option<Duration>, sleep: SleepFn) -> Self {
        self.idle = after.map(|d| (d, sleep));
        self
    }
}

impl<S: Stream<Item = Result<Bytes, TransportError>> + Unpin> Stream for DecodedStream<S> {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(None) => {
                    this.done = true;
                    return match this.decoder.take().map(ContentDecoder::finish) {
                        Some(Ok(b)) if !b.is_empty() => this.count(b),
                        Some(Err(e)) => Poll::Ready(Some(Err(corrupt(e)))),
                        _ => Poll::Ready(None),
                    };
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(data))) => {
                    // Data arrived: the idle clock starts again.
                    this.timer = None;
                    let decoded = match &mut this.decoder {
                        Some(d) => d.decode(data).map_err(corrupt),
                        None => Ok(data),
                    };
                    match decoded {
                        Ok(b) if b.is_empty() => continue,
                        Ok(b) => return this.count(b),
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Pending => {
                    let Some((idle, sleep)) = &this.idle else { return Poll::Pending };
                    let timer = this.timer.get_or_insert_with(|| sleep(*idle));
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        let msg = format!("no body data for {idle:?}");
                        return Poll::Ready(Some(Err(TransportError::msg(TransportErrorKind::Timeout, msg))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Reads a whole body stream, removing its encoding.
pub async fn collect_decoded<S>(inner: S, decoder: Option<ContentDecoder>) -> Result<Bytes, TransportError>
where
    S: Stream<Item = Result<Bytes, TransportError>> + Unpin,
{
    collect_decoded_limited(inner, decoder, None).await
}

/// Reads a whole body stream, removing its encoding, failing with
/// [`TransportErrorKind::BodyTooLarge`] past `limit` decoded bytes (a driver passes the
/// request's [`HttpRequest::max_body`](super::http::HttpRequest::max_body)).
pub async fn collect_decoded_limited<S>(
    inner: S,
    decoder: Option<ContentDecoder>,
    limit: Option<u64>,
) -> Result<Bytes, TransportError>
where
    S: Stream<Item = Result<Bytes, TransportError>> + Unpin,
{
    let mut stream = DecodedStream::new(inner, decoder).limit(limit);
    // Most bodies arrive in one chunk: that one is returned as it is, without a copy.
    let mut first: Option<Bytes> = None;
    let mut out = BytesMut::new();
    while let Some(chunk) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let chunk = chunk?;
        match first.take() {
            None if out.is_empty() => first = Some(chunk),
            earlier => {
                if let Some(b) = earlier {
                    out.extend_from_slice(&b);
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| out.freeze()))
}

/// A blocking body reader with its `Content-Encoding` removed.
pub struct DecodedReader<R> {
    inner: R,
    decoder: Option<ContentDecoder>,
    out: Bytes,
    seen: u64,
    limit: Option<u64>,
}

impl<R> std::fmt::Debug for DecodedReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedReader").field("decoder", &self.decoder).finish_non_exhaustive()
    }
}

impl<R: Read> DecodedReader<R> {
    /// Decodes `inner` with `decoder` (`None`: pass-through).
    pub fn new(inner: R, decoder: Option<ContentDecoder>) -> Self {
        Self { inner, decoder, out: Bytes::new(), seen: 0, limit: None }
    }

    /// Fails reading (with a [`BodyTooLarge`] cause) once more than `limit` decoded bytes
    /// came (`None`: no limit).
    pub fn limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        if let Some(l) = limit {
            self.decoder = self.decoder.take().map(|d| d.limit(l));
        }
        self
    }

    /// Reads the rest of the body; a failure is an incomplete body (or one too large).
    pub fn read_all(mut self) -> Result<Bytes, TransportError> {
        let mut buf = Vec::new();
        self.read_to_end(&mut buf).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::TimedOut {
                TransportErrorKind::Timeout
            } else if BodyTooLarge::is(&e) {
                TransportErrorKind::BodyTooLarge
            } else {
                TransportErrorKind::IncompleteBody
            };
            TransportError::new(kind, e)
        })?;
        Ok(buf.into())
    }
}

impl<R: Read> Read for DecodedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.read_decoded(buf)?;
        self.seen = self.seen.saturating_add(n as u64);
        match self.limit {
            Some(limit) if self.seen > limit => Err(std::io::Error::other(BodyTooLarge { limit })),
            _ => Ok(n),
        }
    }
}

impl<R: Read> DecodedReader<R> {
    fn read_decoded(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        while self.out.is_empty() {
            let Some(decoder) = &mut self.decoder else { return self.inner.read(buf) };
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                // End of body: the decoder checks that the compressed stream was complete.
                self.out = self.decoder.take().map_or(Ok(Bytes::new()), ContentDecoder::finish)?;
                if self.out.is_empty() {
                    return Ok(0);
                }
                break;
            }
            self.out = decoder.decode(Bytes::copy_from_slice(&chunk[..n]))?;
        }
        let n = buf.len().min(self.out.len());
        buf[..n].copy_from_slice(&self.out.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn chunks(data: &[u8], size: usize) -> ByteStream {
        struct Iter(std::vec::IntoIter<Bytes>);
        impl Stream for Iter {
            type Item = Result<Bytes, TransportError>;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                Poll::Ready(self.0.next().map(Ok))
            }
        }
        let v: Vec<Bytes> = data.chunks(size).map(Bytes::copy_from_slice).collect();
        Box::pin(Iter(v.into_iter()))
    }

    #[test]
    fn headers_are_removed_only_for_known_encodings() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        h.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        assert!(take_decoder(&mut h).is_some());
        assert!(h.is_empty());
        h.insert(header::CONTENT_ENCODING, "zstd".parse().unwrap());
        assert!(take_decoder(&mut h).is_none());
        assert_eq!(h[header::CONTENT_ENCODING], "zstd");
    }

    #[test]
    fn stream_and_reader_decode_at_any_chunking() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let packed = gzip(&data);
        for size in [1, 7, 1000, packed.len()] {
            let dec = ContentDecoder::new(Some("gzip")).ok();
            assert_eq!(block_on(collect_decoded(chunks(&packed, size), dec)).unwrap(), data);
        }
        let dec = ContentDecoder::new(Some("gzip")).ok();
        let mut out = Vec::new();
        DecodedReader::new(&packed[..], dec).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_cut_compressed_body_is_an_incomplete_body() {
        let packed = gzip(b"hello world, hello world");
        let cut = &packed[..packed.len() - 6];
        let dec = ContentDecoder::new(Some("gzip")).ok();
        let err = block_on(collect_decoded(chunks(cut, 5), dec)).unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::IncompleteBody);
        let dec = ContentDecoder::new(Some("gzip")).ok();
        assert_eq!(DecodedReader::new(cut, dec).read_all().unwrap_err().kind(), TransportErrorKind::IncompleteBody);
    }

    #[test]
    fn a_stalled_stream_times_out_through_the_drivers_timer() {
        struct Never;
        impl Stream for Never {
            type Item = Result<Bytes, TransportError>;
            fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                Poll::Pending
            }
        }
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        let sleep: SleepFn = Arc::new(move |d| {
            log.lock().unwrap().push(d);
            Box::pin(std::future::ready(()))
        });
        let mut s = DecodedStream::new(Never, None).idle_timeout(Some(Duration::from_secs(3)), sleep);
        let err = block_on(poll_fn(|cx| Pin::new(&mut s).poll_next(cx))).unwrap().unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Timeout);
        assert_eq!(*asked.lock().unwrap(), [Duration::from_secs(3)]);
        assert!(block_on(poll_fn(|cx| Pin::new(&mut s).poll_next(cx))).is_none());
    }

    /// A gzip bomb: a few KiB that expand to 64 MiB of zeros.
    fn bomb() -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn a_compression_bomb_stops_at_the_limit() {
        let packed = bomb();
        assert!(packed.len() < 128 * 1024, "{}", packed.len());
        let limit = 1 << 20;
        // Whole chunk at once: the decoder itself stops, not the count afterwards.
        let dec = ContentDecoder::new(Some("gzip")).ok();
        let mut s = DecodedStream::new(chunks(&packed, packed.len()), dec).limit(Some(limit));
        let mut got = 0u64;
        let err = loop {
            match block_on(poll_fn(|cx| Pin::new(&mut s).poll_next(cx))) {
                Some(Ok(b)) => got += b.len() as u64,
                Some(Err(e)) => break e,
                None => panic!("a 64 MiB body passed a 1 MiB limit"),
            }
        };
        assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
        assert!(got <= limit, "{got} bytes came out");
        assert!(err.to_string().contains("limit of 1048576 bytes"), "{err}");
        // Through the reader, and the same body within a larger limit.
        let dec = ContentDecoder::new(Some("gzip")).ok();
        let err = DecodedReader::new(&packed[..], dec).limit(Some(limit)).read_all().unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
        let dec = ContentDecoder::new(Some("gzip")).ok();
        assert_eq!(
            block_on(collect_decoded_limited(chunks(&packed, 4096), dec, Some(64 << 20))).unwrap().len(),
            64 << 20
        );
        // Identity bodies are counted by the stream and the reader.
        let plain = vec![1u8; 10_000];
        let err = block_on(collect_decoded_limited(chunks(&plain, 999), None, Some(9_999))).unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
        assert_eq!(block_on(collect_decoded_limited(chunks(&plain, 999), None, Some(10_000))).unwrap().len(), 10_000);
        let err = DecodedReader::new(&plain[..], None).limit(Some(9_999)).read_all().unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge);
    }
}
