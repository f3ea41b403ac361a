/*
 * bytes.h -- the one little-endian codec of integers used by every on-disk format (records,
 * segment headers, sparse indexes, index tables, manifests, the catalogue snapshot).
 *
 * Every file Stele writes stores integers little-endian whatever the host. On little-endian hosts
 * these helpers are plain unaligned loads and stores (memcpy, which the compiler turns into one
 * instruction); elsewhere they assemble the bytes one by one. The pointers need no alignment.
 */
#ifndef STELE_UTIL_BYTES_H
#define STELE_UTIL_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define STELE__LITTLE_ENDIAN 1
#else
#define STELE__LITTLE_ENDIAN 0
#endif

static inline void stele__put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void stele__put_u32(uint8_t *p, uint32_t v) {
#if STELE__LITTLE_ENDIAN
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline void stele__put_u64(uint8_t *p, uint64_t v) {
#if STELE__LITTLE_ENDIAN
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline uint16_t stele__get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t stele__get_u32(const uint8_t *p) {
    uint32_t v = 0;
#if STELE__LITTLE_ENDIAN
    memcpy(&v, p, 4);
#else
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
#endif
    return v;
}

static inline uint64_t stele__get_u64(const uint8_t *p) {
    uint64_t v = 0;
#if STELE__LITTLE_ENDIAN
    memcpy(&v, p, 8);
#else
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
#endif
    return v;
}

#endif
