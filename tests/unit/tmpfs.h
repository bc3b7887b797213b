/* For the full-disk tests, which mount a small tmpfs: a mount namespace of
 * the process's own, so the mount vanishes with the process whatever
 * happens. Works as root, or as anyone where unprivileged user namespaces
 * are allowed. The including file defines _GNU_SOURCE (unshare(),
 * CLONE_NEWNS) before its first #include. */
#ifndef KITH_TESTS_TMPFS_H
#define KITH_TESTS_TMPFS_H

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* Writes text to a /proc file of ours; 0 or -1. */
static inline int tmpfs_proc_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A user namespace in which we are root, for the mount namespace. */
static inline int tmpfs_user_ns(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (tmpfs_proc_write("/proc/self/uid_map", map) != 0 ||
	    tmpfs_proc_write("/proc/self/setgroups", "deny") != 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	return tmpfs_proc_write("/proc/self/gid_map", map);
}

/* Enters a mount namespace of our own, whose mounts do not propagate
 * back. 0, or -1 with errno set when this system does not let us. */
static inline int tmpfs_private_ns(void)
{
	if (unshare(CLONE_NEWNS) != 0 && tmpfs_user_ns() != 0)
		return -1;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

#endif
