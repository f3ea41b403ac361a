/*
 * error.h -- the thread-local detail message behind stele_errdetail(), and the names of the codes
 * (stele_strerror) in error.c.
 */
#ifndef STELE_UTIL_ERROR_H
#define STELE_UTIL_ERROR_H

/* Set this thread's detail message (printf format) and return code, so callers can write
 * `return stele__fail(STELE_ENAME, "stream name is empty");`. */
int stele__fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear this thread's detail message. */
void stele__error_clear(void);

#endif
