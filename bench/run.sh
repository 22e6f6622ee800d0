#!/bin/sh
# make bench: anchor's benchmarks side by side with their peers, printing
# ratios. Figures go into docs/performance.md by hand, with the machine.
#   bench/run.sh BUILD_DIR
set -eu
B=${1:-build}
cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-$B/bench}
mkdir -p "$OUT"
REPS=${BENCH_REPS:-3}

echo "== machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"

echo "== GEMM peaks: fp32 (OpenBLAS) and bf16 operands with fp32 accumulation (oneDNN), OPENBLAS_CORETYPE/L2_SIZE unset"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_gemm" --reps "$REPS" | tee "$OUT/gemm_anchor.txt"

echo "== engine: SmolLM2-135M-shaped random model, 2 x 512 tokens (forward = scoring, train = forward+backward)"
"$B/bench_engine" --reps "$REPS" | tee "$OUT/engine_anchor.txt"

get() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    # torch runs its own OpenMP pool beside OpenBLAS's threads; its idle
    # OpenMP threads spin by default, which starves BLAS on 2 cores. Measure
    # both settings and compare with the faster, to be fair to the peer.
    /usr/bin/python3 bench/torch_engine.py --reps "$REPS" > "$OUT/engine_torch_default.txt"
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_engine.py --reps "$REPS" > "$OUT/engine_torch_passive.txt"
    best="$OUT/engine_torch_default.txt"
    a=$(get train_step_s "$OUT/engine_torch_default.txt"); b=$(get train_step_s "$OUT/engine_torch_passive.txt")
    if awk -v a="$a" -v b="$b" 'BEGIN {exit !(b < a)}'; then best="$OUT/engine_torch_passive.txt"; fi
    echo "-- pytorch ($(basename "$best"))"
    cat "$best"
    echo "== ratios (anchor / pytorch; > 1 means anchor is faster or smaller)"
    awk -v af="$(get forward_s "$OUT/engine_anchor.txt")" -v tf="$(get forward_s "$best")" \
        -v ab="$(get train_step_s "$OUT/engine_anchor.txt")" -v tb="$(get train_step_s "$best")" \
        -v am="$(get peak_rss_mb "$OUT/engine_anchor.txt")" -v tm="$(get peak_rss_mb "$best")" \
        'BEGIN { printf "forward speed   %.2fx\ntrain speed     %.2fx\npeak memory     %.2fx smaller\n", tf/af, tb/ab, tm/am }'
else
    echo "(python3-torch not installed: PyTorch peer skipped; ANCHOR_WITH_TORCH=1 scripts/install-deps.sh)"
fi

echo "== training step: APO-zero, one pair of 2 x 512 tokens (128 prompt + 384 response), AdamW, clip 1.0"
"$B/bench_train" --steps "$REPS" | tee "$OUT/train_anchor.txt"
"$B/bench_train" --steps "$REPS" --bf16 > "$OUT/train_anchor_bf16.txt"
echo "-- anchor --bf16"
cat "$OUT/train_anchor_bf16.txt"
awk -v a="$(get step_s "$OUT/train_anchor.txt")" -v b="$(get step_s "$OUT/train_anchor_bf16.txt")" \
    -v g="$(get train_gflops "$OUT/train_anchor_bf16.txt")" -v p="$(get bf16_peak_gflops "$OUT/gemm_anchor.txt")" \
    'BEGIN { printf "anchor --bf16 step %.2fx faster than fp32, %.3f of the %.1f GFLOP/s bf16 GEMM peak\n", a/b, g/p, p }'
echo "-- anchor --bf16 --use-peft (LoRA r 16 on all-linear, dropout 0.05, frozen base)"
"$B/bench_train" --steps "$REPS" --bf16 --lora-r 16 | tee "$OUT/train_anchor_bf16_lora.txt"
awk -v a="$(get step_s "$OUT/train_anchor_bf16.txt")" -v b="$(get step_s "$OUT/train_anchor_bf16_lora.txt")" \
    -v am="$(get peak_rss_mb "$OUT/train_anchor_bf16.txt")" -v bm="$(get peak_rss_mb "$OUT/train_anchor_bf16_lora.txt")" \
    'BEGIN { printf "LoRA step %.2fx the full bf16 step, %.2fx less peak memory\n", a/b, am/bm }'
peak=$(get sgemm_peak_gflops "$OUT/engine_anchor.txt")
awk -v g="$(get train_gflops "$OUT/train_anchor.txt")" -v p="$peak" 'BEGIN { printf "anchor train MFU %.3f (of the %.1f GFLOP/s SGEMM peak)\n", g/p, p }'
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    (cd bench && OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 torch_train.py --steps "$REPS") > "$OUT/train_torch.txt"
    echo "-- pytorch (OMP_WAIT_POLICY=PASSIVE)"
    cat "$OUT/train_torch.txt"
    awk -v a="$(get step_s "$OUT/train_anchor.txt")" -v t="$(get step_s "$OUT/train_torch.txt")" \
        -v am="$(get peak_rss_mb "$OUT/train_anchor.txt")" -v tm="$(get peak_rss_mb "$OUT/train_torch.txt")" \
        -v g="$(get train_gflops "$OUT/train_torch.txt")" -v p="$peak" \
        'BEGIN { printf "pytorch train MFU %.3f\nratio: anchor step %.2fx faster, %.2fx less peak memory\n", g/p, t/a, tm/am }'
