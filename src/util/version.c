/*
 * version.c -- the version of the library actually loaded (stele_version()), for programs that
 * were compiled against one stele.h and run against another libstele.so. The values are the
 * header's when the library was built; CMakeLists.txt checks that they match project(VERSION).
 */
#include "stele.h"

const char *stele_version(void) { return STELE_VERSION_STRING; }

uint32_t stele_version_number(void) { return STELE_VERSION_NUMBER; }
