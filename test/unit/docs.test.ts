import { readFile, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { environmentVariableNames } from '../../src/config/env.ts';
import { errorCatalogue } from '../../src/errors.ts';

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

describe('documentation stays true to the code', () => {
  it('README and .env.example list every environment variable', async () => {
    const [readme, example, vars] = await Promise.all([read('README.md'), read('.env.example'), envVariables()]);
    expect(vars.length).toBeGreaterThan(20);
    for (const name of vars) {
      expect(readme, name).toContain(`\`${name}\``);
      expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
    }
  });

  it('README documents every error code', async () => {
    const readme = await read('README.md');
    for (const code of Object.keys(errorCatalogue)) expect(readme, code).toMatch(new RegExp(`^\\| +\`${code}\` +\\|`, 'm'));
  });

  it('README gives the two commands, and .ci/run calls the test one', async () => {
    const [readme, ci] = await Promise.all([read('README.md'), read('.ci/run')]);
    expect(readme).toContain('make demo');
    expect(readme).toContain('make test');
    expect(ci).toMatch(/^make test$/m);
  });
});

describe('Docker files (checked statically: no Docker engine here)', () => {
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

  it('compose runs Redis with AOF everysec and noeviction, a receiver and a scalable worker', async () => {
    const compose = parseYaml(await read('docker-compose.yml')) as {
      services: Record<string, { command?: string[]; ports?: string[]; volumes?: string[]; container_name?: string }>;
      volumes: Record<string, unknown>;
    };
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
});
