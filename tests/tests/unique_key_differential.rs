//! Differential test of `unique_key` against the real Crawlee for Python.
//!
//! A seeded generator builds a few thousand URLs (plus hand-picked edge cases) and extended-key
//! parameters; ONE Python subprocess computes, for each, Crawlee's `compute_unique_key`, the
//! request file name and platform request ID of that key (hashlib / base64), and whether
//! `Request.from_url` would accept the URL. Every result must equal ours.
//!
//! The interpreter is the one every Python-peer test uses, [`apify_tests::python::python`]
//! (`apify==4.1.0`, hence Crawlee 1.11, in a virtualenv under `target/`). Without it the test
//! fails rather than passing silently. Set `UNIQUE_KEY_DIFF_SEED` to vary the corpus.

use std::io::Write as _;
use std::process::{Command, Stdio};

use apify_local::unique_key::{compute_unique_key, is_http_url, request_file_name, request_id};
use serde_json::{Value, json};

/// Number of generated URLs (each also gets random extended-key parameters).
const GENERATED: usize = 6000;

const PYTHON_SCRIPT: &str = r#"
import base64, hashlib, json, logging, sys
logging.disable(logging.CRITICAL)
from crawlee._utils.requests import compute_unique_key
from crawlee._utils.urls import validate_http_url

def http_ok(url):
    try:
        validate_http_url(url)
        return True
    except Exception:
        return False

out = []
for case in json.load(sys.stdin):
    headers = None
    if case["headers"] is not None:
        headers = {}
        for name, value in case["headers"]:
            headers[name] = value
    payload = None if case["payload"] is None else bytes.fromhex(case["payload"])
    key = compute_unique_key(
        case["url"],
        method=case["method"],
        headers=headers,
        payload=payload,
        session_id=case["session_id"],
        keep_url_fragment=case["keep_fragment"],
        use_extended_unique_key=case["extended"],
    )
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    file_name = digest.hex()[:15] + ".json"
    rid = base64.b64encode(digest).decode("ascii").replace("+", "").replace("/", "").replace("=", "")[:15]
    out.append([key, file_name, rid, http_ok(case["url"])])
json.dump(out, sys.stdout, ensure_ascii=True)
"#;

// ---------------------------------------------------------------------------------------------
// Harness

/// Fails loudly unless `python` can import Crawlee 1.11, and returns the versions of Crawlee and
/// of `yarl`, which does the actual URL work and is not pinned by Crawlee.
fn require_crawlee(python: &str) -> String {
    const PROBE: &str = "import crawlee, yarl, idna, crawlee._utils.requests, crawlee._utils.urls\n\
                         print(f'crawlee {crawlee.__version__}, yarl {yarl.__version__}, idna {idna.__version__}')";
    let install = "The shared helper `apify_tests::python::python()` installs it from tests/python/requirements.txt, \
                   or APIFY_TEST_PYTHON points at such an interpreter.";
    let output = match Command::new(python).args(["-c", PROBE]).output() {
        Ok(output) => output,
        Err(e) => panic!("the unique-key differential test cannot run `{python}` ({e}).\n{install}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the unique-key differential test needs a Python with Crawlee for Python 1.11, but `{python}` \
         cannot `import crawlee` ({}).\n{install}",
        stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default().trim()
    );
    let versions = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        versions.starts_with("crawlee 1.11."),
        "the unique-key differential test compares with Crawlee for Python 1.11, but `{python}` has {versions}.\n\
         {install}"
    );
    versions
}

