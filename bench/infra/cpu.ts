// Core pinning: the daemon gets one core to itself, the generator and the broker the other, so the
// daemon's rate is what one core does and the generator never steals its time.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

let taskset: boolean | undefined;

function hasTaskset(): boolean {
  taskset ??= spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return taskset;
}

/** The cores to use: the daemon's and everyone else's; undefined when there is only one core or no taskset. */
export function coreLayout(): { daemon: number; generator: number } | undefined {
  if (availableParallelism() < 2 || !hasTaskset()) return undefined;
  return { daemon: 0, generator: 1 };
}

/** `command args…` prefixed with `taskset -c cpu` when a core is given. */
export function pinnedCommand(cpu: number | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (cpu === undefined) return [command, [...args]];
  return ['taskset', ['-c', String(cpu), command, ...args]];
}

/** Moves a running process (all its threads) to one core. */
export function pinProcess(pid: number, cpu: number | undefined): void {
  if (cpu === undefined) return;
  spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}
