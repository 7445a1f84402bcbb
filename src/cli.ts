#!/usr/bin/env node
/**
 * Command line entry: `cf-ai-connector <command> [arguments]`, `--help`, `--version`. Each
 * command is a Command (operations/command.ts): strict arguments, its own `--help`, exit 2 on a
 * usage error. What a command does is loaded when it runs, so `--help`, `--version` and usage
 * errors are quick.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkCommand } from './operations/check-command.ts';
import {
  argumentsRefusal,
  type Command,
  type CommandIo,
  defineCommand,
  oneLine,
  UsageError,
  usageExitCode,
} from './operations/command.ts';
import { previewCommand } from './operations/preview-command.ts';
import { reportsCommand } from './operations/reports-command.ts';
import { tasksCommand } from './operations/tasks-command.ts';
import type { ServiceMode } from './service.ts';

const serviceCommand = (mode: ServiceMode, summary: string, description: string) =>
  defineCommand({
    name: mode,
    summary,
    help: `usage: cf-ai-connector ${mode}

${description}

options:
  -h, --help  this help

configuration: environment variables (docs/configuration.md); CONNECTIONS_FILE names the
studios' connections file`,
    options: {},
    maxPositionals: 0,
    async run(_args, io) {
      const { runService } = await import('./main.ts');
      await runService(mode, io.env);
      return undefined;
    },
  });

const demoVariants = ['convert', 'adcreative', 'rework', 'pipeline', 'video'] as const;

const demoCommand = defineCommand({
  name: 'demo',
  summary: 'a full cycle against the built-in simulators (`demo adcreative|rework|pipeline|video`: AI services too)',
  help: `usage: cf-ai-connector demo [convert|adcreative|rework|pipeline|video]

Runs one full cycle against the built-in Creative Force simulator and writes the submitted images
to ./demo-output: \`convert\` (the default) with the convert recipe, \`adcreative\` with the
AdCreative.ai photoshoot against its simulator too, \`rework\` a rework guided by a reviewer's
annotation with sartiq-edit against the Sartiq simulator, \`pipeline\` Sartiq on-model, upscale,
then a 2000 px JPEG, \`video\` Sartiq stills and a video made from the front still (the worked
examples of docs/recipes.md). Uses the Redis at REDIS_URL, or starts a throw-away redis-server.
Exit 0 when the submission was accepted.

options:
  -h, --help  this help`,
  options: {},
  maxPositionals: 1,
  async run({ positionals }) {
    const [variant = 'convert'] = positionals;
    const known = demoVariants.find((v) => v === variant);
    if (!known) throw new UsageError(`unknown demo "${variant}" (${demoVariants.join(', ')})`);
    const { runDemo } = await import('./demo.ts');
    return runDemo(known);
  },
});

/** The commands, in the order the usage lists them. */
const commands = new Map<string, Command>(
  [
    serviceCommand('start', 'receive webhooks and run workers in one process', 'Receives webhooks and runs the workers.'),
    serviceCommand(
      'serve',
      'receive webhooks only (scale workers separately)',
      "Receives webhooks only; the workers run with `work`. Reads only the receiver's part of the\nconnections file (no credentials).",
    ),
    serviceCommand(
      'work',
      'run workers only (serves /healthz and /readyz)',
      'Runs the workers only; serves /healthz and /readyz on PORT.',
    ),
    checkCommand,
    tasksCommand,
    reportsCommand,
    previewCommand,
    demoCommand,
  ].map((command) => [command.name, command]),
);

const width = Math.max(...[...commands.keys()].map((name) => name.length));
const usage = `usage: cf-ai-connector <command> [arguments]
       cf-ai-connector <command> --help
       cf-ai-connector --version

commands:
${[...commands].map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`).join('\n')}

configuration: environment variables (docs/configuration.md); CONNECTIONS_FILE names the studios' file`;

const helpCommand = defineCommand({
  name: 'help',
  summary: 'this list, or the help of a command',
  help: 'usage: cf-ai-connector help [command]',
  options: {},
  maxPositionals: 1,
  async run({ positionals: [name] }, io) {
    if (name === undefined) {
      io.out.write(`${usage}\n`);
      return 0;
    }
    const command = commands.get(name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    io.out.write(`${command.help}\n`);
    return 0;
  },
});

/** The package's version, from package.json beside src/ and dist/. */
async function version(): Promise<string> {
  const text = await readFile(new URL('../package.json', import.meta.url), 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  if (typeof version !== 'string' || version === '') throw new Error('package.json has no version');
  return version;
}

/** Runs the command line; resolves with the exit code, or undefined while a service runs. */
async function main(argv: readonly string[], io: CommandIo): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name !== undefined && !name.startsWith('-')) {
    const command = name === 'help' ? helpCommand : commands.get(name);
    if (command) return command.run(rest, io);
    io.err.write(`cf-ai-connector: unknown command "${oneLine(name)}"\n${usage}\n`);
    return usageExitCode;
  }
  let flags: { help?: boolean; version?: boolean };
  try {
    flags = parseArgs({
      args: [...argv],
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      strict: true,
    }).values;
  } catch (err) {
    const refusal = argumentsRefusal(err);
    if (refusal === undefined) throw err;
    io.err.write(`cf-ai-connector: ${oneLine(refusal)}\n${usage}\n`);
    return usageExitCode;
  }
  io.out.write(flags.version ? `${await version()}\n` : `${usage}\n`);
  return 0;
}

const code = await main(process.argv.slice(2), { env: process.env, out: process.stdout, err: process.stderr });
if (code !== undefined) process.exit(code);
