//! Unique keys, request IDs and request file names, exactly as Crawlee for Python 1.11 computes them.
//!
//! The unique key is what deduplicates requests in a queue, and the local request file name and the
//! platform request ID are both derived from it, so every byte matters: a key that differs from the
//! one the Python SDK computes for the same URL makes an existing `storage/` directory look like a
//! different queue. See local-storage-format.md §9–§10.1 and storage-methods.md §6.
//!
//! Crawlee normalises URLs with the Python `yarl` library (1.25), so [`normalize_url`] is a port of
//! the parts of yarl it exercises: `URL(str)` (split, host encoding, re-quoting), `.query`, `.path`,
//! `with_query`, `with_path` and `str()`. The functions below are named after their yarl
//! counterparts and follow yarl's control flow rather than any URL standard, because yarl's
//! quirks are part of the format (for example `https://ex.com/%FF` becomes `https://ex.com/%25ff`
//! and `mailto:a@b.com` becomes `mailto:/a@b.com`). The C speed-ups of yarl's quoters are what the
//! reference runs, so their semantics are the ones reproduced.
//!
//! Host names are the one place where this is not a line-by-line port. Python encodes a non-ASCII
//! host with the `idna` package (IDNA 2008 with UTS #46 mapping) and, when that raises anywhere in
//! the host, with its IDNA 2003 codec (nameprep), which is far more permissive and maps `ß` to `ss`
//! and `ς` to `σ`. Without the Unicode tables of either, we map with the `url` crate's UTS #46,
//! approximate IDNA 2008 validity and nameprep, and carry just the small tables the decisions need.
//! This agrees with the reference on every host in the differential corpus, which includes
//! thousands of real-world IDN hosts across scripts. Known differences remain in host names no
//! DNS registry accepts, where IDNA 2008 fails and the IDNA 2003 result depends on NFKC data we do
//! not have:
//! - compatibility characters that NFKC turns into ASCII punctuation (`⒈` → `1.`, `¨` → ` ̈`,
//!   full-width punctuation), and code points new in Unicode 15 and 16 (Python 3.11 has 14);
//! - runs of combining marks that NFKC reorders or composes, in a label that starts with one;
//! - `ß` or `ς` in a host whose IDNA 2008 validity we misjudge (we refuse symbols and emoji and
//!   accept all other letters, marks and digits);
//! - a non-ASCII authority with a literal `%` that is in NFD: yarl rejects an authority that NFKC
//!   changes if it holds a `%`, and we test that per code point.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// URL normalisation of local-storage-format.md §9.1, byte for byte as Crawlee's `normalize_url`.
///
/// Whitespace is trimmed, scheme and host are lower-cased (non-ASCII hosts IDNA-encoded), a default
/// port is dropped, percent-escapes are re-quoted the way `yarl` does, `utm_*` query parameters
/// are dropped and the rest sorted, one trailing `/` is removed from the path, the fragment is
/// dropped unless `keep_url_fragment`, and the whole result is lower-cased.
///
/// On any failure (an invalid port, an invalid IPv6 literal, a host IDNA rejects, ...) the raw
/// `url` is returned unchanged, untrimmed, as the reference does (rule 7).
pub fn normalize_url(url: &str, keep_url_fragment: bool) -> String {
    try_normalize_url(url, keep_url_fragment).unwrap_or_else(|| url.to_owned())
}

/// `compute_unique_key` of local-storage-format.md §9: the normalised URL, or the extended key when
/// `use_extended_unique_key` is set.
///
/// The extended key is `{METHOD}|{headers hash}|{payload hash}|{url}`, with `|{session id}` before
/// the URL when `session_id` is a non-empty string. `headers` are taken in the given order and must
/// have lower-case names already (Crawlee's `HttpHeaders` lower-cases and sorts them; names are
/// compared exactly here, as the reference does); only `accept`, `accept-language`, `authorization`
/// and `content-type` count. A repeated name behaves like a Python dict: the first position, the
/// last value. Without the extended key, `method`, `headers`, `payload` and `session_id` are
/// ignored.
pub fn compute_unique_key(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    payload: Option<&[u8]>,
    session_id: Option<&str>,
    keep_url_fragment: bool,
    use_extended_unique_key: bool,
) -> String {
    let normalized_url = normalize_url(url, keep_url_fragment);
    if !use_extended_unique_key {
        return normalized_url;
    }
    let method = method.to_uppercase();
    let headers_hash = short_hash(headers_hash_input(headers).as_bytes());
    let payload_hash = short_hash(payload.unwrap_or_default());
    // Python tests the lower-cased session ID for truthiness, so an empty one adds nothing.
    let session = session_id.map(str::to_lowercase).unwrap_or_default();
    if session.is_empty() {
        format!("{method}|{headers_hash}|{payload_hash}|{normalized_url}")
    } else {
        format!("{method}|{headers_hash}|{payload_hash}|{session}|{normalized_url}")
    }
}

/// Request ID as the platform derives it from a unique key (storage-methods.md §6): standard
/// base64 of SHA-256 of the UTF-8 key, with every `+`, `/` and `=` removed, first 15 characters.
///
/// `https://example.com/1` → `8vl4QULk0R4ytVB`.
pub fn request_id(unique_key: &str) -> String {
    let digest = Sha256::digest(unique_key.as_bytes());
    base64::engine::general_purpose::STANDARD
        .encode(digest)
        .chars()
        .filter(|c| !matches!(c, '+' | '/' | '='))
        .take(15)
        .collect()
}

/// Local request file name (local-storage-format.md §10.1): the first 15 lower-case hex digits of
/// SHA-256 of the UTF-8 key, plus `.json`.
///
/// `https://example.com/1` → `f2f9784142e4d11.json`.
pub fn request_file_name(unique_key: &str) -> String {
    let mut name = hex_sha256(unique_key.as_bytes());
    name.truncate(15);
    name.push_str(".json");
    name
}

/// Whether `url` is an absolute `http` or `https` URL with a host, the check `Request.from_url`
/// applies before anything else (storage-methods.md §7.5; Crawlee validates with pydantic's
/// `AnyHttpUrl`, which parses with the same WHATWG parser as the `url` crate).
///
/// `ftp://example.com` and `/relative` are rejected.
pub fn is_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

// ---------------------------------------------------------------------------------------------
// Extended key helpers.

/// The string Crawlee hashes for the headers: whitelisted `name:value` pairs joined with `|`.
fn headers_hash_input(headers: &[(String, String)]) -> String {
    const WHITELIST: [&str; 4] = ["accept", "accept-language", "authorization", "content-type"];
    // Python builds a dict from the pairs, so a repeated name keeps its first position and its
    // last value.
    let mut kept: Vec<(&str, &str)> = Vec::new();
    for (name, value) in headers {
        if !WHITELIST.contains(&name.as_str()) {
            continue;
        }
        match kept.iter_mut().find(|(n, _)| *n == name.as_str()) {
            Some(entry) => entry.1 = value,
            None => kept.push((name, value)),
        }
    }
    let parts: Vec<String> = kept.iter().map(|(n, v)| format!("{n}:{v}")).collect();
    parts.join("|")
}

/// Crawlee's `compute_short_hash`: the first 8 hex digits of SHA-256.
fn short_hash(data: &[u8]) -> String {
    let mut hex = hex_sha256(data);
    hex.truncate(8);
    hex
}

