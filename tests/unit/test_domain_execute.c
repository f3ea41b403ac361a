/*
 * test_domain_execute.c -- the command path under contention and retries: several threads
 * executing commands on one aggregate (the final state equals a replay of the stream, no
 * acknowledged command is lost or applied twice, no overdraft ever), the retry bound (a decide
 * that appends behind the back forces a conflict every time), and idempotent command ids (the
 * first result again and nothing appended, also concurrently and after a reopen; an id used by
 * another aggregate or command is refused). Random tests print their seed (STELE_TEST_SEED
 * replays it). Public API only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "alloc_hooks.h"
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

static int exec_id(stele_store_t *s, const stele_aggregate_t *t, const char *id, const char *name,
                   int64_t amount, const stele_uuid_t *command_id, const stele_execute_options_t *o,
                   stele_command_result_t *res) {
    char data[64] = "{}";
    size_t len = 2;
    if (amount != 0) {
        len = account_amount_json(data, sizeof data, amount);
    }
    stele_command_t cmd = {.name = name, .data = data, .data_len = len};
    if (command_id != NULL) {
        cmd.command_id = *command_id;
    }
    res->struct_size = sizeof *res;
    return stele_execute(s, t, id, &cmd, o, res);
}

static int64_t amount_in(const char *json) {
    const char *p = strstr(json, "\"amount\":");
    assert_non_null(p);
    return strtoll(p + 9, NULL, 10);
}

static void random_uuid(tu_rng_t *rng, stele_uuid_t *out) {
    for (int i = 0; i < 16; i += 8) {
        uint64_t v = tu_rnd(rng);
        memcpy(out->bytes + i, &v, 8);
    }
    out->bytes[6] = (uint8_t)((out->bytes[6] & 0x0F) | 0x40);
    out->bytes[8] = (uint8_t)((out->bytes[8] & 0x3F) | 0x80);
}

/* ---- many threads, one aggregate ---------------------------------------------------------- */

#define THREADS 4
#define COMMANDS 40

typedef struct outcome {
    stele_uuid_t command_id;
    bool withdraw;
    int64_t amount;
    int rc;
    int64_t version; /* on 0: the version of its event */
    uint32_t attempts;
} outcome_t;

typedef struct worker {
    fx_t *f;
    outcome_t out[COMMANDS];
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    stele_execute_options_t o;
    stele_execute_options_init(&o);
    o.max_retries = STELE_MAX_COMMAND_RETRIES;
    for (int i = 0; i < COMMANDS; i++) {
        outcome_t *c = &w->out[i];
        stele_command_result_t res;
        c->rc = exec_id(w->f->base.s, w->f->account, "hot", c->withdraw ? "Withdraw" : "Deposit",
                        c->amount, &c->command_id, &o, &res);
        c->version = res.last_version;
        c->attempts = res.attempts;
        if (c->rc == 0 && (res.event_count != 1 || res.idempotent)) {
            c->rc = -1; /* reported below */
        }
        stele_command_result_clear(&res);
    }
    return NULL;
}

static void test_concurrent_commands(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    tu_rng_t rng;
    tu_rng_init(&rng, tu_seed("test_concurrent_commands"));
    stele_command_result_t res;
    assert_int_equal(exec_id(s, f->account, "hot", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);

    static worker_t workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].f = f;
        for (int i = 0; i < COMMANDS; i++) {
            outcome_t *c = &workers[t].out[i];
            random_uuid(&rng, &c->command_id);
            c->withdraw = tu_rnd_below(&rng, 2) == 1;
            c->amount = 1 + (int64_t)tu_rnd_below(&rng, 40);
        }
    }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, work, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }

    /* The stream: Open, then exactly the acknowledged commands, each once, at the version its
     * result named; the balance never below zero along it. */
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, "account-hot", 0, STELE_FORWARD, 0, &evs), 0);
    size_t acked = 0, rejected = 0, retried = 0;
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < COMMANDS; i++) {
            outcome_t *c = &workers[t].out[i];
            char id[37];
            stele_uuid_format(&c->command_id, id);
            size_t seen = 0;
            int64_t at = -1;
            for (size_t e = 0; e < evs.n; e++) {
                if (evs.v[e].metadata != NULL && strstr(evs.v[e].metadata, id) != NULL) {
                    seen++;
                    at = evs.v[e].version;
                }
            }
            if (c->rc == 0) {
                acked++;
                assert_int_equal(seen, 1);
                assert_int_equal(at, c->version);
            } else {
                if (c->rc != STELE_EREJECTED) {
                    fail_msg("command %s: %s", id, stele_strerror(c->rc));
                }
                rejected++;
                assert_int_equal(seen, 0);
            }
            retried += c->attempts > 1 ? c->attempts - 1 : 0;
        }
    }
    assert_int_equal(evs.n, 1 + acked);
    int64_t balance = 0;
    for (size_t e = 1; e < evs.n; e++) {
        int64_t a = amount_in(evs.v[e].data);
        balance += strcmp(evs.v[e].type, "Deposited") == 0 ? a : -a;
        assert_true(balance >= 0);
    }
    /* A fresh load equals the replay. */
    void *st = NULL;
    int64_t v = -1;
    assert_int_equal(stele_aggregate_load(s, f->account, "hot", &st, &v), 0);
    assert_int_equal(v, (int64_t)evs.n - 1);
    assert_int_equal(((account_t *)st)->balance, balance);
    stele_aggregate_state_free(f->account, st);
    print_message("%zu commands acknowledged, %zu rejected, %zu conflict retries\n", acked,
                  rejected, retried);
    tu_events_free(&evs);
}

