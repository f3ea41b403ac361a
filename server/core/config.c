/*
 * config.c -- steled's settings: defaults, then a config file, then environment variables, then
 * command-line flags (each later source wins).
 *
 * Every setting has one name used in all three places: `max-body-bytes` in the file (the flag's
 * name; `max_body_bytes` is accepted too), STELE_MAX_BODY_BYTES in the environment,
 * --max-body-bytes on the command line. The config file holds `key = value` lines; blank lines and
 * lines starting with '#' are ignored; an unknown key is an error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

typedef enum {
    OPT_STRING,
    OPT_U64,
    OPT_BOOL,
    OPT_DURABILITY,
    OPT_LOG_LEVEL,
    OPT_ORIGINS
} opt_kind_t;

/* Where a value comes from, in the order they apply. */
enum { SOURCE_FILE = 1, SOURCE_ENV, SOURCE_FLAGS };

/* Origins named by --cors-origin, at most. */
#define MAX_CORS_ORIGINS 64

typedef struct opt {
    const char *key; /* with '-' for '_': the flag (--key) and the file key */
    opt_kind_t kind;
    size_t offset;
    const char *help;
} opt_t;

#define OFF(f) offsetof(srv_config_t, f)

static const opt_t options[] = {
    {"data", OPT_STRING, OFF(data_dir), "store directory (./data)"},
    {"listen", OPT_STRING, OFF(listen), "ADDR:PORT to listen on (127.0.0.1:2113; port 0: any)"},
    {"durability", OPT_DURABILITY, OFF(durability), "sync|async|none (sync)"},
    {"segment_size_bytes", OPT_U64, OFF(segment_size_bytes),
     "maximum log segment size, 1048576..4294967296 (67108864)"},
    {"tls_cert", OPT_STRING, OFF(tls_cert), "PEM certificate chain: serve HTTPS"},
    {"tls_key", OPT_STRING, OFF(tls_key), "PEM private key for --tls-cert"},
    {"token_file", OPT_STRING, OFF(token_file), "bearer tokens: lines 'TOKEN ROLE PREFIX[,...]'"},
    {"insecure", OPT_BOOL, OFF(insecure), "allow a non-loopback address without a token file"},
    {"max_body_bytes", OPT_U64, OFF(max_body_bytes), "request body limit (16777216)"},
    {"max_header_bytes", OPT_U64, OFF(max_header_bytes), "request line + headers limit (65536)"},
    {"max_connections", OPT_U64, OFF(max_connections), "open connections (1024)"},
    {"max_subscribers", OPT_U64, OFF(max_subscribers), "open SSE streams (1024)"},
    {"request_timeout_ms", OPT_U64, OFF(request_timeout_ms), "connection inactivity (30000)"},
    {"max_events_per_append", OPT_U64, OFF(max_events_per_append), "events per request (10000)"},
    {"heartbeat_ms", OPT_U64, OFF(heartbeat_ms), "SSE heartbeat interval (15000)"},
    {"slow_subscriber_ms", OPT_U64, OFF(slow_subscriber_ms),
     "drop an SSE client whose output stays full this long (10000)"},
    {"subscriber_buffer_bytes", OPT_U64, OFF(subscriber_buffer_bytes),
     "SSE output bound per client (1048576)"},
    {"output_buffer_bytes", OPT_U64, OFF(output_buffer_bytes),
     "unsent output per connection above which its next request waits (1048576)"},
    {"max_jobs", OPT_U64, OFF(max_jobs), "metadata/delete/admin calls at once (8)"},
    {"log_level", OPT_LOG_LEVEL, OFF(log_level), "debug|info|warn|error (info)"},
    {"cors_origin", OPT_ORIGINS, OFF(cors_origins),
     "ORIGIN (scheme://host[:port], or *) served CORS; repeatable, or a comma-separated list"},
};
#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

