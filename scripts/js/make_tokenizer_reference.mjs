#!/usr/bin/env node
// Reference token ids from the JavaScript port of Hugging Face tokenizers
// (@huggingface/transformers, whose tokenizer code is @huggingface/tokenizers),
// run offline on local tokenizer folders. CI does not need node: the output is
// committed under tests/fixtures/tokenizer_js/ and read by
// tests/test_tokenizer_js.c.
//
//   cd scripts/js && npm ci --ignore-scripts
//   node make_tokenizer_reference.mjs [FIXTURES_DIR [OUT_DIR]]
//
// FIXTURES_DIR defaults to ../shared/fixtures/tokenizers beside the repo (the
// folder holding llama2/, mistral-7b-v0.1/, smollm2/, gpt2-phi2/,
// phi-3-mini/); OUT_DIR to tests/fixtures/tokenizer_js. `--ignore-scripts`
// keeps onnxruntime-node's postinstall from fetching binaries: only the
// tokenizer code path is used here (no model, no ONNX session is created).
//
// Output, one file per tokenizer, <name>.json:
//   {"tokenizer": name, "generator": "@huggingface/transformers <version>",
//    "cases": [{"text", "ids", "ids_special", "decoded"}, ...]}
// ids:         tokenizer.encode(text, {add_special_tokens: false})
// ids_special: tokenizer.encode(text, {add_special_tokens: true})
// decoded:     tokenizer.decode(ids, {skip_special_tokens: false,
//                                     clean_up_tokenization_spaces: false})
//              ("" for an empty ids list: the JS port throws on [])
// The clean-up step is switched off because it is a transformers-level text
// post-edit (" ." -> "." and the like, on by default in the JS port whenever
// tokenizer_config.json does not say false), not part of the tokenizer.json
// decoder that anchor and the Rust library implement.
//
// Deterministic: the same inputs give byte-identical files.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { env, AutoTokenizer, PreTrainedTokenizer } from "@huggingface/transformers";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const fixturesDir = path.resolve(process.argv[2] ?? path.join(repo, "..", "shared", "fixtures", "tokenizers"));
const outDir = path.resolve(process.argv[3] ?? path.join(repo, "tests", "fixtures", "tokenizer_js"));

export const TOKENIZERS = ["llama2", "mistral-7b-v0.1", "smollm2", "gpt2-phi2", "phi-3-mini"];

// Offline: files come from env.localModelPath/<name>/ only. In v3/v4 a name
// that looks like a hub id ("llama2") is looked up under env.localModelPath;
// with allowRemoteModels = false nothing is ever fetched.
export function configureOffline(dir) {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = dir.endsWith("/") ? dir : dir + "/";
    env.useBrowserCache = false;
    env.useFSCache = false;
}

// Version of an installed package (its package.json, found from the
// resolved entry point: the packages do not export "./package.json").
export function packageVersion(pkg) {
    let dir = path.dirname(createRequire(import.meta.url).resolve(pkg));
    while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
}

// AutoTokenizer.from_pretrained needs tokenizer_config.json (v4 lists the
// tokenizer files only when that file exists); smollm2's copy has none, so a
// folder without it is loaded the same way by hand: its tokenizer.json with an
// empty config, through the base PreTrainedTokenizer class (what AutoTokenizer
// picks when the config names no tokenizer_class).
export async function loadTokenizer(dir, name) {
    if (fs.existsSync(path.join(dir, name, "tokenizer_config.json")))
        return AutoTokenizer.from_pretrained(name, { local_files_only: true });
    const json = JSON.parse(fs.readFileSync(path.join(dir, name, "tokenizer.json"), "utf8"));
    return new PreTrainedTokenizer(json, {});
}

// ---- the test strings (same list for every tokenizer) ----

