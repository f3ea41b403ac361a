/*
 * test_domain_aggregate.c -- the command side's semantics on a small C aggregate (the account of
 * examples/c-account): types and their stream names, evolve and decide through stele_execute()
 * and stele_aggregate_load(), rejections with their reason, the metadata every event of a command
 * carries, and bad input of every kind (arguments, ids, command data and metadata, what decide
 * emits), each refused with a clear error and nothing appended. Public API only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "stele.h"
#include "test_util.h"

typedef struct fx {
    tu_fixture_t base;
    stele_aggregate_t *account;
} fx_t;

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    void *base = NULL;
    tu_store_setup(&base);
    f->base = *(tu_fixture_t *)base;
    free(base);
    stele_aggregate_def_t def;
    account_definition(&def);
    assert_int_equal(stele_aggregate_create(&def, &f->account), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    stele_aggregate_free(f->account);
    tu_fixture_t *base = malloc(sizeof *base);
    *base = f->base;
    void *p = base;
    tu_store_teardown(&p);
    free(f);
    return 0;
}

/* Execute name with {"amount": amount} (or {} when amount is 0). */
static int exec(stele_store_t *s, const stele_aggregate_t *t, const char *id, const char *name,
                int64_t amount, stele_command_result_t *res) {
    char data[64] = "{}";
    size_t len = 2;
    if (amount != 0) {
        len = account_amount_json(data, sizeof data, amount);
    }
    stele_command_t cmd = {.name = name, .data = data, .data_len = len};
    res->struct_size = sizeof *res;
    return stele_execute(s, t, id, &cmd, NULL, res);
}

static void test_type_errors(void **state) {
    (void)state;
    stele_aggregate_def_t def;
    stele_aggregate_t *t = (stele_aggregate_t *)&def; /* must be set to NULL on errors */
    assert_int_equal(stele_aggregate_create(NULL, &t), STELE_EINVAL);
    assert_null(t);
    account_definition(&def);
    assert_int_equal(stele_aggregate_create(&def, NULL), STELE_EINVAL);
    def.struct_size = 8;
    assert_int_equal(stele_aggregate_create(&def, &t), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "struct_size"));
    const char *bad_names[] = {"",
                               "my-account",
                               "acc ount",
                               "$account",
                               "konto\xc3\xa4",
                               "a1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        account_definition(&def);
        def.name = bad_names[i];
        assert_int_equal(stele_aggregate_create(&def, &t), STELE_EINVAL);
        assert_null(t);
        assert_non_null(strstr(stele_errdetail(), "name"));
    }
    account_definition(&def);
    def.decide = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "decide"));
    account_definition(&def);
    def.decode = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "decode"));
    /* The name is copied: the definition's buffer may go. */
    char name[16] = "Bank.account_2";
    account_definition(&def);
    def.name = name;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    memset(name, 'x', sizeof name - 1);
    assert_string_equal(stele_aggregate_name(t), "Bank.account_2");
    stele_aggregate_free(t);
    stele_aggregate_free(NULL);
}

static void test_stream_names(void **state) {
    fx_t *f = *state;
    char out[STELE_MAX_STREAM_NAME_BYTES + 1];
    assert_int_equal(stele_aggregate_stream(f->account, "42", out, sizeof out), 0);
    assert_string_equal(out, "account-42");
    /* The id may hold '-' (UUIDs): the aggregate's name is the stream's category. */
    assert_int_equal(stele_aggregate_stream(f->account, "a-b-c", out, sizeof out), 0);
    assert_string_equal(out, "account-a-b-c");
    assert_int_equal(stele_aggregate_stream(f->account, "", out, sizeof out), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "id is empty"));
    assert_int_equal(stele_aggregate_stream(f->account, "a\nb", out, sizeof out), STELE_ENAME);
    assert_non_null(strstr(stele_errdetail(), "id is not valid in a stream name"));
    assert_int_equal(stele_aggregate_stream(f->account, "\xff\xfe", out, sizeof out), STELE_ENAME);
    char long_id[STELE_MAX_STREAM_NAME_BYTES];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(stele_aggregate_stream(f->account, long_id, out, sizeof out), STELE_ENAME);
    assert_int_equal(stele_aggregate_stream(f->account, "42", out, 10), STELE_EINVAL);
    assert_int_equal(stele_aggregate_stream(NULL, "42", out, sizeof out), STELE_EINVAL);

    /* The same ids through execute and load: refused, nothing written. */
    uint64_t head = tu_head(f->base.s);
    stele_command_result_t res;
    assert_int_equal(exec(f->base.s, f->account, "a\nb", "Open", 0, &res), STELE_ENAME);
    assert_int_equal(exec(f->base.s, f->account, "", "Open", 0, &res), STELE_EINVAL);
    assert_int_equal(exec(f->base.s, f->account, long_id, "Open", 0, &res), STELE_ENAME);
    void *st = (void *)1;
    int64_t v = 7;
    assert_int_equal(stele_aggregate_load(f->base.s, f->account, "a\tb", &st, &v), STELE_ENAME);
    assert_null(st);
    assert_int_equal(tu_head(f->base.s), head);
}

