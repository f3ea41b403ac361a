/*
 * fuzz_segment.c -- opening a store whose log holds arbitrary segment files, then reading it.
 *
 * Input: one mode byte, a 16-bit split, then the payload.
 *   mode & 0x01  open read-write (recovery may cut a torn tail) and append one event; else
 * read-only mode & 0x02  the payload is records only: a valid segment header (first position 1) is
 * put in front of it; else the payload is the whole file, named after the position its header names
 *   mode & 0x04  (with 0x02) split the records at byte 8 * split into two segments; the second's
 *                header chains to the last commit of the first (so valid logs stay valid)
 *   mode & 0x08  (with 0x04) write the first segment's sparse index (.sidx): a correct one, or with
 *                mode & 0x10 one whose body is the last bytes of the payload (checksum made valid)
 *
 * Checks: open and reads never crash, leak or hang; every event a read returns is a record whose
 * checksum holds somewhere in the files as written (same position, version, time, id, stream,
 * type, data, metadata and flags), or the event this target appended; $all positions are
 * consecutive in both directions; filtered reads return only events that pass the filter.
 */
#include "fuzz_util.h"

#include "log/record.h"
#include "log/segment.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/crc32c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 2
#define APPEND_STREAM "fuzz-appended"

typedef struct file {
    uint8_t *bytes;
    size_t len;
    uint64_t first;
} file_t;

typedef struct world {
    file_t files[MAX_FILES];
    size_t nfiles;
    stele_record_t *valid; /* every record whose checksum holds, at any aligned offset */
    size_t nvalid, cap;
    uint64_t appended; /* position of the event this target appended, or 0 */
} world_t;

static void add_valid(world_t *w, const stele_record_t *rec) {
    if (w->nvalid == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->valid = realloc(w->valid, w->cap * sizeof *w->valid);
        FUZZ_CHECK(w->valid != NULL, "out of memory");
    }
    w->valid[w->nvalid++] = *rec;
}

static void scan_valid(world_t *w) {
    for (size_t f = 0; f < w->nfiles; f++) {
        const file_t *fl = &w->files[f];
        for (size_t off = STELE_SEGMENT_HEADER_BYTES; off + 8 <= fl->len; off += 8) {
            stele_record_t rec;
            size_t need;
            if (stele__record_decode(fl->bytes + off, fl->len - off, &rec, &need) == 0)
                add_valid(w, &rec);
        }
    }
}

