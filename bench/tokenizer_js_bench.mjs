#!/usr/bin/env node
// Encoding throughput of the JavaScript port of Hugging Face tokenizers
// (@huggingface/transformers, installed in scripts/js/), the peer of anchor's
// C benchmarks, on the very same text. Two modes:
//
// 1. The peer of bench/bench_tokenizer_mbps.c (generated, distinct text):
//   build/bench_tokenizer_mbps --write-text /tmp/mixed.txt   # anchor, and the text
//   node bench/tokenizer_js_bench.mjs --text /tmp/mixed.txt  # the JS port
//   [--tokenizers DIR] [--names smollm2,llama2] [--reps 3]
//
// 2. The peer of bench/bench_tokenizer.c (real text from the shared fixtures,
//    cycled to --mb MB):
//   node bench/tokenizer_js_bench.mjs --corpus fixtures [--fixtures DIR] [--mb 10]
//   It rebuilds that program's corpus exactly (same files, same order: every
//   JSON string, object keys in file order, empty strings left out; the
//   llama.cpp cases split on their separator), cycles through it until --mb
//   * 10^6 bytes, timing each encode alone with a decode of its ids in
//   between, and prints the same lines ("encode_mb_s_<name> X" among them).
//   No reps, as there.
//
// Mode 1 in detail: the text file holds documents separated by one form feed (\f); each is
// encoded on its own with add_special_tokens false, as the C side does. Per
// tokenizer: one first pass, then --reps more; <name>_mb_s is the best pass
// by wall-clock time, <name>_cpu_mb_s the best by process CPU time (user +
// system, GC and JIT helper threads included); 1 MB = 10^6 bytes of UTF-8
// input. <name>_tokens and <name>_ids_fnv1a (32-bit FNV-1a over the ids,
// each xor-ed in whole) match the C program's keys when both produce the same
// ids. Tokenizers are loaded offline, from
// DIR/<name>/ (default ../shared/fixtures/tokenizers beside the repository),
// with the same loader as scripts/js/make_tokenizer_reference.mjs. Output:
// "key value" lines, the same keys as bench_tokenizer_mbps.
// Needs: cd scripts/js && npm ci --ignore-scripts

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
// The helper module resolves @huggingface/transformers from scripts/js/node_modules.
const ref = await import(pathToFileURL(path.join(repo, "scripts", "js", "make_tokenizer_reference.mjs")).href);

const shared = path.join(repo, "..", "shared", "fixtures");
const opts = { text: null, corpus: "file", fixtures: process.env.ANCHOR_SHARED_FIXTURES || shared, mb: 10,
    tokenizers: null, names: "smollm2,llama2", reps: 3 };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
    const k = process.argv[i].replace(/^--/, "");
    if (!(k in opts)) {
        console.error(`unknown option ${process.argv[i]}`);
        process.exit(2);
    }
    opts[k] = process.argv[i + 1];
}
opts.tokenizers ??= path.join(opts.fixtures, "tokenizers");
const hex = (h) => "0x" + h.toString(16).padStart(8, "0");
const hrs = () => performance.now() / 1e3;

if (opts.corpus === "fixtures") {
    await fixturesMode();
    process.exit(0);
}
if (opts.corpus !== "file" || !opts.text) {
    console.error("usage: tokenizer_js_bench.mjs --text FILE (write it with bench_tokenizer_mbps --write-text FILE)\n" +
        "       tokenizer_js_bench.mjs --corpus fixtures [--fixtures DIR] [--mb N]");
    process.exit(2);
}

const raw = fs.readFileSync(opts.text);
let th = 0x811c9dc5;
for (const b of raw) th = Math.imul(th ^ b, 16777619) >>> 0;
const docs = raw.toString("utf8").split("\f");
const bytes = raw.length - (docs.length - 1);

console.log("impl js");
console.log(`generator @huggingface/transformers ${ref.packageVersion("@huggingface/transformers")}`);
console.log(`node ${process.version}`);
console.log(`text_bytes ${bytes}`);
console.log(`text_docs ${docs.length}`);
console.log(`text_fnv1a ${hex(th)}`);

function pass(tok) {
    let tokens = 0;
    let h = 0x811c9dc5;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const d of docs) {
        const ids = tok.encode(d, { add_special_tokens: false });
        tokens += ids.length;
        for (const id of ids) h = Math.imul(h ^ id, 16777619);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    return { s, cpu: (c.user + c.system) / 1e6, tokens, h: h >>> 0 };
}

