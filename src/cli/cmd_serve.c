/* anchor serve: an OpenAI-compatible server over one model (flow/serve.h
 * does the work). SIGTERM or SIGINT asks it to finish the requests in flight
 * and exit 0; a second one stops it without waiting. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "flow/serve.h"

/* Counted by the signal handler, polled by anc_serve_run: the process's
 * one signal flag (a handler can reach nothing else). 1: drain; 2: stop
 * without waiting for the requests in flight. */
static volatile sig_atomic_t serve_stop;

static void on_signal(int sig) {
    (void)sig;
    if (serve_stop < 2) serve_stop = serve_stop + 1;
}

int cmd_serve(int argc, char **argv) {
    anc_serve_opts o;
    anc_serve_opts_init(&o);
    int rc = cli_parse_table(argc, argv, anc_serve_option_table, &o, "serve", "--model DIR [--port N] [options]",
                             "Serves the model over an OpenAI-compatible HTTP API: POST /v1/chat/completions (the\n"
                             "model's chat template; stream, stop, max_tokens, temperature, top_p, seed, n),\n"
                             "POST /v1/completions, GET /v1/models, GET /health. The requests of every client are\n"
                             "decoded together (continuous batching, --parallel sequences at once); a temperature-0\n"
                             "reply equals anchor generate --temperature 0 for the same prompt. Binds 127.0.0.1 by\n"
                             "default; another address needs --api-key-env, and every request must then send\n"
                             "Authorization: Bearer KEY. SIGTERM/SIGINT: no new connections, the requests in flight\n"
                             "finish, exit 0; a second signal stops at once. Use it as any step's backend:\n"
                             "--reviser http://127.0.0.1:PORT/v1.",
                             NULL, NULL);
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.model) return cli_usage_error("serve", "--model is required");
    if (o.port > 65535) return cli_usage_error("serve", "--port must be in 0..65535");
    if (o.bf16) anc_blas_set_threads(1); /* one parallel runtime: see core/blas.h */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is an error on its socket, not the end of the server */
    cli_hooks h;
    cli_hooks_init(&h, "serve");
    anc_serve_result res;
    anc_error err = {0};
    anc_status st = anc_serve_run(&o, &h.hooks, &serve_stop, &res, &err);
    cli_hooks_done(&h);
    if (st) return cli_fail("serve", &err);
    fprintf(stderr, "anchor serve: stopped: %llu requests answered, %llu refused, %llu tokens generated\n",
            (unsigned long long)res.served, (unsigned long long)res.refused, (unsigned long long)res.tokens);
    return 0;
}
