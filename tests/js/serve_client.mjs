// The official `openai` npm client (scripts/clients, pinned 7.60.0) against a
// running `anchor serve`. Run by tests/test_serve_openai.c:
//
//   node serve_client.mjs OPENAI_PACKAGE_DIR BASE_URL API_KEY MODEL
//
// Checks what it can by itself (throws, exit 1, on a mismatch) and prints one
// JSON object with the results the C test compares with `anchor generate`:
// {models, chat, chat_finish, usage, stream, stream_chunks, stream_finish,
//  stream_usage, completion, errors: {bad_param, unknown_model, auth_missing,
//  auth_wrong}}.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [, , pkgDir, baseURL, apiKey, model] = process.argv;
const { default: OpenAI } = await import(pathToFileURL(join(pkgDir, 'index.mjs')).href);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120000 });
const messages = [{ role: 'user', content: 'Tell me a story.' }];
const out = { errors: {} };

// models
const models = [];
for await (const m of client.models.list()) models.push(m.id);
out.models = models;
check(models.includes(model), `models.list holds ${model}`);

// chat, whole
const chat = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 40 });
check(chat.object === 'chat.completion', 'object chat.completion');
check(chat.choices.length === 1 && chat.choices[0].message.role === 'assistant', 'one assistant choice');
out.chat = chat.choices[0].message.content;
out.chat_finish = chat.choices[0].finish_reason;
out.usage = chat.usage;
check(chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, 'usage adds up');

// chat, streamed
const stream = await client.chat.completions.create({
  model, messages, temperature: 0, max_tokens: 40, stream: true, stream_options: { include_usage: true },
});
let text = '';
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  check(chunk.object === 'chat.completion.chunk', 'object chat.completion.chunk');
  if (chunk.usage) out.stream_usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta && typeof c.delta.content === 'string') text += c.delta.content;
    if (c.finish_reason) out.stream_finish = c.finish_reason;
  }
}
out.stream = text;
out.stream_chunks = chunks;

// the helper that assembles a stream (the SDK's own accumulation)
const runner = client.chat.completions.stream({ model, messages, temperature: 0, max_tokens: 40 });
const final = await runner.finalChatCompletion();
out.stream_helper = final.choices[0].message.content;

// legacy completions
const comp = await client.completions.create({ model, prompt: 'Once upon a time', temperature: 0, max_tokens: 20 });
check(comp.object === 'text_completion', 'object text_completion');
out.completion = comp.choices[0].text;

// errors surface as the SDK's typed errors with OpenAI's fields
async function error(fn) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { status: e.status, type: e.type ?? null, param: e.param ?? null, code: e.code ?? null,
             cls: e.constructor.name, message: e.message };
  }
  throw new Error('expected an error');
}
out.errors.bad_param = await error(() => client.chat.completions.create({ model, messages, temperature: 7 }));
out.errors.unknown_model = await error(() => client.chat.completions.create({ model: 'gpt-4o', messages }));
const noKey = new OpenAI({ baseURL, apiKey: 'x', maxRetries: 0, defaultHeaders: { Authorization: null } });
out.errors.auth_missing = await error(() => noKey.models.list());
const wrong = new OpenAI({ baseURL, apiKey: apiKey + 'x', maxRetries: 0 });
out.errors.auth_wrong = await error(() => wrong.chat.completions.create({ model, messages }));

process.stdout.write(JSON.stringify(out) + '\n');
