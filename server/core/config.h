/*
 * config.h -- steled's settings: defaults, then the config file, the environment and the flags
 * (config.c). Protocol-neutral: every wing reads its limits from here.
 */
#ifndef STELE_SERVER_CONFIG_H
#define STELE_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stele.h"

typedef struct srv_config {
    char *data_dir; /* --data (./data) */
    char *listen;   /* --listen ADDR:PORT (127.0.0.1:2113); port 0 = any free port */
    stele_durability_t durability;
    uint64_t segment_size_bytes;      /* maximum log segment size (64 MiB) */
    char *tls_cert, *tls_key;         /* PEM files; both or neither */
    char *token_file;                 /* bearer tokens; NULL = no authentication */
    bool insecure;                    /* allow a non-loopback listen without tokens */
    uint64_t max_body_bytes;          /* request body (16 MiB) */
    uint64_t max_header_bytes;        /* request line + headers (64 KiB) */
    uint64_t max_connections;         /* open HTTP connections (1024) */
    uint64_t max_subscribers;         /* open SSE streams (1024) */
    uint64_t request_timeout_ms;      /* read/write inactivity on a connection (30000) */
    uint64_t max_events_per_append;   /* all parts of one append or commit (10000) */
    uint64_t heartbeat_ms;            /* SSE comment line interval (15000) */
    uint64_t slow_subscriber_ms;      /* SSE output above the bound this long: dropped (10000) */
    uint64_t subscriber_buffer_bytes; /* SSE output bound (1 MiB) */
    uint64_t output_buffer_bytes; /* unsent output that pauses a connection's requests (1 MiB) */
    uint64_t max_jobs;            /* admin/metadata/delete worker threads at once (8) */
    int log_level;                /* 0 debug, 1 info, 2 warn, 3 error */
    char **cors_origins;          /* --cors-origin (repeatable): origins served CORS, or "*" */
    size_t cors_origin_count;
    int cors_source; /* the source that set them (a later source replaces the list) */
} srv_config_t;

void srv_config_defaults(srv_config_t *cfg);
void srv_config_free(srv_config_t *cfg);
/* Apply the config file (--config or STELE_CONFIG), the environment, then argv. Returns 0, 1 after
 * printing a usage error, or -1 when --help/--version was printed (exit 0). */
int srv_config_load(srv_config_t *cfg, int argc, char **argv);
/* Split cfg->listen into host (malloc'ed, no brackets) and port. Returns 0 or -1. */
int srv_config_listen_split(const char *listen, char **host, uint16_t *port);
bool srv_host_is_loopback(const char *host);

#endif /* STELE_SERVER_CONFIG_H */
