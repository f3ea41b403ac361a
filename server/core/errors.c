/*
 * errors.c -- the stable error codes steled answers with: the code of each libstele error and
 * the HTTP status each code is answered with. The metrics count errors by these codes.
 */
#include <string.h>

#include "errors.h"
#include "stele.h"

typedef struct error_code {
    const char *code;
    int status;
} error_code_t;

static const error_code_t error_codes[] = {
    {"bad_request", 400},
    {"invalid_json", 400},
    {"invalid_name", 400},
    {"invalid_type", 400},
    {"reserved_name", 400},
    {"empty_append", 400},
    {"invalid_argument", 400},
    {"unauthorized", 401},
    {"forbidden", 403},
    {"not_found", 404},
    {"stream_deleted", 404},
    {"method_not_allowed", 405},
    {"wrong_expected_version", 409},
    {"id_reuse", 409},
    {"stream_tombstoned", 410},
    {"request_timeout", 408},
    {"payload_too_large", 413},
    {"unsupported_media_type", 415},
    {"expectation_failed", 417},
    {"too_many_requests", 429},
    {"header_too_large", 431},
    {"internal", 500},
    {"unavailable", 503},
};

size_t srv_error_code_count(void) { return sizeof(error_codes) / sizeof(error_codes[0]); }

const char *srv_error_code_name(size_t i) { return error_codes[i].code; }

int srv_error_status(const char *code) {
    for (size_t i = 0; i < sizeof(error_codes) / sizeof(error_codes[0]); i++) {
        if (strcmp(error_codes[i].code, code) == 0) {
            return error_codes[i].status;
        }
    }
    return 500;
}

const char *srv_error_code(int rc) {
    switch (rc) {
    case STELE_EINVAL:
    case STELE_EUUID:
    case STELE_ETIME: return "invalid_argument";
    case STELE_ENAME: return "invalid_name";
    case STELE_ETYPE: return "invalid_type";
    case STELE_EJSON: return "invalid_json";
    case STELE_ETOOBIG: return "payload_too_large";
    case STELE_EEMPTY: return "empty_append";
    case STELE_ECONFLICT: return "wrong_expected_version";
    case STELE_ENOTFOUND: return "not_found";
    case STELE_EDELETED: return "stream_deleted";
    case STELE_ETOMBSTONED: return "stream_tombstoned";
    case STELE_EIDREUSE: return "id_reuse";
    case STELE_ERESERVED: return "reserved_name";
    case STELE_EBUSY: return "too_many_requests";
    case STELE_EPOISONED:
    case STELE_ECLOSED:
    case STELE_EREADONLY: return "unavailable";
    default: return "internal";
    }
}
