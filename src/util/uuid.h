/*
 * uuid.h -- internal helpers over the public stele_uuid_* functions (uuid.c implements both).
 */
#ifndef STELE_UTIL_UUID_H
#define STELE_UTIL_UUID_H

#include "stele.h"

/* Fill buf with len bytes from the kernel's random source (getrandom). */
void stele__random_bytes(void *buf, size_t len);

#endif
