//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{DATE, RETRY_AFTER};

/// The wait a response asks for. An HTTP-date is measured from the response's own `Date`
/// header when present (no clock skew), else from `wall`; a past date gives zero; an
/// unparseable value, or a date with no reference time, is ignored.
pub fn parse_retry_after(headers: &HeaderMap, wall: Option<SystemTime>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate instead of failing.
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let reference =
        headers.get(DATE).and_then(|d| d.to_str().ok()).and_then(|d| httpdate::parse_http_date(d).ok()).or(wall)?;
    Some(at.duration_since(reference).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_retry_after(&headers(&[("retry-after", "3")]), None), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(&headers(&[("retry-after", " 0 ")]), None), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&headers(&[]), None), None);
        assert_eq!(parse_retry_after(&headers(&[("retry-after", "-1")]), None), None);
        assert_eq!(parse_retry_after(&headers(&[("retry-after", "soon")]), None), None);
    }

    #[test]
    fn http_date_uses_date_header_then_wall() {
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:40 GMT"), ("date", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(parse_retry_after(&h, None), Some(Duration::from_secs(3)));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:40 GMT")]);
        assert_eq!(parse_retry_after(&h, None), None, "no reference time");
        let wall = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").unwrap();
        assert_eq!(parse_retry_after(&h, Some(wall)), Some(Duration::from_secs(10)));
        let later = httpdate::parse_http_date("Sun, 06 Nov 1994 09:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after(&h, Some(later)), Some(Duration::ZERO), "past date");
    }
}
