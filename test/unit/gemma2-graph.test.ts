import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddingScale } from '../../extension/engine/graphs/gemma2/gemma2-graph';

test('embedding scale is sqrt(hidden_size) rounded to the weights\' dtype, as transformers computes it', () => {
  // 3072 is transformers' own example (Gemma 7B): sqrt = 55.4256..., 55.5 in bfloat16
  assert.equal(embeddingScale(3072, 'BF16'), 55.5);
  // float16 has 10 mantissa bits: steps of 1/32 between 32 and 64 -> 55.4375
  assert.equal(embeddingScale(3072, 'F16'), 55.4375);
  assert.equal(embeddingScale(3072, 'F32'), Math.fround(Math.sqrt(3072)));
  // Gemma 2 2B and 9B: 48 is exact in every dtype; sqrt(3584) = 59.866 -> 59.75 in bfloat16 (steps of 1/4)
  for (const dtype of ['F32', 'BF16', 'F16'] as const) assert.equal(embeddingScale(2304, dtype), 48);
  assert.equal(embeddingScale(3584, 'BF16'), 59.75);
});
