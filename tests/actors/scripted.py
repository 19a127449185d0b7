"""A local Actor for the tests of the emulator's runs: what it does comes from its input.

Only the standard library: it talks to the API the platform gives it in its environment
(APIFY_API_BASE_URL, APIFY_TOKEN, ACTOR_DEFAULT_*_ID), as any Actor at home does.

Input fields (all optional): "print" (lines), "interval" (seconds between them), "items"
(how many to push), "output" (stored as OUTPUT), "status" (status message), "sleep"
(seconds), "exit" (exit code), "succeed_on_attempt" (exit 7 until the run's ATTEMPTS
record, counted in its default key-value store, reaches this number: a resurrected run
continues where it was).
"""

import json
import os
import sys
import time
import urllib.request

BASE = os.environ["APIFY_API_BASE_URL"].rstrip("/")
TOKEN = os.environ["APIFY_TOKEN"]


def api(method, path, body=None, content_type="application/json"):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    if data is not None:
        req.add_header("Content-Type", content_type)
    with urllib.request.urlopen(req) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def main():
    assert os.environ.get("APIFY_IS_AT_HOME") == "1", "not at home"
    store = os.environ["ACTOR_DEFAULT_KEY_VALUE_STORE_ID"]
    dataset = os.environ["ACTOR_DEFAULT_DATASET_ID"]
    run_id = os.environ["ACTOR_RUN_ID"]
    try:
        inp = api("GET", f"/v2/key-value-stores/{store}/records/{os.environ['ACTOR_INPUT_KEY']}")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
        inp = {}
    print(f"run {run_id} of {os.environ['ACTOR_ID']} started", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    for line in inp.get("print", []):
        print(line, flush=True)
        time.sleep(inp.get("interval", 0))
    n = inp.get("items", 0)
    if n:
        api("POST", f"/v2/datasets/{dataset}/items", [{"i": i} for i in range(n)])
        print(f"pushed {n} items", flush=True)
    if "output" in inp:
        api("PUT", f"/v2/key-value-stores/{store}/records/OUTPUT", inp["output"])
    if "status" in inp:
        api("PUT", f"/v2/actor-runs/{run_id}", {"statusMessage": inp["status"]})
    if "succeed_on_attempt" in inp:
        try:
            attempts = api("GET", f"/v2/key-value-stores/{store}/records/ATTEMPTS")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
            attempts = 0
        attempts += 1
        api("PUT", f"/v2/key-value-stores/{store}/records/ATTEMPTS", attempts)
        print(f"attempt {attempts}", flush=True)
        if attempts < inp["succeed_on_attempt"]:
            sys.exit(7)
    time.sleep(inp.get("sleep", 0))
    sys.exit(inp.get("exit", 0))


main()
