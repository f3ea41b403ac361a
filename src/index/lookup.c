/*
 * lookup.c -- merging sorted chunks into a lookup's bounded result (see lookup.h).
 */
#include "index/lookup.h"

#include "util/assert.h"

bool stele__lookup_merge(stele__lookup_t *lk, const stele_index_entry_t *chunk, size_t n) {
    if (n == 0)
        return true;
    stele_index_entry_t *out = lk->out;
    size_t a = lk->count;

    /* Fast path: the chunk follows everything already found (the usual case, since sources are
     * visited in the order in which a stream's entries were written). */
    if (a == 0 || stele__lookup_cmp(lk, &out[a - 1], &chunk[0]) <= 0) {
        size_t take = n < lk->max - a ? n : lk->max - a;
        for (size_t i = 0; i < take; i++)
            out[a + i] = chunk[i];
        lk->count = a + take;
        return lk->count < lk->max;
    }

    /* General case: the result keeps the first total of the union, i entries from out and j from
     * the chunk; count them, then merge from the back so out can be written in place. */
    size_t total = a + n < lk->max ? a + n : lk->max;
    size_t i = 0, j = 0;
    for (size_t k = 0; k < total; k++) {
        if (j < n && (i >= a || stele__lookup_cmp(lk, &chunk[j], &out[i]) < 0))
            j++;
        else
            i++;
    }
    size_t w = total;
    while (j > 0) {
        if (i > 0 && stele__lookup_cmp(lk, &out[i - 1], &chunk[j - 1]) > 0)
            out[--w] = out[--i];
        else
            out[--w] = chunk[--j];
    }
    STELE_ASSERT(w == i);
    lk->count = total;
    return stele__lookup_wants(lk, &chunk[n - 1]);
}
