/**
 * Test fixture run as a child process by metadata-store.test.ts: `node metadata-store.child.ts '<options json>'
 * [modelId bumps]`. It loads everything, prints `ready`, waits for a line on stdin so that sibling processes start
 * together, then opens the store (which migrates) and, given a model id, registers `bumps` versions of it the way
 * the registry does. Prints `done`; any failure exits non-zero.
 */

import { registerVersion } from './metadata-store.fixture.ts';
import { openMetadataStore } from './metadata-store.ts';

const [options, modelId, bumps] = process.argv.slice(2);
if (options === undefined) throw new Error('usage: metadata-store.child.ts <options json> [modelId bumps]');

process.stdout.write('ready\n');
for await (const _ of process.stdin) break;

const store = await openMetadataStore(JSON.parse(options));
try {
  if (modelId !== undefined) {
    for (let i = 0; i < Number(bumps); i++) await registerVersion(store, modelId);
  }
} finally {
  await store.close();
}
process.stdout.write('done\n');
