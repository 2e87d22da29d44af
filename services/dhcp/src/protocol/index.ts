export * from './constants.js';
export * from './codec.js';
export * from './options.js';