static void test_account_semantics(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_command_result_t res;

    /* A new aggregate: the initial state at version -1, no stream. */
    void *st = NULL;
    int64_t v = 99;
    assert_int_equal(stele_aggregate_load(s, f->account, "1", &st, &v), 0);
    assert_int_equal(v, -1);
    assert_false(((account_t *)st)->open);
    stele_aggregate_state_free(f->account, st);

    /* Commands before Open are rejected, and create no stream. */
    assert_int_equal(exec(s, f->account, "1", "Deposit", 10, &res), STELE_EREJECTED);
    assert_string_equal(res.reason, "the account is not open");
    assert_int_equal(res.version, -1);
    assert_non_null(strstr(stele_errdetail(), "the account is not open"));
    assert_non_null(strstr(stele_errdetail(), "account-1"));
    stele_command_result_clear(&res);
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, "account-1", 0, STELE_FORWARD, 0, &evs), STELE_ENOTFOUND);

    assert_int_equal(exec(s, f->account, "1", "Open", 0, &res), 0);
    assert_int_equal(res.event_count, 1);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(res.last_version, 0);
    assert_int_equal(res.version, 0);
    assert_int_equal(res.attempts, 1);
    assert_false(res.idempotent);
    assert_true(((account_t *)res.state)->open);
    stele_command_result_clear(&res);
    assert_null(res.state);

    assert_int_equal(exec(s, f->account, "1", "Deposit", 100, &res), 0);
    assert_int_equal(res.version, 1);
    assert_int_equal(((account_t *)res.state)->balance, 100);
    stele_command_result_clear(&res);
    assert_int_equal(exec(s, f->account, "1", "Withdraw", 30, &res), 0);
    assert_int_equal(res.version, 2);
    assert_int_equal(res.first_position, res.last_position);
    assert_int_equal(((account_t *)res.state)->balance, 70);
    stele_command_result_clear(&res);

    /* No overdraft: rejected with the reason, the state it was decided on, nothing appended. */
    uint64_t head = tu_head(s);
    assert_int_equal(exec(s, f->account, "1", "Withdraw", 500, &res), STELE_EREJECTED);
    assert_string_equal(res.reason, "insufficient funds: balance 70, withdrawal 500");
    assert_int_equal(res.version, 2);
    assert_int_equal(((account_t *)res.state)->balance, 70);
    assert_int_equal(res.event_count, 0);
    stele_command_result_clear(&res);
    assert_null(res.reason);
    assert_int_equal(exec(s, f->account, "1", "Open", 0, &res), STELE_EREJECTED);
    assert_string_equal(res.reason, "the account is already open");
    stele_command_result_clear(&res);
    assert_int_equal(exec(s, f->account, "1", "Withdraw", -5, &res), STELE_EREJECTED);
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(s), head);

    /* The stream holds exactly what was decided, and a load replays it to the same state. */
    assert_int_equal(tu_read_stream(s, "account-1", 0, STELE_FORWARD, 0, &evs), 0);
    assert_int_equal(evs.n, 3);
    assert_string_equal(evs.v[0].type, "AccountOpened");
    assert_string_equal(evs.v[1].type, "Deposited");
    assert_string_equal(evs.v[1].data, "{\"amount\":100}");
    assert_string_equal(evs.v[2].type, "Withdrawn");
    tu_events_free(&evs);
    assert_int_equal(stele_aggregate_load(s, f->account, "1", &st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(((account_t *)st)->balance, 70);
    assert_int_equal(((account_t *)st)->events, 3);

    /* The state's encoding (for snapshots) gives back the same state. */
    stele_aggregate_def_t def;
    account_definition(&def);
    void *bytes = NULL;
    size_t len = 0;
    assert_int_equal(def.encode(NULL, st, &bytes, &len), 0);
    void *back = NULL;
    assert_int_equal(def.decode(NULL, bytes, len, &back), 0);
    assert_memory_equal(back, st, sizeof(account_t));
    stele_free(bytes);
    stele_aggregate_state_free(f->account, back);
    stele_aggregate_state_free(f->account, st);

    /* Another aggregate of the same type is another stream. */
    assert_int_equal(exec(s, f->account, "2", "Open", 0, &res), 0);
    assert_int_equal(res.version, 0);
    stele_command_result_clear(&res);

    /* A deleted aggregate is neither loaded nor commanded: its history is gone from the stream. */
    assert_int_equal(stele_stream_delete(s, "account-2", STELE_EXPECT_ANY, false), 0);
    assert_int_equal(stele_aggregate_load(s, f->account, "2", &st, &v), STELE_EDELETED);
    assert_null(st);
    head = tu_head(s);
    assert_int_equal(exec(s, f->account, "2", "Deposit", 5, &res), STELE_EDELETED);
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(s), head);
    assert_int_equal(stele_stream_delete(s, "account-1", STELE_EXPECT_ANY, true), 0);
    head = tu_head(s);
    assert_int_equal(exec(s, f->account, "1", "Deposit", 5, &res), STELE_ETOMBSTONED);
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(s), head);
}

