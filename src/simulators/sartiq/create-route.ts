/**
 * The common shape of the generation creation endpoints: read the JSON body (422 on any
 * problem, image references included), check the organization (403), plan the generation (its
 * sizes and renderers, which may refuse with 4xx), create and record it, answer its
 * `GenerationPublic` (status `PENDING`).
 */
import { randomInt } from 'node:crypto';
import type { Reply } from '../harness/http-io.ts';
import type { FileStore } from './files.ts';
import type { Generation } from './generation.ts';
import { organizationOf, type Route, type RouteContext, type SimRequest } from './route.ts';
import type { GenerationStart } from './state.ts';
import type { GenerationEndpoint } from './types.ts';
import { type Checked, FieldReader, readJsonObject } from './validation.ts';

/** Loads the bytes of an input image held by the simulator. */
export type ImageLoader = () => Promise<Buffer>;

/** A planned generation: everything {@link GenerationStart} needs but the owner, organization, time and body. */
export interface Draft extends Omit<GenerationStart, 'init' | 'body' | 'seed'> {
  /** `GenerationPublic` fields of this generation. */
  fields: Record<string, unknown>;
  /** The requested seed; random when `null`. */
  seed: number | null;
  /** Called with the created generation; its fields are added to the answer (the agentic endpoint's orchestration). */
  onCreated?: (generation: Generation) => Record<string, unknown>;
}

/** How one creation endpoint reads its body and plans its generation. */
export interface CreateSpec<F> {
  endpoint: GenerationEndpoint;
  /** Path relative to `/api/v1`. */
  path: string;
  /** Reads and validates the body; problems go to `reader` (image references through `images`). */
  read: (reader: FieldReader, images: ImageRefs) => F;
  /** Plans the generation from valid fields; may refuse (e.g. 404 of a referenced prediction). */
  plan: (fields: F, ctx: RouteContext, req: SimRequest) => Promise<Checked<Draft>>;
}

/** A creation route following {@link CreateSpec}. */
export function createRoute<F>(spec: CreateSpec<F>): Route {
  return {
    method: 'POST',
    path: spec.path,
    handle: async (ctx, req): Promise<Reply> => {
      const json = readJsonObject(req);
      if (!json.ok) return json.reply;
      const reader = new FieldReader(json.value);
      const bodyOrganizationId = reader.uuid('organization_id');
      const fields = spec.read(reader, new ImageRefs(reader, ctx.state.files, req.now));
      const problem = reader.problem();
      if (problem) return problem;
      const organization = organizationOf(req, bodyOrganizationId);
      if (!organization.ok) return organization.reply;
      const planned = await spec.plan(fields, ctx, req);
      if (!planned.ok) return planned.reply;
      const { fields: publicFields, seed, onCreated, ...draft } = planned.value;
      const firstSeed = seed ?? randomInt(0, 2 ** 31 - 1);
      const generation = ctx.state.createGeneration({
        ...draft,
        seed: firstSeed,
        body: json.value,
        init: {
          endpoint: spec.endpoint,
          ownerId: req.account.id,
          organizationId: organization.value,
          createdAt: req.now,
          fields: { ...publicFields, seed: firstSeed },
        },
      });
      return { status: 200, body: { ...generation.toPublic(req.now), ...onCreated?.(generation) } };
    },
  };
}

/**
 * Checks image references of a body (`base_img_path`, `product_image`, …): an http(s) URL, or
 * the `file_url` (or `temp/…` key) of an upload, or a result URL, of this simulator. A reference
 * to a file of the simulator that does not exist, or to no URL at all, is a 422 `value_error`.
 * The bytes of the simulator's own files are available to render from; other URLs are not
 * fetched.
 */
export class ImageRefs {
  readonly #reader: FieldReader;
  readonly #files: FileStore;
  readonly #now: number;

  constructor(reader: FieldReader, files: FileStore, now: number) {
    this.#reader = reader;
    this.#files = files;
    this.#now = now;
  }

  /** Checks `reference` (the value of `field`); the loader of its bytes when the simulator holds them. */
  check(field: string, reference: string | null): ImageLoader | undefined {
    if (reference === null) return undefined;
    const found = this.#files.lookup(reference, this.#now);
    switch (found.kind) {
      case 'local':
        return found.data;
      case 'foreign':
        return undefined;
      case 'missing':
        this.#reader.valueError(`${field} refers to a file that does not exist: ${reference}`, field);
        return undefined;
      case 'invalid':
        this.#reader.valueError(`${field} must be an http(s) URL or a file_url from /uploads/presigned-url`, field);
        return undefined;
    }
  }

  /**
   * Checks a list of reference images (`reference_images` of edits and the image adjuster,
   * `reference_images_paths` of on-model and agentic generations). The reference types them as a
   * list of strings and says no more ("List of reference images for placement"); the simulator is
   * strict where it is silent: each entry must name an image Sartiq holds (an upload's `file_url`
   * or `temp/…` key, or a result) that exists, and none may repeat. It sets no largest count: the
   * reference gives none.
   */
  references(field: string, references: readonly string[] | null): void {
    for (const [index, reference] of (references ?? []).entries()) {
      if (references?.indexOf(reference) !== index) {
        this.#reader.valueError(`${field} lists ${reference} twice`, field);
        continue;
      }
      const found = this.#files.lookup(reference, this.#now);
      if (found.kind === 'local') continue;
      this.#reader.valueError(
        found.kind === 'missing'
          ? `${field} refers to a file that does not exist: ${reference}`
          : `${field} entries must be file_urls from /uploads/presigned-url, not ${reference}`,
        field,
      );
    }
  }
}

/** Reads the optional string fields `names`; the present ones by name. */
export function readStrings(reader: FieldReader, names: readonly string[]): Record<string, string> {
  return present(names.map((name) => [name, reader.string(name)]));
}

/** Reads the optional UUID fields `names`; the present ones by name. */
export function readUuids(reader: FieldReader, names: readonly string[]): Record<string, string> {
  return present(names.map((name) => [name, reader.uuid(name)]));
}

/** Reads the optional number fields `names`; the present ones by name. */
export function readNumbers(reader: FieldReader, names: readonly string[]): Record<string, number> {
  return present(names.map((name) => [name, reader.number(name)]));
}

function present<T>(entries: [string, T | null][]): Record<string, T> {
  const result: Record<string, T> = {};
  for (const [name, value] of entries) if (value !== null) result[name] = value;
  return result;
}
