import type { TensorRef } from '../../bundle/safetensors';
import { externalFloat } from '../external-weights';
import { A, type GraphBuilder } from '../onnx-builder';

/** The float32 value of a whole safetensors tensor (Cast in the graph when stored as BF16/F16). */
export function weight(g: GraphBuilder, ref: TensorRef): string {
  return externalFloat(g, ref, 0, ref.shape, ref.name);
}

/** Gemma's RMSNorm over the last axis, in float32: x / sqrt(mean(x^2) + eps) * (1 + w). */
export function rmsNorm(g: GraphBuilder, x: string, w: TensorRef, eps: number): string {
  const meanSq = g.op('ReduceMean', [g.op('Pow', [x, g.scalarFloat(2)])], { axes: A.ints([-1]), keepdims: A.i(1) });
  const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSq, g.scalarFloat(eps)])])]);
  return g.op('Mul', [normed, g.op('Add', [weight(g, w), g.scalarFloat(1)])]);
}

/** x [N, in] times a Linear weight stored as [out, in] (PyTorch layout): no transposed copy of the weight. */
export function linear(g: GraphBuilder, x: string, w: TensorRef): string {
  return g.op('Gemm', [x, weight(g, w)], { transB: A.i(1) });
}

/** GELU with the tanh approximation (PyTorch's gelu(approximate="tanh")). */
export function geluTanh(g: GraphBuilder, x: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.scalarFloat(0.044715)])]), g.scalarFloat(Math.sqrt(2 / Math.PI))]);
  const half = g.op('Mul', [x, g.scalarFloat(0.5)]);
  return g.op('Mul', [half, g.op('Add', [g.op('Tanh', [inner]), g.scalarFloat(1)])]);
}

/** RoPE's rotate_half on the last axis of size d: concat(-x[d/2:], x[:d/2]). */
export function rotateHalf(g: GraphBuilder, x: string, d: number): string {
  const [x1, x2] = g.opN('Split', [x, g.int64s([d / 2, d / 2])], 2, { axis: A.i(-1) });
  return g.op('Concat', [g.op('Neg', [x2]), x1], { axis: A.i(-1) });
}
