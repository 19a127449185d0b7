# The verified example run of local-storage-format.md §11, verbatim (used by
# tests/tests/python_sdk_files.rs: the Python SDK writes a storage folder that Rust then reads).
import asyncio, json
from apify import Actor, Request

async def main():
    async with Actor:
        inp = await Actor.get_input()
        print('INPUT =', inp)
        # Dataset
        await Actor.push_data({'url': 'https://a.example', 'title': 'Ä unicode ✓', 'n': 1})
        await Actor.push_data([{'url': 'https://b.example', 'n': 2, 'nested': {'x': [1, 2]}},
                               {'n': 3, 'extra': None}])
        ds = await Actor.open_dataset()
        page = await ds.get_data(offset=1, limit=5)
        print('get_data', page.model_dump())
        print('desc', [i['n'] for i in (await ds.get_data(desc=True)).items])
        named = await Actor.open_dataset(name='my-named-ds')
        await named.push_data({'named': True})
        aliased = await Actor.open_dataset(alias='my-alias')
        await aliased.push_data({'aliased': True})
        # KVS
        kvs = await Actor.open_key_value_store()
        await Actor.set_value('STR', 'hello text')
        await Actor.set_value('DICT', {'a': 1, 'b': [1, 2], 'u': 'ü'})
        await Actor.set_value('LIST', [1, 2, 3])
        await Actor.set_value('BYTES', b'\x00\x01\x02binary')
        await Actor.set_value('CSV', 'a,b\n1,2\n', content_type='text/csv')
        await Actor.set_value('INT', 42)
        await Actor.set_value('BOOL', True)
        await Actor.set_value('PNG.png', b'\x89PNG fake', content_type='image/png')
        await Actor.set_value('weird key/with spaces?&#', 'v')
        await Actor.set_value('TO_DELETE', 'x')
        await Actor.set_value('TO_DELETE', None)
        print('TO_DELETE get ->', await Actor.get_value('TO_DELETE', default_value='DEFAULT'), await kvs.record_exists('TO_DELETE'))
        await kvs.delete_value('STR2_NOT_EXIST')
        print('BYTES ->', await Actor.get_value('BYTES'))
        print('INT ->', repr(await Actor.get_value('INT')), 'BOOL ->', repr(await Actor.get_value('BOOL')))
        print('public url:', await kvs.get_public_url('DICT'))
        print('public url weird:', await kvs.get_public_url('weird key/with spaces?&#'))
        print('keys:', [k.model_dump() for k in await kvs.list_keys()])
        print('keys after DICT:', [k.key for k in await kvs.list_keys(exclusive_start_key='DICT', limit=3)])
        await ds.export_to('EXPORT_CSV', content_type='csv')
        await ds.export_to('EXPORT_JSON', content_type='json')
        # RQ
        rq = await Actor.open_request_queue()
        r1 = await rq.add_request('https://Example.COM/path/?b=2&a=1&utm_source=x#frag')
        print('add r1', r1)
        print('add dup', await rq.add_request('https://example.com/path?a=1&b=2'))
        await rq.add_request(Request.from_url('https://example.com/post', method='POST', payload='{"q":1}',
                                              headers={'content-type': 'application/json'},
                                              use_extended_unique_key=True, label='DETAIL',
                                              user_data={'foo': 'bar'}))
        await rq.add_requests(['https://example.com/1', 'https://example.com/2', 'https://example.com/3'])
        await rq.add_request('https://example.com/front', forefront=True)
        await rq.add_request('https://example.com/front2', forefront=True)
        order = []
        req = await rq.fetch_next_request(); order.append(req.url)
        await rq.mark_request_as_handled(req)
        req = await rq.fetch_next_request(); order.append(req.url)
        req.retry_count += 1
        await rq.reclaim_request(req)
        req = await rq.fetch_next_request(); order.append(req.url)
        print('in progress, not handled:', req.url)  # leave in progress
        print('order', order)
        print('is_empty', await rq.is_empty(), 'is_finished', await rq.is_finished())
        print('rq meta', (await rq.get_metadata()).model_dump())
        await Actor.use_state({'counter': 1})

asyncio.run(main())
