/*
 * stele_errors.h -- the one table of Stele's error vocabulary, as X-macro lists.
 *
 * Every place that turns an error into words or into another protocol's terms is generated from
 * these two lists: libstele's stele_strerror(), steled's JSON error codes and HTTP statuses (and,
 * later, its gRPC statuses), the `stele` tool's exit statuses, and the way the tool in remote mode
 * turns a server's JSON error back into the library's error. Adding an error code means adding one
 * line here (and its #define in stele.h, which a compile-time check in libstele ties to the line);
 * no program keeps a table of its own.
 *
 * The lists are data only (macros, no functions), so libstele and the programs (which may use the
 * public headers only) include the same file. An embedding application that serves its own
 * protocol may use them too.
 *
 * STELE_ERROR_LIST(X): one line per libstele error code,
 *     X(SYM, number, message, json_code, grpc_status)
 *   SYM          the code's name without the STELE_ prefix (STELE_##SYM is its #define in stele.h)
 *   number       its value; must equal the #define (checked when libstele is compiled)
 *   message      stele_strerror()'s text: lower case, no final period, distinct for every code
 *   json_code    the steled error code ({"error": json_code}); one of STELE_HTTP_ERROR_LIST.
 *                Several library codes may share one; the first of them in this list is the one
 *                the remote CLI maps the JSON code back to. The HTTP status and the CLI exit
 *                status come from the JSON code's line, so local and remote mode cannot disagree.
 *   grpc_status  the google.rpc.Code name the gRPC port answers with (KurrentDB's clients read
 *                FAILED_PRECONDITION with "wrong-expected-version" / "stream-deleted", NOT_FOUND,
 *                INVALID_ARGUMENT, UNAVAILABLE ("not ready", "too busy") as KurrentDB sends them)
 *
 * STELE_HTTP_ERROR_LIST(X): one line per JSON error code of steled, in the fixed order of
 * /metrics,
 *     X(json_code, http_status, phrase, exit_status, grpc_status)
 *   json_code    the stable code of {"error": CODE, "message": TEXT} (docs/http-api.md)
 *   http_status  the status it is answered with
 *   phrase       the words the remote CLI prints for it; NULL means the message of the first
 *                library code with this JSON code, so that both modes print the same words
 *   exit_status  the `stele` tool's exit status for it, in both modes (docs/cli.md): 2 conflict,
 *                3 not found, 4 any other error, 5 a command rejected by its aggregate
 *   grpc_status  the google.rpc.Code name for the errors the server raises itself (auth, limits)
 *
 * Codes in [-4095, -1] (negated errno values) are not listed: their message is the C library's,
 * their JSON code "internal", their exit status 4 and their gRPC status INTERNAL.
 */
#ifndef STELE_ERRORS_H
#define STELE_ERRORS_H

