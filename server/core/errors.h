/*
 * errors.h -- the stable error codes steled answers with (errors.c): the code of a libstele
 * error, and the status each code is answered with.
 */
#ifndef STELE_SERVER_ERRORS_H
#define STELE_SERVER_ERRORS_H

#include <stddef.h>

/* The error code of a libstele code (a negative STELE_E*). */
const char *srv_error_code(int rc);
/* The stable error codes, in a fixed order (for the metrics). */
size_t srv_error_code_count(void);
const char *srv_error_code_name(size_t i);

/* The HTTP status of an error code (500 for an unknown one). */
int srv_error_status(const char *code);

#endif /* STELE_SERVER_ERRORS_H */
