"""Drives the official Python API client (`apify-client` 3.4.0) against the `apify-local` emulator.

Usage: client_compat.py <emulator URL> <token>

Covers every dataset, key-value store and request queue method of storage-methods.md §2-§6,
including the error paths (404 -> None, 400, 401, 413). Every check is an `assert` with a
message, so any mismatch fails the script (and the Rust test running it) loudly.

Known emulator bugs are wrapped in `known_bug(...)` (marked `# EMULATOR BUG:`): the check still
runs, a failure with the bug's symptom is reported as "KNOWN EMULATOR BUG" and skipped, and a check that passes fails
the script so that the skip gets removed once the bug is fixed.

The last line of stdout is `RESULT <json>`: IDs and expectations the Rust side checks on disk.
"""

import csv
import gzip
import hashlib
import io
import json
import sys
import time
import traceback
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

from apify_client import ApifyClient
from apify_client.errors import ApifyApiError, InvalidRequestError, NotFoundError, UnauthorizedError

URL, TOKEN = sys.argv[1].rstrip('/'), sys.argv[2]

client = ApifyClient(TOKEN, api_url=URL, api_public_url=URL, max_retries=0)


# --- Instrumentation -----------------------------------------------------------------------------


class Exchange:
    """One HTTP exchange as the client's transport saw it."""

    def __init__(self, method, url, headers, body, status, response_headers):
        self.method = method
        self.url = url
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.status = status
        self.response_headers = response_headers


exchanges: list[Exchange] = []


def _record(http_client):
    """Wraps the transport so every request and response status is recorded."""
    send = http_client.send_request

    def recording_send(*, method, url, headers, content, timeout, stream):
        response = send(method=method, url=url, headers=headers, content=content, timeout=timeout, stream=stream)
        body = content if isinstance(content, (bytes, bytearray)) else None
        exchanges.append(Exchange(method, url, headers, body, response.status_code, dict(response.headers)))
        return response

    http_client.send_request = recording_send


_record(client.http_client)


def calls_during(fn):
    """Runs `fn` and returns (its result, the exchanges it made)."""
    start = len(exchanges)
    result = fn()
    return result, exchanges[start:]


def sent_json(exchange):
    """The JSON body of a recorded request (gunzipped if the client compressed it)."""
    body = exchange.body
    if exchange.headers.get('content-encoding') == 'gzip':
        body = gzip.decompress(body)
    return json.loads(body)


def last_status():
    return exchanges[-1].status


# --- Assertion helpers ---------------------------------------------------------------------------

known_bugs_seen: list[str] = []


def known_bug(name, symptom, check):
    """Runs a check that fails because of a known emulator bug. A failure whose text contains
    `symptom` is reported and skipped; any other failure is raised; a pass fails the script (the
    bug is fixed: remove the skip)."""
    try:
        check()
    except Exception as e:  # noqa: BLE001 - the symptom decides
        text = f'{type(e).__name__}: {e}'
        if symptom not in text:
            raise
        known_bugs_seen.append(name)
        print(f'KNOWN EMULATOR BUG (skipped) {name}: {" ".join(text.split())[:300]}')
        return
    raise AssertionError(f'known emulator bug {name!r} no longer reproduces: remove its EMULATOR BUG skip')


def expect_api_error(fn, status, error_type=None, cls=ApifyApiError):
    """Asserts that `fn` raises an API error with this status ('4xx': any client error) and type,
    of class `cls`."""
    try:
        fn()
    except ApifyApiError as e:
        assert isinstance(e, cls), f'expected {cls.__name__}, got {type(e).__name__} ({e.status_code} {e.type})'
        ok = 400 <= e.status_code < 500 if status == '4xx' else e.status_code == status
        assert ok, f'expected status {status}, got {e.status_code} ({e.type}: {e.message})'
        if error_type is not None:
            assert e.type == error_type, f'expected error type {error_type!r}, got {e.type!r} ({e.message})'
        return e
    raise AssertionError(f'expected an API error {status} {error_type}, but the call succeeded')


def ids(items):
    return [i.id for i in items]


def fetch(url):
    """GET with the token, outside the client (to follow public URLs)."""
    req = urllib.request.Request(url, headers={'Authorization': f'Bearer {TOKEN}'})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers.get('content-type'), r.read()


def section(title):
    print(f'--- {title}', flush=True)


# --- §2 Storage collections ----------------------------------------------------------------------


