/*
 * fuzz_body.c -- steled's two readers of an append body (POST /streams/{s}) against each other, and
 * both against the store's JSON validator: the fast reader (srv_fast_append,
 * server/http/body_fast.c), which takes the common shape of a body without building a document, and
 * the general one (srv_append_body_read, server/http/json_io.c), which reads any body with jansson.
 *
 * Input: the body. A body holding a raw NUL byte is refused before either reader runs
 * (srv_body_text), so such inputs are skipped.
 *
 * Checks, beyond "no crash, leak or out-of-bounds read":
 * - the fast reader never decides alone: whenever it takes a body, the append it yields must be
 *   the general reader's, i.e. the general reader takes the body too, with the same expected
 *   version and the same events (type, id, flags, data bytes, metadata bytes) -- or, when the
 *   general reader refuses it, the library refuses the fast reader's events as well (some data or
 *   metadata is not JSON by the validator, stele__json_validate), so both paths answer 400;
 * - every event the general reader takes (jansson accepted the whole body) has data and metadata
 *   the validator accepts, unless nested deeper than the store's limit: jansson accepts a superset
 *   of the validator's language, so neither reader can be made to refuse what the store accepts;
 * - every event that passes the validator, written back as steled and the CLI write events
 *   (common/json_out.c: jout_event, as `read-all` and `export` print it), is read by jansson with
 *   the flags of the CLI's readers, and that line's data and metadata are the stored JSON values:
 *   whatever an append accepts can be read back and re-imported.
 */
#include "fuzz_util.h"

#include "../../server/http/body_fast.h"
#include "json_out.h"
#include "json_scan.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 10000
/* The flags of every jansson reader of events: steled's bodies, the CLI's import lines and its
 * reading of the server's answers. */
#define READ_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

static bool same_bytes(const void *a, size_t an, const void *b, size_t bn) {
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Whether the library would take the event's JSON (the checks the append makes on it). */
static bool store_takes(const stele_event_in_t *e, bool *too_deep) {
    *too_deep = false;
    if ((e->flags & STELE_EVENT_BINARY) == 0 &&
        stele__json_validate(e->data, e->data_len, false, "data") != 0) {
        *too_deep = strstr(stele_errdetail(), "nesting is deeper") != NULL;
        return false;
    }
    if (e->metadata != NULL &&
        stele__json_validate(e->metadata, e->metadata_len, true, "metadata") != 0) {
        *too_deep = strstr(stele_errdetail(), "nesting is deeper") != NULL;
        return false;
    }
    return true;
}

/* The event as `read-all` / `export` write it, read back as the CLI reads such a line. */
static void check_written_back(const stele_event_in_t *e) {
    stele_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.position = 1;
    ev.stream = "s";
    ev.stream_len = 1;
    ev.type = e->type;
    ev.type_len = strlen(e->type);
    ev.id = e->id;
    ev.data = e->data;
    ev.data_len = e->data_len;
    ev.metadata = e->metadata;
    ev.metadata_len = e->metadata_len;
    ev.flags = e->flags;
    json_out_t line = {0};
    jout_event(&line, &ev);
    FUZZ_CHECK(!line.failed, "writing the event failed");
    json_error_t err;
    json_t *root = json_loadb(line.data, line.len, READ_FLAGS, &err);
    FUZZ_CHECK(root != NULL, "the written event is not read back: %s in %s", err.text, line.data);
    if ((e->flags & STELE_EVENT_BINARY) == 0) {
        json_t *want = json_loadb(e->data, e->data_len, READ_FLAGS, &err);
        FUZZ_CHECK(want != NULL, "stored data is not read: %s", err.text);
        FUZZ_CHECK(json_equal(want, json_object_get(root, "data")), "data changed on the way out");
        json_decref(want);
    }
    if (e->metadata != NULL) {
        json_t *want = json_loadb(e->metadata, e->metadata_len, READ_FLAGS, &err);
        FUZZ_CHECK(want != NULL, "stored metadata is not read: %s", err.text);
        FUZZ_CHECK(json_equal(want, json_object_get(root, "metadata")),
                   "metadata changed on the way out");
        json_decref(want);
    }
    /* The raw data text import takes from the line (its member, as the CLI finds it). */
    size_t start = 0, end = 0;
    FUZZ_CHECK(jscan_member(line.data, line.len, 0, "data", &start, &end), "no data member");
    json_decref(root);
    jout_free(&line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *raw = (const char *)data;
    if (memchr(data, 0, size) != NULL)
        return 0;
    int64_t fast_expected = 0, general_expected = 0;
    srv_events_t fast, general;
    int fast_rc = srv_fast_append(raw, size, MAX_EVENTS, &fast_expected, &fast);
    FUZZ_CHECK(fast_rc == SRV_FAST_OK || fast_rc == SRV_FAST_NO, "fast reader returned %d",
               fast_rc);
    const char *err = NULL;
    char msg[512] = "";
    json_t *body =
        srv_append_body_read(raw, size, &general_expected, &general, &err, msg, sizeof(msg));
    if (body == NULL) {
        FUZZ_CHECK(err != NULL && msg[0] != '\0', "a refusal without a code or message");
        FUZZ_CHECK(general.count == 0 && general.events == NULL, "a refusal left events");
    }

    if (fast_rc == SRV_FAST_OK) {
        FUZZ_CHECK(fast.count > 0 && fast.count <= MAX_EVENTS, "%zu events", fast.count);
        if (body == NULL) {
            /* Only a body whose append the store would refuse anyway (JSON it does not accept). */
            bool refused = false, too_deep = false;
            for (size_t i = 0; i < fast.count && !refused; i++)
                refused = !store_takes(&fast.events[i], &too_deep);
            FUZZ_CHECK(refused, "the fast reader took a body the general one refuses (%s: %s)", err,
                       msg);
        } else {
            FUZZ_CHECK(fast_expected == general_expected, "expected version %lld vs %lld",
                       (long long)fast_expected, (long long)general_expected);
            FUZZ_CHECK(fast.count == general.count, "%zu events vs %zu", fast.count, general.count);
            for (size_t i = 0; i < fast.count; i++) {
                const stele_event_in_t *a = &fast.events[i], *b = &general.events[i];
                FUZZ_CHECK(strcmp(a->type, b->type) == 0, "event %zu: type %s vs %s", i, a->type,
                           b->type);
                FUZZ_CHECK(memcmp(&a->id, &b->id, sizeof(a->id)) == 0, "event %zu: id", i);
                FUZZ_CHECK(a->flags == b->flags, "event %zu: flags", i);
                FUZZ_CHECK(same_bytes(a->data, a->data_len, b->data, b->data_len),
                           "event %zu: data \"%.*s\" vs \"%.*s\"", i, (int)a->data_len,
                           (const char *)a->data, (int)b->data_len, (const char *)b->data);
                FUZZ_CHECK(
                    (a->metadata == NULL) == (b->metadata == NULL) &&
                        same_bytes(a->metadata, a->metadata_len, b->metadata, b->metadata_len),
                    "event %zu: metadata", i);
            }
        }
    }

    if (body != NULL) {
        for (size_t i = 0; i < general.count; i++) {
            bool too_deep = false;
            bool takes = store_takes(&general.events[i], &too_deep);
            FUZZ_CHECK(takes || too_deep, "event %zu: jansson took it, the store refuses: %s", i,
                       stele_errdetail());
            if (takes)
                check_written_back(&general.events[i]);
        }
    }
    if (fast_rc == SRV_FAST_OK)
        srv_events_free(&fast);
    srv_events_free(&general);
    json_decref(body);
    return 0;
}