static void test_metadata(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_command_result_t res = {.struct_size = sizeof res};
    assert_int_equal(exec(s, f->account, "m", "Open", 0, &res), 0);
    stele_command_result_clear(&res);

    const char *meta = " { \"user\" : \"ann\", \"nested\": {\"command\": 1} } ";
    stele_command_t cmd = {.name = "Deposit",
                           .data = "{\"amount\": 5}",
                           .data_len = 13,
                           .metadata = meta,
                           .metadata_len = strlen(meta)};
    assert_int_equal(stele_uuid_parse("0190a3c4-1111-7222-8333-444455556666", &cmd.command_id), 0);
    assert_int_equal(stele_execute(s, f->account, "m", &cmd, NULL, &res), 0);
    stele_command_result_clear(&res);
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, "account-m", 0, STELE_FORWARD, 0, &evs), 0);
    assert_int_equal(evs.n, 2);
    assert_string_equal(evs.v[1].metadata,
                        "{\"command_id\":\"0190a3c4-1111-7222-8333-444455556666\","
                        "\"causation_id\":\"0190a3c4-1111-7222-8333-444455556666\","
                        "\"command\":\"Deposit\",\"user\" : \"ann\", \"nested\": {\"command\": 1} "
                        "} ");
    /* The event id is derived from the command id (fixed for ever: a retry after an upgrade must
     * find the first execution), a UUID of version 8. */
    char id[37];
    stele_uuid_format(&evs.v[1].id, id);
    assert_string_equal(id, "424217c7-99c3-8bbe-8dfa-21c7f999f92e");
    /* Without a command id: a new one is recorded, and the event's id is the store's. */
    assert_memory_equal(evs.v[0].metadata + 51, "\",\"causation_id\":\"", 18);
    assert_memory_equal(evs.v[0].metadata + 15, evs.v[0].metadata + 69, 36);
    assert_non_null(strstr(evs.v[0].metadata, "\"command\":\"Open\"}"));
    tu_events_free(&evs);

    /* A command's metadata may not set the library's keys, must be an object, and its data
     * must be JSON: refused, nothing appended. */
    uint64_t head = tu_head(s);
    const char *bad[] = {"{\"command_id\":\"x\"}", "{\"a\":1, \"causation_id\" :2}",
                         "{\"command\":\"Open\"}"};
    for (size_t i = 0; i < 3; i++) {
        stele_command_t c = {.name = "Deposit",
                             .data = "{\"amount\":1}",
                             .data_len = 12,
                             .metadata = bad[i],
                             .metadata_len = strlen(bad[i])};
        assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EINVAL);
        assert_non_null(strstr(stele_errdetail(), "is set by the library"));
    }
    stele_command_t c = {.name = "Deposit",
                         .data = "{\"amount\":1}",
                         .data_len = 12,
                         .metadata = "[1]",
                         .metadata_len = 3};
    assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EJSON);
    c.metadata = "{\"a\":";
    c.metadata_len = 5;
    assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EJSON);
    c.metadata = NULL;
    c.metadata_len = 0;
    c.data = "{amount:1}";
    c.data_len = 10;
    assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "Deposit"));
    c.data = NULL;
    c.data_len = 3;
    assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EINVAL);
    /* Command names: checked like event types. */
    c.data = "{}";
    c.data_len = 2;
    const char *names[] = {"", "Dep\nosit", "Dep\x7f"};
    for (size_t i = 0; i < 3; i++) {
        c.name = names[i];
        assert_int_equal(stele_execute(s, f->account, "m", &c, NULL, &res), STELE_EINVAL);
        assert_non_null(strstr(stele_errdetail(), "command name"));
    }
    assert_int_equal(tu_head(s), head);
}