fi

echo "== LoRA on a real model shape: Llama-3.2-1B (bench/shapes, random weights), r 16 all-linear, dropout 0.05,"
echo "   APO-zero on 1024 tokens, --bf16 --gradient-checkpointing, one warm-up + one timed step (BENCH_LARGE=0 skips; ~3 min)"
if [ "${BENCH_LARGE:-1}" != 0 ]; then
    shape=bench/shapes/llama-3.2-1b.json
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_train" --config "$shape" --tokens 1024 --steps 1 --bf16 \
        --gradient-checkpointing --lora-r 16 | tee "$OUT/train_anchor_lora_1b.txt"
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_lora.py \
            --config "$shape" --tokens 1024 --steps 1 --bf16 --gradient-checkpointing > "$OUT/train_torch_lora_1b.txt"
        echo "-- pytorch, hand-written LoRA (bf16 base, autocast, torch.utils.checkpoint)"
        cat "$OUT/train_torch_lora_1b.txt"
        awk -v a="$(get step_s "$OUT/train_anchor_lora_1b.txt")" -v t="$(get step_s "$OUT/train_torch_lora_1b.txt")" \
            -v am="$(get peak_rss_mb "$OUT/train_anchor_lora_1b.txt")" -v tm="$(get peak_rss_mb "$OUT/train_torch_lora_1b.txt")" \
            'BEGIN { printf "ratio: anchor LoRA step %.2fx faster, %.2fx less peak memory\n", t/a, tm/am }'
    fi
fi

echo "== drafting: KV-cache generation, 8 prompts x 64 tokens, 64 new tokens each (temperature 1)"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_generate" | tee "$OUT/generate_anchor.txt"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_generate" --bf16 --batch 64 | tee "$OUT/generate_anchor_bf16.txt"
awk -v a="$(get parallel_1_tok_s "$OUT/generate_anchor.txt")" -v b="$(get parallel_1_tok_s "$OUT/generate_anchor_bf16.txt")" \
    'BEGIN { printf "anchor --bf16 decoding (one sequence) %.2fx the fp32 rate\n", b/a }' 

echo "== tokenizer: encoding throughput, 10 MB of real mixed text (the shared fixtures' chat/preference/code text and llama.cpp's cases, cycled), one document at a time"
if "$B/bench_tokenizer" > "$OUT/tokenizer_anchor.txt"; then
    cat "$OUT/tokenizer_anchor.txt"
    if command -v node >/dev/null 2>&1 && [ -d scripts/js/node_modules/@huggingface/transformers ]; then
        node bench/tokenizer_js_bench.mjs --corpus fixtures > "$OUT/tokenizer_js.txt"
        echo "-- JavaScript port of HF tokenizers (@huggingface/transformers), same text and loop"
        cat "$OUT/tokenizer_js.txt"
        echo "== ratios (anchor / JS; > 1 means anchor is faster)"
        for t in smollm2 llama2; do
            awk -v t="$t" -v a="$(get "encode_mb_s_$t" "$OUT/tokenizer_anchor.txt")" -v j="$(get "encode_mb_s_$t" "$OUT/tokenizer_js.txt")" \
                'BEGIN { printf "%-8s encode %.2f vs %.2f MB/s: %.1fx\n", t, a, j, a / j }'
        done
    else
        echo "(node or scripts/js/node_modules missing: JS peer skipped; cd scripts/js && npm ci --ignore-scripts)"
    fi
else
    echo "(tokenizer benchmark skipped: ../shared/fixtures absent)"
fi

echo "== llama.cpp peer: the same SmolLM2-135M-shaped random model exported by anchor export's writer (f32; q8_0 too),"
echo "   8 prompts x 64 ids, 64 greedy new tokens each, one sequence at a time and 8 together (2 threads each)"
TOK=${ANCHOR_SHARED_FIXTURES:-../shared/fixtures}/tokenizers/smollm2
CLIENTS=scripts/clients/node_modules
if [ ! -f "$TOK/tokenizer.json" ]; then
    echo "(shared fixtures absent: $TOK; llama.cpp peer skipped)"
elif ! command -v node >/dev/null 2>&1 || [ ! -d "$CLIENTS/node-llama-cpp" ]; then
    echo "(node or $CLIENTS/node-llama-cpp missing: llama.cpp peer skipped; scripts/install-clients.sh)"
