import { execFileSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { environmentVariableNames, loadEnvConfig } from '../../src/config/env.ts';
import {
  assumedPathEnv,
  fieldAliasesEnv,
  idListBodyEnv,
  keepOldAssetReferenceEnv,
  keptOutputDownloadEnv,
  signatureVariants,
  statusBodyFieldEnv,
} from '../../src/creative-force/contract.ts';
import { errorCatalogue } from '../../src/errors.ts';
import { forcedCloseMs } from '../../src/service.ts';

const root = new URL('../../', import.meta.url);
const read = (file: string) => readFile(new URL(file, root), 'utf8');
const exists = (file: string) =>
  stat(new URL(file, root)).then(
    () => true,
    () => false,
  );

/** The variables the configuration reads (the service's and every provider module's), so a new one cannot hide. */
function envVariables(): readonly string[] {
  return environmentVariableNames;
}

/** Every Markdown page under docs/, as a path from the project root (e.g. `docs/errors.md`). */
async function docsPages(): Promise<string[]> {
  const entries = await readdir(new URL('docs/', root), { recursive: true });
  return entries
    .filter((entry) => entry.endsWith('.md'))
    .map((entry) => `docs/${entry.split('\\').join('/')}`)
    .sort();
}

const withoutCodeBlocks = (markdown: string) => markdown.replace(/```[\s\S]*?```/g, '');

/** The anchors GitHub gives the headings of a Markdown page. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of withoutCodeBlocks(markdown).matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const slug = (m[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n += 1) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** The relative link targets of a Markdown page (external links and code spans left out). */
function relativeLinks(markdown: string): string[] {
  const text = withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The files git tracks, as paths from the project root. */
function trackedFiles(): string[] {
  const listing = execFileSync('git', ['ls-files', '-z'], { cwd: new URL('.', root), encoding: 'utf8' });
  return listing.split('\0').filter(Boolean);
}

describe('documentation stays true to the code', () => {
  it('docs/configuration.md and .env.example list every environment variable', async () => {
    const [configuration, example, vars] = await Promise.all([
      read('docs/configuration.md'),
      read('.env.example'),
      envVariables(),
    ]);
    expect(vars.length).toBeGreaterThan(20);
    for (const name of vars) {
      expect(configuration, name).toContain(`\`${name}\``);
      expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
    }
  });

  it("each provider's page names every variable of that provider", async () => {
    const vars = await envVariables();
    for (const [prefix, page] of [
      ['ADCREATIVE_', 'docs/providers/adcreative.md'],
      ['SARTIQ_', 'docs/providers/sartiq.md'],
      ['FIREFLY_', 'docs/providers/firefly.md'],
    ] as const) {
      const text = await read(page);
      const own = vars.filter((name) => name.startsWith(prefix));
      expect(own.length, prefix).toBeGreaterThan(0);
      for (const name of own) expect(text, `${page}: ${name}`).toContain(`\`${name}\``);
    }
  });

  it('docs/creative-force-contract.md names the override of every ASSUMED path and value', async () => {
    const contract = await read('docs/creative-force-contract.md');
    const toConfirm = contract.slice(contract.indexOf('## To confirm with Creative Force'));
    expect(toConfirm.length).toBeLessThan(contract.length);
    for (const name of [
      ...Object.values(assumedPathEnv),
      ...Object.values(statusBodyFieldEnv),
      ...Object.values(idListBodyEnv),
      fieldAliasesEnv,
      keepOldAssetReferenceEnv,
      keptOutputDownloadEnv,
      'CF_FAILED_STATUS',
      'signatureScheme',
    ]) {
      expect(toConfirm, name).toContain(`\`${name}\``);
    }
    for (const variant of signatureVariants) expect(contract, variant).toContain(`\`${variant}\``);
  });

  it('docs/errors.md documents every error code in its table', async () => {
    const errors = await read('docs/errors.md');
    for (const code of Object.keys(errorCatalogue)) expect(errors, code).toMatch(new RegExp(`^\\| +\`${code}\` +\\|`, 'm'));
  });

  it('README gives the two commands, and .ci/run calls the test one', async () => {
    const [readme, ci] = await Promise.all([read('README.md'), read('.ci/run')]);
    expect(readme).toContain('make demo');
    expect(readme).toContain('make test');
    expect(ci).toMatch(/^make test$/m);
  });

  it('README links every docs page', async () => {
    const [readme, pages] = await Promise.all([read('README.md'), docsPages()]);
    expect(pages.length).toBeGreaterThan(5);
    const linked = new Set(relativeLinks(readme).map((target) => normalize(target.split('#')[0] ?? '')));
    for (const page of pages) expect(linked.has(normalize(page)), page).toBe(true);
  });

  it('every relative link of README and docs/ points at an existing file and heading', async () => {
    for (const page of ['README.md', ...(await docsPages())]) {
      const links = relativeLinks(await read(page));
      for (const link of links) {
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? page : normalize(join(dirname(page), path));
        expect(await exists(target), `${page} → ${link}`).toBe(true);
        if (anchor && target.endsWith('.md')) {
          expect(headingAnchors(await read(target)).has(anchor), `${page} → ${link}`).toBe(true);
        }
      }
    }
  });

  it('no tracked file points outside the project', async () => {
    const outside = ['..', 'shared'].join('/');
    const files = trackedFiles();
    expect(files).toContain('README.md');
    const offenders: string[] = [];
    for (const file of files) {
      if (!(await exists(file))) continue; // deleted in the work tree, not yet in the index
      if ((await read(file)).includes(outside)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});

describe('Docker files (checked statically: no Docker engine here)', () => {
  interface ComposeService {
    image?: string;
    build?: unknown;
    pull_policy?: string;
    command?: string[];
    environment?: Record<string, string | null>;
    env_file?: unknown;
    ports?: string[];
    volumes?: string[];
    container_name?: string;
    healthcheck?: { test?: string[] };
    stop_grace_period?: string;
  }
  const readCompose = async () =>
    parseYaml(await read('docker-compose.yml')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };

  it('the Dockerfile is multi-stage on Node 24 slim, non-root, with an init, a healthcheck and jemalloc', async () => {
    const dockerfile = await read('Dockerfile');
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const image of stages) expect(image).toMatch(/^node:24-[a-z]+-slim$/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/LD_PRELOAD=\/usr\/local\/lib\/libjemalloc\.so\.2/);
    expect(dockerfile).toMatch(/MALLOC_ARENA_MAX=2/);
    // Every file the build stage copies exists.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/\S*$/gm)) {
      for (const path of (m[1] ?? '').split(' ')) expect(await exists(path), path).toBe(true);
    }
  });

  it('the Dockerfile installs exactly the lock file, and WORK_DIR belongs to node', async () => {
    const dockerfile = await read('Dockerfile');
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).not.toMatch(/npm install/);
    const workDir = dockerfile.match(/WORK_DIR=(\S+)/)?.[1];
    expect(workDir).toBeDefined();
    expect(dockerfile).toContain(`install -d -o node -g node ${workDir}`);
  });

  it('.dockerignore keeps secrets, installs and history out of the build context, and nothing the build copies', async () => {
    const ignored = (await read('.dockerignore')).split('\n').filter((line) => line.trim() && !line.startsWith('#'));
    for (const path of ['.env', 'node_modules', '.git', '.tools', 'dist', 'coverage', 'demo-output']) {
      expect(ignored, path).toContain(path);
    }
    const dockerfile = await read('Dockerfile');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/\S*$/gm)) {
      for (const path of (m[1] ?? '').split(' ')) expect(ignored, path).not.toContain(path);
    }
  });

  it('compose runs Redis with AOF everysec and noeviction, a receiver and a scalable worker', async () => {
    const compose = await readCompose();
    const redis = compose.services.redis?.command?.join(' ') ?? '';
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--appendfsync everysec');
    expect(redis).toContain('--maxmemory-policy noeviction');
    expect(compose.volumes).toHaveProperty('redis-data');
    expect(compose.services.receiver?.command).toEqual(['serve']);
    expect(compose.services.worker?.command).toEqual(['work']);
    // --scale needs a worker without fixed ports or container names.
    expect(compose.services.worker?.ports).toBeUndefined();
    expect(compose.services.worker?.container_name).toBeUndefined();
    for (const service of ['receiver', 'worker']) {
      for (const volume of compose.services[service]?.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./')) expect(await exists(source.slice(2)), source).toBe(true);
      }
    }
  });

  it('compose builds one image, which the receiver and the workers share', async () => {
    const { services } = await readCompose();
    const built = Object.entries(services).filter(([, s]) => s.build !== undefined);
    expect(built.map(([name]) => name)).toEqual(['receiver']);
    expect(services.receiver?.image).toMatch(/^cf-ai-connector:/);
    expect(services.worker?.image).toBe(services.receiver?.image);
    // Neither looks for the local image in a registry.
    expect(services.receiver?.pull_policy).toBe('build');
    expect(services.worker?.pull_policy).toBe('never');
  });

  it('Redis requires the password from .env, the healthcheck authenticates, and REDIS_URL carries it', async () => {
    const { services } = await readCompose();
    const required = /^\$\{REDIS_PASSWORD:\?[^}]+\}$/;
    const command = services.redis?.command ?? [];
    expect(command[command.indexOf('--requirepass') + 1]).toMatch(required);
    expect(services.redis?.ports).toBeUndefined();
    // redis-cli reads REDISCLI_AUTH; it exits 0 on NOAUTH, so only PONG proves the password works.
    expect(services.redis?.environment?.REDISCLI_AUTH).toMatch(required);
    expect(services.redis?.healthcheck?.test?.join(' ')).toMatch(/redis-cli ping \| grep -q PONG/);
    for (const service of ['receiver', 'worker']) {
      expect(services[service]?.environment?.REDIS_URL, service).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/);
    }
    expect(await read('.env.example')).toMatch(/^REDIS_PASSWORD=/m);
  });

  it('the receiver gets its webhook secrets and no credential: no env_file', async () => {
    const { services } = await readCompose();
    const receiver = services.receiver;
    expect(receiver?.env_file).toBeUndefined();
    const given = Object.keys(receiver?.environment ?? {});
    // Every ${VAR} docker/connections.yaml references: the webhook secrets, and the credentials.
    const connections = await read('docker/connections.yaml');
    const referenced = (text: string) => [...text.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1] ?? '');
    const webhookSecrets = referenced(
      connections
        .split('\n')
        .filter((line) => /webhookSecrets:/.test(line))
        .join('\n'),
    );
    expect(webhookSecrets.length).toBeGreaterThan(0);
    for (const name of webhookSecrets) expect(given, name).toContain(name);
    for (const name of referenced(connections).filter((n) => !webhookSecrets.includes(n)))
      expect(given, name).not.toContain(name);
    // Nor any studio secret .env.example lists (its section after "Secrets of each studio").
    const studioSecrets = (await read('.env.example')).split(/^# Secrets of each studio.*$/m)[1] ?? '';
    const credentials = [...studioSecrets.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1] ?? '');
    expect(credentials.length).toBeGreaterThan(5);
    for (const name of credentials.filter((n) => !webhookSecrets.includes(n))) expect(given, name).not.toContain(name);
    // The rest are settings the service reads.
    const settings = await envVariables();
    for (const name of given.filter((n) => !webhookSecrets.includes(n))) expect(settings, name).toContain(name);
  });

  it('the workers keep WORK_DIR on a volume, and Docker waits for the shutdown deadline before it kills', async () => {
    const { services, volumes } = await readCompose();
    const workDir = services.worker?.environment?.WORK_DIR;
    expect(workDir).toBeDefined();
    const mount = (services.worker?.volumes ?? []).find((v) => v.split(':')[1] === workDir);
    expect(mount, `a volume at ${workDir}`).toBeDefined();
    expect(volumes).toHaveProperty(mount?.split(':')[0] ?? '');
    // stop() may take SHUTDOWN_TIMEOUT_MS + forcedCloseMs; Docker's SIGKILL must come later.
    const bound = loadEnvConfig({}).shutdownTimeoutMs + forcedCloseMs;
    for (const service of ['receiver', 'worker']) {
      const grace = Number(services[service]?.stop_grace_period?.replace(/s$/, '')) * 1000;
      expect(grace, service).toBeGreaterThan(bound);
    }
  });
});
