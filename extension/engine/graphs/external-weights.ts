import { basename } from 'node:path';
import { LatentDiffError } from '../errors';
import { DTYPE_BYTES, type TensorRef } from '../bundle/safetensors';
import { A, DT, type ElemType, type GraphBuilder } from './onnx-builder';

const FLOAT_ELEM: Partial<Record<TensorRef['dtype'], ElemType>> = {
  F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16, F64: DT.DOUBLE,
};

/** The ONNX element type of a floating-point safetensors tensor; anything else is a user error. */
export function floatElemType(ref: TensorRef): ElemType {
  const t = FLOAT_ELEM[ref.dtype];
  if (t === undefined) throw new LatentDiffError(ref.file, `tensor "${ref.name}" has dtype ${ref.dtype}; a floating-point dtype (F32, F16, BF16, F64) is needed`);
  return t;
}

/**
 * Adds a contiguous element range of a safetensors tensor as an external-data initializer (no copy: the
 * graph points into the .safetensors file, which must sit beside the .onnx file) and returns a float32 value,
 * Cast in the graph when the stored dtype is not F32.
 */
export function externalFloat(g: GraphBuilder, ref: TensorRef, startElement: number, dims: number[], name?: string): string {
  const elemType = floatElemType(ref);
  const size = DTYPE_BYTES[ref.dtype];
  const count = dims.reduce((a, b) => a * b, 1);
  if (startElement < 0 || (startElement + count) * size > ref.byteLength) {
    throw new Error(`externalFloat: elements ${startElement}+${count} outside tensor ${ref.name}`);
  }
  const w = g.external({ location: basename(ref.file), offset: ref.offset + startElement * size, length: count * size, elemType, dims }, name);
  return elemType === DT.FLOAT ? w : g.op('Cast', [w], { to: A.i(DT.FLOAT) });
}
