/**
 * What every command of `cf-ai-connector` shares: its arguments parsed by node's `util.parseArgs`
 * in strict mode (an unknown flag, a missing value or an argument too many is a usage error: exit
 * 2 with the command's usage on stderr), `--help` (`-h`), and one-line errors.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { isConnectorError } from '../errors.ts';

/** Where a command writes. */
export interface Output {
  write(text: string): unknown;
}

/** What a command runs with: the environment and its two outputs. */
export interface CommandIo {
  env: Record<string, string | undefined>;
  out: Output;
  err: Output;
}

/** A command of the command line. */
export interface Command {
  /** Its name, as typed. */
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** What `--help` prints: the usage line(s) first. */
  help: string;
  /**
   * Runs with the arguments after the command's name. Resolves with the exit code, or undefined
   * for a command that keeps the process running (the service: it exits on a signal).
   */
  run(args: readonly string[], io: CommandIo): Promise<number | undefined>;
}

/** A mistake in the command line, found after parsing (e.g. an unknown connection): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code of a usage error. */
export const usageExitCode = 2;

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>;

/** A command's definition: its help, its flags, how many positional arguments it takes, and what it does. */
export interface CommandSpec<O extends ParseArgsOptionsConfig> {
  /** The command's name, as typed. */
  name: string;
  summary: string;
  /** Its usage line(s), a blank line, then the rest of its help. */
  help: string;
  /** Its flags (`--help` is added). */
  options: O;
  /** The most positional arguments it takes. */
  maxPositionals: number;
  /** Runs with the parsed arguments; may throw UsageError. */
  run(args: Parsed<O>, io: CommandIo): Promise<number | undefined>;
}

export function defineCommand<const O extends ParseArgsOptionsConfig>(spec: CommandSpec<O>): Command {
  const options: ParseArgsOptionsConfig = { ...spec.options, help: { type: 'boolean', short: 'h' } };
  const usage = spec.help.split('\n\n')[0];
  const usageError = (io: CommandIo, message: string) => {
    io.err.write(`cf-ai-connector: ${oneLine(message)}\n${usage}\n(cf-ai-connector ${spec.name} --help says more)\n`);
    return usageExitCode;
  };
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(args, io) {
      let parsed: ReturnType<typeof parseArgs<{ options: typeof options; strict: true; allowPositionals: true }>>;
      try {
        parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
      } catch (err) {
        const refusal = argumentsRefusal(err);
        if (refusal === undefined) throw err;
        return usageError(io, refusal);
      }
      if (parsed.values.help === true) {
        io.out.write(`${spec.help}\n`);
        return 0;
      }
      const extra = parsed.positionals[spec.maxPositionals];
      if (extra !== undefined) return usageError(io, `unexpected argument "${extra}"`);
      try {
        return await spec.run(parsed as Parsed<O>, io);
      } catch (err) {
        if (err instanceof UsageError) return usageError(io, err.message);
        throw err;
      }
    },
  };
}

/**
 * What parseArgs refused in the arguments (an unknown flag, a missing value, an argument too
 * many), in its own first sentence; undefined when `err` is not such a refusal.
 */
export function argumentsRefusal(err: unknown): string | undefined {
  const refused =
    err instanceof TypeError && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS_');
  // The rest of an unknown option's message explains `--` for positionals that start with `-`.
  return refused ? (err.message.split('. ')[0] ?? err.message) : undefined;
}

/**
 * The connections a command works on: all, or the one `id` names.
 *
 * @throws UsageError when no connection has that id.
 */
export function pickConnections<C extends { id: string }>(connections: readonly C[], id: string | undefined): readonly C[] {
  if (id === undefined) return connections;
  const connection = connections.find((c) => c.id === id);
  if (!connection) {
    throw new UsageError(`no connection "${id}" in the connections file (it has ${connections.map((c) => c.id).join(', ')})`);
  }
  return [connection];
}

/** An error as one line for a person: `cf-ai-connector: CODE: message` (a ConnectorError's code). */
export function commandLineError(err: unknown): string {
  const text = isConnectorError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return `cf-ai-connector: ${oneLine(text)}`;
}

/** Text on one line: line breaks (e.g. a YAML error's code frame) become spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
