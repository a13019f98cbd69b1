"""Starts a pulseapp worker the way `celery -A pulseapp worker` would, without Celery's command line.

Celery's command line imports click-didyoumean and click-repl, which the test venv for current
Celery (.ci/celery.sh) does not hold; the worker itself needs neither. The flags are the subset of
`celery worker`'s that the tests use, with the same meaning, so one launcher serves every Celery the
tests run against (Debian's 5.2 and 5.6).

usage: worker.py -n NAME [-P POOL] [-c N] [-Q a,b] [-E] [-l LEVEL] [--heartbeat-interval S]
                 [--without-mingle] [--without-gossip] [--print-versions]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


def main(argv):
    p = argparse.ArgumentParser(prog='worker.py')
    p.add_argument('-n', '--hostname', required=True)
    p.add_argument('-P', '--pool', default='prefork')
    p.add_argument('-c', '--concurrency', type=int, default=2)
    p.add_argument('-Q', '--queues', default=None)
    p.add_argument('-E', '--task-events', action='store_true')
    p.add_argument('-l', '--loglevel', default='INFO')
    p.add_argument('--heartbeat-interval', type=float, default=None)
    p.add_argument('--without-mingle', action='store_true')
    p.add_argument('--without-gossip', action='store_true')
    args = p.parse_args(argv)

    from celery.utils.nodenames import default_nodename, host_format
    from pulseapp import app

    options = {
        'hostname': host_format(default_nodename(args.hostname)),
        'pool_cls': args.pool,
        'concurrency': args.concurrency,
        'loglevel': args.loglevel,
        'without_mingle': args.without_mingle,
        'without_gossip': args.without_gossip,
    }
    # Only what was asked for: `task_events=False` would override worker_send_task_events.
    if args.task_events:
        options['task_events'] = True
    if args.queues:
        options['queues'] = args.queues.split(',')
    if args.heartbeat_interval is not None:
        options['heartbeat_interval'] = args.heartbeat_interval
    worker = app.Worker(**options)
    worker.start()
    return worker.exitcode


if __name__ == '__main__':
    if sys.argv[1:] == ['--print-versions']:
        import celery
        import kombu
        print('celery %s kombu %s' % (celery.__version__, kombu.__version__))
        sys.exit(0)
    sys.exit(main(sys.argv[1:]))
