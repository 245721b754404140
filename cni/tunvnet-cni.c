/* tunvnet-cni: a CNI plugin (spec 1.0.0) that attaches a container's network namespace
 * to the node's tunvnetd, so that the container gets VIPs that stay its own when it is
 * migrated, like any tunvnet job.
 *
 * One run, one command (CNI_COMMAND): the configuration and environment are checked whole
 * (cni/cniconf.c), then ADD attaches, DEL detaches, CHECK compares with the daemon's view,
 * VERSION answers; the result or the spec's error object goes to stdout, logs to stderr.
 * An attachment is also written to DATADIR/NAME/CONTAINERID-IFNAME, so that DEL knows
 * what to undo even without a prevResult. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/cniconf.h"
#include "cni/cnilink.h"
#include "ctl/vnetctl.h"

#define CONF_MAX (1u << 20) /* a network configuration longer than this is refused */

struct run {
	struct cniconf c;
	char msg[1024];     /* the error object's msg */
	char details[1024]; /* and its details */
};

static int emit(json_t *o)
{
	int rc = 0;

	if (!o || json_dumpf(o, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		rc = 1;
	json_decref(o);
	return rc;
}

/* The error object on stdout; exit status 1. */
static int error_out(struct run *r, enum cni_code code)
{
	fprintf(stderr, "tunvnet-cni: %s%s%s\n", r->msg, r->details[0] ? ": " : "", r->details);
	emit(cniconf_error(r->c.version, code, r->msg, r->details));
	return 1;
}

static enum cni_code __attribute__((format(printf, 3, 4)))
say(struct run *r, enum cni_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* A failed control request as a CNI error: the daemon's refusal (100, its error name in
 * details), or the daemon not there / not answering (11: try again later). */
static enum cni_code request_failed(struct run *r, const char *what, int rc, const char *m)
{
	if (rc > 0) {
		snprintf(r->details, sizeof(r->details), "tunvnetd: %s", ctlmsg_err_name(rc));
		return say(r, CNI_ERR_DAEMON, "%s: %s", what, m ? m : ctlmsg_strerror(rc));
	}
	snprintf(r->details, sizeof(r->details), "is tunvnetd running on this node with "
		 "control socket %s? (\"socket\" in the network configuration)", r->c.socket);
	return say(r, CNI_ERR_TRY_AGAIN, "%s: %s", what, m ? m : strerror(-rc));
}

static int call(struct run *r, enum ctl_cmd cmd, const struct vip *vip, int family,
		json_t **res, char **m)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = cmd, .family = family };

	if (vip) {
		req.vip = *vip;
		req.has_vip = true;
	}
	if (cmd == CTL_CMD_ATTACH)
		snprintf(req.netns, sizeof(req.netns), "%s", r->c.netns);
	return client_request(r->c.socket, &req, res, m);
}

static int detach(struct run *r, const struct vip *v)
{
	json_t *res = NULL;
	char *m = NULL;
	int rc = call(r, CTL_CMD_DETACH, v, 0, &res, &m);

	json_decref(res);
	free(m);
	return rc;
}

/* ---- the attachment's record: DATADIR/NAME/CONTAINERID-IFNAME ---- */

static int record_path(const struct run *r, char *buf, size_t size, bool make_dir)
{
	int n = snprintf(buf, size, "%s/%s", r->c.data_dir, r->c.name);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (make_dir) {
		char *p = buf + 1;

		for (; (p = strchr(p, '/')); p++) {
			*p = '\0';
			mkdir(buf, 0700);
			*p = '/';
		}
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	n = snprintf(buf, size, "%s/%s/%s-%s", r->c.data_dir, r->c.name, r->c.container,
		     r->c.ifname);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void record_write(const struct run *r, const struct vip *vips, int n, bool altname)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], b[VIP_STRLEN];
	json_t *o, *list = json_array();
	int err;

	for (int i = 0; i < n; i++)
		json_array_append_new(list, json_string(vip_fmt(&vips[i], b)));
	o = json_pack("{s:s, s:s, s:o, s:b}", "socket", r->c.socket, "netns", r->c.netns,
		      "vips", list, "altname", altname);
	err = record_path(r, path, sizeof(path), true);
	if (err == 0) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		err = json_dump_file(o, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0
			      ? -EIO : 0;
	}
	if (err < 0) /* DEL still works from prevResult and the daemon's job list */
		fprintf(stderr, "tunvnet-cni: warning: cannot record the attachment in %s\n",
			r->c.data_dir);
	json_decref(o);
}

