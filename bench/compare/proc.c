/*
 * proc.c -- the server processes stele-compare starts for its peers: finding programs, a free
 * loopback port, starting children (as an unprivileged user when run as root), waiting for them
 * to listen and stopping them. See proc.h.
 *
 * A child is set up between fork and exec with async-signal-safe calls only (the benchmark is
 * multithreaded): empty signal mask and default dispositions, stdin from /dev/null, stdout and
 * stderr to its log, no other inherited descriptors, then the unprivileged ids, then the
 * parent-death signal (after the ids, because changing credentials clears it), then exec.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range, strverscmp */
#endif

#include "proc.h"

#include "backend.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- programs ------------------------------------------------------------------------------ */

static bool executable_in(const char *dir, const char *name, char *path, size_t cap) {
    int n = snprintf(path, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        return false;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int by_version_descending(const void *a, const void *b) {
    return strverscmp(*(const char *const *)b, *(const char *const *)a);
}

bool proc_find_program(const char *name, const char *const *dirs, char *path, size_t cap) {
    const char *env = getenv("PATH");
    if (env != NULL) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", env);
        char *save = NULL;
        for (char *dir = strtok_r(buf, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
            if (dir[0] == '/' && executable_in(dir, name, path, cap)) {
                return true;
            }
        }
    }
    for (size_t i = 0; dirs != NULL && dirs[i] != NULL; i++) {
        glob_t g;
        if (glob(dirs[i], GLOB_NOSORT, NULL, &g) != 0) {
            continue;
        }
        qsort(g.gl_pathv, g.gl_pathc, sizeof g.gl_pathv[0], by_version_descending);
        bool found = false;
        for (size_t j = 0; j < g.gl_pathc && !found; j++) {
            found = executable_in(g.gl_pathv[j], name, path, cap);
        }
        globfree(&g);
        if (found) {
            return true;
        }
    }
    return false;
}

bool proc_command_line(const char *cmd, char *out, size_t cap) {
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        return false;
    }
    bool got = fgets(out, (int)cap, f) != NULL;
    /* drain the rest so the command does not die of SIGPIPE and its status means something */
    char sink[256];
    while (fgets(sink, sizeof sink, f) != NULL) {
    }
    int status = pclose(f);
    if (!got || status != 0) {
        return false;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] != '\0';
}

int proc_server_user(const char *const *names, bool *as_user, uid_t *uid, gid_t *gid,
                     const char **name, char *err) {
    *as_user = false;
    if (geteuid() != 0) {
        return 0;
    }
    for (size_t i = 0; names[i] != NULL; i++) {
        struct passwd pw, *found = NULL;
        char buf[4096];
        if (getpwnam_r(names[i], &pw, buf, sizeof buf, &found) == 0 && found != NULL &&
            pw.pw_uid != 0) {
            *as_user = true;
            *uid = pw.pw_uid;
            *gid = pw.pw_gid;
            *name = names[i];
            return 0;
        }
    }
    return backend_fail(err, "running as root and no unprivileged account (%s%s) to run the server",
                        names[0], names[1] != NULL ? ", ..." : "");
}

/* --- ports --------------------------------------------------------------------------------- */

int proc_free_port(uint16_t *port, char *err) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return backend_fail(err, "socket for a free port: %s", strerror(errno));
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int rc = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        backend_fail(err, "bind 127.0.0.1:0 for a free port: %s", strerror(errno));
    } else if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        backend_fail(err, "getsockname for a free port: %s", strerror(errno));
    } else {
        *port = ntohs(a.sin_port);
        rc = 0;
    }
    close(fd);
    return rc;
}

/* --- children ------------------------------------------------------------------------------ */

static void child_say(const char *what, const char *arg) {
    /* write(2) only: this runs between fork and exec */
    const char *parts[] = {"stele-compare: ", what, " ", arg, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        ssize_t ignored = write(STDERR_FILENO, parts[i], strlen(parts[i]));
        (void)ignored;
    }
}

static _Noreturn void child_exec(const proc_spec_t *spec, pid_t parent) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &dfl, NULL);
    }

    int in = open("/dev/null", O_RDONLY);
    int out = open(spec->log_path != NULL ? spec->log_path : "/dev/null",
                   O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(out, STDERR_FILENO) < 0) {
        _exit(126);
    }
    close_range(3, ~0U, 0);
    if (chdir("/") != 0) {
        child_say("cannot chdir to", "/");
        _exit(126);
    }
    if (spec->as_user) {
        if (setgroups(1, &spec->gid) != 0 || setgid(spec->gid) != 0 || setuid(spec->uid) != 0) {
            child_say("cannot drop root privileges to run", spec->argv[0]);
            _exit(126);
        }
    }
    if (spec->death_signal != 0) {
        prctl(PR_SET_PDEATHSIG, spec->death_signal);
        if (getppid() != parent) {
            _exit(0); /* the benchmark is already gone */
        }
    }
    execv(spec->argv[0], (char *const *)spec->argv);
    child_say("cannot execute", spec->argv[0]);
    _exit(127);
}

int proc_start(const proc_spec_t *spec, pid_t *pid, char *err) {
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        return backend_fail(err, "fork to start %s: %s", spec->argv[0], strerror(errno));
    }
    if (child == 0) {
        child_exec(spec, parent);
    }
    *pid = child;
    return 0;
}

