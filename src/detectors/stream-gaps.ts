/**
 * Holes in the event stream of one broker. Redis pub/sub keeps nothing for a subscriber that is
 * away (PROTOCOL.md §1), so every disconnection after the first connection is a gap in history:
 * counted when it starts, its length added when it ends, and the running one included when read.
 * The wait before the very first connection is not a gap: there was no history yet.
 */
export class StreamGapTracker {
  gaps = 0;
  private closedSeconds = 0;
  private downSince: number | undefined;
  private everUp = false;

  up(now: number): void {
    this.everUp = true;
    if (this.downSince === undefined) return;
    this.closedSeconds += Math.max(0, now - this.downSince);
    this.downSince = undefined;
  }

  down(now: number): void {
    if (!this.everUp || this.downSince !== undefined) return;
    this.downSince = now;
    this.gaps++;
  }

  /** Total seconds disconnected, the current gap included. */
  seconds(now: number): number {
    return this.closedSeconds + (this.downSince === undefined ? 0 : Math.max(0, now - this.downSince));
  }
}
