import type { CounterCell, CounterFamily } from './store/counter.js';

/** The value a label takes once its family already holds `--max-label-values` distinct values. */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

/**
 * Caps the distinct values of each label of one metric family (or of families always labelled
 * together, such as the six task outcome counters). Values are admitted first come, first served
 * and never forgotten: a series, once exported, keeps its labels, so dashboards do not see a task
 * name move in and out of `__overflow__`. Shared by every broker, so the bound is per family.
 *
 * Memory: at most `maxValues` strings per label here, and at most the product of the label caps
 * in series; in practice one label explodes (a task name with an id in it, a client `gen<pid>`
 * hostname) and the family gains one `__overflow__` series instead of one per value.
 */
export class LabelGuard {
  private readonly seen: Set<string>[];

  constructor(
    readonly labelNames: readonly string[],
    private readonly maxValues: number,
  ) {
    this.seen = labelNames.map(() => new Set<string>());
  }

  /**
   * Replaces, in place, each value beyond its label's cap with OVERFLOW_LABEL_VALUE. Returns the
   * indexes replaced, or undefined when none was (the common case allocates nothing).
   */
  cap(values: string[]): number[] | undefined {
    let replaced: number[] | undefined;
    for (let i = 0; i < this.seen.length; i++) {
      const set = this.seen[i]!;
      const v = values[i]!;
      if (set.has(v)) continue;
      if (set.size < this.maxValues) {
        set.add(v);
        continue;
      }
      values[i] = OVERFLOW_LABEL_VALUE;
      (replaced ??= []).push(i);
    }
    return replaced;
  }

  /** Gives back the slot of a value whose series were all removed (a forgotten worker's hostname). */
  release(index: number, value: string): void {
    this.seen[index]?.delete(value);
  }
}

/**
 * The label children of one family (or group of families) for one broker, created on first use
 * and cached by label values; every new label set passes the family's LabelGuard first.
 *
 * Reuse for a new family with runaway-prone labels: create its guard once, shared by brokers
 * (`metrics.labelGuard(['name', 'queue_name'])` in CeleryMetrics), then per broker
 * `new BoundedChildren(guard, ([name, queue]) => family.cell({ name, queue_name: queue, ...extra }),
 * overflowCounter(metrics.labelOverflow, extra))`, and on the event path
 * `children.get([name, queue], 'family_name').inc()`. Label sets that overflowed are never cached
 * under their own values, so a flood of distinct values costs a few Set lookups each and no memory.
 */
export class BoundedChildren<T> {
  // A tree of maps, one level per label: the lookup on the event path hashes each value (its hash
  // is cached on the string) instead of building and hashing a joined key, which was 7 % of a
  // busy daemon's CPU.
  private readonly root: Node<T> = new Map();

  constructor(
    private readonly guard: LabelGuard,
    private readonly create: (values: readonly string[]) => T,
    private readonly overflow: (metric: string, label: string) => void,
  ) {}

  /** The child for these label values (in the guard's label order); `metric` names the family counted on overflow. */
  get(values: string[], metric: string): T {
    const hit = lookup(this.root, values);
    if (hit !== undefined) return hit;
    const replaced = this.guard.cap(values);
    if (replaced === undefined) return insert(this.root, values, this.create(values));
    for (const i of replaced) this.overflow(metric, this.guard.labelNames[i]!);
    return lookup(this.root, values) ?? insert(this.root, values, this.create(values));
  }

  /**
   * Drops the cached children whose label values match (e.g. a forgotten worker's hostname) and
   * returns those values, so the caller can remove the series from its families; a later event
   * with the same values creates a fresh child.
   */
  forget(match: (values: readonly string[]) => boolean): string[][] {
    const dropped: string[][] = [];
    const live = this.guard.labelNames.map(() => new Set<string>());
    for (const values of paths(this.root, this.guard.labelNames.length)) {
      if (match(values)) {
        remove(this.root, values);
        dropped.push(values);
      } else values.forEach((v, i) => live[i]?.add(v));
    }
    // A value no child here uses any more frees its slot in the guard, so worker churn over months
    // (every pod a new hostname, each forgotten after --worker-forget-after) does not fill the cap
    // with pods long gone. Only a value that no longer appears at all is released.
    for (const values of dropped) {
      values.forEach((v, i) => {
        if (v !== OVERFLOW_LABEL_VALUE && live[i]?.has(v) !== true) this.guard.release(i, v);
      });
    }
    return dropped;
  }
}

/** Label value -> next level; the last level maps to the children. */
type Node<T> = Map<string, Node<T> | T>;

function lookup<T>(root: Node<T>, values: readonly string[]): T | undefined {
  let node = root;
  const last = values.length - 1;
  for (let i = 0; i < last; i++) {
    const next = node.get(values[i]!);
    if (next === undefined) return undefined;
    node = next as Node<T>;
  }
  return node.get(values[last]!) as T | undefined;
}

function insert<T>(root: Node<T>, values: readonly string[], child: T): T {
  let node = root;
  for (let i = 0; i < values.length - 1; i++) {
    let next = node.get(values[i]!) as Node<T> | undefined;
    if (next === undefined) {
      next = new Map();
      node.set(values[i]!, next);
    }
    node = next;
  }
  node.set(values[values.length - 1]!, child);
  return child;
}

function remove<T>(node: Node<T>, values: readonly string[], depth = 0): void {
  const key = values[depth]!;
  if (depth < values.length - 1) {
    const next = node.get(key) as Node<T> | undefined;
    if (next === undefined) return;
    remove(next, values, depth + 1);
    if (next.size > 0) return;
  }
  node.delete(key);
}

/** Every label-value path to a child (a snapshot: safe to remove while iterating it). */
function paths<T>(root: Node<T>, depth: number): string[][] {
  const out: string[][] = [];
  const walk = (node: Node<T>, prefix: string[]): void => {
    for (const [key, next] of node) {
      if (prefix.length + 1 === depth) out.push([...prefix, key]);
      else walk(next as Node<T>, [...prefix, key]);
    }
  };
  walk(root, []);
  return out;
}

/** Per-broker children of `celery_pulse_label_overflow_total`, cached by (metric, label). */
export function overflowCounter(family: CounterFamily, extra: Record<string, string>): (metric: string, label: string) => void {
  const children = new Map<string, CounterCell>();
  return (metric, label) => {
    const key = `${metric}\u0000${label}`;
    let c = children.get(key);
    if (c === undefined) {
      c = family.cell({ metric, label, ...extra });
      children.set(key, c);
    }
    c.inc();
  };
}
