"""Celery Beat for the dead man's switch test: pulseapp's app with one entry, pulse.tick every
PULSE_BEAT_EVERY seconds (3). Nothing about it is declared to celery-pulse.

usage: python3 -m celery -A beatapp beat -s SCHEDULE_FILE
"""
import os

from pulseapp import app

app.conf.beat_schedule = {
    'tick': {'task': 'pulse.tick', 'schedule': float(os.environ.get('PULSE_BEAT_EVERY', '3'))},
}