void srv_config_defaults(srv_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->data_dir = strdup("./data");
    cfg->listen = strdup("127.0.0.1:2113");
    cfg->durability = STELE_DURABILITY_SYNC;
    cfg->segment_size_bytes = (uint64_t)64 << 20;
    cfg->max_body_bytes = 16u * 1024u * 1024u;
    cfg->max_header_bytes = 64u * 1024u;
    cfg->max_connections = 1024;
    cfg->max_subscribers = 1024;
    cfg->request_timeout_ms = 30000;
    cfg->max_events_per_append = STELE_MAX_EVENTS_PER_APPEND;
    cfg->heartbeat_ms = 15000;
    cfg->slow_subscriber_ms = 10000;
    cfg->subscriber_buffer_bytes = 1024u * 1024u;
    cfg->output_buffer_bytes = 1024u * 1024u;
    cfg->max_jobs = 8;
    cfg->log_level = SRV_LOG_INFO;
}

static void free_origins(srv_config_t *cfg) {
    for (size_t i = 0; i < cfg->cors_origin_count; i++) {
        free(cfg->cors_origins[i]);
    }
    free(cfg->cors_origins);
    cfg->cors_origins = NULL;
    cfg->cors_origin_count = 0;
}

void srv_config_free(srv_config_t *cfg) {
    free_origins(cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].kind == OPT_STRING) {
            char **p = (char **)(void *)((char *)cfg + options[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

/* The option named key (key_len bytes), written with '-' (the flag's spelling) or '_'. */
static const opt_t *find_option(const char *key, size_t key_len) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *k = options[i].key;
        size_t j = 0;
        while (j < key_len && k[j] != '\0' && (key[j] == k[j] || (key[j] == '-' && k[j] == '_'))) {
            j++;
        }
        if (j == key_len && k[j] == '\0') {
            return &options[i];
        }
    }
    return NULL;
}

static int parse_u64(const char *text, uint64_t *out) {
    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* Is text one origin as browsers send it: scheme "://" host [":" port], nothing after? */
static bool origin_valid(const char *text, size_t len) {
    const char *sep = memmem(text, len, "://", 3);
    if (sep == NULL || sep == text) {
        return false;
    }
    for (const char *c = text; c < sep; c++) {
        if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.') {
            return false;
        }
    }
    const char *host = sep + 3;
    if (host == text + len) {
        return false;
    }
    for (const char *c = host; c < text + len; c++) {
        if (!isalnum((unsigned char)*c) && strchr("-._~:[]", *c) == NULL) {
            return false; /* a path, query, credentials or anything a browser never sends */
        }
    }
    return true;
}

/* Add the origins of value (comma-separated) to the list; a new source replaces the list that an
 * earlier one set. Returns 0 or -1 after printing what is wrong. */
static int add_origins(srv_config_t *cfg, const char *value, const char *source, int level) {
    if (cfg->cors_source != level) {
        free_origins(cfg);
        cfg->cors_source = level;
    }
    for (const char *p = value; *p != '\0';) {
        size_t len = strcspn(p, ",");
        const char *o = p;
        p += len + (p[len] == ',');
        while (len > 0 && isspace((unsigned char)*o)) {
            o++, len--;
        }
        while (len > 0 && isspace((unsigned char)o[len - 1])) {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (!(len == 1 && o[0] == '*') && !origin_valid(o, len)) {
            fprintf(stderr,
                    "steled: %s: cors-origin '%.*s' is not an origin (scheme://host[:port], "
                    "without a path or a trailing '/', or *)\n",
                    source, (int)(len < 200 ? len : 200), o);
            return -1;
        }
        if (cfg->cors_origin_count == MAX_CORS_ORIGINS) {
            fprintf(stderr, "steled: %s: more than %d CORS origins\n", source, MAX_CORS_ORIGINS);
            return -1;
        }
        char **list = realloc(cfg->cors_origins, (cfg->cors_origin_count + 1) * sizeof(*list));
        char *copy = list != NULL ? strndup(o, len) : NULL;
        if (list != NULL) {
            cfg->cors_origins = list;
        }
        if (copy == NULL) {
            fprintf(stderr, "steled: out of memory\n");
            return -1;
        }
        cfg->cors_origins[cfg->cors_origin_count++] = copy;
    }
    return 0;
}

/* Set one option from text; returns 0 or -1 after printing what is wrong (source names where,
 * level is its SOURCE_*). */
static int set_option(srv_config_t *cfg, const opt_t *o, const char *value, const char *source,
                      int level) {
    void *field = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_ORIGINS: return add_origins(cfg, value, source, level);
    case OPT_STRING: {
        char **p = field;
        free(*p);
        *p = value[0] != '\0' ? strdup(value) : NULL;
        return 0;
    }
    case OPT_U64:
        if (parse_u64(value, field) == 0) {
            return 0;
        }
        break;
    case OPT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0) {
            *(bool *)field = true;
            return 0;
        }
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0) {
            *(bool *)field = false;
            return 0;
        }
        break;
    case OPT_DURABILITY: {
        stele_durability_t *d = field;
        if (strcmp(value, "sync") == 0) {
            *d = STELE_DURABILITY_SYNC;
        } else if (strcmp(value, "async") == 0) {
            *d = STELE_DURABILITY_ASYNC;
        } else if (strcmp(value, "none") == 0) {
            *d = STELE_DURABILITY_NONE;
        } else {
            break;
        }
        return 0;
    }
    case OPT_LOG_LEVEL: {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(value, names[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        break;
    }
    }
    char name[64];
    size_t n = 0;
    for (const char *k = o->key; *k != '\0' && n + 1 < sizeof(name); k++) {
        name[n++] = *k == '_' ? '-' : *k;
    }
    name[n] = '\0';
    fprintf(stderr, "steled: %s: bad value '%s' for %s\n", source, value, name);
    return -1;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static int load_file(srv_config_t *cfg, const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "steled: config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    unsigned line_no = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        line_no++;
        char *s = trim(line);
        if (s[0] == '\0' || s[0] == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        char where[4200];
        snprintf(where, sizeof(where), "%s line %u", path, line_no);
        if (eq == NULL) {
            fprintf(stderr, "steled: %s: expected 'key = value'\n", where);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        const opt_t *o = find_option(key, strlen(key));
        if (o == NULL) {
            fprintf(stderr,
                    "steled: %s: unknown key '%s' (keys are the flags' names: steled --help)\n",
                    where, key);
            rc = -1;
            break;
        }
        rc = set_option(cfg, o, value, where, SOURCE_FILE);
    }
    fclose(f);
    return rc;
}

static int load_env(srv_config_t *cfg) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char name[64] = "STELE_";
        size_t n = strlen(name);
        for (const char *k = options[i].key; *k != '\0' && n + 1 < sizeof(name); k++) {
            name[n++] = (char)toupper((unsigned char)*k);
        }
        name[n] = '\0';
        const char *value = getenv(name);
        if (value != NULL && set_option(cfg, &options[i], value, name, SOURCE_ENV) != 0) {
            return -1;
        }
    }
    return 0;
}

static void usage(FILE *f) {
    fputs("usage: steled [--config FILE] [--OPTION VALUE]...\n\n"
          "The Stele event store server: HTTP/JSON and Server-Sent Events over a store.\n"
          "Each option may also be set as `key = value` in the config file, the key being\n"
          "the flag's name (e.g. `heartbeat-ms = 5000`), or as the environment variable\n"
          "STELE_<KEY> (e.g. STELE_HEARTBEAT_MS). Flags win over the environment, which\n"
          "wins over the file.\n\n",
          f);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char flag[64];
        size_t n = 0;
        for (const char *k = options[i].key; *k != '\0' && n + 1 < sizeof(flag); k++) {
            flag[n++] = *k == '_' ? '-' : *k;
        }
        flag[n] = '\0';
        fprintf(f, "  --%-26s %s\n", flag, options[i].help);
    }
    fputs("  --config FILE               settings file\n"
          "  --help, --version\n",
          f);
}

