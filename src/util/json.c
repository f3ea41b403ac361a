/*
 * json.c -- validation of event data and metadata with jansson.
 *
 * jansson builds the whole document to validate it; its allocations are routed through the project
 * allocator (once per process) so that allocation-failure tests reach them too. Duplicate keys are
 * allowed, as RFC 8259 allows them; "\u0000" in strings is allowed, as it is valid JSON.
 */
#include "util/json.h"

#include "os/alloc.h"
#include "stele.h"
#include "util/error.h"

#include <jansson.h>
#include <pthread.h>

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;
/* Set when an allocation for jansson failed on this thread: jansson reports some of them as syntax
 * errors, and the caller must see STELE_ENOMEM instead. */
static _Thread_local bool alloc_failed;

static void *json_malloc(size_t size) {
    void *p = stele__malloc(size);
    if (!p)
        alloc_failed = true;
    return p;
}

static void use_project_allocator(void) { json_set_alloc_funcs(json_malloc, stele__free); }

int stele__json_validate(const char *text, size_t len, bool require_object, const char *what) {
    pthread_once(&alloc_once, use_project_allocator);
    json_error_t error;
    alloc_failed = false;
    json_t *root =
        json_loadb(text ? text : "", text ? len : 0, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!root) {
        if (alloc_failed || json_error_code(&error) == json_error_out_of_memory)
            return stele__fail(STELE_ENOMEM, "%s: out of memory while checking the JSON", what);
        return stele__fail(STELE_EJSON, "%s: %s at line %d column %d", what, error.text, error.line,
                           error.column);
    }
    bool is_object = json_is_object(root);
    json_decref(root);
    if (require_object && !is_object)
        return stele__fail(STELE_EJSON, "%s: not a JSON object", what);
    return 0;
}