/* ---- ADD ---- */

static enum cni_code undo(struct run *r, const struct vip *vips, int n, enum cni_code code)
{
	while (n-- > 0)
		detach(r, &vips[n]);
	return code;
}

static enum cni_code add(struct run *r, json_t **out)
{
	struct vip got[CNICONF_MAX_VIPS];
	int n = 0, want, rc, tun;
	bool alt = strcmp(r->c.ifname, CNICONF_TUN_IFNAME) != 0;
	char b[VIP_STRLEN];

	rc = cnilink_ifindex(r->c.netns, CNICONF_TUN_IFNAME);
	if (rc < 0)
		return say(r, rc == -ENOENT ? CNI_ERR_UNKNOWN_CONTAINER : CNI_ERR_ENV,
			   "CNI_NETNS %s: %s", r->c.netns, rc == -ENOTSUP
			   ? "not a network namespace" : strerror(-rc));
	if (rc > 0)
		return say(r, CNI_ERR_INTERFACE, "%s already has a %s: tunvnet attaches a "
			   "namespace once", r->c.netns, CNICONF_TUN_IFNAME);
	if (alt && cnilink_ifindex(r->c.netns, r->c.ifname) > 0)
		return say(r, CNI_ERR_INTERFACE, "an interface %s already exists in %s",
			   r->c.ifname, r->c.netns);

	want = r->c.nvips ? r->c.nvips : r->c.nfamilies ? r->c.nfamilies : 1;
	for (n = 0; n < want; n++) {
		const struct vip *v = r->c.nvips ? &r->c.vips[n] : NULL;
		int fam = r->c.nvips || !r->c.nfamilies ? 0 : r->c.families[n];
		json_t *res = NULL;
		char *m = NULL, what[VIP_STRLEN + 32];
		const char *vs;

		snprintf(what, sizeof(what), "attach %s", v ? vip_fmt(v, b) : "a pool VIP");
		rc = call(r, CTL_CMD_ATTACH, v, fam, &res, &m);
		vs = json_string_value(json_object_get(res, "vip"));
		if (rc == 0 && (!vs || vip_parse(vs, &got[n]) < 0))
			rc = CTL_ERR_BAD_JSON;
		json_decref(res);
		if (rc != 0) {
			enum cni_code e = request_failed(r, what, rc, m);

			free(m);
			return undo(r, got, n, e);
		}
		free(m);
	}
	if (alt) {
		tun = cnilink_ifindex(r->c.netns, CNICONF_TUN_IFNAME);
		rc = tun > 0 ? cnilink_altname(r->c.netns, tun, r->c.ifname, 1) : -ENODEV;
		if (rc < 0) {
			snprintf(r->details, sizeof(r->details), "tunvnetd's TUN is %s; the runtime's "
				 "name is added as an alternative name (Linux 5.5 and later)",
				 CNICONF_TUN_IFNAME);
			return undo(r, got, n, say(r, CNI_ERR_INTERFACE, "cannot name %s %s in "
					"%s: %s", CNICONF_TUN_IFNAME, r->c.ifname, r->c.netns,
					strerror(-rc)));
		}
	}
	record_write(r, got, n, alt);
	*out = cniconf_result(&r->c, got, n);
	return *out ? CNI_OK : undo(r, got, n, say(r, CNI_ERR_IO, "out of memory"));
}

/* ---- DEL ---- */

/* What ADD recorded, if it did: the VIPs and the namespace they were attached in. */
static int record_read(struct run *r, struct vip *vips, int max, char *netns, size_t nsize)
{
	char path[PATH_MAX];
	json_t *o, *v;
	size_t i;
	int n = 0;

	if (record_path(r, path, sizeof(path), false) < 0 ||
	    !(o = json_load_file(path, 0, NULL)))
		return 0;
	json_array_foreach(json_object_get(o, "vips"), i, v)
		if (n < max && json_is_string(v) && vip_parse(json_string_value(v), &vips[n]) == 0)
			n++;
	v = json_object_get(o, "netns");
	if (json_is_string(v) && strlen(json_string_value(v)) < nsize)
		strcpy(netns, json_string_value(v));
	json_decref(o);
	return n;
}

