/*
 * fuzz_uuid.c -- UUID text parsing and formatting (stele_uuid_parse, stele_uuid_format).
 *
 * Checks: no crash or read past the text's NUL; a text parses exactly when it is 36 characters of
 * the 8-4-4-4-12 hex form, and then formats to the same text in lower case; the first 16 input
 * bytes as an id format to a text that parses back to them.
 */
#include "fuzz_util.h"

#include "stele.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool well_formed(const char *t) {
    if (strlen(t) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        if (hyphen ? t[i] != '-' : !isxdigit((unsigned char)t[i]))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    stele_uuid_t id;
    int rc = stele_uuid_parse(text, &id);
    FUZZ_CHECK(rc == 0 || rc == STELE_EUUID, "unexpected result %d", rc);
    FUZZ_CHECK((rc == 0) == well_formed(text), "parse %s a malformed/well-formed \"%s\"",
               rc == 0 ? "accepts" : "rejects", text);
    if (rc == 0) {
        char out[37];
        stele_uuid_format(&id, out);
        for (size_t i = 0; i < 36; i++)
            FUZZ_CHECK(out[i] == (char)tolower((unsigned char)text[i]), "\"%s\" formats as \"%s\"",
                       text, out);
    }
    free(text);

    if (size >= 16) {
        stele_uuid_t any, back;
        memcpy(any.bytes, data, 16);
        char out[37];
        stele_uuid_format(&any, out);
        FUZZ_CHECK(stele_uuid_parse(out, &back) == 0 && memcmp(any.bytes, back.bytes, 16) == 0,
                   "\"%s\" does not round-trip", out);
        FUZZ_CHECK(stele_uuid_is_nil(&any) ==
                       (memcmp(out, "00000000-0000-0000-0000-000000000000", 36) == 0),
                   "is_nil disagrees");
    }
    return 0;
}
