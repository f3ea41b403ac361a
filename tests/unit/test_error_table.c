/*
 * test_error_table.c -- the one error table (include/stele_errors.h) reaches every mapping: each
 * library code has a distinct stele_strerror() text, a JSON code with a valid HTTP status, a CLI
 * exit status and a gRPC status; the JSON code maps back (the remote CLI's way) to a code with the
 * same JSON code, exit status and words; the table covers every STELE_E* code of stele.h; and the
 * error tables of docs/http-api.md and docs/cli.md say what the table says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_map.h"
#include "stele.h"
#include "stele_errors.h"

typedef struct lib_row {
    const char *sym;
    int number;
    const char *message;
    const char *json_code;
    const char *grpc;
} lib_row_t;

typedef struct json_row {
    const char *json_code;
    int http_status;
    const char *phrase;
    int exit_status;
    const char *grpc;
} json_row_t;

static const lib_row_t lib_rows[] = {
#define ROW(sym, number, message, json_code, grpc) \
    {"STELE_" #sym, number, message, json_code, #grpc},
    STELE_ERROR_LIST(ROW)
#undef ROW
};

static const json_row_t json_rows[] = {
#define ROW(json_code, http_status, phrase, exit_status, grpc) \
    {json_code, http_status, phrase, exit_status, #grpc},
    STELE_HTTP_ERROR_LIST(ROW)
#undef ROW
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const json_row_t *json_row(const char *json_code) {
    for (size_t i = 0; i < COUNT(json_rows); i++) {
        if (strcmp(json_rows[i].json_code, json_code) == 0) {
            return &json_rows[i];
        }
    }
    return NULL;
}

static void test_every_code_every_mapping(void **state) {
    (void)state;
    for (size_t i = 0; i < COUNT(lib_rows); i++) {
        const lib_row_t *r = &lib_rows[i];
        print_message("%s\n", r->sym);
        /* stele_strerror: the table's text, non-empty, distinct from every other code's. */
        const char *msg = stele_strerror(r->number);
        assert_string_equal(msg, r->message);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(msg, "unknown error");
        assert_string_not_equal(msg, stele_strerror(STELE_OK));
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(msg, stele_strerror(lib_rows[j].number));
        }
        /* JSON code and HTTP status: an error status of a code the server knows. */
        const char *json = errmap_json_code(r->number);
        assert_string_equal(json, r->json_code);
        const json_row_t *jr = json_row(json);
        assert_non_null(jr);
        assert_true(errmap_json_index(json) >= 0);
        int http = errmap_http_status(json);
        assert_int_equal(http, jr->http_status);
        assert_true(http >= 400 && http <= 599);
        /* Exit status: that of the JSON code, so both modes of the CLI agree. */
        int exit_status = errmap_exit(r->number);
        assert_true(exit_status >= 2 && exit_status <= 5);
        assert_int_equal(exit_status, errmap_json_exit(json));
        /* gRPC status: a failure status, named as in the table. */
        errmap_grpc_t grpc = errmap_grpc(r->number);
        assert_int_not_equal(grpc, ERRMAP_GRPC_OK);
        assert_string_equal(errmap_grpc_name(grpc), r->grpc);
        /* The remote CLI's way back: the JSON code gives a library code with the same mappings,
         * this very code when it is the first with its JSON code, and the words local mode prints
         * for it unless the JSON code has its own. */
        int back = errmap_from_json(json);
        assert_int_not_equal(back, 0);
        assert_string_equal(errmap_json_code(back), json);
        assert_int_equal(errmap_exit(back), exit_status);
        bool first = true;
        for (size_t j = 0; j < i; j++) {
            first = first && strcmp(lib_rows[j].json_code, json) != 0;
        }
        if (first) {
            assert_int_equal(back, r->number);
        }
        const char *phrase = errmap_json_phrase(json);
        assert_non_null(phrase);
        assert_string_equal(phrase, jr->phrase != NULL ? jr->phrase : stele_strerror(back));
    }
    /* What users and scripts rely on (docs/cli.md). */
    assert_int_equal(errmap_exit(STELE_OK), 0);
    assert_int_equal(errmap_exit(STELE_ECONFLICT), 2);
    assert_int_equal(errmap_exit(STELE_ENOTFOUND), 3);
    assert_int_equal(errmap_exit(STELE_EDELETED), 3);
    assert_int_equal(errmap_exit(STELE_ETOMBSTONED), 3);
    assert_int_equal(errmap_exit(STELE_EIDREUSE), 4);
    assert_int_equal(errmap_exit(STELE_EREJECTED), 5);
    assert_int_equal(errmap_http_status(errmap_json_code(STELE_EREJECTED)), 422);
    assert_string_equal(errmap_json_code(STELE_EREJECTED), "command_rejected");
    assert_string_equal(errmap_grpc_name(errmap_grpc(STELE_ECONFLICT)), "FAILED_PRECONDITION");
    assert_string_equal(errmap_grpc_name(errmap_grpc(STELE_EREJECTED)), "FAILED_PRECONDITION");
}