/// Runs the reference script in one Python process on `input` and returns its JSON output.
fn run_python(python: &str, input: &Value) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PYTHON_SCRIPT)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{python}`: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let bytes = serde_json::to_vec(input).expect("serialising the corpus");
    // Write from another thread so that a full stdout or stderr pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let output = child.wait_with_output().expect("waiting for python");
    writer.join().expect("stdin writer thread").expect("writing python stdin");
    assert!(output.status.success(), "python failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("bad python output ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// xorshift64*: tiny, seeded and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus

/// One input: a URL and the other arguments of `compute_unique_key`.
struct Case {
    url: String,
    method: String,
    headers: Option<Vec<(String, String)>>,
    payload: Option<Vec<u8>>,
    session_id: Option<String>,
    keep_fragment: bool,
    extended: bool,
}

impl Case {
    fn plain(url: &str, keep_fragment: bool) -> Self {
        Self {
            url: url.to_owned(),
            method: "GET".to_owned(),
            headers: None,
            payload: None,
            session_id: None,
            keep_fragment,
            extended: false,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "method": self.method,
            "headers": self.headers,
            "payload": self.payload.as_ref().map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            "session_id": self.session_id,
            "keep_fragment": self.keep_fragment,
            "extended": self.extended,
        })
    }

    fn ours(&self) -> String {
        compute_unique_key(
            &self.url,
            &self.method,
            self.headers.as_deref().unwrap_or_default(),
            self.payload.as_deref(),
            self.session_id.as_deref(),
            self.keep_fragment,
            self.extended,
        )
    }
}

/// Hand-picked inputs: the spec's vectors and the yarl corner cases met while porting.
const EDGE_CASES: &[&str] = &[
    "HTTP://WWW.EXAMPLE.COM/Path/Upper/",
    "https://example.com/",
    "https://example.com/?",
    "https://example.com/a//",
    "https://example.com:443/a?z=1&a=2&a=1",
    "https://ex.com/a?utm_x=1&b=%20space&c=a+b",
    "https://ex.com/ä?q=ü",
    "https://Example.COM/path/?b=2&a=1&utm_source=x#frag",
    "https://bücher.de/A?x=%2F&y=%41",
    "https://ex.com/a%2fb",
    "https://ex.com/path/?q=A B",
    "  https://example.com/x  ",
    "",
    " ",
    "http:",
    "http://",
    "https:///path",
    "http:foo",
    "http:/foo/",
    "mailto:a@b.com",
    "foo/bar/",
    "/relative/path/?b=1&a=2",
    "//example.com/x/",
    "////x",
    "?a=1",
    "#frag",
    "%41:b",
    "1a:b/c",
    "ftp://ex.com:21/x",
    "ws://ex.com:80/x",
    "wss://ex.com:443/",
    "foo://ex.com:80/x",
    "foo://@/x",
    "http://@ex.com/",
    "http://:@ex.com/",
    "http://:pw@ex.com:80/",
    "http://user@ex.com:80/",
    "http://us%40er:p%3Ass@ex.com:8080/",
    "http://a@b@ex.com/",
    "http://ex.com:/x",
    "http://ex.com:+80/x",
    "http://ex.com:-0/x",
    "http://ex.com: 80 /x",
    "http://ex.com:8_0/x",
    "http://ex.com:8__0/x",
    "http://ex.com:٨٠/x",
    "http://ex.com:99999/x",
    "http://ex.com:-1/x",
    "http://ex.com:x/",
    "http://bücher.de:８０/",
    "http://[::1]/",
    "http://[::1]:80/",
    "http://[0:0:0:0:0:0:0:1]:8080/a",
    "http://[2001:DB8::A]/",
    "http://[::ffff:1.2.3.4]/",
    "http://[1:2:3:4:5:6:7::]/",
    "http://[::1:2:3:4:5:6:7]/",
    "http://[1::2::3]/",
    "http://[fe80::1%25eth0]/",
    "http://[fe80::1%eth0]/",
    "http://[fe80::1%25]/",
    "http://[v1.abc]/",
    "http://[vz.abc]/",
    "http://[::zz]/",
    "http://[abc]/",
    "http://[::1/",
    "http://::1]/",
    "http://x[::1]/",
    "http://[::1]x/",
    "http://ex.com\\evil/",
    "http://1.2.3.4/",
    "http://1.2.3.04/",
    "http://256.1.1.1/",
    "http://1.2.3.4%25x1/",
    "http://0x7f.1/",
    "http://EX AMPLE.com/",
    "http://ex%41mple.com/",
    "http://ex_ample.COM/",
    "http://xn--bcher-kva.DE/",
    "http://BÜCHER.de/",
    "http://bücher.de./",
    "http://bücher..de/",
    "http://.bücher.de/",
    "http://www.bücher.de/",
    "http://my_site.bücher.de/",
    "http://-x.bücher.de/",
    "http://ab--cd.bücher.de/",
    "http://straße.de/",
    "http://my_site.straße.de/",
    "http://ελλάδα.gr/",
    "http://ΕΛΛΆΔΑ.gr/",
    "http://日本語。jp/",
    "http://例え.テスト/",
    "http://пример.рф/",
    "http://ｅｘａｍｐｌｅ.com/",
    "http://💩.la/",
    "http://e\u{200b}vil.com/",
    "http://e\u{ad}vil.com/",
    "http://ex\u{ff0f}ample.com/",
    "http://ex\u{2100}ample.com/",
    "http://üser:pw@ex.com/",
    "http://bücher.123/",
    "http://עברית.com/",
    "http://xn--ls8h.straße.de/",
    "http://σοφός.gr/",
    "http://💩.σοφός.gr/",
    "http://हिन्दी.straße/",
    "http://\u{a0}ex.bücher.de/",
    "http://a-ü%2F.de/",
    "http://ा.com/",
    "http://١.com/",
    "http://ע1.com/",
    "http://ex.com:80\u{1c}/",
    "http://ex.com:80\u{b}/",
    "https://ex.com/%FF",
    "https://ex.com/%C3",
    "https://ex.com/%C3%A4%E2%82%AC%F0%9F%92%A9",
    "https://ex.com/%E0%80%80",
    "https://ex.com/%ED%A0%80",
    "https://ex.com/%F4%90%80%80",
    "https://ex.com/%zz%",
    "https://ex.com/%",
    "https://ex.com/%4",
    "https://ex.com/%4g",
    "https://ex.com/a%2B+b",
    "https://ex.com/a%2fb%2F..%2Fc",
    "https://ex.com/a/./b/../c",
    "https://ex.com/%2e%2e/x",
    "https://ex.com/../../x",
    "https://ex.com/a/..",
    "https://ex.com/a/.",
    "https://ex.com/a b/c\"d<e>`f{g}|h\\i^j",
    "https://ex.com/;a=b&c@d:e!$'()*,~",
    "https://ex.com/%3B%3D%26%40%3A%21%24%27%28%29%2A%2C%7E%2D%2E%5F",
    "https://ex.com/%3F%23%25%20%5B%5D",
    "https://ex.com/?a",
    "https://ex.com/?a=",
    "https://ex.com/?=a",
    "https://ex.com/?=",
    "https://ex.com/?&&a=1&&",
    "https://ex.com/?a=1=2",
    "https://ex.com/?a=%3D&b=%26&c=%2B&d=%3B&e=;",
    "https://ex.com/?q=%FF&r=%E2%82&s=%C3%A4",
    "https://ex.com/?q=%zz&r=%&s=%4",
    "https://ex.com/?utm_source=a&UTM_x=b&utm_=c&utm=d&xutm_=e",
    "https://ex.com/?b=2&a=1&b=1&a=2&a=",
    "https://ex.com/?é=1&e=2&z=3&Z=4",
    "https://ex.com/?a+b=c+d&a%20b=c%20d",
    "https://ex.com/?a=/?:@&b=[]{}",
    "https://ex.com/x?a=1#f%23",
    "https://ex.com/x#a#b",
    "https://ex.com/x?#",
    "https://ex.com#frag",
    "https://ex.com/#frag",
    "https://ex.com?a=1",
    "\t\nhttps://ex.com/a\tb\nc\r/\u{a0}",
    "\u{1c}https://ex.com/x\u{1f}",
    "\u{3000}https://ex.com/x\u{2028}",
    "\u{0}\u{1}https://ex.com/x",
    "https://ex.com/x\u{0}y",
];

