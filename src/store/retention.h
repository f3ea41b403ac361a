/*
 * retention.h -- the retention keys of stream metadata (max_count, max_age, truncate_before) and
 * the events they hide from reads and subscriptions (retention.c).
 */
#ifndef STELE_STORE_RETENTION_H
#define STELE_STORE_RETENTION_H

#include "index/index.h"
#include "log/record.h"
#include "store/catalogue.h"

#include <stdbool.h>
#include <stdint.h>

/* Parse the retention keys of a stream metadata object (valid JSON). A key that is absent or null
 * is -1. Returns 0, or STELE_EINVAL naming the key when its value is not a whole number in range
 * (max_count >= 1, max_age >= 1 second, truncate_before >= 0). */
int stele__retention_parse(const char *json, size_t len, stele_retention_t *out);

/* Whether any key is set. */
bool stele__retention_any(const stele_retention_t *r);

/* The first version readers see of a stream whose versions are first_version..last_version. */
int64_t stele__retention_first(const stele_retention_t *r, int64_t first_version,
                               int64_t last_version);

/* Events recorded before this time are hidden (INT64_MIN when max_age is not set). */
int64_t stele__retention_min_time(const stele_retention_t *r, int64_t now_ns);

/* Whether the retention of rec's stream hides rec (subscriptions to one stream). Costs nothing
 * while no stream has retention keys; takes cat->lock shared otherwise. */
bool stele__retention_hides(stele_catalogue_t *cat, const stele_record_t *rec, int64_t now_ns);

/* Apply new metadata text to st's retention (the writer, or replay, applying a $metadata event). */
void stele__retention_set(stele_catalogue_t *cat, stele_stream_t *st, const char *json, size_t len);

#endif
