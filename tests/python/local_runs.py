"""The official Python client (`apify-client` 3.4.0) runs local Actors on the emulator.

Usage: local_runs.py <emulator URL> <token>

`scripted` is tests/actors/scripted.py (standard library only); `sdk` is an Actor written
with the Python SDK 4.1 (`async with Actor`), tests/actors/sdk_actor.py. The client's typed
models validate every run, Actor and build object the emulator answers.
The last line of stdout is `RESULT <json>` for the Rust side.
"""

import json
import sys

from apify_client import ApifyClient

URL, TOKEN = sys.argv[1].rstrip('/'), sys.argv[2]
client = ApifyClient(TOKEN, api_url=URL, api_public_url=URL, max_retries=0)


def status(job):
    return getattr(job.status, 'value', job.status)


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

sdk = client.actor('sdk').call(run_input={'n': 3})
sdk_log = client.run(sdk.id).log().get()
assert status(sdk) == 'SUCCEEDED', f'SDK Actor run {sdk}\n{sdk_log}'
sdk_items = client.dataset(sdk.default_dataset_id).list_items().items
assert sdk_items == [{'n': 0}, {'n': 1}, {'n': 2}], f'SDK items {sdk_items}'
sdk_output = client.key_value_store(sdk.default_key_value_store_id).get_record('OUTPUT')
assert sdk_output['value'] == {'input': {'n': 3}, 'at_home': True}, f'SDK OUTPUT {sdk_output}'
assert 'sdk actor done' in sdk_log, f'SDK log {sdk_log!r}'

print('RESULT ' + json.dumps({'run': run.id, 'failed': failed.id, 'task_run': task_run.id, 'sdk': sdk.id, 'dataset': run.default_dataset_id}))
