"""Sends a named workload to the pulseapp and waits for nothing: outcomes come from events.

usage: workload.py NAME   (prints the task ids as JSON)
"""
import json
import os
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from pulseapp import app, ok, fail_value, fail_key, flaky_retry, reject, sleep, parent  # noqa: E402


def basic():
    """The walking-skeleton workload: every outcome, with known counts."""
    ids = {'ok': [], 'fail_value': [], 'fail_key': [], 'flaky_retry': [], 'reject': [], 'revoked': []}
    for i in range(5):
        ids['ok'].append(ok.delay(i, i).id)
    for _ in range(3):
        ids['fail_value'].append(fail_value.delay('boom').id)
    for _ in range(2):
        ids['fail_key'].append(fail_key.delay().id)
    for _ in range(2):
        ids['flaky_retry'].append(flaky_retry.delay(2).id)
    ids['reject'].append(reject.delay().id)
    # Expired before a worker got it: task-revoked(expired=True), never received.
    ids['revoked'].append(ok.apply_async((1, 1), expires=datetime.now(timezone.utc) - timedelta(seconds=5)).id)
    # Revoked before it was sent: the worker drops it on arrival with task-revoked.
    revoked_id = str(uuid.uuid4())
    app.control.revoke(revoked_id)
    time.sleep(0.5)
    ids['revoked'].append(sleep.apply_async((0.1,), task_id=revoked_id).id)
    return ids


WORKLOADS = {'basic': basic}

if __name__ == '__main__':
    print(json.dumps(WORKLOADS[sys.argv[1]]()))