/* The same command id from several threads at once: one execution, the same answer for all. */
typedef struct same {
    fx_t *f;
    stele_uuid_t id;
    int rc;
    int64_t first_version;
    bool idempotent;
} same_t;

static void *same_work(void *arg) {
    same_t *w = arg;
    stele_execute_options_t o;
    stele_execute_options_init(&o);
    o.max_retries = STELE_MAX_COMMAND_RETRIES;
    stele_command_result_t res;
    w->rc = exec_id(w->f->base.s, w->f->account, "same", "Deposit", 7, &w->id, &o, &res);
    w->first_version = res.first_version;
    w->idempotent = res.idempotent;
    stele_command_result_clear(&res);
    return NULL;
}

static void test_concurrent_same_command(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    tu_rng_t rng;
    tu_rng_init(&rng, tu_seed("test_concurrent_same_command"));
    stele_command_result_t res;
    assert_int_equal(exec_id(s, f->account, "same", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    for (int round = 0; round < 10; round++) {
        same_t w[THREADS];
        pthread_t th[THREADS];
        stele_uuid_t id;
        random_uuid(&rng, &id);
        for (int t = 0; t < THREADS; t++) {
            w[t] = (same_t){.f = f, .id = id};
            assert_int_equal(pthread_create(&th[t], NULL, same_work, &w[t]), 0);
        }
        int fresh = 0;
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
            assert_int_equal(w[t].rc, 0);
            assert_int_equal(w[t].first_version, 1 + round);
            fresh += !w[t].idempotent;
        }
        assert_int_equal(fresh, 1);
    }
    void *st = NULL;
    int64_t v = -1;
    assert_int_equal(stele_aggregate_load(s, f->account, "same", &st, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(((account_t *)st)->balance, 70);
    stele_aggregate_state_free(f->account, st);
}

/* ---- the retry bound ---------------------------------------------------------------------- */

static stele_store_t *saboteur_store;
static int sabotage_left; /* decides that still append behind the back */

static int sabotaging_decide(void *ctx, const void *state, const stele_command_t *cmd,
                             stele_decision_t *d) {
    if (sabotage_left > 0) {
        sabotage_left--;
        stele_event_in_t noise = tu_event("Noise", "{}");
        int rc = stele_append(saboteur_store, "account-x", STELE_EXPECT_ANY, &noise, 1, NULL);
        assert_int_equal(rc, 0);
    }
    stele_aggregate_def_t def;
    account_definition(&def);
    return def.decide(ctx, state, cmd, d);
}

static void test_retry_bound(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_aggregate_def_t def;
    account_definition(&def);
    def.decide = sabotaging_decide;
    stele_aggregate_t *t = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    saboteur_store = s;
    stele_command_result_t res;
    assert_int_equal(exec_id(s, t, "x", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);

    /* Every decision is overtaken: after 1 + 3 attempts, STELE_ECONFLICT, nothing appended but
     * the saboteur's four events. */
    stele_execute_options_t o;
    stele_execute_options_init(&o);
    o.max_retries = 3;
    sabotage_left = 1000;
    stele_uuid_t cid;
    stele_uuid_generate(&cid);
    assert_int_equal(exec_id(s, t, "x", "Deposit", 5, &cid, &o, &res), STELE_ECONFLICT);
    assert_int_equal(res.attempts, 4);
    assert_non_null(strstr(stele_errdetail(), "still conflicting after 4 attempts"));
    assert_non_null(strstr(stele_errdetail(), "account-x"));
    assert_null(res.state);
    stele_command_result_clear(&res);
    assert_int_equal(sabotage_left, 1000 - 4);
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, "account-x", 0, STELE_FORWARD, 0, &evs), 0);
    assert_int_equal(evs.n, 5);
    for (size_t i = 1; i < evs.n; i++) {
        assert_string_equal(evs.v[i].type, "Noise");
    }
    tu_events_free(&evs);

    /* The default bound is STELE_DEFAULT_COMMAND_RETRIES retries. */
    assert_int_equal(exec_id(s, t, "x", "Deposit", 5, NULL, NULL, &res), STELE_ECONFLICT);
    assert_int_equal(res.attempts, STELE_DEFAULT_COMMAND_RETRIES + 1);
    stele_command_result_clear(&res);
    /* No retries at all. */
    o.max_retries = 0;
    assert_int_equal(exec_id(s, t, "x", "Deposit", 5, NULL, &o, &res), STELE_ECONFLICT);
    assert_int_equal(res.attempts, 1);
    stele_command_result_clear(&res);

    /* Overtaken twice, then through: decided a third time against the newest state. */
    sabotage_left = 2;
    o.max_retries = 3;
    assert_int_equal(exec_id(s, t, "x", "Deposit", 5, &cid, &o, &res), 0);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(((account_t *)res.state)->balance, 5);
    int64_t version = res.version;
    stele_command_result_clear(&res);
    assert_int_equal(tu_read_stream(s, "account-x", 0, STELE_FORWARD, 0, &evs), 0);
    assert_int_equal(evs.n, (size_t)version + 1);
    assert_string_equal(evs.v[evs.n - 1].type, "Deposited");
    assert_string_equal(evs.v[evs.n - 2].type, "Noise");
    tu_events_free(&evs);
    stele_aggregate_free(t);
}

/* ---- idempotent command ids --------------------------------------------------------------- */

static int multi_decide(void *ctx, const void *state, const stele_command_t *cmd,
                        stele_decision_t *d) {
    (void)ctx;
    (void)state;
    (void)cmd;
    for (int i = 0; i < 3; i++) {
        int rc = stele_decision_emit(d, "Deposited", "{\"amount\":1}", 12);
        if (rc != 0) {
            return rc;
        }
    }
    return stele_decision_emit(d, "Noted", NULL, 0); /* no data: stored as {} */
}

static void test_idempotent_commands(void **state) {
    fx_t *f = *state;
    stele_store_t *s = f->base.s;
    stele_command_result_t res, again;
    assert_int_equal(exec_id(s, f->account, "i", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    stele_uuid_t cid;
    assert_int_equal(stele_uuid_parse("11111111-2222-4333-8444-555555555555", &cid), 0);
    assert_int_equal(exec_id(s, f->account, "i", "Deposit", 50, &cid, NULL, &res), 0);
    assert_false(res.idempotent);
    /* More commands after it. */
    stele_command_result_t other;
    assert_int_equal(exec_id(s, f->account, "i", "Withdraw", 20, NULL, NULL, &other), 0);
    stele_command_result_clear(&other);

    uint64_t head = tu_head(s);
    for (int pass = 0; pass < 2; pass++) {
        /* Again (then again after a reopen): the first result, the state just after it,
         * nothing appended. */
        assert_int_equal(exec_id(s, f->account, "i", "Deposit", 50, &cid, NULL, &again), 0);
        assert_true(again.idempotent);
        assert_int_equal(again.event_count, 1);
        assert_int_equal(again.first_version, res.first_version);
        assert_int_equal(again.last_version, res.last_version);
        assert_int_equal(again.first_position, res.first_position);
        assert_int_equal(again.last_position, res.last_position);
        assert_int_equal(again.version, res.version);
        assert_int_equal(((account_t *)again.state)->balance, 50);
        stele_command_result_clear(&again);
        /* Whatever the data of the retry: the command id names the command. */
        assert_int_equal(exec_id(s, f->account, "i", "Deposit", 999, &cid, NULL, &again), 0);
        assert_true(again.idempotent);
        stele_command_result_clear(&again);
        assert_int_equal(tu_head(s), head);
        s = f->base.s = tu_reopen(s, f->base.dir);
    }
    stele_command_result_clear(&res);

    /* The same id on another aggregate, or for another command: refused, nothing appended. */
    assert_int_equal(exec_id(s, f->account, "j", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    head = tu_head(s);
    assert_int_equal(exec_id(s, f->account, "j", "Deposit", 50, &cid, NULL, &res), STELE_EIDREUSE);
    assert_non_null(strstr(stele_errdetail(), "account-i"));
    assert_int_equal(exec_id(s, f->account, "i", "Withdraw", 50, &cid, NULL, &res), STELE_EIDREUSE);
    assert_non_null(strstr(stele_errdetail(), "another command"));
    assert_int_equal(tu_head(s), head);

    /* A rejection is not remembered: the same id may succeed once the state allows it. */
    stele_uuid_t wid;
    assert_int_equal(stele_uuid_parse("11111111-2222-4333-8444-666666666666", &wid), 0);
    assert_int_equal(exec_id(s, f->account, "j", "Withdraw", 10, &wid, NULL, &res),
                     STELE_EREJECTED);
    stele_command_result_clear(&res);
    assert_int_equal(exec_id(s, f->account, "j", "Deposit", 10, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    assert_int_equal(exec_id(s, f->account, "j", "Withdraw", 10, &wid, NULL, &res), 0);
    assert_false(res.idempotent);
    stele_command_result_clear(&res);

    /* A command of several events: all of them are its first result. */
    stele_aggregate_def_t def;
    account_definition(&def);
    def.decide = multi_decide;
    stele_aggregate_t *t = NULL;
    assert_int_equal(stele_aggregate_create(&def, &t), 0);
    stele_uuid_t mid;
    stele_uuid_generate(&mid);
    stele_command_t nodata = {.name = "Triple", .command_id = mid}; /* a command without data */
    res.struct_size = sizeof res;
    assert_int_equal(stele_execute(s, t, "k", &nodata, NULL, &res), 0);
    assert_int_equal(res.event_count, 4);
    stele_command_result_clear(&res);
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, "account-k", 3, STELE_FORWARD, 0, &evs), 0);
    assert_string_equal(evs.v[0].type, "Noted");
    assert_string_equal(evs.v[0].data, "{}");
    tu_events_free(&evs);
    assert_int_equal(exec_id(s, t, "k", "Triple", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    head = tu_head(s);
    assert_int_equal(exec_id(s, t, "k", "Triple", 0, &mid, NULL, &res), 0);
    assert_true(res.idempotent);
    assert_int_equal(res.event_count, 4);
    assert_int_equal(res.first_version, 0);
    assert_int_equal(res.last_version, 3);
    assert_int_equal(res.version, 3);
    assert_int_equal(((account_t *)res.state)->balance, 3);
    stele_command_result_clear(&res);
    assert_int_equal(tu_head(s), head);
    stele_aggregate_free(t);
}

/* ---- out of memory at every allocation of a command ------------------------------------- */

/* How many events of stream carry command id cid in their metadata. */
static size_t times_applied(stele_store_t *s, const char *stream, const stele_uuid_t *cid) {
    char id[37];
    stele_uuid_format(cid, id);
    tu_events_t evs = {0};
    assert_int_equal(tu_read_stream(s, stream, 0, STELE_FORWARD, 0, &evs), 0);
    size_t n = 0;
    for (size_t e = 0; e < evs.n; e++) {
        n += evs.v[e].metadata != NULL && strstr(evs.v[e].metadata, id) != NULL;
    }
    tu_events_free(&evs);
    return n;
}

/* For N = 1, 2, ...: the Nth allocation from the start of a command fails. The command must fail
 * cleanly or succeed, and the same command (same id) executed again once memory is back must
 * succeed, with the command applied exactly once, even when the failure came after its events
 * reached the log (the store is then poisoned and reopened). Leaks show in the sanitizer build. */
static void test_allocation_failures(void **state) {
    fx_t *f = *state;
    stele_command_result_t res;
    assert_int_equal(exec_id(f->base.s, f->account, "oom", "Open", 0, NULL, NULL, &res), 0);
    stele_command_result_clear(&res);
    size_t executed = 0, failed = 0, reopened = 0;
    for (uint64_t n = 1; n < 100000; n++) {
        stele_uuid_t cid;
        stele_uuid_generate(&cid);
        uint64_t before = stele__alloc_count();
        stele__alloc_fail_at(n, 0);
        int rc = exec_id(f->base.s, f->account, "oom", "Deposit", 1, &cid, NULL, &res);
        uint64_t used = stele__alloc_count() - before;
        stele__alloc_fail_at(0, 0);
        stele_command_result_clear(&res);
        if (rc != 0) {
            failed++;
            rc = exec_id(f->base.s, f->account, "oom", "Deposit", 1, &cid, NULL, &res);
            stele_command_result_clear(&res);
            if (rc == STELE_EPOISONED) {
                f->base.s = tu_reopen(f->base.s, f->base.dir);
                reopened++;
                rc = exec_id(f->base.s, f->account, "oom", "Deposit", 1, &cid, NULL, &res);
                stele_command_result_clear(&res);
            }
            if (rc != 0) {
                fail_msg("N=%" PRIu64 ": the command again: %s: %s", n, stele_strerror(rc),
                         stele_errdetail());
            }
        }
        assert_int_equal(times_applied(f->base.s, "account-oom", &cid), 1);
        executed++;
        if (used < n) {
            break; /* the command made fewer than N allocations: every one has failed once */
        }
    }
    void *st = NULL;
    int64_t v = -1;
    assert_int_equal(stele_aggregate_load(f->base.s, f->account, "oom", &st, &v), 0);
    assert_int_equal(((account_t *)st)->balance, (int64_t)executed);
    assert_int_equal(v, (int64_t)executed);
    stele_aggregate_state_free(f->account, st);
    print_message("%zu commands, %zu failed first, %zu reopens\n", executed, failed, reopened);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_same_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
