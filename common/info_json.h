/*
 * info_json.h -- the JSON object of a stream's info, as both programs print it: the CLI's `info`
 * and `streams` lines and steled's /streams/{stream}/info and /streams.
 */
#ifndef STELE_COMMON_INFO_JSON_H
#define STELE_COMMON_INFO_JSON_H

#include <jansson.h>
#include <stele.h>

/* {"name","state","first_version","last_version","event_count","last_position","created",
 * "updated"} (times RFC 3339, null for a stream without events); a new reference, or NULL. */
json_t *info_json(const stele_stream_info_t *info);

#endif
