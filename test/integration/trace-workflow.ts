// The traced workflow both trace tests run (test/integration/celery/workload.py `workflow`): a
// parent that sends two children, a task that retries twice then succeeds, one that fails. What it
// must produce, and how the tests wait for it and find their spans.
import { runWorkload, waitFor } from './harness.js';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.js';

/** parent: publish + process; two children: publish + process each; flaky_retry: 3 attempts, each published (the client's send, then two retries); fail_value: publish + process. */
export const WORKFLOW_SPANS = 2 + 2 * 2 + 3 * 2 + 2;

/** A task id as an OTLP trace id: the uuid's hex digits. */
export const hex = (uuid: string): string => uuid.replace(/-/g, '');

export interface WorkflowRun {
  /** Task ids by task name (runWorkload's report). */
  readonly ids: Record<string, string[]>;
  /** Every span received, once the whole workflow was exported. */
  readonly spans: ReceivedSpan[];
  /** The first id of a task name. */
  id(name: string): string;
  /** The spans of one task id with this name, oldest first. */
  ofTask(taskId: string, name: string): ReceivedSpan[];
}

/** Runs the workflow on `brokerUrl` (a worker must be consuming) and waits for all its spans at `receiver`. */
export async function runTracedWorkflow(brokerUrl: string, receiver: OtlpReceiver): Promise<WorkflowRun> {
  const ids = await runWorkload(brokerUrl, 'workflow');
  await waitFor('every span of the workflow', () => receiver.spans.length >= WORKFLOW_SPANS, 60_000);
  // Anything exported twice would show up now.
  await new Promise((r) => setTimeout(r, 1000));
  const spans = [...receiver.spans];
  return {
    ids,
    spans,
    id: (name) => ids[name]![0]!,
    ofTask: (taskId, name) => spans.filter((s) => s.attributes['messaging.message.id'] === taskId && s.name === name).sort((a, b) => a.start - b.start),
  };
}