def check_collection(kind, col):
    section(f'collection {kind}')
    a = col.get_or_create(name=f'{kind}-a')
    assert last_status() == 201, f'{kind}: get_or_create of a new name must answer 201, got {last_status()}'
    assert a.name == f'{kind}-a', f'{kind}: name {a.name!r}'
    a_again = col.get_or_create(name=f'{kind}-a')
    assert last_status() == 200, f'{kind}: get_or_create of an existing name must answer 200, got {last_status()}'
    assert a_again.id == a.id, f'{kind}: get_or_create by name must return the same storage'
    time.sleep(0.01)  # distinct createdAt, so that the listing order is well defined
    b = col.get_or_create(name=f'{kind}-b')
    time.sleep(0.01)
    unnamed = col.get_or_create()
    assert last_status() == 201, f'{kind}: unnamed get_or_create must answer 201, got {last_status()}'
    assert unnamed.name is None, f'{kind}: an unnamed storage has no name, got {unnamed.name!r}'
    assert unnamed.id not in (a.id, b.id), f'{kind}: unnamed creation must make a new storage'
    unnamed2 = col.get_or_create()
    assert unnamed2.id != unnamed.id, f'{kind}: each unnamed get_or_create creates a new storage'

    page = col.list()
    assert ids(page.items) == [a.id, b.id], f'{kind}: list() must list named storages by createdAt: {ids(page.items)}'
    assert (page.total, page.count, page.offset, page.desc) == (2, 2, 0, False), f'{kind}: list page {page}'
    page = col.list(limit=1)
    assert ids(page.items) == [a.id] and page.limit == 1 and page.count == 1 and page.total == 2, f'{kind}: {page}'
    page = col.list(offset=1)
    assert ids(page.items) == [b.id] and page.offset == 1 and page.total == 2, f'{kind}: list(offset=1) {page}'
    page = col.list(ownership='ownedByMe')
    assert ids(page.items) == [a.id, b.id], f'{kind}: list(ownership=ownedByMe) lists the local storages'
    page = col.list(desc=True)
    assert ids(page.items) == [b.id, a.id] and page.desc is True, f'{kind}: list(desc=True) {ids(page.items)}'

    def list_unnamed():
        page = col.list(unnamed=True)
        got = ids(page.items)
        assert got == [a.id, b.id, unnamed.id, unnamed2.id], f'{kind}: list(unnamed=True) {got}'
        assert page.total == 4, f'{kind}: list(unnamed=True) total {page.total}'

    list_unnamed()

    assert ids(col.iterate(chunk_size=1)) == [a.id, b.id], f'{kind}: iterate(chunk_size=1)'
    assert ids(col.iterate(limit=1)) == [a.id], f'{kind}: iterate(limit=1)'
    assert ids(col.iterate(desc=True)) == [b.id, a.id], f'{kind}: iterate(desc=True)'
    assert ids(col.iterate(offset=1)) == [b.id], f'{kind}: iterate(offset=1)'
    listed, calls = calls_during(lambda: ids(col.iterate()))
    assert listed == [a.id, b.id], f'{kind}: iterate() {listed}'

    def iterate_pages():
        # The client sends limit=0 ("let the API decide", client-behaviour.md §9.1): one full
        # page, then one empty page.
        assert len(calls) == 2, f'{kind}: iterate() without chunk_size took {len(calls)} requests'

    iterate_pages()
    return a, b, unnamed


# --- §3 DatasetClient ----------------------------------------------------------------------------

ITEMS = [
    {'n': 1, 'a': 'x', '#hidden': 'h1', 'nested': {'k': [1, 2]}},
    {'n': 2, 'a': 'y'},
    {},
    {'n': 4, 'a': 'z', '#hidden': 'h4'},
    {'n': 5, 'a': 'w'},
    {'n': 6},
    {'n': 7, 'a': 'žluťoučký kůň 🐎'},
]


