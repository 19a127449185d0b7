"""A local Actor written with the Apify SDK for Python 4.1: run at home on the emulator,
it reads its input and writes its default dataset and OUTPUT through the API, and adds
an ad-hoc webhook on its run when its input names a `webhook` URL."""

import asyncio

from apify import Actor, Webhook


async def main():
    async with Actor:
        actor_input = await Actor.get_input() or {}
        if 'webhook' in actor_input:
            # Twice with one idempotency key: one webhook.
            for _ in range(2):
                await Actor.add_webhook(Webhook(event_types=['ACTOR.RUN.SUCCEEDED'],
                                                request_url=actor_input['webhook'], idempotency_key='sdk-hook'))
        await Actor.push_data([{'n': i} for i in range(actor_input.get('n', 1))])
        await Actor.set_value('OUTPUT', {'input': actor_input, 'at_home': Actor.is_at_home()})
        Actor.log.info('sdk actor done')


asyncio.run(main())
