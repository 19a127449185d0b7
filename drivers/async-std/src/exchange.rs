//! One HTTP/1.1 exchange on one connection, driven by ureq-proto's sans-IO state machine:
//! this module only moves bytes between the socket and the protocol.

use std::sync::Arc;

use apify_core::client::{ByteStream, RequestBody};
use apify_core::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use futures_util::{AsyncReadExt, AsyncWriteExt};
use http::header::{self, HeaderValue};
use ureq_proto::client::state::RecvBody;
use ureq_proto::client::{Call, RecvBodyResult, RecvResponseResult, SendRequestResult};

use crate::conn::{Conn, Origin, Pool};

/// Buffer sizes: a request head fits, and a body moves in reads of this size. The pool
/// keeps spare ones for the next exchange.
const BUF: usize = 16 * 1024;

fn protocol(e: ureq_proto::Error) -> TransportError {
    TransportError::new(TransportErrorKind::Protocol, e)
}

/// A response head, with the body still on the connection.
pub(crate) struct Head {
    pub(crate) response: http::Response<()>,
    pub(crate) body: BodyReader,
}

/// Sends the request and reads the response head.
pub(crate) async fn send(
    mut conn: Conn,
    origin: Origin,
    pool: Arc<Pool>,
    parts: http::request::Parts,
    body: RequestBody,
) -> Result<Head, TransportError> {
    let mut request = http::Request::from_parts(parts, ());
    let has_body = match &body {
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
    let mut out = pool.take_buffer(BUF);
    // Zeroed only when new: a spare one is overwritten.
    out.resize(BUF, 0);
    let mut used = 0;
    while !call.can_proceed() {
        used += call.write(&mut out[used..]).map_err(protocol)?;
    }
    let io = |e: std::io::Error| TransportError::new(TransportErrorKind::ConnectionClosed, e);
    let call = match call.proceed().map_err(protocol)? {
        Some(SendRequestResult::RecvResponse(c)) => {
            conn.write_all(&out[..used]).await.map_err(io)?;
            c
        }
        Some(SendRequestResult::SendBody(mut c)) => {
            match body {
                RequestBody::Full(b) => {
                    let mut input: &[u8] = &b;
                    loop {
                        let (i, o) = c.write(input, &mut out[used..]).map_err(protocol)?;
                        input = &input[i..];
                        used += o;
                        if c.can_proceed() {
                            break;
                        }
                        if used > BUF / 2 || o == 0 {
                            conn.write_all(&out[..used]).await.map_err(io)?;
                            used = 0;
                        }
                    }
                    conn.write_all(&out[..used]).await.map_err(io)?;
                }
                RequestBody::Stream(mut s) => {
                    conn.write_all(&out[..used]).await.map_err(io)?;
                    send_stream(&mut conn, &mut c, &mut s, &mut out).await?;
                }
            }
            c.proceed().ok_or_else(|| TransportError::msg(TransportErrorKind::Protocol, "request body incomplete"))?
        }
        Some(SendRequestResult::Await100(_)) | None => {
            return Err(TransportError::msg(TransportErrorKind::Protocol, "unexpected request state"));
        }
    };
    conn.flush().await.map_err(io)?;

    // The response head.
    let mut call = call;
    let mut input = pool.take_buffer(BUF);
    input.clear();
    let (response, consumed) = loop {
        let (n, response) = call.try_response(&input, false).map_err(protocol)?;
        if let Some(r) = response {
            break (r, n);
        }
        if n > 0 {
            // An informational (1xx) response was skipped.
            input.drain(..n);
            continue;
        }
        let got = read_more(&mut conn, &mut input, &mut out).await.map_err(io)?;
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
    let body = BodyReader { conn: Some(conn), origin, pool, input, out, state };
    Ok(Head { response, body })
}

async fn send_stream(
    conn: &mut Conn,
    call: &mut Call<ureq_proto::client::state::SendBody>,
    stream: &mut ByteStream,
    out: &mut [u8],
) -> Result<(), TransportError> {
    let io = |e: std::io::Error| TransportError::new(TransportErrorKind::ConnectionClosed, e);
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
            conn.write_all(&out[..o]).await.map_err(io)?;
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
        self.pool.give_buffer(std::mem::take(&mut self.out), BUF);
        self.input.clear();
        self.pool.give_buffer(std::mem::take(&mut self.input), BUF);
    }
}

/// Takes the body call out of `state` to move it to its next state.
fn call_proceed(state: &mut BodyState) -> Option<RecvBodyResult> {
    match std::mem::replace(state, BodyState::Done(false)) {
        BodyState::Reading(call) => call.proceed(),
        BodyState::Done(_) => None,
    }
}
