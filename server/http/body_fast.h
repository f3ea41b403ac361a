/*
 * body_fast.h -- the body of POST /streams/{s} in its common shape, read without jansson
 * (body_fast.c).
 */
#ifndef STELE_SERVER_HTTP_BODY_FAST_H
#define STELE_SERVER_HTTP_BODY_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "json_io.h"

enum { SRV_FAST_OK = 0, SRV_FAST_NO = 1 };
/* The body of POST /streams/{s} in its common shape (see body_fast.c): SRV_FAST_OK with the
 * expected version and the events (pointing into raw), or SRV_FAST_NO: read it with the general
 * path, which accepts or refuses it. */
int srv_fast_append(const char *raw, size_t len, size_t max_events, int64_t *expected,
                    srv_events_t *out);

#endif /* STELE_SERVER_HTTP_BODY_FAST_H */
