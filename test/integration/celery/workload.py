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


def sleepers():
    """PULSE_SLEEPERS tasks of PULSE_SLEEP_SECONDS each (long tasks for lost/stalled/duplicate tests)."""
    seconds = float(os.environ.get('PULSE_SLEEP_SECONDS', '30'))
    return {'sleep': [sleep.delay(seconds).id for _ in range(int(os.environ.get('PULSE_SLEEPERS', '1')))]}


def retries():
    """Two tasks that fail 3 times then succeed (4 attempts each), and three plain successes."""
    return {'flaky_retry': [flaky_retry.delay(3).id for _ in range(2)], 'ok': [ok.delay(i, i).id for i in range(3)]}


def periodic():
    """pulse.tick every PULSE_PERIOD seconds, PULSE_TICKS times, like Celery Beat; then it stops."""
    from pulseapp import tick
    period = float(os.environ.get('PULSE_PERIOD', '1'))
    # The first send also connects to the broker: the schedule starts once it is done.
    ids = [tick.delay().id]
    start = time.time()
    sent_at = [start]
    for i in range(1, int(os.environ.get('PULSE_TICKS', '7'))):
        time.sleep(max(0.0, start + i * period - time.time()))
        ids.append(tick.delay().id)
        sent_at.append(time.time())
    return {'tick': ids, 'sent_at': ['%.3f' % t for t in sent_at]}


def to_queue():
    """PULSE_COUNT (10) tasks to queue PULSE_QUEUE, the i-th with priority i % 10: on Redis they
    spread over kombu's priority sub-lists (0-2 -> Q, 3-5 -> Q\x06\x163, 6-8 -> Q\x06\x166, 9 -> Q\x06\x169).
    pulse.sleep(PULSE_SLEEP_SECONDS) when that is set, else pulse.ok."""
    queue = os.environ['PULSE_QUEUE']
    seconds = os.environ.get('PULSE_SLEEP_SECONDS')
    ids = []
    for i in range(int(os.environ.get('PULSE_COUNT', '10'))):
        task = sleep.s(float(seconds)) if seconds else ok.s(i, i)
        ids.append(task.apply_async(queue=queue, priority=i % 10).id)
    return {queue: ids}



def workflow():
    """For the trace tests: a parent that sends two pulse.ok children, a task that retries twice
    then succeeds, and one that fails."""
    return {
        'parent': [parent.delay(2).id],
        'flaky_retry': [flaky_retry.delay(2).id],
        'fail_value': [fail_value.delay('boom').id],
    }


WORKLOADS = {'basic': basic, 'sleepers': sleepers, 'retries': retries, 'periodic': periodic, 'to_queue': to_queue}
WORKLOADS['workflow'] = workflow


def hang():
    """PULSE_COUNT (1) tasks that run past their hard time limit, and two plain successes."""
    from pulseapp import hang as hang_task
    return {'hang': [hang_task.delay(30).id for _ in range(int(os.environ.get('PULSE_COUNT', '1')))], 'ok': [ok.delay(i, i).id for i in range(2)]}


WORKLOADS['hang'] = hang


def countdown():
    """PULSE_COUNT (3) pulse.ok tasks due in PULSE_COUNTDOWN (60) seconds, and one due now."""
    delay = float(os.environ.get('PULSE_COUNTDOWN', '60'))
    later = [ok.apply_async((i, i), countdown=delay).id for i in range(int(os.environ.get('PULSE_COUNT', '3')))]
    return {'later': later, 'now': [ok.delay(0, 0).id]}


WORKLOADS['countdown'] = countdown

if __name__ == '__main__':
    print(json.dumps(WORKLOADS[sys.argv[1]]()))
