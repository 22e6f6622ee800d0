/* anchor: command-line entry. Only dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "anchor/version.h"
#include "cli/cli.h"
#include "core/blas.h"
#include "demo/spawn.h"
#include "llm/llm.h"

static const cli_command commands[] = {
    {"generate", "sample completions for prompts (KV cache, several sequences at once)", "--model DIR --prompts FILE --out FILE", cmd_generate},
    {"revise", "CLAIR: a stronger model minimally revises each draft -> preference pairs", "--input FILE --reviser SPEC --out FILE", cmd_revise},
    {"judge", "on-policy judge pairs: two samples per prompt, judged in both orders", "--input FILE --judge SPEC --out FILE", cmd_judge},
    {"pairs", "pair tools: import UltraFeedback/HH-RLHF/LLaMA-Factory data; stronger-model baseline", "import|stronger [options]", cmd_pairs},
    {"stats", "contrast statistics of preference pairs: lengths, word Jaccard, Levenshtein", "FILE... [--json]", cmd_stats},
    {"train", "preference training: apo_zero, apo_down, dpo and the TRL family", "--model DIR --data FILE --output-dir DIR [options]", cmd_train},
    {"merge", "merge a PEFT LoRA adapter into its base model: a plain Hugging Face folder", "--model BASE --adapter DIR --out DIR", cmd_merge},
    {"score", "log-probabilities (and rewards) of preference pairs", "--model DIR --data FILE [options]", cmd_score},
    {"eval", "evaluate a model: graded generation, multiple-choice log-likelihood accuracy, perplexity", "--model DIR --data FILE [options]", cmd_eval},
    {"ab", "compare two systems on the same prompts: pairwise judge (both orders) or grader; win rate with CIs", "(--a FILE --b FILE | --model-a DIR --model-b DIR --prompts FILE) (--judge SPEC | --grader G)", cmd_ab},
    {"advise", "the anchoring advisor: apo_zero or apo_down for these pairs, from model-vs-chosen win rate with CIs", "--model DIR --data PAIRS (--judge SPEC | --grader G) [--samples N]", cmd_advise},
    {"serve", "OpenAI-compatible server over a model: chat/completions (stream), completions, models; continuous batching", "--model DIR [--port N] [--host ADDR --api-key-env VAR]", cmd_serve},
    {"report", "self-contained HTML report of a run directory: pairs, diffs, training curves, evals", "RUN_DIR [--out FILE]", cmd_report},
    {"run", "run a YAML pipeline (generate -> revise -> stats -> train -> eval -> report), skipping up-to-date steps", "PIPELINE.yaml [--dry-run] [--from STEP] [--only STEP] [--force]", cmd_run},
    {"tokenize", "encode/decode text; show how dataset rows are tokenised", "(--model DIR | --tokenizer FILE) [options]", cmd_tokenize},
    {"info", "describe a model: architecture, parameters, dtypes, memory", "--model DIR", cmd_info},
    {"convert", "import a llama2.c checkpoint or a GGUF as a Hugging Face model folder", "--from llama2c|gguf FILE --out DIR", cmd_convert},
    {"export", "write a model (+ LoRA adapter, merged) as a GGUF file for llama.cpp: f32, f16, bf16 or q8_0", "--model DIR --gguf OUT.gguf [--type T]", cmd_export},
    {"demo", "the offline demonstration (make demo): the paper's experiment on a built-in task; init, data, grade, teacher", "[--quick] [--out DIR] | init|data|grade|teacher [options]", cmd_demo},
};

static void usage(FILE *f) {
    fprintf(f, "anchor: align language models with contrastive revisions (CLAIR) and anchored preference optimization (APO)\n\n");
    fprintf(f, "usage: anchor COMMAND [options]   (anchor COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (anc_spawn_follow_parent() != 0) return 1;
    anc_blas_select_core(argv);
    /* after the re-exec above, before any thread: MPI when mpirun started several processes */
    int rc = cli_mpi_start(&argc, &argv);
    if (rc) return rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("anchor %s\n", anc_version());
        return 0;
    }
    /* libcurl's global setup must happen before any thread starts */
    anc_error err = {0};
    if (anc_llm_global_init(&err) != ANC_OK) {
        fprintf(stderr, "anchor: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return cli_mpi_end(commands[i].run(argc - 1, argv + 1));
    fprintf(stderr, "anchor: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
