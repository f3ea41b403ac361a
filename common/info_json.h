/*
 * info_json.h -- the JSON objects of what the store reports, as both programs print them, so the
 * CLI's local and remote output are the same: a stream's info (the CLI's `info` and `streams`
 * lines, steled's /streams/{stream}/info and /streams), the store's stats (`stats`, /stats) and a
 * verify report (`verify`, POST /admin/verify).
 */
#ifndef STELE_COMMON_INFO_JSON_H
#define STELE_COMMON_INFO_JSON_H

#include <jansson.h>
#include <stele.h>

/* {"name","state","first_version","last_version","event_count","last_position","created",
 * "updated"} (times RFC 3339, null for a stream without events); a new reference, or NULL. */
json_t *info_json(const stele_stream_info_t *info);

/* {"head_position","streams","segments","log_bytes","index_entries","index_tables","appends",
 * "syncs","commits","poisoned","durability"}; a new reference, or NULL. */
json_t *stats_json(const stele_stats_t *s);

/* {"ok","events","commits","segments","bytes"} and, when rc (the result of stele_verify) is not
 * 0, {"error","bad_position","bad_segment","bad_offset","message"}; a new reference, or NULL. */
json_t *verify_json(int rc, const stele_verify_report_t *r);

/* "sync", "async" or "none". */
const char *durability_name(stele_durability_t d);

#endif