/* Whether the daemon's name for a job's namespace (as it was given to attach: a name
 * under /run/netns or a path) is the namespace at path: the same text, or the same
 * namespace file (one namespace has many paths: /run/netns/X, /proc/PID/ns/net). */
static bool same_netns(const char *job_ns, const char *path)
{
	char buf[PATH_MAX];
	struct stat a, b;

	if (strcmp(job_ns, path) == 0)
		return true;
	if (!strchr(job_ns, '/')) {
		if (snprintf(buf, sizeof(buf), "/run/netns/%s", job_ns) >= (int)sizeof(buf))
			return false;
		job_ns = buf;
	}
	return stat(job_ns, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static bool in_list(const struct vip *v, const struct vip *list, int n)
{
	for (int i = 0; i < n; i++)
		if (vip_equal(v, &list[i]))
			return true;
	return false;
}

/* Detaches from the job in netns the VIPs of mine (all of its VIPs when mine is empty).
 * A VIP attached elsewhere now (the container moved, the VIP was reused) is not ours to
 * take. */
static enum cni_code del_from_jobs(struct run *r, const char *netns, const struct vip *mine,
				   int nmine)
{
	json_t *jobs = NULL, *job, *v;
	char *m = NULL;
	size_t i, k;
	int rc;

	rc = call(r, CTL_CMD_JOBS, NULL, 0, &jobs, &m);
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		/* no daemon runs: nothing is attached anywhere (TUNs die with their daemon's
		 * state until restart survival lands; see tunvnet-cni(8)) */
		free(m);
		fprintf(stderr, "tunvnet-cni: DEL: no tunvnetd on %s: nothing to detach\n",
			r->c.socket);
		return CNI_OK;
	}
	if (rc != 0) {
		enum cni_code e = request_failed(r, "DEL: list the jobs", rc, m);

		free(m);
		return e;
	}
	free(m);
	json_array_foreach(jobs, i, job) {
		const char *ns = json_string_value(json_object_get(job, "netns"));

		if (!ns || !same_netns(ns, netns))
			continue;
		json_array_foreach(json_object_get(job, "vips"), k, v) {
			struct vip vip;
			const char *s = json_string_value(v);
			char buf[VIP_STRLEN + 8];

			if (!s || strlen(s) >= sizeof(buf))
				continue;
			strcpy(buf, s);
			buf[strcspn(buf, "/")] = '\0';
			if (vip_parse(buf, &vip) < 0 || (nmine && !in_list(&vip, mine, nmine)))
				continue;
			rc = detach(r, &vip);
			if (rc != 0 && rc != CTL_ERR_NO_SUCH_VIP) {
				json_decref(jobs);
				return request_failed(r, "DEL: detach", rc, NULL);
			}
		}
	}
	json_decref(jobs);
	return CNI_OK;
}

static enum cni_code del(struct run *r)
{
	struct vip mine[CNICONF_MAX_VIPS];
	char netns[PATH_MAX] = "", path[PATH_MAX];
	enum cni_code e;
	int n, tun;

	n = record_read(r, mine, CNICONF_MAX_VIPS, netns, sizeof(netns));
	if (n == 0 && r->c.prev)
		n = cniconf_result_vips(r->c.prev, mine, CNICONF_MAX_VIPS);
	if (!netns[0])
		snprintf(netns, sizeof(netns), "%s", r->c.netns);
	if (!netns[0] && n == 0)
		return CNI_OK; /* nothing known: nothing was attached by us */
	if (netns[0]) {
		e = del_from_jobs(r, netns, mine, n);
		if (e)
			return e;
	}
	/* if the daemon kept the TUN (a VIP not ours is still on it), our name goes */
	if (netns[0] && strcmp(r->c.ifname, CNICONF_TUN_IFNAME) != 0 &&
	    (tun = cnilink_ifindex(netns, CNICONF_TUN_IFNAME)) > 0)
		cnilink_altname(netns, tun, r->c.ifname, 0);
	if (record_path(r, path, sizeof(path), false) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		fprintf(stderr, "tunvnet-cni: warning: cannot remove %s: %s\n", path,
			strerror(errno));
	return CNI_OK;
}

/* ---- CHECK ---- */

static enum cni_code check(struct run *r)
{
	struct vip want[CNICONF_MAX_VIPS];
	json_t *jobs = NULL, *job, *mine = NULL, *v;
	char *m = NULL, b[VIP_STRLEN];
	int n, rc, i;
	size_t k;

	n = cniconf_result_vips(r->c.prev, want, CNICONF_MAX_VIPS);
	rc = cnilink_ifindex(r->c.netns, r->c.ifname);
	if (rc < 0)
		return say(r, CNI_ERR_UNKNOWN_CONTAINER, "CNI_NETNS %s: %s", r->c.netns,
			   strerror(-rc));
	if (rc == 0)
		return say(r, CNI_ERR_NOT_ATTACHED, "no interface %s in %s", r->c.ifname,
			   r->c.netns);
	rc = call(r, CTL_CMD_JOBS, NULL, 0, &jobs, &m);
	if (rc != 0) {
		enum cni_code e = request_failed(r, "CHECK: list the jobs", rc, m);

		free(m);
		return e;
	}
	free(m);
	json_array_foreach(jobs, k, job) {
		const char *ns = json_string_value(json_object_get(job, "netns"));

		if (ns && same_netns(ns, r->c.netns))
			mine = job;
	}
	if (!mine) {
		json_decref(jobs);
		return say(r, CNI_ERR_NOT_ATTACHED, "%s is not attached to tunvnetd on %s",
			   r->c.netns, r->c.socket);
	}
	for (i = 0; i < n; i++) {
		bool found = false;

		vip_fmt(&want[i], b);
		json_array_foreach(json_object_get(mine, "vips"), k, v) {
			const char *s = json_string_value(v);

			if (s && strncmp(s, b, strlen(b)) == 0 && (!s[strlen(b)] || s[strlen(b)] == '/'))
				found = true;
		}
		if (!found) {
			json_decref(jobs);
			return say(r, CNI_ERR_NOT_ATTACHED, "VIP %s is not attached to %s", b,
				   r->c.netns);
		}
	}
	json_decref(jobs);
	return CNI_OK;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *bigger;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap >= CONF_MAX)
				break;
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		r = read(STDIN_FILENO, buf + n, cap - n);
		if (r == 0) {
			*len = n;
			return buf;
		}
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			n += (size_t)r;
	}
	free(buf);
	return NULL;
}

