/**
 * Benchmark of the `convert` path: wall time and peak RSS of converting a camera-size JPEG
 * (6000x4000 by default) with `convertImage`, in the formats and sizes the recipe offers.
 *
 * Each scenario runs in a fresh Node process, so its peak RSS (getrusage maxRSS) is its own and not
 * the high-water mark of an earlier scenario. "base" is the RSS of that process once sharp is
 * loaded, before converting: peak minus base is what one conversion costs.
 *
 * Usage: node bench/convert.ts [--width 6000] [--height 4000]
 * Try also `MALLOC_ARENA_MAX=2 node bench/convert.ts` (the setting of the Docker image on glibc).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { type ConvertImageOptions, convertImage, extensionFor } from '../src/media/image.ts';

type Scenario = Pick<ConvertImageOptions, 'format' | 'quality' | 'maxWidth' | 'maxHeight' | 'stripMetadata'>;

interface Measurement {
  ms: number;
  baseRssMiB: number;
  peakRssMiB: number;
  bytes: number;
  width: number;
  height: number;
}

const scenarios: Record<string, Scenario> = {
  'jpeg q90 full size': { format: 'jpeg', quality: 90 },
  'jpeg q90 max 2048': { format: 'jpeg', quality: 90, maxWidth: 2048, maxHeight: 2048 },
  'jpeg q90 keep metadata': { format: 'jpeg', quality: 90, stripMetadata: false },
  'webp q85 max 2048': { format: 'webp', quality: 85, maxWidth: 2048, maxHeight: 2048 },
  'webp q85 full size': { format: 'webp', quality: 85 },
  'png full size': { format: 'png' },
  'tiff lzw full size': { format: 'tiff' },
};

const mib = (kib: number) => Math.round(kib / 1024);

/** Child side: one conversion, one JSON line on stdout. */
async function measure(name: string, inputPath: string, outputDir: string): Promise<void> {
  const scenario = scenarios[name];
  if (scenario === undefined) throw new Error(`unknown scenario ${name}`);
  const baseRssMiB = mib(process.resourceUsage().maxRSS);
  const started = performance.now();
  const result = await convertImage({
    inputPath,
    outputPath: join(outputDir, `${name.replaceAll(' ', '-')}${extensionFor(scenario.format)}`),
    ...scenario,
  });
  const measurement: Measurement = {
    ms: Math.round(performance.now() - started),
    baseRssMiB,
    peakRssMiB: mib(process.resourceUsage().maxRSS),
    bytes: result.bytes,
    width: result.width,
    height: result.height,
  };
  process.stdout.write(`${JSON.stringify(measurement)}\n`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { width: { type: 'string', default: '6000' }, height: { type: 'string', default: '4000' } },
  });
  if (positionals[0] === 'child') {
    const [, name = '', inputPath = '', outputDir = ''] = positionals;
    await measure(name, inputPath, outputDir);
    return;
  }

  const width = Number(values.width);
  const height = Number(values.height);
  const dir = await mkdtemp(join(tmpdir(), 'bench-convert-'));
  try {
    const inputPath = join(dir, 'input.jpg');
    // Grain over a flat grey: compresses like a detailed studio photo rather than a flat fill.
    await sharp({
      create: { width, height, channels: 3, background: '#9a8f84', noise: { type: 'gaussian', mean: 128, sigma: 18 } },
    })
      .jpeg({ quality: 92 })
      .toFile(inputPath);
    const inputMiB = ((await stat(inputPath)).size / 2 ** 20).toFixed(1);
    console.log(
      `input ${width}x${height} JPEG, ${inputMiB} MiB; node ${process.version}, libvips ${sharp.versions.vips}, ` +
        `${availableParallelism()} CPUs, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '(unset)'}`,
    );
    console.log('scenario                   time ms  base RSS MiB  peak RSS MiB  output');
    for (const name of Object.keys(scenarios)) {
      const { stdout } = await promisify(execFile)(process.execPath, [import.meta.filename, 'child', name, inputPath, dir]);
      const m = JSON.parse(stdout) as Measurement;
      console.log(
        `${name.padEnd(26)} ${String(m.ms).padStart(7)}  ${String(m.baseRssMiB).padStart(12)}  ${String(m.peakRssMiB).padStart(12)}  ` +
          `${m.width}x${m.height}, ${(m.bytes / 2 ** 20).toFixed(1)} MiB`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
