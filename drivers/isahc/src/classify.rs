//! Maps isahc's (curl's) errors onto the core's transport error kinds, which decide retries.

use apify_core::error::{TransportError, TransportErrorKind};
use isahc::error::ErrorKind;

/// An error of sending a request and receiving the response head.
pub(crate) fn send_error(e: isahc::Error) -> TransportError {
    let kind = match e.kind() {
        // Nothing left the client.
        ErrorKind::NameResolution => TransportErrorKind::Dns,
        ErrorKind::ConnectionFailed => TransportErrorKind::Connect,
        ErrorKind::Timeout => TransportErrorKind::Timeout,
        // curl reports a reset before the head ("empty reply") and HTTP/2 stream errors as
        // protocol violations; for the server they are a dropped connection.
        ErrorKind::Io | ErrorKind::ProtocolViolation => TransportErrorKind::ConnectionClosed,
        ErrorKind::RequestBodyNotRewindable => TransportErrorKind::RequestBody,
        ErrorKind::InvalidRequest | ErrorKind::TooManyRedirects => TransportErrorKind::Unsupported,
        // A certificate refused fails the same way every time.
        ErrorKind::BadServerCertificate
        | ErrorKind::BadClientCertificate
        | ErrorKind::InvalidTlsConfiguration
        | ErrorKind::TlsEngine => TransportErrorKind::Tls,
        ErrorKind::ClientInitialization | ErrorKind::InvalidCredentials => TransportErrorKind::Protocol,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, e)
}

/// An error of a transfer curl ran on its easy interface; `head_received`: the failure
/// came while the body was being read.
pub(crate) fn curl_error(e: curl::Error, head_received: bool) -> TransportError {
    let kind = if e.is_operation_timedout() {
        TransportErrorKind::Timeout
    } else if e.is_couldnt_resolve_host() || e.is_couldnt_resolve_proxy() {
        TransportErrorKind::Dns
    } else if e.is_couldnt_connect()
        // A failed TLS handshake: no request byte left the client either.
        || e.is_ssl_connect_error()
    {
        TransportErrorKind::Connect
    } else if e.is_peer_failed_verification()
        || e.is_ssl_certproblem()
        || e.is_ssl_cacert()
        || e.is_ssl_cacert_badfile()
        || e.is_ssl_issuer_error()
        || e.is_ssl_cipher()
    {
        // A certificate refused fails the same way every time.
        TransportErrorKind::Tls
    } else if e.is_unsupported_protocol() || e.is_url_malformed() || e.is_bad_function_argument() {
        TransportErrorKind::Unsupported
    } else if head_received {
        TransportErrorKind::IncompleteBody
    } else if e.is_got_nothing()
        || e.is_recv_error()
        || e.is_send_error()
        || e.is_partial_file()
        || e.is_http2_error()
        || e.is_http2_stream_error()
        || e.is_send_fail_rewind()
    {
        // Reset before the head, "empty reply", HTTP/2 stream errors: a dropped connection.
        TransportErrorKind::ConnectionClosed
    } else {
        TransportErrorKind::Other
    };
    TransportError::new(kind, e)
}
