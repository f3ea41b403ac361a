/*
 * main.c -- the `stele` command-line tool: global options, the command table and usage texts.
 *
 *   stele [-d DIR] [--durability sync|async|none] [--segment-size-bytes N] [--verbose] <command>
 *         [args]
 *   stele --url URL [--token T] [--cacert FILE | --insecure] <command> [args]
 *
 * Global options come before the command; each command parses its own options (args.c) in any
 * order. The data directory is -d/--data, else $STELE_DATA, else ./data. With --url (or
 * $STELE_URL) the commands work through that server instead (remote.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "remote.h"

typedef int (*cmd_fn)(cli_ctx_t *ctx, int argc, char **argv);

typedef struct command {
    const char *name;
    cmd_fn fn;
    const char *synopsis; /* after "stele [global options] " */
    const char *summary;  /* one line for the command list */
    const char *help;     /* the options, for `stele help CMD` */
} command_t;

static const command_t commands[] = {
    {"init", cmd_init, "init", "create an empty store in the data directory", ""},
    {"append", cmd_append,
     "append STREAM TYPE [DATA_JSON] [options]\n"
     "       stele [global options] append STREAM --file EVENTS.ndjson [--expect E]",
     "append events to a stream (one atomic append)",
     "  DATA_JSON            event data (default {}); with --binary, raw bytes\n"
     "  --expect E           any (default), no-stream, exists, or the stream's last version\n"
     "  --meta JSON          event metadata (a JSON object)\n"
     "  --id UUID            event id, for idempotent retries (default: generated)\n"
     "  --binary             data is opaque bytes, not JSON\n"
     "  --data-file FILE     read the data from FILE ('-' = stdin)\n"
     "  --file FILE          NDJSON events, one {\"type\",\"data\",\"metadata\"?,\"id\"?} per "
     "line,\n"
     "                       all appended atomically ('-' = stdin)\n"},
    {"read", cmd_read, "read STREAM [--from V] [--backward] [--limit N]",
     "print the events of one stream as NDJSON",
     "  --from V             first version (default: 0, or the last one with --backward)\n"
     "  --backward           newest first\n"
     "  --limit N            at most N events\n"},
    {"read-all", cmd_read_all, "read-all [--from POS] [--backward] [filters] [--limit N]",
     "print events of the global log ($all) as NDJSON",
     "  --from POS           first position (backward: last position)\n"
     "  --backward           newest first\n"
     "  --limit N            at most N events\n"
     "  --type T             event type T only\n"
     "  --type-prefix P      event types starting with P\n"
     "  --category C         streams of category C (the name before its first '-')\n"
     "  --prefix P           stream names starting with P\n"
     "  --stream S           stream S only\n"
     "  --since TIME         recorded at or after TIME (RFC 3339 or YYYY-MM-DD)\n"
     "  --until TIME         recorded before TIME\n"
     "  --system             include the store's own '$' streams\n"},
    {"event", cmd_event, "event ID", "print the event with this id as one NDJSON line",
     "  ID                   the event's id (a UUID); no such event: exit status 3\n"},
    {"tail", cmd_tail,
     "tail [STREAM] [--from POS | --after POS | --end] [filters] [--caught-up-exit]",
     "print history then live events until interrupted",
     "  --from POS           first position delivered (default: the start)\n"
     "  --after POS          deliver events after position POS\n"
     "  --end                live events only\n"
     "  --caught-up-exit     exit once the history is printed\n"
     "  --verbose            say \"caught up at POS\" on stderr (always when it is a terminal)\n"
     "  filters              --type, --type-prefix, --category, --prefix, --since, --until,\n"
     "                       --system, as for read-all (not with STREAM)\n"},
    {"streams", cmd_streams, "streams [--prefix P] [--after NAME] [--limit N] [--all]",
     "list streams, one JSON line each",
     "  --prefix P           names starting with P\n"
     "  --after NAME         names sorting after NAME (paging)\n"
     "  --limit N            at most N streams\n"
     "  --all                include deleted and reserved '$' streams\n"},
    {"info", cmd_info, "info STREAM", "print one stream's info as JSON", ""},
    {"meta", cmd_meta, "meta STREAM [JSON [--expect E]]", "print or replace a stream's metadata",
     "  --expect E           any (default), no-stream, exists, or the metadata version\n"
     "                       (metadata_version in `stele info`)\n"},
    {"delete", cmd_delete, "delete STREAM [--tombstone] [--expect E]",
     "delete a stream (soft, or for ever with --tombstone)",
     "  --tombstone          close the stream for ever\n"
     "  --expect E           any (default), exists, or the stream's last version\n"},
    {"stats", cmd_stats, "stats", "print store statistics as JSON", ""},
    {"digest", cmd_digest, "digest", "print the head position and chained hash", ""},
    {"verify", cmd_verify, "verify", "check every checksum and the hash chain", ""},
    {"reindex", cmd_reindex, "reindex", "rebuild the index from the log", ""},
    {"export", cmd_export, "export [--from POS]", "print every event (system ones too) as NDJSON",
     "  --from POS           first position (default: the start)\n"},
    {"import", cmd_import, "import FILE", "append the events of an export ('-' = stdin)", ""},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const command_t *find_command(const char *name) {
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

static const char global_usage[] =
    "Global options (before the command):\n"
    "  -d, --data DIR       data directory (default: $STELE_DATA, else ./data)\n"
    "  --durability MODE    sync (default), async or none\n"
    "  --segment-size-bytes N  maximum size of a log segment, 1048576..4294967296\n"
    "                       (default 67108864; segments start at 2 MiB and double)\n"
    "  --url URL            work through the server at URL (default: $STELE_URL)\n"
    "  --token TOKEN        the server's API token (default: $STELE_TOKEN)\n"
    "  --cacert FILE        CA certificates to verify an https server with\n"
    "                       (default: $SSL_CERT_FILE, $SSL_CERT_DIR, else the system's)\n"
    "  --insecure           do not verify the https server's certificate\n"
    "  -v, --verbose        more messages on stderr\n"
    "  -h, --help           this help; `stele help COMMAND` for one command\n"
    "  -V, --version        print the version\n"
    "\n"
    "Exit status: 0 ok, 1 usage error, 2 expected-version conflict,\n"
    "3 not found / deleted / tombstoned (or no store), 4 any other error.\n";

void cli_print_usage(FILE *f, const char *name) {
    const command_t *cmd = name != NULL ? find_command(name) : NULL;
    if (cmd != NULL) {
        fprintf(f, "usage: stele [global options] %s\n\n%s.\n", cmd->synopsis, cmd->summary);
        if (cmd->help[0] != '\0') {
            fprintf(f, "\n%s", cmd->help);
        }
        return;
    }
    fputs("usage: stele [global options] <command> [args]\n\nCommands:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fprintf(f, "  %-20s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("  help [COMMAND]       show help\n\n", f);
    fputs(global_usage, f);
}

static int parse_durability(cli_ctx_t *ctx, const char *text) {
    if (strcmp(text, "sync") == 0) {
        ctx->durability = STELE_DURABILITY_SYNC;
    } else if (strcmp(text, "async") == 0) {
        ctx->durability = STELE_DURABILITY_ASYNC;
    } else if (strcmp(text, "none") == 0) {
        ctx->durability = STELE_DURABILITY_NONE;
    } else {
        return cli_usage_errorf(ctx, "--durability: '%s' is not sync, async or none", text);
    }
    return EXIT_OK;
}

/* The field of ctx that a global option taking a text ("--url U" or "--url=U") sets, with the
 * option's name; NULL for any other argument. */
static const char **text_option(cli_ctx_t *ctx, const char *arg, const char **name) {
    static const char *const names[] = {"--url", "--token", "--cacert"};
    const char **fields[] = {&ctx->url, &ctx->token, &ctx->cacert};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(arg, names[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            *name = names[i];
            return fields[i];
        }
    }
    return NULL;
}

static int parse_segment_size(cli_ctx_t *ctx, const char *text) {
    char *end = NULL;
    unsigned long long v = 0;
    if (text[0] >= '0' && text[0] <= '9') {
        errno = 0;
        v = strtoull(text, &end, 10);
    }
    if (end == NULL || *end != '\0' || errno != 0 || v < STELE_MIN_SEGMENT_BYTES ||
        v > STELE_MAX_SEGMENT_BYTES) {
        return cli_usage_errorf(ctx,
                                "--segment-size-bytes: '%s' is not a number of bytes in "
                                "%llu..%llu (1 MiB..4 GiB)",
                                text, (unsigned long long)STELE_MIN_SEGMENT_BYTES,
                                (unsigned long long)STELE_MAX_SEGMENT_BYTES);
    }
    ctx->segment_size_bytes = (uint64_t)v;
    return EXIT_OK;
}

/* Parse the global options; returns the index of the command name, or -status to exit. */
static int parse_global(cli_ctx_t *ctx, int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            break;
        }
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        const char *value = NULL;
        bool has_value = false;
        const char *name = NULL;
        const char **field = text_option(ctx, arg, &name);
        if (field != NULL) {
            const char *eq = strchr(arg, '=');
            if (eq == NULL && i + 1 >= argc) {
                return -cli_usage_errorf(ctx, "option '%s' needs a value", arg);
            }
            const char *text = eq != NULL ? eq + 1 : argv[++i];
            if (field != &ctx->token && text[0] == '\0') {
                return -cli_usage_errorf(ctx, "option '%s' is empty", name);
            }
            *field = text;
            continue;
        }
        if (strcmp(arg, "--insecure") == 0) {
            ctx->insecure = true;
            continue;
        }
        if (strcmp(arg, "-d") == 0 || strcmp(arg, "--data") == 0 ||
            strcmp(arg, "--durability") == 0 || strcmp(arg, "--segment-size-bytes") == 0) {
            if (i + 1 >= argc) {
                return -cli_usage_errorf(ctx, "option '%s' needs a value", arg);
            }
            value = argv[++i];
            has_value = true;
        } else if (strncmp(arg, "--data=", 7) == 0 || strncmp(arg, "--durability=", 13) == 0 ||
                   strncmp(arg, "--segment-size-bytes=", 21) == 0) {
            value = strchr(arg, '=') + 1;
            has_value = true;
        }
        if (has_value && strncmp(arg, "--durability", 12) == 0) {
            int rc = parse_durability(ctx, value);
            if (rc != EXIT_OK) {
                return -rc;
            }
        } else if (has_value && strncmp(arg, "--segment-size-bytes", 20) == 0) {
            int rc = parse_segment_size(ctx, value);
            if (rc != EXIT_OK) {
                return -rc;
            }
        } else if (has_value) {
            if (value[0] == '\0') {
                return -cli_usage_errorf(ctx, "the data directory is empty");
            }
            ctx->dir = value;
        } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
            ctx->verbose = true;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            cli_print_usage(stdout, NULL);
            return -EXIT_OK;
        } else if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            printf("stele %s\n", STELE_VERSION_STRING);
            return -EXIT_OK;
        } else {
            return -cli_usage_errorf(ctx, "unknown option '%s'", arg);
        }
    }
    return i;
}

