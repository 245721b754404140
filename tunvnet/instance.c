/* One daemon per state directory, control socket and listen address (instance.h). */
#include "tunvnet/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunvnet/addr.h"
#include "tunvnet/log.h"

static int lock_path(const struct config *cfg, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", cfg->state_dir, INSTANCE_LOCK_FILE);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* "PID\nCONFIG\n", as instance_lock writes it; a half-written file gives what it has. */
static void read_owner(int fd, struct instance_owner *o)
{
	char buf[PATH_MAX + 32], *nl;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	o->pid = (pid_t)strtol(buf, &nl, 10);
	if (*nl != '\n')
		return;
	snprintf(o->config, sizeof(o->config), "%s", nl + 1);
	o->config[strcspn(o->config, "\n")] = '\0';
}

static void abs_config(const char *cfg_path, char *out)
{
	if (!realpath(cfg_path, out))
		snprintf(out, PATH_MAX, "%s", cfg_path);
}

int instance_lock(const struct config *cfg, const char *cfg_path, int *fdp,
		  struct instance_owner *owner)
{
	char path[PATH_MAX], conf[PATH_MAX], text[PATH_MAX + 32];
	int fd, err, n;

	err = lock_path(cfg, path, sizeof(path));
	if (err < 0)
		return err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (err == -EBUSY)
			read_owner(fd, owner);
		close(fd);
		return err;
	}
	abs_config(cfg_path, conf);
	n = snprintf(text, sizeof(text), "%ld\n%s\n", (long)getpid(), conf);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		err = -errno;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

int instance_probe_listen(const struct sockaddr_storage *a)
{
	int fd, one = 1, err = 0;

	fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* as the TCP substrate binds: a port in TIME_WAIT is not a clash */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, addr_len(a)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int instance_start(const struct config *cfg, const char *cfg_path, int *fd)
{
	struct instance_owner o;
	char a[ADDR_STRLEN];
	int err;

	err = instance_lock(cfg, cfg_path, fd, &o);
	if (err == -EBUSY) {
		log_warnx("state_dir %s is in use by tunvnetd pid %ld (configuration %s): one "
			  "daemon per state directory", cfg->state_dir, (long)o.pid,
			  o.config[0] ? o.config : "unknown");
		return err;
	}
	if (err < 0) {
		errno = -err;
		log_warn("cannot lock %s/%s", cfg->state_dir, INSTANCE_LOCK_FILE);
		return err;
	}
	err = instance_probe_listen(&cfg->listen);
	if (err == -EADDRNOTAVAIL) {
		/* the bare "Cannot assign requested address" says nothing about the cause */
		log_warnx("listen %s is not an address of this network namespace: run tunvnetd "
			  "inside the node's namespace (e.g. ip netns exec NAME tunvnetd ...)",
			  addr_fmt(&cfg->listen, a));
		close(*fd);
		*fd = -1;
		return err;
	}
	return 0; /* any other failure is the substrate's to report when it binds */
}

/* The PID of the process listening on the Unix socket path, 0 if nobody listens. */
static pid_t socket_owner(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pid_t pid = 0;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return 0;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0
			      ? cred.pid : -1;
	close(fd);
	return pid;
}

int instance_check(const struct config *cfg, const char *cfg_path, FILE *errs)
{
	struct instance_owner o = { 0 };
	char path[PATH_MAX], conf[PATH_MAX], a[ADDR_STRLEN];
	bool held = false, ours = false;
	int fd, clashes = 0, err;
	pid_t sp;

	abs_config(cfg_path, conf);
	if (lock_path(cfg, path, sizeof(path)) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
			held = true;
			read_owner(fd, &o);
		}
		close(fd);
	}
	if (held && strcmp(o.config, conf) == 0) {
		ours = true;
		fprintf(errs, "%s: note: tunvnetd pid %ld is running with this configuration\n",
			cfg_path, (long)o.pid);
	} else if (held) {
		fprintf(errs, "%s: state_dir %s is in use by tunvnetd pid %ld (configuration %s)\n",
			cfg_path, cfg->state_dir, (long)o.pid, o.config[0] ? o.config : "unknown");
		clashes++;
	}
	sp = socket_owner(cfg->ctl_socket);
	if (sp != 0 && !(ours && sp == o.pid)) {
		if (sp > 0)
			fprintf(errs, "%s: control_socket %s is in use by a running tunvnetd "
				"(pid %ld)\n", cfg_path, cfg->ctl_socket, (long)sp);
		else
			fprintf(errs, "%s: control_socket %s is in use by a running tunvnetd\n",
				cfg_path, cfg->ctl_socket);
		clashes++;
	}
	if (ours)
		return clashes; /* its listen address is bound by itself */
	err = instance_probe_listen(&cfg->listen);
	addr_fmt(&cfg->listen, a);
	if (err == -EADDRINUSE) {
		fprintf(errs, "%s: listen %s is in use in this network namespace (another "
			"tunvnetd?)\n", cfg_path, a);
		clashes++;
	} else if (err == -EADDRNOTAVAIL) {
		/* Not a clash: the config may well be checked outside the node's namespace. */
		fprintf(errs, "%s: note: listen %s is not an address of this network namespace; "
			"the daemon must run in the namespace that has it (ip netns exec NAME "
			"tunvnetd ...)\n", cfg_path, a);
	}
	return clashes;
}
