"""Celery Beat for the dead man's switch test: pulseapp's app with one entry, pulse.tick every
PULSE_BEAT_EVERY seconds (3). Nothing about it is declared to celery-pulse.

usage: python3 beatapp.py SCHEDULE_FILE

Started as `celery beat` would be, without Celery's command line (which current Celery's test venv
cannot import: see worker.py), so one launcher serves Debian's Celery 5.2 and current Celery.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from pulseapp import app  # noqa: E402

app.conf.beat_schedule = {
    'tick': {'task': 'pulse.tick', 'schedule': float(os.environ.get('PULSE_BEAT_EVERY', '3'))},
}


if __name__ == '__main__':
    app.Beat(schedule=sys.argv[1], pidfile=None, loglevel='INFO').run()
