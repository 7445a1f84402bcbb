/**
 * Benchmark of a worker's memory on large inputs: how much the RSS of a process grows while the
 * `convert` recipe turns one uncompressed TIFF into its output and the result gate reads that
 * output back (probeImageOutput: the decode and the "not blank" check), the same code a worker runs
 * in steps 5 and 6 of a cycle.
 *
 * The inputs (uncompressed 8-bit RGB TIFF of 10, 50 and 200 MiB by default, photo-like noise) are
 * made with sharp in a temporary directory. Each size runs in a fresh Node process, so a figure is
 * not the high-water mark of an earlier size. "base" is that process's RSS once the service's
 * modules are loaded and sharp has converted a tiny image (libvips and its threads started);
 * "peak" is the larger of the RSS sampled every 10 ms and getrusage's maxRSS; "growth" is peak
 * minus base. The summary line compares the largest size with the targets of issue 13: growth at
 * most 64 MiB, and at most 1.2x the growth of the smallest size.
 *
 *   node bench/memory.ts [--sizes 10,50,200] [--format jpeg]
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { expectedOutputSchema } from '../src/creative-force/schemas.ts';
import { checkOutput } from '../src/cycle/gate-outputs.ts';
import { convertRecipe } from '../src/providers/index.ts';
import { convertRun } from '../test/helpers/convert-run.ts';

const targetGrowthMiB = 64;
const targetRatio = 1.2;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,50,200' },
    format: { type: 'string', default: 'jpeg' },
    child: { type: 'string' },
  },
});

const mib = (bytes: number) => bytes / 1024 / 1024;

/** Resident memory in MiB: all of it, and (on Linux) its anonymous and file-backed parts. */
interface Resident {
  rss: number;
  anon: number;
  file: number;
}

/** RssAnon and RssFile of /proc/self/status (NaN where there is none); rss from Node. */
function residentMiB(): Resident {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {}
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: mib(process.memoryUsage.rss()), anon: field('RssAnon'), file: field('RssFile') };
}

interface Measurement {
  base: Resident;
  peak: Resident;
  ms: number;
  width: number;
  height: number;
  outputMiB: number;
}

/** Child side: one recipe run and gate check of `inputPath`, one JSON line on stdout. */
async function measure(inputPath: string, format: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-memory-run-'));
  try {
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .jpeg()
      .toFile(join(dir, 'warm-up.jpg'));
    const base = residentMiB();
    const peak = { ...base };
    const sample = () => {
      const now = residentMiB();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.anon = Math.max(peak.anon, now.anon);
      peak.file = Math.max(peak.file, now.file);
    };
    const sampler = setInterval(sample, 10);
    const started = performance.now();
    const slot = expectedOutputSchema.parse({
      mappingKeyId: 'mk-1',
      positionName: 'Front',
      assetContentTypeId: 1,
      isRequired: true,
      minQuantity: 1,
    });
    const outputDir = join(dir, 'out');
    await mkdir(outputDir);
    const size = (await stat(inputPath)).size;
    const result = await convertRecipe.run(
      convertRun({
        slots: [slot],
        inputs: [
          { path: inputPath, fileName: 'capture.tif', bytes: size, assetId: 'a-1', positionName: 'Front', positionTagId: null },
        ],
        rawOptions: { format },
        outputDir,
        signal: AbortSignal.timeout(600_000),
      }),
    );
    const output = result.get('mk-1')?.[0];
    if (output === undefined) throw new Error('the recipe produced no output');
    const refused = await checkOutput(output, { refuseBlank: true });
    if (refused) throw new Error(`the gate refused the output: ${refused.reason}`);
    const ms = performance.now() - started;
    clearInterval(sampler);
    sample();
    peak.rss = Math.max(peak.rss, process.resourceUsage().maxRSS / 1024);
    const meta = await sharp(output.path).metadata();
    const measurement: Measurement = {
      base,
      peak,
      ms,
      width: meta.width,
      height: meta.height,
      outputMiB: mib(output.bytes),
    };
    console.log(JSON.stringify(measurement));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * An uncompressed RGB TIFF of about `sizeMiB`, 3:2, photo-like: smooth shapes of every colour (a
 * noise field 1/16 of the size, scaled up) with fine grain over them (a tile of noise), so the JPEG
 * the recipe writes is about the size a camera's is (about 23 MiB for 70 megapixels at quality 90),
 * and the gate sees a picture, not a flat frame. Pure noise would make a JPEG four times that.
 */
async function makeTiff(path: string, sizeMiB: number): Promise<{ width: number; height: number; bytes: number }> {
  const pixels = (sizeMiB * 1024 * 1024) / 3;
  const width = Math.round(Math.sqrt(pixels * 1.5));
  const height = Math.round(pixels / width);
  const noise = (w: number, h: number, sigma: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma } } })
      .raw()
      .toBuffer({ resolveWithObject: true });
  const shapes = await noise(Math.ceil(width / 16), Math.ceil(height / 16), 50);
  const grain = await noise(512, 512, 8);
  await sharp(shapes.data, { raw: shapes.info })
    .resize(width, height, { kernel: 'cubic' })
    .composite([{ input: grain.data, raw: grain.info, tile: true, blend: 'soft-light' }])
    .removeAlpha()
    .tiff({ compression: 'none' })
    .toFile(path);
  return { width, height, bytes: (await stat(path)).size };
}