static bool same_bytes(const void *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool event_is_record(const stele_event_t *ev, const stele_record_t *r) {
    bool binary = (r->flags & STELE_RECORD_BINARY) != 0;
    return r->position == ev->position && (int64_t)r->version == ev->version &&
           r->time_ns == ev->time_ns && memcmp(r->id.bytes, ev->id.bytes, 16) == 0 &&
           binary == ((ev->flags & STELE_EVENT_BINARY) != 0) &&
           same_bytes(r->stream, r->stream_len, ev->stream, ev->stream_len) &&
           ev->stream[ev->stream_len] == 0 &&
           same_bytes(r->type, r->type_len, ev->type, ev->type_len) &&
           ev->type[ev->type_len] == 0 &&
           same_bytes(r->data, r->data_len, ev->data, ev->data_len) &&
           (r->metadata_len ? ev->metadata != NULL && same_bytes(r->metadata, r->metadata_len,
                                                                 ev->metadata, ev->metadata_len)
                            : ev->metadata == NULL);
}

static void check_event(const world_t *w, const stele_event_t *ev) {
    if (w->appended && ev->position == w->appended) {
        FUZZ_CHECK(ev->stream_len == strlen(APPEND_STREAM) &&
                       memcmp(ev->stream, APPEND_STREAM, ev->stream_len) == 0,
                   "the appended position holds another event");
        return;
    }
    for (size_t i = 0; i < w->nvalid; i++)
        if (event_is_record(ev, &w->valid[i]))
            return;
    FUZZ_CHECK(false, "event at position %" PRIu64 " is no checksummed record of the input",
               ev->position);
}

/* Read $all (all of it or filtered); every event must be a valid record. */
static void read_all(stele_store_t *s, const world_t *w, stele_direction_t dir, uint64_t limit,
                     int64_t since, int64_t until, char *first_stream, size_t first_size) {
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.direction = dir;
    ro.limit = limit;
    ro.filter.include_system = true;
    ro.filter.since_ns = since;
    ro.filter.until_ns = until;
    stele_reader_t *r = NULL;
    if (stele_read_all(s, &ro, &r) < 0)
        return;
    stele_event_t ev;
    uint64_t prev = 0, n = 0;
    int rc;
    while ((rc = stele_reader_next(r, &ev)) == 1) {
        check_event(w, &ev);
        if (!since && !until && prev)
            FUZZ_CHECK(ev.position == (dir == STELE_FORWARD ? prev + 1 : prev - 1),
                       "$all skips from %" PRIu64 " to %" PRIu64, prev, ev.position);
        if (since)
            FUZZ_CHECK(ev.time_ns >= since, "event before since");
        if (until)
            FUZZ_CHECK(ev.time_ns < until, "event at or after until");
        if (first_stream && !first_stream[0] && ev.stream_len < first_size)
            memcpy(first_stream, ev.stream, ev.stream_len + 1);
        prev = ev.position;
        n++;
        FUZZ_CHECK(!limit || n <= limit, "more events than the limit");
    }
    FUZZ_CHECK(rc <= 0, "reader returned %d", rc);
    stele_reader_close(r);
}

static void read_stream(stele_store_t *s, const world_t *w, const char *stream) {
    stele_reader_t *r = NULL;
    if (stele_read_stream(s, stream, 0, STELE_FORWARD, 0, &r) < 0)
        return;
    stele_event_t ev;
    int64_t prev = -1;
    while (stele_reader_next(r, &ev) == 1) {
        check_event(w, &ev);
        FUZZ_CHECK(strcmp(ev.stream, stream) == 0, "stream read returned another stream");
        FUZZ_CHECK(ev.version > prev, "stream versions go backwards");
        prev = ev.version;
    }
    stele_reader_close(r);
}

/* Walk the records at the start of a payload as a log would: *last gets the last position, hash
 * and time of the last commit; optionally collect sparse entries. Returns the byte end. */
static size_t walk(const uint8_t *p, size_t len, uint64_t *last, uint8_t hash[32], int64_t *time,
                   uint8_t *sidx, size_t *nsparse, size_t max_sparse) {
    size_t off = 0, end = 0;
    uint64_t expect = 1;
    for (;;) {
        stele_record_t rec;
        size_t need;
        if (off >= len || stele__record_decode(p + off, len - off, &rec, &need) != 0 ||
            rec.position != expect)
            break;
        if (sidx && (rec.position % STELE_SPARSE_STRIDE == 1 || rec.position == 1) &&
            *nsparse < max_sparse) {
            fuzz_put_u64(sidx + 48 + *nsparse * 16, rec.position);
            fuzz_put_u64(sidx + 48 + *nsparse * 16 + 8, STELE_SEGMENT_HEADER_BYTES + off);
            (*nsparse)++;
        }
        off += rec.padded_length;
        expect++;
        if (rec.flags & STELE_RECORD_COMMIT) {
            *last = rec.position;
            memcpy(hash, rec.hash, 32);
            *time = rec.time_ns;
            end = off;
        }
    }
    return end;
}

static void put_file(world_t *w, uint64_t first, const uint8_t *hdr, const uint8_t *body,
                     size_t len) {
    file_t *f = &w->files[w->nfiles++];
    f->first = first;
    f->len = (hdr ? STELE_SEGMENT_HEADER_BYTES : 0) + len;
    f->bytes = malloc(f->len ? f->len : 1);
    FUZZ_CHECK(f->bytes != NULL, "out of memory");
    if (hdr)
        memcpy(f->bytes, hdr, STELE_SEGMENT_HEADER_BYTES);
    if (len)
        memcpy(f->bytes + (hdr ? STELE_SEGMENT_HEADER_BYTES : 0), body, len);
    char name[64], rel[128];
    stele__segment_name(first, "seg", name, sizeof name);
    snprintf(rel, sizeof rel, "store/log/%s", name);
    fuzz_write(rel, f->bytes, f->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t mode = size > 0 ? data[0] : 0;
    size_t split = size > 2 ? (size_t)fuzz_u16(data + 1) * 8 : 0;
    const uint8_t *payload = size > 3 ? data + 3 : data + size;
    size_t plen = size > 3 ? size - 3 : 0;
    world_t w;
    memset(&w, 0, sizeof w);
    int64_t live = fuzz_alloc_live();

    fuzz_scratch_clean();
    fuzz_mkdir("store");
    fuzz_mkdir("store/log");
    fuzz_write("store/STELE", "stele-store\nformat 1\n", 21);

    static const uint8_t zero_hash[32];
    uint8_t hdr[STELE_SEGMENT_HEADER_BYTES];
    if (mode & 0x02) {
        size_t k = (mode & 0x04) && split < plen ? split : plen;
        stele__segment_header_encode(hdr, 1, (uint64_t)1 << 20, 0, zero_hash, 0, 0);
        put_file(&w, 1, hdr, payload, k);
        if (mode & 0x04) {
            uint64_t last = 0;
            uint8_t hash[32] = {0};
            int64_t time = 0;
            size_t max_sparse = 64, nsparse = 0;
            uint8_t *sidx = calloc(1, 48 + max_sparse * 16 + 4);
            FUZZ_CHECK(sidx != NULL, "out of memory");
            size_t end = walk(payload, k, &last, hash, &time, sidx, &nsparse, max_sparse);
            uint64_t first2 = last + 1;
            stele__segment_header_encode(hdr, first2, (uint64_t)1 << 20, 0, hash, time, 0);
            put_file(&w, first2, hdr, payload + k, plen - k);
            if (mode & 0x08) {
                size_t slen;
                memcpy(sidx, "STELESIX", 8);
                fuzz_put_u32(sidx + 8, 1);
                fuzz_put_u64(sidx + 16, 1);
                if (mode & 0x10) {
                    /* Body (last, end, count, entries) from the end of the payload. */
                    size_t body = plen < 24 + max_sparse * 16 ? plen : 24 + max_sparse * 16;
                    memcpy(sidx + 24, payload + plen - body, body);
                    slen = 24 + body + 4;
                } else {
                    fuzz_put_u64(sidx + 24, last);
                    fuzz_put_u64(sidx + 32, STELE_SEGMENT_HEADER_BYTES + end);
                    fuzz_put_u64(sidx + 40, nsparse);
                    slen = 48 + nsparse * 16 + 4;
                }
                if (slen >= 8)
                    fuzz_put_u32(sidx + slen - 4, stele__crc32c(0, sidx, slen - 4));
                char name[64], rel[128];
                stele__segment_name(1, "sidx", name, sizeof name);
                snprintf(rel, sizeof rel, "store/log/%s", name);
                fuzz_write(rel, sidx, slen);
            }
            free(sidx);
        }
    } else {
        uint64_t first = 1;
        if (plen >= 24 && memcmp(payload, "STELESEG", 8) == 0 && fuzz_u64(payload + 16) != 0)
            first = fuzz_u64(payload + 16);
        put_file(&w, first, NULL, payload, plen);
    }
    scan_valid(&w);

    char dir[4200];
    fuzz_path(dir, sizeof dir, "store");
    stele_options_t o;
    stele_options_init(&o);
    o.durability = STELE_DURABILITY_NONE;
    o.segment_size_bytes = (uint64_t)1 << 20;
    o.flags = (mode & 0x01) ? 0 : STELE_OPEN_READONLY;
    stele_store_t *s = NULL;
    if (stele_store_open(dir, &o, &s) == 0) {
        if (mode & 0x01) {
            stele_event_in_t ev = {.type = "Appended", .data = "{}", .data_len = 2};
            stele_append_result_t res;
            if (stele_append(s, APPEND_STREAM, STELE_EXPECT_ANY, &ev, 1, &res) == 0)
                w.appended = res.first_position;
        }
        char first_stream[STELE_MAX_STREAM_NAME_BYTES + 1] = "";
        read_all(s, &w, STELE_FORWARD, 0, 0, 0, first_stream, sizeof first_stream);
        read_all(s, &w, STELE_BACKWARD, 16, 0, 0, NULL, 0);
        if (w.nvalid > 0) {
            int64_t t = w.valid[w.nvalid / 2].time_ns;
            read_all(s, &w, STELE_FORWARD, 0, t, t == INT64_MAX ? 0 : t + 1000, NULL, 0);
        }
        if (first_stream[0])
            read_stream(s, &w, first_stream);
        (void)stele_store_close(s);
    }

    for (size_t i = 0; i < w.nfiles; i++)
        free(w.files[i].bytes);
    free(w.valid);
    FUZZ_CHECK(fuzz_alloc_live() == live, "libstele leaked %" PRId64 " allocations",
               fuzz_alloc_live() - live);
    return 0;
}
