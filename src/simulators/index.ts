/** Simulators of the external systems the connector talks to. */

export * from './adcreative/index.ts';
export * from './creative-force/index.ts';
export * from './firefly/index.ts';
export * from './sartiq/index.ts';