def check_dataset():
    section('dataset')
    created = client.datasets().get_or_create(name='compat-items')
    ds = client.dataset(created.id)
    got = ds.get()
    assert got is not None and got.id == created.id and got.name == 'compat-items', f'dataset get {got}'
    assert got.item_count == 0 and got.clean_item_count == 0, f'new dataset counts {got}'
    assert client.dataset('NoSuchDataset0000').get() is None, 'get() of a missing dataset must be None (404)'
    assert client.dataset('~no-such-dataset').get() is None, 'get() of a missing named dataset must be None'

    # Push an object, a list, and a JSON string (sent verbatim).
    _, calls = calls_during(lambda: ds.push_items(ITEMS[0]))
    assert calls[0].status == 201, f'push_items status {calls[0].status}'
    assert calls[0].headers['content-type'] == 'application/json; charset=utf-8', calls[0].headers
    assert calls[0].response_headers.get('location'), 'push_items 201 must carry Location'
    ds.push_items(ITEMS[1:4])
    json_string = json.dumps(ITEMS[4:6])
    _, calls = calls_during(lambda: ds.push_items(json_string))
    assert calls[0].body == json_string.encode(), 'a JSON string must be sent verbatim'
    ds.push_items([ITEMS[6]])
    got = ds.get()
    assert got.item_count == 7, f'itemCount after pushing 7 items: {got.item_count}'
    assert got.clean_item_count == 7, f'cleanItemCount {got.clean_item_count}'

    # list_items and its parameters.
    page = ds.list_items()
    assert page.items == ITEMS, f'list_items() items {page.items}'
    assert (page.total, page.offset, page.count, page.desc) == (7, 0, 7, False), f'list_items() page {page}'
    assert page.limit >= 7, f'list_items() limit {page.limit}'
    page = ds.list_items(offset=2, limit=3)
    assert page.items == ITEMS[2:5], f'list_items(offset=2, limit=3) {page.items}'
    assert (page.total, page.offset, page.limit, page.count) == (7, 2, 3, 3), f'paging {page}'
    page = ds.list_items(desc=True)
    assert page.items == ITEMS[::-1] and page.desc is True, f'list_items(desc=True) {page.items}'
    page = ds.list_items(desc=True, limit=2, offset=1)
    assert page.items == [ITEMS[5], ITEMS[4]], f'list_items(desc, limit 2, offset 1) {page.items}'
    page = ds.list_items(fields=['a', 'n'])
    expected = [{k: i[k] for k in ('a', 'n') if k in i} for i in ITEMS]
    assert page.items == expected, f'fields {page.items}'
    assert [list(i) for i in page.items][0] == ['a', 'n'], 'fields keep the requested order'
    page = ds.list_items(omit=['a', '#hidden', 'nested'])
    assert page.items == [{k: v for k, v in i.items() if k == 'n'} for i in ITEMS], f'omit {page.items}'
    page = ds.list_items(skip_hidden=True)
    assert page.items == [{k: v for k, v in i.items() if not k.startswith('#')} for i in ITEMS], 'skip_hidden'
    page = ds.list_items(skip_empty=True)
    assert page.items == [i for i in ITEMS if i], f'skip_empty {page.items}'
    assert page.total == 7 and page.count == 7, f'skip_empty counts scanned rows: {page}'
    clean = [{k: v for k, v in i.items() if not k.startswith('#')} for i in ITEMS if i]
    page = ds.list_items(clean=True)
    assert page.items == clean, f'clean {page.items}'
    page = ds.list_items(clean=True, limit=3)
    assert page.items == clean[:2] and page.count == 3, f'clean skips the empty 3rd row: {page}'

    # iterate_items: offset paging by scanned rows.
    assert list(ds.iterate_items()) == ITEMS, 'iterate_items()'
    assert list(ds.iterate_items(chunk_size=2)) == ITEMS, 'iterate_items(chunk_size=2)'
    assert list(ds.iterate_items(offset=1, limit=3)) == ITEMS[1:4], 'iterate_items(offset=1, limit=3)'
    assert list(ds.iterate_items(desc=True, chunk_size=3)) == ITEMS[::-1], 'iterate_items(desc)'
    assert list(ds.iterate_items(clean=True, chunk_size=2)) == clean, 'iterate_items(clean, chunk_size=2)'

    # get_items_as_bytes / stream_items in json, jsonl and csv.
    raw = ds.get_items_as_bytes()
    assert json.loads(raw) == ITEMS, 'get_items_as_bytes() json'
    raw = ds.get_items_as_bytes(item_format='jsonl', limit=2)
    assert [json.loads(line) for line in raw.decode().splitlines()] == ITEMS[:2], f'jsonl {raw!r}'
    raw = ds.get_items_as_bytes(item_format='csv', fields=['n', 'a'], bom=False)
    rows = list(csv.reader(io.StringIO(raw.decode('utf-8'))))
    assert rows[0] == ['n', 'a'], f'csv header {rows[0]}'
    assert rows[1:] == [[str(i.get('n', '')), i.get('a', '')] for i in ITEMS], f'csv rows {rows[1:]}'
    raw = ds.get_items_as_bytes(item_format='csv', fields=['n'], skip_header_row=True, delimiter=';', bom=False)
    rows = list(csv.reader(io.StringIO(raw.decode('utf-8')), delimiter=';'))
    assert rows == [[str(i.get('n', ''))] for i in ITEMS], f'csv skip_header_row {raw!r}'
    raw = ds.get_items_as_bytes(item_format='csv', fields=['n'], bom=True)
    assert raw.startswith(b'\xef\xbb\xbf'), f'bom=True must prefix a BOM: {raw[:8]!r}'

    def csv_bom_by_default():
        raw = ds.get_items_as_bytes(item_format='csv', fields=['n'])
        assert raw.startswith(b'\xef\xbb\xbf'), f'CSV without bom= must start with a BOM: {raw[:8]!r}'

    csv_bom_by_default()

    with ds.stream_items(item_format='jsonl') as response:
        assert response.status_code == 200, f'stream_items status {response.status_code}'
        streamed = b''.join(response.iter_bytes())
    assert [json.loads(line) for line in streamed.decode().splitlines()] == ITEMS, 'stream_items jsonl'

    def statistics():
        stats = ds.get_statistics()
        assert stats is not None, 'get_statistics returns DatasetStatistics'

    statistics()

    # create_items_public_url: a URL on the public base, that serves the items.
    public = ds.create_items_public_url()
    assert public.startswith(f'{URL}/v2/datasets/{created.id}/items'), f'items public URL {public}'
    status, _, body = fetch(public)
    assert status == 200 and json.loads(body) == ITEMS, 'the items public URL must serve the items'
    public = ds.create_items_public_url(item_format='csv', limit=2, desc=True)
    assert 'format=csv' in public and 'limit=2' in public and 'desc=true' in public, f'public URL query {public}'

    def items_public_url_is_local():
        url = str(ds.get().items_public_url)
        assert url.startswith(URL), f'itemsPublicUrl must point at the emulator, got {url}'

    items_public_url_is_local()

    # A large push (> 1 MB) is gzipped by the client and decoded by the emulator.
    large = [{'i': i, 'text': f'item {i} ' + 'lorem ipsum ' * 50} for i in range(2000)]
    big = client.dataset(client.datasets().get_or_create(name='compat-large').id)
    _, calls = calls_during(lambda: big.push_items(large))
    assert calls[0].headers.get('content-encoding') == 'gzip', f'a > 1 MB push must be gzipped: {calls[0].headers}'
    assert len(json.dumps(large)) > 1_000_000, 'the large push must exceed 1 MB'
    assert big.get().item_count == 2000, 'itemCount after the large push'
    assert list(big.iterate_items(chunk_size=700)) == large, 'the large dataset reads back (3 pages)'
    assert big.list_items(offset=1999).items == [large[1999]], 'the last item of the large dataset'

    # Push errors: over 9 MiB is 413, non-object items are 400.
    huge = [{'blob': 'x' * 1_000_000} for _ in range(10)]
    expect_api_error(lambda: big.push_items(huge), 413, 'request-too-large')
    expect_api_error(lambda: big.push_items([1, 2]), 400, cls=InvalidRequestError)
    expect_api_error(lambda: big.push_items('not json'), 400, cls=InvalidRequestError)
    assert big.get().item_count == 2000, 'failed pushes must not add items'

    # update (rename) and delete on a throwaway dataset.
    tmp = client.dataset(client.datasets().get_or_create(name='compat-tmp').id)
    tmp.push_items({'x': 1})
    renamed = tmp.update(name='compat-renamed', title='A title')
    assert renamed.name == 'compat-renamed' and renamed.item_count == 1, f'update(name) {renamed}'
    assert tmp.get().name == 'compat-renamed', 'the new name must stick'
    again = client.datasets().get_or_create(name='compat-renamed')
    assert again.id == renamed.id and last_status() == 200, 'the renamed dataset is found by its new name'
    assert client.dataset('~compat-renamed').get().id == renamed.id, 'and addressed as ~name'
    tmp.delete()
    assert tmp.get() is None, 'a deleted dataset is gone'
    tmp.delete()  # a 404 on delete() of an ID-addressed client is swallowed
    expect_api_error(lambda: tmp.push_items({'x': 1}), 404, 'record-not-found', NotFoundError)
    expect_api_error(lambda: tmp.list_items(), 404, cls=NotFoundError)
    return created