bool proc_running(pid_t pid, int *status) {
    int st = 0;
    pid_t r;
    do {
        r = waitpid(pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
        return true;
    }
    if (status != NULL) {
        *status = r == pid ? st : 0;
    }
    return false;
}

static void describe_status(char *buf, size_t cap, int status) {
    if (WIFEXITED(status)) {
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, cap, "wait status %d", status);
    }
}

int proc_run(const proc_spec_t *spec, int timeout_ms, const char *what, char *err) {
    pid_t pid = 0;
    if (proc_start(spec, &pid, err) != 0) {
        return -1;
    }
    int64_t deadline = monotonic_ms() + timeout_ms;
    int status = 0;
    while (proc_running(pid, &status)) {
        if (monotonic_ms() > deadline) {
            proc_stop(pid, SIGKILL, 1000);
            return backend_fail(err, "%s did not finish within %d s", what, timeout_ms / 1000);
        }
        sleep_ms(10);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    char how[64];
    describe_status(how, sizeof how, status);
    backend_fail(err, "%s failed (%s)", what, how);
    if (spec->log_path != NULL) {
        proc_append_log_tail(err, spec->log_path);
    }
    return -1;
}

int proc_wait_tcp(uint16_t port, pid_t pid, int timeout_ms, const char *what, char *err) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return backend_fail(err, "socket to reach %s: %s", what, strerror(errno));
        }
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) {
            return 0;
        }
        int status;
        if (!proc_running(pid, &status)) {
            char how[64];
            describe_status(how, sizeof how, status);
            return backend_fail(err, "%s exited before listening on 127.0.0.1:%u (%s)", what,
                                (unsigned)port, how);
        }
        if (monotonic_ms() > deadline) {
            return backend_fail(err, "%s did not listen on 127.0.0.1:%u within %d s", what,
                                (unsigned)port, timeout_ms / 1000);
        }
        sleep_ms(10);
    }
}

int proc_stop(pid_t pid, int sig, int timeout_ms) {
    if (!proc_running(pid, NULL)) {
        return 0;
    }
    kill(pid, sig);
    int64_t deadline = monotonic_ms() + timeout_ms;
    while (proc_running(pid, NULL)) {
        if (monotonic_ms() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
            return -1;
        }
        sleep_ms(5);
    }
    return 0;
}

/* --- resident memory ------------------------------------------------------------------------ */

/* Reads PPid and VmRSS (KiB) from /proc/<pid>/status; false when the process is gone. A kernel
 * thread or a zombie has no VmRSS line: *rss is then 0. */
static bool read_status(pid_t pid, pid_t *ppid, uint64_t *rss) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return false;
    }
    *ppid = 0;
    *rss = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        long v;
        unsigned long long kib;
        if (sscanf(line, "PPid: %ld", &v) == 1) {
            *ppid = (pid_t)v;
        } else if (sscanf(line, "VmRSS: %llu", &kib) == 1) {
            *rss = kib;
        }
    }
    fclose(f);
    return true;
}

uint64_t proc_pid_rss_kib(pid_t pid) {
    pid_t ppid;
    uint64_t rss;
    return read_status(pid, &ppid, &rss) ? rss : 0;
}

typedef struct proc_entry {
    pid_t pid, ppid;
    uint64_t rss;
    bool in_tree;
} proc_entry_t;

uint64_t proc_tree_rss_kib(pid_t root) {
    uint64_t total = proc_pid_rss_kib(root);
    if (total == 0) {
        return 0;
    }
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return total;
    }
    proc_entry_t *all = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) {
            continue;
        }
        proc_entry_t p = {.pid = (pid_t)strtol(e->d_name, NULL, 10)};
        if (p.pid == root || !read_status(p.pid, &p.ppid, &p.rss)) {
            continue;
        }
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 256;
            proc_entry_t *grown = realloc(all, grown_cap * sizeof *grown);
            if (grown == NULL) {
                break;
            }
            all = grown;
            cap = grown_cap;
        }
        all[n++] = p;
    }
    closedir(d);
    /* a process is in the tree when its parent is root or in the tree: passes until none joins */
    for (bool joined = true; joined;) {
        joined = false;
        for (size_t i = 0; i < n; i++) {
            if (all[i].in_tree) {
                continue;
            }
            bool in = all[i].ppid == root;
            for (size_t j = 0; j < n && !in; j++) {
                in = all[j].in_tree && all[j].pid == all[i].ppid;
            }
            if (in) {
                all[i].in_tree = joined = true;
                total += all[i].rss;
            }
        }
    }
    free(all);
    return total;
}

void proc_append_log_tail(char *err, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char buf[2048];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)(sizeof buf - 1) ? size - (off_t)(sizeof buf - 1) : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    if (n == 0) {
        return;
    }
    char *line = strrchr(buf, '\n');
    line = line != NULL ? line + 1 : buf;
    size_t used = strlen(err);
    if (used + 3 < BACKEND_ERR_CAP) {
        int room = (int)(BACKEND_ERR_CAP - used - 3); /* the line is cut to what fits */
        snprintf(err + used, BACKEND_ERR_CAP - used, ": %.*s", room, line);
    }
}
