/*
 * main.c -- steled: settings, startup, signals, clean shutdown and structured log lines.
 *
 * Startup: load the settings, refuse a non-loopback address without tokens (unless --insecure),
 * load the tokens, set up TLS, bind, then open (or create) the store and run the loop: everything
 * that can fail without the store fails before it, so a server that cannot start creates nothing.
 * SIGTERM or SIGINT starts the shutdown: stop accepting, answer new requests on open connections
 * with 503, let the appends already handed to the writer complete (their callbacks answer them),
 * end every SSE stream, give the answers a moment to reach the sockets, close the store, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "info_json.h"
#include "auth.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "wakeup.h"
#include "../http/session.h"
#include "feed.h"

/* A secret file (the token file, the TLS key) that other users can read or change: warn, with
 * the mode and the fix, in the log's own format. The server still starts (the operator may have
 * reasons); a file it cannot stat is reported when it is opened. */
static void warn_if_exposed(const char *path, const char *what) {
    struct stat st;
    if (path == NULL || stat(path, &st) != 0 ||
        (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) == 0) {
        return;
    }
    char msg[96], mode[8];
    snprintf(msg, sizeof(msg), "the %s can be %s by other users", what,
             (st.st_mode & (S_IRGRP | S_IROTH)) != 0 ? "read" : "changed");
    snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
    srv_log(SRV_LOG_WARN, msg,
            json_pack("{s:s, s:s, s:s}", "file", path, "mode", mode, "hint",
                      "clear its group and other permission bits (chmod 600)"));
}

/* libevent's own warnings (and errors before a fatal exit) as server log lines, so that every
 * line on stderr is one JSON object. */
static void on_libevent_log(int severity, const char *msg) {
    int level = severity == EVENT_LOG_DEBUG  ? SRV_LOG_DEBUG
                : severity == EVENT_LOG_MSG  ? SRV_LOG_INFO
                : severity == EVENT_LOG_WARN ? SRV_LOG_WARN
                                             : SRV_LOG_ERROR;
    srv_log(level, "libevent", json_pack("{s:s}", "detail", msg != NULL ? msg : ""));
}

/* Descriptors a server needs besides its connections: the store's files, the listener, eventfds,
 * the reserve descriptor, epoll, TLS files, with room to spare. */
#define FD_OVERHEAD 64

/* Raise the soft limit on open files to the hard limit: connections are descriptors, and the
 * usual soft limit (1024) is below what --max-connections allows. Logs what it did. */
static void raise_nofile(const srv_config_t *cfg) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = before;
        }
    }
    srv_log(SRV_LOG_INFO, "file descriptors",
            json_pack("{s:I, s:I, s:I}", "limit", (json_int_t)rl.rlim_cur, "raised_from",
                      (json_int_t)before, "hard_limit",
                      (json_int_t)(rl.rlim_max == RLIM_INFINITY ? -1 : (json_int_t)rl.rlim_max)));
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < cfg->max_connections + FD_OVERHEAD) {
        srv_log(SRV_LOG_WARN, "the descriptor limit is below --max-connections",
                json_pack("{s:I, s:I, s:s}", "limit", (json_int_t)rl.rlim_cur, "max_connections",
                          (json_int_t)cfg->max_connections, "effect",
                          "once descriptors run out, new connections get 503 until some close"));
    }
}

/* ---- shutdown ------------------------------------------------------------------------------- */

static struct event *drain_timer;

static void exit_loop(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    event_base_loopbreak(srv->base);
}

/* Wait until every in-flight append and job has answered and every answer has reached its socket
 * (at most SHUTDOWN_FLUSH_MS for a client that does not read), then leave the loop. */
#define SHUTDOWN_FLUSH_MS 200
static int flush_wait_ms;

