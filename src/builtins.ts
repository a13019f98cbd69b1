import { createRequire } from 'node:module';
import type * as FsModule from 'node:fs';
import type * as HttpModule from 'node:http';

// `node:fs` and `node:http` are loaded the CommonJS way here, and the rest of the daemon takes them
// from this module instead of importing them. Importing a builtin as an ES module reads every
// property of its exports to bind them, and some are lazy getters that load whole subsystems:
// `node:http`'s WebSocket and its friends load undici (760 KB of source), http2 and zlib, and
// `node:fs`'s `promises` the promise API and its streams. The daemon uses none of them, and an
// idle Node 24 process carried 8.8 and 2.7 MB more RSS for them (their source, bytecode and the
// runtime pages compiling it touches). test/integration/cli.test.ts checks what the daemon loads.
const require = createRequire(import.meta.url);

export const fs = require('node:fs') as typeof FsModule;
export const http = require('node:http') as typeof HttpModule;