fn hex_sha256(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

// ---------------------------------------------------------------------------------------------
// Crawlee's normalize_url on top of a port of yarl.

/// Default ports yarl drops when rendering (`yarl._url.DEFAULT_PORTS`).
fn default_port(scheme: &str) -> Option<u32> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// Schemes for which yarl refuses an empty host (`SCHEME_REQUIRES_HOST`).
fn scheme_requires_host(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp")
}

/// Python's `urllib.parse.uses_netloc` (3.11): schemes rendered with `//` even without a host.
fn uses_authority(scheme: &str) -> bool {
    matches!(
        scheme,
        "ftp"
            | "http"
            | "gopher"
            | "nntp"
            | "telnet"
            | "imap"
            | "wais"
            | "file"
            | "mms"
            | "https"
            | "shttp"
            | "snews"
            | "prospero"
            | "rtsp"
            | "rtsps"
            | "rtspu"
            | "rsync"
            | "svn"
            | "svn+ssh"
            | "sftp"
            | "nfs"
            | "git"
            | "git+ssh"
            | "ws"
            | "wss"
    )
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// The five encoded components yarl keeps for a URL (`_scheme`, `_netloc`, `_path`, `_query`,
/// `_fragment`).
struct Parts {
    scheme: String,
    netloc: String,
    path: String,
    query: String,
    fragment: String,
}

/// Crawlee's `normalize_url`; `None` where Python raises.
fn try_normalize_url(url: &str, keep_url_fragment: bool) -> Option<String> {
    let parsed = encode_url(py_strip(url))?;

    // `parsed_url.query.items()`, minus `utm_*` names, sorted as Python sorts tuples of str
    // (code point order, which is UTF-8 byte order).
    let mut pairs: Vec<(String, String)> =
        query_to_pairs(&parsed.query).into_iter().filter(|(name, _)| !name.starts_with("utm_")).collect();
    pairs.sort();
    // `with_query(list_of_pairs)`: every pair is rendered as `name=value`, even a bare name.
    let query = pairs
        .iter()
        .map(|(name, value)| format!("{}={}", quote(name, &QUERY_PART_QUOTER), quote(value, &QUERY_PART_QUOTER)))
        .collect::<Vec<_>>()
        .join("&");

    // `.path` decodes everything (including `%2F`), then `with_path` quotes it again.
    let decoded_path = if !parsed.path.is_empty() {
        unquote(&parsed.path, false, false)
    } else if !parsed.netloc.is_empty() {
        "/".to_owned()
    } else {
        String::new()
    };
    let trimmed = decoded_path.strip_suffix('/').unwrap_or(&decoded_path);
    let mut path = quote(trimmed, &PATH_QUOTER);
    if !parsed.netloc.is_empty() && path.contains('.') {
        path = normalize_path(&path);
    }
    if !path.is_empty() && !path.starts_with('/') {
        path.insert(0, '/');
    }
    let fragment = if keep_url_fragment { parsed.fragment } else { String::new() };

    let rendered = render(&parsed.scheme, &parsed.netloc, &path, &query, &fragment)?;
    Some(py_lower(&rendered))
}

/// `URL.__str__`: drops a default port and joins the parts with `unsplit_result`.
fn render(scheme: &str, netloc: &str, path: &str, query: &str, fragment: &str) -> Option<String> {
    let path =
        if path.is_empty() && !netloc.is_empty() && (!query.is_empty() || !fragment.is_empty()) { "/" } else { path };
    // yarl re-splits the stored netloc here, so a netloc it could build but not parse again (an
    // odd bracketed host) fails only now.
    let (user, password, host, port) = split_netloc(netloc)?;
    let netloc = match (port, default_port(scheme)) {
        (Some(port), Some(default)) if port == default => {
            let host = host.map(|h| if h.contains(':') { format!("[{h}]") } else { h });
            make_netloc(user.as_deref(), password.as_deref(), host.as_deref(), None)
        }
        _ => netloc.to_owned(),
    };

    // `unsplit_result`.
    let mut out = if !netloc.is_empty() || (!scheme.is_empty() && uses_authority(scheme)) || path.starts_with("//") {
        if !path.is_empty() && !path.starts_with('/') {
            if scheme.is_empty() { format!(":{path}") } else { format!("{scheme}://{netloc}/{path}") }
        } else if scheme.is_empty() {
            format!("//{netloc}{path}")
        } else {
            format!("{scheme}://{netloc}{path}")
        }
    } else if !scheme.is_empty() {
        format!("{scheme}:{path}")
    } else {
        path.to_owned()
    };
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(fragment);
    }
    Some(out)
}

/// yarl's `encode_url`: `URL(str)` for a not-yet-encoded string.
fn encode_url(url: &str) -> Option<Parts> {
    let (scheme, netloc, path, query, fragment) = split_url(url)?;

    let netloc = if netloc.is_empty() {
        netloc
    } else {
        let (user, password, host, port) = if netloc.contains([':', '@', '[']) {
            split_netloc(&netloc)?
        } else {
            (None, None, Some(netloc.clone()), None)
        };
        let host = match host {
            Some(host) => host,
            None if scheme_requires_host(&scheme) => return None,
            None => String::new(),
        };
        let host = encode_host(&host)?;
        if user.is_none() && password.is_none() {
            match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        } else {
            let user = user.map(|u| quote(&u, &REQUOTER));
            let password = password.map(|p| if p.is_empty() { p } else { quote(&p, &REQUOTER) });
            make_netloc(user.as_deref(), password.as_deref(), Some(&host), port)
        }
    };

    let mut path = if path.is_empty() { path } else { quote(&path, &PATH_REQUOTER) };
    if !netloc.is_empty() && path.contains('.') {
        path = normalize_path(&path);
    }
    // yarl also escapes a scheme-like `:` in a relative path here; the path is decoded again
    // before Crawlee uses it, so that step cannot show in the result and is left out.
    let query = if query.is_empty() { query } else { quote(&query, &QUERY_REQUOTER) };
    let fragment = if fragment.is_empty() { fragment } else { quote(&fragment, &FRAGMENT_REQUOTER) };
    Some(Parts { scheme, netloc, path, query, fragment })
}

/// yarl's `split_url` (adapted `urlsplit`): `(scheme, netloc, path, query, fragment)`.
fn split_url(url: &str) -> Option<(String, String, String, String, String)> {
    // Leading C0 controls and spaces go (WHATWG); tabs and newlines go everywhere.
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let url: String = url.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
    let mut rest = url.as_str();

    let mut scheme = String::new();
    if let Some(i) = rest.find(':')
        && i > 0
        && rest[..i].chars().all(is_scheme_char)
    {
        scheme = rest[..i].to_ascii_lowercase();
        rest = &rest[i + 1..];
    }

    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let delim = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..delim];
        rest = &after[delim..];
        if netloc.contains('\\') {
            return None;
        }
        let (left, right) = (netloc.contains('['), netloc.contains(']'));
        if left != right {
            return None;
        }
        if left {
            let hostinfo = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
            if !hostinfo.starts_with('[') || hostinfo.matches('[').count() > 1 || hostinfo.matches(']').count() > 1 {
                return None;
            }
            let inner = &hostinfo[1..];
            let (bracketed, after_bracket) = inner.split_once(']').unwrap_or((inner, ""));
            if !after_bracket.is_empty() && !after_bracket.starts_with(':') {
                return None;
            }
            if bracketed.starts_with('v') {
                if !is_ipvfuture(bracketed) {
                    return None;
                }
            } else if !bracketed.contains(':') {
                return None;
            }
        }
    }

    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !netloc.is_ascii() && !netloc_nfkc_ok(netloc) {
        return None;
    }
    Some((scheme, netloc.to_owned(), path.to_owned(), query.to_owned(), fragment.to_owned()))
}

/// `re.match(r"\Av[a-fA-F0-9]+\..+\Z", s)`.
fn is_ipvfuture(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else { return false };
    let hex_len = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
    // `.+` does not match a newline, but split_url has already removed them.
    hex_len > 0 && rest[hex_len..].strip_prefix('.').is_some_and(|tail| !tail.is_empty())
}

/// yarl's `_check_netloc`: a non-ASCII netloc (`@` and `:` aside) that NFKC changes must not
/// contain, once normalised, a URL delimiter or `%`.
///
/// NFKC leaves ASCII alone and composition never produces these ASCII characters, so the
/// normalised netloc holds one exactly when the netloc has a literal `%` or a code point whose
/// NFKC form holds one. Whether NFKC changes the netloc is decided per code point, which misses
/// only decomposed (NFD) input (see the module documentation).
fn netloc_nfkc_ok(netloc: &str) -> bool {
    const EXPANDS_TO_DELIMITER: [char; 21] = [
        '\u{2047}', '\u{2048}', '\u{2049}', '\u{2100}', '\u{2101}', '\u{2105}', '\u{2106}', '\u{2a74}', '\u{fe13}',
        '\u{fe16}', '\u{fe55}', '\u{fe56}', '\u{fe5f}', '\u{fe6a}', '\u{fe6b}', '\u{ff03}', '\u{ff05}', '\u{ff0f}',
        '\u{ff1a}', '\u{ff1f}', '\u{ff20}',
    ];
    let expands = netloc.chars().any(|c| EXPANDS_TO_DELIMITER.contains(&c));
    !(expands || (netloc.contains('%') && netloc.chars().any(nfkc_changes)))
}