/* clang-format off */
#define STELE_ERROR_LIST(X)                                                                        \
    X(EINVAL,     -10001, "invalid argument",                  "invalid_argument",       INVALID_ARGUMENT)    \
    X(ENAME,      -10002, "invalid stream name",               "invalid_name",           INVALID_ARGUMENT)    \
    X(ETYPE,      -10003, "invalid event type",                "invalid_type",           INVALID_ARGUMENT)    \
    X(EJSON,      -10004, "invalid JSON",                      "invalid_json",           INVALID_ARGUMENT)    \
    X(ETOOBIG,    -10005, "limit exceeded",                    "payload_too_large",      INVALID_ARGUMENT)    \
    X(EEMPTY,     -10006, "no events to append",               "empty_append",           INVALID_ARGUMENT)    \
    X(ECONFLICT,  -10007, "wrong expected version",            "wrong_expected_version", FAILED_PRECONDITION) \
    X(ENOTFOUND,  -10008, "stream not found",                  "not_found",              NOT_FOUND)           \
    X(EDELETED,   -10009, "stream deleted",                    "stream_deleted",         NOT_FOUND)           \
    X(ETOMBSTONED,-10010, "stream tombstoned",                 "stream_tombstoned",      FAILED_PRECONDITION) \
    X(EIDREUSE,   -10011, "event id reused for a different event", "id_reuse",           ALREADY_EXISTS)      \
    X(ECORRUPT,   -10012, "corrupt data",                      "internal",               DATA_LOSS)           \
    X(ENOTSTORE,  -10013, "not a Stele store",                 "internal",               INTERNAL)            \
    X(EVERSION,   -10014, "store format too new",              "internal",               INTERNAL)            \
    X(EPOISONED,  -10015, "store poisoned by an earlier write failure", "unavailable",   UNAVAILABLE)         \
    X(ECLOSED,    -10016, "store closing",                     "unavailable",            UNAVAILABLE)         \
    X(ENOMEM,     -10017, "out of memory",                     "internal",               RESOURCE_EXHAUSTED)  \
    X(ELOCKED,    -10018, "store locked by another process",   "internal",               UNAVAILABLE)         \
    X(ERESERVED,  -10019, "reserved name",                     "reserved_name",          INVALID_ARGUMENT)    \
    X(EUUID,      -10020, "invalid UUID",                      "invalid_argument",       INVALID_ARGUMENT)    \
    X(EREADONLY,  -10021, "store is read-only",                "unavailable",            UNAVAILABLE)         \
    X(ETIME,      -10022, "invalid time",                      "invalid_argument",       INVALID_ARGUMENT)    \
    X(EBUSY,      -10023, "append queue full",                 "too_many_requests",      UNAVAILABLE)         \
    X(EREJECTED,  -10024, "command rejected",                  "command_rejected",       FAILED_PRECONDITION)

#define STELE_HTTP_ERROR_LIST(X)                                                        \
    X("bad_request",            400, "bad request",            4, INVALID_ARGUMENT)    \
    X("invalid_json",           400, NULL,                     4, INVALID_ARGUMENT)    \
    X("invalid_name",           400, NULL,                     4, INVALID_ARGUMENT)    \
    X("invalid_type",           400, NULL,                     4, INVALID_ARGUMENT)    \
    X("reserved_name",          400, NULL,                     4, INVALID_ARGUMENT)    \
    X("empty_append",           400, NULL,                     4, INVALID_ARGUMENT)    \
    X("invalid_argument",       400, NULL,                     4, INVALID_ARGUMENT)    \
    X("unauthorized",           401, "unauthorized",           4, UNAUTHENTICATED)     \
    X("forbidden",              403, "forbidden",              4, PERMISSION_DENIED)   \
    X("not_found",              404, "not found",              3, NOT_FOUND)           \
    X("stream_deleted",         404, NULL,                     3, NOT_FOUND)           \
    X("method_not_allowed",     405, "method not allowed",     4, UNIMPLEMENTED)       \
    X("wrong_expected_version", 409, NULL,                     2, FAILED_PRECONDITION) \
    X("id_reuse",               409, NULL,                     4, ALREADY_EXISTS)      \
    X("stream_tombstoned",      410, NULL,                     3, FAILED_PRECONDITION) \
    X("request_timeout",        408, "request timeout",        4, DEADLINE_EXCEEDED)   \
    X("payload_too_large",      413, NULL,                     4, INVALID_ARGUMENT)    \
    X("unsupported_media_type", 415, "unsupported media type", 4, INVALID_ARGUMENT)    \
    X("expectation_failed",     417, "expectation failed",     4, INVALID_ARGUMENT)    \
    X("too_many_requests",      429, "too many requests",      4, UNAVAILABLE)         \
    X("header_too_large",       431, "header too large",       4, INVALID_ARGUMENT)    \
    X("internal",               500, "internal server error",  4, INTERNAL)            \
    X("unavailable",            503, "server unavailable",     4, UNAVAILABLE)         \
    X("command_rejected",       422, NULL,                     5, FAILED_PRECONDITION)
/* clang-format on */

#endif /* STELE_ERRORS_H */
