/**
 * Fails when `npm ci` would refuse package-lock.json: out of step with package.json, or missing
 * another platform's optional package (a lock rewritten with node_modules present drops them,
 * npm/cli#4828). Runs `npm ci --dry-run` in a scratch directory holding only the manifest, the
 * lock and .npmrc, so the project's node_modules is never touched and nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const scratch = await mkdtemp(join(tmpdir(), 'cfc-lock-'));
try {
  await copyFile(join(root, 'package.json'), join(scratch, 'package.json'));
  await copyFile(join(root, 'package-lock.json'), join(scratch, 'package-lock.json'));
  await copyFile(join(root, '.npmrc'), join(scratch, '.npmrc')).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  // Under `npm run`, npm_execpath is the npm that runs us: use the same one.
  const npmCli = process.env.npm_execpath;
  const args = ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
  const result = npmCli
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd: scratch, encoding: 'utf8' })
    : spawnSync('npm', args, { cwd: scratch, encoding: 'utf8', shell: process.platform === 'win32' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    // npm follows an EUSAGE error with the whole usage text of `npm ci`: keep the error part.
    process.stderr.write(`${result.stderr.split(/^npm error Clean install a project$/m)[0]}\n`);
    process.stderr.write(
      'check-lock-file: npm ci would refuse package-lock.json. Regenerate it without node_modules:\n' +
        '  copy package.json and package-lock.json to an empty directory, run `npm install --package-lock-only` there,\n' +
        '  and copy package-lock.json back.\n',
    );
    process.exitCode = 1;
  } else {
    process.stdout.write('check-lock-file: npm ci accepts package-lock.json\n');
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
