import { describe, expect, it } from 'vitest';
import { parseConnections } from '../../src/config/connections.ts';
import type { ExpectedOutput } from '../../src/creative-force/schemas.ts';
import { resolveRoutes, routeIndexFor, routeOrder, routePaidCalls, slotMatches, stillSlotFor } from '../../src/cycle/routes.ts';
import { createRecipeRegistry } from '../../src/providers/index.ts';

const recipes = createRecipeRegistry();
const secret = Buffer.alloc(32, 7).toString('base64');
const env = { ACME_HOOK: secret };
const sartiq = { email: 'studio@example.com', password: 'pw' };
const firefly = { clientId: 'ff-client', clientSecret: 'ff-secret', orgId: 'org@AdobeOrg', userId: 'user' };
const video = {
  prompt: 'the model turns',
  subjectId: '6f1c0a52-2d4b-4c11-9a0e-3b7d5e9f1a20',
  productId: '0d9b7c3e-8a14-4f6b-b2c5-71e0a4d3c986',
  styleId: 'a3e5f7b9-1c2d-4e6f-8a9b-0c1d2e3f4a5b',
  shotType: 'front_full_body',
};

/** Parses a connection whose subfunction 54 is `sub`. */
function load(sub: Record<string, unknown>) {
  const [connection] = parseConnections(
    {
      connections: [
        {
          id: 'acme',
          name: 'Acme Studio',
          creativeForce: { clientId: 'c', clientSecret: 's', webhookSecrets: ['${ACME_HOOK}'] },
          sartiq,
          firefly,
          subfunctions: { '54': sub },
        },
      ],
    },
    recipes,
    env,
  );
  return connection?.subfunctions['54'];
}

function slot(mappingKeyId: string, positionName: string | null, assetContentTypeId: 1 | 2 | 4 = 1): ExpectedOutput {
  return {
    mappingKeyId,
    positionName,
    isRequired: true,
    minQuantity: 1,
    maxQuantity: 1,
    isAlternativeAllowed: false,
    isAlternativeRequired: false,
    minAlternative: 0,
    maxAlternative: null,
    isRejected: false,
    assetContentTypeId,
    outputAssetIds: [],
  } as ExpectedOutput;
}

describe('a subfunction pipeline in the connections file', () => {
  it('loads its stages with their options parsed, and names the subfunction for people', () => {
    const sub = load({
      pipeline: [
        { recipe: 'sartiq-generate', options: { shotType: 'front_full_body' } },
        { recipe: 'sartiq-upscale', options: { scaleFactor: 2 } },
        { recipe: 'convert', options: { format: 'jpeg', maxWidth: 2000 } },
      ],
    });
    expect(sub?.recipe).toBe('sartiq-generate → sartiq-upscale → convert');
    expect(sub?.routes).toHaveLength(1);
    expect(sub?.routes[0]?.stages.map((s) => s.recipe)).toEqual(['sartiq-generate', 'sartiq-upscale', 'convert']);
    expect(sub?.routes[0]?.stages[2]?.options).toMatchObject({ format: 'jpeg', maxWidth: 2000, quality: 90 });
  });

  it("refuses a stage's bad option, naming the stage", () => {
    expect(() =>
      load({ pipeline: [{ recipe: 'sartiq-generate' }, { recipe: 'sartiq-upscale', options: { scaleFactor: 3 } }] }),
    ).toThrow(/subfunctions\.54\.pipeline\[1\]\.options\.scaleFactor/);
  });

  it('refuses a photo stage after a video stage, naming both', () => {
    expect(() => load({ pipeline: [{ recipe: 'sartiq-video', options: video }, { recipe: 'convert' }] })).toThrow(
      'connection "acme": subfunctions.54.pipeline[1] (convert) works from photos, but the stage before it (sartiq-video) produces video',
    );
  });

  it('refuses a URL-input stage after a file stage: there is no way to hand it the files', () => {
    const workflow = { workflowId: '3f1c0a52-2d4b-4c11-9a0e-3b7d5e9f1a20', inputs: { Image: { from: 'input' } } };
    expect(() => load({ pipeline: [{ recipe: 'convert' }, { recipe: 'firefly-workflow', options: workflow }] })).toThrow(
      /subfunctions\.54\.pipeline\[1\] \(firefly-workflow\) takes its inputs as Creative Force's pre-signed URLs/,
    );
  });

  it('refuses recipe beside pipeline, and options beside a pipeline', () => {
    expect(() => load({ recipe: 'convert', pipeline: [{ recipe: 'convert' }] })).toThrow(
      /subfunctions\.54: give exactly one of recipe, pipeline or route/,
    );
    expect(() => load({ pipeline: [{ recipe: 'convert' }], options: {} })).toThrow(/options belong to each stage/);
  });

  it('refuses an unknown recipe in a stage, naming the stage', () => {
    expect(() => load({ pipeline: [{ recipe: 'convert' }, { recipe: 'magic' }] })).toThrow(
      /subfunctions\.54\.pipeline\[1\]\.recipe: unknown recipe "magic"/,
    );
  });
});