/// Whether NFKC changes the code point on its own (Unicode 14, as in Python 3.11).
fn nfkc_changes(c: char) -> bool {
    // Ranges of code points whose NFKC form differs from themselves, generated with
    // `unicodedata.normalize("NFKC", chr(cp)) != chr(cp)` on Python 3.11.
    #[rustfmt::skip]
    const RANGES: &[(u32, u32)] = &[
        (0xa0, 0xa0), (0xa8, 0xa8), (0xaa, 0xaa), (0xaf, 0xaf), (0xb2, 0xb5), (0xb8, 0xba), (0xbc, 0xbe),
        (0x132, 0x133), (0x13f, 0x140), (0x149, 0x149), (0x17f, 0x17f), (0x1c4, 0x1cc), (0x1f1, 0x1f3), (0x2b0, 0x2b8),
        (0x2d8, 0x2dd), (0x2e0, 0x2e4), (0x340, 0x341), (0x343, 0x344), (0x374, 0x374), (0x37a, 0x37a), (0x37e, 0x37e),
        (0x384, 0x385), (0x387, 0x387), (0x3d0, 0x3d6), (0x3f0, 0x3f2), (0x3f4, 0x3f5), (0x3f9, 0x3f9), (0x587, 0x587),
        (0x675, 0x678), (0x958, 0x95f), (0x9dc, 0x9dd), (0x9df, 0x9df), (0xa33, 0xa33), (0xa36, 0xa36), (0xa59, 0xa5b),
        (0xa5e, 0xa5e), (0xb5c, 0xb5d), (0xe33, 0xe33), (0xeb3, 0xeb3), (0xedc, 0xedd), (0xf0c, 0xf0c), (0xf43, 0xf43),
        (0xf4d, 0xf4d), (0xf52, 0xf52), (0xf57, 0xf57), (0xf5c, 0xf5c), (0xf69, 0xf69), (0xf73, 0xf73), (0xf75, 0xf79),
        (0xf81, 0xf81), (0xf93, 0xf93), (0xf9d, 0xf9d), (0xfa2, 0xfa2), (0xfa7, 0xfa7), (0xfac, 0xfac), (0xfb9, 0xfb9),
        (0x10fc, 0x10fc), (0x1d2c, 0x1d2e), (0x1d30, 0x1d3a), (0x1d3c, 0x1d4d), (0x1d4f, 0x1d6a), (0x1d78, 0x1d78),
        (0x1d9b, 0x1dbf), (0x1e9a, 0x1e9b), (0x1f71, 0x1f71), (0x1f73, 0x1f73), (0x1f75, 0x1f75), (0x1f77, 0x1f77),
        (0x1f79, 0x1f79), (0x1f7b, 0x1f7b), (0x1f7d, 0x1f7d), (0x1fbb, 0x1fbb), (0x1fbd, 0x1fc1), (0x1fc9, 0x1fc9),
        (0x1fcb, 0x1fcb), (0x1fcd, 0x1fcf), (0x1fd3, 0x1fd3), (0x1fdb, 0x1fdb), (0x1fdd, 0x1fdf), (0x1fe3, 0x1fe3),
        (0x1feb, 0x1feb), (0x1fed, 0x1fef), (0x1ff9, 0x1ff9), (0x1ffb, 0x1ffb), (0x1ffd, 0x1ffe), (0x2000, 0x200a),
        (0x2011, 0x2011), (0x2017, 0x2017), (0x2024, 0x2026), (0x202f, 0x202f), (0x2033, 0x2034), (0x2036, 0x2037),
        (0x203c, 0x203c), (0x203e, 0x203e), (0x2047, 0x2049), (0x2057, 0x2057), (0x205f, 0x205f), (0x2070, 0x2071),
        (0x2074, 0x208e), (0x2090, 0x209c), (0x20a8, 0x20a8), (0x2100, 0x2103), (0x2105, 0x2107), (0x2109, 0x2113),
        (0x2115, 0x2116), (0x2119, 0x211d), (0x2120, 0x2122), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
        (0x212a, 0x212d), (0x212f, 0x2131), (0x2133, 0x2139), (0x213b, 0x2140), (0x2145, 0x2149), (0x2150, 0x217f),
        (0x2189, 0x2189), (0x222c, 0x222d), (0x222f, 0x2230), (0x2329, 0x232a), (0x2460, 0x24ea), (0x2a0c, 0x2a0c),
        (0x2a74, 0x2a76), (0x2adc, 0x2adc), (0x2c7c, 0x2c7d), (0x2d6f, 0x2d6f), (0x2e9f, 0x2e9f), (0x2ef3, 0x2ef3),
        (0x2f00, 0x2fd5), (0x3000, 0x3000), (0x3036, 0x3036), (0x3038, 0x303a), (0x309b, 0x309c), (0x309f, 0x309f),
        (0x30ff, 0x30ff), (0x3131, 0x318e), (0x3192, 0x319f), (0x3200, 0x321e), (0x3220, 0x3247), (0x3250, 0x327e),
        (0x3280, 0x33ff), (0xa69c, 0xa69d), (0xa770, 0xa770), (0xa7f2, 0xa7f4), (0xa7f8, 0xa7f9), (0xab5c, 0xab5f),
        (0xab69, 0xab69), (0xf900, 0xfa0d), (0xfa10, 0xfa10), (0xfa12, 0xfa12), (0xfa15, 0xfa1e), (0xfa20, 0xfa20),
        (0xfa22, 0xfa22), (0xfa25, 0xfa26), (0xfa2a, 0xfa6d), (0xfa70, 0xfad9), (0xfb00, 0xfb06), (0xfb13, 0xfb17),
        (0xfb1d, 0xfb1d), (0xfb1f, 0xfb36), (0xfb38, 0xfb3c), (0xfb3e, 0xfb3e), (0xfb40, 0xfb41), (0xfb43, 0xfb44),
        (0xfb46, 0xfbb1), (0xfbd3, 0xfd3d), (0xfd50, 0xfd8f), (0xfd92, 0xfdc7), (0xfdf0, 0xfdfc), (0xfe10, 0xfe19),
        (0xfe30, 0xfe44), (0xfe47, 0xfe52), (0xfe54, 0xfe66), (0xfe68, 0xfe6b), (0xfe70, 0xfe72), (0xfe74, 0xfe74),
        (0xfe76, 0xfefc), (0xff01, 0xffbe), (0xffc2, 0xffc7), (0xffca, 0xffcf), (0xffd2, 0xffd7), (0xffda, 0xffdc),
        (0xffe0, 0xffe6), (0xffe8, 0xffee), (0x10781, 0x10785), (0x10787, 0x107b0), (0x107b2, 0x107ba),
        (0x1d15e, 0x1d164), (0x1d1bb, 0x1d1c0), (0x1d400, 0x1d454), (0x1d456, 0x1d49c), (0x1d49e, 0x1d49f),
        (0x1d4a2, 0x1d4a2), (0x1d4a5, 0x1d4a6), (0x1d4a9, 0x1d4ac), (0x1d4ae, 0x1d4b9), (0x1d4bb, 0x1d4bb),
        (0x1d4bd, 0x1d4c3), (0x1d4c5, 0x1d505), (0x1d507, 0x1d50a), (0x1d50d, 0x1d514), (0x1d516, 0x1d51c),
        (0x1d51e, 0x1d539), (0x1d53b, 0x1d53e), (0x1d540, 0x1d544), (0x1d546, 0x1d546), (0x1d54a, 0x1d550),
        (0x1d552, 0x1d6a5), (0x1d6a8, 0x1d7cb), (0x1d7ce, 0x1d7ff), (0x1ee00, 0x1ee03), (0x1ee05, 0x1ee1f),
        (0x1ee21, 0x1ee22), (0x1ee24, 0x1ee24), (0x1ee27, 0x1ee27), (0x1ee29, 0x1ee32), (0x1ee34, 0x1ee37),
        (0x1ee39, 0x1ee39), (0x1ee3b, 0x1ee3b), (0x1ee42, 0x1ee42), (0x1ee47, 0x1ee47), (0x1ee49, 0x1ee49),
        (0x1ee4b, 0x1ee4b), (0x1ee4d, 0x1ee4f), (0x1ee51, 0x1ee52), (0x1ee54, 0x1ee54), (0x1ee57, 0x1ee57),
        (0x1ee59, 0x1ee59), (0x1ee5b, 0x1ee5b), (0x1ee5d, 0x1ee5d), (0x1ee5f, 0x1ee5f), (0x1ee61, 0x1ee62),
        (0x1ee64, 0x1ee64), (0x1ee67, 0x1ee6a), (0x1ee6c, 0x1ee72), (0x1ee74, 0x1ee77), (0x1ee79, 0x1ee7c),
        (0x1ee7e, 0x1ee7e), (0x1ee80, 0x1ee89), (0x1ee8b, 0x1ee9b), (0x1eea1, 0x1eea3), (0x1eea5, 0x1eea9),
        (0x1eeab, 0x1eebb), (0x1f100, 0x1f10a), (0x1f110, 0x1f12e), (0x1f130, 0x1f14f), (0x1f16a, 0x1f16c),
        (0x1f190, 0x1f190), (0x1f200, 0x1f202), (0x1f210, 0x1f23b), (0x1f240, 0x1f248), (0x1f250, 0x1f251),
        (0x1fbf0, 0x1fbf9), (0x2f800, 0x2fa1d),
    ];
    let cp = u32::from(c);
    RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Username, password, host and port of a netloc.
type NetlocParts = (Option<String>, Option<String>, Option<String>, Option<u32>);

/// yarl's `split_netloc`; `None` where it raises.
fn split_netloc(netloc: &str) -> Option<NetlocParts> {
    let (username, password, hostinfo) = match netloc.rsplit_once('@') {
        None => (None, None, netloc),
        Some((userinfo, hostinfo)) => match userinfo.split_once(':') {
            Some((user, password)) => (Some(user), Some(password), hostinfo),
            None => (Some(userinfo), None, hostinfo),
        },
    };
    let (hostname, port_str) = if hostinfo.contains('[') {
        if !hostinfo.starts_with('[') || hostinfo.matches('[').count() > 1 || hostinfo.matches(']').count() > 1 {
            return None;
        }
        let inner = &hostinfo[1..];
        let (hostname, after) = inner.split_once(']').unwrap_or((inner, ""));
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (hostname, after.split_once(':').map_or("", |(_, port)| port))
    } else {
        hostinfo.split_once(':').unwrap_or((hostinfo, ""))
    };
    let port = if port_str.is_empty() {
        None
    } else {
        let port = py_int(port_str)?;
        Some(u32::try_from(port).ok().filter(|p| *p <= 65535)?)
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some((username.and_then(non_empty), password.map(str::to_owned), non_empty(hostname), port))
}

/// yarl's `make_netloc` with `encode=False`.
fn make_netloc(user: Option<&str>, password: Option<&str>, host: Option<&str>, port: Option<u32>) -> String {
    let Some(host) = host else { return String::new() };
    let ret = match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let user = match (user, password) {
        (None, None) => return ret,
        (user, Some(password)) => format!("{}:{password}", user.unwrap_or_default()),
        (Some(user), None) => user.to_owned(),
    };
    if user.is_empty() { ret } else { format!("{user}@{ret}") }
}

/// yarl's `_encode_host` with `validate_host=False`: IP literals are compressed, ASCII names
/// lower-cased (and otherwise kept, whatever they contain), other names IDNA-encoded.
fn encode_host(host: &str) -> Option<String> {
    // Python's `str.isdigit()` on the last character decides whether an IP address is tried;
    // `is_numeric` accepts a few more non-ASCII characters, which can only matter for a zone ID.
    let last_is_digit =
        host.chars().next_back().is_some_and(|c| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()));
    if last_is_digit || host.contains(':') {
        // An RFC 6874 zone separator, percent-encoded or not.
        let sep = if host.contains("%25") { "%25" } else { "%" };
        let (raw_ip, zone) = match host.split_once(sep) {
            Some((ip, zone)) => (ip, Some(zone)),
            None => (host, None),
        };
        if let Some((compressed, is_v6)) = py_ip_address(raw_ip) {
            let zone = zone.map(|z| format!("{sep}{z}")).unwrap_or_default();
            return Some(if is_v6 { format!("[{compressed}{zone}]") } else { format!("{compressed}{zone}") });
        }
    }
    if host.is_ascii() {
        return Some(host.to_ascii_lowercase());
    }
    if host.chars().any(is_default_ignorable) {
        return None;
    }
    idna_encode(host)
}

/// yarl's `_DEFAULT_IGNORABLE_RE`: invisible code points it refuses in a host.
fn is_default_ignorable(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}'..='\u{1160}' | '\u{17b4}'..='\u{17b5}' | '\u{1806}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}'
        | '\u{1bca0}'..='\u{1bca3}' | '\u{1d173}'..='\u{1d17a}' | '\u{e0000}'..='\u{e0fff}')
}

