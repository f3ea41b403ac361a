/*
 * crc32c.c -- CRC-32C over the SSE4.2 crc32 instruction (8 bytes per instruction) when the
 * processor has it, else over eight 256-entry tables ("slicing by 8", also 8 bytes per step).
 *
 * The choice is made once, on first use, from __builtin_cpu_supports(); both paths are exported as
 * test hooks so the unit test can prove they agree on every length and alignment.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#else
#define HAVE_SSE42_PATH 0
#endif

#define POLY_REFLECTED 0x82F63B78u

/* table[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t table[8][256];
static bool use_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (POLY_REFLECTED & (0u - (crc & 1u)));
        table[0][b] = crc;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
#if HAVE_SSE42_PATH
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

bool stele__crc32c_hw_available(void) {
    pthread_once(&init_once, init);
    return use_hw;
}

uint32_t stele__crc32c_sw(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&init_once, init);
    const unsigned char *p = buf;
    crc = ~crc;
    while (len >= 8) {
        /* Byte-wise assembly keeps this independent of host byte order and alignment. */
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) uint32_t stele__crc32c_hw(uint32_t crc, const void *buf,
                                                            size_t len) {
    const unsigned char *p = buf;
    uint64_t crc64 = ~crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word); /* unaligned load; the instruction reads little-endian */
        crc64 = _mm_crc32_u64(crc64, word);
        p += 8;
        len -= 8;
    }
    uint32_t crc32 = (uint32_t)crc64;
    while (len-- > 0)
        crc32 = _mm_crc32_u8(crc32, *p++);
    return ~crc32;
}
#else
uint32_t stele__crc32c_hw(uint32_t crc, const void *buf, size_t len) {
    return stele__crc32c_sw(crc, buf, len);
}
#endif

uint32_t stele__crc32c(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&init_once, init);
    return use_hw ? stele__crc32c_hw(crc, buf, len) : stele__crc32c_sw(crc, buf, len);
}
