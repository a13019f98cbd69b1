// Celery Pulse / Overview: is Celery healthy right now, and where to look if not: every series of
// a task, queue or worker links to that one's own dashboard.
import { dashboard, drillDown, matchers, row, stat, timeseries } from './grafana.ts';
import { OUTCOMES, failureRatio, quantile, rate } from './queries.ts';

const tasks = matchers(['namespace', 'job', 'queue_name', 'name']);
// Runtimes of successes only: fast retries (or fast failures) would pull their percentiles down.
const succeeded = matchers(['namespace', 'job', 'queue_name', 'name'], ['outcome="succeeded"']);
const queues = matchers(['namespace', 'job', 'queue_name']);
const scope = matchers(['namespace', 'job']);

export const overview = dashboard({
  uid: 'celery-pulse-overview',
  title: 'Celery Pulse / Overview',
  description: 'Throughput, failures, retries, runtimes, queue waits, queues and workers of Celery, from celery-pulse.',
  variables: [
    { name: 'namespace', label: 'Namespace', from: 'celery_pulse_build_info' },
    { name: 'job', label: 'Job', from: 'celery_pulse_build_info' },
    { name: 'queue_name', label: 'Queue', from: 'celery_task_received_total' },
    { name: 'name', label: 'Task', from: 'celery_task_received_total' },
  ],
  panels: [
    stat({
      title: 'Tasks completed',
      description: 'Tasks that ended (succeeded or failed) per second.',
      unit: 'ops',
      width: 4,
      targets: [{ expr: `${rate('celery_task_succeeded_total', tasks)} + ${rate('celery_task_failed_total', tasks)}` }],
    }),
    stat({
      title: 'Failure ratio',
      description: 'Share of completed tasks that failed (task-failed / (task-failed + task-succeeded)).',
      unit: 'percentunit',
      width: 4,
      thresholds: [{ value: 0.01, color: 'orange' }, { value: 0.05, color: 'red' }],
      targets: [{ expr: failureRatio(tasks) }],
    }),
    stat({
      title: 'Retries',
      description: 'Task attempts that ended in a retry, per second.',
      unit: 'ops',
      width: 4,
      targets: [{ expr: rate('celery_task_retried_total', tasks) }],
    }),
    stat({
      title: 'Workers up',
      description: 'Workers whose heartbeats arrive (celery_worker_up == 1).',
      unit: 'short',
      width: 4,
      targets: [{ expr: `sum(celery_worker_up${scope})` }],
    }),
    stat({
      title: 'Tasks running',
      description: 'Tasks executing now on all workers, from their heartbeats.',
      unit: 'short',
      width: 4,
      targets: [{ expr: `sum(celery_worker_tasks_active${scope})` }],
    }),
    stat({
      title: 'Messages queued',
      description: 'Messages waiting in the broker queues (celery_queue_length), summed.',
      unit: 'short',
      width: 4,
      targets: [{ expr: `sum(celery_queue_length${queues})` }],
    }),

    row('Throughput'),
    timeseries({
      title: 'Task events by outcome',
      description: 'Per-second rate of each task lifecycle event: sent by clients, received and started by workers, and the outcomes.',
      unit: 'ops',
      targets: OUTCOMES.map((o) => ({ expr: rate(`celery_task_${o}_total`, tasks), legend: o })),
    }),
    timeseries({
      title: 'Tasks started by task',
      description: 'Attempts started per second, per task name.',
      unit: 'ops',
      stack: true,
      targets: [{ expr: rate('celery_task_started_total', tasks, ['name']), legend: '{{name}}' }],
      links: [drillDown('name')],
    }),
    timeseries({
      title: 'Failure ratio by task',
      description: 'Share of each task\'s completed runs that failed: 0% for a task that never failed, 100% for one that never succeeds.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      targets: [{ expr: failureRatio(tasks, ['name']), legend: '{{name}}' }],
      links: [drillDown('name')],
    }),
    timeseries({
      title: 'Retries by task',
      description: 'Attempts that ended in a retry, per second, per task name and exception class.',
      unit: 'ops',
      targets: [{ expr: rate('celery_task_retried_total', tasks, ['name', 'exception']), legend: '{{name}}: {{exception}}' }],
      links: [drillDown('name')],
    }),

    row('Latency'),
    timeseries({
      title: 'Runtime percentiles',
      description: 'p50, p95 and p99 of the run time of attempts that succeeded, all selected tasks together (the Task dashboard shows failed and retried attempts too).',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, 'celery_task_runtime_seconds', succeeded), legend: `p${q * 100}` })),
    }),
    timeseries({
      title: 'Runtime p95 by task',
      description: 'p95 of the run time of each task\'s attempts that succeeded. Click a point with an exemplar to open its trace.',
      unit: 's',
      targets: [{ expr: quantile(0.95, 'celery_task_runtime_seconds', succeeded, ['name']), legend: '{{name}}', exemplar: true }],
      links: [drillDown('name')],
    }),
    timeseries({
      title: 'Queue wait percentiles',
      description: 'p50, p95 and p99 of the time from queued (task-sent, else task-received; or the ETA) to task-started.',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, 'celery_task_queue_wait_seconds', tasks), legend: `p${q * 100}` })),
    }),
    timeseries({
      title: 'Queue wait p95 by queue',
      description: 'p95 of the time tasks waited before starting, per queue.',
      unit: 's',
      targets: [{ expr: quantile(0.95, 'celery_task_queue_wait_seconds', tasks, ['queue_name']), legend: '{{queue_name}}' }],
      links: [drillDown('queue_name')],
    }),

    row('Queues and workers'),
    timeseries({
      title: 'Queue length',
      description: 'Messages waiting in each broker queue.',
      unit: 'short',
      targets: [{ expr: `sum by (queue_name) (celery_queue_length${queues})`, legend: '{{queue_name}}' }],
      links: [drillDown('queue_name')],
    }),
    timeseries({
      title: 'Tasks running by worker',
      description: 'Tasks executing now on each worker, from its heartbeats.',
      unit: 'short',
      min: 0,
      targets: [{ expr: `sum by (hostname) (celery_worker_tasks_active${scope})`, legend: '{{hostname}}' }],
      links: [drillDown('hostname')],
    }),
    timeseries({
      title: 'Workers up',
      description: 'Workers up (heartbeats arriving) and workers known (up or recently down).',
      unit: 'short',
      min: 0,
      targets: [
        { expr: `sum(celery_worker_up${scope})`, legend: 'up' },
        { expr: `count(celery_worker_up${scope})`, legend: 'known' },
      ],
    }),

    row('celery-pulse itself'),
    timeseries({
      title: 'Broker connection',
      description: '1 while celery-pulse is subscribed to the broker, 0 while disconnected (events are lost meanwhile).',
      unit: 'bool_yes_no',
      width: 6,
      min: 0,
      max: 1,
      targets: [{ expr: `min by (instance) (celery_pulse_broker_up${scope})`, legend: '{{instance}}' }],
    }),
    timeseries({
      title: 'Events received',
      description: 'Celery events decoded per second, by event type.',
      unit: 'ops',
      width: 6,
      targets: [{ expr: rate('celery_pulse_events_received_total', scope, ['type']), legend: '{{type}}' }],
    }),
    timeseries({
      title: 'Events lost',
      description: 'Messages skipped as undecodable, by reason; tasks forgotten because --max-tracked-tasks was reached; and the share of time spent disconnected from the broker. All should be 0.',
      unit: 'ops',
      width: 6,
      targets: [
        { expr: rate('celery_pulse_decode_errors_total', scope, ['reason']), legend: 'decode error: {{reason}}' },
        { expr: rate('celery_pulse_task_evictions_total', matchers(['namespace', 'job'], ['reason="capacity"'])), legend: 'capacity evictions' },
        { expr: rate('celery_pulse_event_stream_gap_seconds_total', scope), legend: 'disconnected (s/s)' },
      ],
    }),
    timeseries({
      title: 'Event loop busy',
      description: "Share of one core celery-pulse's event loop spent handling events, scrapes and timers, and its process's CPU (which adds V8's garbage-collector threads). It counts events on one core: near 1 it falls behind and the broker drops events. CeleryPulseSaturated fires when either stays above 0.8.",
      unit: 'percentunit',
      width: 6,
      min: 0,
      targets: [
        { expr: rate('celery_pulse_event_loop_busy_seconds_total', scope, ['instance']), legend: 'event loop {{instance}}' },
        { expr: rate('process_cpu_seconds_total', scope, ['instance']), legend: 'process {{instance}}' },
      ],
    }),
  ],
});
