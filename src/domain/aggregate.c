/*
 * aggregate.c -- aggregate types: checking and keeping a type's definition (its name and
 * callbacks), and the stream an aggregate lives in, "{name}-{id}". The name is restricted to
 * [A-Za-z0-9_.] so that it is the stream's category (the part before the first '-') and needs
 * no escaping in a URL path or a file name.
 */
#include "domain/domain.h"

#include <stdbool.h>
#include <string.h>

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

int stele_aggregate_create(const stele_aggregate_def_t *def, stele_aggregate_t **out) {
    if (out != NULL) {
        *out = NULL;
    }
    if (def == NULL || out == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "aggregate definition or out is NULL");
    }
    if (def->struct_size != sizeof(stele_aggregate_def_t)) {
        return stele_errdetail_set(STELE_EINVAL,
                                   "aggregate definition: struct_size %zu is not %zu (set it to "
                                   "sizeof(stele_aggregate_def_t))",
                                   def->struct_size, sizeof(stele_aggregate_def_t));
    }
    if (def->name == NULL || def->name[0] == '\0') {
        return stele_errdetail_set(STELE_EINVAL, "aggregate definition: name is empty");
    }
    size_t len = strnlen(def->name, STELE_MAX_AGGREGATE_NAME_BYTES + 1);
    if (len > STELE_MAX_AGGREGATE_NAME_BYTES) {
        return stele_errdetail_set(STELE_EINVAL,
                                   "aggregate definition: name is longer than %u bytes",
                                   STELE_MAX_AGGREGATE_NAME_BYTES);
    }
    for (size_t i = 0; i < len; i++) {
        if (!name_char(def->name[i])) {
            return stele_errdetail_set(STELE_EINVAL,
                                       "aggregate definition: name '%s' has character %zu outside "
                                       "[A-Za-z0-9_.]",
                                       def->name, i + 1);
        }
    }
    const char *missing = def->initial == NULL      ? "initial"
                          : def->evolve == NULL     ? "evolve"
                          : def->decide == NULL     ? "decide"
                          : def->free_state == NULL ? "free_state"
                          : def->encode == NULL     ? "encode"
                          : def->decode == NULL     ? "decode"
                                                    : NULL;
    if (missing != NULL) {
        return stele_errdetail_set(STELE_EINVAL, "aggregate '%s': callback %s is NULL", def->name,
                                   missing);
    }
    stele_aggregate_t *type = stele_malloc(sizeof *type);
    if (type == NULL) {
        return stele_errdetail_set(STELE_ENOMEM, "aggregate '%s': out of memory", def->name);
    }
    memset(type, 0, sizeof *type);
    type->def = *def;
    memcpy(type->name, def->name, len);
    type->name[len] = '\0';
    type->def.name = type->name;
    *out = type;
    return 0;
}

void stele_aggregate_free(stele_aggregate_t *type) { stele_free(type); }

const char *stele_aggregate_name(const stele_aggregate_t *type) {
    return type != NULL ? type->name : "";
}

int stele_aggregate_stream(const stele_aggregate_t *type, const char *id, char *out,
                           size_t out_size) {
    if (type == NULL || id == NULL || out == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "aggregate type, id or out is NULL");
    }
    if (id[0] == '\0') {
        return stele_errdetail_set(STELE_EINVAL, "aggregate '%s': the id is empty", type->name);
    }
    size_t name_len = strlen(type->name);
    size_t id_len = strnlen(id, STELE_MAX_STREAM_NAME_BYTES + 1);
    if (name_len + 1 + id_len > STELE_MAX_STREAM_NAME_BYTES) {
        return stele_errdetail_set(STELE_ENAME,
                                   "aggregate '%s': the id makes a stream name longer than %u "
                                   "bytes",
                                   type->name, STELE_MAX_STREAM_NAME_BYTES);
    }
    if (name_len + 1 + id_len + 1 > out_size) {
        return stele_errdetail_set(STELE_EINVAL, "aggregate '%s': out_size %zu is too small",
                                   type->name, out_size);
    }
    memcpy(out, type->name, name_len);
    out[name_len] = '-';
    memcpy(out + name_len + 1, id, id_len);
    out[name_len + 1 + id_len] = '\0';
    int rc = stele_stream_name_check(out);
    if (rc != 0) {
        rc = stele_errdetail_set(rc, "aggregate '%s': id is not valid in a stream name: %s",
                                 type->name, stele_errdetail());
        out[0] = '\0';
    }
    return rc;
}

void stele_aggregate_state_free(const stele_aggregate_t *type, void *state) {
    if (type != NULL && state != NULL) {
        type->def.free_state(type->def.ctx, state);
    }
}

int stele__callback_rc(int rc) {
    if (rc > 0) {
        return stele_errdetail_set(STELE_EINVAL, "a callback returned %d, not 0 or an error", rc);
    }
    return rc;
}
