// Celery Pulse / Workers: which workers are alive, how busy, and what they hold back.
import { dashboard, matchers, stat, timeseries } from './grafana.ts';
import { rate } from './queries.ts';

const w = matchers(['namespace', 'job', 'hostname']);

export const workers = dashboard({
  uid: 'celery-pulse-workers',
  title: 'Celery Pulse / Workers',
  description: 'Celery workers from their heartbeats and task events: up, heartbeat age, active and prefetched tasks, load.',
  variables: [
    { name: 'namespace', label: 'Namespace', from: 'celery_pulse_build_info' },
    { name: 'job', label: 'Job', from: 'celery_pulse_build_info' },
    { name: 'hostname', label: 'Worker', from: 'celery_worker_up' },
  ],
  panels: [
    stat({
      title: 'Workers up',
      description: 'Workers whose heartbeats arrive.',
      unit: 'short',
      width: 6,
      targets: [{ expr: `sum(celery_worker_up${w})` }],
    }),
    stat({
      title: 'Workers down',
      description: 'Workers known to celery-pulse whose heartbeats stopped (or that went offline) and are not yet forgotten (--worker-forget-after).',
      unit: 'short',
      width: 6,
      thresholds: [{ value: 1, color: 'red' }],
      targets: [{ expr: `count(celery_worker_up${w} == 0) or vector(0)` }],
    }),
    stat({
      title: 'Tasks running',
      description: 'Tasks executing now on the selected workers.',
      unit: 'short',
      width: 6,
      targets: [{ expr: `sum(celery_worker_tasks_active${w})` }],
    }),
    stat({
      title: 'Oldest heartbeat',
      description: 'Age of the stalest heartbeat among workers that are up.',
      unit: 's',
      width: 6,
      thresholds: [{ value: 10, color: 'orange' }, { value: 30, color: 'red' }],
      targets: [{ expr: `max(time() - celery_worker_last_heartbeat_timestamp_seconds${w} and on (hostname) celery_worker_up${w} == 1)` }],
    }),
    timeseries({
      title: 'Worker up',
      description: '1 while a worker\'s heartbeats arrive, 0 once they stop for --worker-timeout-heartbeats intervals or it went offline.',
      unit: 'short',
      min: 0,
      max: 1,
      targets: [{ expr: `max by (hostname) (celery_worker_up${w})`, legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Heartbeat age',
      description: 'Seconds since each worker\'s last heartbeat (Celery sends one every 2 s by default). A sawtooth is normal; a ramp is a dead or cut-off worker.',
      unit: 's',
      targets: [{ expr: `time() - max by (hostname) (celery_worker_last_heartbeat_timestamp_seconds${w})`, legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Active tasks',
      description: 'Tasks executing now on each worker, from its heartbeats.',
      unit: 'short',
      targets: [{ expr: `sum by (hostname) (celery_worker_tasks_active${w})`, legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Prefetched tasks',
      description: 'Tasks a worker received but has not started: reserved by its prefetch while it is busy, invisible in the queue length.',
      unit: 'short',
      targets: [{ expr: `sum by (hostname) (celery_worker_tasks_prefetched${w})`, legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Heartbeat gaps',
      description: 'Heartbeats per second that came more than 2 x freq after the previous one while the broker stayed connected: events lost in transit, or a worker blocked too long to send them.',
      unit: 'ops',
      targets: [{ expr: rate('celery_worker_heartbeat_gaps_total', w, ['hostname']), legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Task events disabled',
      description: '1 while a worker processes tasks but sends no task events (none of its tasks are counted): start it with -E or run celery control enable_events.',
      unit: 'short',
      min: 0,
      max: 1,
      targets: [{ expr: `max by (hostname) (celery_worker_task_events_disabled${w})`, legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Load: task starts per worker',
      description: 'Task attempts started per second on each worker.',
      unit: 'ops',
      stack: true,
      targets: [{ expr: rate('celery_task_started_total', w, ['hostname']), legend: '{{hostname}}' }],
    }),
    timeseries({
      title: 'Failures and retries per worker',
      description: 'Attempts per second that failed or retried on each worker: one bad host stands out here.',
      unit: 'ops',
      targets: [
        { expr: rate('celery_task_failed_total', w, ['hostname']), legend: 'failed {{hostname}}' },
        { expr: rate('celery_task_retried_total', w, ['hostname']), legend: 'retried {{hostname}}' },
      ],
    }),
  ],
});