# --- §4 KeyValueStoreClient ----------------------------------------------------------------------

BIG_JSON = {'data': ['value %d' % i for i in range(30000)]}
BYTES = bytes(range(256)) * 3
PRE_GZIPPED_TEXT = 'pre-compressed text ' * 200
ODD_KEY = "odd!key'(1)_-.txt"


def check_key_value_store():
    section('key-value store')
    created = client.key_value_stores().get_or_create(name='compat-kvs')
    kvs = client.key_value_store(created.id)
    got = kvs.get()
    assert got is not None and got.id == created.id and got.name == 'compat-kvs', f'kvs get {got}'
    assert client.key_value_store('NoSuchStore000000').get() is None, 'get() of a missing store must be None'

    # set_record with every value kind and explicit content types.
    _, calls = calls_during(lambda: kvs.set_record('dict', {'a': 1, 'b': [1, 2], 'c': 'ž'}))
    assert calls[0].status == 201 and calls[0].response_headers.get('location'), 'set_record: 201 + Location'
    assert calls[0].headers['content-type'].startswith('application/json'), calls[0].headers
    kvs.set_record('text', 'hello žluť')
    kvs.set_record('bytes', BYTES)
    kvs.set_record('html', '<p>hi</p>', content_type='text/html')
    kvs.set_record('json-string', '{"x": 1}', content_type='application/json')
    kvs.set_record('xml', b'<a>1</a>', content_type='application/xml')
    kvs.set_record(ODD_KEY, 'odd')  # every character the platform allows besides letters and digits
    _, calls = calls_during(lambda: kvs.set_record('big-json', BIG_JSON))
    assert calls[0].headers.get('content-encoding') == 'gzip', f'a big record must be gzipped: {calls[0].headers}'
    kvs.set_record(
        'pre-gzipped', gzip.compress(PRE_GZIPPED_TEXT.encode()), content_type='text/plain', content_encoding='gzip'
    )

    # get_record decodes by content type.
    rec = kvs.get_record('dict')
    assert rec['key'] == 'dict' and rec['value'] == {'a': 1, 'b': [1, 2], 'c': 'ž'}, f'get_record dict {rec}'
    assert rec['content_type'].startswith('application/json'), rec['content_type']
    rec = kvs.get_record('text')
    assert rec['value'] == 'hello žluť' and rec['content_type'].startswith('text/plain'), f'text {rec}'
    rec = kvs.get_record('bytes')
    assert rec['value'] == BYTES and rec['content_type'] == 'application/octet-stream', 'bytes record'
    rec = kvs.get_record('html')
    assert rec['value'] == '<p>hi</p>' and rec['content_type'] == 'text/html', f'html {rec}'
    rec = kvs.get_record('json-string')
    assert rec['value'] == {'x': 1}, f'a JSON string with a JSON content type is stored verbatim: {rec}'
    rec = kvs.get_record(ODD_KEY)
    assert rec['key'] == ODD_KEY and rec['value'] == 'odd', f'a key with !-_.\'() {rec}'
    rec = kvs.get_record('xml')
    assert rec['value'] == '<a>1</a>' and rec['content_type'] == 'application/xml', f'xml {rec}'
    assert kvs.get_record('big-json')['value'] == BIG_JSON, 'the gzipped record reads back'
    assert kvs.get_record('pre-gzipped')['value'] == PRE_GZIPPED_TEXT, 'a pre-gzipped upload reads back decoded'
    assert kvs.get_record('missing') is None, 'get_record of a missing key must be None'

    rec = kvs.get_record_as_bytes('dict')
    assert json.loads(rec['value']) == {'a': 1, 'b': [1, 2], 'c': 'ž'}, 'get_record_as_bytes'
    assert kvs.get_record_as_bytes('bytes')['value'] == BYTES, 'get_record_as_bytes of bytes'
    assert kvs.get_record_as_bytes('missing') is None, 'get_record_as_bytes of a missing key must be None'
    with kvs.stream_record('bytes') as rec:
        assert rec is not None and rec['key'] == 'bytes', f'stream_record {rec}'
        assert b''.join(rec['value'].iter_bytes()) == BYTES, 'stream_record content'
    with kvs.stream_record('missing') as rec:
        assert rec is None, 'stream_record of a missing key must yield None'

    assert kvs.record_exists('dict') is True, 'record_exists of an existing key'
    assert kvs.record_exists('missing') is False, 'record_exists of a missing key'

    # list_keys: order, paging, prefix, sizes.
    # Ordered by the encoded file name (ODD_KEY is `odd%21key...`).
    keys = ['big-json', 'bytes', 'dict', 'html', 'json-string', ODD_KEY, 'pre-gzipped', 'text', 'xml']
    listing = kvs.list_keys()
    assert [k.key for k in listing.items] == keys, f'list_keys order {[k.key for k in listing.items]}'
    assert listing.count == len(keys) and listing.is_truncated is False, f'list_keys {listing}'
    assert listing.next_exclusive_start_key is None, 'a complete listing has no next key'
    sizes = {k.key: k.size for k in listing.items}
    assert sizes['bytes'] == len(BYTES) and sizes['html'] == len('<p>hi</p>'), f'sizes {sizes}'
    assert sizes['pre-gzipped'] == len(PRE_GZIPPED_TEXT), f'the stored size is the decoded size: {sizes}'
    first = kvs.list_keys(limit=3)
    assert [k.key for k in first.items] == keys[:3] and first.is_truncated is True, f'list_keys(limit=3) {first}'
    assert first.next_exclusive_start_key == 'dict' and first.limit == 3, f'next key {first}'
    rest = kvs.list_keys(exclusive_start_key='dict')
    assert [k.key for k in rest.items] == keys[3:], f'exclusive_start_key {[k.key for k in rest.items]}'
    assert rest.exclusive_start_key == 'dict', f'exclusiveStartKey echoed {rest}'
    assert [k.key for k in kvs.list_keys(prefix='b').items] == ['big-json', 'bytes'], 'prefix'
    assert [k.key for k in kvs.iterate_keys()] == keys, 'iterate_keys()'
    assert [k.key for k in kvs.iterate_keys(chunk_size=3)] == keys, 'iterate_keys(chunk_size=3)'
    assert [k.key for k in kvs.iterate_keys(limit=5, chunk_size=2)] == keys[:5], 'iterate_keys(limit=5)'
    assert [k.key for k in kvs.iterate_keys(exclusive_start_key='text')] == ['xml'], 'iterate from a key'

    def record_public_url_is_local():
        url = str(listing.items[0].record_public_url)
        assert url.startswith(URL), f'recordPublicUrl must point at the emulator, got {url}'

    record_public_url_is_local()

    # get_record_public_url builds a URL on the public base; it serves the record.
    public = kvs.get_record_public_url('dict')
    assert public == f'{URL}/v2/key-value-stores/{created.id}/records/dict', f'record public URL {public}'
    status, content_type, body = fetch(public)
    assert status == 200 and json.loads(body) == {'a': 1, 'b': [1, 2], 'c': 'ž'}, 'public URL serves the record'
    assert content_type.startswith('application/json'), content_type

    # create_keys_public_url: the keys listing on the public base, with the query given.
    public = kvs.create_keys_public_url(limit=2, prefix='b')
    assert public.startswith(f'{URL}/v2/key-value-stores/{created.id}/keys?'), f'keys public URL {public}'
    _, _, body = fetch(public)
    assert [i['key'] for i in json.loads(body)['data']['items']] == ['big-json', 'bytes'], f'keys URL serves {body!r}'

    # delete_record: a missing key is an error.
    kvs.delete_record('text')
    assert kvs.record_exists('text') is False and kvs.get_record('text') is None, 'a deleted record is gone'
    expect_api_error(lambda: kvs.delete_record('text'), 404, 'record-not-found', NotFoundError)

    # Invalid keys are 400 invalid-record-key; bodies over 9 MiB are 413.
    for bad in ['bad key', 'a/b', 'klíč', 'x?y']:
        expect_api_error(lambda bad=bad: kvs.set_record(bad, 'x'), 400, 'invalid-record-key', InvalidRequestError)
    expect_api_error(lambda: kvs.set_record('huge', b'x' * (9 * 1024 * 1024 + 1)), 413, 'request-too-large')
    assert kvs.record_exists('huge') is False, 'a refused record is not stored'

    # update (rename) and delete on a throwaway store.
    tmp = client.key_value_store(client.key_value_stores().get_or_create(name='compat-kvs-tmp').id)
    tmp.set_record('k', 'v')
    renamed = tmp.update(name='compat-kvs-renamed')
    assert renamed.name == 'compat-kvs-renamed' and tmp.get().name == 'compat-kvs-renamed', f'kvs rename {renamed}'
    assert tmp.get_record('k')['value'] == 'v', 'records survive a rename'
    tmp.delete()
    assert tmp.get() is None, 'a deleted store is gone'
    assert tmp.get_record('k') is None, 'records of a deleted store are gone (404 -> None)'
    tmp.delete()
    return created


