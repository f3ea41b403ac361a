/*
 * error_map.h -- the programs' side of the one error table (include/stele_errors.h): a libstele
 * error code as steled's JSON code and HTTP status, the `stele` tool's exit status and the gRPC
 * status, and a server's JSON code back to the library's code, all generated from the table.
 *
 * Every function is thread-safe and returns static strings.
 */
#ifndef STELE_COMMON_ERROR_MAP_H
#define STELE_COMMON_ERROR_MAP_H

#include <stddef.h>

/* google.rpc.Code, the status of a gRPC call. */
typedef enum errmap_grpc {
    ERRMAP_GRPC_OK = 0,
    ERRMAP_GRPC_CANCELLED = 1,
    ERRMAP_GRPC_UNKNOWN = 2,
    ERRMAP_GRPC_INVALID_ARGUMENT = 3,
    ERRMAP_GRPC_DEADLINE_EXCEEDED = 4,
    ERRMAP_GRPC_NOT_FOUND = 5,
    ERRMAP_GRPC_ALREADY_EXISTS = 6,
    ERRMAP_GRPC_PERMISSION_DENIED = 7,
    ERRMAP_GRPC_RESOURCE_EXHAUSTED = 8,
    ERRMAP_GRPC_FAILED_PRECONDITION = 9,
    ERRMAP_GRPC_ABORTED = 10,
    ERRMAP_GRPC_OUT_OF_RANGE = 11,
    ERRMAP_GRPC_UNIMPLEMENTED = 12,
    ERRMAP_GRPC_INTERNAL = 13,
    ERRMAP_GRPC_UNAVAILABLE = 14,
    ERRMAP_GRPC_DATA_LOSS = 15,
    ERRMAP_GRPC_UNAUTHENTICATED = 16,
} errmap_grpc_t;

/* The JSON error code of a libstele error code (STELE_OK excluded): "internal" for errno codes
 * and codes the table does not know. Never NULL. */
const char *errmap_json_code(int code);

/* The `stele` tool's exit status for a libstele code: 0 for STELE_OK, else that of its JSON code
 * (2 conflict, 3 not found, 4 other). */
int errmap_exit(int code);

/* The gRPC status of a libstele code (OK for STELE_OK, INTERNAL for errno and unknown codes). */
errmap_grpc_t errmap_grpc(int code);
/* The name of a gRPC status ("FAILED_PRECONDITION"); "UNKNOWN" out of range. */
const char *errmap_grpc_name(errmap_grpc_t status);

/* The JSON error codes in their fixed order (steled's /metrics): count and the i-th (i < count). */
size_t errmap_json_count(void);
const char *errmap_json_at(size_t i);
/* The index of a JSON code in that order, or -1 when unknown. */
int errmap_json_index(const char *json_code);

/* The HTTP status of a JSON code; 500 when unknown. */
int errmap_http_status(const char *json_code);
/* The exit status for a JSON code, or -1 when unknown. */
int errmap_json_exit(const char *json_code);
/* The gRPC status of a JSON code (INTERNAL when unknown). */
errmap_grpc_t errmap_json_grpc(const char *json_code);
/* The libstele code a JSON code maps back to: the first code of the table with that JSON code, or
 * 0 when it is one the server raises itself (bad_request, unauthorized, ...) or unknown. */
int errmap_from_json(const char *json_code);
/* The words for a JSON code, as local mode prints them for the same failure: its own phrase, or
 * stele_strerror() of the code it maps back to; NULL when unknown. */
const char *errmap_json_phrase(const char *json_code);

#endif
