/* How many CPUs this process may really use: the ones its affinity mask
 * allows (taskset, a container's cpuset), capped by a cgroup CPU quota
 * (docker --cpus, systemd CPUQuota=, a CI runner's limit). A thread count
 * above that only makes threads wait for each other's time slices. */
#ifndef DX_UTIL_CPUS_H
#define DX_UTIL_CPUS_H

/* The CPUs in the affinity mask, capped by the cgroup quota rounded up;
 * at least 1. Reads /proc/self/mountinfo and /proc/self/cgroup. */
int dx_cpus_usable(void);

/* The tightest CPU quota, in CPUs (quota / period), over the process's
 * cgroup and its ancestors, cgroup v2 (cpu.max) and v1 (the cpu
 * controller's cpu.cfs_quota_us and cpu.cfs_period_us) alike, read through
 * the given mountinfo and cgroup files (/proc/self/...; tests pass fakes).
 * 0 when there is no quota or the files cannot be read. */
double dx_cgroup_cpu_limit(const char *mountinfo_path, const char *cgroup_path);

#endif
