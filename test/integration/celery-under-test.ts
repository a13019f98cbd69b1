// Global setup of each integration project: says which Celery and kombu its workers run, and fails
// the run, loudly, when that interpreter cannot import them (a missing venv must not quietly test less).
import type { TestProject } from 'vitest/node';
import { celeryVersions } from './harness.js';

export default function setup(project: TestProject): void {
  const python = project.config.env?.['CELERY_PULSE_TEST_PYTHON'] ?? process.env['CELERY_PULSE_TEST_PYTHON'] ?? '/usr/bin/python3';
  let versions: string;
  try {
    versions = celeryVersions(String(python));
  } catch (err) {
    throw new Error(`\n!! ${project.name}: no Celery to test against. ${(err as Error).message}\n!! Build it with: . .ci/celery.sh && install_current_celery\n`, { cause: err });
  }
  console.log(`== ${project.name}: workers run ${versions} (${String(python)})`);
}
