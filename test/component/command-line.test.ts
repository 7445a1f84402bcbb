/**
 * The command line as a whole, spawned as a real process: `--version`, every command's `--help`,
 * strict arguments (exit 2 with the usage), a configuration error as one readable line, and a
 * start failure after the configuration as one fatal log line.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl, testPrefix } from '../helpers/redis.ts';
import { runCli } from '../helpers/run-cli.ts';

/** The command names the top-level usage lists, in its order. */
function listedCommands(usage: string): string[] {
  const list = usage.split('\ncommands:\n')[1]?.split('\n\n')[0] ?? '';
  return list.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '');
}

describe('the command line', () => {
  let dir: string;
  let connectionsFile: string;
  let badYaml: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cfc-cli-'));
    connectionsFile = join(dir, 'connections.yaml');
    await writeFile(
      connectionsFile,
      `connections:
  - id: acme
    name: Acme
    creativeForce: { clientId: acme-client, clientSecret: s3cret, webhookSecrets: ["${randomBytes(32).toString('base64')}"] }
    subfunctions:
      "54": { recipe: convert, options: { format: jpeg } }
`,
    );
    // The YAML parser's message of this file has a code frame over several lines.
    badYaml = join(dir, 'bad.yaml');
    await writeFile(badYaml, 'connections:\n  - id: acme\n    name: [unclosed\n');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('--help lists every command, and every command has --help', async () => {
    const top = await runCli(['--help']);
    expect(top).toMatchObject({ code: 0, stderr: '' });
    expect(top.stdout).toMatch(/^usage: cf-ai-connector <command>/);
    expect(await runCli([])).toEqual(top);
    const names = listedCommands(top.stdout);
    expect(names).toEqual(['start', 'serve', 'work', 'check', 'tasks', 'reports', 'preview', 'demo']);
    const helps = await Promise.all(names.map((name) => runCli([name, '--help'])));
    for (const [i, name] of names.entries()) {
      expect(helps[i], name).toMatchObject({ code: 0, stderr: '' });
      expect(helps[i]?.stdout, name).toMatch(new RegExp(`^usage: cf-ai-connector ${name}\\b`));
      expect(helps[i]?.stdout, name).toMatch(/-h, --help/);
    }
    // `-h` and `help <command>` say the same.
    expect(await runCli(['check', '-h'])).toEqual(helps[names.indexOf('check')]);
    expect(await runCli(['help', 'reports'])).toEqual(helps[names.indexOf('reports')]);
  });

  it('refuses unknown flags and extra arguments with exit 2 and the usage, before doing anything', async () => {
    const refused: [args: string[], says: RegExp][] = [
      [['--bogus'], /^cf-ai-connector: Unknown option '--bogus'\nusage: cf-ai-connector <command>/],
      [['--version', 'extra'], /^cf-ai-connector: Unexpected argument 'extra'\nusage: cf-ai-connector <command>/],
      [['nonsense'], /^cf-ai-connector: unknown command "nonsense"\nusage: cf-ai-connector <command>/],
      [['start', '--port', '80'], /^cf-ai-connector: Unknown option '--port'\nusage: cf-ai-connector start\n/],
      [['serve', 'extra'], /^cf-ai-connector: unexpected argument "extra"\nusage: cf-ai-connector serve\n/],
      [['work', '--', '--help'], /^cf-ai-connector: unexpected argument "--help"\nusage: cf-ai-connector work\n/],
      [['check', 'acme', 'more'], /^cf-ai-connector: unexpected argument "more"\nusage: cf-ai-connector check/],
      [['check', '--verbose'], /^cf-ai-connector: Unknown option '--verbose'\nusage: cf-ai-connector check/],
      [['reports', 'list', 'x'], /^cf-ai-connector: unexpected argument "x"\nusage: cf-ai-connector reports/],
      [['reports', '--json=yes'], /^cf-ai-connector: Option '--json' does not take an argument\nusage: cf-ai-connector reports/],
      [['reports', 'resend'], /^cf-ai-connector: resend takes dead letter ids or --all\nusage: cf-ai-connector reports/],
      [['reports', 'resend', '--all', 'x'], /^cf-ai-connector: resend takes dead letter ids or --all\n/],
      [['reports', 'undo'], /^cf-ai-connector: unknown reports command "undo" \(list or resend\)\n/],
      [['demo', 'convert', 'again'], /^cf-ai-connector: unexpected argument "again"\nusage: cf-ai-connector demo/],
      [
        ['demo', 'nope'],
        /^cf-ai-connector: unknown demo "nope" \(convert, adcreative, rework, pipeline, video\)\nusage: cf-ai-connector demo/,
      ],
      [['help', 'nope'], /^cf-ai-connector: unknown command "nope"\n/],
    ];
    // A working configuration: a command that ignored its arguments would start (and not exit 2).
    const env = { CONNECTIONS_FILE: connectionsFile, REDIS_URL: redisUrl, QUEUE_PREFIX: testPrefix('cli'), PORT: '0' };
    const runs = await Promise.all(refused.map(([args]) => runCli(args, env)));
    for (const [i, [args, says]] of refused.entries()) {
      const run = runs[i];
      expect(run?.code, args.join(' ')).toBe(2);
      expect(run?.stdout, args.join(' ')).toBe('');
      expect(run?.stderr, args.join(' ')).toMatch(says);
    }
  });

  it('prints a configuration error as one readable line on stderr, and exits 1', async () => {
    const cases: [args: string[], env: Record<string, string>, says: RegExp][] = [
      ...['start', 'serve', 'work', 'check', 'reports'].map((command): [string[], Record<string, string>, RegExp] => [
        [command],
        { CONNECTIONS_FILE: connectionsFile, PORT: 'eighty' },
        /^CONFIG_INVALID: invalid environment: PORT: /,
      ]),
      ...['start', 'check'].map((command): [string[], Record<string, string>, RegExp] => [
        [command],
        { CONNECTIONS_FILE: badYaml },
        /^CONFIG_INVALID: CONNECTIONS_FILE: .*bad\.yaml is not valid YAML or JSON: .* at line \d+, column \d+$/,
      ]),
      [['serve'], {}, /^CONFIG_INVALID: CONNECTIONS_FILE: required/],
      [['check'], { CONNECTIONS_FILE: connectionsFile, PUBLIC_URL: 'https://x.example/?a=1' }, /^CONFIG_INVALID: .*PUBLIC_URL: /],
    ];
    const runs = await Promise.all(cases.map(([args, env]) => runCli(args, env)));
    for (const [i, [args, env, says]] of cases.entries()) {
      const run = runs[i];
      const what = `${args.join(' ')} ${JSON.stringify(env)}`;
      expect(run?.code, what).toBe(1);
      expect(run?.stdout, what).toBe('');
      const lines = run?.stderr.split('\n') ?? [];
      expect(lines, what).toHaveLength(2); // one line and its newline
      expect(lines[0]?.replace(/^cf-ai-connector: /, ''), what).toMatch(says);
    }
  });

  it('logs a start failure after the configuration as one fatal JSON line', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const address = busy.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const run = await runCli(['serve'], {
        CONNECTIONS_FILE: connectionsFile,
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: testPrefix('cli'),
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('');
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? '')).toMatchObject({
        level: 60,
        msg: 'cf-ai-connector could not start',
        err: { code: 'EADDRINUSE' },
      });
    } finally {
      busy.close();
    }
  });
});
