/*
 * metrics.h -- counters and histograms kept on the loop thread, GET /metrics (metrics.c).
 */
#ifndef STELE_SERVER_METRICS_H
#define STELE_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srv.h"

typedef struct srv_req srv_req_t;

int srv_metrics_init(srv_t *srv);
void srv_metrics_free(srv_t *srv);
void srv_metrics_request(srv_t *srv, int status);
void srv_metrics_error(srv_t *srv, const char *code);
void srv_metrics_append(srv_t *srv, size_t events, uint64_t bytes, uint64_t latency_ns, bool ok);
void srv_metrics_completion_batch(srv_t *srv, size_t count);
void srv_route_metrics(srv_t *srv, srv_req_t *req);

#endif /* STELE_SERVER_METRICS_H */
