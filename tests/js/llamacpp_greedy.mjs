// llama.cpp (through node-llama-cpp, prebuilt CPU build) on GGUF files:
// greedy decoding from given prompt token ids, and tokenization of texts.
//
//   node tests/js/llamacpp_greedy.mjs CLIENTS_NODE_MODULES JOBS.json
//
// JOBS.json is an array of jobs, each
//   {"model": "m.gguf", "prompt": [ids], "n": 64, "stop": [ids],
//    "kv": "f32" | "f16", "tokenize": ["text", ...], "threads": 1, "top": K,
//    "vocab_only": false}  (true: load the vocabulary alone, for tokenize)
// and stdout is one JSON array with, per job,
//   {"ids": [generated ids], "stopped": bool, "tokens": [[ids of each text]],
//    "bos": id, "eos": id,  (llama.cpp's reading of the special ids)
//    "top": [[[id, log p], ... K most likely, p renormalised over them]
//            per generated position]}  (when "top" is set)
// Decoding: the prompt ids are evaluated as given (no BOS is added), then
// each next token is the argmax of the logits (temperature 0: llama.cpp's
// greedy sampler; no repeat penalty, no top-k/top-p), for n tokens or until
// a token of "stop" (that token is not returned: anchor's generate does not
// return its stop token either). The KV cache is f32 unless "kv" is "f16",
// so the comparison sees the weights' precision, not the cache's.
// With "top", a second pass feeds the prompt and the greedy ids again and
// records llama.cpp's next-token distribution at each position over its K
// most likely tokens (temperature 1, top-k K, no top-p/min-p: the softmax of
// those K logits): the tokens and their log-probabilities. Flash attention is off (llama.cpp's default "auto"
// turns it on, which rounds differently).
// Tokenization: model.tokenize(text, true): no BOS added, special tokens in
// the text recognised (as Hugging Face tokenizers always do).
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [clients, jobsPath] = process.argv.slice(2);
if (!clients || !jobsPath) {
    console.error("usage: llamacpp_greedy.mjs CLIENTS_NODE_MODULES JOBS.json");
    process.exit(2);
}
const { getLlama } = await import(pathToFileURL(join(clients, "node-llama-cpp", "dist", "index.js")).href);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const jobs = JSON.parse(readFileSync(jobsPath, "utf8"));
const results = [];
for (const job of jobs) {
    const model = await llama.loadModel({ modelPath: job.model, vocabOnly: job.vocab_only ?? false });
    const out = { ids: [], stopped: false, tokens: [], bos: model.tokens.bos, eos: model.tokens.eos };
    if (job.prompt && job.prompt.length) {
        const kv = job.kv === "f16" ? "F16" : "F32";
        const context = await model.createContext({
            contextSize: Math.max(64, job.prompt.length + (job.n ?? 64) + 8),
            batchSize: 512,
            threads: job.threads ?? 1,
            experimentalKvCacheKeyType: kv,
            experimentalKvCacheValueType: kv,
            flashAttention: job.flash_attention ?? false,
        });
        const seq = context.getSequence();
        const stop = new Set(job.stop ?? []);
        for await (const t of seq.evaluate(job.prompt, { temperature: 0, yieldEogToken: true })) {
            if (stop.has(t)) {
                out.stopped = true;
                break;
            }
            out.ids.push(t);
            if (out.ids.length >= (job.n ?? 64)) break;
        }
        if (job.top) {
            // llama.cpp's log-probabilities along its greedy tokens (teacher-forced:
            // each sampled token is replaced by the greedy one), the job.top most
            // likely per position
            await seq.clearHistory();
            const gen = seq.evaluateWithMetadata(job.prompt, { probabilities: true },
                                                 { temperature: 1, topK: job.top, topP: 1, minP: 0, seed: 1 });
            out.top = [];
            let step = await gen.next();
            while (!step.done && out.top.length < out.ids.length) {
                const top = [];
                for (const [tok, p] of step.value.probabilities) {
                    top.push([tok, Math.log(p)]);
                    if (top.length >= job.top) break;
                }
                out.top.push(top);
                if (out.top.length >= out.ids.length) break;
                step = await gen.next(out.ids[out.top.length - 1]);
            }
            await gen.return();
        }
        await context.dispose();
    }
    for (const text of job.tokenize ?? []) out.tokens.push(Array.from(model.tokenize(text, true)));
    await model.dispose();
    results.push(out);
}
console.log(JSON.stringify(results));