else
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_gguf" "$OUT/gguf" "$TOK" | tee "$OUT/gguf_anchor.txt"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE node bench/llamacpp_bench.mjs "$CLIENTS" "$OUT/gguf/model-f32.gguf" "$OUT/gguf/prompts.json" 64 2 llamacpp \
        | tee "$OUT/gguf_llamacpp.txt"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE node bench/llamacpp_bench.mjs "$CLIENTS" "$OUT/gguf/model-q8_0.gguf" "$OUT/gguf/prompts.json" 64 2 llamacpp_q8_0 \
        | tee -a "$OUT/gguf_llamacpp.txt"
    echo "== ratios (anchor / llama.cpp; > 1 means anchor is faster)"
    for mode in single batched; do
        for prec in "" bf16_; do
            a=$(get "anchor_${prec}${mode}_tok_s" "$OUT/gguf_anchor.txt")
            [ -n "$a" ] || continue
            awk -v m="$mode" -v p="${prec:-fp32_}" -v a="$a" -v l="$(get "llamacpp_${mode}_tok_s" "$OUT/gguf_llamacpp.txt")" \
                -v q="$(get "llamacpp_q8_0_${mode}_tok_s" "$OUT/gguf_llamacpp.txt")" \
                'BEGIN { printf "%-8s anchor %s %.1f tok/s, llama.cpp f32 %.1f (%.2fx), llama.cpp q8_0 %.1f (%.2fx)\n", m, substr(p, 1, length(p) - 1), a, l, a/l, q, a/q }'
        done
    done
    rm -f "$OUT/gguf/model-f32.gguf" "$OUT/gguf/model-q8_0.gguf"
fi

echo "== anchor serve under load: 32 clients x 500 requests (temperature 0, 64 new tokens) against"
echo "   anchor generate --parallel 32 on the same prompts; a 4-layer SmolLM2-shaped model over stories260K's vocabulary"
L2C=${ANCHOR_SHARED_FIXTURES:-../shared/fixtures}/llama2c
if [ ! -f "$L2C/stories260K.bin" ]; then
    echo "(shared fixtures absent: $L2C; serve load test skipped)"
else
    rm -rf "$OUT/stories260K"
    "$B/anchor" convert --from llama2c "$L2C/stories260K.bin" --tokenizer "$L2C/tok512.bin" --out "$OUT/stories260K" 2>/dev/null
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$B/bench_serve" --model "$OUT/stories260K" --layers 4 --clients 32 \
        --requests 500 --new 64 --parallel 32 | tee "$OUT/serve_anchor.txt"
fi

echo "== data parallel: mpirun -np 2 anchor train (1 thread per rank) vs one process with 2 threads, the same"
echo "   global batch (4 pairs x 512 tokens per optimiser step), APO-zero, SmolLM2-135M-shaped random model, fp32"
if ! command -v mpirun >/dev/null 2>&1 || ! ldd "$B/anchor" | grep -q libmpi; then
    echo "(mpirun absent or anchor built without MPI; data-parallel benchmark skipped)"
else
    rm -rf "$OUT/mpi"
    "$B/bench_mpi" "$OUT/mpi" --pairs 16 --tokens 512
    MPI_ARGS="--model $OUT/mpi/model --data $OUT/mpi/pairs.jsonl --loss-type apo_zero --max-steps 4 --logging-steps 1 --max-tokens 4096 --no-memory-check"
    mpi_rate() { # metrics.jsonl -> mean tokens/s of steps 2.. (step 1 warms up)
        awk -F'"tokens_per_second": ' 'NR > 1 { split($2, a, "}"); s += a[1]; n++ } END { if (n) printf "%.0f", s / n }' "$1"
    }
    t0=$(date +%s.%N)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 "$B/anchor" train $MPI_ARGS \
        --per-device-train-batch-size 4 --output-dir "$OUT/mpi/one" 2> "$OUT/mpi/one.log"
    t1=$(date +%s.%N)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
        OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np 2 "$B/anchor" train $MPI_ARGS \
        --per-device-train-batch-size 2 --output-dir "$OUT/mpi/two" 2> "$OUT/mpi/two.log"
    t2=$(date +%s.%N)
    one=$(mpi_rate "$OUT/mpi/one/metrics.jsonl"); two=$(mpi_rate "$OUT/mpi/two/metrics.jsonl")
    echo "1 process x 2 threads: $one tok/s (run $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s incl. loading and the reference pass)" | tee "$OUT/mpi_train.txt"
    echo "2 ranks x 1 thread:    $two tok/s (run $(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }") s)  ratio $(awk "BEGIN { printf \"%.2f\", $two / $one }")" | tee -a "$OUT/mpi_train.txt"
    grep "summing gradients" "$OUT/mpi/two.log" | sed 's/^anchor train: /   /' | tee -a "$OUT/mpi_train.txt"
    rm -rf "$OUT/mpi/model" "$OUT/mpi/one" "$OUT/mpi/two"
fi