/// The label separators of Python's `idna` package and `encodings.idna`.
fn is_idna_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{ff0e}' | '\u{ff61}')
}

/// yarl's `_idna_encode` for a non-ASCII host: `idna.encode(host, uts46=True)` (IDNA 2008 with
/// UTS #46 mapping), and Python's IDNA 2003 codec when that raises.
fn idna_encode(host: &str) -> Option<String> {
    let mut labels: Vec<&str> = host.split(is_idna_dot).collect();
    let trailing_dot = labels.len() > 1 && labels.last().is_some_and(|l| l.is_empty());
    if trailing_dot {
        labels.pop();
    }
    // Both Python encoders refuse an empty label anywhere but at the end.
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    let encoded = match idna2008(&labels, trailing_dot) {
        Some(encoded) => encoded,
        None => labels.iter().map(|label| idna2003_label(label)).collect::<Option<Vec<_>>>()?,
    };
    let mut out = encoded.join(".");
    if trailing_dot {
        out.push('.');
    }
    Some(out)
}

/// Python's `idna.encode(host, uts46=True)` on the labels of a host; `None` where it raises.
///
/// The mapping is UTS #46 (the `url` crate's, non-transitional), which is what `idna` applies.
/// IDNA 2008 validity of the mapped labels is then checked by [`idna2008_u_label_ok`]. Where that
/// approximation errs, Python falls back to IDNA 2003, which gives the same A-labels except for
/// `ß` and `ς`, so only hosts with those can come out differently.
fn idna2008(labels: &[&str], trailing_dot: bool) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        let u_label = if label.is_ascii() { label.to_ascii_lowercase() } else { uts46_map(label)? };
        let a_label = if let Some(encoded) = u_label.strip_prefix("xn--") {
            // `idna` decodes an A-label, requires the canonical encoding and validates the result.
            let decoded = punycode_decode(encoded).filter(|d| !d.is_empty() && !u_label.ends_with('-'))?;
            (punycode_encode(&decoded)? == encoded && idna2008_u_label_ok(&decoded)).then_some(u_label)?
        } else if !idna2008_u_label_ok(&u_label) {
            return None;
        } else if u_label.is_ascii() {
            u_label
        } else {
            format!("xn--{}", punycode_encode(&u_label)?)
        };
        if a_label.len() > 63 {
            return None;
        }
        out.push(a_label);
    }
    let total_len = out.iter().map(|l| l.len() + 1).sum::<usize>() - 1 + usize::from(trailing_dot);
    (total_len <= 253 + usize::from(trailing_dot)).then_some(out)
}

