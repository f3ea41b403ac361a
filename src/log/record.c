/*
 * record.c -- encode and decode log records (layout in record.h and docs/design/format.md).
 *
 * Decoding trusts nothing: every length is bounded before it is used, the CRC is checked before any
 * field is returned, and padding must be zero, so that a decoder error can never turn into a read
 * of wrong bytes.
 */
#include "log/record.h"

#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/error.h"

#include <string.h>

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

size_t stele__record_size(size_t stream_len, size_t type_len, size_t metadata_len, size_t data_len,
                          bool commit) {
    size_t n = STELE_RECORD_HEADER_BYTES + stream_len + 1 + type_len + 1 + metadata_len + data_len;
    if (commit)
        n += STELE_RECORD_HASH_BYTES;
    return align8(n);
}

size_t stele__record_encode(uint8_t *buf, const stele_record_t *rec) {
    bool commit = (rec->flags & STELE_RECORD_COMMIT) != 0;
    size_t length = STELE_RECORD_HEADER_BYTES + rec->stream_len + 1 + rec->type_len + 1 +
                    rec->metadata_len + rec->data_len + (commit ? STELE_RECORD_HASH_BYTES : 0);
    size_t padded = align8(length);

    stele__put_u32(buf + STELE_REC_OFF_MAGIC, STELE_RECORD_MAGIC);
    stele__put_u32(buf + STELE_REC_OFF_LENGTH, (uint32_t)length);
    stele__put_u32(buf + STELE_REC_OFF_CRC, 0);
    stele__put_u16(buf + STELE_REC_OFF_FLAGS, rec->flags);
    stele__put_u16(buf + STELE_REC_OFF_TYPE_LEN, rec->type_len);
    stele__put_u64(buf + STELE_REC_OFF_POSITION, rec->position);
    stele__put_u64(buf + STELE_REC_OFF_VERSION, rec->version);
    stele__put_u64(buf + STELE_REC_OFF_TIME, (uint64_t)rec->time_ns);
    memcpy(buf + STELE_REC_OFF_ID, rec->id.bytes, 16);
    stele__put_u32(buf + STELE_REC_OFF_STREAM_LEN, rec->stream_len);
    stele__put_u32(buf + STELE_REC_OFF_METADATA_LEN, rec->metadata_len);
    stele__put_u32(buf + STELE_REC_OFF_DATA_LEN, rec->data_len);
    stele__put_u32(buf + STELE_REC_OFF_COMMIT_EVENTS, commit ? rec->commit_events : 0);

    uint8_t *p = buf + STELE_RECORD_HEADER_BYTES;
    memcpy(p, rec->stream, rec->stream_len);
    p += rec->stream_len;
    *p++ = 0;
    memcpy(p, rec->type, rec->type_len);
    p += rec->type_len;
    *p++ = 0;
    if (rec->metadata_len)
        memcpy(p, rec->metadata, rec->metadata_len);
    p += rec->metadata_len;
    if (rec->data_len)
        memcpy(p, rec->data, rec->data_len);
    p += rec->data_len;
    if (commit) {
        memset(p, 0, STELE_RECORD_HASH_BYTES);
        p += STELE_RECORD_HASH_BYTES;
    }
    memset(p, 0, padded - length);
    return padded;
}

void stele__record_seal(uint8_t *buf) {
    uint32_t length = stele__get_u32(buf + STELE_REC_OFF_LENGTH);
    stele__put_u32(buf + STELE_REC_OFF_CRC,
                   stele__crc32c(0, buf + STELE_REC_OFF_FLAGS, length - STELE_REC_OFF_FLAGS));
}

static void hash_record_bytes(stele_sha256_t *sha, const uint8_t *buf, uint32_t length,
                              bool commit) {
    uint32_t end = commit ? length - STELE_RECORD_HASH_BYTES : length;
    stele__sha256_update(sha, buf, 8);
    stele__sha256_update(sha, buf + STELE_REC_OFF_FLAGS, end - STELE_REC_OFF_FLAGS);
}

