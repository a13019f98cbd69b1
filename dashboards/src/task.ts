// Celery Pulse / Task: one task name in depth: outcomes, exceptions, hidden retries, runtimes,
// silent failures, and the jump to traces through exemplars.
import { dashboard, heatmap, matchers, row, stat, timeseries } from './grafana.ts';
import { OUTCOMES, failureRatio, increaseOverRange, quantile, rate } from './queries.ts';

const t = matchers(['namespace', 'job', 'queue_name', 'name']);
// Families without a queue_name label: a selected queue must not filter them out.
const byName = matchers(['namespace', 'job', 'name']);
// Runtimes of successes only: fast retries (or fast failures) would pull their percentiles down.
const succeeded = matchers(['namespace', 'job', 'queue_name', 'name'], ['outcome="succeeded"']);

export const task = dashboard({
  uid: 'celery-pulse-task',
  title: 'Celery Pulse / Task',
  description: 'One Celery task in depth: outcomes, exceptions, attempts, runtime distribution, lost, stalled and duplicate runs, with exemplar links to traces.',
  variables: [
    { name: 'namespace', label: 'Namespace', from: 'celery_pulse_build_info' },
    { name: 'job', label: 'Job', from: 'celery_pulse_build_info' },
    { name: 'queue_name', label: 'Queue', from: 'celery_task_received_total' },
    { name: 'name', label: 'Task', from: 'celery_task_received_total', multi: false },
  ],
  panels: [
    stat({
      title: 'Completed',
      description: 'Runs of this task that succeeded or failed per second.',
      unit: 'ops',
      width: 4,
      targets: [{ expr: `${rate('celery_task_succeeded_total', t)} + ${rate('celery_task_failed_total', t)}` }],
    }),
    stat({
      title: 'Failure ratio',
      description: 'Share of completed runs that failed.',
      unit: 'percentunit',
      width: 4,
      thresholds: [{ value: 0.01, color: 'orange' }, { value: 0.05, color: 'red' }],
      targets: [{ expr: failureRatio(t) }],
    }),
    stat({
      title: 'Runtime p95',
      description: 'p95 of the run time of attempts that succeeded.',
      unit: 's',
      width: 4,
      targets: [{ expr: quantile(0.95, 'celery_task_runtime_seconds', succeeded) }],
    }),
    stat({
      title: 'Queue wait p95',
      description: 'p95 of the time from queued to started.',
      unit: 's',
      width: 4,
      targets: [{ expr: quantile(0.95, 'celery_task_queue_wait_seconds', t) }],
    }),
    stat({
      title: 'Lost in range',
      description: 'Runs received or started by a worker that then went down, with no outcome, in the selected time range.',
      unit: 'short',
      width: 4,
      thresholds: [{ value: 1, color: 'red' }],
      targets: [{ expr: increaseOverRange('celery_task_lost_total', t) }],
    }),
    stat({
      title: 'Stalled now',
      description: 'Runs in STARTED far longer than usual for this task.',
      unit: 'short',
      width: 4,
      thresholds: [{ value: 1, color: 'red' }],
      targets: [{ expr: `sum(celery_task_stalled${t})` }],
    }),

    row('Outcomes'),
    timeseries({
      title: 'Events by outcome',
      description: 'Per-second rate of each lifecycle event of this task.',
      unit: 'ops',
      targets: OUTCOMES.map((o) => ({ expr: rate(`celery_task_${o}_total`, t), legend: o })),
    }),
    timeseries({
      title: 'Failures by exception class',
      description: 'task-failed per second by exception class. A new class usually means a code or upstream change.',
      unit: 'ops',
      targets: [{ expr: rate('celery_task_failed_total', t, ['exception']), legend: '{{exception}}', exemplar: true }],
    }),
    timeseries({
      title: 'Retries by exception class',
      description: 'Attempts that ended in a retry per second, by the exception that caused it.',
      unit: 'ops',
      targets: [{ expr: rate('celery_task_retried_total', t, ['exception']), legend: '{{exception}}' }],
    }),
    timeseries({
      title: 'Attempts before outcome',
      description: 'Attempts (retries + 1) tasks took before their final outcome, mean and p95 by outcome: "succeeded after 4 failures" shows up here, not in the failure ratio.',
      unit: 'short',
      targets: [
        { expr: `${rate('celery_task_attempts_sum', byName, ['outcome'])}\n/\n${rate('celery_task_attempts_count', byName, ['outcome'])}`, legend: 'mean {{outcome}}' },
        { expr: quantile(0.95, 'celery_task_attempts', byName, ['outcome']), legend: 'p95 {{outcome}}' },
      ],
    }),

    row('Runtime'),
    timeseries({
      title: 'Runtime percentiles by outcome',
      description: 'p50, p95 and p99 run time of finished attempts, separately for those that succeeded, failed and were retried. Exemplars (dots) carry trace ids: click one to open the trace of that run.',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, 'celery_task_runtime_seconds', t, ['outcome']), legend: `p${q * 100} {{outcome}}`, exemplar: q === 0.99 })),
    }),
    heatmap({
      title: 'Runtime distribution',
      description: 'Attempts that succeeded per runtime bucket over time.',
      unit: 's',
      targets: [{ expr: `sum by (le) (increase(celery_task_runtime_seconds_bucket${succeeded}[$__rate_interval]))`, legend: '{{le}}', format: 'heatmap' }],
    }),
    timeseries({
      title: 'Queue wait percentiles',
      description: 'p50, p95 and p99 of the time from queued (task-sent, else task-received; or the ETA) to started.',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, 'celery_task_queue_wait_seconds', t), legend: `p${q * 100}` })),
    }),
    timeseries({
      title: 'Starts by worker',
      description: 'Attempts of this task started per second on each worker.',
      unit: 'ops',
      targets: [{ expr: rate('celery_task_started_total', t, ['hostname']), legend: '{{hostname}}' }],
    }),

    row('Silent failures'),
    timeseries({
      title: 'Lost, stalled and duplicate runs',
      description: 'Runs lost with their worker and runs that started again without a retry (per second), and runs stalled now.',
      unit: 'short',
      targets: [
        { expr: rate('celery_task_lost_total', t), legend: 'lost/s' },
        { expr: rate('celery_task_duplicate_executions_total', t), legend: 'duplicates/s' },
        { expr: `sum(celery_task_stalled${t})`, legend: 'stalled' },
      ],
    }),
    timeseries({
      title: 'Oldest running and stalled threshold',
      description: 'Age of the oldest run of this task in STARTED now, against the threshold past which it counts as stalled (--stalled-threshold, or learned from its runtimes).',
      unit: 's',
      targets: [
        { expr: `max(celery_task_oldest_running_age_seconds${t})`, legend: 'oldest running' },
        { expr: `max(celery_task_stalled_threshold_seconds${byName})`, legend: 'stalled threshold' },
      ],
    }),
    timeseries({
      title: 'Time since last sent and received',
      description: 'Seconds since a client (Celery Beat for periodic tasks) last sent this task and since a worker last received it, against the interval declared with --expect-task and the cadence detected from the stream.',
      unit: 's',
      targets: [
        { expr: `time() - max(celery_task_last_sent_timestamp_seconds${byName})`, legend: 'since last sent' },
        { expr: `time() - max(celery_task_last_received_timestamp_seconds${byName})`, legend: 'since last received' },
        { expr: `max(celery_task_expected_interval_seconds${byName})`, legend: 'expected interval' },
        { expr: `max(celery_task_detected_interval_seconds${byName})`, legend: 'detected interval' },
      ],
    }),
  ],
});
