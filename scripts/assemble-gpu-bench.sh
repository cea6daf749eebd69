#!/usr/bin/env bash
# Assembles the GPU benchmark (test/bench/gpu.ts) into one self-contained folder, and packs it as a .tar.xz of
# at most 60 MiB, to carry to a GPU machine that has neither network nor Node: the bench bundled with esbuild,
# onnxruntime-node with only its Linux x64 binaries, the demo models and the 4-block Gemma 2 test fixture (for --demo), and a Node binary.
#
#   scripts/assemble-gpu-bench.sh [OUT_DIR]        (default /tmp/latent-diff-gpu-bench; NODE_BIN=... picks the Node)
#   on the GPU machine: tar -xJf latent-diff-gpu-bench.tar.xz && cd latent-diff-gpu-bench && ./run.sh
#
# The folder itself is ~150 MB (the Node binary alone is ~95 MB); the 60 MiB budget is the packed archive's.
# CUDA: onnxruntime-node ships no CUDA provider. To measure it, put libonnxruntime_providers_shared.so and
# libonnxruntime_providers_cuda.so (Microsoft.ML.OnnxRuntime.Gpu.Linux, the same version as
# node_modules/onnxruntime-node/package.json) next to libonnxruntime.so.1 in
# node_modules/onnxruntime-node/bin/napi-v6/linux/x64/, with CUDA 12 and cuDNN 9 on LD_LIBRARY_PATH.
# WebGPU needs a Vulkan driver for the GPU (NVIDIA's driver ships one).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(realpath -m "${1:-/tmp/latent-diff-gpu-bench}")"
NODE_BIN="${NODE_BIN:-$(command -v node)}"
LIMIT=$((60 * 1024 * 1024))
[ -f models/demo/base.onnx ] || { echo "assemble-gpu-bench: run npm run build first (models/demo is missing)" >&2; exit 1; }

rm -rf "$OUT" "$OUT.tar.xz"
mkdir -p "$OUT/dist" "$OUT/bin" "$OUT/models/demo" "$OUT/node_modules/onnxruntime-node/bin/napi-v6/linux" "$OUT/node_modules/onnxruntime-common"
npx esbuild test/bench/gpu.ts --bundle --platform=node --format=cjs --target=node20 --external:onnxruntime-node \
  --log-level=warning --outfile="$OUT/dist/bench-gpu.js"
ORT=node_modules/onnxruntime-node
cp "$ORT/package.json" "$OUT/$ORT/"
cp -r "$ORT/dist" "$OUT/$ORT/dist"
cp -r "$ORT/bin/napi-v6/linux/x64" "$OUT/$ORT/bin/napi-v6/linux/x64"
cp node_modules/onnxruntime-common/package.json "$OUT/node_modules/onnxruntime-common/"
cp -r node_modules/onnxruntime-common/dist "$OUT/node_modules/onnxruntime-common/dist"
find "$OUT/node_modules" -name '*.map' -delete
cp -r models/demo/base.onnx models/demo/chat.onnx models/demo/crosscoder "$OUT/models/demo/"
cp -r test/fixtures/gemma2/model "$OUT/models/gemma2-tiny"
cp "$NODE_BIN" "$OUT/bin/node"
cat > "$OUT/run.sh" <<'RUN'
#!/usr/bin/env bash
# Latent Diff GPU benchmark: ./run.sh [--tokens N] [--reps N] [--decode-steps N] [--demo] [--allow-software]
cd "$(dirname "$0")"
exec ./bin/node dist/bench-gpu.js "$@"
RUN
chmod +x "$OUT/run.sh"
XZ_OPT="-9 -T0" tar -C "$(dirname "$OUT")" -cJf "$OUT.tar.xz" "$(basename "$OUT")"
size=$(stat -c %s "$OUT.tar.xz")
echo "assembled $OUT ($(du -sm "$OUT" | cut -f1) MiB) and $OUT.tar.xz ($((size / 1024 / 1024)) MiB, limit 60 MiB)"
[ "$size" -le "$LIMIT" ] || { echo "assemble-gpu-bench: $OUT.tar.xz is over 60 MiB" >&2; exit 1; }
