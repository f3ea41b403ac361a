/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum on every record. Uses the SSE4.2 instruction when
 * the processor has it (checked once at run time), a table otherwise.
 */
#ifndef STELE_UTIL_CRC32C_H
#define STELE_UTIL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) with len bytes; stele__crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t stele__crc32c(uint32_t crc, const void *buf, size_t len);

/* Test hooks: the two implementations behind stele__crc32c(), so tests can check that they agree.
 * stele__crc32c_hw() may be called only when stele__crc32c_hw_available() is true. */
uint32_t stele__crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t stele__crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool stele__crc32c_hw_available(void);

#endif
