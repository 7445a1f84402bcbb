/** The recipes this service offers, by the name a subfunction uses in the connections file. */
import { backgroundRemoveRecipe, faceEnhanceRecipe, upscaleRecipe } from './adcreative/image-jobs.ts';
import { photoshootRecipe } from './adcreative/photoshoot.ts';
import { workflowRecipe } from './firefly/workflow-recipe.ts';
import { convertRecipe } from './local/convert.ts';
import type { Recipe } from './recipe.ts';
import { sartiqRecipes } from './sartiq/recipes.ts';

export { type ConvertOptions, convertOptionsSchema, convertRecipe } from './local/convert.ts';
export type {
  ContextNeeds,
  InputFile,
  LocalFile,
  OutfitContext,
  ProducedFile,
  ProviderClients,
  Recipe,
  RecipeMemory,
  RecipeResult,
  RecipeRun,
  ReviewerNote,
  SlotRequest,
  TaskContext,
} from './recipe.ts';

/** Recipe name → recipe. */
export type RecipeRegistry = ReadonlyMap<string, Recipe>;

/** The recipes built into this service. */
export const builtInRecipes: readonly Recipe[] = [
  convertRecipe,
  photoshootRecipe,
  backgroundRemoveRecipe,
  upscaleRecipe,
  faceEnhanceRecipe,
  ...sartiqRecipes,
  workflowRecipe,
];

/**
 * Builds a registry from `recipes` (the built-in ones by default).
 *
 * @throws Error when two recipes share a name.
 */
export function createRecipeRegistry(recipes: readonly Recipe[] = builtInRecipes): RecipeRegistry {
  const registry = new Map<string, Recipe>();
  for (const recipe of recipes) {
    if (registry.has(recipe.name)) throw new Error(`two recipes are named ${recipe.name}`);
    registry.set(recipe.name, recipe);
  }
  return registry;
}

/** The registry of the built-in recipes. */
export const recipeRegistry: RecipeRegistry = createRecipeRegistry();