static void usage(void)
{
	fputs("tunvnet-cni: a CNI plugin (spec " CNICONF_VERSION "), run by a container runtime "
	      "with\nCNI_COMMAND=ADD|DEL|CHECK|VERSION in the environment and the network\n"
	      "configuration on standard input. See tunvnet-cni(8).\n", stderr);
}

int main(int argc, char **argv)
{
	struct run r = { 0 };
	enum cni_code e;
	json_t *out = NULL;
	size_t len = 0;
	char *conf;

	if (argc > 1 || (isatty(STDIN_FILENO) && !getenv("CNI_COMMAND"))) {
		usage();
		return argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
	}
	conf = read_stdin(&len);
	if (!conf) {
		say(&r, CNI_ERR_IO, "cannot read the network configuration from stdin");
		return error_out(&r, CNI_ERR_IO);
	}
	e = cniconf_parse(&r.c, getenv, conf, len, r.msg, sizeof(r.msg));
	free(conf);
	if (e)
		return error_out(&r, e);
	switch (r.c.cmd) {
	case CNI_CMD_VERSION:
		return emit(cniconf_version_result(r.c.version));
	case CNI_CMD_ADD:
		e = add(&r, &out);
		break;
	case CNI_CMD_DEL:
		e = del(&r);
		break;
	case CNI_CMD_CHECK:
		e = check(&r);
		break;
	}
	if (e) {
		cniconf_free(&r.c);
		return error_out(&r, e);
	}
	cniconf_free(&r.c);
	return out ? emit(out) : 0;
}
