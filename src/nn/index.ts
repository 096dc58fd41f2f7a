// Public API of nn/: seeded initializers, the layer builder and the model zoo.
export { fans, filled, glorotUniform, heNormal, initWeight, Rng } from './init.js';
export type { InitKind } from './init.js';
export { countParameters, ModelBuilder, parameterNames } from './layers.js';
export type { BatchNormOptions, BuilderOptions, Conv2dOptions, DenseOptions, Pool2dOptions } from './layers.js';
export { createModel, ZOO_NAMES } from './zoo.js';
export type { ZooName, ZooOptions } from './zoo.js';
