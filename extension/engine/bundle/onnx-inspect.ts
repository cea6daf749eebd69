/**
 * Reads an ONNX model's inputs and outputs without loading it into a runtime. The file is walked at the
 * protobuf wire level with positioned reads, so embedded weights are skipped, never read; only the small
 * ValueInfoProto and external-data TensorProto records are decoded with onnx-proto.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';

/** A graph input or output. dims: a number for a fixed size, the parameter name for a symbolic one, '?' when unknown; absent when the shape is unknown. */
export interface OnnxValueInfo {
  name: string;
  /** onnx.TensorProto.DataType (1 = float, 7 = int64, ...); 0 when not a tensor. */
  elemType: number;
  dims?: (number | string)[];
}

export interface OnnxSignature {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Locations (relative to the model's folder) that initializers keep their data in. */
  externalDataFiles: string[];
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

// Field numbers from onnx.proto.
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const NODE_OUTPUT = 2;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
/** Wire types of ModelProto's fields; a file that disagrees is not an ONNX model. */
const MODEL_WIRE: Record<number, number> = { 1: WIRE_VARINT, 2: WIRE_LEN, 3: WIRE_LEN, 4: WIRE_LEN, 5: WIRE_VARINT, 6: WIRE_LEN, 7: WIRE_LEN, 8: WIRE_LEN, 14: WIRE_LEN, 20: WIRE_LEN, 25: WIRE_LEN };
/** External-data initializers are a few hundred bytes; larger records hold embedded weights, which we skip. */
const MAX_DECODED_INITIALIZER = 1 << 16;

class NotOnnx extends Error {}

/** Positioned, buffered reads over a file descriptor. */
class FileBytes {
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufLen = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  byte(pos: number): number {
    if (pos >= this.size) throw new NotOnnx('unexpected end of file');
    if (pos < this.bufStart || pos >= this.bufStart + this.bufLen) {
      this.bufStart = pos;
      this.bufLen = readSync(this.fd, this.buf, 0, Math.min(this.buf.length, this.size - pos), pos);
    }
    return this.buf[pos - this.bufStart];
  }

  bytes(pos: number, length: number): Uint8Array {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, pos + done);
      if (n === 0) throw new NotOnnx('unexpected end of file');
      done += n;
    }
    return out;
  }
}

interface Field {
  field: number;
  wire: number;
  /** For WIRE_LEN: where the payload starts and its length. For WIRE_VARINT: the value (exact below 2^53). */
  start: number;
  length: number;
  value: number;
}

function readVarint(f: FileBytes, pos: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = f.byte(pos + i);
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (!(b & 0x80)) return { value, next: pos + i + 1 };
  }
  throw new NotOnnx('malformed varint');
}

/** Every field of a message occupying [start, end); throws NotOnnx unless the range parses exactly. */
function* fields(f: FileBytes, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const tag = readVarint(f, pos);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (field === 0) throw new NotOnnx(`field number 0 at byte ${pos}`);
    if (wire !== WIRE_VARINT && wire !== WIRE_LEN && wire !== WIRE_I64 && wire !== WIRE_I32) throw new NotOnnx(`unsupported wire type ${wire} at byte ${pos}`);
    pos = tag.next;
    if (wire === WIRE_VARINT) {
      const v = readVarint(f, pos);
      yield { field, wire, start: pos, length: v.next - pos, value: v.value };
      pos = v.next;
    } else if (wire === WIRE_LEN) {
      const len = readVarint(f, pos);
      if (len.next + len.value > end) throw new NotOnnx(`field ${field} at byte ${pos} runs past its message`);
      yield { field, wire, start: len.next, length: len.value, value: 0 };
      pos = len.next + len.value;
    } else {
      const width = wire === WIRE_I64 ? 8 : 4;
      yield { field, wire, start: pos, length: width, value: 0 };
      pos += width;
    }
  }
  if (pos !== end) throw new NotOnnx('message ends inside a field');
}

function dimsOf(type: onnx.ITypeProto | null | undefined): Pick<OnnxValueInfo, 'elemType' | 'dims'> {
  const t = type?.tensorType;
  if (!t) return { elemType: 0 };
  const elemType = t.elemType ?? 0;
  if (!t.shape) return { elemType };
  // Decoded messages carry both oneof members (defaults on the prototype); `value` says which was set.
  const dims = (t.shape.dim ?? []).map((dim) => {
    const d = dim as onnx.TensorShapeProto.Dimension;
    if (d.value === 'dimValue') return typeof d.dimValue === 'number' ? d.dimValue : d.dimValue.toNumber();
    if (d.value === 'dimParam') return d.dimParam;
    return '?';
  });
  return { elemType, dims };
}

function valueInfo(bytes: Uint8Array): OnnxValueInfo {
  let v: onnx.ValueInfoProto;
  try {
    v = onnx.ValueInfoProto.decode(bytes);
  } catch (e) {
    throw new NotOnnx(`undecodable graph input/output (${(e as Error).message})`);
  }
  return { name: v.name, ...dimsOf(v.type) };
}

