/*
 * execute.c -- the command path: find an earlier execution of the same command id, else load the
 * aggregate, decide, and append with expected version = the loaded version, so that a decision
 * is written only against the state it was made on; on a conflict load and decide again, a
 * bounded number of times. The retry loop is where a state cache and per-aggregate serialisation
 * will plug in later: they change how the state is loaded, not what is decided.
 */
#include "domain/domain.h"

#include <stdint.h>
#include <string.h>

void stele_execute_options_init(stele_execute_options_t *o) {
    if (o == NULL) {
        return;
    }
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_retries = STELE_DEFAULT_COMMAND_RETRIES;
}

void stele_command_result_clear(stele_command_result_t *r) {
    if (r == NULL) {
        return;
    }
    size_t size = r->struct_size;
    stele_aggregate_state_free(r->type, r->state);
    stele_free(r->reason);
    const stele_aggregate_t *type = r->type;
    memset(r, 0, sizeof *r);
    r->struct_size = size;
    r->type = type;
}

/* Everything one execution keeps across its attempts. */
typedef struct exec {
    stele_store_t *store;
    const stele_aggregate_t *type;
    const stele_command_t *command;
    char stream[STELE_MAX_STREAM_NAME_BYTES + 1];
    bool has_id; /* the client gave a command id */
    stele_uuid_t command_id;
    char *metadata;
    size_t metadata_len;
    char *prefix; /* what the metadata starts with, up to the command's name */
    size_t prefix_len;
} exec_t;

/* The command's input, checked as an append of an event typed by the command's name, with the
 * command's data and metadata, would be: one check for the stream name, the name, the data's
 * JSON, the metadata object and the sizes, with the store's own words. */
static int check_command(const exec_t *x) {
    const stele_command_t *c = x->command;
    if (c->name == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "command name is NULL");
    }
    if ((c->data == NULL && c->data_len > 0) || (c->metadata == NULL && c->metadata_len > 0)) {
        return stele_errdetail_set(STELE_EINVAL,
                                   "command '%s': data or metadata is NULL with a "
                                   "length",
                                   c->name);
    }
    /* A command without data is fine (decide sees NULL); the probe needs some JSON. */
    stele_event_in_t probe = {.type = c->name,
                              .data = c->data_len > 0 ? c->data : "{}",
                              .data_len = c->data_len > 0 ? c->data_len : 2,
                              .metadata = c->metadata,
                              .metadata_len = c->metadata_len};
    int rc = stele_append_check(x->stream, &probe, 1);
    if (rc == STELE_ETYPE) {
        /* the command's name, checked by the rules of event types */
        return stele_errdetail_set(STELE_EINVAL, "command name: %s", stele_errdetail());
    }
    if (rc != 0) {
        return stele_errdetail_set(rc, "command '%s' on '%s': %s", c->name, x->stream,
                                   stele_errdetail());
    }
    return 0;
}

static void fill_events(stele_command_result_t *r, size_t count, int64_t first_version,
                        int64_t last_version, uint64_t first_position, uint64_t last_position) {
    r->event_count = count;
    r->first_version = first_version;
    r->last_version = last_version;
    r->first_position = first_position;
    r->last_position = last_position;
}

/* Look for an earlier execution of the command id: 1 with result filled (idempotent), 0 when
 * there is none, or an error (STELE_EIDREUSE: the id was used by another aggregate or command). */
