# Writes a data set with the Apify SDK for Python, for tests/tests/python_sdk_files.rs, which
# compares the files byte for byte with the ones the Rust engine writes for the same data.
#
# argv[1]: a JSON file {"datasets": [{"open", "items"}], "kvs": [{"open", "records": [{"key",
# "kind": "json" | "str" | "bytes", "value" | "base64", "content_type"?}]}], "rqs": [{"open",
# "add": [[requests, forefront], ...], "handle": n, "retry": n}]}. Requests are objects with
# "url", "unique_key" and optionally "method", "payload", "headers", "label", "user_data".
# "handle": fetch that many requests and mark them handled; "retry": then fetch that many,
# increment retry_count and reclaim them.
import asyncio
import base64
import json
import sys

from apify import Actor, Request


def request(r):
    return Request.from_url(r['url'], unique_key=r['unique_key'], method=r.get('method', 'GET'),
                            payload=r.get('payload'), headers=r.get('headers'), label=r.get('label'),
                            user_data=r.get('user_data', {}))


async def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        spec = json.load(f)
    async with Actor:
        for d in spec.get('datasets', []):
            ds = await Actor.open_dataset(**d['open'])
            await ds.push_data(d['items'])
        for k in spec.get('kvs', []):
            kvs = await Actor.open_key_value_store(**k['open'])
            for rec in k['records']:
                if rec['kind'] == 'bytes':
                    value = base64.b64decode(rec['base64'])
                else:
                    value = rec['value']
                await kvs.set_value(rec['key'], value, content_type=rec.get('content_type'))
        for r in spec.get('rqs', []):
            rq = await Actor.open_request_queue(**r['open'])
            for requests, forefront in r.get('add', []):
                if len(requests) == 1:
                    await rq.add_request(request(requests[0]), forefront=forefront)
                else:
                    await rq.add_requests([request(x) for x in requests], forefront=forefront,
                                          wait_for_all_requests_to_be_added=True)
            for _ in range(r.get('handle', 0)):
                req = await rq.fetch_next_request()
                await rq.mark_request_as_handled(req)
            for _ in range(r.get('retry', 0)):
                req = await rq.fetch_next_request()
                req.retry_count += 1
                await rq.reclaim_request(req)


asyncio.run(main())
