/*
 * uuid.c -- event ids: parsing and formatting the 36-character text form, and generating UUIDv7
 * (RFC 9562): a 48-bit big-endian Unix time in milliseconds, then the version and variant bits, and
 * 74 random bits from the kernel. Ids made later sort after ids made in an earlier millisecond,
 * which keeps them close together in indexes.
 */
#include "util/uuid.h"

#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

void stele__random_bytes(void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* Without a random source no id can be made safely: an environment defect. */
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_hyphen_at(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int stele_uuid_parse(const char *text, stele_uuid_t *out) {
    stele_uuid_t id;
    size_t byte = 0;
    if (!text)
        return stele__fail(STELE_EUUID, "UUID is missing");
    for (size_t i = 0; i < 36; i++) {
        if (text[i] == '\0')
            return stele__fail(STELE_EUUID, "UUID \"%s\" is shorter than 36 characters", text);
        if (is_hyphen_at(i)) {
            if (text[i] != '-')
                return stele__fail(STELE_EUUID, "UUID \"%.36s\": expected '-' at character %zu",
                                   text, i + 1);
            continue;
        }
        int hi = hex_value(text[i]);
        int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0)
            return stele__fail(STELE_EUUID, "UUID \"%.36s\": not a hex digit at character %zu",
                               text, hi < 0 ? i + 1 : i + 2);
        id.bytes[byte++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    if (text[36] != '\0')
        return stele__fail(STELE_EUUID, "UUID \"%.40s...\" is longer than 36 characters", text);
    *out = id;
    return 0;
}

void stele_uuid_format(const stele_uuid_t *id, char out[37]) {
    static const char digits[] = "0123456789abcdef";
    size_t pos = 0;
    for (size_t byte = 0; byte < 16; byte++) {
        if (byte == 4 || byte == 6 || byte == 8 || byte == 10)
            out[pos++] = '-';
        out[pos++] = digits[id->bytes[byte] >> 4];
        out[pos++] = digits[id->bytes[byte] & 0x0f];
    }
    out[pos] = '\0';
}

/* Random bytes for ids come from a per-thread pool refilled 640 bytes at a time: one getrandom
 * per 64 ids instead of one per id. A forked child empties its pool, so it never repeats the
 * parent's bytes. */
#define POOL_BYTES 640
static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local size_t pool_left;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void) { pool_left = 0; }
static void atfork_init(void) { pthread_atfork(NULL, NULL, pool_forget); }

static void pool_take(unsigned char *out, size_t n) {
    if (pool_left < n) {
        pthread_once(&atfork_once, atfork_init);
        stele__random_bytes(pool, POOL_BYTES);
        pool_left = POOL_BYTES;
    }
    memcpy(out, pool + POOL_BYTES - pool_left, n);
    memset(pool + POOL_BYTES - pool_left, 0, n);
    pool_left -= n;
}

/* Milliseconds since the Unix epoch, for the id's time field. util/ is the lowest layer (below
 * os/, whose clock the store uses for event times), so it reads the wall clock itself, as it
 * reads getrandom() itself; CLOCK_REALTIME exists on every Linux, so a failure aborts. */
static uint64_t wall_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        abort();
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void stele_uuid_generate(stele_uuid_t *out) {
    uint64_t ms = wall_ms();
    pool_take(out->bytes + 6, 10);
    for (int i = 0; i < 6; i++)
        out->bytes[i] = (uint8_t)(ms >> (40 - 8 * i));
    out->bytes[6] = (uint8_t)(0x70 | (out->bytes[6] & 0x0f)); /* version 7 */
    out->bytes[8] = (uint8_t)(0x80 | (out->bytes[8] & 0x3f)); /* variant 10 */
}

bool stele_uuid_is_nil(const stele_uuid_t *id) {
    unsigned char any = 0;
    for (size_t i = 0; i < sizeof id->bytes; i++)
        any |= id->bytes[i];
    return any == 0;
}
