// Where the real parts live: the repository, the Celery apps of the integration tests, Debian's
// python3 and the built daemon.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CELERY_DIR = join(ROOT, 'test', 'integration', 'celery');
/**
 * The interpreter whose Celery the workers run: Debian's (python3-celery; a pyenv `python3` on PATH
 * would not have it) unless CELERY_PULSE_TEST_PYTHON names another, as the integration-celery-current
 * project does (vitest.config.ts).
 */
export const PYTHON = process.env['CELERY_PULSE_TEST_PYTHON'] ?? '/usr/bin/python3';
/** The built daemon; CELERY_PULSE_DAEMON points tests at another build (each developer's own outDir). */
export const DAEMON = process.env['CELERY_PULSE_DAEMON'] ?? join(ROOT, 'dist', 'cli.js');

