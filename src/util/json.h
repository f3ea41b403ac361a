/*
 * json.h -- JSON validation of event data and metadata (an allocation-free checker: json.c). Valid
 * means: one complete JSON value, valid UTF-8, nothing but white space after it.
 */
#ifndef STELE_UTIL_JSON_H
#define STELE_UTIL_JSON_H

#include <stdbool.h>

/* Containers may nest this deep (a limit stated in docs/limits.md). */
#define STELE_JSON_MAX_DEPTH 512
#include <stddef.h>

/* 0 if text[0..len) is valid JSON (an object when require_object), else STELE_EJSON with
 * stele_errdetail() set to "<what>: <jansson's message> at line L column C" (what names the field,
 * e.g. "event 2 data"). */
int stele__json_validate(const char *text, size_t len, bool require_object, const char *what);

#endif
