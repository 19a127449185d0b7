# Request-queue order cases beyond local-storage-format.md §11, written by the Python SDK for
# tests/tests/python_sdk_files.rs: forefront requests still pending, a forefront re-add, reclaims
# to the front and to the back, a request left in progress, a named queue (whose state record
# lives in the default KVS), plus items Python writes with big integers and NaN/Infinity.
import asyncio

from apify import Actor


async def main():
    async with Actor:
        q = await Actor.open_request_queue(name='order-q')
        await q.add_requests([f'https://example.com/r{i}' for i in range(6)])
        await q.add_request('https://example.com/f0', forefront=True)
        await q.add_request('https://example.com/f1', forefront=True)
        # A forefront re-add of a queued request moves it to the front.
        await q.add_request('https://example.com/r3', forefront=True)
        r = await q.fetch_next_request()
        assert r.url.endswith('/r3'), r.url
        await q.mark_request_as_handled(r)
        r = await q.fetch_next_request()
        assert r.url.endswith('/f1'), r.url
        await q.reclaim_request(r, forefront=True)
        r = await q.fetch_next_request()
        assert r.url.endswith('/f1'), r.url
        r.retry_count += 1
        await q.reclaim_request(r)  # to the end of the regular queue
        r = await q.fetch_next_request()
        assert r.url.endswith('/f0'), r.url  # left in progress
        r = await q.fetch_next_request()
        assert r.url.endswith('/r0'), r.url
        await q.mark_request_as_handled(r)

        d = await Actor.open_request_queue()
        await d.add_requests([f'https://example.com/n{i}' for i in range(25)])
        for i in range(3):
            r = await d.fetch_next_request()
            assert r.url.endswith(f'/n{i}'), r.url
            await d.mark_request_as_handled(r)
        r = await d.fetch_next_request()
        await d.reclaim_request(r)  # n3 to the end
        await d.add_request('https://example.com/urgent', forefront=True)

        ds = await Actor.open_dataset(name='numbers')
        await ds.push_data({'big': 2**70, 'neg': -2**65, 'nan': float('nan'), 'inf': float('inf'),
                            'ninf': float('-inf'), 'f': 0.1 + 0.2, 'tiny': 1e-05})


asyncio.run(main())
