/*
 * alloc.h -- the project allocator. Every allocation of libstele goes through these so that tests
 * can fail the Nth allocation (invariant 6) and count what is live.
 */
#ifndef STELE_OS_ALLOC_H
#define STELE_OS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *stele__malloc(size_t size);
void *stele__calloc(size_t count, size_t size); /* checks count * size for overflow */
void *stele__realloc(void *p, size_t size);
void stele__free(void *p);
char *stele__strdup(const char *s);
char *stele__strndup(const char *s, size_t n);

/* Test hooks. Fail the nth allocation from now (1 = the next), and every one after it when sticky;
 * 0 disarms. Process-wide, atomic. */
void stele__alloc_fail_at(uint64_t nth, int sticky);
/* Allocations made since the process started (for choosing N). */
uint64_t stele__alloc_count(void);
/* Allocations minus frees (for leak checks in tests). */
int64_t stele__alloc_live(void);

#endif
