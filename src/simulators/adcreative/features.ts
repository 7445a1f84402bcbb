/**
 * The four paid features the simulator renders, and what differs between them on the wire.
 */
/** A paid generation: a Product Photoshoot, or one of the three single-image features. */
export type GenerationKind = 'photoshoot' | 'background-remove' | 'upscale' | 'face-enhance';

/** The single-image features. */
export type ImageJobKind = Exclude<GenerationKind, 'photoshoot'>;

/** Wire details of one feature. */
export interface FeatureSpec {
  kind: GenerationKind;
  /** The controller name used in error keys (`"engine: <area>/Download"`) and paths. */
  area: string;
  /** Documented `messageType` values (the image features' come from the notification types). */
  messageType: string;
  /**
   * `renderType` of the progress objects. 4 is documented for the Product Photoshoot; the others
   * are NOT documented and are this simulator's choice: clients must not interpret them.
   */
  renderType: number;
  /** Folder of the public image URLs. */
  imageFolder: string;
}

/** The Product Photoshoot. */
export const photoshootFeature: FeatureSpec = {
  kind: 'photoshoot',
  area: 'ProductGeneration',
  messageType: 'ImageProductGenerationProgress',
  renderType: 4,
  imageFolder: 'ai-product-images',
};

/** The single-image features (their paths and names: image-feature-wire.ts). */
export const imageJobFeatures: Readonly<Record<ImageJobKind, FeatureSpec>> = {
  'background-remove': {
    kind: 'background-remove',
    area: 'BackgroundRemoving',
    messageType: 'ImageBackgroundRemovingProgress',
    renderType: 3,
    imageFolder: 'background-removed-images',
  },
  upscale: {
    kind: 'upscale',
    area: 'Upscaling',
    messageType: 'ImageUpscalingProgress',
    renderType: 5,
    imageFolder: 'upscaled-images',
  },
  'face-enhance': {
    kind: 'face-enhance',
    area: 'FaceEnhancing',
    messageType: 'ImageFaceEnhancingProgress',
    renderType: 9,
    imageFolder: 'face-enhanced-images',
  },
};