/* "--max-body-bytes" -> the option; *inline_value set for "--name=value". */
static const opt_t *flag_option(const char *arg, const char **inline_value) {
    char key[64];
    size_t n = 0;
    const char *p = arg + 2;
    for (; *p != '\0' && *p != '=' && n + 1 < sizeof(key); p++) {
        key[n++] = *p;
    }
    key[n] = '\0';
    *inline_value = *p == '=' ? p + 1 : NULL;
    return find_option(key, n);
}

int srv_config_load(srv_config_t *cfg, int argc, char **argv) {
    const char *config_path = getenv("STELE_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("steled %s\n", STELE_VERSION_STRING);
            return -1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path != NULL && config_path[0] != '\0' && load_file(cfg, config_path) != 0) {
        return 1;
    }
    if (load_env(cfg) != 0) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0) {
            continue;
        }
        const char *value = NULL;
        const opt_t *o = strncmp(arg, "--", 2) == 0 ? flag_option(arg, &value) : NULL;
        if (o == NULL) {
            fprintf(stderr, "steled: unknown option '%s'\nTry 'steled --help'.\n", arg);
            return 1;
        }
        if (value == NULL && o->kind == OPT_BOOL) {
            value = "true";
        } else if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "steled: %s needs a value\nTry 'steled --help'.\n", arg);
                return 1;
            }
            value = argv[++i];
        }
        if (set_option(cfg, o, value, "command line", SOURCE_FLAGS) != 0) {
            return 1;
        }
    }
    if (cfg->data_dir == NULL || cfg->listen == NULL) {
        fprintf(stderr, "steled: --data and --listen must not be empty\n");
        return 1;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        fprintf(stderr, "steled: --tls-cert and --tls-key go together\n");
        return 1;
    }
    if (cfg->max_events_per_append == 0 ||
        cfg->max_events_per_append > STELE_MAX_EVENTS_PER_APPEND) {
        fprintf(stderr, "steled: --max-events-per-append must be 1..%u\n",
                STELE_MAX_EVENTS_PER_APPEND);
        return 1;
    }
    if (cfg->segment_size_bytes < STELE_MIN_SEGMENT_BYTES ||
        cfg->segment_size_bytes > STELE_MAX_SEGMENT_BYTES) {
        fprintf(stderr, "steled: --segment-size-bytes must be %llu..%llu (1 MiB..4 GiB)\n",
                (unsigned long long)STELE_MIN_SEGMENT_BYTES,
                (unsigned long long)STELE_MAX_SEGMENT_BYTES);
        return 1;
    }
    if (cfg->max_connections == 0 || cfg->max_subscribers == 0 || cfg->max_body_bytes == 0 ||
        cfg->heartbeat_ms == 0 || cfg->max_jobs == 0 || cfg->subscriber_buffer_bytes == 0 ||
        cfg->output_buffer_bytes == 0) {
        fprintf(stderr, "steled: limits must be at least 1\n");
        return 1;
    }
    char *host = NULL;
    uint16_t port = 0;
    if (srv_config_listen_split(cfg->listen, &host, &port) != 0) {
        fprintf(stderr, "steled: --listen '%s' is not ADDR:PORT\n", cfg->listen);
        return 1;
    }
    free(host);
    return 0;
}

int srv_config_listen_split(const char *listen, char **host, uint16_t *port) {
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen) {
        return -1;
    }
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') {
            return -1;
        }
        h++;
        hlen -= 2;
    }
    uint64_t p = 0;
    if (parse_u64(colon + 1, &p) != 0 || p > 65535) {
        return -1;
    }
    *host = strndup(h, hlen);
    *port = (uint16_t)p;
    return *host != NULL ? 0 : -1;
}

bool srv_host_is_loopback(const char *host) {
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}
