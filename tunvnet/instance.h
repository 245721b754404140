/* One daemon per set of resources. Two tunvnetd on one host must not share a state
 * directory, a control socket or a listen address: the second would take the first's
 * socket file, mix its state and fail to bind late, far from the cause. The daemon holds
 * an flock(2) on STATE_DIR/tunvnetd.lock, holding its PID and configuration path, for
 * its whole life; a live control socket is refused by control.c. `tunvnetd -n` asks the
 * same questions without taking anything, so a clashing configuration is caught before
 * it is started. */
#ifndef TUNVNET_INSTANCE_H
#define TUNVNET_INSTANCE_H

#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tunvnet/config.h"

#define INSTANCE_LOCK_FILE "tunvnetd.lock"

/* The daemon that holds a state directory's lock, as its lock file says. */
struct instance_owner {
	pid_t pid;             /* 0 if the file did not say */
	char config[PATH_MAX]; /* its configuration file, absolute; "" if unknown */
};

/* Takes the lock of cfg->state_dir (which must exist) for as long as the process lives
 * and writes our PID and cfg_path into it. Returns 0 with *fd (to keep open), -EBUSY
 * with *owner when another process holds it, or -errno. */
int instance_lock(const struct config *cfg, const char *cfg_path, int *fd,
		  struct instance_owner *owner);

/* What the daemon does at start-up, after making cfg->state_dir: instance_lock, then
 * instance_probe_listen; logs why it must not start (naming the daemon that holds the
 * state directory, or saying that the listen address is not one of this namespace) and
 * returns -errno then. *fd is the lock, kept open until the process ends. */
int instance_start(const struct config *cfg, const char *cfg_path, int *fd);

/* Whether a daemon of cfg could bind its listen address in this network namespace now:
 * 0, -EADDRNOTAVAIL (no interface here has the address: the daemon runs in the wrong
 * namespace), -EADDRINUSE, or another -errno. Binds and closes a probe socket. */
int instance_probe_listen(const struct sockaddr_storage *listen);

/* For `tunvnetd -n`: compares cfg with the daemons running on this host (state_dir lock,
 * live control socket, listen address in this namespace) and prints one line per clash
 * to errs, or a note when the daemon running is this configuration's own. Takes nothing.
 * Returns the number of clashes. */
int instance_check(const struct config *cfg, const char *cfg_path, FILE *errs);

#endif
