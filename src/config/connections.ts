/**
 * The connections file: one entry per studio (YAML or JSON). String values may reference
 * environment variables as `${NAME}` so secrets stay out of the file. A file that does not
 * validate stops the start with a message naming the connection and the field.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { cloudAutomationStepIds, defaultSignatureVariant, signatureVariants } from '../creative-force/contract.ts';
import { type OutputChecks, outputChecksSchema } from '../cycle/gate-outputs.ts';
import { describeRoutes, type RouteConfig } from '../cycle/routes.ts';
import { ConnectorError } from '../errors.ts';
import { isProviderId, providerSectionSchemas, type RecipeRegistry } from '../providers/index.ts';
import { deepFreeze } from './env.ts';
import { subfunctionRoutes, subfunctionWorkFields } from './subfunction-routes.ts';

const base64Secret = z
  .string()
  .min(16, 'must be the Base64 secret key shown by Creative Force')
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be Base64 (RFC 2045)');
/** Webhook Secret Keys: one, or two during a rotation; at most 10 (a connector's subfunctions). */
const webhookSecrets = z.array(base64Secret).min(1).max(10);

/** What the receiver reads of a connection (`serve` mode): the webhook side only. */
const receiverFields = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _ (it appears in the webhook URL)'),
  name: z.string().min(1),
  /**
   * Bearer tokens of the studio's admin API and console (this connection only); at least 24
   * characters, e.g. `openssl rand -hex 24`.
   */
  adminTokens: z.array(z.string().min(24, 'must be at least 24 characters (e.g. openssl rand -hex 24)')).max(10).optional(),
  stepIds: z
    .array(z.coerce.number().int().positive())
    .min(1)
    .default([...cloudAutomationStepIds]),
  subfunctions: z.record(
    z.string().regex(/^\d+$/, 'subfunction ids are numbers'),
    z.object({
      ...subfunctionWorkFields,
      checks: outputChecksSchema,
      webhookSecrets: webhookSecrets.optional(),
    }),
  ),
};
const webhookFields = {
  /** Secrets that authenticate events of every subfunction; a subfunction may have its own instead. */
  webhookSecrets: webhookSecrets.optional(),
  signatureScheme: z.union([z.literal('auto'), z.enum(signatureVariants)]).default(defaultSignatureVariant),
};

const receiverConnectionSchema = z.object({ ...receiverFields, creativeForce: z.object(webhookFields) });

/** A whole connection: what the receiver reads, the Creative Force client credentials, the provider sections. */
const connectionSchema = z.object({
  ...receiverFields,
  creativeForce: z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1), ...webhookFields }),
  /** One optional section per provider module, with its credentials (see providers/catalogue.ts). */
  ...providerSectionSchemas,
});

const fileSchema = z.object({ connections: z.array(z.unknown()).min(1) });

/**
 * A subfunction's routes (a `recipe` is one route of one stage, a `pipeline` one route of several;
 * every stage's options parsed by its recipe's schema), `recipe` naming them for people (the
 * recipe, `a → b` for a pipeline, routes separated by `|`), its result checks, and the webhook
 * secrets of that subfunction alone, if it has its own.
 */
type Subfunctions = Record<
  string,
  { recipe: string; routes: readonly RouteConfig[]; checks: OutputChecks; webhookSecrets?: readonly string[] }
>;

/** A connection as the workers use it (loaded with scope `full`). */
export type Connection = Omit<z.infer<typeof connectionSchema>, 'subfunctions'> & { subfunctions: Subfunctions };

/**
 * A connection as the receiver uses it (loaded with scope `receiver`): no Creative Force client
 * credentials, no provider sections. Every Connection is one.
 */
export type ReceiverConnection = Omit<z.infer<typeof receiverConnectionSchema>, 'subfunctions'> & { subfunctions: Subfunctions };

/**
 * What to load of each connection: `full` (the default) for workers; `receiver` for the webhook
 * receiver, which reads only the id, name, webhook secrets and signature scheme, step ids and
 * subfunctions. With `receiver`, the rest of an entry is neither validated nor interpolated: its
 * `${NAME}` variables need not be set, and its values are absent from the result.
 */
export type ConnectionScope = 'full' | 'receiver';

export interface ConnectionsOptions {
  scope?: ConnectionScope;
}

/** Whether a connection holds what the workers need, i.e. was loaded with scope `full`. */
export function isFullConnection(connection: Omit<ReceiverConnection, 'subfunctions'>): connection is Connection {
  return 'clientId' in connection.creativeForce && 'clientSecret' in connection.creativeForce;
}

/** The keys of an entry the receiver reads, and those of its `creativeForce`. */
const receiverKeys = new Set(Object.keys(receiverConnectionSchema.shape));
const receiverCreativeForceKeys = new Set(Object.keys(webhookFields));

/** Keeps only the keys in `keys` of an object (anything else as it is). */
function pick(value: unknown, keys: ReadonlySet<string>, nested?: { key: string; keys: ReadonlySet<string> }): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => keys.has(k))
      .map(([k, v]) => [k, nested && k === nested.key ? pick(v, nested.keys) : v]),
  );
}

/**
 * `${NAME}` is not plain YAML (inside `[ ]` the brace opens a mapping), so the file text carries
 * each reference as a YAML-safe placeholder through the parser; values are filled in afterwards,
 * so a secret's characters can never change the structure of the file.
 */
const envPlaceholder = (name: string) => `__CFC_ENV_${name}__`;
const envReference = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|__CFC_ENV_([A-Za-z_][A-Za-z0-9_]*)__/g;

