// Celery Pulse / Queues: how much waits, whether it grows, and how long tasks wait.
import { dashboard, matchers, timeseries } from './grafana.ts';
import { quantile, rate } from './queries.ts';

const q = matchers(['namespace', 'job', 'queue_name']);
const scope = matchers(['namespace', 'job']);

export const queues = dashboard({
  uid: 'celery-pulse-queues',
  title: 'Celery Pulse / Queues',
  description: 'Broker queues: length, growth, unacknowledged messages, consumers, and the time tasks wait before starting.',
  variables: [
    { name: 'namespace', label: 'Namespace', from: 'celery_pulse_build_info' },
    { name: 'job', label: 'Job', from: 'celery_pulse_build_info' },
    { name: 'queue_name', label: 'Queue', from: 'celery_queue_length' },
  ],
  panels: [
    timeseries({
      title: 'Queue length',
      description: 'Messages waiting in each queue (on Redis summed over the priority sub-lists).',
      unit: 'short',
      targets: [{ expr: `sum by (queue_name) (celery_queue_length${q})`, legend: '{{queue_name}}' }],
    }),
    timeseries({
      title: 'Queue growth',
      description: 'Change of each queue\'s length per second (deriv): above 0 the producers outpace the workers.',
      unit: 'mps',
      targets: [{ expr: `sum by (queue_name) (deriv(celery_queue_length${q}[$__rate_interval]))`, legend: '{{queue_name}}' }],
    }),
    timeseries({
      title: 'Enqueued and started',
      description: 'Tasks sent to each queue per second (needs task_send_sent_event on clients) against attempts started from it.',
      unit: 'ops',
      targets: [
        { expr: rate('celery_task_sent_total', q, ['queue_name']), legend: 'sent {{queue_name}}' },
        { expr: rate('celery_task_started_total', q, ['queue_name']), legend: 'started {{queue_name}}' },
      ],
    }),
    timeseries({
      title: 'Queue wait p95 by queue',
      description: 'p95 of the time from queued (task-sent, else task-received; or the ETA) to task-started, per queue.',
      unit: 's',
      targets: [{ expr: quantile(0.95, 'celery_task_queue_wait_seconds', q, ['queue_name']), legend: '{{queue_name}}' }],
    }),
    timeseries({
      title: 'Queue wait percentiles',
      description: 'p50, p95 and p99 of the queue wait over the selected queues.',
      unit: 's',
      targets: [0.5, 0.95, 0.99].map((p) => ({ expr: quantile(p, 'celery_task_queue_wait_seconds', q), legend: `p${p * 100}` })),
    }),
    timeseries({
      title: 'Unacknowledged messages',
      description: 'Messages delivered to workers and not yet acknowledged, per queue (Redis unacked hash; RabbitMQ with --rabbitmq-management-url).',
      unit: 'short',
      targets: [{ expr: `sum by (queue_name) (celery_queue_unacked_messages${q})`, legend: '{{queue_name}}' }],
    }),
    timeseries({
      title: 'Consumers',
      description: 'Consumers attached to each queue, where the broker tells (RabbitMQ). A queue with messages and no consumer never drains.',
      unit: 'short',
      targets: [{ expr: `sum by (queue_name) (celery_active_consumer_count${q})`, legend: '{{queue_name}}' }],
    }),
    timeseries({
      title: 'Queue figures read',
      description: 'Whether each scrape got the queue figures from the broker within --queue-metrics-timeout (1), and how long that took. A 0 means the queue panels above have a gap.',
      unit: 's',
      targets: [
        { expr: `min by (instance) (celery_pulse_queue_scrape_success${scope})`, legend: 'success {{instance}}' },
        { expr: `max by (instance) (celery_pulse_queue_scrape_duration_seconds${scope})`, legend: 'duration {{instance}}' },
      ],
    }),
  ],
});