static void test_json_codes(void **state) {
    (void)state;
    assert_int_equal(errmap_json_count(), COUNT(json_rows));
    for (size_t i = 0; i < COUNT(json_rows); i++) {
        const json_row_t *r = &json_rows[i];
        print_message("%s\n", r->json_code);
        assert_string_equal(errmap_json_at(i), r->json_code);
        assert_int_equal(errmap_json_index(r->json_code), (int)i);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(r->json_code, json_rows[j].json_code);
        }
        assert_true(r->http_status >= 400 && r->http_status <= 599);
        assert_true(r->exit_status >= 2 && r->exit_status <= 5);
        assert_string_equal(errmap_grpc_name(errmap_json_grpc(r->json_code)), r->grpc);
        /* Words for every code: its own, or a library code's (which must then exist). */
        if (r->phrase == NULL) {
            assert_int_not_equal(errmap_from_json(r->json_code), 0);
        }
        assert_non_null(errmap_json_phrase(r->json_code));
    }
    /* Errno codes and codes the table does not know. */
    assert_string_equal(errmap_json_code(-EIO), "internal");
    assert_int_equal(errmap_exit(-ENOSPC), 4);
    assert_int_equal(errmap_grpc(-EIO), ERRMAP_GRPC_INTERNAL);
    assert_int_equal(errmap_http_status("no_such_code"), 500);
    assert_int_equal(errmap_json_exit("no_such_code"), -1);
    assert_int_equal(errmap_from_json("no_such_code"), 0);
    assert_null(errmap_json_phrase("no_such_code"));
    assert_int_equal(errmap_from_json("unauthorized"), 0);
    assert_int_equal(errmap_http_status("unauthorized"), 401);
}

/* The whole file, NUL-terminated (malloc), or NULL. */
static char *slurp(const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", STELE_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_error("cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
    }
    return buf;
}

/* Every STELE_E* code stele.h defines is in the table, and no code past the table has a name. */
static void test_table_covers_stele_h(void **state) {
    (void)state;
    char *h = slurp("include/stele.h");
    assert_non_null(h);
    size_t defined = 0;
    for (char *p = strstr(h, "#define STELE_E"); p != NULL; p = strstr(p + 1, "#define STELE_E")) {
        /* Error codes are the defines of a value at or below STELE_ERR_BASE. */
        char name[64];
        long value = 0;
        if (sscanf(p, "#define %63s (%ld)", name, &value) != 2 || value >= STELE_ERR_BASE) {
            continue;
        }
        defined++;
        bool listed = false;
        for (size_t i = 0; i < COUNT(lib_rows); i++) {
            listed = listed || strcmp(lib_rows[i].sym, name) == 0;
        }
        if (!listed) {
            fail_msg("%s is defined in stele.h but missing from stele_errors.h", name);
        }
    }
    free(h);
    assert_int_equal(defined, COUNT(lib_rows));
    assert_string_equal(stele_strerror(STELE_ERR_BASE - (int)COUNT(lib_rows) - 1), "unknown error");
}

