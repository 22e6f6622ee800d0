// llama.cpp's side of bench_gguf (bench/run.sh): node-llama-cpp's prebuilt
// CPU llama.cpp decodes the prompts bench_gguf wrote, greedily, n new tokens
// each (end-of-generation tokens do not stop it), first one sequence at a
// time, then all of them as parallel sequences of one context (llama.cpp
// batches their tokens into shared decode calls). Flash attention off, f32
// KV cache (as anchor), the given thread count. Prints "key value" lines:
// llamacpp_single_tok_s, llamacpp_batched_tok_s (generated tokens per
// second, prompt processing included, as bench_gguf counts).
//   node bench/llamacpp_bench.mjs CLIENTS_NODE_MODULES MODEL.gguf PROMPTS.json N_NEW THREADS [LABEL]
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [clients, modelPath, promptsPath, nNewArg, threadsArg, label = "llamacpp"] = process.argv.slice(2);
const nNew = Number(nNewArg), threads = Number(threadsArg);
const { getLlama } = await import(pathToFileURL(join(clients, "node-llama-cpp", "dist", "index.js")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath });
const prompts = JSON.parse(readFileSync(promptsPath, "utf8"));
const ctxSize = prompts[0].length + nNew + 16;

async function decode(seq, prompt) {
    let n = 0;
    for await (const t of seq.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
        void t;
        if (++n >= nNew) break;
    }
    return n;
}

const opts = (sequences) => ({
    contextSize: ctxSize * sequences, sequences, batchSize: 512, threads, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});

{
    const ctx = await model.createContext(opts(1));
    const seq = ctx.getSequence();
    const t0 = performance.now();
    let toks = 0;
    for (const p of prompts) {
        await seq.clearHistory();
        toks += await decode(seq, p);
    }
    console.log(`${label}_single_tok_s ${(toks / ((performance.now() - t0) / 1000)).toFixed(1)}`);
    await ctx.dispose();
}
{
    const ctx = await model.createContext(opts(prompts.length));
    const seqs = prompts.map(() => ctx.getSequence());
    const t0 = performance.now();
    const counts = await Promise.all(prompts.map((p, i) => decode(seqs[i], p)));
    const toks = counts.reduce((a, b) => a + b, 0);
    console.log(`${label}_batched_tok_s ${(toks / ((performance.now() - t0) / 1000)).toFixed(1)}`);
    await ctx.dispose();
}
await model.dispose();
