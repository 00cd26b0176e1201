export * from './cholesky.js';
export * from './kernel.js';
export * from './transforms.js';
export * from './lbfgs.js';
export * from './marginal.js';
export * from './gp.js';
export * from './pool.js';
