/*
 * domain.h -- what the files of the command side (src/domain/) share: the aggregate type's and the
 * decision's layout, replaying a stream into a state, and the ids and metadata that make a command
 * idempotent. The command side sits over the public API (stele.h) only; nothing here is exported.
 */
#ifndef STELE_DOMAIN_DOMAIN_H
#define STELE_DOMAIN_DOMAIN_H

#include "stele.h"

struct stele_aggregate {
    stele_aggregate_def_t def; /* def.name points to name below */
    char name[STELE_MAX_AGGREGATE_NAME_BYTES + 1];
};

typedef struct decided_event {
    char *type;
    char *data; /* NULL when data_len is 0 */
    size_t data_len;
} decided_event_t;

/* What decide produced: events or a rejection (never both). */
struct stele_decision {
    decided_event_t *events;
    size_t count;
    size_t capacity;
    size_t data_bytes; /* sum of the events' type and data sizes, bounded */
    char *reason;      /* non-NULL once rejected */
};

void stele__decision_init(stele_decision_t *d);
void stele__decision_clear(stele_decision_t *d);

/* Wrap a callback's return: 0 stays 0, a negative code stays, a positive one (a callback bug)
 * becomes STELE_EINVAL. */
int stele__callback_rc(int rc);

/* Apply the events of stream with versions from_version..until_version (inclusive; INT64_MAX for
 * all) to *state, in order, through evolve. *version is set to the last version applied (left
 * alone when none is). Returns 0, STELE_ENOTFOUND (the stream does not exist: nothing applied),
 * or an error of the read or of evolve (detail names the stream and the event). */
int stele__aggregate_replay(stele_store_t *store, const stele_aggregate_t *type, const char *stream,
                            int64_t from_version, int64_t until_version, void **state,
                            int64_t *version);

/* The initial state, then stele__aggregate_replay() of versions 0..until_version; a stream that
 * does not exist is the initial state at version -1. On an error *state is NULL. */
int stele__aggregate_load_until(stele_store_t *store, const stele_aggregate_t *type,
                                const char *stream, int64_t until_version, void **state,
                                int64_t *version);

/* The id of event `index` of command command_id: a fixed 128-bit mix of both, marked as a UUID
 * of version 8. Part of the on-disk contract (a retried command after an upgrade must find its
 * first execution): never change it. */
void stele__command_event_id(const stele_uuid_t *command_id, uint32_t index, stele_uuid_t *out);

/* The metadata of the events of a command: {"command_id":U,"causation_id":U,"command":NAME then
 * the members of the command's metadata object}. *out is allocated with stele_malloc(). The
 * command's metadata must be a valid JSON object (checked before). Returns 0, STELE_EINVAL (a
 * member named like one of the library's keys) or STELE_ENOMEM. */
int stele__command_metadata(const stele_command_t *command, const stele_uuid_t *command_id,
                            char **out, size_t *out_len);

/* The bytes the metadata of a command's events start with, up to and including the command's
 * name: a stored event that does not start with them was written by another command. */
int stele__command_metadata_prefix(const stele_command_t *command, const stele_uuid_t *command_id,
                                   char **out, size_t *out_len);

#endif /* STELE_DOMAIN_DOMAIN_H */
