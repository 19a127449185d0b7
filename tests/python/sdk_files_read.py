# Reads storages with the Apify SDK for Python and checks them against expectations, for
# tests/tests/python_sdk_files.rs. Run with APIFY_PURGE_ON_START=0.
#
# argv[1]: a JSON file {"datasets": [...], "kvs": [...], "rqs": [...]}; each entry has "open"
# (keyword arguments of Actor.open_*) and optionally "expect". Values are compared by their
# exact JSON text (key order, int versus float, -0.0). Prints one line `DUMP <json>` with what
# was read; fails (non-zero exit status) with the differences on stderr if an expectation fails.
import asyncio
import base64
import json
import sys

from apify import Actor

failures = []


def exact(v):
    return json.dumps(v, ensure_ascii=False)


def check(what, got, want):
    if exact(got) != exact(want):
        failures.append(f'{what}:\n  got  {exact(got)}\n  want {exact(want)}')


def tag(v):
    """A value as get_value returned it, with its Python type."""
    if v is None:
        return {'type': 'none'}
    if isinstance(v, bytes):
        return {'type': 'bytes', 'base64': base64.b64encode(v).decode()}
    return {'type': type(v).__name__, 'value': v}


def request_dump(r):
    return None if r is None else r.model_dump(mode='json')


async def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        spec = json.load(f)
    out = {'datasets': [], 'kvs': [], 'rqs': []}
    async with Actor:
        for d in spec.get('datasets', []):
            ds = await Actor.open_dataset(**d['open'])
            meta = await ds.get_metadata()
            items = [dict(i) async for i in ds.iterate_items()]
            page = await ds.get_data()
            out['datasets'].append({'id': meta.id, 'name': meta.name, 'item_count': meta.item_count,
                                    'total': page.total, 'items': items})
            want = d.get('expect')
            if want is not None:
                label = f'dataset {d["open"]}'
                check(f'{label} iterate_items', items, want['items'])
                check(f'{label} get_data', [dict(i) for i in page.items], want['items'])
                check(f'{label} item_count', meta.item_count, len(want['items']))
                check(f'{label} total', page.total, len(want['items']))
                if 'name' in want:
                    check(f'{label} name', meta.name, want['name'])

        for k in spec.get('kvs', []):
            kvs = await Actor.open_key_value_store(**k['open'])
            keys = [m.model_dump(mode='json') for m in await kvs.list_keys(limit=100000)]
            values = {m['key']: tag(await kvs.get_value(m['key'])) for m in keys}
            exists = {m['key']: await kvs.record_exists(m['key']) for m in keys}
            got = {'keys': keys, 'values': values, 'exists': exists}
            if not k['open']:
                got['input'] = tag(await Actor.get_input())
            out['kvs'].append(got)
            want = k.get('expect')
            if want is not None:
                label = f'kvs {k["open"]}'
                listed = {m['key']: m for m in keys}
                order = [m['key'] for m in keys if m['key'] in want['records']]
                check(f'{label} key order', order, list(want['records']))
                for key, rec in want['records'].items():
                    m = listed.get(key)
                    if m is None:
                        failures.append(f'{label}: record {key!r} is not listed')
                        continue
                    check(f'{label} {key!r} content_type', m['content_type'], rec['content_type'])
                    check(f'{label} {key!r} value', values[key], rec['value'])
                    check(f'{label} {key!r} exists', exists[key], True)
                if 'input' in want:
                    check(f'{label} get_input', got['input'], want['input'])

        for r in spec.get('rqs', []):
            rq = await Actor.open_request_queue(**r['open'])
            meta = await rq.get_metadata()
            counts = [meta.handled_request_count, meta.pending_request_count, meta.total_request_count]
            requests = {uk: request_dump(await rq.get_request(uk)) for uk in r.get('get', [])}
            order = []
            while (req := await rq.fetch_next_request()) is not None:
                order.append(request_dump(req))
            out['rqs'].append({'id': meta.id, 'name': meta.name, 'counts': counts, 'order': order,
                               'requests': requests, 'is_empty': await rq.is_empty()})
            want = r.get('expect')
            if want is not None:
                label = f'rq {r["open"]}'
                check(f'{label} fetch order', [o['unique_key'] for o in order], want['order'])
                check(f'{label} counts', counts, want['counts'])
                for uk, fields in want.get('requests', {}).items():
                    got_req = requests.get(uk)
                    if got_req is None:
                        failures.append(f'{label}: get_request({uk!r}) is None')
                        continue
                    for field, value in fields.items():
                        if field == 'handled':
                            check(f'{label} {uk!r} handled', got_req['handled_at'] is not None, value)
                        else:
                            check(f'{label} {uk!r} {field}', got_req[field], value)

        # Inside the Actor context: leaving it ends the process (Actor.exit calls sys.exit).
        print('DUMP ' + json.dumps(out, ensure_ascii=True), flush=True)
        if failures:
            print('\n'.join(failures), file=sys.stderr, flush=True)
            raise AssertionError(f'{len(failures)} expectation(s) failed, see above')


asyncio.run(main())
