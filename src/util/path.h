/*
 * path.h -- the one way file names are joined to their directory ("dir/name"), so every file of a
 * store is named the same way and a name too long for its buffer is refused, never cut.
 */
#ifndef STELE_UTIL_PATH_H
#define STELE_UTIL_PATH_H

#include <stddef.h>

/* Write "dir/name" into out (size bytes, NUL included). Returns 0, or -ENAMETOOLONG (with a
 * detail naming dir) when it does not fit; out then holds no usable path. */
int stele__path_join(char *out, size_t size, const char *dir, const char *name);

#endif
