// A preload for the daemon under the benchmark, to see what V8's garbage collector does
// (`npm run bench` compiles it next to the rest of the bench):
//
//   npm run bench -- --phases throughput --rates 125000 \
//     --node-args="--import $PWD/node_modules/.cache/celery-pulse-bench/bench/infra/gc-profile.js"
//
// Every second it writes, to $CELERY_PULSE_GC_PROFILE (default /tmp/celery-pulse-gc-<pid>.json),
// totals since start-up per kind of collection: how many, their cost on the main thread, and how
// much the old and large-object spaces grew across them (for scavenges, what they promoted; for
// full collections, negative: what they freed). Also the CPU of each group of threads, since V8's
// worker threads run parts of every collection on the daemon's core too.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';
import type { HeapSpaceStatistics } from 'node:v8';
import { statCpuSeconds, statName } from './proc-stat.js';

interface Totals {
  count: number;
  mainThreadMs: number;
  oldSpaceGrowthMb: number;
  largeObjectGrowthMb: number;
}

const out = process.env['CELERY_PULSE_GC_PROFILE'] ?? `/tmp/celery-pulse-gc-${process.pid}.json`;
const totals: Record<string, Totals> = {};
let profiler = new GCProfiler();
profiler.start();

function used(stats: { heapSpaceStatistics: HeapSpaceStatistics[] }, space: string): number {
  return stats.heapSpaceStatistics.find((s) => s.spaceName === space)?.spaceUsedSize ?? 0;
}

/** CPU milliseconds by thread name, digits dropped (all of V8's workers are "V8Worker"). */
function threadCpuMs(): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const name = statName(stat).replace(/\d+$/, '');
    byName[name] = (byName[name] ?? 0) + statCpuSeconds(stat) * 1000;
  }
  return byName;
}

setInterval(() => {
  // A profile is read by stopping it: take this second's and start the next one.
  const profile = profiler.stop();
  profiler = new GCProfiler();
  profiler.start();
  for (const s of profile?.statistics ?? []) {
    const t = (totals[s.gcType] ??= { count: 0, mainThreadMs: 0, oldSpaceGrowthMb: 0, largeObjectGrowthMb: 0 });
    t.count++;
    t.mainThreadMs += s.cost / 1000;
    t.oldSpaceGrowthMb += (used(s.afterGC, 'old_space') - used(s.beforeGC, 'old_space')) / 1e6;
    t.largeObjectGrowthMb += (used(s.afterGC, 'large_object_space') - used(s.beforeGC, 'large_object_space')) / 1e6;
  }
  writeFileSync(out, JSON.stringify({ uptimeSeconds: process.uptime(), collections: totals, threadCpuMs: threadCpuMs() }, null, 1));
}, 1000).unref();