static void drain_check(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    srv_t *srv = arg;
    struct timeval tv = {0, 10 * 1000};
    if (srv->in_flight > 0) {
        evtimer_add(drain_timer, &tv);
        return;
    }
    if (!srv_conn_all_flushed(srv) && flush_wait_ms < SHUTDOWN_FLUSH_MS) {
        flush_wait_ms += 10;
        evtimer_add(drain_timer, &tv);
        return;
    }
    event_free(drain_timer);
    drain_timer = NULL;
    exit_loop(-1, 0, srv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    srv_t *srv = arg;
    if (srv->closing) {
        return;
    }
    srv->closing = true;
    srv_log(SRV_LOG_INFO, "shutting down",
            json_pack("{s:s, s:I}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                      (json_int_t)srv->in_flight));
    srv_conn_stop_accepting(srv);
    srv_feed_close_all(srv);
    drain_timer = evtimer_new(srv->base, drain_check, srv);
    if (drain_timer == NULL) {
        event_base_loopbreak(srv->base);
        return;
    }
    drain_check(-1, 0, srv);
}

int main(int argc, char **argv) {
    srv_config_t cfg;
    srv_config_defaults(&cfg);
    int rc = srv_config_load(&cfg, argc, argv);
    if (rc != 0) {
        srv_config_free(&cfg);
        return rc < 0 ? 0 : 1;
    }
    srv_log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    event_set_log_callback(on_libevent_log);
    raise_nofile(&cfg);

    srv_t srv;
    memset(&srv, 0, sizeof(srv));
    srv.done_fd = srv.commit_fd = srv.reserve_fd = -1;
    srv.cfg = &cfg;
    int status = 1;
    char *host = NULL;
    uint16_t port = 0;
    struct event *sigterm = NULL, *sigint = NULL;
    srv_config_listen_split(cfg.listen, &host, &port);

    if (cfg.token_file == NULL && !srv_host_is_loopback(host) && !cfg.insecure) {
        srv_log(SRV_LOG_ERROR, "refusing to listen on a non-loopback address without tokens",
                json_pack("{s:s, s:s}", "listen", cfg.listen, "hint",
                          "give --token-file FILE, or --insecure to allow it"));
        goto done;
    }
    if (cfg.token_file != NULL && srv_auth_load(cfg.token_file, &srv.auth) != 0) {
        goto done;
    }
    warn_if_exposed(cfg.token_file, "token file");
    warn_if_exposed(cfg.tls_key, "TLS key");
    /* The changelist folds the several add/del calls a request makes on one socket within a loop
     * iteration (evhttp re-arms reads and writes around every request) into one epoll_ctl. */
    struct event_config *ecfg = event_config_new();
    if (ecfg != NULL) {
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        srv.base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (srv.base == NULL || srv_wakeup_init(&srv) != 0 || srv_metrics_init(&srv) != 0 ||
        srv_feed_init(&srv) != 0) {
        srv_log(SRV_LOG_ERROR, "out of memory at startup", NULL);
        goto done;
    }
    if (cfg.tls_cert != NULL && srv_tls_init(&srv) != 0) {
        goto done;
    }
    /* Connections wait in the listen backlog until the loop runs, after the store is open. */
    uint16_t bound_port = 0;
    if (srv_conn_listen_at(&srv, host, port, &srv_http_proto, &bound_port) != 0) {
        goto done;
    }

    stele_options_t opts;
    stele_options_init(&opts);
    opts.flags = STELE_OPEN_CREATE;
    opts.durability = cfg.durability;
    opts.segment_size_bytes = cfg.segment_size_bytes;
    rc = stele_store_open(cfg.data_dir, &opts, &srv.store);
    if (rc != 0) {
        srv_log(SRV_LOG_ERROR, "cannot open the store",
                json_pack("{s:s, s:s, s:s}", "data", cfg.data_dir, "error", stele_strerror(rc),
                          "detail", stele_errdetail()));
        srv.store = NULL;
        goto done;
    }
    srv_wakeup_hook(&srv);
    sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
        evsignal_add(sigint, NULL) != 0) {
        srv_log(SRV_LOG_ERROR, "cannot install signal handlers", NULL);
        goto done;
    }

    uint64_t head = 0;
    uint8_t hash[32];
    stele_head_digest(srv.store, &head, hash);
    char url[300];
    snprintf(url, sizeof(url), "%s://%s%s%s:%u", srv.ssl_ctx != NULL ? "https" : "http",
             strchr(host, ':') != NULL ? "[" : "", host, strchr(host, ':') != NULL ? "]" : "",
             (unsigned)bound_port);
    srv_log(SRV_LOG_INFO, "listening",
            json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:b, s:I}", "url", url, "host", host, "port",
                      (int)bound_port, "data", cfg.data_dir, "durability",
                      durability_name(cfg.durability), "tls", srv.ssl_ctx != NULL, "auth",
                      srv.auth != NULL, "head_position", (json_int_t)head));

    event_base_dispatch(srv.base);
    status = 0;

done:
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    if (sigint != NULL) {
        event_free(sigint);
    }
    srv_feed_close_all(&srv);
    srv_conn_close_all(&srv);
    if (srv.store != NULL) {
        stele_store_on_commit(srv.store, NULL, NULL);
        rc = stele_store_close(srv.store);
        if (rc != 0) {
            srv_log(SRV_LOG_ERROR, "closing the store failed",
                    json_pack("{s:s}", "error", stele_strerror(rc)));
            status = 1;
        }
    }
    srv_tls_free(&srv);
    srv_wakeup_free(&srv);
    srv_metrics_free(&srv);
    srv_feed_free(&srv);
    if (srv.base != NULL) {
        event_base_free(srv.base);
    }
    srv_auth_free(srv.auth);
    srv_tickets_free(&srv);
    if (status == 0) {
        srv_log(SRV_LOG_INFO, "stopped", NULL);
    }
    free(host);
    srv_config_free(&cfg);
    return status;
}
