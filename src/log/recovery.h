/*
 * recovery.h -- what open does to a log after a crash: find the end of the last segment, cut a
 * torn tail back to the last whole commit, and tell a torn tail from corruption in the middle.
 *
 * The rule (docs/design/recovery.md): the writer makes one write per commit and, in SYNC mode,
 * syncs it before the next, so after a crash only the last commit can be incomplete. Damage after
 * the last good commit is a torn tail when no intact commit follows it; then its bytes are zeroed
 * and synced (recovering twice changes nothing). When an intact commit does follow the damage, the
 * damage is in the middle of acknowledged history: open fails with STELE_ECORRUPT and cuts nothing.
 */
#ifndef STELE_LOG_RECOVERY_H
#define STELE_LOG_RECOVERY_H

#include "log/log.h"

/* Scan sealed segment i (its sparse index file was missing or bad): rebuild its sparse index, last
 * position and end, checking every record's checksum and position. */
int stele__log_scan_sealed(stele_log_t *log, size_t i);

/* Scan the last segment checking checksums, positions, times and the hash chain, then cut a torn
 * tail (unless the log is read-only) and set the log's head. */
int stele__log_recover_tail(stele_log_t *log);

/* A proven loss or damage found at open: with a tolerant log, recorded in log->damage* (the first
 * one only) and 0 is returned; otherwise STELE_ECORRUPT with the message as the error detail. */
int stele__log_problem(stele_log_t *log, uint64_t position, uint64_t segment_first, uint64_t offset,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Raise the durable floor (the log must reach position, as source proves) when position is above
 * the current one. */
void stele__log_set_floor(stele_log_t *log, uint64_t position, const char *source);

#endif