void stele__record_commit(uint8_t *commit_start, size_t commit_bytes, const uint8_t prev_hash[32],
                          uint8_t out_hash[32]) {
    stele_sha256_t sha;
    stele__sha256_init(&sha);
    stele__sha256_update(&sha, prev_hash, 32);
    size_t off = 0;
    uint8_t *last = commit_start;
    while (off < commit_bytes) {
        uint8_t *r = commit_start + off;
        uint32_t length = stele__get_u32(r + STELE_REC_OFF_LENGTH);
        bool commit = (stele__get_u16(r + STELE_REC_OFF_FLAGS) & STELE_RECORD_COMMIT) != 0;
        hash_record_bytes(&sha, r, length, commit);
        last = r;
        off += align8(length);
    }
    stele__sha256_final(&sha, out_hash);
    uint32_t last_len = stele__get_u32(last + 4);
    memcpy(last + last_len - STELE_RECORD_HASH_BYTES, out_hash, STELE_RECORD_HASH_BYTES);
    for (off = 0; off < commit_bytes;) {
        uint8_t *r = commit_start + off;
        stele__record_seal(r);
        off += align8(stele__get_u32(r + STELE_REC_OFF_LENGTH));
    }
}

void stele__record_hash_update(stele_sha256_t *sha, const uint8_t *buf, const stele_record_t *rec) {
    hash_record_bytes(sha, buf, rec->length, (rec->flags & STELE_RECORD_COMMIT) != 0);
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int stele__record_decode(const uint8_t *buf, size_t avail, stele_record_t *rec, size_t *need) {
    if (avail < 8) {
        *need = 8;
        return STELE_RECORD_NEED_MORE;
    }
    if (all_zero(buf, 8))
        return STELE_RECORD_ZERO;
    uint32_t magic = stele__get_u32(buf);
    if (magic != STELE_RECORD_MAGIC)
        return stele__fail(STELE_ECORRUPT, "bad record magic 0x%08x", magic);
    uint32_t length = stele__get_u32(buf + STELE_REC_OFF_LENGTH);
    if (length < STELE_RECORD_HEADER_BYTES + 4 || length > STELE_RECORD_MAX_BYTES)
        return stele__fail(STELE_ECORRUPT, "record length %u out of range", length);
    size_t padded = align8(length);
    if (avail < padded) {
        *need = padded;
        return STELE_RECORD_NEED_MORE;
    }
    uint32_t crc = stele__crc32c(0, buf + STELE_REC_OFF_FLAGS, length - STELE_REC_OFF_FLAGS);
    if (crc != stele__get_u32(buf + STELE_REC_OFF_CRC))
        return stele__fail(STELE_ECORRUPT,
                           "record checksum mismatch (stored 0x%08x, computed 0x%08x)",
                           stele__get_u32(buf + STELE_REC_OFF_CRC), crc);
    if (!all_zero(buf + length, padded - length))
        return stele__fail(STELE_ECORRUPT, "record padding is not zero");

    uint16_t flags = stele__get_u16(buf + STELE_REC_OFF_FLAGS);
    uint16_t type_len = stele__get_u16(buf + STELE_REC_OFF_TYPE_LEN);
    uint32_t stream_len = stele__get_u32(buf + STELE_REC_OFF_STREAM_LEN);
    uint32_t metadata_len = stele__get_u32(buf + STELE_REC_OFF_METADATA_LEN);
    uint32_t data_len = stele__get_u32(buf + STELE_REC_OFF_DATA_LEN);
    uint32_t commit_events = stele__get_u32(buf + STELE_REC_OFF_COMMIT_EVENTS);
    bool commit = (flags & STELE_RECORD_COMMIT) != 0;
    if (flags & ~STELE_RECORD_KNOWN_FLAGS)
        return stele__fail(STELE_ECORRUPT, "record has unknown flags 0x%x", flags);
    if (type_len == 0 || type_len > STELE_MAX_TYPE_BYTES || stream_len == 0 ||
        stream_len > STELE_MAX_STREAM_NAME_BYTES || metadata_len > STELE_MAX_METADATA_BYTES ||
        data_len > STELE_MAX_DATA_BYTES)
        return stele__fail(STELE_ECORRUPT, "record field length out of range");
    uint64_t expect = (uint64_t)STELE_RECORD_HEADER_BYTES + stream_len + 1 + type_len + 1 +
                      metadata_len + data_len + (commit ? STELE_RECORD_HASH_BYTES : 0);
    if (expect != length)
        return stele__fail(STELE_ECORRUPT, "record field lengths do not add up to its length");
    if (commit ? commit_events == 0 : commit_events != 0)
        return stele__fail(STELE_ECORRUPT, "record commit count inconsistent with its flags");
    if (!!(flags & STELE_RECORD_HAS_METADATA) != (metadata_len > 0))
        return stele__fail(STELE_ECORRUPT, "record metadata flag inconsistent");

    const uint8_t *p = buf + STELE_RECORD_HEADER_BYTES;
    if (p[stream_len] != 0 || p[stream_len + 1 + type_len] != 0)
        return stele__fail(STELE_ECORRUPT, "record name terminator missing");
    rec->length = length;
    rec->padded_length = (uint32_t)padded;
    rec->flags = flags;
    rec->position = stele__get_u64(buf + STELE_REC_OFF_POSITION);
    rec->version = stele__get_u64(buf + STELE_REC_OFF_VERSION);
    rec->time_ns = (int64_t)stele__get_u64(buf + STELE_REC_OFF_TIME);
    memcpy(rec->id.bytes, buf + STELE_REC_OFF_ID, 16);
    rec->commit_events = commit_events;
    rec->stream = (const char *)p;
    rec->stream_len = stream_len;
    p += stream_len + 1;
    rec->type = (const char *)p;
    rec->type_len = type_len;
    p += type_len + 1;
    rec->metadata = metadata_len ? p : NULL;
    rec->metadata_len = metadata_len;
    p += metadata_len;
    rec->data = p;
    rec->data_len = data_len;
    p += data_len;
    rec->hash = commit ? p : NULL;
    if (rec->position == 0)
        return stele__fail(STELE_ECORRUPT, "record position is 0");
    return 0;
}

void stele__record_parse_own(const uint8_t *buf, stele_record_t *rec) {
    uint32_t length = stele__get_u32(buf + STELE_REC_OFF_LENGTH);
    uint16_t flags = stele__get_u16(buf + STELE_REC_OFF_FLAGS);
    const uint8_t *p = buf + STELE_RECORD_HEADER_BYTES;
    rec->length = length;
    rec->padded_length = (uint32_t)align8(length);
    rec->flags = flags;
    rec->type_len = stele__get_u16(buf + STELE_REC_OFF_TYPE_LEN);
    rec->position = stele__get_u64(buf + STELE_REC_OFF_POSITION);
    rec->version = stele__get_u64(buf + STELE_REC_OFF_VERSION);
    rec->time_ns = (int64_t)stele__get_u64(buf + STELE_REC_OFF_TIME);
    memcpy(rec->id.bytes, buf + STELE_REC_OFF_ID, 16);
    rec->stream_len = stele__get_u32(buf + STELE_REC_OFF_STREAM_LEN);
    rec->metadata_len = stele__get_u32(buf + STELE_REC_OFF_METADATA_LEN);
    rec->data_len = stele__get_u32(buf + STELE_REC_OFF_DATA_LEN);
    rec->commit_events = stele__get_u32(buf + STELE_REC_OFF_COMMIT_EVENTS);
    rec->stream = (const char *)p;
    p += rec->stream_len + 1;
    rec->type = (const char *)p;
    p += rec->type_len + 1;
    rec->metadata = rec->metadata_len ? p : NULL;
    p += rec->metadata_len;
    rec->data = p;
    p += rec->data_len;
    rec->hash = (flags & STELE_RECORD_COMMIT) ? p : NULL;
}
