import { onnx } from 'onnx-proto';

/** ONNX element types we use (values of onnx.TensorProto.DataType). */
export const DT = {
  FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16,
} as const;
export type ElemType = (typeof DT)[keyof typeof DT];

export const OPSET = 17;
const IR_VERSION = 8;

type AttrValue = onnx.IAttributeProto;

/** Typed attribute constructors: ONNX distinguishes int and float attributes, JS numbers do not. */
export const A = {
  i: (v: number): AttrValue => ({ type: onnx.AttributeProto.AttributeType.INT, i: v }),
  f: (v: number): AttrValue => ({ type: onnx.AttributeProto.AttributeType.FLOAT, f: v }),
  ints: (v: number[]): AttrValue => ({ type: onnx.AttributeProto.AttributeType.INTS, ints: v }),
  floats: (v: number[]): AttrValue => ({ type: onnx.AttributeProto.AttributeType.FLOATS, floats: v }),
  s: (v: string): AttrValue => ({ type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) }),
  t: (v: onnx.ITensorProto): AttrValue => ({ type: onnx.AttributeProto.AttributeType.TENSOR, t: v }),
};

/** A tensor stored outside the model: a byte range of a file, e.g. inside a .safetensors file. */
export interface ExternalTensor {
  /** Path of the data file relative to the directory the .onnx file is loaded from. */
  location: string;
  offset: number;
  length: number;
  elemType: ElemType;
  dims: number[];
}

/**
 * A small builder for ONNX graphs: named values are strings, nodes are appended in order, small
 * constants are inlined and large weights are external-data references (never copied).
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  private fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, elemType: ElemType, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: ElemType, dims: (number | string)[]): string {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Appends a node and returns the name of its first output. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    return this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined)[0];
  }

  /** Appends a node with several outputs and returns their names. */
  opN(opType: string, inputs: string[], nOutputs: number, attrs: Record<string, AttrValue> = {}, outNames?: string[]): string[] {
    const outs = outNames ?? Array.from({ length: nOutputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([name, a]) => ({ ...a, name })),
    });
    return outs;
  }

  /** Makes an already-computed value available under a graph-output name. */
  alias(value: string, name: string): string {
    return this.op('Identity', [value], {}, name);
  }

  floats(data: ArrayLike<number>, dims: number[], name = this.fresh('const_f')): string {
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    this.initializers.push({ name, dataType: DT.FLOAT, dims, rawData: new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength)) });
    return name;
  }

  int64s(data: ArrayLike<number>, dims: number[] = [data.length], name = this.fresh('const_i')): string {
    const b = BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
    this.initializers.push({ name, dataType: DT.INT64, dims, rawData: new Uint8Array(b.buffer) });
    return name;
  }

  scalarFloat(v: number): string {
    return this.floats([v], []);
  }

  scalarInt64(v: number): string {
    return this.int64s([v], []);
  }

  external(t: ExternalTensor, name = this.fresh('w')): string {
    this.initializers.push({
      name,
      dataType: t.elemType,
      dims: t.dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: t.location },
        { key: 'offset', value: String(t.offset) },
        { key: 'length', value: String(t.length) },
      ],
    });
    return name;
  }

  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'latent-diff',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: ElemType, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
