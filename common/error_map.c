/*
 * error_map.c -- the programs' mappings of error codes, generated from include/stele_errors.h
 * (see error_map.h). Nothing here lists a code by hand: a new line in the table reaches steled's
 * replies and metrics, the tool's exit statuses and its remote mode at once.
 */
#include "error_map.h"

#include <string.h>

#include "stele.h"
#include "stele_errors.h"

typedef struct lib_entry {
    int code;
    const char *json_code;
    errmap_grpc_t grpc;
} lib_entry_t;

typedef struct json_entry {
    const char *json_code;
    int http_status;
    const char *phrase;
    int exit_status;
    errmap_grpc_t grpc;
} json_entry_t;

static const lib_entry_t lib_entries[] = {
#define LIB_ENTRY(sym, number, message, json_code, grpc) \
    {STELE_##sym, json_code, ERRMAP_GRPC_##grpc},
    STELE_ERROR_LIST(LIB_ENTRY)
#undef LIB_ENTRY
};

static const json_entry_t json_entries[] = {
#define JSON_ENTRY(json_code, http_status, phrase, exit_status, grpc) \
    {json_code, http_status, phrase, exit_status, ERRMAP_GRPC_##grpc},
    STELE_HTTP_ERROR_LIST(JSON_ENTRY)
#undef JSON_ENTRY
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const grpc_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
_Static_assert(COUNT(grpc_names) == ERRMAP_GRPC_UNAUTHENTICATED + 1, "one name per gRPC status");

static const lib_entry_t *lib_find(int code) {
    for (size_t i = 0; i < COUNT(lib_entries); i++) {
        if (lib_entries[i].code == code) {
            return &lib_entries[i];
        }
    }
    return NULL;
}

static const json_entry_t *json_find(const char *json_code) {
    int i = errmap_json_index(json_code);
    return i < 0 ? NULL : &json_entries[i];
}

const char *errmap_json_code(int code) {
    const lib_entry_t *e = lib_find(code);
    return e != NULL ? e->json_code : "internal";
}

int errmap_exit(int code) {
    if (code == STELE_OK) {
        return 0;
    }
    int status = errmap_json_exit(errmap_json_code(code));
    return status >= 0 ? status : 4;
}

errmap_grpc_t errmap_grpc(int code) {
    if (code == STELE_OK) {
        return ERRMAP_GRPC_OK;
    }
    const lib_entry_t *e = lib_find(code);
    return e != NULL ? e->grpc : ERRMAP_GRPC_INTERNAL;
}

const char *errmap_grpc_name(errmap_grpc_t status) {
    return (size_t)status < COUNT(grpc_names) ? grpc_names[status] : "UNKNOWN";
}

size_t errmap_json_count(void) { return COUNT(json_entries); }

const char *errmap_json_at(size_t i) {
    return i < COUNT(json_entries) ? json_entries[i].json_code : NULL;
}

int errmap_json_index(const char *json_code) {
    for (size_t i = 0; json_code != NULL && i < COUNT(json_entries); i++) {
        if (strcmp(json_entries[i].json_code, json_code) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int errmap_http_status(const char *json_code) {
    const json_entry_t *e = json_find(json_code);
    return e != NULL ? e->http_status : 500;
}

int errmap_json_exit(const char *json_code) {
    const json_entry_t *e = json_find(json_code);
    return e != NULL ? e->exit_status : -1;
}

errmap_grpc_t errmap_json_grpc(const char *json_code) {
    const json_entry_t *e = json_find(json_code);
    return e != NULL ? e->grpc : ERRMAP_GRPC_INTERNAL;
}

int errmap_from_json(const char *json_code) {
    for (size_t i = 0; json_code != NULL && i < COUNT(lib_entries); i++) {
        if (strcmp(lib_entries[i].json_code, json_code) == 0) {
            return lib_entries[i].code;
        }
    }
    return 0;
}

const char *errmap_json_phrase(const char *json_code) {
    const json_entry_t *e = json_find(json_code);
    if (e == NULL) {
        return NULL;
    }
    if (e->phrase != NULL) {
        return e->phrase;
    }
    int code = errmap_from_json(json_code);
    return code != 0 ? stele_strerror(code) : json_code;
}
