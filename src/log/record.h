/*
 * record.h -- the record codec: the only code that knows how an event is laid out in a segment.
 *
 * Record layout (all integers little-endian; documented in docs/design/format.md too):
 *
 *   off size field
 *     0    4 magic           0xC75E1E57
 *     4    4 length          bytes of this record before padding (header + variable part [+ hash])
 *     8    4 crc32c          CRC-32C of bytes [12, length)
 *    12    2 flags           bit 0 COMMIT (last record of a commit), bit 1 BINARY data,
 *                            bit 2 HAS_METADATA; other bits zero
 *    14    2 type_len        1..255
 *    16    8 position        1-based position in the log
 *    24    8 version         0-based version in the stream
 *    32    8 time_ns         recorded time, ns since the Unix epoch
 *    40   16 event id        UUID bytes
 *    56    4 stream_len      1..1024
 *    60    4 metadata_len
 *    64    4 data_len
 *    68    4 commit_events   COMMIT records: records in the commit (>= 1); else 0
 *    72      stream name, NUL, type, NUL, metadata, data
 *            COMMIT records only: 32-byte chain hash
 *            zero padding to the next multiple of 8 (not counted in length)
 *
 * Chain hash of commit c: SHA-256(hash of commit c-1 || for each record r of c: r[0,8) r[12,end))
 * where end is length, or length - 32 for the commit record (the hash itself is left out, and so is
 * every CRC, which the hashed bytes determine). The first commit chains to 32 zero bytes.
 */
#ifndef STELE_LOG_RECORD_H
#define STELE_LOG_RECORD_H

#include "stele.h"
#include "util/sha256.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STELE_RECORD_MAGIC 0xC75E1E57u
#define STELE_RECORD_HEADER_BYTES 72u
#define STELE_RECORD_ALIGN 8u
#define STELE_RECORD_HASH_BYTES 32u

/* Field offsets of the record header (the table above). */
#define STELE_REC_OFF_MAGIC 0u
#define STELE_REC_OFF_LENGTH 4u
#define STELE_REC_OFF_CRC 8u
#define STELE_REC_OFF_FLAGS 12u
#define STELE_REC_OFF_TYPE_LEN 14u
#define STELE_REC_OFF_POSITION 16u
#define STELE_REC_OFF_VERSION 24u
#define STELE_REC_OFF_TIME 32u
#define STELE_REC_OFF_ID 40u
#define STELE_REC_OFF_STREAM_LEN 56u
#define STELE_REC_OFF_METADATA_LEN 60u
#define STELE_REC_OFF_DATA_LEN 64u
#define STELE_REC_OFF_COMMIT_EVENTS 68u

/* The header is its fields back to back, with nothing between or after them. */
_Static_assert(STELE_REC_OFF_LENGTH == STELE_REC_OFF_MAGIC + 4, "record: length follows magic");
_Static_assert(STELE_REC_OFF_CRC == STELE_REC_OFF_LENGTH + 4, "record: crc follows length");
_Static_assert(STELE_REC_OFF_FLAGS == STELE_REC_OFF_CRC + 4, "record: flags follow crc");
_Static_assert(STELE_REC_OFF_TYPE_LEN == STELE_REC_OFF_FLAGS + 2, "record: type_len follows flags");
_Static_assert(STELE_REC_OFF_POSITION == STELE_REC_OFF_TYPE_LEN + 2, "record: position");
_Static_assert(STELE_REC_OFF_VERSION == STELE_REC_OFF_POSITION + 8, "record: version");
_Static_assert(STELE_REC_OFF_TIME == STELE_REC_OFF_VERSION + 8, "record: time_ns");
_Static_assert(STELE_REC_OFF_ID == STELE_REC_OFF_TIME + 8, "record: event id");
_Static_assert(STELE_REC_OFF_STREAM_LEN == STELE_REC_OFF_ID + 16, "record: stream_len");
_Static_assert(STELE_REC_OFF_METADATA_LEN == STELE_REC_OFF_STREAM_LEN + 4, "record: metadata_len");
_Static_assert(STELE_REC_OFF_DATA_LEN == STELE_REC_OFF_METADATA_LEN + 4, "record: data_len");
_Static_assert(STELE_REC_OFF_COMMIT_EVENTS == STELE_REC_OFF_DATA_LEN + 4, "record: commit_events");
_Static_assert(STELE_REC_OFF_COMMIT_EVENTS + 4 == STELE_RECORD_HEADER_BYTES, "record: header size");
_Static_assert(STELE_RECORD_HEADER_BYTES % STELE_RECORD_ALIGN == 0, "records stay 8-aligned");
/* The CRC covers [12, length): everything but magic, length and itself. */
_Static_assert(STELE_REC_OFF_FLAGS == 12, "record: the CRC starts at the flags");
/* Every length fits its field. */
_Static_assert(STELE_MAX_TYPE_BYTES <= 0xFFFFu, "type_len is a u16");
_Static_assert((uint64_t)STELE_MAX_STREAM_NAME_BYTES + STELE_MAX_METADATA_BYTES +
                       STELE_MAX_DATA_BYTES + STELE_MAX_TYPE_BYTES + 1024u <=
                   0xFFFFFFFFu,
               "a record's length is a u32");