// The pools the generator draws from; repeated entries weight the common cases.
#[rustfmt::skip]
const SCHEMES: &[&str] = &[
    "http://", "https://", "HTTP://", "HtTpS://", "https://", "http://", "ftp://", "ws://", "wss://", "foo://",
    "mailto:", "//", "", "http:", "https:/", "git+ssh://",
];
#[rustfmt::skip]
const ASCII_HOSTS: &[&str] = &[
    "example.com", "WWW.Example.ORG", "sub-domain.example.co.uk", "a_b.com", "localhost", "127.0.0.1", "1.2.3.04",
    "999.1.1.1", "[::1]", "[2001:DB8:0:0:0:0:0:1]", "[::FFFF:1.2.3.4]", "[fe80::1%25eth0]", "[v1.abc]",
    "xn--bcher-kva.de", "ex%41mple.com", "example.com.", "EXAMPLE.COM",
];
#[rustfmt::skip]
const IDNA_HOSTS: &[&str] = &[
    "bücher.de", "BÜCHER.de", "münchen.DE", "www.bücher.de", "пример.рф", "ПРИМЕР.РФ", "例え.jp", "中国.cn",
    "straße.de", "my_site.straße.de", "ελλάδα.gr", "σοφός.gr", "日本語。jp", "ｅｘａｍｐｌｅ.com", "café.fr",
    "éxample.com.", "💩.la", "ñandú.com.ar", "παράδειγμα.δοκιμή", "مثال.إختبار", "हिन्दी.भारत", "เว็บไซต์.ไทย",
    "xn--ls8h.straße.de",
];
const PORTS: &[&str] = &[
    "", "", "", "", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":", ":x", ":+80", ":٨٠", ":０", ":21", ":0443",
];
const USERINFO: &[&str] = &["", "", "", "", "", "user@", "user:pass@", "us%40er:p%3Ass@", ":@", "@", "u:@", "Üser:pw@"];
#[rustfmt::skip]
const PATH_SEGMENTS: &[&str] = &[
    "", "a", "A", "Path", "index.html", "%2F", "%2f", "%41", "%zz", "%", "%E2%82%AC", "%C3", "%FF", "%c3%a4", "+",
    "%2B", " ", "%20", "ä", "€", "日本", ".", "..", "%2E", "%2e%2E", "a;b=c", "x=y&z", "@", ":", "~", "!$'()*,",
    "%25", "%3F", "%23", "[", "]", "|", "^", "`", "{", "}", "\"", "<", ">", "💩", "a b", "x%y", "%%41",
];
#[rustfmt::skip]
const QUERY_NAMES: &[&str] = &[
    "a", "b", "B", "q", "utm_source", "utm_medium", "UTM_x", "utm_", "utm", "x y", "q+r", "%20", "a%3Db", "a%26b", "",
    "ä", "%C3%A4", "%FF", "n;m", "é", "Z", "z", "a%2Bb", "%75tm_x", "k[]", "%zz",
];
const QUERY_VALUES: &[&str] = &[
    "", "1", "2", "10", "x", "X", "a b", "a+b", "a%20b", "%2F", "/", "?", "%3D", "=", "%26", "%3B", ";", "ü", "%C3%BC",
    "%E2%82", "%FF", "€", "~!$'()*,", "%7E", "%25", "%", "@:", "%40", "💩", "a%2Bb",
];
const FRAGMENTS: &[&str] = &["frag", "Frag", "%23", "a#b", "x?y", " ", "ü", "%zz", "", "/a/b", "%41", "=&+;"];
const WHITESPACE: &[&str] = &["", "", "", "", "", " ", "\t", "\n", "\u{a0}", "\u{3000}", "\u{1c}", "  \r\n"];
const METHODS: &[&str] = &["GET", "get", "POST", "post", "Put", "pAtCh", "DELETE", "HEAD", "OPTIONS"];
const HEADER_NAMES: &[&str] =
    &["accept", "accept-language", "authorization", "content-type", "user-agent", "x-custom", "Accept", "cookie"];
