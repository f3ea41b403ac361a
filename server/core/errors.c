/*
 * errors.c -- the stable error codes steled answers with: the code of each libstele error and
 * the HTTP status each code is answered with. The metrics count errors by these codes. The codes,
 * their statuses and their order come from the one error table (common/error_map.h over
 * include/stele_errors.h): nothing here is a table of its own.
 */
#include "errors.h"

#include "error_map.h"

size_t srv_error_code_count(void) { return errmap_json_count(); }

const char *srv_error_code_name(size_t i) { return errmap_json_at(i); }

int srv_error_status(const char *code) { return errmap_http_status(code); }

const char *srv_error_code(int rc) { return errmap_json_code(rc); }
