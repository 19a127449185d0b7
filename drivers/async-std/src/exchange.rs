//! One HTTP/1.1 exchange on one connection, driven by ureq-proto's sans-IO state machine:
//! this module only moves bytes between the socket and the protocol.

use std::sync::Arc;

use apify_core::client::{ByteStream, RequestBody};
use apify_core::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use http::header::{self, HeaderValue};
use ureq_proto::client::state::{RecvBody, RecvResponse, SendBody};
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};

use crate::conn::{BUF, Buffers, Conn, Origin, Pool};

fn protocol(e: ureq_proto::Error) -> TransportError {
    TransportError::new(TransportErrorKind::Protocol, e)
}

/// A response head, with the body still on the connection.
pub(crate) struct Head {
    pub(crate) response: http::Response<()>,
    pub(crate) body: BodyReader,
}

/// Sends the request and reads the response head.
///
/// The protocol's state is kept across awaits only where it must be: this future is part of
/// every call's future, which is copied as a call is set up.
pub(crate) async fn send(
    mut conn: Conn,
    origin: Origin,
    pool: Arc<Pool>,
    parts: http::request::Parts,
    body: RequestBody,
    proxied: bool,
) -> Result<Head, TransportError> {
    let Buffers { mut out, mut input } = pool.take_buffers();
    let absolute = proxied.then(|| parts.uri.to_string());
    let (mut used, next) = write_head(parts, &body, &mut out)?;
    if let Some(uri) = absolute {
        // A proxy is asked in absolute form; ureq-proto writes the origin form.
        let head = absolute_form(&out[..used], &uri);
        conn.write_all(&head).await.map_err(closed)?;
        used = 0;
    }
    let call = match next {
        AfterHead::Response(call) => {
            conn.write_all(&out[..used]).await.map_err(closed)?;
            call
        }
        AfterHead::Body(mut call) => {
            send_body(&mut conn, &mut call, body, &mut out, used).await?;
            call.proceed()
                .ok_or_else(|| TransportError::msg(TransportErrorKind::Protocol, "request body incomplete"))?
        }
    };
    conn.flush().await.map_err(closed)?;
    let (response, state) = recv_head(&mut conn, call, &mut input, &mut out).await?;
    let body = BodyReader { conn: Some(conn), origin, pool, input, out, state };
    Ok(Head { response, body })
}

/// The request head with its target (the first line's second word) replaced by `uri`.
fn absolute_form(head: &[u8], uri: &str) -> Vec<u8> {
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(head.len());
    let line = &head[..line_end];
    let mut words = line.splitn(3, |b| *b == b' ');
    let (method, _, version) = (words.next().unwrap_or_default(), words.next(), words.next().unwrap_or_default());
    let mut out = Vec::with_capacity(head.len() + uri.len());
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.push(b' ');
    out.extend_from_slice(version);
    out.extend_from_slice(&head[line_end..]);
    out
}

fn closed(e: std::io::Error) -> TransportError {
    TransportError::new(TransportErrorKind::ConnectionClosed, e)
}

/// What follows the request head.
enum AfterHead {
    Response(Call<RecvResponse>),
    Body(Call<SendBody>),
}

/// Writes the request head into `out`; returns its length and what follows.
fn write_head(
    parts: http::request::Parts,
    body: &RequestBody,
    out: &mut [u8],
) -> Result<(usize, AfterHead), TransportError> {
    let mut request = http::Request::from_parts(parts, ());
    let has_body = match body {
        RequestBody::Full(b) => {
            // POST/PUT always say how long their body is, even when empty.
            if !b.is_empty() || request.method() == http::Method::POST || request.method() == http::Method::PUT {
                request.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
            }
            !b.is_empty()
        }
        RequestBody::Stream(_) => {
            request.headers_mut().insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
            true
        }
    };
    let mut call = Call::new(request).map_err(protocol)?;
    if has_body {
        // DELETE with a body (batch deletes) is not the method's default.
        call.force_send_body();
    }
    let mut call = call.proceed();
    let mut used = 0;
    while !call.can_proceed() {
        used += call.write(&mut out[used..]).map_err(protocol)?;
    }
    match call.proceed().map_err(protocol)? {
        Some(SendRequestResult::RecvResponse(c)) => Ok((used, AfterHead::Response(c))),
        Some(SendRequestResult::SendBody(c)) => Ok((used, AfterHead::Body(c))),
        Some(SendRequestResult::Await100(_)) | None => {
            Err(TransportError::msg(TransportErrorKind::Protocol, "unexpected request state"))
        }
    }
}

/// Sends the head (`used` bytes of `out`) and the body.
async fn send_body(
    conn: &mut Conn,
    call: &mut Call<SendBody>,
    body: RequestBody,
    out: &mut [u8],
    mut used: usize,
) -> Result<(), TransportError> {
    match body {
        RequestBody::Full(b) => {
            let mut rest: &[u8] = &b;
            loop {
                let (i, o) = call.write(rest, &mut out[used..]).map_err(protocol)?;
                rest = &rest[i..];
                used += o;
                if call.can_proceed() {
                    break;
                }
                if used > BUF / 2 || o == 0 {
                    conn.write_all(&out[..used]).await.map_err(closed)?;
                    used = 0;
                }
            }
            conn.write_all(&out[..used]).await.map_err(closed)
        }
        RequestBody::Stream(mut s) => {
            conn.write_all(&out[..used]).await.map_err(closed)?;
            send_stream(conn, call, &mut s, out).await
        }
    }
}