/* ---- a type whose decide misbehaves as the test says ------------------------------------ */

static int bad_mode;

static int bad_decide(void *ctx, const void *state, const stele_command_t *cmd,
                      stele_decision_t *d) {
    (void)ctx;
    (void)state;
    (void)cmd;
    switch (bad_mode) {
    case 0: return 0; /* neither events nor a rejection */
    case 1: return stele_decision_emit(d, "", "{}", 2);
    case 2: return stele_decision_emit(d, "Bad\x01Type", "{}", 2);
    case 3:
        assert_int_equal(stele_decision_emit(d, "Good", "{}", 2), 0);
        return stele_decision_emit(d, "AlsoGood", "{\"a\":", 5); /* not JSON */
    case 4: return stele_errdetail_set(STELE_EINVAL, "decide says no: %d", 42);
    case 5: return 3; /* not an error code */
    case 6: {         /* a type over the limit */
        char type[STELE_MAX_TYPE_BYTES + 2];
        memset(type, 'T', sizeof type - 1);
        type[sizeof type - 1] = '\0';
        return stele_decision_emit(d, type, "{}", 2);
    }
    default: return 0;
    }
}

static void test_bad_decisions(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_aggregate_def_t def;
    account_definition(&def);
    def.name = "bad";
    def.decide = bad_decide;
    stele_aggregate_t *t = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    stele_command_result_t res;
    uint64_t head = tu_head(s);
    struct {
        int mode, rc;
        const char *words;
    } cases[] = {
        {0, STELE_EEMPTY, "emitted no events"},  {1, STELE_ETYPE, "decided events"},
        {2, STELE_ETYPE, "decided events"},      {3, STELE_EJSON, "event 1"},
        {4, STELE_EINVAL, "decide says no: 42"}, {5, STELE_EINVAL, "returned 3"},
        {6, STELE_ETYPE, "decided events"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad_mode = cases[i].mode;
        assert_int_equal(exec(s, t, "1", "Anything", 0, &res), cases[i].rc);
        if (strstr(stele_errdetail(), cases[i].words) == NULL) {
            fail_msg("mode %d: detail '%s' lacks '%s'", bad_mode, stele_errdetail(),
                     cases[i].words);
        }
        assert_null(res.state);
        assert_null(res.reason);
        stele_command_result_clear(&res);
        assert_int_equal(tu_head(s), head);
    }
    stele_aggregate_free(t);
}

/* ---- a type whose evolve fails on one event type ------------------------------------------ */

static int failing_evolve(void *ctx, void **state, const stele_event_t *ev) {
    if (strcmp(ev->type, "Withdrawn") == 0) {
        return stele_errdetail_set(STELE_ECORRUPT, "cannot apply %s", ev->type);
    }
    stele_aggregate_def_t def;
    account_definition(&def);
    return def.evolve(ctx, state, ev);
}

static void test_evolve_error(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_command_result_t res;
    assert_int_equal(exec(s, f->account, "e", "Open", 0, &res), 0);
    stele_command_result_clear(&res);
    assert_int_equal(exec(s, f->account, "e", "Deposit", 9, &res), 0);
    stele_command_result_clear(&res);
    assert_int_equal(exec(s, f->account, "e", "Withdraw", 1, &res), 0);
    stele_command_result_clear(&res);

    stele_aggregate_def_t def;
    account_definition(&def);
    def.evolve = failing_evolve;
    stele_aggregate_t *t = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    void *st = (void *)1;
    int64_t v = -7;
    assert_int_equal(stele_aggregate_load(s, t, "e", &st, &v), STELE_ECORRUPT);
    assert_null(st);
    assert_non_null(strstr(stele_errdetail(), "version 2"));
    assert_non_null(strstr(stele_errdetail(), "cannot apply Withdrawn"));
    uint64_t head = tu_head(s);
    assert_int_equal(exec(s, t, "e", "Deposit", 1, &res), STELE_ECORRUPT);
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(s), head);
    stele_aggregate_free(t);
}

