/*
 * fuzz_time.c -- RFC 3339 time parsing and formatting (stele_time_parse, stele_time_format).
 *
 * Checks: no crash, overflow (UBSan) or read past the text's NUL; a text that parses formats to a
 * canonical text that parses back to the same nanoseconds, and that canonical text formats to
 * itself; and, independently of the text, the first 8 input bytes taken as a nanosecond count
 * format to a text that parses back to exactly that count (every int64 is representable).
 */
#include "fuzz_util.h"

#include "stele.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t ns = 0;
    int rc = stele_time_parse(text, &ns);
    FUZZ_CHECK(rc == 0 || rc == STELE_ETIME, "unexpected result %d", rc);
    if (rc == 0) {
        char out[36], again[36];
        stele_time_format(ns, out);
        FUZZ_CHECK(strlen(out) == 30, "formatted \"%s\"", out);
        int64_t back = 0;
        FUZZ_CHECK(stele_time_parse(out, &back) == 0 && back == ns,
                   "\"%s\" -> %" PRId64 " -> \"%s\" -> %" PRId64, text, ns, out, back);
        stele_time_format(back, again);
        FUZZ_CHECK(strcmp(out, again) == 0, "format is not canonical");
    }
    free(text);

    if (size >= 8) {
        int64_t any = (int64_t)fuzz_u64(data);
        char out[36];
        stele_time_format(any, out);
        int64_t back = 0;
        FUZZ_CHECK(stele_time_parse(out, &back) == 0 && back == any,
                   "%" PRId64 " -> \"%s\" does not round-trip (%s)", any, out, stele_errdetail());
    }
    return 0;
}
