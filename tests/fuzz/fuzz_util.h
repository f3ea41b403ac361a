/*
 * fuzz_util.h -- what the fuzz targets in tests/fuzz/ share: the libFuzzer entry point's prototype,
 * a check that aborts (so that libFuzzer and the replay runner both report it), a scratch directory
 * per process, small file helpers and little-endian codecs that do not depend on which engine
 * header a target includes.
 *
 * Every target is deterministic (no clock, no randomness of its own) and leaves nothing behind:
 * files go into one scratch directory that is emptied before each input and removed at exit, and
 * targets that use the library check that its allocator counts no live allocation afterwards.
 */
#ifndef STELE_FUZZ_UTIL_H
#define STELE_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point every fuzz_<name>.c defines; replay_main.c calls it too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message naming the broken property when cond is false. */
#define FUZZ_CHECK(cond, ...)                                  \
    do {                                                       \
        if (!(cond))                                           \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* The scratch directory of this process (made on first use under $TMPDIR or /tmp, removed at
 * exit). fuzz_scratch_clean() empties it. */
const char *fuzz_scratch(void);
void fuzz_scratch_clean(void);
/* out = fuzz_scratch() + "/" + rel; aborts if it does not fit. */
void fuzz_path(char *out, size_t size, const char *rel);
/* Create directory rel (and nothing above it) in the scratch directory. */
void fuzz_mkdir(const char *rel);
/* Write len bytes as file rel of the scratch directory (replacing it). */
void fuzz_write(const char *rel, const void *data, size_t len);

/* Allocations of libstele still live: must not grow across one input. */
int64_t fuzz_alloc_live(void);

static inline uint16_t fuzz_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fuzz_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t fuzz_u64(const uint8_t *p) {
    return (uint64_t)fuzz_u32(p) | ((uint64_t)fuzz_u32(p + 4) << 32);
}
static inline void fuzz_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void fuzz_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif
