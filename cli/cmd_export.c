/*
 * cmd_export.c -- `stele export` and `stele import`: the whole log as NDJSON and back.
 *
 * export prints every event of $all, the store's own '$' events included, in the format of
 * `read-all`. import reads that format as a stream (a file or stdin of any size) and appends
 * each run of consecutive events of one stream as one atomic append, keeping the event ids. The
 * expected version is the one the run had in the export, so that importing the same file twice
 * writes nothing the second time: the store recognises a retried append by the ids at the
 * versions it expects. When the target stream's history differs (a conflict), the run is
 * appended at its end with expected version any instead. Runs are cut at
 * IMPORT_MAX_EVENTS events or IMPORT_MAX_BYTES bytes, deterministically, so the same file is cut
 * the same way. Events of the reserved "$$<stream>" streams are replayed through the API that
 * wrote them: "$metadata" sets the stream's metadata, a deletion or tombstone deletes it.
 * Positions and times are not kept: the store assigns them.
 *
 * import stops at the first bad line or failed append. Everything before it is imported: the
 * run being gathered when a bad line is met is appended first (each run is atomic). It then says
 * exactly what is in the store (the summary, with the last line done and the last position) and
 * how to go on: the same command again once the cause is fixed (what is there is recognised and
 * not written twice), or --from-line to start after a line that cannot be fixed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"

#define IMPORT_MAX_EVENTS 1000u
#define IMPORT_MAX_BYTES (8u * 1024u * 1024u)
#define IMPORT_EVENT_OVERHEAD 128u

int cmd_export(cli_ctx_t *ctx, int argc, char **argv) {
    const char *from_text = NULL;
    const cli_opt_t opts[] = {
        {"--from", &from_text, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 0, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.filter.include_system = true;
    if (from_text != NULL &&
        (status = cli_parse_u64(ctx, "--from", from_text, &ro.from_position)) != 0) {
        return status;
    }
    return cli_print_all(ctx, &ro);
}

typedef struct importer {
    cli_ctx_t *ctx;
    const char *source;
    cli_backend_t backend; /* the store (opened at the first write) or the server */
    cli_event_buf_t *run;  /* consecutive events of one stream */
    stele_event_in_t *ins; /* run[i].in, contiguous for stele_append() */
    size_t run_count;
    size_t run_bytes;
    uint64_t lines;         /* events read */
    uint64_t appended;      /* events written */
    uint64_t idempotent;    /* events already present */
    uint64_t system;        /* system events replayed */
    uint64_t skipped;       /* system events with no meaning here */
    uint64_t done_line;     /* every event of the lines up to this one is in the store */
    uint64_t last_position; /* of the last event appended (0: none, or through a server) */
    uint64_t failed_line;   /* the first line of what failed to be written */
} importer_t;

static void clear_run(importer_t *im) {
    for (size_t i = 0; i < im->run_count; i++) {
        cli_event_buf_free(&im->run[i]);
    }
    im->run_count = 0;
    im->run_bytes = 0;
}

static int flush_run(importer_t *im) {
    if (im->run_count == 0) {
        return EXIT_OK;
    }
    for (size_t i = 0; i < im->run_count; i++) {
        im->ins[i] = im->run[i].in;
    }
    const char *stream = im->run[0].stream;
    /* Expect the stream to be where it was in the export: a second import of the same file is
     * then recognised as a retry (the store compares the ids at those versions). A target stream
     * with another history conflicts: the backend appends at its end instead. */
    int64_t first_version = im->run[0].version;
    int64_t expect = first_version < 0    ? STELE_EXPECT_ANY
                     : first_version == 0 ? STELE_EXPECT_NO_STREAM
                                          : first_version - 1;
    bool idempotent = false;
    uint64_t last_position = 0;
    int status = im->backend.ops->import_run(
        &im->backend, im->source, stream, expect, im->ins, im->run_count, im->run[0].line,
        im->run[im->run_count - 1].line, &idempotent, &last_position);
    if (status == EXIT_OK) {
        *(idempotent ? &im->idempotent : &im->appended) += im->run_count;
        if (last_position != 0) {
            im->last_position = last_position;
        }
        im->done_line = im->run[im->run_count - 1].line;
    } else {
        im->failed_line = im->run[0].line;
    }
    clear_run(im);
    return status;
}

