/*
 * prep.h -- the files that become new segments: a background thread writes the next segment full
 * of zeros and syncs it ("next.tmp") before the writer needs it; a roll that finds none ready makes
 * one with the space only reserved ("roll.tmp") rather than wait. Reasons in prep.c.
 *
 * Threads: stele__prep_take, stele__prep_request and stele__prep_abandon are called by the writer
 * thread (or open); start at open, stop at close. Read-only logs prepare nothing.
 */
#ifndef STELE_LOG_PREP_H
#define STELE_LOG_PREP_H

#include "log/log.h"

#include <stdbool.h>
#include <stdint.h>

/* At open of a writable log: remove a half-made file left by a crash, keep a whole next.tmp of the
 * right size, start the background thread and ask it for the next file. Returns 0 or an error
 * (a path too long); a thread that cannot start only means rolls reserve space instead. */
int stele__prep_start(stele_log_t *log);

/* Stop the background thread (it gives up a zero-fill under way). No-op when never started. */
void stele__prep_stop(stele_log_t *log);

/* Ask the background thread for the next segment's file, unless it is ready or being made. */
void stele__prep_request(stele_log_t *log);

/* A file for the next segment: the prepared zero-filled one when the background thread has it
 * ready, else (never waiting for it) a new file with the space only reserved. Sets *name (in the
 * log's directory), *size (the segment's nominal size, the next one in the growth) and
 * *preallocated (the file has that size from the start: a shorter one later means lost bytes). */
int stele__prep_take(stele_log_t *log, const char **name, uint64_t *size, bool *preallocated);

/* The file *name from stele__prep_take did not become a segment: remove it when it was made for
 * this roll only (a prepared next.tmp stays, whole and reusable). */
void stele__prep_abandon(stele_log_t *log, const char *name);

#endif
