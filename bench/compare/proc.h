/*
 * proc.h -- the server processes stele-compare starts for its peers (PostgreSQL, nats-server):
 * finding their programs, a free loopback port, starting them as children (as an unprivileged
 * user when the benchmark runs as root), waiting for them to listen and stopping them.
 *
 * Every server is a direct child of the benchmark and is told, through PR_SET_PDEATHSIG, to stop
 * when the thread that started it goes away, so a benchmark that is killed (even with SIGKILL)
 * does not leave a server running. The signal is tied to the starting *thread*: start servers
 * from a thread that outlives them (the driver's main thread).
 *
 * Functions that can fail return 0 or -1 after writing a one-line reason into `err`
 * (BACKEND_ERR_CAP bytes).
 */
#ifndef STELE_COMPARE_PROC_H
#define STELE_COMPARE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How to start a child. */
typedef struct proc_spec {
    const char *const *argv; /* argv[0] is the program's path; NULL-terminated */
    const char *log_path;    /* stdout and stderr are appended here; NULL: /dev/null */
    bool as_user;            /* run as uid/gid below (the benchmark must be root) */
    uid_t uid;
    gid_t gid;
    int death_signal; /* sent to the child when the starting thread exits; 0 for none */
} proc_spec_t;

/* Finds program `name`: first in PATH, then in each directory of `dirs` (NULL-terminated). A
 * directory may be a glob pattern (Debian keeps PostgreSQL in /usr/lib/postgresql/<version>/bin);
 * its matches are tried from the highest version down. Stores the path in `path` and returns true
 * when found. */
bool proc_find_program(const char *name, const char *const *dirs, char *path, size_t cap);

/* Runs `cmd` through /bin/sh and stores the first line of its standard output (without the
 * newline) in `out`. Returns false when the command fails or prints nothing. */
bool proc_command_line(const char *cmd, char *out, size_t cap);

/* When this process is root, looks up the unprivileged account a server refusing to run as root
 * should use: the first of `names` (NULL-terminated) that exists. Returns 0 and sets *as_user to
 * false when not root; 0 with *as_user true and the ids (and the account's name in *name) when
 * root; -1 when root and no account exists. */
int proc_server_user(const char *const *names, bool *as_user, uid_t *uid, gid_t *gid,
                     const char **name, char *err);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released). */
int proc_free_port(uint16_t *port, char *err);

/* Starts the child; *pid is its process id. */
int proc_start(const proc_spec_t *spec, pid_t *pid, char *err);

/* Starts the child and waits up to timeout_ms for it to exit; fails unless it exits with 0 (a
 * child still running at the deadline is killed). `what` names it in the reason. */
int proc_run(const proc_spec_t *spec, int timeout_ms, const char *what, char *err);

/* True while the child `pid` has not exited; once it has, it is reaped and *status (may be NULL)
 * holds its wait status. */
bool proc_running(pid_t pid, int *status);

/* Waits until 127.0.0.1:port accepts a TCP connection, for at most timeout_ms; fails early when
 * the child `pid` exits. `what` names the server in the reason. */
int proc_wait_tcp(uint16_t port, pid_t pid, int timeout_ms, const char *what, char *err);

/* Sends `sig` to the child, waits up to timeout_ms for it to exit, then sends SIGKILL and reaps
 * it. Returns 0 when it exited within the time, -1 when it had to be killed. */
int proc_stop(pid_t pid, int sig, int timeout_ms);

/* The resident set size (VmRSS) of process `pid`, KiB; 0 when it cannot be read. */
uint64_t proc_pid_rss_kib(pid_t pid);

/* The resident set size of process `root` and all its descendants (a server's process tree, e.g.
 * the PostgreSQL postmaster and its backends), KiB, found by scanning /proc for parent ids; 0 when
 * root's cannot be read. Pages shared between the processes are counted once per process. */
uint64_t proc_tree_rss_kib(pid_t root);

/* Appends the last line of the file at `path` (a server's log) to `err` after ": ", so a reason
 * carries the server's own words; does nothing when the file is empty or unreadable. */
void proc_append_log_tail(char *err, const char *path);

#endif