static int find_earlier(const exec_t *x, stele_command_result_t *r) {
    char id_text[37];
    stele_uuid_format(&x->command_id, id_text);
    stele_uuid_t first_id;
    stele__command_event_id(&x->command_id, 0, &first_id);
    stele_reader_t *reader = NULL;
    int rc = stele_event_by_id(x->store, &first_id, &reader);
    if (rc == STELE_ENOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    stele_event_t ev;
    rc = stele_reader_next(reader, &ev);
    if (rc != 1) {
        stele_reader_close(reader);
        return rc < 0 ? rc : 0;
    }
    if (strcmp(ev.stream, x->stream) != 0) {
        rc =
            stele_errdetail_set(STELE_EIDREUSE,
                                "command id %s was already executed on stream '%s' (version %lld), "
                                "not '%s'",
                                id_text, ev.stream, (long long)ev.version, x->stream);
        stele_reader_close(reader);
        return rc;
    }
    if (ev.metadata == NULL || ev.metadata_len < x->prefix_len ||
        memcmp(ev.metadata, x->prefix, x->prefix_len) != 0) {
        rc = stele_errdetail_set(STELE_EIDREUSE,
                                 "command id %s was already executed on '%s' as another command "
                                 "(version %lld), not '%s'",
                                 id_text, x->stream, (long long)ev.version, x->command->name);
        stele_reader_close(reader);
        return rc;
    }
    int64_t first_version = ev.version;
    uint64_t first_position = ev.position;
    stele_reader_close(reader);

    /* The command's events are consecutive in its stream: count those with its ids. */
    rc = stele_read_stream(x->store, x->stream, first_version, STELE_FORWARD,
                           STELE_MAX_EVENTS_PER_APPEND, &reader);
    if (rc != 0) {
        return rc;
    }
    size_t count = 0;
    int64_t last_version = first_version;
    uint64_t last_position = first_position;
    while ((rc = stele_reader_next(reader, &ev)) == 1) {
        stele_uuid_t want;
        stele__command_event_id(&x->command_id, (uint32_t)count, &want);
        if (memcmp(want.bytes, ev.id.bytes, sizeof want.bytes) != 0) {
            break;
        }
        last_version = ev.version;
        last_position = ev.position;
        count++;
    }
    stele_reader_close(reader);
    if (rc < 0) {
        return rc;
    }
    if (count == 0) {
        return stele_errdetail_set(STELE_ECORRUPT,
                                   "command id %s: its first event is no longer in '%s'", id_text,
                                   x->stream);
    }
    void *state = NULL;
    int64_t version = -1;
    rc = stele__aggregate_load_until(x->store, x->type, x->stream, last_version, &state, &version);
    if (rc != 0) {
        return rc;
    }
    fill_events(r, count, first_version, last_version, first_position, last_position);
    r->idempotent = true;
    r->state = state;
    r->version = version;
    return 1;
}

/* One attempt: load, decide, append. Returns 0 (result filled), STELE_EREJECTED (result filled),
 * STELE_ECONFLICT (*actual set: try again) or another error. */
static int attempt(const exec_t *x, stele_command_result_t *r, int64_t *loaded, int64_t *actual) {
    void *state = NULL;
    int64_t version = -1;
    stele_event_in_t *in = NULL;
    stele_decision_t d;
    stele__decision_init(&d);
    const stele_aggregate_def_t *def = &x->type->def;
    int rc = stele__aggregate_load_until(x->store, x->type, x->stream, INT64_MAX, &state, &version);
    if (rc != 0) {
        goto done;
    }
    *loaded = version;
    rc = stele__callback_rc(def->decide(def->ctx, state, x->command, &d));
    if (rc != 0) {
        rc =
            stele_errdetail_set(rc, "command '%s' on '%s' (version %lld): decide failed: %s",
                                x->command->name, x->stream, (long long)version, stele_errdetail());
        goto done;
    }
    if (d.reason != NULL) {
        r->reason = d.reason;
        d.reason = NULL;
        r->state = state;
        state = NULL;
        r->version = version;
        rc = stele_errdetail_set(STELE_EREJECTED, "command '%s' on '%s' (version %lld): %s",
                                 x->command->name, x->stream, (long long)version, r->reason);
        goto done;
    }
    if (d.count == 0) {
        rc = stele_errdetail_set(STELE_EEMPTY,
                                 "command '%s' on '%s': decide emitted no events and did not "
                                 "reject the command",
                                 x->command->name, x->stream);
        goto done;
    }
    in = stele_malloc(d.count * sizeof *in);
    if (in == NULL) {
        rc = stele_errdetail_set(STELE_ENOMEM, "command '%s': out of memory", x->command->name);
        goto done;
    }
    for (size_t i = 0; i < d.count; i++) {
        bool empty = d.events[i].data_len == 0; /* stored as "{}" (an event's data is JSON) */
        in[i] = (stele_event_in_t){.type = d.events[i].type,
                                   .data = empty ? "{}" : d.events[i].data,
                                   .data_len = empty ? 2 : d.events[i].data_len,
                                   .metadata = x->metadata,
                                   .metadata_len = x->metadata_len};
        if (x->has_id) {
            stele__command_event_id(&x->command_id, (uint32_t)i, &in[i].id);
        }
    }
    rc = stele_append_check(x->stream, in, d.count);
    if (rc != 0) {
        rc = stele_errdetail_set(rc, "command '%s' on '%s': decided events: %s", x->command->name,
                                 x->stream, stele_errdetail());
        goto done;
    }
    stele_append_result_t ar;
    int64_t expected = version >= 0 ? version : STELE_EXPECT_NO_STREAM;
    rc = stele_append(x->store, x->stream, expected, in, d.count, &ar);
    if (rc == STELE_ECONFLICT) {
        *actual = ar.actual_version;
        goto done;
    }
    if (rc != 0) {
        goto done;
    }
    if (ar.idempotent) {
        /* The same decision was written by a concurrent execution of this command id: answer
         * with that one. */
        rc = find_earlier(x, r);
        rc = rc == 1 ? 0 : rc == 0 ? STELE_ECORRUPT : rc;
        goto done;
    }
    /* The new state: the loaded one through the events as stored (with their positions and
     * time), exactly what a later load replays. */
    int64_t now = version;
    rc = stele__aggregate_replay(x->store, x->type, x->stream, ar.first_version, ar.last_version,
                                 &state, &now);
    if (rc != 0) {
        rc = stele_errdetail_set(rc,
                                 "the command's events were appended (versions %lld..%lld), "
                                 "but %s",
                                 (long long)ar.first_version, (long long)ar.last_version,
                                 stele_errdetail());
        goto done;
    }
    fill_events(r, d.count, ar.first_version, ar.last_version, ar.first_position, ar.last_position);
    r->state = state;
    state = NULL;
    r->version = now;
done:
    stele_free(in);
    stele__decision_clear(&d);
    stele_aggregate_state_free(x->type, state);
    return rc;
}

int stele_execute(stele_store_t *store, const stele_aggregate_t *type, const char *id,
                  const stele_command_t *command, const stele_execute_options_t *opts,
                  stele_command_result_t *result) {
    if (result == NULL || result->struct_size < sizeof(stele_command_result_t)) {
        return stele_errdetail_set(STELE_EINVAL, "result is NULL or its struct_size is not set");
    }
    size_t struct_size = result->struct_size;
    memset(result, 0, sizeof *result);
    result->struct_size = sizeof *result;
    (void)struct_size; /* a newer caller's extra fields are left alone */
    result->type = type;
    result->version = -1;
    if (store == NULL || type == NULL || id == NULL || command == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "store, type, id or command is NULL");
    }
    stele_execute_options_t defaults;
    stele_execute_options_init(&defaults);
    if (opts == NULL) {
        opts = &defaults;
    } else if (opts->struct_size != sizeof *opts) {
        return stele_errdetail_set(STELE_EINVAL, "execute options: struct_size %zu is not %zu",
                                   opts->struct_size, sizeof *opts);
    }
    if (opts->max_retries > STELE_MAX_COMMAND_RETRIES) {
        return stele_errdetail_set(STELE_EINVAL, "max_retries %u is over %u", opts->max_retries,
                                   STELE_MAX_COMMAND_RETRIES);
    }
    exec_t x = {.store = store, .type = type, .command = command};
    int rc = stele_aggregate_stream(type, id, x.stream, sizeof x.stream);
    if (rc != 0) {
        return rc;
    }
    rc = check_command(&x);
    if (rc != 0) {
        return rc;
    }
    x.has_id = !stele_uuid_is_nil(&command->command_id);
    if (x.has_id) {
        x.command_id = command->command_id;
    } else {
        stele_uuid_generate(&x.command_id); /* for the metadata only: traceable, not idempotent */
    }
    rc = stele__command_metadata(command, &x.command_id, &x.metadata, &x.metadata_len);
    if (rc != 0) {
        goto done;
    }
    rc = stele__command_metadata_prefix(command, &x.command_id, &x.prefix, &x.prefix_len);
    if (rc != 0) {
        goto done;
    }
    int64_t loaded = -1, actual = -1;
    int last = 0;
    for (uint32_t n = 0; n <= opts->max_retries; n++) {
        if (x.has_id) {
            rc = find_earlier(&x, result);
            if (rc == 1) {
                rc = 0;
                goto done;
            }
            if (rc != 0) {
                goto done;
            }
            if (last == STELE_EIDREUSE) {
                /* The append refused an id, and not because this command ran: give its words. */
                rc = STELE_EIDREUSE;
                goto done;
            }
        }
        result->attempts = n + 1;
        rc = attempt(&x, result, &loaded, &actual);
        last = rc;
        if (rc == STELE_ECONFLICT || (rc == STELE_EIDREUSE && x.has_id)) {
            continue; /* another writer came first: load again and decide again */
        }
        goto done;
    }
    if (last == STELE_ECONFLICT) {
        rc = stele_errdetail_set(STELE_ECONFLICT,
                                 "command '%s' on '%s': still conflicting after %u attempts (last "
                                 "decided at version %lld, the stream was then at %lld); nothing "
                                 "was appended",
                                 command->name, x.stream, result->attempts, (long long)loaded,
                                 (long long)actual);
    }
done:
    stele_free(x.metadata);
    stele_free(x.prefix);
    return rc;
}