function mulberry32(seed) {
    return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

// 2000 code points drawn from a pool of pieces of every kind below.
function randomMix(n, seed) {
    const rnd = mulberry32(seed);
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const range = (lo, hi) => String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
    const words = ["the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "tokenizer", "HuggingFace",
        "naïve", "café", "don't", "it's", "x", "foo_bar", "fooBar", "i++", "==", "->", "::", "//", "#", "@", "$"];
    const pieces = [
        () => pick(words),
        () => " ".repeat(1 + Math.floor(rnd() * 6)),
        () => pick(["\t", "\n", "\r\n", "\n\n", "\t\t", " \n", "\u00a0", "\u3000"]),
        () => String(Math.floor(rnd() * 1e6)),
        () => pick([".", ",", "!", "?", ";", ":", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "<", ">", "/", "\\", "-", "…", "—", "«", "»"]),
        () => range(0x4e00, 0x9fff),                  // CJK
        () => range(0x3041, 0x3096),                  // hiragana
        () => range(0x30a1, 0x30fa),                  // katakana
        () => range(0xac00, 0xd7a3),                  // Hangul syllables
        () => range(0x0621, 0x064a),                  // Arabic
        () => range(0x05d0, 0x05ea),                  // Hebrew
        () => range(0x0905, 0x0939) + pick(["", "\u093e", "\u093f", "\u094d", "\u0902"]), // Devanagari
        () => range(0x0e01, 0x0e2e),                  // Thai
        () => range(0x0410, 0x044f),                  // Cyrillic
        () => range(0x03b1, 0x03c9),                  // Greek
        () => pick(["e", "a", "o", "n"]) + pick(["\u0301", "\u0308", "\u0303", "\u0327\u0301"]), // combining
        () => range(0x1f300, 0x1f64f),                // emoji
        () => pick(["👨‍👩‍👧‍👦", "👍🏽", "🇯🇵", "🏳️‍🌈", "❤️", "🧿", "🫠"]),
        () => pick([String.fromCodePoint(0x20000 + Math.floor(rnd() * 0xa6d0)), "\ue000", "\uf8ff", "\u{10fffd}"]), // byte fallback
        () => pick(["<s>", "</s>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|end|>", "[INST]", "<unk>"]),
    ];
    let out = [];
    let count = 0;
    while (count < n) {
        const p = Array.from(pieces[Math.floor(rnd() * pieces.length)]());
        for (const c of p) {
            if (count >= n) break;
            out.push(c);
            count++;
        }
    }
    return out.join("");
}

const runs = (sep, k) => Array.from({ length: k }, (_, i) => "w" + sep.repeat(i + 1)).join("") + "end";

export const CASES = [
    // ASCII prose and whitespace
    "Hello, world! This is a plain ASCII sentence, with punctuation; and a question?",
    " leading space",
    "trailing space ",
    "   three leading and three trailing   ",
    "multiple    spaces   between  words",
    runs(" ", 20),
    runs("\t", 20),
    runs("\n", 20),
    " \t\n \t\t\n\n  \u00a0\u3000x \u2003y\u2009z",
    "line one\r\nline two\r\n\r\nline four\r\n",
    "\n\nstarts with newlines and ends with newlines\n\n\n",
    "     ",
    " ".repeat(45) + "x" + "\t".repeat(12) + "y" + "\n".repeat(7),
    "a\u2028b\u2029c\u0085d\u000be\u000cf",
    // digits
    "1234567890 3.14159 1,000,000 -42 +7 0x1F 1e-10 2024-01-31 12:34:56",
    "12345678901234567890123456789012345678901234567890",
    "Phone: (555) 123-4567, price $1,299.99, 50% off, №7, ½ ¾ ²³ ①②③ ٣٤٥ ४५६ ๓๔",
    // code
    "def fib(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint(fib(10))  # 55\n",
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n\tfor (int i = 0; i < argc; ++i)\n\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n\treturn 0;\n}\n",
    "{\"name\": \"anchor\", \"version\": 1.5, \"tags\": [\"c\", \"llm\"], \"nested\": {\"ok\": true, \"n\": null}}",
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>T&amp;C</title></head>\n<body><p class='x'>Hi&nbsp;there</p></body></html>",
    "https://example.com/path/to/page?query=1&b=%20x#frag mailto:someone@example.org ftp://x.y/z www.hf.co",
    "# Title\n\n- item 1\n- item 2\n\n```python\nprint('x')\n```\n| a | b |\n|---|---|\n",
    "!!!??? ... --- ___ *** ((([[[{{{}}}]]]))) '''\"\"\" ``` ~~~ ==> <== != <= >= && ||",
    "I'm you're he's we've they'll I'd can't WON'T It'S",
    // emoji
    "I love 🍕 and 🎉! 😀😃😄😁",
    "👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 ❤️‍🔥",
    "🇺🇸🇯🇵🇩🇪🇫🇷 🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "👍🏻👍🏼👍🏽👍🏾👍🏿 ✋🏿",
    // scripts
    "我爱自然语言处理。今天天气很好！",
    "ひらがなとカタカナ、漢字も混ぜて。ｶﾀｶﾅ（半角）",
    "안녕하세요, 세계! 한국어 토크나이저 테스트입니다.",
    "مرحبا بالعالم! هذا اختبار.",
    "שלום עולם! זהו מבחן.",
    "नमस्ते दुनिया! यह एक परीक्षण है।",
    "สวัสดีชาวโลก นี่คือการทดสอบ",
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "Γειά σου Κόσμε! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "English, Русский, 中文, العربية, हिन्दी and emoji 🚀 in one line.",
    "ＡＢＣ１２３ ﬁ ﬂ ㎏ ℃ Ⅻ",
    "∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x|; ∑ i = n(n+1)/2 ≈ ∞",
    // combining accents: NFC and NFD forms of the same text, and stacked marks
    "café naïve résumé Ångström",
    "café naïve résumé Ångström".normalize("NFD"),
    "Z̷̢͓a̴l̸g̵o̶ t̷e̸x̵t̶",
    // byte fallback: CJK ext B, private use, rare emoji, hieroglyphs, plane 16
    "𠀀𠀁𪚥𰻞 \ue000\uf8ff 🧿 𓀀𓂀 \u{1d11e} \u{10fffd}",
    "tab\tbell\u0007 del\u007f nul\u0000 esc\u001b[31mred\u001b[0m",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffBOM\u2060",
    "\u2581 literal metaspace \u2581\u2581 and \u0120 \u010a byte-level chars",
    // literal special-token text
    "<s>",
    "</s>",
    "<s>Hello</s>",
    "Hello <s> world </s> end",
    "<|endoftext|>",
    "text<|endoftext|>more <|endoftext|> x",
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n",
    "[INST] Tell me a joke. [/INST]",
    "<unk> <pad> <mask> <|placeholder1|> <repo_name>x<file_sep>",
    "<s <|endoftext| <|im_start <s>> <<s>>",
    "  <|endoftext|>  \n\t<s>\t",
    // edges
    "",
    " ",
    "  ",
    "Pneumonoultramicroscopicsilicovolcanoconiosis " + "a".repeat(300),
    "=".repeat(100) + "-".repeat(64),
    randomMix(2000, 20240531),
];

