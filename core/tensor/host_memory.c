/* How much more host memory this process can take, asked before each
 * parameter is allocated: Linux hands out memory it does not have and kills
 * the process when the pages are touched, so a model too large for the
 * machine must be refused by its size, before its weights are initialised. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tensor/internal.h"

/* "MemAvailable:  123456 kB" from /proc/meminfo, in bytes; SIZE_MAX if absent. */
static size_t available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return SIZE_MAX;
  char line[128];
  unsigned long long kb = 0;
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
  fclose(f);
  return found ? (size_t)kb << 10 : SIZE_MAX;
}

/* What the address-space limit (ulimit -v) leaves; SIZE_MAX without one. */
static size_t address_space_left(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  bool ok = f && fscanf(f, "%llu", &pages) == 1;
  if (f) fclose(f);
  size_t used = ok ? (size_t)pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
  return used < rl.rlim_cur ? (size_t)rl.rlim_cur - used : 0;
}

size_t dx_host_memory_left(void) {
  size_t a = available(), b = address_space_left();
  return a < b ? a : b;
}

const char *dx_bytes_str(size_t bytes, char *buf, size_t len) {
  static const char *const unit[] = {"bytes", "kB", "MB", "GB", "TB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1000 && u < 4)
    v /= 1000, u++;
  snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
  return buf;
}