/// IDNA 2008 validity of a mapped (lower-case, NFC) label, as Python's `idna.check_label`: exact
/// for ASCII (letters, digits, hyphens; no hyphen at either end or in positions 3–4), approximate
/// for the rest, where symbols, punctuation and emoji are refused and everything else accepted.
fn idna2008_u_label_ok(label: &str) -> bool {
    let symbol = |c: char| {
        matches!(u32::from(c),
            0xa1..=0xbf | 0xd7 | 0xf7 | 0x2010..=0x2bff | 0x2e00..=0x2e7f | 0x2ff0..=0x3004 | 0x3008..=0x3029
            | 0x3030..=0x303a | 0x303d..=0x303f | 0x3200..=0x33ff | 0xfe10..=0xfe6f | 0xff00..=0xffef
            | 0xfff0..=0xffff | 0x1d100..=0x1d24f | 0x1d300..=0x1d35f | 0x1f000..=0x1faff)
    };
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().skip(2).take(2).ne(['-', '-'])
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || !(c.is_ascii() || symbol(c)))
}

/// `encodings.idna.ToASCII` (IDNA 2003) for one label; `None` where it raises.
///
/// ASCII labels are kept as they are. Other labels go through nameprep, approximated by UTS #46
/// mapping after IDNA 2003's own `ß` (and `ẞ`) → `ss` and `ς` → `σ`. Nameprep is far more
/// permissive than UTS #46 in a URL: it keeps ASCII punctuation and has no rules about combining
/// marks, digits or joiners. So the label is mapped word by word around ASCII punctuation, and a
/// word UTS #46 refuses code point by code point, keeping a code point as it is where NFKC does.
/// Then come nameprep's prohibited code points and its bidi rule.
fn idna2003_label(label: &str) -> Option<String> {
    if label.is_ascii() {
        return (1..=63).contains(&label.len()).then(|| label.to_owned());
    }
    let is_separator = |c: char| c.is_ascii() && !c.is_ascii_alphanumeric() && c != '-';
    let label = label.replace(['ß', 'ẞ'], "ss").replace('ς', "σ");
    let mut prepped = String::with_capacity(label.len());
    for piece in label.split_inclusive(is_separator) {
        let (word, separator) = match piece.chars().next_back() {
            Some(c) if is_separator(c) => (&piece[..piece.len() - c.len_utf8()], Some(c)),
            _ => (piece, None),
        };
        if word.is_ascii() {
            prepped.push_str(&word.to_ascii_lowercase());
        } else if let Some(mapped) = uts46_map(word) {
            prepped.push_str(&mapped);
        } else {
            for c in word.chars() {
                if c.is_ascii() {
                    prepped.push(c.to_ascii_lowercase());
                } else if let Some(mapped) = uts46_map(c.encode_utf8(&mut [0; 4])) {
                    prepped.push_str(&mapped);
                } else if matches!(c, '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}') {
                    // NFKC turns these spaces into an ASCII space, which UTS #46 in a URL refuses
                    // and nameprep allows.
                    prepped.push(' ');
                } else if !nfkc_changes(c) && c.to_lowercase().eq([c]) {
                    prepped.push(c);
                } else {
                    return None;
                }
            }
        }
        prepped.extend(separator);
    }
    let a_label = if prepped.is_ascii() {
        prepped
    } else if prepped.starts_with("xn--") || prepped.chars().any(nameprep_prohibited) || !nameprep_bidi_ok(&prepped) {
        return None;
    } else {
        format!("xn--{}", punycode_encode(&prepped)?)
    };
    (1..=63).contains(&a_label.len()).then_some(a_label)
}

/// Nameprep's prohibited output (RFC 3491 §5: stringprep tables C.1.2 and C.2.2 to C.9).
fn nameprep_prohibited(c: char) -> bool {
    let cp = u32::from(c);
    // C.4: the non-characters at the end of every plane.
    cp & 0xfffe == 0xfffe
        || matches!(c,
            '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
            | '\u{80}'..='\u{9f}' | '\u{6dd}' | '\u{70f}' | '\u{180e}' | '\u{200c}' | '\u{200d}' | '\u{2028}'
            | '\u{2029}' | '\u{2060}'..='\u{2063}' | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffd}'
            | '\u{1d173}'..='\u{1d17a}' | '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{ffffd}'
            | '\u{100000}'..='\u{10fffd}' | '\u{fdd0}'..='\u{fdef}' | '\u{2ff0}'..='\u{2ffb}' | '\u{340}' | '\u{341}'
            | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// Nameprep's bidi rule (RFC 3454 §6): a label with a right-to-left character (table D.1) must
/// not contain a left-to-right one (D.2) and must start and end with a right-to-left one.
///
/// D.1 is exact (Unicode 3.2). D.2 is approximated by the letters that are not right-to-left and
/// the decimal digits other than the European and Arabic ones, which leaves out punctuation and
/// the combining marks of the right-to-left scripts, as D.2 does.
fn nameprep_bidi_ok(label: &str) -> bool {
    const RAND_AL: [(u32, u32); 34] = [
        (0x5be, 0x5be),
        (0x5c0, 0x5c0),
        (0x5c3, 0x5c3),
        (0x5d0, 0x5ea),
        (0x5f0, 0x5f4),
        (0x61b, 0x61b),
        (0x61f, 0x61f),
        (0x621, 0x63a),
        (0x640, 0x64a),
        (0x66d, 0x66f),
        (0x671, 0x6d5),
        (0x6dd, 0x6dd),
        (0x6e5, 0x6e6),
        (0x6fa, 0x6fe),
        (0x700, 0x70d),
        (0x710, 0x710),
        (0x712, 0x72c),
        (0x780, 0x7a5),
        (0x7b1, 0x7b1),
        (0x200f, 0x200f),
        (0xfb1d, 0xfb1d),
        (0xfb1f, 0xfb28),
        (0xfb2a, 0xfb36),
        (0xfb38, 0xfb3c),
        (0xfb3e, 0xfb3e),
        (0xfb40, 0xfb41),
        (0xfb43, 0xfb44),
        (0xfb46, 0xfbb1),
        (0xfbd3, 0xfd3d),
        (0xfd50, 0xfd8f),
        (0xfd92, 0xfdc7),
        (0xfdf0, 0xfdfc),
        (0xfe70, 0xfe74),
        (0xfe76, 0xfefc),
    ];
    let rand_al = |c: char| RAND_AL.iter().any(|&(lo, hi)| (lo..=hi).contains(&u32::from(c)));
    let rtl_script_mark = |c: char| {
        matches!(u32::from(c),
            0x591..=0x5c7 | 0x610..=0x61a | 0x64b..=0x65f | 0x670 | 0x6d6..=0x6ed | 0x711 | 0x730..=0x74a
            | 0x7a6..=0x7b0)
    };
    if !label.chars().any(rand_al) {
        return true;
    }
    let left_to_right = |c: char| {
        let european_or_arabic_digit = c.is_ascii_digit()
            || matches!(u32::from(c), 0x660..=0x669 | 0x6f0..=0x6f9 | 0xff10..=0xff19 | 0x1d7ce..=0x1d7ff);
        (c.is_alphabetic() && !rand_al(c) && !rtl_script_mark(c))
            || (decimal_value(c).is_some() && !european_or_arabic_digit)
    };
    !label.chars().any(left_to_right)
        && label.chars().next().is_some_and(rand_al)
        && label.chars().next_back().is_some_and(rand_al)
}

/// UTS #46 mapping (non-transitional, no STD3 rules, with its validity, bidi and joiner checks)
/// of one non-ASCII label, through the `url` crate's host parser; the result is Unicode.
fn uts46_map(label: &str) -> Option<String> {
    // The URL host parser would percent-decode, and refuses URL delimiters; Python maps neither.
    if label.contains(|c: char| c == '%' || (c.is_ascii() && !c.is_ascii_alphanumeric() && c != '-')) {
        return None;
    }
    // The `.a` suffix keeps the WHATWG parser from reading an all-digit label as an IPv4 number,
    // and confines the bidi rule to this label, as Python's per-label check does.
    let url::Host::Domain(domain) = url::Host::parse(&format!("{label}.a")).ok()? else { return None };
    let ascii = domain.strip_suffix(".a")?;
    // A mapping may produce dots (U+2488 → "1."), so decode every part.
    let parts: Option<Vec<String>> = ascii
        .split('.')
        .map(|part| match part.strip_prefix("xn--") {
            Some(encoded) => punycode_decode(encoded),
            None => Some(part.to_owned()),
        })
        .collect();
    Some(parts?.join("."))
}

// Punycode (RFC 3492) parameters.
const PUNY_BASE: u32 = 36;
const PUNY_TMIN: u32 = 1;
const PUNY_TMAX: u32 = 26;
const PUNY_SKEW: u32 = 38;
const PUNY_DAMP: u32 = 700;
const PUNY_INITIAL_BIAS: u32 = 72;
const PUNY_INITIAL_N: u32 = 128;

fn puny_adapt(delta: u32, num_points: u32, first_time: bool) -> u32 {
    let mut delta = if first_time { delta / PUNY_DAMP } else { delta / 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2 {
        delta /= PUNY_BASE - PUNY_TMIN;
        k += PUNY_BASE;
    }
    k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW)
}

fn puny_threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        PUNY_TMIN
    } else if k >= bias + PUNY_TMAX {
        PUNY_TMAX
    } else {
        k - bias
    }
}

