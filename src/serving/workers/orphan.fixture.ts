/**
 * Test fixture: a parent that starts one worker, prints its pid as a line, and waits to be killed. The orphan test
 * kills this parent with SIGKILL and checks that the worker exits on its own.
 */
import { WorkerProcess } from './worker-process.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: orphan.fixture.ts <model.onnx>');
const worker = new WorkerProcess({ kind: 'onnx', load: { path }, stdio: 'ignore' });
await worker.start();
process.stdout.write(`${worker.pid}\n`);
setInterval(() => {}, 60_000);
