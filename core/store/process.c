/* Is the process behind a RUNNING run still there? A run records its host,
 * its pid and a token that tells that process from a later one given the
 * same pid: the boot's id and the process's start time in clock ticks since
 * boot (/proc/PID/stat, field 22), which together never repeat. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/internal.h"

static bool read_line(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(buf, (int)len, f) != NULL;
  fclose(f);
  if (ok) buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

bool dx_store_process_token(int64_t pid, char *buf, size_t len) {
  char path[64], boot[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
  if (!read_line("/proc/sys/kernel/random/boot_id", boot, sizeof boot) ||
      !read_line(path, stat, sizeof stat))
    return false;
  /* The command name (field 2) may hold spaces and parentheses: count the
   * fields from the last ')', after which field 3 begins. */
  const char *p = strrchr(stat, ')');
  if (!p) return false;
  unsigned long long start = 0;
  int field = 2;
  for (; *p && field < 22; p++)
    if (*p == ' ') field++;
  if (field != 22 || sscanf(p, "%llu", &start) != 1) return false;
  snprintf(buf, len, "%s/%llu", boot, start);
  return true;
}

dx_process_state dx_store_process_state(const char *host, int64_t pid, const char *token) {
  char here[256] = "", now[128];
  if (!host || pid <= 0 || !token || gethostname(here, sizeof here - 1) != 0 ||
      strcmp(here, host) != 0)
    return DX_PROCESS_UNKNOWN;
  if (!dx_store_process_token(pid, now, sizeof now)) return DX_PROCESS_GONE;
  return strcmp(now, token) == 0 ? DX_PROCESS_ALIVE : DX_PROCESS_GONE;
}
