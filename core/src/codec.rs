//! Body codings: request compression (client-behaviour §3.4) and incremental response
//! decompression shared by every driver, so each driver hands the core decoded bodies.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{GzEncoder, MultiGzDecoder, ZlibDecoder};

use crate::config::RequestCompression;

/// Bodies smaller than this are sent as they are.
pub const COMPRESSION_THRESHOLD: usize = 1024;

/// The `Accept-Encoding` a driver using [`ContentDecoder`] may advertise.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br";

// Media types that look compressed by prefix but are not (list C of the spec).
const RAW_DESPITE_PREFIX: &[&str] = &[
    "audio/aiff",
    "audio/basic",
    "audio/l16",
    "audio/l24",
    "audio/midi",
    "audio/vnd.wave",
    "audio/wav",
    "audio/wave",
    "audio/x-aiff",
    "audio/x-wav",
    "image/bmp",
    "image/tiff",
    "image/vnd.adobe.photoshop",
    "image/vnd.microsoft.icon",
    "image/x-icon",
    "image/x-ms-bmp",
];

// Media types that are already compressed (list N of the spec).
const ALREADY_COMPRESSED: &[&str] = &[
    "application/epub+zip",
    "application/gzip",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.rar",
    "application/x-7z-compressed",
    "application/x-bzip",
    "application/x-bzip2",
    "application/x-gzip",
    "application/x-rar-compressed",
    "application/x-xz",
    "application/x-zip-compressed",
    "application/zip",
    "application/zstd",
    "font/woff",
    "font/woff2",
];

/// Whether a body of this content type gains from compression.
pub fn is_compressible(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if RAW_DESPITE_PREFIX.contains(&media.as_str()) || media.ends_with("+json") || media.ends_with("+xml") {
        return true;
    }
    let media_prefix_compressed =
        media.starts_with("audio/") || media.starts_with("image/") || media.starts_with("video/");
    !(media_prefix_compressed || ALREADY_COMPRESSED.contains(&media.as_str()))
}

/// Compresses `body` if the rules allow it; returns the new body and its `Content-Encoding`.
pub fn compress_request_body(
    body: &[u8],
    content_type: Option<&str>,
    how: RequestCompression,
) -> Option<(Bytes, &'static str)> {
    if body.len() < COMPRESSION_THRESHOLD || !is_compressible(content_type) {
        return None;
    }
    match how {
        RequestCompression::Off => None,
        RequestCompression::Gzip => {
            let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::new(6));
            enc.write_all(body).ok()?;
            Some((enc.finish().ok()?.into(), "gzip"))
        }
        #[cfg(feature = "brotli-requests")]
        RequestCompression::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            {
                let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 6, 22);
                enc.write_all(body).ok()?;
                enc.flush().ok()?;
            }
            Some((out.into(), "br"))
        }
    }
}

/// A `Content-Encoding` the decoder does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported content encoding {0:?}")]
pub struct UnsupportedEncoding(pub String);

/// A buffered response body outgrew its limit (see
/// [`Config::with_max_response_body`](crate::config::Config::with_max_response_body)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body is larger than the limit of {limit} bytes (counted decompressed)")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

impl BodyTooLarge {
    /// Whether `e` is (or wraps) this error.
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Self>())
    }
}

/// Where a decoder writes: the output of the current chunk, counted against a limit.
/// Failing the write stops the decoder within one of its internal buffers (some KiB),
/// however many bytes the compressed input would still expand to.
struct Sink {
    buf: Vec<u8>,
    total: u64,
    limit: u64,
}

impl Sink {
    fn new() -> Self {
        Self { buf: Vec::new(), total: 0, limit: u64::MAX }
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.total = self.total.saturating_add(data.len() as u64);
        if self.total > self.limit {
            return Err(io::Error::other(BodyTooLarge { limit: self.limit }));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Decompresses a response body chunk by chunk, with memory bounded by the chunk sizes
/// and, with [`ContentDecoder::limit`], the decoded size bounded too.
pub struct ContentDecoder(Inner);

enum Inner {
    Identity,
    Gzip(MultiGzDecoder<Sink>),
    Deflate(ZlibDecoder<Sink>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Sink>>),
}

impl std::fmt::Debug for ContentDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            Inner::Identity => "identity",
            Inner::Gzip(_) => "gzip",
            Inner::Deflate(_) => "deflate",
            Inner::Brotli(_) => "br",
        };
        f.debug_tuple("ContentDecoder").field(&name).finish()
    }
}