/** Replaces `${NAME}` in every string value; a missing variable is an error naming it. */
function interpolate(value: unknown, env: Record<string, string | undefined>, path: string, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(envReference, (_m, braced: string | undefined, placeholder: string | undefined) => {
      const name = braced ?? placeholder ?? '';
      const v = env[name];
      if (v === undefined || v === '') {
        missing.push(`${path} references \${${name}}, which is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, `${path}.${k}`, missing)]));
  }
  return value;
}

function fail(message: string): never {
  throw new ConnectorError('CONFIG_INVALID', message);
}

/**
 * Validates parsed connections data against the schema and the recipes' option schemas; with
 * scope `receiver`, only what the receiver reads (see ConnectionScope).
 */
export function parseConnections(
  data: unknown,
  recipes: RecipeRegistry,
  env?: Record<string, string | undefined>,
  options?: { scope?: 'full' },
): readonly Connection[];
export function parseConnections(
  data: unknown,
  recipes: RecipeRegistry,
  env: Record<string, string | undefined>,
  options: ConnectionsOptions,
): readonly ReceiverConnection[];
export function parseConnections(
  data: unknown,
  recipes: RecipeRegistry,
  env: Record<string, string | undefined> = process.env,
  options: ConnectionsOptions = {},
): readonly ReceiverConnection[] {
  const receiverOnly = options.scope === 'receiver';
  const top = fileSchema.safeParse(data);
  if (!top.success) fail('connections file: expected a top-level "connections" list with at least one entry');
  const seen = new Set<string>();
  const connections = top.data.connections.map((raw, index) => {
    const label = raw && typeof raw === 'object' && 'id' in raw && typeof raw.id === 'string' ? raw.id : `#${index + 1}`;
    const missing: string[] = [];
    const wanted = receiverOnly ? pick(raw, receiverKeys, { key: 'creativeForce', keys: receiverCreativeForceKeys }) : raw;
    const resolved = interpolate(wanted, env, 'connection', missing);
    if (missing.length > 0) fail(`connection "${label}": ${missing.join('; ')}`);
    const parsed = (receiverOnly ? receiverConnectionSchema : connectionSchema).safeParse(resolved);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(entry)'}: ${i.message}`);
      fail(`connection "${label}": ${problems.join('; ')}`);
    }
    const connection = parsed.data;
    if (seen.has(connection.id)) fail(`connection "${connection.id}": id is used twice`);
    seen.add(connection.id);
    const subfunctions: Subfunctions = {};
    for (const [subfunctionId, sub] of Object.entries(connection.subfunctions)) {
      const resolved = subfunctionRoutes(subfunctionId, sub, {
        recipes,
        missingSection: (recipe) =>
          !receiverOnly && recipe.provider !== undefined && !hasSection(connection, recipe.provider)
            ? `needs an "${recipe.provider}" section with the provider's credentials`
            : null,
      });
      if ('refused' in resolved) fail(`connection "${connection.id}": ${resolved.refused}`);
      const { routes } = resolved;
      subfunctions[subfunctionId] = {
        recipe: describeRoutes(routes),
        routes,
        checks: sub.checks,
        ...(sub.webhookSecrets ? { webhookSecrets: sub.webhookSecrets } : {}),
      };
    }
    const checked = { ...connection, subfunctions };
    checkWebhookSecrets(checked);
    return checked;
  });
  return deepFreeze(connections);
}

/** Every subfunction can authenticate its events: with its own secrets or the connection's. */
function checkWebhookSecrets(connection: ReceiverConnection): void {
  if (connection.creativeForce.webhookSecrets) return;
  const entries = Object.entries(connection.subfunctions);
  const without = entries.filter(([, sub]) => !sub.webhookSecrets).map(([id]) => `subfunctions.${id}`);
  if (entries.length === 0 || without.length > 0) {
    fail(
      `connection "${connection.id}": no webhook secret for ${without.join(', ') || 'any subfunction'}: set creativeForce.webhookSecrets (every subfunction) or subfunctions.<id>.webhookSecrets`,
    );
  }
}

/** Whether a connection loaded in full has the section of `provider`. */
function hasSection(connection: Omit<ReceiverConnection, 'subfunctions'>, provider: string): boolean {
  return isFullConnection(connection) && isProviderId(provider) && connection[provider] !== undefined;
}

/** Reads and validates the connections file (YAML, of which JSON is a subset). */
export async function loadConnectionsFile(
  path: string,
  recipes: RecipeRegistry,
  env?: Record<string, string | undefined>,
  options?: { scope?: 'full' },
): Promise<readonly Connection[]>;
export async function loadConnectionsFile(
  path: string,
  recipes: RecipeRegistry,
  env: Record<string, string | undefined>,
  options: ConnectionsOptions,
): Promise<readonly ReceiverConnection[]>;
export async function loadConnectionsFile(
  path: string,
  recipes: RecipeRegistry,
  env: Record<string, string | undefined> = process.env,
  options: ConnectionsOptions = {},
): Promise<readonly ReceiverConnection[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    fail(`CONNECTIONS_FILE: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => envPlaceholder(name)));
  } catch (err) {
    // The parser's first line names the problem and its position; its code frame is left out.
    const [problem = ''] = (err as Error).message.split('\n');
    fail(`CONNECTIONS_FILE: ${path} is not valid YAML or JSON: ${problem.replace(/:$/, '')}`);
  }
  return parseConnections(data, recipes, env, options);
}