/// RFC 3492 encoding, without the `xn--` prefix, as Python's `punycode` codec writes it: every
/// ASCII character is a basic code point, followed by `-` when there is any.
fn punycode_encode(input: &str) -> Option<String> {
    let code_points: Vec<u32> = input.chars().map(u32::from).collect();
    let mut out: String = input.chars().filter(char::is_ascii).collect();
    let basic = u32::try_from(out.len()).ok()?;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (PUNY_INITIAL_N, 0u32, PUNY_INITIAL_BIAS, basic);
    while (handled as usize) < code_points.len() {
        let m = code_points.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &code_points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = PUNY_BASE;
                loop {
                    let t = puny_threshold(k, bias);
                    if q < t {
                        break;
                    }
                    out.push(puny_digit(t + (q - t) % (PUNY_BASE - t)));
                    q = (q - t) / (PUNY_BASE - t);
                    k += PUNY_BASE;
                }
                out.push(puny_digit(q));
                bias = puny_adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n += 1;
    }
    Some(out)
}

fn puny_digit(d: u32) -> char {
    // d < 36 by construction: 0–25 are `a`–`z`, 26–35 are `0`–`9`.
    let d = u8::try_from(d).unwrap_or(0);
    char::from(if d < 26 { b'a' + d } else { b'0' + d - 26 })
}

/// RFC 3492 decoding of the part after `xn--`.
fn punycode_decode(input: &str) -> Option<String> {
    let (basic, extended) = input.rsplit_once('-').unwrap_or(("", input));
    if !basic.is_ascii() {
        return None;
    }
    let mut output: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (PUNY_INITIAL_N, 0u32, PUNY_INITIAL_BIAS);
    let mut digits = extended.bytes().peekable();
    while digits.peek().is_some() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = PUNY_BASE;
        loop {
            let d = match digits.next()? {
                b @ b'a'..=b'z' => u32::from(b - b'a'),
                b @ b'A'..=b'Z' => u32::from(b - b'A'),
                b @ b'0'..=b'9' => u32::from(b - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(d.checked_mul(w)?)?;
            let t = puny_threshold(k, bias);
            if d < t {
                break;
            }
            w = w.checked_mul(PUNY_BASE - t)?;
            k += PUNY_BASE;
        }
        let len = u32::try_from(output.len()).ok()? + 1;
        bias = puny_adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        output.insert(usize::try_from(i).ok()?, char::from_u32(n)?);
        i += 1;
    }
    Some(output.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// IP addresses as Python's `ipaddress` parses and prints them.

/// `ipaddress.ip_address(s)`: the compressed form and whether it is IPv6.
fn py_ip_address(s: &str) -> Option<(String, bool)> {
    if let Some(v4) = py_ipv4(s) {
        return Some((std::net::Ipv4Addr::from(v4).to_string(), false));
    }
    if s.contains('/') {
        return None;
    }
    // `_split_scope_id`.
    let (addr, scope) = match s.split_once('%') {
        None => (s, None),
        Some((_, scope)) if scope.is_empty() || scope.contains('%') => return None,
        Some((addr, scope)) => (addr, Some(scope)),
    };
    let value = py_ipv6(addr)?;
    let mut out = compress_ipv6(value);
    if let Some(scope) = scope {
        out.push('%');
        out.push_str(scope);
    }
    Some((out, true))
}

/// `IPv4Address._ip_int_from_string`: four strict decimal octets, no leading zeros.
fn py_ipv4(s: &str) -> Option<u32> {
    let octets: Vec<&str> = s.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for octet in octets {
        if octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if octet != "0" && octet.starts_with('0') {
            return None;
        }
        let n: u32 = octet.parse().ok()?;
        if n > 255 {
            return None;
        }
        value = value << 8 | n;
    }
    Some(value)
}

/// `IPv6Address._ip_int_from_string`.
fn py_ipv6(s: &str) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = s.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = py_ipv4(&parts.pop()?)?;
        parts.push(format!("{:x}", v4 >> 16));
        parts.push(format!("{:x}", v4 & 0xffff));
    }
    if parts.len() > 9 {
        return None;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return None;
            }
            skip_index = Some(i);
        }
    }
    let (parts_hi, parts_lo, parts_skipped) = if let Some(skip) = skip_index {
        let mut hi = skip;
        let mut lo = parts.len() - skip - 1;
        if parts[0].is_empty() {
            hi -= 1;
            if hi > 0 {
                return None;
            }
        }
        if parts[parts.len() - 1].is_empty() {
            lo -= 1;
            if lo > 0 {
                return None;
            }
        }
        let skipped = 8usize.checked_sub(hi + lo).filter(|s| *s >= 1)?;
        (hi, lo, skipped)
    } else {
        if parts.len() != 8 || parts[0].is_empty() || parts[7].is_empty() {
            return None;
        }
        (8, 0, 0)
    };
    let hextet = |p: &str| -> Option<u128> {
        if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u128::from_str_radix(p, 16).ok()
    };
    let mut value = 0u128;
    for part in &parts[..parts_hi] {
        value = value << 16 | hextet(part)?;
    }
    value <<= 16 * parts_skipped;
    for part in &parts[parts.len() - parts_lo..] {
        value = value << 16 | hextet(part)?;
    }
    Some(value)
}

/// `IPv6Address.compressed`: lower-case hextets, the first longest run (of two or more) of zero
/// hextets replaced by `::`.
fn compress_ipv6(value: u128) -> String {
    let hextets: Vec<String> = (0..8).rev().map(|i| format!("{:x}", (value >> (16 * i)) & 0xffff)).collect();
    let (mut best_start, mut best_len, mut start, mut len) = (0, 0, 0, 0);
    for (i, h) in hextets.iter().enumerate() {
        if h == "0" {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best_len = len;
                best_start = start;
            }
        } else {
            len = 0;
        }
    }
    if best_len < 2 {
        return hextets.join(":");
    }
    let head = hextets[..best_start].join(":");
    let tail = hextets[best_start + best_len..].join(":");
    format!("{head}::{tail}")
}

// ---------------------------------------------------------------------------------------------
// Paths and queries.

