"""The Celery application the integration tests and the demo run against.

Every task has a known outcome so tests can assert exact counts. Broker and transport
options come from the environment so one app serves Redis and RabbitMQ.
"""
import os
import random
import time

from celery import Celery
from celery.exceptions import Reject

app = Celery('pulseapp', broker=os.environ.get('PULSE_BROKER', 'redis://127.0.0.1:6379/0'), backend=None)

transport_options = {}
if os.environ.get('PULSE_KEYPREFIX'):
    transport_options['global_keyprefix'] = os.environ['PULSE_KEYPREFIX']
if os.environ.get('PULSE_VISIBILITY_TIMEOUT'):
    transport_options['visibility_timeout'] = int(os.environ['PULSE_VISIBILITY_TIMEOUT'])
if os.environ.get('PULSE_MASTER_NAME'):
    transport_options['master_name'] = os.environ['PULSE_MASTER_NAME']

app.conf.update(
    broker_transport_options=transport_options,
    worker_send_task_events=os.environ.get('PULSE_TASK_EVENTS', '1') == '1',
    task_send_sent_event=os.environ.get('PULSE_SENT_EVENTS', '1') == '1',
    task_default_queue=os.environ.get('PULSE_DEFAULT_QUEUE', 'celery'),
    worker_prefetch_multiplier=int(os.environ.get('PULSE_PREFETCH', '4')),
    task_acks_late=os.environ.get('PULSE_ACKS_LATE', '0') == '1',
    # PULSE_REMOTE_CONTROL=0: a worker that answers no inspection (no pidbox), so nobody can ask
    # it which tasks it holds.
    worker_enable_remote_control=os.environ.get('PULSE_REMOTE_CONTROL', '1') == '1',
    broker_connection_retry_on_startup=True,
    timezone='UTC',
)

if os.environ.get('PULSE_QUEUE_TYPE') == 'quorum':
    # Celery 5.5+ on RabbitMQ: task queues declared as quorum queues; countdown/ETA tasks then go
    # through the native delayed delivery queues (celery_delayed_0..27) instead of the worker's memory.
    app.conf.task_default_queue_type = 'quorum'
    # Native delayed delivery routes by topic: with the default direct exchange Celery logs a
    # warning and keeps ETA tasks in the worker's memory instead.
    app.conf.task_default_exchange_type = 'topic'
    app.conf.task_create_missing_queue_type = 'quorum'
    app.conf.broker_transport_options = {**transport_options, 'confirm_publish': True}

if os.environ.get('PULSE_SOFT_SHUTDOWN_TIMEOUT'):
    # Celery 5.5+: on a cold shutdown, running tasks get this long to finish before they are
    # cancelled (task-cancelled) and, with acks_late, left unacked for the broker to redeliver.
    app.conf.worker_soft_shutdown_timeout = float(os.environ['PULSE_SOFT_SHUTDOWN_TIMEOUT'])

if os.environ.get('PULSE_SSL_CA'):
    # rediss:// with a private CA and a client certificate (mutual TLS).
    import ssl
    app.conf.broker_use_ssl = {
        'ssl_cert_reqs': ssl.CERT_REQUIRED,
        'ssl_ca_certs': os.environ['PULSE_SSL_CA'],
        'ssl_certfile': os.environ.get('PULSE_SSL_CERT'),
        'ssl_keyfile': os.environ.get('PULSE_SSL_KEY'),
    }


@app.task(name='pulse.ok')
def ok(x=1, y=2):
    return x + y


@app.task(name='pulse.fail_value')
def fail_value(msg='boom'):
    raise ValueError(msg)


@app.task(name='pulse.fail_key')
def fail_key():
    return {}['missing']


@app.task(name='pulse.flaky_retry', bind=True, max_retries=10)
def flaky_retry(self, failures=2):
    """Fails `failures` times with ConnectionError, retrying, then succeeds."""
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError('flaky upstream'), countdown=0.2)
    return 'ok after %d retries' % self.request.retries


@app.task(name='pulse.flaky', bind=True, max_retries=5)
def flaky(self, failure_rate=0.7):
    """The demo's flaky task: fails 70% of the time and retries."""
    time.sleep(random.uniform(0.05, 0.5))
    if random.random() < failure_rate:
        raise self.retry(exc=TimeoutError('upstream timed out'), countdown=1)
    return 'done'


@app.task(name='pulse.reject', acks_late=True)
def reject():
    raise Reject('rejected on purpose', requeue=False)


@app.task(name='pulse.sleep')
def sleep(seconds=1.0):
    time.sleep(seconds)
    return seconds


@app.task(name='pulse.hang', time_limit=1)
def hang(seconds=30.0):
    """Runs past its 1 s hard time limit: the prefork pool kills the child, task-failed(TimeLimitExceeded)."""
    time.sleep(seconds)
    return seconds


@app.task(name='pulse.parent', bind=True)
def parent(self, children=2):
    for i in range(children):
        ok.delay(i, 1)
    return children


@app.task(name='pulse.tick')
def tick():
    """A periodic job: the periodic-task detector tests send it on a fixed cadence, like Beat."""
    return 'tick'
