/*
 * fuzz_ndjson.c -- the CLI's NDJSON event line parser (cli_event_parse_line in cli/event_in.c,
 * used by `append --file` and `import`).
 *
 * Input: one mode byte (bit 0: the "stream" key is required, as for import), then the line.
 * Checks: no crash, leak or out-of-bounds read; when a line is accepted, the event points at its
 * own buffers, its type is the "type" string, and its data is what the line says: for JSON data
 * the raw text the parser took from the line is valid JSON (by the store's validator, unless
 * nested deeper than the store's limit, which jansson allows) and equal
 * (by jansson) to the line's "data" member; metadata likewise, and an object. Messages the parser
 * prints for rejected lines go to stderr (the fuzz script closes it with -close_fd_mask).
 */
#include "fuzz_util.h"

#include "../../cli/cli.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

/* jansson's value of member key of the line's object, parsed as the CLI parses it. */
static void check_member(json_t *root, const char *key, const char *text, size_t len, bool object) {
    json_t *expect = json_object_get(root, key);
    FUZZ_CHECK(expect != NULL, "%s taken from a line without it", key);
    /* Nesting deeper than the store allows is jansson's to accept and the store's to refuse. */
    FUZZ_CHECK(stele__json_validate(text, len, object, key) == 0 ||
                   strstr(stele_errdetail(), "nesting is deeper") != NULL,
               "%s \"%.*s\" is not valid: %s", key, (int)len, text, stele_errdetail());
    json_error_t err;
    json_t *got =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &err);
    FUZZ_CHECK(got != NULL, "%s \"%.*s\": %s", key, (int)len, text, err.text);
    FUZZ_CHECK(json_equal(got, expect), "%s taken as \"%.*s\", which is not the line's value", key,
               (int)len, text);
    json_decref(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    bool need_stream = data[0] & 1;
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    cli_ctx_t ctx = {.dir = "fuzz", .command = "fuzz"};
    cli_event_buf_t ev;
    int status = cli_event_parse_line(&ctx, "fuzz", 1, line, len, need_stream, &ev);
    FUZZ_CHECK(status == EXIT_OK || status == EXIT_ERROR, "status %d", status);
    if (status != EXIT_OK)
        return 0;

    json_error_t err;
    json_t *root = json_loadb(line, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &err);
    FUZZ_CHECK(root != NULL && json_is_object(root), "accepted a line jansson rejects");
    FUZZ_CHECK(ev.line == 1 && ev.in.type == ev.type && ev.type != NULL && ev.in.data == ev.data &&
                   ev.in.data_len == ev.data_len && ev.in.metadata == ev.metadata,
               "event does not point at its own buffers");
    json_t *type = json_object_get(root, "type");
    FUZZ_CHECK(json_is_string(type) &&
                   memcmp(ev.type, json_string_value(type), json_string_length(type) + 1) == 0,
               "type differs");
    if (need_stream) {
        json_t *stream = json_object_get(root, "stream");
        FUZZ_CHECK(
            ev.stream != NULL && json_is_string(stream) &&
                memcmp(ev.stream, json_string_value(stream), json_string_length(stream) + 1) == 0,
            "stream differs");
    }
    if (!(ev.in.flags & STELE_EVENT_BINARY)) {
        if (json_object_get(root, "data"))
            check_member(root, "data", ev.data, ev.data_len, false);
        else
            FUZZ_CHECK(ev.data_len == 2 && memcmp(ev.data, "{}", 2) == 0, "default data");
    }
    if (ev.metadata)
        check_member(root, "metadata", ev.metadata, ev.in.metadata_len, true);
    json_decref(root);
    cli_event_buf_free(&ev);
    return 0;
}