async function main() {
    configureOffline(fixturesDir);
    const generator = `@huggingface/transformers ${packageVersion("@huggingface/transformers")}`;
    console.log(`${generator} (@huggingface/tokenizers ${packageVersion("@huggingface/tokenizers")}), node ${process.version}`);
    fs.mkdirSync(outDir, { recursive: true });
    for (const name of TOKENIZERS) {
        const tok = await loadTokenizer(fixturesDir, name);
        const lines = [];
        let cleanupDiffers = 0;
        for (const text of CASES) {
            const ids = tok.encode(text, { add_special_tokens: false });
            const idsSpecial = tok.encode(text, { add_special_tokens: true });
            const opts = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
            const decoded = ids.length ? tok.decode(ids, opts) : "";
            if (ids.length && tok.decode(ids, { skip_special_tokens: false }) !== decoded) cleanupDiffers++;
            lines.push(JSON.stringify({ text, ids, ids_special: idsSpecial, decoded }));
        }
        const body = `{"tokenizer": ${JSON.stringify(name)}, "generator": ${JSON.stringify(generator)}, "cases": [\n` +
            lines.join(",\n") + "\n]}\n";
        const out = path.join(outDir, `${name}.json`);
        fs.writeFileSync(out, body);
        console.log(`${name}: ${CASES.length} cases, ${body.length} chars -> ${path.relative(repo, out)}` +
            (cleanupDiffers ? ` (${cleanupDiffers} would decode differently with the default clean-up)` : ""));
    }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
