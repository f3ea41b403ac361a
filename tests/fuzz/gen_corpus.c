/*
 * gen_corpus.c -- writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).
 *
 * The binary seeds come from a real store: it is made in a scratch directory through the public
 * API (several streams, metadata, binary data, a multi-stream commit, a soft delete and a
 * tombstone), closed, and its segment (cut after its last record), snapshot and index files are
 * framed in each target's input format (see the banner of each fuzz_<name>.c), together with a
 * few damaged variants. Text seeds (JSON, times, UUIDs, NDJSON lines, HTTP requests) are listed
 * below. Run by `scripts/fuzz.sh --regen-corpus`; the output is deterministic except for times and
 * ids that the store assigns.
 *
 * Usage: gen_corpus OUT_DIR
 */
#include "fuzz_util.h"

#include "log/record.h"
#include "log/segment.h"
#include "stele.h"
#include "util/crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The generator is no fuzz target, but fuzz_util.h declares one. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    return 0;
}

static const char *out_dir;

static void seed(const char *target, const char *name, const void *a, size_t alen, const void *b,
                 size_t blen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    (void)mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "%s: %s", path, strerror(errno));
    if (alen)
        fwrite(a, 1, alen, f);
    if (blen)
        fwrite(b, 1, blen, f);
    FUZZ_CHECK(fclose(f) == 0, "write %s", path);
}

static void text_seeds(const char *target, const char *const *texts, size_t n, const char *prefix) {
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%02zu", i);
        seed(target, name, prefix, prefix ? 1 : 0, texts[i], strlen(texts[i]));
    }
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    FUZZ_CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void make_store(const char *dir) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_CREATE;
    o.durability = STELE_DURABILITY_NONE;
    o.segment_size_bytes = (uint64_t)1 << 20;
    stele_store_t *s = NULL;
    FUZZ_CHECK(stele_store_open(dir, &o, &s) == 0, "open: %s", stele_errdetail());
    static const uint8_t blob[5] = {0, 1, 2, 0xfe, 0xff};
    stele_event_in_t evs[3] = {
        {.type = "Created", .data = "{\"n\":1}", .data_len = 7},
        {.type = "Renamed",
         .data = "[1,2.5,\"x\"]",
         .data_len = 11,
         .metadata = "{\"by\":\"u1\"}",
         .metadata_len = 11},
        {.type = "Blob", .data = blob, .data_len = sizeof blob, .flags = STELE_EVENT_BINARY},
    };
    FUZZ_CHECK(stele_append(s, "cart-1", STELE_EXPECT_NO_STREAM, evs, 3, NULL) == 0, "append");
    FUZZ_CHECK(stele_append(s, "cart-2", STELE_EXPECT_ANY, evs, 1, NULL) == 0, "append");
    FUZZ_CHECK(stele_stream_metadata_set(s, "cart-1", "{\"max_count\":10}") == 0, "meta");
    stele_append_part_t parts[2] = {
        {.stream = "order-1", .expected_version = STELE_EXPECT_ANY, .events = evs, .count = 2},
        {.stream = "cart-2", .expected_version = 0, .events = evs + 1, .count = 1},
    };
    FUZZ_CHECK(stele_commit(s, parts, 2, NULL) == 0, "commit");
    FUZZ_CHECK(stele_stream_delete(s, "cart-2", STELE_EXPECT_ANY, false) == 0, "delete");
    FUZZ_CHECK(stele_stream_delete(s, "order-1", STELE_EXPECT_ANY, true) == 0, "tombstone");
    for (int i = 0; i < 40; i++)
        FUZZ_CHECK(stele_append(s, "many", STELE_EXPECT_ANY, evs, 1, NULL) == 0, "append");
    FUZZ_CHECK(stele_store_close(s) == 0, "close");
}

