"""Celery's own event receiver, as a reference: counts the events it sees by type until SIGTERM,
then prints them as JSON. Tests compare the daemon's counts with it where Celery itself drops
events (the threads pool before Celery 5.7, celery#10434), so exact counts cannot come from the workload.

usage: capture.py   (PULSE_BROKER as for the workers; prints 'ready' once bound)
"""
import collections
import json
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from pulseapp import app  # noqa: E402

counts = collections.Counter()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())


def capture():
    with app.connection() as conn:
        receiver = app.events.Receiver(conn, handlers={'*': lambda event: counts.update([event['type']])})
        events = receiver.itercapture(limit=None, timeout=None, wakeup=False)
        next(events)  # the event queue is bound and consumed from here on
        print('ready', flush=True)
        for _ in events:
            pass


threading.Thread(target=capture, daemon=True).start()
done.wait()
print(json.dumps(dict(counts)), flush=True)
