"""The official Python client (`apify-client` 3.4.0) runs local Actors on the emulator.

Usage: local_runs.py <emulator URL> <token>

`scripted` is tests/actors/scripted.py (standard library only); `sdk` is an Actor written
with the Python SDK 4.1 (`async with Actor`), tests/actors/sdk_actor.py. The client's typed
models validate every run, Actor and build object the emulator answers.
The last line of stdout is `RESULT <json>` for the Rust side.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from apify_client import ApifyClient

URL, TOKEN = sys.argv[1].rstrip('/'), sys.argv[2]
client = ApifyClient(TOKEN, api_url=URL, api_public_url=URL, max_retries=0)


def status(job):
    return getattr(job.status, 'value', job.status)


# A loopback receiver of webhook calls.
received = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = HTTPServer(('127.0.0.1', 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
HOOK = f'http://127.0.0.1:{receiver.server_port}'


def wait_for_calls(n):
    deadline = time.time() + 20
    while len(received) < n and time.time() < deadline:
        time.sleep(0.02)
    assert len(received) >= n, f'webhook calls {received}'


actor = client.actor('scripted')
info = actor.get()
assert info is not None and info.name == 'scripted', f'actor get: {info}'

run = actor.call(run_input={'items': 2, 'output': {'ok': True}, 'print': ['from python ✓']})
assert run is not None and status(run) == 'SUCCEEDED', f'call: {run}'
assert run.exit_code == 0, f'exit code {run.exit_code}'
items = client.dataset(run.default_dataset_id).list_items().items
assert items == [{'i': 0}, {'i': 1}], f'items {items}'
output = client.key_value_store(run.default_key_value_store_id).get_record('OUTPUT')
assert output is not None and output['value'] == {'ok': True}, f'OUTPUT {output}'
log = client.run(run.id).log().get()
assert log is not None and 'from python ✓' in log and 'pushed 2 items' in log, f'log {log!r}'

last = actor.last_run(status='SUCCEEDED').get()
assert last is not None and last.id == run.id, f'last run {last}'
last_items = actor.last_run(status='SUCCEEDED').dataset().list_items().items
assert last_items == items, f'last run items {last_items}'

failed = actor.call(run_input={'exit': 4})
assert status(failed) == 'FAILED' and failed.exit_code == 4, f'failed run {failed}'
assert actor.last_run(status='SUCCEEDED').get().id == run.id, 'a failed run is not the last SUCCEEDED one'

runs = actor.runs().list().items
assert [r.id for r in runs] == [run.id, failed.id], f'runs {runs}'

# A task: its input merged with the run's, its options the run's defaults.
task = client.tasks().create(actor_id='scripted', name='py-task', task_input={'items': 1, 'output': 'task'},
                             memory_mbytes=256)
task_run = client.task(task.id).call(task_input={'items': 4})
assert status(task_run) == 'SUCCEEDED' and task_run.actor_task_id == task.id, f'task run {task_run}'
assert task_run.options.memory_mbytes == 256, f'task run options {task_run.options}'
task_input = client.key_value_store(task_run.default_key_value_store_id).get_record('INPUT')['value']
assert task_input == {'items': 4, 'output': 'task'}, f'merged task input {task_input}'
assert client.task(task.id).last_run(status='SUCCEEDED').get().id == task_run.id, 'the task\'s last run'
assert client.task(task.id).get_input() == {'items': 1, 'output': 'task'}, 'the task\'s input is unchanged'
assert [t.id for t in client.tasks().list().items] == [task.id], 'tasks list'

# An Actor created through the API from source files; the version's env vars reach it.
made = client.actors().create(name='py-made', versions=[{
    'versionNumber': '0.1', 'sourceType': 'SOURCE_FILES', 'buildTag': 'latest',
    'envVars': [{'name': 'WHO', 'value': 'python'}],
    'sourceFiles': [{'name': 'main.py', 'format': 'TEXT', 'content': 'import os\nprint("made by", os.environ["WHO"])\n'}],
}])
made_run = client.actor(made.id).call()
assert status(made_run) == 'SUCCEEDED', f'the created Actor\'s run {made_run}'
assert 'made by python' in client.run(made_run.id).log().get(), 'the created Actor\'s log'
client.actor(made.id).delete()
assert client.actor('py-made').get() is None, 'the created Actor is deleted'

# Webhooks: one of the Actor, created with the client; an ad-hoc one of a start; the SDK's
# Actor.add_webhook inside a run.
hook = client.webhooks().create(event_types=['ACTOR.RUN.SUCCEEDED'], request_url=HOOK + '/persistent',
                                actor_id='scripted')
hooked = actor.call(run_input={'items': 1},
                    webhooks=[{'event_types': ['ACTOR.RUN.SUCCEEDED'], 'request_url': HOOK + '/ad-hoc'}])
wait_for_calls(2)
paths = sorted(p for p, _ in received)
assert paths == ['/ad-hoc', '/persistent'], f'webhook calls {received}'
for _, payload in received:
    assert payload['eventType'] == 'ACTOR.RUN.SUCCEEDED' and payload['resource']['id'] == hooked.id, payload
dispatches = client.webhook(hook.id).dispatches().list().items
assert len(dispatches) == 1 and dispatches[0].event_data.actor_run_id == hooked.id, f'dispatches {dispatches}'
client.webhook(hook.id).delete()
received.clear()

sdk = client.actor('sdk').call(run_input={'n': 3, 'webhook': HOOK + '/sdk'})
wait_for_calls(1)
time.sleep(0.2)
assert [p for p, _ in received] == ['/sdk'], f'the SDK\'s webhook: {received}'
assert received[0][1]['resource']['id'] == sdk.id, received
sdk_log = client.run(sdk.id).log().get()
assert status(sdk) == 'SUCCEEDED', f'SDK Actor run {sdk}\n{sdk_log}'
sdk_items = client.dataset(sdk.default_dataset_id).list_items().items
assert sdk_items == [{'n': 0}, {'n': 1}, {'n': 2}], f'SDK items {sdk_items}'
sdk_output = client.key_value_store(sdk.default_key_value_store_id).get_record('OUTPUT')
assert sdk_output['value'] == {'input': {'n': 3, 'webhook': HOOK + '/sdk'}, 'at_home': True}, f'SDK OUTPUT {sdk_output}'
assert 'sdk actor done' in sdk_log, f'SDK log {sdk_log!r}'

print('RESULT ' + json.dumps({'run': run.id, 'failed': failed.id, 'task_run': task_run.id, 'sdk': sdk.id, 'dataset': run.default_dataset_id}))