/* Byte end of the records of a segment body; *commits receives commit ends (up to max). */
static size_t records_end(const uint8_t *p, size_t len, size_t *commits, size_t *ncommits,
                          size_t max) {
    size_t off = 0, end = 0;
    *ncommits = 0;
    for (;;) {
        stele_record_t rec;
        size_t need;
        if (off >= len || stele__record_decode(p + off, len - off, &rec, &need) != 0)
            break;
        off += rec.padded_length;
        if (rec.flags & STELE_RECORD_COMMIT) {
            end = off;
            if (*ncommits < max)
                commits[(*ncommits)++] = off;
        }
    }
    return end;
}

static void segment_seeds(const uint8_t *seg, size_t seg_len) {
    const uint8_t *body = seg + STELE_SEGMENT_HEADER_BYTES;
    size_t commits[64], nc = 0;
    size_t end = records_end(body, seg_len - STELE_SEGMENT_HEADER_BYTES, commits, &nc, 64);
    char name[64];
    uint8_t frame[3];

    /* Records: single records and whole commits for the record target. */
    size_t prev = 0;
    for (size_t i = 0; i < nc && i < 12; i++) {
        snprintf(name, sizeof name, "commit-%02zu", i);
        seed("record", name, body + prev, commits[i] - prev, NULL, 0);
        prev = commits[i];
    }
    for (size_t off = 0, i = 0; off < end && i < 12; i++) {
        stele_record_t rec;
        size_t need;
        FUZZ_CHECK(stele__record_decode(body + off, end - off, &rec, &need) == 0, "decode");
        snprintf(name, sizeof name, "record-%02zu", i);
        seed("record", name, body + off, rec.padded_length, NULL, 0);
        off += rec.padded_length;
    }
    uint8_t *bad = malloc(end);
    memcpy(bad, body, end);
    bad[20] ^= 1;
    seed("record", "bad-crc", bad, commits[0], NULL, 0);
    seed("record", "truncated", body, 40, NULL, 0);
    seed("record", "zeros", "\0\0\0\0\0\0\0\0", 8, NULL, 0);

    /* Whole files, read-only (0) and read-write (1). */
    for (uint8_t mode = 0; mode < 2; mode++) {
        frame[0] = mode;
        frame[1] = frame[2] = 0;
        snprintf(name, sizeof name, "file-m%u", mode);
        seed("segment", name, frame, 3, seg, STELE_SEGMENT_HEADER_BYTES + end);
        snprintf(name, sizeof name, "file-zeros-m%u", mode);
        uint8_t *padded = calloc(1, STELE_SEGMENT_HEADER_BYTES + end + 256);
        memcpy(padded, seg, STELE_SEGMENT_HEADER_BYTES + end);
        seed("segment", name, frame, 3, padded, STELE_SEGMENT_HEADER_BYTES + end + 256);
        /* A torn tail: the last commit cut in half, then junk. */
        size_t torn = STELE_SEGMENT_HEADER_BYTES + (commits[nc - 2] + commits[nc - 1]) / 2;
        snprintf(name, sizeof name, "torn-m%u", mode);
        seed("segment", name, frame, 3, padded, torn);
        memset(padded + STELE_SEGMENT_HEADER_BYTES + end, 0x5a, 100);
        snprintf(name, sizeof name, "junk-tail-m%u", mode);
        seed("segment", name, frame, 3, padded, STELE_SEGMENT_HEADER_BYTES + end + 256);
        /* Damage in the middle, an intact commit after it. */
        memcpy(padded, seg, STELE_SEGMENT_HEADER_BYTES + end);
        padded[STELE_SEGMENT_HEADER_BYTES + commits[1] + 30] ^= 0x10;
        snprintf(name, sizeof name, "middle-m%u", mode);
        seed("segment", name, frame, 3, padded, STELE_SEGMENT_HEADER_BYTES + end);
        free(padded);
    }
    /* Records only, with a synthesized header; split in two segments at commit boundaries, with
     * and without a sparse index, read-only and read-write. */
    static const uint8_t modes[] = {0x02, 0x03, 0x06, 0x07, 0x0e, 0x0f, 0x1e, 0x1f};
    for (size_t m = 0; m < sizeof modes; m++) {
        for (size_t c = 0; c < nc; c += nc / 3 + 1) {
            uint16_t split = (uint16_t)(commits[c] / 8);
            frame[0] = modes[m];
            frame[1] = (uint8_t)split;
            frame[2] = (uint8_t)(split >> 8);
            snprintf(name, sizeof name, "synth-%02x-c%02zu", modes[m], c);
            seed("segment", name, frame, 3, body, end);
            if (!(modes[m] & 0x04))
                break;
        }
    }
    free(bad);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    (void)mkdir(out_dir, 0755);
    char dir[4200], path[4300];
    fuzz_path(dir, sizeof dir, "store");
    make_store(dir);

    /* segment and record seeds */
    char segname[64];
    stele__segment_name(1, "seg", segname, sizeof segname);
    snprintf(path, sizeof path, "%s/log/%s", dir, segname);
    size_t seg_len = 0;
    uint8_t *seg = slurp(path, &seg_len);
    segment_seeds(seg, seg_len);
    free(seg);

    /* snapshot seeds: as saved, with the CRC fix-up flag, and damaged */
    snprintf(path, sizeof path, "%s/catalogue.snap", dir);
    size_t snap_len = 0;
    uint8_t *snap = slurp(path, &snap_len);
    seed("snapshot", "saved", "\0", 1, snap, snap_len);
    seed("snapshot", "saved-fix", "\1", 1, snap, snap_len);
    seed("snapshot", "short", "\1", 1, snap, 40);
    seed("snapshot", "header-only", "\1", 1, snap, 36);
    for (size_t cut = 48; cut + 4 < snap_len; cut += (snap_len - 48) / 8 + 1) {
        char name[32];
        snprintf(name, sizeof name, "cut-%03zu-fix", cut);
        seed("snapshot", name, "\1", 1, snap, cut);
    }
    snap[40] ^= 0xff;
    seed("snapshot", "name-len-fix", "\1", 1, snap, snap_len);
    seed("snapshot", "bad-crc", "\0", 1, snap, snap_len);
    free(snap);

    /* index seeds: the manifest and its first table */
    snprintf(path, sizeof path, "%s/index/MANIFEST", dir);
    size_t man_len = 0, tab_len = 0;
    uint8_t *man = slurp(path, &man_len);
    FUZZ_CHECK(man_len >= 40 && fuzz_u32(man + 12) >= 1, "the index has no table");
    snprintf(path, sizeof path, "%s/index/table-%016llx.sti", dir,
             (unsigned long long)fuzz_u64(man + 32));
    uint8_t *tab = slurp(path, &tab_len);
    /* With one table, the manifest names only it. */
    uint8_t *one = malloc(man_len);
    memcpy(one, man, man_len);
    fuzz_put_u32(one + 12, 1);
    size_t one_len = 32 + 40 + 4;
    fuzz_put_u32(one + one_len - 4, stele__crc32c(0, one, one_len - 4));
    static const uint8_t index_modes[] = {0, 1, 3, 4, 7};
    for (size_t m = 0; m < sizeof index_modes; m++) {
        uint8_t frame[3] = {index_modes[m], (uint8_t)one_len, (uint8_t)(one_len >> 8)};
        uint8_t *in = malloc(one_len + tab_len);
        memcpy(in, one, one_len);
        memcpy(in + one_len, tab, tab_len);
        char name[64];
        snprintf(name, sizeof name, "valid-m%u", index_modes[m]);
        seed("index", name, frame, 3, in, one_len + tab_len);
        in[one_len + 64 + 5] ^= 0x40; /* an entry */
        snprintf(name, sizeof name, "entry-m%u", index_modes[m]);
        seed("index", name, frame, 3, in, one_len + tab_len);
        snprintf(name, sizeof name, "short-m%u", index_modes[m]);
        seed("index", name, frame, 3, in, one_len + 80);
        free(in);
    }
    uint8_t empty_man[36] = "STELEIXM\1\0\0\0";
    fuzz_put_u64(empty_man + 24, 1);
    fuzz_put_u32(empty_man + 32, stele__crc32c(0, empty_man, 32));
    uint8_t frame[3] = {4, 36, 0};
    seed("index", "empty-add", frame, 3, empty_man, 36);
    frame[0] = 0;
    seed("index", "empty", frame, 3, empty_man, 36);
    free(one);
    free(man);
    free(tab);

    static const char *const json[] = {
        "{}",
        "[]",
        "null",
        "true",
        "false",
        "0",
        "-0.5e+10",
        "1E400",
        "1e999999999999",
        "-1.7976931348623159e308",
        "1.7976931348623157e308",
        "1e-400",
        "0e99999",
        "123456789012345678901234",
        "\"\"",
        "\"a\\u00e9\\ud83d\\ude00\\n\\\"\"",
        "\"\xc3\xa9\xf0\x9f\x98\x80\"",
        "{\"a\":[1,{\"b\":null}],\"a\":2}",
        " \t\r\n{\"k\" : \"v\"}\n",
        "[[[[[[[[]]]]]]]]",
        "{\"a\":}",
        "[1,]",
        "01",
        "1.",
        "-",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\xc0\x80\"",
        "\"\xed\xa0\x80\"",
        "{\"a\" 1}",
        "nul",
        "[1] x",
        "\"\\u0000\"",
        "\"\x01\"",
        "\"\\x\"",
        "{\"\\u00e9\":1}",
        "[\"\xf4\x90\x80\x80\"]",
    };
    text_seeds("json", json, sizeof json / sizeof json[0], NULL);
    static const char *const times[] = {
        "2024-01-02",
        "2024-01-02T03:04:05Z",
        "2024-02-29T23:59:59.999999999Z",
        "1970-01-01T00:00:00Z",
        "1677-09-21T00:12:43.145224192Z",
        "2262-04-11T23:47:16.854775807Z",
        "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224191Z",
        "2024-01-02T03:04:05+05:30",
        "2024-01-02T03:04:05-23:59",
        "2024-01-02t03:04:05z",
        "2023-02-29",
        "2024-13-01",
        "2024-01-02T24:00:00Z",
        "2024-01-02T23:59:60Z",
        "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05.1234567891Z",
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05+0530",
        "0000-01-01",
        "9999-12-31T23:59:59Z",
        "2024-01-02 03:04:05Z",
        "2024-01-02T03:04:05Zjunk",
        "1969-12-31T23:59:59.5Z",
        "2000-03-01T00:00:00-00:01",
    };
    text_seeds("time", times, sizeof times / sizeof times[0], NULL);
    static const char *const uuids[] = {
        "00000000-0000-0000-0000-000000000000",   "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "0190f2c4-7a5e-7c3d-9b2a-0123456789ab",   "0190F2C4-7A5E-7C3D-9B2A-0123456789AB",
        "0190f2c4-7a5e-7c3d-9b2a-0123456789a",    "0190f2c4-7a5e-7c3d-9b2a-0123456789abc",
        "0190f2c47a5e7c3d9b2a0123456789ab",       "0190f2c4-7a5e-7c3d-9b2a_0123456789ab",
        "g190f2c4-7a5e-7c3d-9b2a-0123456789ab",   "{0190f2c4-7a5e-7c3d-9b2a-0123456789ab}",
        "0190f2c4-7a5e-7c3d-9b2a-0123456789a-",   "",
        "0190f2c4-7a5e-7c3d-9b2a-0123456789ab\n", "11111111-2222-4333-8444-555555555555",
    };
    text_seeds("uuid", uuids, sizeof uuids / sizeof uuids[0], NULL);
    static const char *const lines[] = {
        "{\"type\":\"T\",\"data\":{\"a\":1}}",
        "{\"type\":\"T\",\"data\":{\"a\":0.1,\"b\":123456789012345678901},\"metadata\":{\"m\":1}}",
        "{\"type\":\"T\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"data\":[1,2]}",
        "{\"type\":\"T\",\"content\":\"binary\",\"data\":\"AAEC/w==\"}",
        "{\"type\":\"T\",\"content\":\"json\",\"data\":\"text\"}",
        "{\"type\":\"T\"}",
        "{\"type\":\"T\",\"data\":null,\"metadata\":null,\"id\":null}",
        "{\"position\":3,\"stream\":\"s-1\",\"version\":2,\"type\":\"T\",\"time\":"
        "\"2024-01-02T03:04:05.000000000Z\",\"data\":{}}",
        "{\"type\":\"T\",\"data\":1,\"data\":2}",
        "{\"type\":\"T\",\"d\\u0061ta\":{\"x\":1}}",
        "{\"type\":\"T\",\"data\":\"a\\\"b}\"}",
        "{\"type\":\"T\",\"data\":{\"k\":\"}\"}}",
        "{\"type\":5,\"data\":{}}",
        "{\"data\":{}}",
        "[1]",
        "{\"type\":\"T\",\"id\":\"nope\"}",
        "{\"type\":\"T\",\"content\":\"binary\",\"data\":\"@@@\"}",
        "{\"type\":\"T\",\"content\":\"xml\"}",
        "{\"type\":\"T\",\"metadata\":[1]}",
        "{\"type\":\"T\",\"data\":{}",
        "  {\"type\" : \"T\" , \"data\" : { } }  ",
        "{\"type\":\"T\\u0000x\",\"data\":\"\\u0000\"}",
    };
    text_seeds("ndjson", lines, sizeof lines / sizeof lines[0], "\0");
    static const char *const import_lines[] = {
        "{\"stream\":\"s-1\",\"version\":0,\"type\":\"T\",\"data\":{}}",
        "{\"stream\":\"$$s-1\",\"type\":\"$deleted\",\"data\":{}}",
        "{\"stream\":5,\"type\":\"T\"}",
        "{\"type\":\"T\"}",
        "{\"stream\":\"s\",\"version\":-1,\"type\":\"T\",\"data\":1e999}",
        "{\"stream\":\"s\",\"version\":1e30,\"type\":\"T\",\"metadata\":{\"a\":{\"b\":[]}}}",
    };
    for (size_t i = 0; i < sizeof import_lines / sizeof import_lines[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "import-%02zu", i);
        seed("ndjson", name, "\1", 1, import_lines[i], strlen(import_lines[i]));
    }

    /* HTTP requests, after the control byte of fuzz_http_request.c: bits 0-5 where the bytes are
     * cut in two (0..63 over their length), bits 6-7 the limits (0x00 steled's defaults; 0x40 heads
     * of 256 and bodies of 64 bytes; 0x80 64 and 8; 0xc0 24 and 0). */
    static const struct {
        uint8_t control;
        const char *text;
    } http[] = {
        {0x20, "GET /streams/order-1?from=3&limit=10 HTTP/1.1\r\nHost: localhost:2113\r\n"
               "Accept: application/json\r\n\r\n"},
        {0x10, "POST /streams/order-1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
               "Content-Length: 40\r\n\r\n{\"events\":[{\"type\":\"Placed\",\"data\":{}}]}"},
        {0x30, "POST /streams/s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\n"
               "{\"a\":\r\n1A ; ext\r\n[1,2,3,4,5,6,7,8,9,10,11]}\r\n0\r\nX-Checksum: abc\r\n\r\n"},
        {0x08, "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n"
               "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
               "DELETE /d HTTP/1.1\r\nConnection: close\r\n\r\n"},
        {0x3f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"},
        {0x1f, "POST /streams/s HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"},
        {0x00, "\r\n\nHEAD /health HTTP/1.1\nHost: x\nX-Padded:  v \t\n\n"},
        {0x2a, "OPTIONS /x#frag HTTP/1.1\r\nX-Dup: 1\r\nx-dup: 2\r\nX-Empty:\r\n\r\n"},
        {0x20, "GET / HTTP/2.0\r\n\r\n"},
        {0x20, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
        {0x20, "GET  / HTTP/1.1\r\n\r\n"},
        {0x20, "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"},
        {0x20, "GET / HTTP/1.1\r\nHost : x\r\n\r\n"},
        {0x20, "GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n"},
        {0x20, "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n"},
        {0x20, "GET / HTTP/1.1\r\nNoColon\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
        {0x20, "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
        {0x20, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
        {0x20, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx"},
        {0x20, "POST / HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n"},
        {0x20, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nonly part"},
        {0x20, "GET /unfinished HTTP/1.1\r\nHost: h\r\n"},
        {0x50, "POST /s HTTP/1.1\r\nContent-Length: 65\r\n\r\n"},
        {0x60, "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"},
        {0x48, "GET / HTTP/1.1\r\nX-Long: 0123456789012345678901234567890123456789012345678901234"
               "5678901234567890123456789012345678901234567890123456789012345678901234567890123"
               "4567890123456789012345678901234567890123456789012345678901234567890123456789\r\n"
               "\r\n"},
        {0xa0, "GET / HTTP/1.1\r\nX-Pad: 0000000000000000000000000000000000000000000\r\n\r\n"},
        {0xa0, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 01234567890123"
               "45678901234567890123456789012345678901234567890123456789\r\n\r\n"},
        {0xc0, "GET /0123456789012 HTTP/1.1\r\n\r\n"},
        {0xc4, "GET / HTTP/1.1\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof http / sizeof http[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%02zu", i);
        seed("http_request", name, &http[i].control, 1, http[i].text, strlen(http[i].text));
    }
    /* Append bodies for the two readers (fuzz_body): the fast shape, shapes only the general
     * reader takes, and values the store refuses. */
    static const char *const bodies[] = {
        "{\"expected_version\":\"any\",\"events\":[{\"type\":\"T\",\"data\":{\"a\":1}}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":{\"n\":1E400}}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":1e999999999999}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":-1e-999999999}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":[123456789012345678901234567890,-0,0.1]}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":1.7976931348623157e308}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":{\"a\":1,\"a\":2}}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":1,\"data\":2}]}",
        "{\"events\":[{\"type\":\"T\",\"d\\u0061ta\":{\"x\":0.1}}]}",
        "{\"events\":[{\"type\":\"T\\u00e9\",\"data\":\"\\ud83d\\ude00\"}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":\"\\ud800\"}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":{\"k\\u0000\":1}}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":\"\\u0000\"}]}",
        "{\"expected_version\":12,\"events\":[{\"type\":\"T\"}]}",
        "{\"expected_version\":9007199254740993,\"events\":[{\"type\":\"T\"}]}",
        "{\"expected_version\":1.0,\"events\":[{\"type\":\"T\"}]}",
        "{\"expected_version\":\"no_stream\",\"expected_version\":3,\"events\":[{\"type\":\"T\"}]}",
        "{\"events\":[{\"id\":\"01a20370-fd36-70bb-bbae-f7f2b01f7508\",\"type\":\"T\",\"data\":"
        "null,"
        "\"metadata\":{\"actor\":\"a\"}}]}",
        "{\"events\":[{\"type\":\"T\",\"metadata\":null},{\"type\":\"U\",\"metadata\":[]}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":\"aGk=\",\"content\":\"binary\"}]}",
        " \t\r\n{ \"events\" : [ { \"type\" : \"T\" , \"data\" : { } } ] } \n",
        "\xef\xbb\xbf{\"events\":[{\"type\":\"T\"}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":01}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":\"\xc3\xa9\"}]}",
        "{\"events\":[{\"type\":\"T\",\"data\":\"\xed\xa0\x80\"}]}",
        "{\"events\":[]}",
        "[]",
    };
    text_seeds("body", bodies, sizeof bodies / sizeof bodies[0], NULL);
    static const char nul_head[] = "\x20GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
    seed("http_request", "nul-in-head", nul_head, sizeof nul_head - 1, NULL, 0);
    return 0;
}
