/*
 * metrics.h -- counters and histograms kept on the loop thread, errors counted by their stable
 * error code, and their text for Prometheus (metrics.c).
 */
#ifndef STELE_SERVER_METRICS_H
#define STELE_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv.h"

#include <event2/buffer.h>

int srv_metrics_init(srv_t *srv);
void srv_metrics_free(srv_t *srv);
void srv_metrics_request(srv_t *srv, int status);
/* An error answered with the stable error code `code` (errors.h). */
void srv_metrics_error(srv_t *srv, const char *code);
void srv_metrics_append(srv_t *srv, size_t events, uint64_t bytes, uint64_t latency_ns, bool ok);
void srv_metrics_completion_batch(srv_t *srv, size_t count);
/* Every counter, gauge and histogram in the Prometheus text format (version 0.0.4), with the
 * store's own from stele_stats(). */
void srv_metrics_write(srv_t *srv, struct evbuffer *out);

#endif /* STELE_SERVER_METRICS_H */