/* Replay one event of a reserved stream. */
static int replay_system(importer_t *im, cli_event_buf_t *ev) {
    const char *name = ev->stream;
    if (strncmp(name, "$$", 2) != 0 || name[2] == '\0') {
        im->skipped++;
        return EXIT_OK;
    }
    const char *target = name + 2;
    bool is_meta = strcmp(ev->type, "$metadata") == 0;
    bool is_tombstone = strstr(ev->type, "tombstone") != NULL;
    bool is_delete = !is_tombstone && strstr(ev->type, "delet") != NULL;
    if (!is_meta && !is_tombstone && !is_delete) {
        im->skipped++;
        return EXIT_OK;
    }
    if (is_meta && (ev->in.flags & STELE_EVENT_BINARY) != 0) {
        im->skipped++;
        return EXIT_OK;
    }
    int status = im->backend.ops->import_system(&im->backend, im->source, ev->line, name, target,
                                                is_meta, is_tombstone, ev->data, ev->data_len);
    if (status == EXIT_OK) {
        im->system++;
    }
    return status;
}

/* Take one parsed event (ownership moves to the importer). */
static int import_event(importer_t *im, cli_event_buf_t *ev) {
    int status = EXIT_OK;
    if (ev->stream[0] == '$') {
        if ((status = flush_run(im)) == EXIT_OK) {
            status = replay_system(im, ev);
        }
        if (status == EXIT_OK) {
            im->done_line = ev->line;
        } else if (im->failed_line == 0) {
            im->failed_line = ev->line;
        }
        cli_event_buf_free(ev);
        return status;
    }
    size_t bytes = ev->data_len + ev->in.metadata_len + strlen(ev->type) + strlen(ev->stream) +
                   IMPORT_EVENT_OVERHEAD;
    bool same_stream = im->run_count > 0 && strcmp(im->run[0].stream, ev->stream) == 0;
    if (im->run_count > 0 && (!same_stream || im->run_count == IMPORT_MAX_EVENTS ||
                              im->run_bytes + bytes > IMPORT_MAX_BYTES)) {
        status = flush_run(im);
    }
    if (status != EXIT_OK) {
        cli_event_buf_free(ev);
        return status;
    }
    im->run[im->run_count++] = *ev;
    im->run_bytes += bytes;
    return EXIT_OK;
}

/* What is in the store now, as JSON on stdout: on success, and after a failure too. */
static int print_summary(const importer_t *im, bool complete, uint64_t failed_line,
                         uint64_t from_line) {
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "events", json_integer((json_int_t)im->lines));
        json_object_set_new(o, "appended", json_integer((json_int_t)im->appended));
        json_object_set_new(o, "idempotent", json_integer((json_int_t)im->idempotent));
        json_object_set_new(o, "system", json_integer((json_int_t)im->system));
        json_object_set_new(o, "skipped", json_integer((json_int_t)im->skipped));
        if (!complete) {
            json_object_set_new(o, "complete", json_false());
            json_object_set_new(o, "from_line", json_integer((json_int_t)from_line));
            json_object_set_new(o, "done_line", json_integer((json_int_t)im->done_line));
            if (im->last_position != 0) {
                json_object_set_new(o, "last_position",
                                    json_integer((json_int_t)im->last_position));
            }
            json_object_set_new(o, "failed_line", json_integer((json_int_t)failed_line));
        }
    }
    return cli_print_json(o);
}