const dir = path.resolve(opts.tokenizers);
ref.configureOffline(dir);
for (const name of opts.names.split(",")) {
    const t0 = process.hrtime.bigint();
    const tok = await ref.loadTokenizer(dir, name);
    console.log(`${name}_load_s ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)}`);
    const first = pass(tok);
    let best = first.s, bestCpu = first.cpu;
    for (let r = 0; r < Number(opts.reps); r++) {
        const p = pass(tok);
        if (p.tokens !== first.tokens || p.h !== first.h) throw new Error(`${name}: passes differ`);
        best = Math.min(best, p.s);
        bestCpu = Math.min(bestCpu, p.cpu);
    }
    console.log(`${name}_tokens ${first.tokens}`);
    console.log(`${name}_ids_fnv1a ${hex(first.h)}`);
    console.log(`${name}_first_mb_s ${(bytes / first.s / 1e6).toFixed(2)}`);
    console.log(`${name}_mb_s ${(bytes / best / 1e6).toFixed(2)}`);
    console.log(`${name}_cpu_mb_s ${(bytes / bestCpu / 1e6).toFixed(2)}`);
}

// ---- mode 2: bench_tokenizer.c's corpus and loop ----

function fixturesCorpus(dir) {
    const docs = [];
    const add = (t) => { if (t.length) docs.push(t); };
    const strings = (j) => {
        if (typeof j === "string") add(j);
        else if (Array.isArray(j)) j.forEach(strings);
        else if (j && typeof j === "object") Object.values(j).forEach(strings);
    };
    const jsonFile = (rel, lines) => {
        let text;
        try { text = fs.readFileSync(path.join(dir, rel), "utf8"); } catch { console.error(`skipping ${rel}`); return; }
        for (const part of lines ? text.split("\n") : [text]) {
            let j;
            try { j = JSON.parse(part); } catch { continue; } // jansson: unparsable line, no strings
            strings(j);
        }
    };
    jsonFile("preference/dpo_en_demo.json", false);
    jsonFile("preference/kto_en_demo.json", false);
    jsonFile("clair/gpt4_revisions_sample.jsonl", true);
    jsonFile("chat-templates/hf_render_cases.json", false);
    try {
        const parts = fs.readFileSync(path.join(dir, "tokenizer-tests/cases.inp"), "utf8").split("\n__ggml_vocab_test__\n");
        parts.slice(0, -1).forEach(add); // only pieces followed by a separator
    } catch { /* absent: as in C */ }
    return docs;
}

async function fixturesMode() {
    const docs = fixturesCorpus(path.resolve(opts.fixtures));
    if (!docs.length) {
        console.error(`no text found under ${opts.fixtures} (use --fixtures DIR)`);
        process.exit(1);
    }
    const lens = docs.map((d) => Buffer.byteLength(d, "utf8"));
    const mb = Number(opts.mb);
    console.log(`generator @huggingface/transformers ${ref.packageVersion("@huggingface/transformers")}`);
    console.log(`node ${process.version}`);
    console.log(`corpus: ${docs.length} documents, ${(lens.reduce((a, b) => a + b, 0) / 1e6).toFixed(2)} MB of distinct text, cycled to ${mb.toFixed(0)} MB`);
    const dir = path.resolve(opts.tokenizers);
    ref.configureOffline(dir);
    for (const name of opts.names.split(",")) {
        const tok = await ref.loadTokenizer(dir, name);
        const target = mb * 1e6;
        let bytes = 0, encS = 0, decS = 0, decBytes = 0, tokens = 0;
        for (let i = 0; bytes < target; i = (i + 1) % docs.length) {
            const t0 = hrs();
            const ids = tok.encode(docs[i], { add_special_tokens: false });
            const t1 = hrs();
            const text = ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
            const t2 = hrs();
            encS += t1 - t0;
            decS += t2 - t1;
            bytes += lens[i];
            decBytes += Buffer.byteLength(text, "utf8");
            tokens += ids.length;
        }
        console.log(`${name.padEnd(8)} encode ${(bytes / 1e6).toFixed(1)} MB in ${encS.toFixed(2)} s = ${(bytes / 1e6 / encS).toFixed(2)} MB/s ` +
            `(${(tokens / 1e6 / encS).toFixed(2)} M tokens/s, ${(bytes / tokens).toFixed(2)} bytes/token); decode ${(decBytes / 1e6 / decS).toFixed(2)} MB/s`);
        console.log(`encode_mb_s_${name} ${(bytes / 1e6 / encS).toFixed(3)}`);
    }
}
