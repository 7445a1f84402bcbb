/**
 * The Product Photoshoot presets the simulator offers (ids taken from the documentation's
 * examples), each with the scene color the simulator paints behind the product.
 */

/** A preset as `PresetKeys` lists it, plus the simulator's scene color. */
export interface Preset {
  id: string;
  previewName: string;
  promptText: string;
  tags: string[];
  categories: { name: string }[];
  isOldPreset: boolean;
  /** Background of the simulator's rendering (not on the wire). */
  color: string;
}

const monochrome = [{ name: 'monochrome' }];
const studio = [{ name: 'studio' }];

/** All presets, in the order `PresetKeys` lists them. */
export const presets: readonly Preset[] = [
  preset('on_platform_natural_beige_background', 'on a platform, in front of a natural beige background', monochrome, '#d8c7a8'),
  preset('white_background', ', in front of a white background', monochrome, '#f4f4f4'),
  preset('natural_beige_background', ', in front of a natural beige background', monochrome, '#e0cfb1'),
  preset('light_grey_background', ', in front of a light grey background', monochrome, '#c9c9c9'),
  preset('light_blue_background', ', in front of a light blue background', monochrome, '#b9d4ea'),
  preset(
    'white_pink_yellow_gradient_background_monochrome',
    ', in front of a white, pink and yellow gradient background',
    monochrome,
    '#f6d6c8',
  ),
  preset('gray_shadowy_room_sunlight_streaming_studio', 'in a gray shadowy room with sunlight streaming in', studio, '#8a8d91'),
  preset('gray_shadowy_room_sunlight_streaming_neutral', 'in a neutral gray room with sunlight streaming in', studio, '#9d9a94'),
  preset('mid_century_modern_office', 'on a desk in a mid-century modern office', studio, '#a9784f'),
  {
    ...preset(
      'thanksgiving_rustic_scene',
      'product on rustic wood table with autumn leaves and warm lighting, thanksgiving style',
      [],
      '#b5652b',
    ),
    tags: ['holiday', 'thanksgiving'],
  },
];

/** The preset with this id, if any. */
export function findPreset(id: string): Preset | undefined {
  return presets.find((p) => p.id === id);
}

/** The documented `PresetKeys` item of a preset; previews are served by the simulator. */
export function presetKey(p: Preset, baseUrl: string, previewPath: string): Record<string, unknown> {
  return {
    id: p.id,
    previewImageUrl: `${baseUrl}${previewPath}${p.id}.webp`,
    previewName: p.previewName,
    promptText: p.promptText,
    tags: p.tags,
    categories: p.categories,
    isOldPreset: p.isOldPreset,
  };
}

function preset(id: string, promptText: string, categories: { name: string }[], color: string): Preset {
  const previewName = id
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
  return { id, previewName, promptText, tags: [], categories, isOldPreset: false, color };
}