#define STELE_RECORD_COMMIT 0x1u
#define STELE_RECORD_BINARY 0x2u
#define STELE_RECORD_HAS_METADATA 0x4u
#define STELE_RECORD_KNOWN_FLAGS 0x7u

/* Largest possible record (every field at its limit, with the hash), padded. */
#define STELE_RECORD_MAX_BYTES                                                                  \
    (STELE_RECORD_HEADER_BYTES + STELE_MAX_STREAM_NAME_BYTES + 1u + STELE_MAX_TYPE_BYTES + 1u + \
     STELE_MAX_METADATA_BYTES + STELE_MAX_DATA_BYTES + STELE_RECORD_HASH_BYTES + 8u)

/* A decoded record. Pointers borrow the buffer that was decoded. */
typedef struct stele_record {
    uint32_t length;        /* unpadded */
    uint32_t padded_length; /* length rounded up to 8: the distance to the next record */
    uint16_t flags;
    uint64_t position;
    uint64_t version;
    int64_t time_ns;
    stele_uuid_t id;
    uint32_t commit_events;
    const char *stream;
    uint32_t stream_len;
    const char *type;
    uint16_t type_len;
    const uint8_t *metadata;
    uint32_t metadata_len;
    const uint8_t *data;
    uint32_t data_len;
    const uint8_t *hash; /* COMMIT records: the chain hash; else NULL */
} stele_record_t;

/* Padded size of a record with these field sizes. */
size_t stele__record_size(size_t stream_len, size_t type_len, size_t metadata_len, size_t data_len,
                          bool commit);

/* Encode a record into buf (which has stele__record_size() bytes) with its CRC left zero and, for
 * a commit record, its hash left zero. rec->length/padded_length are ignored and computed.
 * Returns the padded size written. */
size_t stele__record_encode(uint8_t *buf, const stele_record_t *rec);

/* Set the CRC of an encoded record (after its hash is in place). */
void stele__record_seal(uint8_t *buf);

/* Mark an encoded record as the commit record: it must have been encoded with the COMMIT flag.
 * Feeds the whole commit [first, commit_end) to the hash, writes the hash into the record and
 * seals (CRCs) every record of the commit. prev_hash is the previous commit's hash; out_hash
 * receives the new one. */
void stele__record_commit(uint8_t *commit_start, size_t commit_bytes, const uint8_t prev_hash[32],
                          uint8_t out_hash[32]);

/* Results of stele__record_decode besides 0 and STELE_ECORRUPT. */
#define STELE_RECORD_NEED_MORE 1 /* *need is set to the bytes needed from buf */
#define STELE_RECORD_ZERO 2      /* the bytes at buf are zero: the end of the written log */

/* Decode the record at buf with avail bytes readable. Returns 0 (rec filled; CRC, bounds, flags
 * and padding checked), STELE_RECORD_NEED_MORE, STELE_RECORD_ZERO (the first 8 bytes are zero), or
 * STELE_ECORRUPT (with stele_errdetail() naming what is wrong). */
int stele__record_decode(const uint8_t *buf, size_t avail, stele_record_t *rec, size_t *need);

/* Fill rec from a record this process encoded and sealed itself (the writer publishing its own
 * commit): no checks, no CRC. Never use it on bytes read from a file. */
void stele__record_parse_own(const uint8_t *buf, stele_record_t *rec);

/* Feed one decoded record (its bytes at buf) to a running commit hash, as the chain hash defines.
 */
void stele__record_hash_update(stele_sha256_t *sha, const uint8_t *buf, const stele_record_t *rec);

#endif
