/*
 * struct_size.h -- output structs versioned by size (stele.h: stele_stats_t, stele_stream_info_t,
 * stele_verify_report_t).
 *
 * The caller sets out->struct_size to the sizeof it was compiled with. The library fills a whole
 * struct of its own size, then copies min(caller's size, its size) bytes and sets struct_size to
 * that: a program built against an older stele.h (a smaller struct) gets the fields it knows and
 * nothing is written past its struct; one built against a newer stele.h learns from struct_size
 * which fields an older library filled. A size below the struct's first published one (0: the
 * caller forgot) is STELE_EINVAL, since the library could not fill even the first version.
 */
#ifndef STELE_UTIL_STRUCT_SIZE_H
#define STELE_UTIL_STRUCT_SIZE_H

#include "stele.h"
#include "util/error.h"

#include <stddef.h>
#include <string.h>

/* The first published size of a struct: the end of its last field in that version. Stays the same
 * when fields are added after it. */
#define STELE__SIZE_V1(type, last_field) \
    (offsetof(type, last_field) + sizeof(((type *)0)->last_field))

_Static_assert(offsetof(stele_stats_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(stele_stream_info_t, struct_size) == 0, "struct_size comes first");
_Static_assert(offsetof(stele_verify_report_t, struct_size) == 0, "struct_size comes first");

/* Checks the caller's struct_size against the first version's size (min) and the library's
 * (full); *copy receives how many bytes to give the caller. Returns 0 or STELE_EINVAL naming the
 * struct. */
static inline int stele__struct_size_check(size_t caller, size_t min, size_t full, const char *type,
                                           size_t *copy) {
    if (caller < min)
        return stele__fail(STELE_EINVAL,
                           "%s.struct_size is %zu, below %zu: set it to sizeof(%s) before the call",
                           type, caller, min, type);
    *copy = caller < full ? caller : full;
    return 0;
}

/* Gives the caller the first `copy` bytes of the library's whole struct `full` and sets the
 * caller's struct_size (the first field of every such struct) to copy. */
static inline void stele__struct_size_copy(void *out, const void *full, size_t copy) {
    memcpy(out, full, copy);
    memcpy(out, &copy, sizeof copy);
}

#endif
