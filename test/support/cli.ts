/** Runs the `modelport` CLI in this process with captured output, the way a user's shell would call it. */
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(url: string, ...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    { MODELPORT_URL: url },
    {
      out: (t) => {
        stdout += t;
      },
      err: (t) => {
        stderr += t;
      },
      interactive: false,
    },
  );
  return { code, stdout, stderr };
}

/** Runs the CLI and parses its `-o json` output; fails with the CLI's stderr when it exits non-zero. */
export async function cliJson<T>(url: string, ...argv: string[]): Promise<T> {
  const result = await cli(url, ...argv, '-o', 'json');
  if (result.code !== 0) throw new Error(`modelport ${argv.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