static void test_null_arguments(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_command_t cmd = {.name = "Open"};
    stele_command_result_t res = {.struct_size = sizeof res};
    assert_int_equal(stele_execute(NULL, f->account, "1", &cmd, NULL, &res), STELE_EINVAL);
    assert_int_equal(stele_execute(s, NULL, "1", &cmd, NULL, &res), STELE_EINVAL);
    assert_int_equal(stele_execute(s, f->account, NULL, &cmd, NULL, &res), STELE_EINVAL);
    assert_int_equal(stele_execute(s, f->account, "1", NULL, NULL, &res), STELE_EINVAL);
    assert_int_equal(stele_execute(s, f->account, "1", &cmd, NULL, NULL), STELE_EINVAL);
    res.struct_size = 0;
    assert_int_equal(stele_execute(s, f->account, "1", &cmd, NULL, &res), STELE_EINVAL);
    stele_execute_options_t o;
    stele_execute_options_init(&o);
    assert_int_equal(o.max_retries, STELE_DEFAULT_COMMAND_RETRIES);
    o.max_retries = STELE_MAX_COMMAND_RETRIES + 1;
    res.struct_size = sizeof res;
    assert_int_equal(stele_execute(s, f->account, "1", &cmd, &o, &res), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "max_retries"));
    o.max_retries = 1;
    o.struct_size = 4;
    assert_int_equal(stele_execute(s, f->account, "1", &cmd, &o, &res), STELE_EINVAL);
    cmd.name = NULL;
    assert_int_equal(stele_execute(s, f->account, "1", &cmd, NULL, &res), STELE_EINVAL);
    void *st = NULL;
    int64_t v = 0;
    assert_int_equal(stele_aggregate_load(NULL, f->account, "1", &st, &v), STELE_EINVAL);
    assert_int_equal(stele_aggregate_load(s, NULL, "1", &st, &v), STELE_EINVAL);
    assert_int_equal(stele_aggregate_load(s, f->account, "1", NULL, &v), STELE_EINVAL);
    assert_int_equal(stele_aggregate_load(s, f->account, "1", &st, NULL), STELE_EINVAL);
    assert_int_equal(stele_decision_emit(NULL, "T", NULL, 0), STELE_EINVAL);
    assert_int_equal(stele_decision_reject(NULL, "why"), STELE_EINVAL);
    stele_command_result_clear(NULL);
    stele_aggregate_state_free(f->account, NULL);
    assert_int_equal(tu_head(s), 0);
}

/* ---- rejections: the reason is cut on a character boundary, events emitted are dropped ---- */

static int long_reason_decide(void *ctx, const void *state, const stele_command_t *cmd,
                              stele_decision_t *d) {
    (void)ctx;
    (void)state;
    (void)cmd;
    char reason[3 * STELE_MAX_REJECTION_BYTES];
    size_t n = 0;
    reason[n++] = 'x';
    while (n + 2 < sizeof reason - 1) {
        reason[n++] = '\xc3'; /* "ä" */
        reason[n++] = '\xa4';
    }
    reason[n] = '\0';
    assert_int_equal(stele_decision_emit(d, "Dropped", "{}", 2), 0);
    assert_int_equal(stele_decision_reject(d, ""), STELE_EINVAL);
    assert_int_equal(stele_decision_reject(d, reason), 0);
    assert_int_equal(stele_decision_emit(d, "After", "{}", 2), STELE_EINVAL);
    return 0;
}

static void test_long_reason(void **state) {
    fx_t *f = *state;
    stele_aggregate_def_t def;
    account_definition(&def);
    def.decide = long_reason_decide;
    stele_aggregate_t *t = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    stele_command_result_t res;
    assert_int_equal(exec(f->base.s, t, "r", "Any", 0, &res), STELE_EREJECTED);
    size_t len = strlen(res.reason);
    assert_true(len <= STELE_MAX_REJECTION_BYTES && len >= STELE_MAX_REJECTION_BYTES - 1);
    assert_int_equal(len % 2, 1); /* 'x' and whole two-byte characters */
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(f->base.s), 0);
    stele_aggregate_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test_setup_teardown(test_stream_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evolve_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_reason, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