int cmd_import(cli_ctx_t *ctx, int argc, char **argv) {
    const char *from_text = NULL;
    const cli_opt_t opts[] = {
        {"--from-line", &from_text, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (npos != 1) {
        return cli_usage_errorf(ctx, "missing FILE ('-' for stdin)");
    }
    uint64_t from_line = 1;
    if (from_text != NULL &&
        ((status = cli_parse_u64(ctx, "--from-line", from_text, &from_line)) != 0 ||
         from_line == 0)) {
        return status != 0 ? status : cli_usage_errorf(ctx, "--from-line counts from 1");
    }
    bool is_stdin = strcmp(pos[0], "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(pos[0], "rb");
    if (f == NULL) {
        cli_errorf(ctx, "%s: %s", pos[0], strerror(errno));
        return EXIT_ERROR;
    }
    importer_t im;
    memset(&im, 0, sizeof(im));
    im.ctx = ctx;
    im.source = is_stdin ? "stdin" : pos[0];
    /* The local store is opened (created) at the first write. */
    status = cli_backend_open(ctx, CLI_OPEN_WRITE, &im.backend);
    im.run = calloc(IMPORT_MAX_EVENTS, sizeof(*im.run));
    im.ins = calloc(IMPORT_MAX_EVENTS, sizeof(*im.ins));
    if (status != EXIT_OK) {
        goto done;
    }
    if (im.run == NULL || im.ins == NULL) {
        cli_errorf(ctx, "out of memory");
        status = EXIT_ERROR;
        goto done;
    }

    cli_progress_t progress;
    cli_progress_init(&progress, "import", "bytes");
    struct stat st;
    uint64_t total = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t done_bytes = 0, line_no = 0, failed_line = 0;
    bool bad_line = false;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    while (status == EXIT_OK && (n = getline(&line, &line_cap, f)) > 0) {
        line_no++;
        done_bytes += (uint64_t)n;
        if (line_no < from_line) {
            continue;
        }
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        size_t skip = 0;
        while (skip < len && (line[skip] == ' ' || line[skip] == '\t')) {
            skip++;
        }
        if (skip == len) {
            continue;
        }
        cli_event_buf_t ev;
        status = cli_event_parse_line(ctx, im.source, line_no, line, len, true, &ev);
        if (status == EXIT_OK) {
            im.lines++;
            status = import_event(&im, &ev);
        } else {
            bad_line = true;
        }
        if (status != EXIT_OK) {
            failed_line = bad_line ? line_no : 0;
        }
        cli_progress_update(&progress, done_bytes, total);
    }
    free(line);
    if (status == EXIT_OK && ferror(f)) {
        cli_errorf(ctx, "%s: read error after line %llu", im.source, (unsigned long long)line_no);
        status = EXIT_ERROR;
    }
    /* The events before a bad line are good: the run they were gathered in goes in too. */
    int flushed = status == EXIT_OK || bad_line ? flush_run(&im) : EXIT_OK;
    if (status == EXIT_OK) {
        status = flushed;
    }
    cli_progress_finish(&progress);
    if (status == EXIT_OK) {
        status = print_summary(&im, true, 0, from_line);
    } else {
        /* The line that failed: a bad line, or the first line of the run whose append failed. */
        if (failed_line == 0) {
            failed_line = im.failed_line != 0 ? im.failed_line : line_no;
        }
        (void)print_summary(&im, false, failed_line, from_line);
        if (im.done_line >= from_line) {
            cli_errorf(ctx,
                       "import stopped at line %llu: lines %llu-%llu are imported (%llu events "
                       "appended, %llu already there), nothing after them",
                       (unsigned long long)failed_line, (unsigned long long)from_line,
                       (unsigned long long)im.done_line, (unsigned long long)im.appended,
                       (unsigned long long)im.idempotent);
        } else {
            cli_errorf(ctx, "import stopped at line %llu: nothing was imported",
                       (unsigned long long)failed_line);
        }
        if (bad_line) {
            cli_errorf(ctx,
                       "to go on, fix line %llu and run the same command again (what is imported "
                       "is recognised and not written twice), or skip it with --from-line %llu",
                       (unsigned long long)failed_line, (unsigned long long)failed_line + 1);
        } else {
            cli_errorf(ctx,
                       "to go on, fix the cause and run the same command again (what is imported "
                       "is recognised and not written twice)");
        }
    }

done:
    if (im.run != NULL) {
        clear_run(&im);
    }
    free(im.run);
    free(im.ins);
    if (!is_stdin) {
        fclose(f);
    }
    return cli_backend_close(&im.backend, status);
}
