/** The recipes this service offers, by the name a subfunction uses in the connections file. */
import { isProviderId, providerRecipes } from './catalogue.ts';
import { convertRecipe } from './local/convert.ts';
import type { Recipe } from './recipe.ts';

export {
  isProviderId,
  type ProviderClients,
  type ProviderConfigs,
  providerConfigs,
  providerSectionSchemas,
  providerVariableNames,
  providerVariables,
} from './catalogue.ts';
export { type ConvertOptions, convertOptionsSchema, convertRecipe } from './local/convert.ts';
export {
  type CredentialTest,
  clientForRecipe,
  createCredentialTests,
  createProviderClients,
  type ProviderResultSettings,
} from './provider-clients.ts';
export type {
  ContextNeeds,
  InputFile,
  LocalFile,
  OutfitContext,
  PaidWork,
  ProducedFile,
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

/** The recipes built into this service: the local `convert`, then every provider module's. */
export const builtInRecipes: readonly Recipe[] = [convertRecipe, ...providerRecipes];

/**
 * Builds a registry from `recipes` (the built-in ones by default).
 *
 * @throws Error when two recipes share a name, or a recipe names a provider the catalogue lacks.
 */
export function createRecipeRegistry(recipes: readonly Recipe[] = builtInRecipes): RecipeRegistry {
  const registry = new Map<string, Recipe>();
  for (const recipe of recipes) {
    if (registry.has(recipe.name)) throw new Error(`two recipes are named ${recipe.name}`);
    if (recipe.provider !== undefined && !isProviderId(recipe.provider)) {
      throw new Error(`recipe ${recipe.name} names an unknown provider "${recipe.provider}"`);
    }
    registry.set(recipe.name, recipe);
  }
  return registry;
}

/** The registry of the built-in recipes. */
export const recipeRegistry: RecipeRegistry = createRecipeRegistry();
