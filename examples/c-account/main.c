/*
 * main.c -- the command side from C: an account aggregate (account.c) executing commands against
 * a store. Opens an account, deposits, withdraws, has an overdraft rejected, retries a command
 * with the same command id (answered from its first execution, nothing appended), and loads the
 * state back from the stream.
 *
 *   build/example-c-account [DIR] [ACCOUNT-ID]     (defaults ./account-data, 42)
 */
#include "account.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s\n", what, stele_strerror(rc), stele_errdetail());
    return 1;
}

/* Execute one command and print what happened; returns the status of stele_execute(). */
static int run(stele_store_t *store, const stele_aggregate_t *type, const char *id,
               const char *name, int64_t amount, const char *command_id) {
    char data[64] = "{}";
    size_t data_len = 2;
    if (amount > 0) {
        data_len = account_amount_json(data, sizeof data, amount);
    }
    stele_command_t cmd = {.name = name, .data = data, .data_len = data_len};
    if (command_id != NULL && stele_uuid_parse(command_id, &cmd.command_id) != 0) {
        return STELE_EUUID;
    }
    stele_command_result_t res = {.struct_size = sizeof res};
    int rc = stele_execute(store, type, id, &cmd, NULL, &res);
    if (rc == 0) {
        const account_t *a = res.state;
        printf("%s %s: %s versions %" PRId64 "..%" PRId64 ", balance %" PRId64 "\n", name, data,
               res.idempotent ? "already executed at" : "appended", res.first_version,
               res.last_version, a->balance);
    } else if (rc == STELE_EREJECTED) {
        printf("%s %s: rejected at version %" PRId64 ": %s\n", name, data, res.version, res.reason);
    } else {
        fail(name, rc);
    }
    stele_command_result_clear(&res);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "./account-data";
    const char *id = argc > 2 ? argv[2] : "42";
    stele_store_t *store = NULL;
    stele_aggregate_t *type = NULL;
    stele_aggregate_def_t def;
    account_definition(&def);
    int rc = stele_aggregate_create(&def, &type);
    if (rc != 0) {
        return fail("aggregate", rc);
    }
    stele_options_t opts;
    stele_options_init(&opts);
    opts.flags = STELE_OPEN_CREATE;
    rc = stele_store_open(dir, &opts, &store);
    if (rc != 0) {
        stele_aggregate_free(type);
        return fail("open", rc);
    }
    int failures = 0;
    rc = run(store, type, id, "Open", 0, NULL); /* rejected when run again on the same store */
    failures += rc != 0 && rc != STELE_EREJECTED;
    failures += run(store, type, id, "Deposit", 100, "5b0a3b0e-6a51-4f0e-9d52-0c0ffee00001") != 0;
    failures += run(store, type, id, "Withdraw", 30, NULL) != 0;
    failures += run(store, type, id, "Withdraw", 500, NULL) != STELE_EREJECTED;
    /* The same command id again: its first result, nothing appended. */
    failures += run(store, type, id, "Deposit", 100, "5b0a3b0e-6a51-4f0e-9d52-0c0ffee00001") != 0;

    void *state = NULL;
    int64_t version = -1;
    rc = stele_aggregate_load(store, type, id, &state, &version);
    if (rc == 0) {
        const account_t *a = state;
        printf("account-%s: version %" PRId64 ", balance %" PRId64 "\n", id, version, a->balance);
        stele_aggregate_state_free(type, state);
    } else {
        failures += fail("load", rc);
    }
    stele_store_close(store);
    stele_aggregate_free(type);
    return failures == 0 ? 0 : 1;
}
