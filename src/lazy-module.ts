import { createRequire } from 'node:module';

// Libraries only some configurations use (the AMQP client, YAML, msgpack, bcrypt) are loaded on
// first use, not at start-up: each one loaded costs an idle daemon megabytes of RSS (its source,
// bytecode and the runtime pages compiling it touches), and most daemons never need most of them.
// Asynchronous callers (the AMQP sources, bcrypt's compare) use import(); this is for the
// synchronous ones (config and web-config parsing, the msgpack decoder).

const require = createRequire(import.meta.url);

/** A synchronous loader of module `id`: require()d on the first call, the same object after. */
export function lazyModule<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
