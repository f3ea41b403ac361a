/*
 * stop.c -- SIGINT and SIGTERM ask a long-running command (`stele tail`, local or remote) to end
 * cleanly: the handler only sets a flag, which the command's loop checks between short waits, so
 * the store or the connection is always closed properly and the exit status is 0.
 */
#include <signal.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

void cli_stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cli_stop_requested(void) { return stop_requested != 0; }
