/**
 * Runs `modelport <command>` as a real child process (the way Modelport's image runs it) for end-to-end tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO_ROOT } from './server.ts';

export const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

export interface CommandProcess {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

/** Spawns the command with only PATH and `env`, collecting its output. */
function spawnModelport(args: string[], env: Record<string, string>) {
  const child = spawn(NODE, [join(REPO_ROOT, 'bin', 'modelport.js'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  return { child, output };
}

/** Resolves once stdout prints a line matching `ready` (group 1 is its URL); rejects with stderr when it exits first. */
export async function startCommand(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<CommandProcess> {
  const { child, output } = spawnModelport(args, env);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', () => {
      const match = ready.exec(output.stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${output.stderr}`)));
  });
  return { url, child, stderr: () => output.stderr };
}

/** SIGTERM, then waits for the exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Runs a command to its end: its exit code and output. */
export async function runCommand(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { child, output } = spawnModelport(args, env);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, ...output };
}
