/** Simulators of the external systems the connector talks to. */
export * from './creative-force/index.ts';
