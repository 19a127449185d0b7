//! Maps isahc's (curl's) errors onto the core's transport error kinds, which decide retries.

use apify_core::error::{TransportError, TransportErrorKind};
use isahc::error::ErrorKind;

/// An error of sending a request and receiving the response head.
pub(crate) fn send_error(e: isahc::Error) -> TransportError {
    let kind = match e.kind() {
        // Nothing left the client.
        ErrorKind::ConnectionFailed | ErrorKind::NameResolution => TransportErrorKind::Connect,
        ErrorKind::Timeout => TransportErrorKind::Timeout,
        // curl reports a reset before the head ("empty reply") and HTTP/2 stream errors as
        // protocol violations; for the server they are a dropped connection.
        ErrorKind::Io | ErrorKind::ProtocolViolation => TransportErrorKind::ConnectionClosed,
        ErrorKind::RequestBodyNotRewindable => TransportErrorKind::RequestBody,
        ErrorKind::InvalidRequest | ErrorKind::TooManyRedirects => TransportErrorKind::Unsupported,
        ErrorKind::BadServerCertificate
        | ErrorKind::BadClientCertificate
        | ErrorKind::InvalidTlsConfiguration
        | ErrorKind::TlsEngine
        | ErrorKind::ClientInitialization
        | ErrorKind::InvalidCredentials => TransportErrorKind::Protocol,
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, e)
}