/// yarl's `normalize_path`: resolves `.` and `..` segments (RFC 3986 §5.2.4), keeping a leading `/`.
fn normalize_path(path: &str) -> String {
    let (prefix, rest) = match path.strip_prefix('/') {
        Some(rest) => ("/", rest),
        None => ("", path),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut resolved: Vec<&str> = Vec::new();
    for seg in &segments {
        match *seg {
            ".." => {
                resolved.pop();
            }
            "." => {}
            seg => resolved.push(seg),
        }
    }
    if segments.last().is_some_and(|s| matches!(*s, "." | "..")) {
        resolved.push("");
    }
    format!("{prefix}{}", resolved.join("/"))
}

/// yarl's `query_to_pairs` (`parse_qsl(keep_blank_values=True)`): split on `&`, skip empty
/// fields, split each at the first `=`, form-decode both halves (`+` is a space, invalid UTF-8
/// becomes U+FFFD).
fn query_to_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            (unquote(name, true, true), unquote(value, true, true))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// yarl's quoters (the C implementation in `_quoting_c.pyx`).

/// A yarl `_Quoter` configuration: which ASCII bytes pass through, which escapes are kept encoded
/// when requoting, whether it is a query-string quoter (space becomes `+`) and whether existing
/// `%XX` escapes are recognised (`requote`) or the `%` itself is escaped.
struct Quoter {
    safe: [bool; 128],
    protected: [bool; 128],
    qs: bool,
    requote: bool,
}

/// `ALLOWED` in yarl: unreserved characters plus the sub-delimiters that are not query syntax.
const ALLOWED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,";
/// `QS` in yarl: the sub-delimiters with a meaning in query strings.
const QS: &[u8] = b"+&=;";

const fn byte_table(sets: &[&[u8]]) -> [bool; 128] {
    let mut table = [false; 128];
    let mut i = 0;
    while i < sets.len() {
        let mut j = 0;
        while j < sets[i].len() {
            table[sets[i][j] as usize] = true;
            j += 1;
        }
        i += 1;
    }
    table
}

/// `REQUOTER` (user and password).
const REQUOTER: Quoter = Quoter { safe: byte_table(&[ALLOWED, QS]), protected: [false; 128], qs: false, requote: true };
/// `PATH_REQUOTER`: `_Quoter(safe="@:", protected="/+")`.
const PATH_REQUOTER: Quoter =
    Quoter { safe: byte_table(&[ALLOWED, QS, b"@:/+"]), protected: byte_table(&[b"/+"]), qs: false, requote: true };
/// `PATH_QUOTER`: as `PATH_REQUOTER`, but every `%` is escaped.
const PATH_QUOTER: Quoter =
    Quoter { safe: byte_table(&[ALLOWED, QS, b"@:/+"]), protected: byte_table(&[b"/+"]), qs: false, requote: false };
/// `QUERY_REQUOTER`: `_Quoter(safe="?/:@", protected="=+&;", qs=True)`.
const QUERY_REQUOTER: Quoter =
    Quoter { safe: byte_table(&[ALLOWED, b"?/:@", QS]), protected: byte_table(&[QS]), qs: true, requote: true };
/// `QUERY_PART_QUOTER`: `_Quoter(safe="?/:@", qs=True, requote=False)`, for one name or value.
const QUERY_PART_QUOTER: Quoter =
    Quoter { safe: byte_table(&[ALLOWED, b"?/:@"]), protected: [false; 128], qs: true, requote: false };
/// `FRAGMENT_REQUOTER`: `_Quoter(safe="?/:@")`.
const FRAGMENT_REQUOTER: Quoter =
    Quoter { safe: byte_table(&[ALLOWED, QS, b"?/:@"]), protected: [false; 128], qs: false, requote: true };

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn push_pct(out: &mut String, byte: u8) {
    // Writing into a String cannot fail.
    let _ = write!(out, "%{byte:02X}");
}

/// `_Quoter.__call__`. Works on UTF-8 bytes: the hex digits of an escape are ASCII, and escaping
/// a character byte by byte is what yarl's code-point loop produces too.
fn quote(val: &str, q: &Quoter) -> String {
    let b = val.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && q.requote
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex_value(b[i + 1]), hex_value(b[i + 2]))
        {
            let byte = hi << 4 | lo;
            i += 3;
            let ascii = usize::from(byte);
            // A decoded character stays decoded only where it is safe and not protected;
            // otherwise the escape is kept, with upper-case hex.
            if byte < 0x80 && q.safe[ascii] && !q.protected[ascii] {
                out.push(char::from(byte));
            } else {
                push_pct(&mut out, byte);
            }
            continue;
        }
        i += 1;
        if q.qs && c == b' ' {
            out.push('+');
        } else if c < 0x80 && q.safe[usize::from(c)] {
            out.push(char::from(c));
        } else {
            push_pct(&mut out, c);
        }
    }
    out
}

/// Length of a UTF-8 sequence from its lead byte, 0 for a byte that cannot start one.
fn utf8_sequence_length(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Whether `byte` may follow `lead` at position `pos` of a sequence, as strictly as CPython's
/// decoder (no overlong forms, surrogates or code points past U+10FFFF).
fn utf8_is_continuation(lead: u8, pos: usize, byte: u8) -> bool {
    let range = match (pos, lead) {
        (1, 0xE0) => 0xA0..=0xBF,
        (1, 0xED) => 0x80..=0x9F,
        (1, 0xF0) => 0x90..=0xBF,
        (1, 0xF4) => 0x80..=0x8F,
        _ => 0x80..=0xBF,
    };
    range.contains(&byte)
}

/// `_Unquoter.__call__` without ignored characters: decodes every `%XX`; escapes that do not form
/// valid UTF-8 are kept as written, or replaced by one U+FFFD per broken sequence when
/// `replace_invalid`. With `plus`, every `+` is a space first.
fn unquote(val: &str, plus: bool, replace_invalid: bool) -> String {
    let replaced;
    let val = if plus && val.contains('+') {
        replaced = val.replace('+', " ");
        replaced.as_str()
    } else {
        val
    };
    if !val.contains('%') {
        return val.to_owned();
    }
    let b = val.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let write_invalid = |out: &mut Vec<u8>, range: std::ops::Range<usize>| {
        if replace_invalid {
            out.extend_from_slice("\u{fffd}".as_bytes());
        } else {
            out.extend_from_slice(&b[range]);
        }
    };
    // The incomplete UTF-8 sequence being decoded, and where its escapes start.
    let mut pending: Vec<u8> = Vec::with_capacity(4);
    let mut pending_start = 0;
    let mut need = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex_value(b[i + 1]), hex_value(b[i + 2]))
        {
            let byte = hi << 4 | lo;
            if !pending.is_empty() {
                if utf8_is_continuation(pending[0], pending.len(), byte) {
                    pending.push(byte);
                    i += 3;
                    if pending.len() == need {
                        out.extend_from_slice(&pending);
                        pending.clear();
                    }
                    continue;
                }
                write_invalid(&mut out, pending_start..i);
                pending.clear();
            }
            if byte < 0x80 {
                out.push(byte);
            } else {
                need = utf8_sequence_length(byte);
                if need > 0 {
                    pending.push(byte);
                    pending_start = i;
                } else {
                    write_invalid(&mut out, i..i + 3);
                }
            }
            i += 3;
            continue;
        }
        if !pending.is_empty() {
            write_invalid(&mut out, pending_start..i);
            pending.clear();
        }
        out.push(b[i]);
        i += 1;
    }
    if !pending.is_empty() {
        write_invalid(&mut out, pending_start..b.len());
    }
    // Only complete, validated sequences and copies of the input were written.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

// ---------------------------------------------------------------------------------------------
// Python string semantics.

