import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

// The worker thread of bcrypt-checker.ts: one compare at a time, off the event loop.
parentPort?.on('message', (m: { id: number; password: string; hash: string }) => {
  parentPort?.postMessage({ id: m.id, ok: bcrypt.compareSync(m.password, m.hash) });
});