impl ContentDecoder {
    /// A decoder for a `Content-Encoding` header value (`None` or `identity`: pass-through).
    pub fn new(content_encoding: Option<&str>) -> Result<Self, UnsupportedEncoding> {
        let enc = content_encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
        Ok(Self(match enc.as_str() {
            "" | "identity" => Inner::Identity,
            "gzip" | "x-gzip" => Inner::Gzip(MultiGzDecoder::new(Sink::new())),
            "deflate" => Inner::Deflate(ZlibDecoder::new(Sink::new())),
            "br" => Inner::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(Sink::new(), 8192))),
            _ => return Err(UnsupportedEncoding(enc)),
        }))
    }

    /// Fails decoding (with a [`BodyTooLarge`] cause) once more than `limit` bytes came
    /// out. Identity bodies pass through uncounted: their reader counts them.
    pub fn limit(mut self, limit: u64) -> Self {
        if let Some(sink) = self.sink() {
            sink.limit = limit;
        }
        self
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        match &mut self.0 {
            Inner::Identity => None,
            Inner::Gzip(d) => Some(d.get_mut()),
            Inner::Deflate(d) => Some(d.get_mut()),
            Inner::Brotli(d) => Some(d.get_mut()),
        }
    }

    /// True when bodies pass through unchanged.
    pub fn is_identity(&self) -> bool {
        matches!(self.0, Inner::Identity)
    }

    /// Decodes one chunk; returns what could be decompressed so far (possibly empty).
    pub fn decode(&mut self, chunk: Bytes) -> io::Result<Bytes> {
        fn take(s: &mut Sink) -> Bytes {
            Bytes::from(std::mem::take(&mut s.buf))
        }
        match &mut self.0 {
            Inner::Identity => Ok(chunk),
            Inner::Gzip(d) => {
                d.write_all(&chunk)?;
                Ok(take(d.get_mut()))
            }
            Inner::Deflate(d) => {
                d.write_all(&chunk)?;
                Ok(take(d.get_mut()))
            }
            Inner::Brotli(d) => {
                d.write_all(&chunk)?;
                Ok(take(d.get_mut()))
            }
        }
    }

    /// Ends the body: fails if the compressed stream was cut short.
    pub fn finish(self) -> io::Result<Bytes> {
        match self.0 {
            Inner::Identity => Ok(Bytes::new()),
            Inner::Gzip(d) => d.finish().map(|s| Bytes::from(s.buf)),
            Inner::Deflate(d) => d.finish().map(|s| Bytes::from(s.buf)),
            Inner::Brotli(mut d) => {
                d.close()?;
                d.into_inner().map(|s| Bytes::from(s.buf)).map_err(|_| io::Error::other("brotli stream incomplete"))
            }
        }
    }

    /// Decodes a whole body, producing at most `limit` bytes: `Ok(None)` when the decoded
    /// body is larger. Memory stays bounded by `limit` whatever the compression ratio, so
    /// a few hundred bytes of brotli cannot make a server allocate gigabytes.
    pub fn decode_all_limited(content_encoding: Option<&str>, body: &[u8], limit: usize) -> io::Result<Option<Bytes>> {
        use std::io::Read;
        let enc = content_encoding.map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
        let reader: Box<dyn Read + '_> = match enc.as_str() {
            "" | "identity" => Box::new(body),
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
            "deflate" => Box::new(flate2::read::ZlibDecoder::new(body)),
            "br" => Box::new(brotli_decompressor::Decompressor::new(body, 8192)),
            _ => return Err(io::Error::other(UnsupportedEncoding(enc))),
        };
        let mut out = Vec::new();
        reader.take(limit as u64 + 1).read_to_end(&mut out)?;
        Ok((out.len() <= limit).then(|| Bytes::from(out)))
    }

    /// Decodes a whole body at once.
    pub fn decode_all(content_encoding: Option<&str>, body: Bytes) -> io::Result<Bytes> {
        let mut d = Self::new(content_encoding).map_err(io::Error::other)?;
        if d.is_identity() {
            return Ok(body);
        }
        let mut out = d.decode(body)?.to_vec();
        out.extend_from_slice(&d.finish()?);
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "brotli-requests")]
    const ENCODERS: &[RequestCompression] = &[RequestCompression::Gzip, RequestCompression::Brotli];
    #[cfg(not(feature = "brotli-requests"))]
    const ENCODERS: &[RequestCompression] = &[RequestCompression::Gzip];

    #[test]
    fn limited_decoding_stops_at_the_limit() {
        let plain = vec![b'a'; 100_000];
        for &enc in ENCODERS {
            let (packed, name) = compress_request_body(&plain, None, enc).unwrap();
            assert_eq!(ContentDecoder::decode_all_limited(Some(name), &packed, 100_000).unwrap().unwrap(), &plain[..]);
            assert_eq!(ContentDecoder::decode_all_limited(Some(name), &packed, 99_999).unwrap(), None);
            // Cut short: an error, not a shorter body.
            assert!(ContentDecoder::decode_all_limited(Some(name), &packed[..packed.len() / 2], 1 << 20).is_err());
        }
        assert_eq!(ContentDecoder::decode_all_limited(None, b"abc", 3).unwrap().unwrap(), &b"abc"[..]);
        assert_eq!(ContentDecoder::decode_all_limited(None, b"abcd", 3).unwrap(), None);
        assert!(ContentDecoder::decode_all_limited(Some("zstd"), b"abc", 3).is_err());
    }

    #[test]
    fn compressibility_rules() {
        assert!(is_compressible(None));
        assert!(is_compressible(Some("application/json; charset=utf-8")));
        assert!(is_compressible(Some("text/csv")));
        assert!(!is_compressible(Some("image/png")));
        assert!(!is_compressible(Some("VIDEO/mp4")));
        assert!(!is_compressible(Some("application/zip")));
        assert!(is_compressible(Some("image/bmp")));
        assert!(is_compressible(Some("image/svg+xml")));
        assert!(is_compressible(Some("application/ld+json")));
    }

    #[test]
    fn threshold_and_round_trip() {
        let small = vec![b'a'; COMPRESSION_THRESHOLD - 1];
        assert!(compress_request_body(&small, None, RequestCompression::Gzip).is_none());
        let body = vec![b'a'; 3000];
        assert!(compress_request_body(&body, Some("image/png"), RequestCompression::Gzip).is_none());
        assert!(compress_request_body(&body, None, RequestCompression::Off).is_none());
        for (how, name) in ENCODERS.iter().map(|e| (*e, if *e == RequestCompression::Gzip { "gzip" } else { "br" })) {
            let (z, enc) = compress_request_body(&body, None, how).unwrap();
            assert_eq!(enc, name);
            assert!(z.len() < 100, "{name}: {}", z.len());
            assert_eq!(ContentDecoder::decode_all(Some(enc), z).unwrap(), body);
        }
    }

    #[test]
    fn chunked_decoding_at_every_split() {
        let body: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let (z, _) = compress_request_body(&body, None, RequestCompression::Gzip).unwrap();
        for split in (0..z.len()).step_by(7) {
            let mut d = ContentDecoder::new(Some("gzip")).unwrap();
            let mut out = d.decode(z.slice(..split)).unwrap().to_vec();
            out.extend_from_slice(&d.decode(z.slice(split..)).unwrap());
            out.extend_from_slice(&d.finish().unwrap());
            assert_eq!(out, body, "split at {split}");
        }
    }

    #[test]
    fn truncated_and_unknown() {
        let body = vec![b'x'; 4000];
        let (z, _) = compress_request_body(&body, None, RequestCompression::Gzip).unwrap();
        let cut = z.slice(..z.len() - 4);
        assert!(ContentDecoder::decode_all(Some("gzip"), cut).is_err());
        assert_eq!(ContentDecoder::new(Some("zstd")).unwrap_err(), UnsupportedEncoding("zstd".into()));
        assert_eq!(ContentDecoder::decode_all(None, Bytes::from_static(b"raw")).unwrap(), "raw");
    }
}