/// Python's `str.isspace()`.
fn py_isspace(c: char) -> bool {
    matches!(c,
        '\u{9}'..='\u{d}' | '\u{1c}'..='\u{20}' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// Python's `str.strip()`, which differs from `str::trim` on U+001C–U+001F.
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python's `str.lower()`.
fn py_lower(s: &str) -> String {
    if s.is_ascii() { s.to_ascii_lowercase() } else { s.to_lowercase() }
}

/// Python's `int(str)`: surrounding whitespace, a sign, any Unicode decimal digits and single
/// underscores between digits. Saturates instead of growing, which is enough for a port.
fn py_int(s: &str) -> Option<i64> {
    // CPython turns non-ASCII whitespace into spaces and then strips C `isspace`, so of the ASCII
    // characters `str.isspace()` accepts, U+001C–U+001F are not stripped.
    let s = s.trim_matches(|c: char| matches!(c, ' ' | '\t'..='\r') || (!c.is_ascii() && py_isspace(c)));
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut value: i64 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        value = value.saturating_mul(10).saturating_add(i64::from(decimal_value(c)?));
    }
    Some(if negative { -value } else { value })
}

/// The decimal digit value of a Unicode `Nd` character (`unicodedata.decimal`, Unicode 14).
fn decimal_value(c: char) -> Option<u32> {
    // The first code point of every run of ten decimal digits.
    const ZEROS: [u32; 66] = [
        0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50, 0xed0,
        0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620,
        0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0,
        0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60,
        0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
    ];
    let cp = u32::from(c);
    ZEROS.iter().find(|zero| (**zero..**zero + 10).contains(&cp)).map(|zero| cp - zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_normalisation_vectors() {
        let cases = [
            ("HTTP://WWW.EXAMPLE.COM/Path/Upper/", "http://www.example.com/path/upper"),
            ("https://example.com/", "https://example.com"),
            ("https://example.com/?", "https://example.com"),
            ("https://example.com/a//", "https://example.com/a/"),
            ("https://example.com:443/a?z=1&a=2&a=1", "https://example.com/a?a=1&a=2&z=1"),
            ("https://ex.com/a?utm_x=1&b=%20space&c=a+b", "https://ex.com/a?b=+space&c=a+b"),
            ("https://ex.com/ä?q=ü", "https://ex.com/%c3%a4?q=%c3%bc"),
            ("https://Example.COM/path/?b=2&a=1&utm_source=x#frag", "https://example.com/path?a=1&b=2"),
            ("https://bücher.de/A?x=%2F&y=%41", "https://xn--bcher-kva.de/a?x=/&y=a"),
            ("https://ex.com/a%2fb", "https://ex.com/a/b"),
            ("https://ex.com/path/?q=A B", "https://ex.com/path?q=a+b"),
            ("  https://example.com/x  ", "https://example.com/x"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_url(input, false), expected, "input {input:?}");
            assert_eq!(compute_unique_key(input, "GET", &[], None, None, false, false), expected);
        }
    }

    #[test]
    fn yarl_quirks_observed_in_the_reference() {
        let cases = [
            ("https://ex.com/%FF", "https://ex.com/%25ff"),
            ("https://ex.com/a%2B+b", "https://ex.com/a++b"),
            ("mailto:a@b.com", "mailto:/a@b.com"),
            ("http:foo", "http:///foo"),
            ("http:", "http://"),
            ("", ""),
            ("foo/bar/", "/foo/bar"),
            ("https://ex.com/?a", "https://ex.com/?a="),
            ("https://ex.com:80/x", "https://ex.com:80/x"),
            ("http://ex.com:+80/x", "http://ex.com/x"),
            ("http://bücher.de:８０/", "http://xn--bcher-kva.de"),
            ("https://ex.com/?q=%FF&r=%E2%82", "https://ex.com/?q=%ef%bf%bd&r=%ef%bf%bd"),
            ("https://[::1]:443/", "https://[::1]"),
            ("https://[0:0::1%25eth0]/", "https://[::1%25eth0]"),
            ("https://ex.com/a/./b/../c", "https://ex.com/a/c"),
            ("https://ex.com/%2e%2e/x", "https://ex.com/x"),
            ("https://💩.la/", "https://xn--ls8h.la"),
            ("HTTPS://user:P@ss@Ex.com:443/", "https://user:p%40ss@ex.com"),
            ("https://ex.com/%zz%", "https://ex.com/%25zz%25"),
            ("http://ex.com/a?b=%26&c=%3D", "http://ex.com/a?b=%26&c=%3d"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_url(input, false), expected, "input {input:?}");
        }
    }

    /// Host encoding, checked against Crawlee for Python: IDNA 2008 with UTS #46 mapping, and the
    /// IDNA 2003 fallback Python takes when that fails somewhere in the host (here `_`, an emoji
    /// or a space), which maps `ß` to `ss` and `ς` to `σ`.
    #[test]
    fn hosts_as_python_encodes_them() {
        let cases = [
            ("http://straße.de/", "http://xn--strae-oqa.de"),
            ("http://my_site.straße.de/", "http://my_site.strasse.de"),
            ("http://xn--ls8h.straße.de/", "http://xn--ls8h.strasse.de"),
            ("http://σοφός.gr/", "http://xn--0xagbn4a.gr"),
            ("http://💩.σοφός.gr/", "http://xn--ls8h.xn--0xahbl4a.gr"),
            ("http://हिन्दी.straße/", "http://xn--j2bd4cyah0f.xn--strae-oqa"),
            ("http://\u{a0}ex.bücher.de/", "http:// ex.xn--bcher-kva.de"),
            ("http://a-ü%2F.de/", "http://xn--a-%2f-lva.de"),
            ("http://ा.com/", "http://xn--72b.com"),
            ("http://١.com/", "http://xn--9hb.com"),
            ("http://ע1.com/", "http://xn--1-0ic.com"),
            ("http://1.2.3.4%25x1/", "http://1.2.3.4%25x1"),
            ("http://[fe80::1%eth0]/", "http://[fe80::1%eth0]"),
            ("http://[::ffff:1.2.3.4]/", "http://[::ffff:102:304]"),
            ("http://[1:0:0:2:0:0:0:3]/", "http://[1:0:0:2::3]"),
            ("http://ex.com:80\u{b}/", "http://ex.com"),
            ("http://ex.com:80\u{1c}/", "http://ex.com:80\u{1c}/"),
            ("http://ex.com:٨٠/", "http://ex.com"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_url(input, false), expected, "input {input:?}");
        }
    }

    #[test]
    fn punycode_round_trips() {
        for (unicode, encoded) in
            [("bücher", "bcher-kva"), ("💩", "ls8h"), ("例え", "r8jz45g"), ("a-ü%2f", "a-%2f-lva")]
        {
            assert_eq!(punycode_encode(unicode).as_deref(), Some(encoded));
            assert_eq!(punycode_decode(encoded).as_deref(), Some(unicode));
        }
    }

    #[test]
    fn fragment_is_kept_on_request() {
        assert_eq!(normalize_url("https://ex.com/a/?b=1#Frag", true), "https://ex.com/a?b=1#frag");
        assert_eq!(normalize_url("https://ex.com/#x", true), "https://ex.com/#x");
        assert_eq!(normalize_url("https://ex.com/#x", false), "https://ex.com");
    }

    #[test]
    fn failures_return_the_raw_url() {
        for raw in ["http://ex.com:99999/", " http://ex.com:x/ ", "https:///path", "http://[::1/"] {
            assert_eq!(normalize_url(raw, false), raw);
        }
    }

    #[test]
    fn extended_key() {
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let key =
            compute_unique_key("https://example.com/post", "post", &headers, Some(br#"{"q":1}"#), None, false, true);
        assert_eq!(key, "POST|60d83e70|6ae0f660|https://example.com/post");
        let no_headers = compute_unique_key("https://example.com/x", "GET", &[], None, Some("S1"), false, true);
        assert_eq!(no_headers, "GET|e3b0c442|e3b0c442|s1|https://example.com/x");
        let empty_session = compute_unique_key("https://example.com/x", "GET", &[], None, Some(""), false, true);
        assert_eq!(empty_session, "GET|e3b0c442|e3b0c442|https://example.com/x");
    }

    #[test]
    fn file_names_and_request_ids() {
        assert_eq!(request_file_name("https://example.com/1"), "f2f9784142e4d11.json");
        assert_eq!(request_file_name("https://example.com/2"), "10534fd4c57f8a6.json");
        assert_eq!(request_file_name("https://example.com/path?a=1&b=2"), "94ab2087f4c4ce1.json");
        assert_eq!(request_file_name("POST|60d83e70|6ae0f660|https://example.com/post"), "ef35629b7c3da85.json");
        assert_eq!(request_id("https://example.com/1"), "8vl4QULk0R4ytVB");
    }

    #[test]
    fn http_url_check() {
        assert!(is_http_url("https://example.com/x"));
        assert!(is_http_url("http://example.com"));
        assert!(!is_http_url("ftp://example.com/x"));
        assert!(!is_http_url("/relative"));
        assert!(!is_http_url("mailto:a@b.com"));
    }
}
