"""The demo's endless workload: a realistic mix, including the flaky task that fails 70% of the
time and retries, so every counter and histogram on /metrics moves."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'integration', 'celery'))
from pulseapp import ok, fail_value, fail_key, flaky, sleep, parent  # noqa: E402

print('demo workload: sending tasks every second (Ctrl-C to stop)', flush=True)
while True:
    for _ in range(3):
        flaky.delay(0.7)
    ok.delay(random.randint(0, 9), 1)
    sleep.delay(random.uniform(0.1, 2.0))
    if random.random() < 0.3:
        fail_value.delay('bad input')
    if random.random() < 0.1:
        fail_key.delay()
    if random.random() < 0.2:
        parent.delay(2)
    time.sleep(1)