# --- §6 RequestQueueClient -----------------------------------------------------------------------


def req(i, **extra):
    url = f'https://example.com/{i}'
    return {'url': url, 'unique_key': url, **extra}


def counts(rq):
    q = rq.get()
    return q.total_request_count, q.handled_request_count, q.pending_request_count


def check_request_queue():
    section('request queue')
    created = client.request_queues().get_or_create(name='compat-rq')
    rq = client.request_queue(created.id)
    c1 = client.request_queue(created.id, client_key='client-one')
    c2 = client.request_queue(created.id, client_key='client-two')
    got = rq.get()
    assert got is not None and got.name == 'compat-rq' and counts(rq) == (0, 0, 0), f'rq get {got}'
    assert client.request_queue('NoSuchQueue000000').get() is None, 'get() of a missing queue must be None'

    # add_request: IDs as on the platform, dedup by unique key, forefront.
    added = c1.add_request(req(1))
    assert last_status() == 201, f'add_request status {last_status()}'
    assert added.request_id == '8vl4QULk0R4ytVB', f'request ID of https://example.com/1: {added.request_id}'
    assert (added.was_already_present, added.was_already_handled) == (False, False), f'first add {added}'
    again = c1.add_request(req(1, user_data={'changed': True}))
    assert again.request_id == added.request_id and again.was_already_present is True, f'dedup {again}'
    two = c1.add_request(req(2))
    post = c1.add_request(
        req('post', method='POST', payload='{"q": 1}', headers={'x-h': 'v'}, user_data={'label': 'L', 'n': 1})
    )
    front = c1.add_request(req('front'), forefront=True)
    assert counts(rq) == (4, 0, 4), f'counts after 4 adds {counts(rq)}'

    stored = rq.get_request(post.request_id)
    assert stored.id == post.request_id and stored.url == 'https://example.com/post', f'get_request {stored}'
    assert stored.method == 'POST' and stored.payload == '{"q": 1}', f'method/payload {stored}'
    assert stored.headers == {'x-h': 'v'}, f'headers {stored.headers}'
    assert stored.user_data.model_dump() == {'label': 'L', 'n': 1}, f'user_data {stored.user_data}'
    assert stored.handled_at is None, 'a new request is not handled'
    assert rq.get_request(added.request_id).user_data.model_dump() == {}, 're-adding never updates the data'
    assert rq.get_request('NoSuchRequest00') is None, 'get_request of a missing ID must be None'

    head = c1.list_head(limit=10)
    expected_head = [front.request_id, added.request_id, two.request_id, post.request_id]
    assert ids(head.items) == expected_head, f'list_head: forefront first, then in order: {head}'
    assert head.limit == 10 and head.items[3].method == 'POST', f'head {head}'
    assert [i.id for i in c1.list_head(limit=2).items] == [front.request_id, added.request_id], 'list_head(limit)'

    # batch_add_requests: more than 25 are split into batches of 25; duplicates are reported.
    batch = [req(f'b{i}') for i in range(60)]
    result, calls = calls_during(lambda: c1.batch_add_requests(batch))
    posts = [c for c in calls if c.method == 'POST' and '/requests/batch' in c.url]
    assert len(posts) == 3, f'60 requests must go out in 3 batches, got {len(posts)}'
    assert all(c.status == 201 for c in posts), f'batch add statuses {[c.status for c in posts]}'
    assert all('forefront=false' in c.url and 'clientKey=client-one' in c.url for c in posts), posts[0].url
    assert [len(sent_json(c)) for c in posts] == [25, 25, 10], 'batch sizes'
    assert len(result.processed_requests) == 60 and result.unprocessed_requests == [], f'batch add {result}'
    assert not any(p.was_already_present for p in result.processed_requests), 'all 60 are new'
    assert [p.unique_key for p in result.processed_requests] == [r['unique_key'] for r in batch], 'order kept'
    mixed = [req('b0'), req('b1'), req('new-1'), req('new-1'), req(1)]
    result = c1.batch_add_requests(mixed, forefront=True)
    present = [p.was_already_present for p in result.processed_requests]
    assert present == [True, True, False, True, True], f'batch dedup {present}'
    assert counts(rq) == (65, 0, 65), f'counts after batches {counts(rq)}'

    # list_requests: cursor paging over several pages; iterate_requests.
    seen, cursor, pages = [], None, 0
    while True:
        page = c1.list_requests(limit=25, cursor=cursor)
        pages += 1
        seen += ids(page.items)
        assert page.limit == 25, f'list_requests limit {page.limit}'
        if page.next_cursor is None:
            break
        assert len(page.items) == 25, 'nextCursor only on a full page'
        cursor = page.next_cursor
        assert pages < 10, 'cursor paging does not end'
    assert len(seen) == 65 and len(set(seen)) == 65, f'cursor paging saw {len(seen)} ({len(set(seen))} distinct)'
    assert pages >= 3, f'65 requests in pages of 25 take at least 3 pages, got {pages}'
    full = c1.list_requests()
    assert len(full.items) == 65 and full.next_cursor is None, 'a page that is not full has no nextCursor'
    assert ids(c1.iterate_requests(chunk_size=20)) == ids(full.items), 'iterate_requests(chunk_size=20)'
    assert ids(c1.iterate_requests(limit=30, chunk_size=7)) == ids(full.items)[:30], 'iterate_requests(limit)'
    assert all(r.unique_key and r.url and r.id for r in full.items), 'listed requests carry id/uniqueKey/url'

    # list_and_lock_head: two clients get disjoint requests, with visible lock expiry.
    before = datetime.now(UTC)
    locked1 = c1.list_and_lock_head(lock_duration=timedelta(seconds=60), limit=5)
    assert last_status() == 201, f'head/lock must answer 201, got {last_status()}'
    assert len(locked1.items) == 5 and locked1.lock_secs == 60, f'lock 5 {locked1}'
    assert locked1.client_key == 'client-one' and locked1.queue_has_locked_requests is True, f'lock info {locked1}'
    for item in locked1.items:
        delta = (item.lock_expires_at - before).total_seconds()
        assert 55 <= delta <= 70, f'lockExpiresAt must be ~60 s ahead, is {delta:.1f} s'
    locked2 = c2.list_and_lock_head(lock_duration=timedelta(seconds=60), limit=5)
    assert len(locked2.items) == 5, f'client two locks 5 {locked2}'
    assert not set(ids(locked1.items)) & set(ids(locked2.items)), 'two clients must get different requests'
    assert locked2.had_multiple_clients is True, 'two client keys make hadMultipleClients true'
    assert rq.get().had_multiple_clients is True, 'hadMultipleClients on the queue object'
    assert not set(ids(c1.list_head(limit=100).items)) & set(ids(locked1.items + locked2.items)), 'locked not in head'
    expect_api_error(lambda: c1.list_and_lock_head(lock_duration=timedelta(seconds=60), limit=26), 400)

    all_locked = set(ids(locked1.items + locked2.items))
    assert set(ids(c1.list_requests(filter=['locked']).items)) == all_locked, 'filter=locked'
    pending = c1.list_requests(filter=['pending'])
    assert len(pending.items) == 65, f'filter=pending lists every unhandled request: {len(pending.items)}'
    assert len(c1.list_requests(filter=['locked', 'pending']).items) == 65, 'filter=locked,pending'
    assert len(c1.list_requests(filter=['locked'], limit=4).items) == 4, 'filter=locked with a limit'
    assert ids(c1.iterate_requests(filter=['locked'], chunk_size=3)) == ids(c1.list_requests(filter=['locked']).items)

    # prolong_request_lock: only the owner may prolong.
    mine = locked1.items[0]
    info = c1.prolong_request_lock(mine.id, lock_duration=timedelta(seconds=120))
    assert info is not None and info.lock_expires_at > mine.lock_expires_at, f'prolonged lock {info}'
    assert 110 <= (info.lock_expires_at - datetime.now(UTC)).total_seconds() <= 125, f'prolonged to {info}'
    expect_api_error(lambda: c2.prolong_request_lock(mine.id, lock_duration=timedelta(seconds=10)), '4xx')
    expect_api_error(lambda: c2.delete_request_lock(mine.id), '4xx')

    # delete_request_lock with forefront puts the request at the head.
    unlock_me = locked1.items[1]
    c1.delete_request_lock(unlock_me.id, forefront=True)
    assert last_status() == 204, f'delete_request_lock status {last_status()}'
    assert c1.list_head(limit=1).items[0].id == unlock_me.id, 'an unlocked forefront request leads the head'

    # update_request: mark handled via handled_at (also releases the lock).
    to_handle = rq.get_request(mine.id)
    to_handle_dict = to_handle.model_dump(by_alias=True, exclude_none=True)
    to_handle_dict['handledAt'] = datetime.now(UTC).isoformat()
    to_handle_dict['userData'] = {'done': True}
    upd = c1.update_request(to_handle_dict)
    assert upd.request_id == mine.id and upd.was_already_present is True, f'update_request {upd}'
    assert upd.was_already_handled is False, 'it was not handled before'
    handled = rq.get_request(mine.id)
    assert handled.handled_at is not None and handled.user_data.model_dump() == {'done': True}, f'handled {handled}'
    assert counts(rq) == (65, 1, 64), f'counts after marking one handled {counts(rq)}'
    assert mine.id not in ids(c1.list_requests(filter=['locked']).items), 'handling releases the lock'
    assert mine.id not in ids(c1.list_requests(filter=['pending']).items), 'a handled request is not pending'
    re_add = c1.add_request(req(mine.unique_key.rsplit('/', 1)[1]))
    assert re_add.was_already_handled is True and re_add.was_already_present is True, f're-add handled {re_add}'

    # update_request with forefront moves an unlocked request to the front.
    tail = full.items[-1]
    changed = rq.get_request(tail.id).model_dump(by_alias=True, exclude_none=True)
    changed.update(retryCount=2, errorMessages=['boom'], noRetry=True, loadedUrl='https://example.com/loaded')
    upd = c1.update_request(changed, forefront=True)
    assert upd.was_already_present is True and c1.list_head(limit=1).items[0].id == tail.id, 'update forefront'
    back = rq.get_request(tail.id)
    assert (back.retry_count, back.error_messages, back.no_retry) == (2, ['boom'], True), f'update data {back}'
    assert back.loaded_url == 'https://example.com/loaded' and back.handled_at is None, f'update data {back}'
    assert c1.list_head(limit=1).items[0].retry_count == 2, 'the head shows the new retryCount'
    expect_api_error(lambda: c1.update_request({'id': 'NoSuchRequest00', **req('zzz')}), 404, cls=NotFoundError)

    # unlock_requests releases only the caller's locks.
    unlocked = c2.unlock_requests()
    assert unlocked.unlocked_count == 5, f'client two held 5 locks: {unlocked}'
    unlocked = c1.unlock_requests()
    assert unlocked.unlocked_count == 3, f'client one still held 3 locks: {unlocked}'
    assert c1.list_requests(filter=['locked']).items == [], 'nothing is locked after unlock_requests'

    # Short locks expire and the requests are handed out again; a lock prolonged with forefront=True
    # puts its request at the head when it expires.
    first, second = c1.list_and_lock_head(lock_duration=timedelta(seconds=1), limit=2).items
    assert set(ids(c1.list_requests(filter=['locked']).items)) == {first.id, second.id}, 'two short locks'
    c1.prolong_request_lock(second.id, lock_duration=timedelta(seconds=1), forefront=True)
    time.sleep(1.6)
    assert c1.list_requests(filter=['locked']).items == [], 'expired locks are not listed as locked'
    relocked = c2.list_and_lock_head(lock_duration=timedelta(seconds=60), limit=2)
    assert ids(relocked.items) == [second.id, first.id], f'expired locks return to the head: {relocked}'
    assert c2.unlock_requests().unlocked_count == 2, 'client two unlocks its 2 locks'

    # delete_request / batch_delete_requests.
    victim = full.items[5]
    c1.delete_request(victim.id)
    assert last_status() == 204, f'delete_request status {last_status()}'
    assert rq.get_request(victim.id) is None and counts(rq) == (64, 1, 63), f'after delete {counts(rq)}'
    expect_api_error(lambda: c1.delete_request(victim.id), 404, cls=NotFoundError)
    by_id, by_key = full.items[6], full.items[7]
    deleted = c1.batch_delete_requests([{'id': by_id.id}, {'unique_key': by_key.unique_key}])
    assert last_status() == 200, f'batch delete must answer 200, got {last_status()}'
    assert len(deleted.processed_requests) == 2 and deleted.unprocessed_requests == [], f'batch delete {deleted}'
    assert rq.get_request(by_id.id) is None and rq.get_request(by_key.id) is None, 'batch-deleted requests are gone'
    assert counts(rq) == (62, 1, 61), f'counts after batch delete {counts(rq)}'

    def batch_delete_missing():
        result = c1.batch_delete_requests([{'unique_key': 'https://example.com/never-added'}])
        assert len(result.processed_requests) + len(result.unprocessed_requests) == 1, f'{result}'

    batch_delete_missing()

    # update (rename) and delete on a throwaway queue.
    tmp = client.request_queue(client.request_queues().get_or_create(name='compat-rq-tmp').id)
    tmp.add_request(req('tmp'))
    renamed = tmp.update(name='compat-rq-renamed')
    assert renamed.name == 'compat-rq-renamed' and renamed.total_request_count == 1, f'rq rename {renamed}'
    tmp.delete()
    assert tmp.get() is None, 'a deleted queue is gone'
    tmp.delete()
    return created, c1


