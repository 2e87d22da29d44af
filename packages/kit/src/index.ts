export * from './config.js';
export * from './logger.js';
export * from './connections.js';
export * from './bus.js';
export * from './ops.js';
export * from './lifecycle.js';
export * from './image-catalog.js';
export * from './net.js';
