/* Network namespaces of jobs: opening them by name or path, and running a function
 * inside one. */
#include "tunvnet/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>

#include "tunvnet/log.h"

#define NETNS_RUN_DIR "/run/netns/"

/* Builds the path of a spec: a name (no '/') lives under /run/netns. A name must be one
 * path component, so "." and anything with ".." is refused rather than resolved. */
static int spec_path(const char *spec, char *path, size_t size)
{
	int n;

	if (!spec || !*spec)
		return -EINVAL;
	if (strchr(spec, '/'))
		n = snprintf(path, size, "%s", spec);
	else if (strcmp(spec, ".") == 0 || strstr(spec, ".."))
		return -EINVAL;
	else
		n = snprintf(path, size, NETNS_RUN_DIR "%s", spec);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

bool netns_is_named(const char *spec)
{
	const char *name = spec;
	char path[PATH_MAX];

	if (spec && strncmp(spec, NETNS_RUN_DIR, strlen(NETNS_RUN_DIR)) == 0)
		name = spec + strlen(NETNS_RUN_DIR);
	return name && !strchr(name, '/') && spec_path(name, path, sizeof(path)) == 0;
}

/* Kernels before 4.11 have no NS_GET_NSTYPE: there the file must at least live on nsfs,
 * and its /proc/self/fd link reads "net:[INODE]" for a network namespace. */
static int check_nsfs(int fd)
{
	struct statfs sfs;
	char link[64], target[64];
	ssize_t n;

	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	if ((unsigned long)sfs.f_type != (unsigned long)NSFS_MAGIC)
		return -EINVAL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 0; /* no /proc: nsfs is all we can tell */
	target[n] = '\0';
	return strncmp(target, "net:", 4) == 0 ? 0 : -EINVAL;
}

static int check_netns(int fd)
{
	int type = ioctl(fd, NS_GET_NSTYPE);

	if (type >= 0)
		return type == CLONE_NEWNET ? 0 : -EINVAL;
	/* ENOTTY is also what any non-nsfs file answers; check_nsfs tells them apart. */
	if (errno == ENOTTY || errno == EINVAL)
		return check_nsfs(fd);
	return -errno;
}

int netns_open(const char *spec, struct netns_id *id)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, err;

	err = spec_path(spec, path, sizeof(path));
	if (err < 0)
		return err;
	/* O_NONBLOCK: a FIFO (or a device) named by mistake or by a peer must not hang the
	 * daemon in open(); check_netns refuses it then. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	err = check_netns(fd);
	if (err < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (id) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int netns_run(int netns_fd, int (*fn)(void *arg), void *arg)
{
	int self, ret;

	/* thread-self, not self: setns acts on the calling thread only. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(self);
		return ret;
	}
	ret = fn(arg);
	/* Staying in the job's namespace would make every later socket of the daemon
	 * (substrate, control) live there: there is no sane way to go on. */
	if (setns(self, CLONE_NEWNET) < 0) {
		log_warn("netns: cannot switch back to the daemon's network namespace");
		abort();
	}
	close(self);
	return ret;
}