/// Reads the response head (skipping informational ones); `input` keeps what follows it.
async fn recv_head(
    conn: &mut Conn,
    mut call: Call<RecvResponse>,
    input: &mut Vec<u8>,
    scratch: &mut [u8],
) -> Result<(http::Response<()>, BodyState), TransportError> {
    let (response, consumed) = loop {
        let (n, response) = call.try_response(input, false).map_err(protocol)?;
        if let Some(r) = response {
            break (r, n);
        }
        if n > 0 {
            // An informational (1xx) response was skipped.
            input.drain(..n);
            continue;
        }
        let got = read_more(conn, input, scratch).await.map_err(closed)?;
        if got == 0 {
            let msg = "connection closed before the response head";
            return Err(TransportError::msg(TransportErrorKind::ConnectionClosed, msg));
        }
    };
    input.drain(..consumed);
    let state = match call.proceed() {
        Some(RecvResponseResult::RecvBody(c)) => BodyState::Reading(Box::new(c)),
        Some(RecvResponseResult::Redirect(r)) => BodyState::Done(!r.proceed().must_close_connection()),
        Some(RecvResponseResult::Cleanup(c)) => BodyState::Done(!c.must_close_connection()),
        None => return Err(TransportError::msg(TransportErrorKind::Protocol, "response head incomplete")),
    };
    Ok((response, state))
}

async fn send_stream(
    conn: &mut Conn,
    call: &mut Call<SendBody>,
    stream: &mut ByteStream,
    out: &mut [u8],
) -> Result<(), TransportError> {
    loop {
        let chunk = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await;
        let chunk = match chunk {
            Some(Ok(c)) if c.is_empty() => continue,
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(TransportError::new(TransportErrorKind::RequestBody, e)),
            None => Bytes::new(),
        };
        let end = chunk.is_empty();
        let mut input: &[u8] = &chunk;
        loop {
            // Each round writes at most what fits in `out`, chunk framing included.
            let take = input.len().min(call.calculate_max_input(out.len()));
            let (i, o) = call.write(&input[..take], out).map_err(protocol)?;
            conn.write_all(&out[..o]).await.map_err(closed)?;
            input = &input[i..];
            if input.is_empty() {
                break;
            }
        }
        if end {
            return Ok(());
        }
    }
}

/// Reads what the socket has into `input` through `scratch` (whose content is free to
/// overwrite); `Ok(0)` at end of stream. Reading into `input`'s spare room instead would
/// mean zeroing it first, 16 KiB for every read of a few hundred bytes.
async fn read_more(conn: &mut Conn, input: &mut Vec<u8>, scratch: &mut [u8]) -> std::io::Result<usize> {
    let n = conn.read(scratch).await?;
    input.extend_from_slice(&scratch[..n]);
    Ok(n)
}

enum BodyState {
    Reading(Box<Call<RecvBody>>),
    /// The body is over; `true` if the connection can be reused.
    Done(bool),
}

/// The rest of a response body, read chunk by chunk; at the end, a reusable connection
/// goes back to the pool (dropped midway, it is closed).
pub(crate) struct BodyReader {
    conn: Option<Conn>,
    origin: Origin,
    pool: Arc<Pool>,
    input: Vec<u8>,
    out: Vec<u8>,
    state: BodyState,
}

impl BodyReader {
    /// The next chunk of the (transfer-decoded) body, or `None` at its end.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            let call = match &mut self.state {
                BodyState::Done(reusable) => {
                    // Bytes beyond the body mean the connection is out of step.
                    if *reusable
                        && self.input.is_empty()
                        && let Some(conn) = self.conn.take()
                    {
                        self.pool.checkin(self.origin.clone(), conn);
                    }
                    self.conn = None;
                    return Ok(None);
                }
                BodyState::Reading(call) => call,
            };
            let close_delimited = matches!(call.body_mode(), ureq_proto::BodyMode::CloseDelimited);
            if !close_delimited && call.can_proceed() {
                let reusable = match call_proceed(&mut self.state) {
                    Some(RecvBodyResult::Cleanup(c)) => !c.must_close_connection(),
                    Some(RecvBodyResult::Redirect(r)) => !r.proceed().must_close_connection(),
                    None => false,
                };
                self.state = BodyState::Done(reusable);
                continue;
            }
            if !self.input.is_empty() {
                let (i, o) = call.read(&self.input, &mut self.out).map_err(protocol)?;
                self.input.drain(..i);
                if o > 0 {
                    return Ok(Some(Bytes::copy_from_slice(&self.out[..o])));
                }
                if i > 0 {
                    continue;
                }
            }
            let Some(conn) = self.conn.as_mut() else { return Ok(None) };
            let n = read_more(conn, &mut self.input, &mut self.out)
                .await
                .map_err(|e| TransportError::new(TransportErrorKind::IncompleteBody, e))?;
            if n == 0 {
                if close_delimited {
                    self.state = BodyState::Done(false);
                    continue;
                }
                return Err(TransportError::msg(TransportErrorKind::IncompleteBody, "connection closed mid-body"));
            }
        }
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        let buffers = Buffers { out: std::mem::take(&mut self.out), input: std::mem::take(&mut self.input) };
        self.pool.give_buffers(buffers);
    }
}

/// Takes the body call out of `state` to move it to its next state.
fn call_proceed(state: &mut BodyState) -> Option<RecvBodyResult> {
    match std::mem::replace(state, BodyState::Done(false)) {
        BodyState::Reading(call) => call.proceed(),
        BodyState::Done(_) => None,
    }
}
