/**
 * The integrator applications the simulator knows, with their API credentials and credits.
 */
import { isGuid } from './field-reader.ts';
import type { AdCreativeApplication } from './types.ts';

/** A registered application. */
export interface RegisteredApplication {
  applicationId: string;
  jwtPrivateKey: string;
  apiKey: string;
  apiSecret: string;
  credits: number;
}

/** Applications by id. */
export class Applications {
  readonly #byId = new Map<string, RegisteredApplication>();

  /** Registers (or replaces) an application; its id must be a GUID, as AdCreative issues them. */
  add(application: AdCreativeApplication): void {
    if (!isGuid(application.applicationId)) throw new Error(`applicationId must be a GUID, got ${application.applicationId}`);
    this.#byId.set(application.applicationId.toLowerCase(), {
      applicationId: application.applicationId,
      jwtPrivateKey: application.jwtPrivateKey,
      apiKey: application.apiKey,
      apiSecret: application.apiSecret,
      credits: application.credits ?? 1000,
    });
  }

  get(applicationId: string): RegisteredApplication | undefined {
    return this.#byId.get(applicationId.toLowerCase());
  }

  /** The application, or an Error naming the unknown id (for the test-facing API). */
  require(applicationId: string): RegisteredApplication {
    const application = this.get(applicationId);
    if (!application) throw new Error(`unknown application ${applicationId}`);
    return application;
  }
}
