/* tunvnetd: the per-node daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "tunvnet/config.h"
#include "tunvnet/daemon.h"
#include "tunvnet/instance.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/peer.h"

#define DEFAULT_CONFIG "/etc/tunvnet/tunvnetd.conf"

static void usage(FILE *f)
{
	fprintf(f,
"usage: tunvnetd [-c FILE] [-n] [-d] [-v]... [-h]\n"
"\n"
"The tunvnet node daemon: holds the TUN devices of the jobs on this node, forwards\n"
"their packets to the nodes hosting the destination VIPs, and serves vnetctl.\n"
"\n"
"  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
"  -n, --check        check the configuration, print every error as\n"
"                     FILE:LINE: reason, and exit; with -v, print the effective\n"
"                     configuration (every default filled in) when it is good\n"
"  -d, --detach       detach from the terminal and log to syslog\n"
"                     (default: foreground, logging to stderr)\n"
"  -v, --verbose      more verbose logging (twice for debug)\n"
"  -h, --help         this help\n"
"\n"
"Signals: SIGTERM, SIGINT stop, keeping every job: its TUN device stays and the\n"
"state file (STATE_DIR/state.json) names it, so a restarted daemon takes it up\n"
"again and the jobs' connections survive; SIGUSR2 tears down: every job is\n"
"detached (VIPs withdrawn, TUNs destroyed), then the daemon stops; SIGHUP re-reads\n"
"the configuration's seed peers and revocation list.\n"
"Exit status: 0 after a clean stop or a good check, 1 on a bad configuration or a\n"
"start-up failure, 2 on a usage error. See tunvnetd(8).\n");
}

static void on_stop(int signo, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d: stopping", signo);
	loop_stop(d->loop);
}

/* A stop that keeps nothing: the jobs are detached for good first. */
static void on_teardown(int signo, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d: tearing down every job, then stopping", signo);
	node_teardown(d);
	loop_stop(d->loop);
}

static void on_hup(int signo, void *arg)
{
	struct daemon *d = arg;
	struct config *nc = calloc(1, sizeof(*nc));
	int n;

	if (!nc)
		return;
	n = config_load(d->cfg_path, nc, stderr);
	if (n != 0) {
		log_warnx("SIGHUP: %s has %d error(s); keeping the running configuration",
			  d->cfg_path, n < 0 ? 1 : n);
	} else {
		log_info("SIGHUP: reloading seed peers and the revocation list from %s",
			 d->cfg_path);
		peer_reload(d, nc);
	}
	free(nc);
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	const char *path = DEFAULT_CONFIG;
	bool check = false, detach = false;
	int verbose = LOG_LEVEL_INFO, c, n, err, rc = 1, lock_fd = -1;

	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "detach", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "c:ndvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'n': check = true; break;
		case 'd': detach = true; break;
		case 'v': verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tunvnetd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("tunvnetd", false, verbose);
	d.cfg_path = path;
	n = config_load(path, &d.cfg, stderr);
	if (n != 0) {
		if (n > 0)
			fprintf(stderr, "tunvnetd: %s: %d error(s)\n", path, n);
		return 1;
	}
	if (check) {
		n = instance_check(&d.cfg, path, stderr);
		if (n > 0)
			fprintf(stderr, "tunvnetd: %s clashes with a running daemon\n", path);
		else
			printf("%s: configuration OK\n", path);
		if (n <= 0 && verbose > LOG_LEVEL_INFO) {
			printf("# the effective configuration, defaults filled in\n");
			config_print(&d.cfg, stdout);
		}
		return n > 0;
	}
	if (detach) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init("tunvnetd", true, verbose);
	}
	signal(SIGPIPE, SIG_IGN);
	{
		/* Two fds per job (TUN, namespace): lift the soft limit as far as allowed. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	srandom((unsigned)loop_clock_ms() ^ (unsigned)getpid());
	err = mkdirs(d.cfg.state_dir);
	if (err < 0) {
		errno = -err;
		log_warn("state directory %s", d.cfg.state_dir);
		return 1;
	}
	if (instance_start(&d.cfg, path, &lock_fd) < 0)
		return 1;
	err = node_init(&d);
	if (err < 0) {
		errno = -err;
		log_warn("cannot set up the daemon");
		return 1;
	}
	if (loop_signal_add(d.loop, SIGTERM, on_stop, &d) < 0 ||
	    loop_signal_add(d.loop, SIGINT, on_stop, &d) < 0 ||
	    loop_signal_add(d.loop, SIGUSR2, on_teardown, &d) < 0 ||
	    loop_signal_add(d.loop, SIGHUP, on_hup, &d) < 0)
		fatal("signals");
	if (node_start(&d) == 0) {
		log_info("node %s up: control socket %s", d.cfg.node, d.cfg.ctl_socket);
		sd_notify(0, "READY=1"); /* Type=notify in the systemd unit; a no-op elsewhere */
		if (loop_run(d.loop) < 0)
			log_warn("event loop");
		else
			rc = 0;
		sd_notify(0, "STOPPING=1");
	}
	node_stop(&d);
	node_free(&d);
	if (lock_fd >= 0)
		close(lock_fd); /* another daemon may take this state_dir now */
	log_info("stopped");
	return rc;
}