/* The cells of the markdown table row at line (which starts with '|'), trimmed, up to max. */
static size_t row_cells(const char *line, char cells[][160], size_t max) {
    size_t n = 0;
    const char *p = line + 1;
    while (n < max) {
        const char *bar = strpbrk(p, "|\n");
        if (bar == NULL || *bar == '\n') {
            break;
        }
        while (p < bar && *p == ' ') {
            p++;
        }
        const char *end = bar;
        while (end > p && end[-1] == ' ') {
            end--;
        }
        size_t len = (size_t)(end - p) < 159 ? (size_t)(end - p) : 159;
        memcpy(cells[n], p, len);
        cells[n][len] = '\0';
        n++;
        p = bar + 1;
    }
    return n;
}

/* docs/http-api.md's error table lists exactly the JSON codes, each with its status. */
static void test_docs_http_table(void **state) {
    (void)state;
    char *doc = slurp("docs/http-api.md");
    assert_non_null(doc);
    char *table = strstr(doc, "| code | status | when |");
    assert_non_null(table);
    bool seen[COUNT(json_rows)] = {false};
    size_t rows = 0;
    for (char *line = strchr(table, '\n') + 1; *line == '|'; line = strchr(line, '\n') + 1) {
        char cells[3][160];
        if (row_cells(line, cells, 3) < 2 || cells[0][0] != '`') {
            continue; /* the |---| line */
        }
        char code[160];
        snprintf(code, sizeof code, "%.*s", (int)strlen(cells[0]) - 2, cells[0] + 1);
        int i = errmap_json_index(code);
        if (i < 0) {
            fail_msg("docs/http-api.md lists %s, which stele_errors.h does not", code);
        }
        assert_false(seen[i]);
        seen[i] = true;
        assert_int_equal(atoi(cells[1]), json_rows[i].http_status);
        rows++;
    }
    free(doc);
    for (size_t i = 0; i < COUNT(json_rows); i++) {
        if (!seen[i]) {
            fail_msg("docs/http-api.md's error table lacks %s", json_rows[i].json_code);
        }
    }
    assert_int_equal(rows, COUNT(json_rows));
}

/* docs/cli.md's table lists every library code with its number, words, exit status, JSON code
 * and HTTP status. */
static void test_docs_cli_table(void **state) {
    (void)state;
    char *doc = slurp("docs/cli.md");
    assert_non_null(doc);
    char *table = strstr(doc, "| code | error name (`stele_strerror`) | exit |");
    assert_non_null(table);
    size_t rows = 0;
    for (char *line = strchr(table, '\n') + 1; *line == '|'; line = strchr(line, '\n') + 1) {
        char cells[4][160];
        if (row_cells(line, cells, 4) < 4 || cells[0][0] != '`') {
            continue;
        }
        assert_true(rows < COUNT(lib_rows));
        const lib_row_t *r = &lib_rows[rows];
        char want[160];
        snprintf(want, sizeof want, "`%s` (%d)", r->sym, r->number);
        assert_string_equal(cells[0], want);
        assert_string_equal(cells[1], r->message);
        assert_int_equal(atoi(cells[2]), errmap_exit(r->number));
        snprintf(want, sizeof want, "`%s` (%d)", r->json_code, errmap_http_status(r->json_code));
        assert_string_equal(cells[3], want);
        rows++;
    }
    free(doc);
    assert_int_equal(rows, COUNT(lib_rows));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_every_mapping), cmocka_unit_test(test_json_codes),
        cmocka_unit_test(test_table_covers_stele_h),     cmocka_unit_test(test_docs_http_table),
        cmocka_unit_test(test_docs_cli_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
