/**
 * `cf-ai-connector check [connection]`: is this deployment ready? Its arguments and help; what it
 * does is check-deployment.ts (loaded when it runs, so `--help` stays quick).
 */
import { defineCommand } from './command.ts';

const help = `usage: cf-ai-connector check [connection]

Checks the deployment without starting any work: validates the configuration (the environment and
the whole connections file), reaches Redis, and for each connection (or the one named) obtains a
new Creative Force token and a new token of every provider the connection has credentials for.
Prints one line per check, then the webhook URL of each subfunction (PUBLIC_URL followed by
/webhooks/creative-force/<connection id>), then how many checks failed. Tokens are not cached:
each check asks the remote systems again.

options:
  -h, --help  this help

exit codes: 0 every check passed; 1 a check failed or the configuration is invalid; 2 usage (an
unknown flag, an extra argument, a connection the file does not have)`;

export const checkCommand = defineCommand({
  name: 'check',
  summary: 'check the configuration, Redis and the credentials; print the webhook URLs',
  help,
  options: {},
  maxPositionals: 1,
  async run({ positionals: [connectionId] }, io) {
    const { checkDeployment } = await import('./check-deployment.ts');
    return checkDeployment(connectionId, io);
  },
});