# --- Authentication ------------------------------------------------------------------------------


def check_auth():
    section('authentication')
    wrong = ApifyClient('wrong-token', api_url=URL, max_retries=0)
    for col in (wrong.datasets(), wrong.key_value_stores(), wrong.request_queues()):
        expect_api_error(col.list, 401, 'invalid-token', UnauthorizedError)
    anonymous = ApifyClient(api_url=URL, max_retries=0)
    expect_api_error(anonymous.datasets().list, 401, 'token-not-provided', UnauthorizedError)
    expect_api_error(lambda: wrong.dataset('whatever').get(), 401, cls=UnauthorizedError)


def main():
    started = time.monotonic()
    collections = {
        'datasets': check_collection('datasets', client.datasets()),
        'key-value-stores': check_collection('key-value-stores', client.key_value_stores()),
        'request-queues': check_collection('request-queues', client.request_queues()),
    }
    dataset = check_dataset()
    kvs = check_key_value_store()
    rq, c1 = check_request_queue()
    check_auth()

    # What the Rust side verifies on disk.
    requests = list(c1.iterate_requests())
    result = {
        'dataset': {'id': dataset.id, 'name': 'compat-items', 'items': ITEMS},
        'large_dataset': {'name': 'compat-large', 'item_count': 2000},
        'kvs': {
            'id': kvs.id,
            'name': 'compat-kvs',
            # Value files are named quote(key, safe='') (local-storage-format.md §5.1).
            'records': {
                key: {'file': urllib.parse.quote(key, safe=''), **expect}
                for key, expect in {
                    'dict': {'content_type_prefix': 'application/json', 'json': {'a': 1, 'b': [1, 2], 'c': 'ž'}},
                    'bytes': {'content_type_prefix': 'application/octet-stream', 'hex': BYTES.hex()},
                    'html': {'content_type_prefix': 'text/html', 'text': '<p>hi</p>'},
                    'big-json': {'content_type_prefix': 'application/json', 'json': BIG_JSON},
                    'pre-gzipped': {'content_type_prefix': 'text/plain', 'text': PRE_GZIPPED_TEXT},
                    ODD_KEY: {'content_type_prefix': 'text/plain', 'text': 'odd'},
                }.items()
            },
            'deleted': ['text'],
        },
        'rq': {
            'id': rq.id,
            'name': 'compat-rq',
            'counts': dict(zip(('total', 'handled', 'pending'), counts(client.request_queue(rq.id)))),
            'requests': [
                {
                    'file': hashlib.sha256(r.unique_key.encode()).hexdigest()[:15] + '.json',
                    'unique_key': r.unique_key,
                    'handled': r.handled_at is not None,
                }
                for r in requests
            ],
        },
        'collections': {kind: [s.id for s in storages] for kind, storages in collections.items()},
        'known_bugs': known_bugs_seen,
    }
    print(f'all checks passed in {time.monotonic() - started:.1f} s; known bugs skipped: {known_bugs_seen}')
    print('RESULT ' + json.dumps(result, ensure_ascii=False))


if __name__ == '__main__':
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
