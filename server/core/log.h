/*
 * log.h -- steled's structured log lines (log.c): one JSON object per line on stderr.
 */
#ifndef STELE_SERVER_LOG_H
#define STELE_SERVER_LOG_H

#include <jansson.h>

enum { SRV_LOG_DEBUG = 0, SRV_LOG_INFO = 1, SRV_LOG_WARN = 2, SRV_LOG_ERROR = 3 };
/* One JSON object per line on stderr: {"time","level","msg", fields...}. fields (may be NULL) is
 * a JSON object whose reference is stolen. */
void srv_log(int level, const char *msg, json_t *fields);
void srv_log_set_level(int level);

#endif /* STELE_SERVER_LOG_H */
