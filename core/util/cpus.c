#include "util/cpus.h"

#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATHLEN 1024

/* Is word one of the comma-separated words of list ("rw,cpu,cpuacct")? */
static bool has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, word, n) == 0) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

/* The root (the cgroup mounted there) and the mount point of the v2
 * hierarchy, or of the v1 hierarchy that holds the cpu controller. A
 * mountinfo line (proc(5)) reads
 *   id parent major:minor root mountpoint options [optional...] - fstype source superoptions */
static bool find_mount(const char *mountinfo, bool v2, char *root, char *mount) {
  FILE *f = fopen(mountinfo, "r");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    *sep = '\0';
    char fstype[64], super[1024];
    if (sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2) continue;
    bool match = v2 ? strcmp(fstype, "cgroup2") == 0
                    : strcmp(fstype, "cgroup") == 0 && has_word(super, "cpu");
    found = match && sscanf(line, "%*s %*s %*s %1023s %1023s", root, mount) == 2;
  }
  fclose(f);
  return found;
}

/* The process's cgroup path in that hierarchy, from /proc/self/cgroup:
 * "0::/path" for v2, "N:cpu,cpuacct:/path" for v1. */
static bool find_cgroup(const char *cgroup, bool v2, char *path) {
  FILE *f = fopen(cgroup, "r");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strlen(c2 + 1) >= PATHLEN) continue;
    *c1 = *c2 = '\0';
    found = v2 ? strcmp(line, "0") == 0 && c1[1] == '\0' : has_word(c1 + 1, "cpu");
    if (found) strcpy(path, c2 + 1);
  }
  fclose(f);
  return found;
}

static bool read_int(const char *dir, const char *file, long long *v) {
  char p[2 * PATHLEN + 32];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  FILE *f = fopen(p, "r");
  if (!f) return false;
  bool ok = fscanf(f, "%lld", v) == 1;
  fclose(f);
  return ok;
}

/* The quota set on one cgroup folder, in CPUs; 0 for none. v2's cpu.max is
 * "max PERIOD" or "QUOTA PERIOD"; v1's cfs quota is -1 for none. */
static double folder_limit(const char *dir, bool v2) {
  long long quota = 0, period = 0;
  if (v2) {
    char p[2 * PATHLEN + 32], q[32];
    snprintf(p, sizeof p, "%s/cpu.max", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    bool ok = fscanf(f, "%31s %lld", q, &period) == 2;
    fclose(f);
    if (!ok || strcmp(q, "max") == 0) return 0;
    quota = strtoll(q, NULL, 10);
  } else if (!read_int(dir, "cpu.cfs_quota_us", &quota) ||
             !read_int(dir, "cpu.cfs_period_us", &period)) {
    return 0;
  }
  return quota > 0 && period > 0 ? (double)quota / (double)period : 0;
}

/* A quota on any ancestor binds too, so the walk goes from the process's
 * cgroup up to the mount point and keeps the smallest. The mount's root is
 * taken off the path first: a container usually sees its own cgroup
 * mounted as the top. When the path names folders this mount does not show
 * (a v1 container without a cgroup namespace sees the host's path), the
 * walk finds nothing below and still reads the mount point's own files. */
static double hierarchy_limit(const char *mountinfo, const char *cgroup, bool v2) {
  char root[PATHLEN], mount[PATHLEN], path[PATHLEN];
  if (!find_mount(mountinfo, v2, root, mount) || !find_cgroup(cgroup, v2, path)) return 0;
  const char *rel = path;
  size_t rl = strlen(root);
  if (strcmp(root, "/") != 0 && strncmp(path, root, rl) == 0 &&
      (path[rl] == '/' || path[rl] == '\0'))
    rel = path + rl;
  char dir[2 * PATHLEN];
  snprintf(dir, sizeof dir, "%s%s", mount, rel);
  size_t top = strlen(mount);
  double best = 0;
  for (;;) {
    double l = folder_limit(dir, v2);
    if (l > 0 && (best == 0 || l < best)) best = l;
    char *slash = strrchr(dir + top, '/');
    if (!slash) break;
    *slash = '\0';
  }
  return best;
}

double dx_cgroup_cpu_limit(const char *mountinfo_path, const char *cgroup_path) {
  /* A hybrid system mounts both; whichever holds a quota binds. */
  double a = hierarchy_limit(mountinfo_path, cgroup_path, true);
  double b = hierarchy_limit(mountinfo_path, cgroup_path, false);
  return a > 0 && (b == 0 || a < b) ? a : b;
}

int dx_cpus_usable(void) {
  int n = 0;
  cpu_set_t set;
  /* More CPUs than a cpu_set_t holds (1024) fails with EINVAL: then count them all. */
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (int)c : 1;
  }
  /* Rounded up: a quota of 1.5 CPUs still runs two threads for most of each
   * period, and half a CPU still needs a thread. */
  double limit = dx_cgroup_cpu_limit("/proc/self/mountinfo", "/proc/self/cgroup");
  if (limit > 0 && ceil(limit) < n) n = (int)ceil(limit);
  return n > 0 ? n : 1;
}
