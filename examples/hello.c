/*
 * hello.c -- the smallest complete use of libstele: open (or create) a store, append two events
 * with optimistic concurrency, provoke a conflict, read the stream back, close.
 *
 *   build/example-hello [DIR]     (default ./hello-data)
 */
#include <stele.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s\n", what, stele_strerror(rc), stele_errdetail());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "./hello-data";
    stele_options_t opts;
    stele_options_init(&opts);
    opts.flags = STELE_OPEN_CREATE;
    stele_store_t *store = NULL;
    int rc = stele_store_open(dir, &opts, &store);
    if (rc < 0)
        return fail("open", rc);

    /* A new stream per run, so the example can run again on the same store. */
    stele_stream_info_t info = {.struct_size = sizeof info};
    char stream[64];
    for (int n = 1;; n++) {
        snprintf(stream, sizeof stream, "greeting-%d", n);
        if (stele_stream_info(store, stream, &info) == STELE_ENOTFOUND)
            break;
    }

    const char *hello = "{\"text\":\"hello\"}", *world = "{\"text\":\"world\"}";
    stele_event_in_t events[2];
    memset(events, 0, sizeof events);
    events[0].type = "Said";
    events[0].data = hello;
    events[0].data_len = strlen(hello);
    events[1].type = "Said";
    events[1].data = world;
    events[1].data_len = strlen(world);

    stele_append_result_t res;
    rc = stele_append(store, stream, STELE_EXPECT_NO_STREAM, events, 2, &res);
    if (rc < 0)
        return fail("append", rc);
    printf("appended %s versions %lld..%lld at positions %llu..%llu\n", stream,
           (long long)res.first_version, (long long)res.last_version,
           (unsigned long long)res.first_position, (unsigned long long)res.last_position);

    /* A writer that believes the stream is new is refused, and nothing is written. */
    rc = stele_append(store, stream, STELE_EXPECT_NO_STREAM, events, 1, &res);
    printf("second 'no stream' append: %s (the stream is at version %lld)\n", stele_strerror(rc),
           (long long)res.actual_version);

    stele_reader_t *reader = NULL;
    if ((rc = stele_read_stream(store, stream, 0, STELE_FORWARD, 0, &reader)) < 0)
        return fail("read", rc);
    stele_event_t ev;
    while ((rc = stele_reader_next(reader, &ev)) == 1) {
        char time[36];
        stele_time_format(ev.time_ns, time);
        printf("  %s v%lld %s %.*s at %s\n", ev.stream, (long long)ev.version, ev.type,
               (int)ev.data_len, (const char *)ev.data, time);
    }
    stele_reader_close(reader);
    if (rc < 0)
        return fail("read", rc);
    return stele_store_close(store) < 0 ? 1 : 0;
}