/** The allocator the children run with: glibc's, or a preloaded one, and its settings. */
function allocator(): string {
  const settings = ['LD_PRELOAD', 'MALLOC_CONF', 'MALLOC_ARENA_MAX']
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]}`);
  return settings.length > 0 ? settings.join(' ') : 'glibc malloc, defaults';
}

if (values.child !== undefined) {
  await measure(values.child, values.format);
} else {
  const sizes = values.sizes.split(',').map(Number);
  const dir = await mkdtemp(join(tmpdir(), 'bench-memory-'));
  const run = promisify(execFile);
  const rows: { sizeMiB: number; growth: number }[] = [];
  console.log(
    `convert recipe (${values.format}, full size) + result gate on uncompressed TIFF; fresh process per size; ` +
      `${availableParallelism()} cores, sharp concurrency ${sharp.concurrency()}, allocator: ${allocator()}\n`,
  );
  const head = ['base', 'peak', 'growth', 'x 1st', 'anon+', 'file+', 'output', 's'];
  console.log(`${'input (MiB)'.padEnd(28)}${head.map((h) => h.padStart(8)).join('')}`);
  try {
    for (const sizeMiB of sizes) {
      const path = join(dir, `input-${sizeMiB}.tif`);
      const input = await makeTiff(path, sizeMiB);
      const { stdout } = await run(process.execPath, [process.argv[1] ?? '', '--child', path, '--format', values.format], {
        maxBuffer: 1024 * 1024,
        env: process.env,
      });
      await rm(path);
      const m = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Measurement;
      const growth = m.peak.rss - m.base.rss;
      rows.push({ sizeMiB, growth });
      const first = rows[0]?.growth ?? growth;
      const label = `${mib(input.bytes).toFixed(0)} ${input.width}x${input.height}`;
      const cells = [
        m.base.rss,
        m.peak.rss,
        growth,
        growth / first,
        m.peak.anon - m.base.anon,
        m.peak.file - m.base.file,
        m.outputMiB,
        m.ms / 1000,
      ];
      console.log(`${label.padEnd(28)}${cells.map((c, i) => c.toFixed(i === 3 ? 2 : i === 7 ? 1 : 0).padStart(8)).join('')}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const first = rows[0];
  const last = rows.at(-1);
  if (first && last) {
    const ratio = last.growth / first.growth;
    const ok = last.growth <= targetGrowthMiB && ratio <= targetRatio;
    console.log(
      `\nsummary: ${last.sizeMiB} MiB TIFF grows RSS by ${last.growth.toFixed(0)} MiB (target <= ${targetGrowthMiB}), ` +
        `${ratio.toFixed(2)}x the ${first.sizeMiB} MiB input (target <= ${targetRatio}x): ${ok ? 'targets met' : 'targets NOT met'}`,
    );
  }
}
