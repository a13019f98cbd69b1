/**
 * The task table's index: task id → record, an open-addressing hash table with linear probing.
 *
 * Why not a `Map`? The table deletes as often as it inserts (every new task evicts an old one), and
 * V8's `Map` leaves a deleted entry in place until its table fills up and is rebuilt. For the
 * default 50k tasks it settles at 131072 entries of three words plus buckets (3.7 MB, in the large
 * object space) and allocates a fresh copy of that every ~80k new tasks, twice a second at the
 * benchmark's rates: old-generation growth that brings full collections sooner. Here a deletion
 * empties its slot at once (backward-shift deletion), so the arrays stay at two to four times the
 * most ids held (1 MB of slots and 0.5 MB of hashes for 50k) and are only reallocated to grow.
 *
 * The hash is FNV-1a of the id's UTF-16 code units, in two interleaved lanes, with a per-process
 * seed, so that ids chosen to collide cannot be prepared in advance. Each slot's hash is kept
 * beside it: a probe compares numbers in one typed array and reads a record only when the hashes
 * match.
 */
export class TaskIndex<T extends { readonly uuid: string }> {
  private slots: (T | undefined)[];
  private hashes: Int32Array;
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Slots allocated: a power of two, at least twice `size`, never shrinking. */
  get capacity(): number {
    return this.slots.length;
  }

  /** The entry under `key`; `h` is `hashOf(key)`, passed in when the caller has it already. */
  get(key: string, h: number = hashOf(key)): T | undefined {
    const { slots, hashes, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const entry = slots[i];
      if (entry === undefined) return undefined;
      if (hashes[i] === h && entry.uuid === key) return entry;
    }
  }

  /** Adds `entry` under its uuid, which must not be in the index; `h` is `hashOf(entry.uuid)`. */
  add(entry: T, h: number = hashOf(entry.uuid)): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    this.place(entry, h);
    this.count++;
  }

  /** Removes `entry` (the very object), if it is there. */
  delete(entry: T): boolean {
    const h = hashOf(entry.uuid);
    const { slots, hashes, mask } = this;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const e = slots[i];
      if (e === undefined) return false;
      if (e === entry) break;
    }
    // Backward shift: each following entry of the probe run that may live earlier moves into the
    // hole, so that no lookup ever stops at an empty slot short of its entry.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = slots[j];
      if (e === undefined) break;
      const home = hashes[j]! & mask;
      // The entry at j stays when its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[i] = e;
      hashes[i] = hashes[j]!;
      i = j;
    }
    slots[i] = undefined;
    this.count--;
    return true;
  }

  private place(entry: T, h: number): void {
    const { slots, mask } = this;
    let i = h & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = entry;
    this.hashes[i] = h;
  }

  private grow(): void {
    const old = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.hashes = new Int32Array(old.length * 2);
    this.mask = old.length * 2 - 1;
    for (let i = 0; i < old.length; i++) {
      const e = old[i];
      if (e !== undefined) this.place(e, oldHashes[i]!);
    }
  }
}

const SEED = (Math.random() * 2 ** 32) | 0;

/** The index's hash of a task id: computed once by a caller that looks an id up and then adds it. */
export function hashOf(key: string): number {
  // Two interleaved FNV-1a lanes, even and odd code units: each multiply waits for the one before
  // it in its lane only, which halves the time of a 36-character uuid.
  let a = 0x811c9dc5 ^ SEED;
  let b = 0x01000193 ^ SEED;
  const n = key.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    a = Math.imul(a ^ key.charCodeAt(i), 0x01000193);
    b = Math.imul(b ^ key.charCodeAt(i + 1), 0x01000193);
  }
  if (i < n) a = Math.imul(a ^ key.charCodeAt(i), 0x01000193);
  const h = Math.imul(a ^ (b >>> 13) ^ (b << 7), 0x01000193) ^ n;
  // FNV's low bits are its weakest and the slot is taken from them: fold the high half in.
  return h ^ (h >>> 16);
}
