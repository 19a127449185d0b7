//! Maps hyper's errors onto the core's transport error kinds, which decide retries.

use std::error::Error as StdError;

use apify_core::error::{TransportError, TransportErrorKind};

fn kind_of(err: &(dyn StdError + 'static)) -> TransportErrorKind {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<TransportError>() {
            // Our own request-body stream failed.
            return t.kind();
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            let refused = h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR));
            return if refused { TransportErrorKind::Refused } else { TransportErrorKind::ConnectionClosed };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_user() {
                return TransportErrorKind::Protocol;
            }
            if h.is_timeout() {
                return TransportErrorKind::Timeout;
            }
            if h.is_canceled() || h.is_closed() || h.is_incomplete_message() || h.is_body_write_aborted() {
                return TransportErrorKind::ConnectionClosed;
            }
        }
        if e.downcast_ref::<std::io::Error>().is_some() {
            return TransportErrorKind::ConnectionClosed;
        }
        cur = e.source();
    }
    TransportErrorKind::Other
}

/// What failed while connecting: the name, TLS, the proxy's credentials, or the rest.
fn connect_kind(err: &(dyn StdError + 'static)) -> TransportErrorKind {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<crate::connect::DnsFailed>() {
            return TransportErrorKind::Dns;
        }
        if e.is::<crate::connect::ProxyAuthRequired>() {
            return TransportErrorKind::ProxyAuth;
        }
        // An untrusted, expired or misnamed certificate fails the same way every time.
        if e.is::<rustls::Error>() {
            return TransportErrorKind::Tls;
        }
        // `io::Error::source` skips the error it wraps: look inside.
        cur = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    TransportErrorKind::Connect
}

/// An error of sending a request and receiving the response head.
pub(crate) fn client_error(e: hyper_util::client::legacy::Error) -> TransportError {
    let kind = if e.is_connect() { connect_kind(&e) } else { kind_of(&e) };
    TransportError::new(kind, e)
}

/// An error while reading a response body: the head arrived, so the request was processed
/// and only the body is missing.
pub(crate) fn body_error(e: hyper::Error) -> TransportError {
    let kind = if e.is_timeout() { TransportErrorKind::Timeout } else { TransportErrorKind::IncompleteBody };
    TransportError::new(kind, e)
}
