// The integration tests' view of the shared test kit (test/kit/, also used by bench/): real
// redis-server, rabbitmq-server, Celery workers (Debian's python3-celery, or current Celery from
// .ci/celery.sh's venv) and the built daemon, each started on loopback on a free port and stopped
// by the test that started it.
export * from '../kit/paths.js';
export * from '../kit/processes.js';
export * from '../kit/brokers.js';
export * from '../kit/celery.js';
export * from '../kit/daemon.js';
export * from '../kit/metrics-text.js';
