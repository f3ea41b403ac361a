/*
 * machine.c -- the machine description of the benchmark reports and its JSON form.
 *
 * The filesystem is named from the mount table (the longest mount point that holds the data
 * directory), falling back to statfs's magic number, because ext4 without a journal, tmpfs and
 * overlayfs give very different sync figures and the report must say which one was measured.
 */
#include "machine.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *fs_magic_name(unsigned long magic) {
    switch (magic) {
    case 0xEF53UL: return "ext4"; /* ext2/3/4 share the magic */
    case 0x58465342UL: return "xfs";
    case 0x01021994UL: return "tmpfs";
    case 0x9123683EUL: return "btrfs";
    case 0x794C7630UL: return "overlayfs";
    case 0xF2F52010UL: return "f2fs";
    case 0x2FC12FC1UL: return "zfs";
    case 0x6969UL: return "nfs";
    default: return NULL;
    }
}

static void fs_type(const char *dir, char *out, size_t cap) {
    struct statfs sf;
    unsigned long magic = 0;
    const char *magic_name = NULL;
    if (statfs(dir, &sf) == 0) {
        magic = (unsigned long)sf.f_type;
        magic_name = fs_magic_name(magic);
    }
    char real[PATH_MAX];
    char best_type[64] = "";
    size_t best_len = 0;
    FILE *mounts = realpath(dir, real) ? fopen("/proc/self/mounts", "r") : NULL;
    if (mounts) {
        char line[4096], point[2048], type[64];
        while (fgets(line, sizeof line, mounts)) {
            if (sscanf(line, "%*s %2047s %63s", point, type) != 2) {
                continue;
            }
            size_t len = strlen(point);
            bool holds = strcmp(point, "/") == 0 ||
                         (strncmp(real, point, len) == 0 && (real[len] == '/' || real[len] == 0));
            if (holds && len >= best_len) {
                best_len = len;
                snprintf(best_type, sizeof best_type, "%s", type);
            }
        }
        fclose(mounts);
    }
    if (best_type[0]) {
        snprintf(out, cap, "%s", best_type);
    } else if (magic_name) {
        snprintf(out, cap, "%s", magic_name);
    } else {
        snprintf(out, cap, "0x%lx", magic);
    }
}

/* The value of the first line of a /proc file that starts with key, after its colon. */
static bool proc_field(const char *path, const char *key, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    char line[512];
    bool found = false;
    size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && strncmp(line, key, klen) == 0) {
            colon++;
            while (*colon == ' ' || *colon == '\t') {
                colon++;
            }
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, cap, "%s", colon);
            found = true;
        }
    }
    fclose(f);
    return found;
}

void machine_describe(const char *dir, machine_t *m) {
    memset(m, 0, sizeof *m);
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    char mem[64];
    unsigned long long kib;
    if (proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem) &&
        sscanf(mem, "%llu", &kib) == 1) {
        m->mem_bytes = kib * 1024u;
    }
    proc_field("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu);
    fs_type(dir, m->fs, sizeof m->fs);
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

void json_write_number(FILE *f, double v) {
    if (isnan(v) || isinf(v)) {
        fputs("null", f);
    } else {
        fprintf(f, "%.10g", v);
    }
}

void machine_write_json(FILE *f, const machine_t *m) {
    fprintf(f, "\"machine\":{\"cores\":%ld,\"mem_bytes\":%llu,\"fs\":", m->cores, m->mem_bytes);
    json_write_string(f, m->fs);
    fputs(",\"kernel\":", f);
    json_write_string(f, m->kernel);
    fputs(",\"cpu\":", f);
    json_write_string(f, m->cpu);
    fputs("},\"date\":", f);
    json_write_string(f, m->date);
}

void machine_print(FILE *f, const machine_t *m) {
    fprintf(f, "machine: %ld cores, %.1f GiB memory, %s filesystem, %s\n", m->cores,
            (double)m->mem_bytes / (1024.0 * 1024.0 * 1024.0), m->fs, m->kernel);
    if (m->cpu[0]) {
        fprintf(f, "cpu: %s\n", m->cpu);
    }
    fprintf(f, "date: %s\n", m->date);
}