function externalLocation(bytes: Uint8Array): string | undefined {
  let t: onnx.TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new NotOnnx(`undecodable initializer (${(e as Error).message})`);
  }
  if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  return t.externalData.find((kv) => kv.key === 'location')?.value ?? undefined;
}

/** Opens an ONNX model and hands its GraphProto's extent to `read`; a file that is not one gives a LatentDiffError naming it. */
function withGraph<T>(path: string, read: (f: FileBytes, graph: Field) => T): T {
  checkRegularFile(path, 'ONNX model');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LatentDiffError(path, `cannot open ONNX model (${(e as NodeJS.ErrnoException).code ?? e})`, 'not-found');
  }
  try {
    const f = new FileBytes(fd, fstatSync(fd).size);
    if (f.size === 0) throw new NotOnnx('empty file');
    let graph: Field | undefined;
    let hasIrVersion = false;
    for (const fld of fields(f, 0, f.size)) {
      const expectedWire = MODEL_WIRE[fld.field];
      if (expectedWire !== undefined && expectedWire !== fld.wire) throw new NotOnnx(`ModelProto field ${fld.field} has wire type ${fld.wire}`);
      if (fld.field === MODEL_IR_VERSION) hasIrVersion = true;
      if (fld.field === MODEL_GRAPH) graph = fld;
    }
    if (!hasIrVersion) throw new NotOnnx('no ir_version');
    if (!graph) throw new NotOnnx('no graph');
    return read(f, graph);
  } catch (e) {
    if (e instanceof NotOnnx) throw new LatentDiffError(path, `not an ONNX model (${e.message})`, 'not-onnx');
    throw e;
  } finally {
    closeSync(fd);
  }
}

/** Reads the graph's inputs and outputs; a file that is not an ONNX model gives a LatentDiffError naming it. */
export function readOnnxSignature(path: string): OnnxSignature {
  return withGraph(path, (f, graph) => {
    const sig: OnnxSignature = { inputs: [], outputs: [], externalDataFiles: [] };
    const external = new Set<string>();
    for (const fld of fields(f, graph.start, graph.start + graph.length)) {
      const isValueInfo = fld.field === GRAPH_INPUT || fld.field === GRAPH_OUTPUT;
      if ((isValueInfo || fld.field === GRAPH_INITIALIZER) && fld.wire !== WIRE_LEN) throw new NotOnnx(`GraphProto field ${fld.field} has wire type ${fld.wire}`);
      if (fld.field === GRAPH_INPUT) sig.inputs.push(valueInfo(f.bytes(fld.start, fld.length)));
      else if (fld.field === GRAPH_OUTPUT) sig.outputs.push(valueInfo(f.bytes(fld.start, fld.length)));
      else if (fld.field === GRAPH_INITIALIZER && fld.length <= MAX_DECODED_INITIALIZER) {
        const loc = externalLocation(f.bytes(fld.start, fld.length));
        if (loc) external.add(loc);
      }
    }
    sig.externalDataFiles = [...external];
    return sig;
  });
}

/** Where a named value comes from in a graph: a weight (with its type and shape), a node's output, or a graph input. */
export type OnnxValueOrigin = { kind: 'initializer'; elemType: number; dims: number[] } | { kind: 'node-output' } | { kind: 'input' };

/**
 * Finds a value by name among the graph's initializers (their dims, type and name decoded at the wire level,
 * so the weights themselves are never read), node outputs and inputs; undefined when the graph has none.
 */
export function findOnnxValue(path: string, name: string): OnnxValueOrigin | undefined {
  const str = (f: FileBytes, fld: Field) => (fld.wire === WIRE_LEN ? Buffer.from(f.bytes(fld.start, fld.length)).toString('utf8') : undefined);
  return withGraph(path, (f, graph) => {
    let found: OnnxValueOrigin | undefined;
    for (const fld of fields(f, graph.start, graph.start + graph.length)) {
      if (fld.wire !== WIRE_LEN) continue;
      const end = fld.start + fld.length;
      if (fld.field === GRAPH_INITIALIZER) {
        let tensorName = '';
        let elemType = 0;
        const dims: number[] = [];
        for (const t of fields(f, fld.start, end)) {
          if (t.field === TENSOR_NAME) tensorName = str(f, t) ?? '';
          else if (t.field === TENSOR_DATA_TYPE && t.wire === WIRE_VARINT) elemType = t.value;
          else if (t.field === TENSOR_DIMS && t.wire === WIRE_VARINT) dims.push(t.value);
          else if (t.field === TENSOR_DIMS && t.wire === WIRE_LEN) {
            for (let pos = t.start; pos < t.start + t.length; ) {
              const v = readVarint(f, pos);
              dims.push(v.value);
              pos = v.next;
            }
          }
        }
        if (tensorName === name) return { kind: 'initializer', elemType, dims };
      } else if (fld.field === GRAPH_NODE && !found) {
        for (const n of fields(f, fld.start, end)) if (n.field === NODE_OUTPUT && str(f, n) === name) found = { kind: 'node-output' };
      } else if (fld.field === GRAPH_INPUT && !found && valueInfo(f.bytes(fld.start, fld.length)).name === name) {
        found = { kind: 'input' };
      }
    }
    return found;
  });
}
