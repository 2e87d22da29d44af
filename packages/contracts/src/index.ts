export * from './events.js';
export * from './keys.js';
export * from './image.js';
export * from './errors.js';
export * from './api.js';
export * from './ports.js';
export * from './swarm.js';
