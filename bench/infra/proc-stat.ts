// /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat lines, read the same way by the benchmark
// (daemon.ts) and by the preload inside the daemon (gc-profile.ts).

/** Clock ticks per second of a stat line's times (getconf CLK_TCK; 100 on Linux x86 and arm64). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of a stat line. */
export function statCpuSeconds(stat: string): number {
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The command (or thread) name of a stat line. */
export function statName(stat: string): string {
  return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
}
