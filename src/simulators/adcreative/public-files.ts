/**
 * The files AdCreative serves without authentication: task images behind `publicImageUrl`
 * (a public storage bucket in production) and the presets' preview images.
 */
import type { Reply } from '../harness/http-io.ts';
import { adCreativeSimulatorPaths } from './paths.ts';
import { findPreset } from './presets.ts';
import { presetPreview } from './render-images.ts';
import type { RouteContext } from './route.ts';

/** True when `pathname` is under one of the public prefixes. */
export function isPublicPath(pathname: string): boolean {
  return (
    pathname.startsWith(adCreativeSimulatorPaths.publicImages) || pathname.startsWith(adCreativeSimulatorPaths.presetPreviews)
  );
}

/** Answers a GET of a public file: the PNG of a finished task, or a preset's WebP preview; 404 otherwise. */
export async function servePublicFile(ctx: RouteContext, pathname: string, now: number): Promise<Reply> {
  const image = new RegExp(`^${adCreativeSimulatorPaths.publicImages}[\\w-]+/([0-9a-f-]{36})\\.png$`, 'i').exec(pathname);
  if (image?.[1]) {
    const found = ctx.state.publicImage(image[1]);
    if (!found?.process.isTaskDone(found.index, now)) return { status: 404 };
    return { status: 200, headers: { 'content-type': 'image/png' }, body: await found.process.image(found.index) };
  }
  const preview = new RegExp(`^${adCreativeSimulatorPaths.presetPreviews}([\\w-]+)\\.webp$`).exec(pathname);
  const preset = preview?.[1] ? findPreset(preview[1]) : undefined;
  if (preset) return { status: 200, headers: { 'content-type': 'image/webp' }, body: await presetPreview(preset.color) };
  return { status: 404 };
}
