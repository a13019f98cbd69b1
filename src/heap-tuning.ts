import { setFlagsFromString } from 'node:v8';

// Garbage-collector settings for a daemon that keeps a large, slowly churning set of objects (the
// task table: every tracked task is promoted to the old generation and dies there when evicted).
// With V8's defaults the young generation grows to 64 MB per semi-space and the old one to two to
// four times its live size, so a daemon with 100 MB of live state sat at 500-700 MB of RSS
// (bench/, memory phase). A tighter old generation costs CPU in more frequent full collections,
// on V8's worker threads as well: at 60k events/s on one core, growing by 25 % took ~25 % more CPU
// than V8's own choice and 50 % about 10 %, for RSS of 177, 184 and 309 MB (50k tracked tasks).

/**
 * Young-generation semi-space cap in MB. 4 rather than 8: 8 MB less RSS, and on a daemon at the
 * edge of one core (125k events/s) paired runs could not tell the two apart in CPU: a scavenge's
 * cost is what survives it (new task records, promoted at once), not how often it runs.
 * V8 reads it only at start-up, so it is passed on the
 * command line: the `celery-pulse` bin's shebang, the container's ENTRYPOINT and `npm start` carry
 * it (test/deploy/node-flags.test.ts keeps them in step with this list).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * Environment for the process, set by the launchers like NODE_FLAGS; glibc reads both, musl (the
 * Alpine-based image) neither.
 *
 * MALLOC_ARENA_MAX: glibc gives each thread that calls malloc an arena of its own, up to eight per
 * core, and keeps what it frees there. V8's garbage-collector and compiler threads left four or
 * five arenas of 2-4 MB resident each, and RSS after 1-3M task ids was 144-153 MB and climbing,
 * against 135-137 MB and flat with two arenas (bench/, memory phase).
 *
 * MALLOC_MMAP_THRESHOLD_: blocks of 64 KB and more get mappings of their own, unmapped when freed.
 * glibc's default threshold rises to the largest block ever freed (up to 32 MB), after which such
 * blocks come from the arenas and leave holes there: RSS after 10M task ids on RabbitMQ was
 * 144-151 MB without it, 138-143 with it. The 64 KB socket read buffers become mappings of their
 * own too; at 40 and 100 events/s, where the collections that free them are far apart, RSS over
 * 11 minutes was flat and lower than without. Mapping each of them costs system time, about 2 %
 * of the daemon's CPU at 110k events/s; 128 KB, which leaves them in the arenas, cost less and
 * saved nothing (143-146 MB after 10M ids).
 */
export const LAUNCH_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' };

/** Old generation grows to 1.5 x its live size after a full collection, not 2-4 x. */
const HEAP_GROWING_PERCENT = 50;

/**
 * Applies what can be changed at run time: the old generation's growing factor, read at every
 * full collection. An explicit `node --heap-growing-percent=…` wins.
 */
export function tuneHeap(execArgv: readonly string[]): void {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
