// Every op Whittle knows, in one explicit map. Adding an op: write src/ops/<op>.ts exporting an
// OpDef, list it here, and test its gradient against finite differences beside it.
import type { ShapeRule } from '../ir/shape.js';
import { add } from './add.js';
import { gemm } from './gemm.js';
import { identity } from './identity.js';
import { mul } from './mul.js';
import { reduceMean, reduceSum } from './reduce.js';
import { relu } from './relu.js';
import { sum } from './sum.js';
import type { OpDef } from './types.js';

const ALL: OpDef[] = [add, gemm, identity, mul, reduceMean, reduceSum, relu, sum];

export const OPS: ReadonlyMap<string, OpDef> = new Map(ALL.map((d) => [d.op, d]));
export const SHAPE_RULES: ReadonlyMap<string, ShapeRule> = new Map(ALL.map((d) => [d.op, d.inferShape]));
export type { OpDef, GradientContext, GradientRule } from './types.js';
