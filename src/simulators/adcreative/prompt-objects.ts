/**
 * `PromptObjectsString` of the Product Photoshoot start: a JSON string holding 1 to 6 objects,
 * `{"tag":"preset","preset":"<presetId>"}` or `{"tag":"custom","prompt":"...","nativeLanguagePrompt":null}`.
 */
import { findPreset } from './presets.ts';

/** Most prompt objects one start takes (documented: "MAX 6 prompts"). */
export const maxPromptObjects = 6;

/** A validated prompt object. */
export type PromptObject = { tag: 'preset'; preset: string } | { tag: 'custom'; prompt: string };

/** The prompt objects of the string, or the binding messages explaining why it is invalid. */
export function parsePromptObjects(text: string): { ok: true; prompts: PromptObject[] } | { ok: false; errors: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, errors: ['PromptObjectsString is not valid JSON.'] };
  }
  if (!Array.isArray(value)) return { ok: false, errors: ['PromptObjectsString must be a JSON array of prompt objects.'] };
  if (value.length === 0 || value.length > maxPromptObjects) {
    return { ok: false, errors: [`PromptObjectsString must hold between 1 and ${maxPromptObjects} prompt objects.`] };
  }
  const prompts: PromptObject[] = [];
  const errors: string[] = [];
  value.forEach((item: unknown, index) => {
    const parsed = parseOne(item);
    if (typeof parsed === 'string') errors.push(`Prompt object ${index}: ${parsed}`);
    else prompts.push(parsed);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, prompts };
}

function parseOne(item: unknown): PromptObject | string {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return 'must be an object.';
  const fields = item as Record<string, unknown>;
  if (fields.tag === 'preset') {
    if (typeof fields.preset !== 'string' || fields.preset === '') return 'a preset object needs "preset".';
    if (!findPreset(fields.preset)) return `unknown preset "${fields.preset}".`;
    return { tag: 'preset', preset: fields.preset };
  }
  if (fields.tag === 'custom') {
    if (typeof fields.prompt !== 'string' || fields.prompt.trim() === '') return 'a custom object needs a non-empty "prompt".';
    const native = fields.nativeLanguagePrompt;
    if (native !== undefined && native !== null && typeof native !== 'string')
      return '"nativeLanguagePrompt" must be a string or null.';
    return { tag: 'custom', prompt: fields.prompt };
  }
  return '"tag" must be "preset" or "custom".';
}

const customPalette = ['#3b6ea5', '#a53b6e', '#6ea53b', '#a5763b', '#3ba59a', '#763ba5'];

/** The scene color the simulator paints for a prompt: the preset's, or one derived from the custom text. */
export function sceneColor(prompt: PromptObject): string {
  if (prompt.tag === 'preset') return findPreset(prompt.preset)?.color ?? (customPalette[0] as string);
  let hash = 0;
  for (const ch of prompt.prompt) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return customPalette[hash % customPalette.length] as string;
}
