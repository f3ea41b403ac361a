/*
 * account.c -- the callbacks of the account aggregate (see account.h): initial state, evolve,
 * decide, and the state's encoding for snapshots. Everything the library needs to know about an
 * account is here; loading, retrying conflicts and idempotency are the library's.
 */
#include "account.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The integer value of "amount" in a small JSON object, or -1 when there is none. A real
 * aggregate would use a JSON parser; this keeps the example free of dependencies. */
static int64_t amount_of(const void *json, size_t len) {
    char buf[256];
    if (json == NULL || len == 0 || len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, json, len);
    buf[len] = '\0';
    const char *p = strstr(buf, "\"amount\"");
    if (p == NULL || (p = strchr(p, ':')) == NULL) {
        return -1;
    }
    char *end = NULL;
    long long v = strtoll(p + 1, &end, 10);
    if (end == p + 1) {
        return -1;
    }
    return (int64_t)v;
}

size_t account_amount_json(char *buf, size_t size, int64_t amount) {
    int n = snprintf(buf, size, "{\"amount\":%" PRId64 "}", amount);
    return n > 0 ? (size_t)n : 0;
}

static int initial(void *ctx, void **state) {
    (void)ctx;
    account_t *a = stele_malloc(sizeof *a);
    if (a == NULL) {
        return stele_errdetail_set(STELE_ENOMEM, "account: out of memory");
    }
    memset(a, 0, sizeof *a);
    *state = a;
    return 0;
}

static int evolve(void *ctx, void **state, const stele_event_t *ev) {
    (void)ctx;
    account_t *a = *state;
    if (strcmp(ev->type, "AccountOpened") == 0) {
        a->open = true;
    } else if (strcmp(ev->type, "Deposited") == 0) {
        a->balance += amount_of(ev->data, ev->data_len);
    } else if (strcmp(ev->type, "Withdrawn") == 0) {
        a->balance -= amount_of(ev->data, ev->data_len);
    } /* other types: skipped, so old streams with retired events still load */
    a->events++;
    return 0;
}

static int decide(void *ctx, const void *state, const stele_command_t *cmd, stele_decision_t *d) {
    (void)ctx;
    const account_t *a = state;
    char reason[128];
    if (strcmp(cmd->name, "Open") == 0) {
        if (a->open) {
            return stele_decision_reject(d, "the account is already open");
        }
        return stele_decision_emit(d, "AccountOpened", "{}", 2);
    }
    bool deposit = strcmp(cmd->name, "Deposit") == 0;
    if (!deposit && strcmp(cmd->name, "Withdraw") != 0) {
        snprintf(reason, sizeof reason, "unknown command '%s'", cmd->name);
        return stele_decision_reject(d, reason);
    }
    if (!a->open) {
        return stele_decision_reject(d, "the account is not open");
    }
    int64_t amount = amount_of(cmd->data, cmd->data_len);
    if (amount <= 0) {
        return stele_decision_reject(d, "amount must be a whole number above 0");
    }
    if (!deposit && amount > a->balance) {
        snprintf(reason, sizeof reason,
                 "insufficient funds: balance %" PRId64 ", withdrawal %" PRId64, a->balance,
                 amount);
        return stele_decision_reject(d, reason);
    }
    char data[64];
    size_t len = account_amount_json(data, sizeof data, amount);
    return stele_decision_emit(d, deposit ? "Deposited" : "Withdrawn", data, len);
}

static void free_state(void *ctx, void *state) {
    (void)ctx;
    stele_free(state);
}

/* The snapshot format: "open balance events" in decimal. */
static int encode(void *ctx, const void *state, void **bytes, size_t *len) {
    (void)ctx;
    const account_t *a = state;
    char *out = stele_malloc(64);
    if (out == NULL) {
        return stele_errdetail_set(STELE_ENOMEM, "account: out of memory");
    }
    int n = snprintf(out, 64, "%d %" PRId64 " %" PRIu64, a->open ? 1 : 0, a->balance, a->events);
    *bytes = out;
    *len = (size_t)n;
    return 0;
}

static int decode(void *ctx, const void *bytes, size_t len, void **state) {
    char buf[64];
    int open = 0;
    if (len >= sizeof buf) {
        return stele_errdetail_set(STELE_ECORRUPT, "account state: %zu bytes", len);
    }
    memcpy(buf, bytes, len);
    buf[len] = '\0';
    int rc = initial(ctx, state);
    if (rc != 0) {
        return rc;
    }
    account_t *a = *state;
    if (sscanf(buf, "%d %" SCNd64 " %" SCNu64, &open, &a->balance, &a->events) != 3) {
        stele_free(a);
        *state = NULL;
        return stele_errdetail_set(STELE_ECORRUPT,
                                   "account state: '%s' is not 'open balance "
                                   "events'",
                                   buf);
    }
    a->open = open != 0;
    return 0;
}

void account_definition(stele_aggregate_def_t *def) {
    memset(def, 0, sizeof *def);
    def->struct_size = sizeof *def;
    def->name = "account";
    def->definition_version = 1;
    def->initial = initial;
    def->evolve = evolve;
    def->decide = decide;
    def->free_state = free_state;
    def->encode = encode;
    def->decode = decode;
}