const HEADER_VALUES: &[&str] = &["application/json", "text/html", "en-US,en;q=0.9", "Bearer abc", "", "ü", "a:b|c"];
const SESSIONS: &[&str] = &["Session_1", "abc", "ÄBC", "", "s|x"];

fn generate_url(rng: &mut Rng) -> String {
    let mut url = String::new();
    url.push_str(rng.pick(WHITESPACE));
    url.push_str(rng.pick(SCHEMES));
    if rng.chance(10) {
        url.push_str(rng.pick(USERINFO));
    }
    let host = if rng.chance(25) { rng.pick(IDNA_HOSTS) } else { rng.pick(ASCII_HOSTS) };
    // Random case on the host, as people type it.
    for c in host.chars() {
        if c.is_ascii_alphabetic() && rng.chance(20) {
            url.push(if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        } else {
            url.push(c);
        }
    }
    if rng.chance(20) {
        url.push_str(rng.pick(PORTS));
    }
    let segments = rng.below(5);
    for _ in 0..segments {
        url.push('/');
        let parts = 1 + rng.below(3);
        for _ in 0..parts {
            url.push_str(rng.pick(PATH_SEGMENTS));
        }
    }
    if rng.chance(30) {
        url.push('/');
    }
    if rng.chance(5) {
        url.push('/');
    }
    if rng.chance(60) {
        url.push('?');
        let pairs = rng.below(6);
        for i in 0..pairs {
            if i > 0 {
                url.push_str(if rng.chance(5) { "&&" } else { "&" });
            }
            url.push_str(rng.pick(QUERY_NAMES));
            if rng.chance(85) {
                url.push('=');
                url.push_str(rng.pick(QUERY_VALUES));
                if rng.chance(10) {
                    url.push_str(rng.pick(QUERY_VALUES));
                }
            }
        }
        if rng.chance(5) {
            url.push('&');
        }
    }
    if rng.chance(20) {
        url.push('#');
        url.push_str(rng.pick(FRAGMENTS));
    }
    url.push_str(rng.pick(WHITESPACE));
    url
}

/// A short random string over characters that mean something to a URL parser, sometimes after
/// `http://` so that the noise lands in the authority.
fn noise(rng: &mut Rng) -> String {
    #[rustfmt::skip]
    const ALPHABET: &[&str] = &[
        "a", "B", "0", "9", "%", "2", "F", "f", "/", "?", "#", "&", "=", "+", ";", ":", "@", "[", "]", ".", " ", "-",
        "_", "~", "ü", "ö", "ß", "日本", "ＡＢ", "\t", "\r\n", "\\", "x", "utm_", "http", "://", "http://", "https://",
        "//", "%41", "%2F", "%25", "%E2%82%AC", "%C3", "%zz", "::1", ":80", ":443", "1.2.3.4", "xn--", "..", "./",
        "\u{a0}", "\u{3000}", "\u{1c}", "\u{200b}",
    ];
    let mut out = if rng.chance(50) { "http://".to_owned() } else { String::new() };
    for _ in 0..rng.below(30) {
        out.push_str(rng.pick(ALPHABET));
    }
    out
}

fn generate_case(rng: &mut Rng) -> Case {
    let url = if rng.chance(15) { noise(rng) } else { generate_url(rng) };
    let extended = rng.chance(30);
    let headers = rng.chance(70).then(|| {
        (0..rng.below(5)).map(|_| (rng.pick(HEADER_NAMES).to_owned(), rng.pick(HEADER_VALUES).to_owned())).collect()
    });
    let payload = match rng.below(4) {
        0 => None,
        1 => Some(Vec::new()),
        2 => Some(br#"{"q":1}"#.to_vec()),
        _ => Some((0..rng.below(40)).map(|_| u8::try_from(rng.below(256)).expect("a byte")).collect()),
    };
    let session_id = rng.chance(40).then(|| rng.pick(SESSIONS).to_owned());
    Case {
        url,
        method: rng.pick(METHODS).to_owned(),
        headers,
        payload,
        session_id,
        keep_fragment: rng.chance(30),
        extended,
    }
}

// ---------------------------------------------------------------------------------------------
// The test

#[test]
fn unique_keys_match_crawlee_for_python() {
    let python = apify_tests::python::python().to_string_lossy().into_owned();
    let versions = require_crawlee(&python);

    let default_seed = 0x5eed_0fc0_ffee_0011_u64;
    let seed = std::env::var("UNIQUE_KEY_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(default_seed, |s| s ^ default_seed);
    let mut rng = Rng(seed | 1);

    let mut cases: Vec<Case> = Vec::new();
    for url in EDGE_CASES {
        cases.push(Case::plain(url, false));
        cases.push(Case::plain(url, true));
    }
    cases.push(Case {
        url: "https://example.com/post".to_owned(),
        method: "POST".to_owned(),
        headers: Some(vec![("content-type".to_owned(), "application/json".to_owned())]),
        payload: Some(br#"{"q":1}"#.to_vec()),
        session_id: None,
        keep_fragment: false,
        extended: true,
    });
    cases.extend((0..GENERATED).map(|_| generate_case(&mut rng)));

    let input = Value::Array(cases.iter().map(Case::to_json).collect());
    let results = run_python(&python, &input);
    assert_eq!(results.len(), cases.len(), "python returned a different number of results");

    let mut mismatches = Vec::new();
    for (case, result) in cases.iter().zip(&results) {
        let theirs_key = result[0].as_str().expect("key");
        let ours_key = case.ours();
        let mut diffs = Vec::new();
        if ours_key != theirs_key {
            diffs.push(format!("key: ours {ours_key:?}, python {theirs_key:?}"));
        }
        // The derived names are checked on Python's key, so that they are tested independently.
        let theirs_file = result[1].as_str().expect("file name");
        if request_file_name(theirs_key) != theirs_file {
            diffs.push(format!("file name: ours {:?}, python {theirs_file:?}", request_file_name(theirs_key)));
        }
        let theirs_id = result[2].as_str().expect("request id");
        if request_id(theirs_key) != theirs_id {
            diffs.push(format!("request id: ours {:?}, python {theirs_id:?}", request_id(theirs_key)));
        }
        let theirs_valid = result[3].as_bool().expect("validity");
        if is_http_url(&case.url) != theirs_valid {
            diffs.push(format!("is_http_url: ours {}, python {theirs_valid}", is_http_url(&case.url)));
        }
        if !diffs.is_empty() {
            mismatches.push(format!("input {}\n    {}", case.to_json(), diffs.join("\n    ")));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Crawlee for Python ({versions}; seed {seed:#x}); the first ones:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
