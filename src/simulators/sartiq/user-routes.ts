/**
 * `POST /login/test-token` (Sartiq's "Authentication" page): validates the Bearer token and
 * answers its user. The user object's shape is not documented; this is the FastAPI template's
 * `UserPublic`.
 */
import type { Route } from './route.ts';

const testTokenRoute: Route = {
  method: 'POST',
  path: '/login/test-token',
  handle: (_ctx, req) => ({
    status: 200,
    body: { email: req.account.email, is_active: true, is_superuser: false, full_name: null, id: req.account.id },
  }),
};

/** The routes about the authenticated user. */
export const userRoutes: readonly Route[] = [testTokenRoute];
