#!/usr/bin/env node
/** Command line entry: `cf-ai-connector <start|serve|work|demo|reports>`. */
import { runService } from './main.ts';

const usage = `usage: cf-ai-connector <command>

commands:
  start   receive webhooks and run workers in one process
  serve   receive webhooks only (scale workers separately)
  work    run workers only (serves /healthz and /readyz)
  demo    run a full cycle against the built-in Creative Force simulator
          (\`demo adcreative\`: the AdCreative.ai photoshoot against its simulator too)
  reports the failure reports Creative Force never got; \`reports resend <id>|--all\` sends them again

configuration: environment variables (see README.md), CONNECTIONS_FILE for the studios`;

const command = process.argv[2];
switch (command) {
  case 'start':
  case 'serve':
  case 'work':
    await runService(command);
    break;
  case 'demo': {
    const { runDemo } = await import('./demo.ts');
    const variant = process.argv[3] ?? 'convert';
    if (variant !== 'convert' && variant !== 'adcreative') {
      process.stderr.write(`cf-ai-connector: unknown demo "${variant}" (convert or adcreative)\n`);
      process.exit(2);
    }
    process.exit(await runDemo(variant));
    break;
  }
  case 'reports': {
    const { runReportsCommand } = await import('./operations/reports-command.ts');
    process.exit(await runReportsCommand(process.argv.slice(3)));
    break;
  }
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(`${usage}\n`);
    break;
  default:
    process.stderr.write(`cf-ai-connector: unknown command "${command}"\n${usage}\n`);
    process.exit(2);
}
