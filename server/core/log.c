/*
 * log.c -- steled's structured log lines: one JSON object per line on stderr, so that the log can
 * be read by programs as well as people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "stele.h"

static int log_level = SRV_LOG_INFO;

void srv_log_set_level(int level) { log_level = level; }

void srv_log(int level, const char *msg, json_t *fields) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < log_level) {
        json_decref(fields);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[36];
    stele_time_format((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, when);
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "level", json_string(names[level & 3]));
        json_object_set_new(o, "msg", json_string(msg));
        if (fields != NULL) {
            json_object_update(o, fields);
        }
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (line != NULL) {
            fprintf(stderr, "%s\n", line);
            free(line);
        }
        json_decref(o);
    }
    json_decref(fields);
}
