/**
 * Fixed-width runs of doubles ("slots") carved out of large Float64Arrays, handed out and taken
 * back, for the numbers of the task table's records (task-record.ts).
 *
 * Why not an array per record? Each is two heap objects (the array and its backing store, about
 * 230 bytes for a task's 23 numbers) that are born with the task, promoted to the old generation
 * with it and marked and swept when it is evicted: for the default 50k tracked tasks, 12 MB of
 * live heap, and 1.5 times that in RSS once V8's growing room is counted. A slot costs its 8 bytes
 * per number, outside the garbage-collected heap, and is used again by the next task.
 *
 * Chunks never move, so a record keeps its chunk and offset for as long as it holds the slot.
 * Memory is never given back: the slab stays at the most slots held at once, which the table's
 * `--max-tracked-tasks` bounds.
 */
export class NumberSlab {
  private readonly chunks: Float64Array[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(
    /** Doubles per slot. */
    readonly width: number,
    private readonly slotsPerChunk = 1024,
  ) {}

  /** Slots ever handed out (in use or free): the slab's size. */
  get slots(): number {
    return this.nextSlot;
  }

  /** A slot for the caller to own until it `free`s it. Its numbers are whatever its last owner left. */
  alloc(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.nextSlot++;
    if (slot % this.slotsPerChunk === 0) this.chunks.push(new Float64Array(this.slotsPerChunk * this.width));
    return slot;
  }

  free(slot: number): void {
    this.freeSlots.push(slot);
  }

  /** The array holding `slot`'s numbers, from `offset(slot)` on. */
  chunk(slot: number): Float64Array {
    return this.chunks[Math.floor(slot / this.slotsPerChunk)]!;
  }

  offset(slot: number): number {
    return (slot % this.slotsPerChunk) * this.width;
  }
}