describe('routes of a subfunction', () => {
  const stillsAndVideo = {
    route: [
      { when: { contentType: 'video' }, from: { slot: { position: 'Front' } }, recipe: 'sartiq-video', options: video },
      { when: { position: 'Detail' }, recipe: 'convert' },
      { pipeline: [{ recipe: 'sartiq-generate' }, { recipe: 'convert' }] },
    ],
  };

  it('loads routes; the video route runs after the routes that may make its still', () => {
    const sub = load(stillsAndVideo);
    expect(sub?.recipe).toBe('sartiq-video | convert | sartiq-generate → convert');
    expect(routeOrder(sub?.routes ?? [])).toEqual({ order: [1, 2, 0] });
  });

  it('refuses a cycle of "from" references, naming the routes', () => {
    expect(() =>
      load({
        route: [
          { when: { position: 'Front' }, from: { slot: { position: 'Back' } }, recipe: 'convert' },
          { when: { position: 'Back' }, from: { slot: { position: 'Front' } }, recipe: 'convert' },
          { recipe: 'convert' },
        ],
      }),
    ).toThrow(/subfunctions\.54: the "from" references form a cycle \(route\[0\] → route\[1\] → route\[0\]\)/);
  });

  it('refuses a route that may wait for its own still', () => {
    expect(() => load({ route: [{ from: { slot: { position: 'Front' } }, recipe: 'convert' }] })).toThrow(
      /form a cycle \(route\[0\] → route\[0\]\)/,
    );
  });

  it('refuses a route without "when" before the last, and a video route that ends with photos', () => {
    expect(() => load({ route: [{ recipe: 'convert' }, { recipe: 'convert' }] })).toThrow(
      /subfunctions\.54\.route\[0\]: only the last route may go without "when"/,
    );
    expect(() => load({ route: [{ when: { contentType: 'video' }, recipe: 'convert' }, { recipe: 'convert' }] })).toThrow(
      'connection "acme": subfunctions.54.route[0] (convert) produces photos, but the route takes video slots',
    );
  });

  it('refuses routes that take the task inputs both as URLs and as files', () => {
    const workflow = { workflowId: '3f1c0a52-2d4b-4c11-9a0e-3b7d5e9f1a20', inputs: { Image: { from: 'input' } } };
    expect(() =>
      load({ route: [{ when: { position: 'Front' }, recipe: 'firefly-workflow', options: workflow }, { recipe: 'convert' }] }),
    ).toThrow(/some routes take the task's inputs as pre-signed URLs/);
  });

  it('matches slots by content type, position (any case) and mappingKeyId glob; first match wins', () => {
    const routes = [
      { when: { contentType: 'video' as const } },
      { when: { position: 'detail' } },
      { when: { mappingKeyId: '9_*' } },
      {},
    ];
    expect(routeIndexFor(slot('3_V', 'Front', 2), routes)).toBe(0);
    expect(routeIndexFor(slot('2_D', 'Detail'), routes)).toBe(1);
    expect(routeIndexFor(slot('9_X', 'Front'), routes)).toBe(2);
    expect(routeIndexFor(slot('1_F', 'Front'), routes)).toBe(3);
    expect(routeIndexFor(slot('1_F', 'Front'), routes.slice(0, 3))).toBeUndefined();
    expect(slotMatches(slot('10_X', null), { mappingKeyId: '1?X' })).toBe(false);
    expect(slotMatches(slot('1_X', null), { mappingKeyId: '1?X' })).toBe(true);
  });

  it("finds a slot's still: a photo slot the reference names, never the slot itself nor a video", () => {
    const slots = [slot('3_V', 'Front', 2), slot('1_F', 'Front'), slot('2_B', 'Back')];
    expect(stillSlotFor(slots, slots[0] as ExpectedOutput, { position: 'front' })?.mappingKeyId).toBe('1_F');
    expect(stillSlotFor(slots, slots[1] as ExpectedOutput, { position: 'front' })).toBeUndefined();
  });
});

describe('paid calls a pipeline announces', () => {
  it('counts the first stage by its recipe, and each later stage once per file the drop box holds', () => {
    const sub = load({
      pipeline: [{ recipe: 'sartiq-generate' }, { recipe: 'sartiq-upscale' }, { recipe: 'convert' }],
    });
    const routes = resolveRoutes(sub?.routes ?? [], recipes, 54);
    const one = { ...slot('1_F', 'Front'), maxQuantity: 1 };
    const two = { ...slot('2_B', 'Back'), maxQuantity: 2 };
    const requests = [one, two].map((s) => ({ request: { slot: s, count: 1, replaces: [] }, route: 0 }));
    // generate: 1 per drop box; upscale: 1 per image (1 and 2); convert: free.
    expect(routePaidCalls(routes, requests)).toBe(2 + 1 + 2);
  });
});