int main(int argc, char **argv) {
    cli_ctx_t ctx = {0};
    const char *env_dir = getenv("STELE_DATA");
    ctx.dir = env_dir != NULL && env_dir[0] != '\0' ? env_dir : "./data";
    ctx.durability = STELE_DURABILITY_SYNC;
    const char *default_dir = ctx.dir;

    int first = parse_global(&ctx, argc, argv);
    if (first <= 0) {
        return -first;
    }
    /* The command line wins over the environment: -d alone means the local store. */
    const char *env_url = getenv("STELE_URL");
    if (ctx.url == NULL && ctx.dir == default_dir && env_url != NULL && env_url[0] != '\0') {
        ctx.url = env_url;
    }
    const char *env_token = getenv("STELE_TOKEN");
    if (ctx.token == NULL && env_token != NULL && env_token[0] != '\0') {
        ctx.token = env_token;
    }
    const char *env_cafile = getenv("SSL_CERT_FILE"), *env_capath = getenv("SSL_CERT_DIR");
    const char *cacert_from = "--cacert";
    if (ctx.cacert == NULL && env_cafile != NULL && env_cafile[0] != '\0') {
        ctx.cacert = env_cafile;
        cacert_from = "SSL_CERT_FILE";
    }
    if (ctx.cacert == NULL && env_capath != NULL && env_capath[0] != '\0') {
        ctx.capath = env_capath;
    }
    if (ctx.url != NULL && ctx.cacert != NULL && access(ctx.cacert, R_OK) != 0) {
        return cli_usage_errorf(&ctx, "%s: cannot read '%s': %s", cacert_from, ctx.cacert,
                                strerror(errno));
    }
    if (first >= argc) {
        cli_print_usage(stderr, NULL);
        return EXIT_USAGE;
    }
    const char *name = argv[first];
    if (strcmp(name, "help") == 0) {
        if (first + 1 < argc && find_command(argv[first + 1]) == NULL) {
            return cli_usage_errorf(&ctx, "unknown command '%s'", argv[first + 1]);
        }
        cli_print_usage(stdout, first + 1 < argc ? argv[first + 1] : NULL);
        return EXIT_OK;
    }
    const command_t *cmd = find_command(name);
    if (cmd == NULL) {
        return cli_usage_errorf(&ctx, "unknown command '%s'", name);
    }
    ctx.command = cmd->name;
    int status = cmd->fn(&ctx, argc - first - 1, argv + first + 1);
    remote_cleanup();
    if (fflush(stdout) != 0 && status == EXIT_OK) {
        cli_errorf(&ctx, "writing the output failed");
        status = EXIT_ERROR;
    }
    return status;
}
