/* vnetctl gc: undo what a killed vnet-up left behind.
 *
 * Every vnet-up keeps a record of what it set up in DIR/PID.state ("key=value" lines:
 * socket, netns, created, one vip= per attached VIP) and holds an flock on it while it
 * lives. A record nobody holds is a vnet-up that died without cleaning up (SIGKILL, a
 * crash, a node's OOM killer): gc detaches its VIPs through the recorded socket, deletes
 * the namespace if vnet-up had made it, and removes the record. The lock is also what
 * keeps two gc runs (two vnet-ups starting at once) from working on one record. */
#include "ctl/vnetctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_DEFAULT_DIR "/run/tunvnet/vnet-up"
#define GC_MAX_VIPS    64
#define NETNS_RUN_DIR  "/run/netns"

enum { OPT_DIR = 256 };

static const struct option gc_opts[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ NULL, 0, NULL, 0 },
};

static const struct client_doc doc = {
	.name = "gc",
	.synopsis = "gc [--dir DIR]",
	.summary =
		"Removes what a vnet-up that was killed (SIGKILL, a crash) left behind.\n"
		"Every vnet-up records the namespace and the VIPs it sets up in DIR/PID.state\n"
		"and holds a lock on that record while it runs. gc takes every record that is\n"
		"not locked any more: it detaches the record's VIPs from the daemon that\n"
		"attached them (the control socket in the record, not -s), deletes the\n"
		"namespace if vnet-up had made it (with any VIP still attached there), and\n"
		"removes the record. Records of running vnet-ups are left alone. A record\n"
		"whose daemon cannot be reached is kept for a later gc.\n"
		"\n"
		"vnet-up runs 'vnetctl gc' before it sets anything up, so the next job on a\n"
		"node cleans up after a killed one; run it by hand (or from a timer) to clean\n"
		"up sooner. Prints one line per record it removed.\n"
		"\n"
		"With --json, prints an array with one object per record it handled: pid,\n"
		"netns, created, detached (the VIPs), netns_deleted, removed and, when the\n"
		"record had to be kept, error.",
	.options = "--dir DIR             the records' directory (default " GC_DEFAULT_DIR ",\n"
		   "                      as VNET_UP_STATE_DIR for vnet-up)\n",
	.exit_ok = "every record of a dead vnet-up was cleaned up and removed (or there\n"
		   "     was none)",
	.exit_err = "a record was kept: its daemon could not be reached or refused a detach\n"
		    "     (the message says which), or DIR could not be read",
	.example = "$ vnetctl gc\n"
		   "vnet-up 4242: detached 198.19.1.1, deleted namespace vnup-4242",
};

struct record {
	long pid;
	char socket[PATH_MAX];
	char netns[PATH_MAX];
	bool created;
	char vips[GC_MAX_VIPS][VIP_STRLEN];
	int nvips;
};

/* A value that does not fit was not written by vnet-up: it is left empty. */
static void copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = 0;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void parse_record(FILE *f, const char *name, struct record *r)
{
	char line[PATH_MAX + 16];

	/* an old or foreign file: lines too long for line[] are cut, then refused by copy */

	memset(r, 0, sizeof(*r));
	r->pid = strtol(name, NULL, 10);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "socket=", 7) == 0)
			copy(r->socket, sizeof(r->socket), line + 7);
		else if (strncmp(line, "netns=", 6) == 0)
			copy(r->netns, sizeof(r->netns), line + 6);
		else if (strncmp(line, "created=", 8) == 0)
			r->created = strcmp(line + 8, "1") == 0;
		else if (strncmp(line, "vip=", 4) == 0 && r->nvips < GC_MAX_VIPS)
			copy(r->vips[r->nvips++], VIP_STRLEN, line + 4);
	}
}

/* Detaches vip through socket; a VIP no longer hosted there is what we wanted. Returns
 * 0 (done or nothing to do) or -1 with *why set (malloc'd). */
static int detach(const char *socket, const char *vip, bool *done, char **why)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_DETACH };
	json_t *res = NULL;
	char *msg = NULL;
	int r;

	*done = false;
	if (vip_parse(vip, &req.vip) < 0)
		return 0; /* a torn record line: nothing we could have attached */
	req.has_vip = true;
	r = client_request(socket, &req, &res, &msg);
	json_decref(res);
	if (r == 0 || r == CTL_ERR_NO_SUCH_VIP) {
		*done = r == 0;
		free(msg);
		return 0;
	}
	if (asprintf(why, "detach %s: %s", vip, msg ? msg : ctlmsg_strerror(r)) < 0)
		*why = NULL;
	free(msg);
	return -1;
}

/* Whatever the daemon still has attached in a namespace vnet-up made: the VIP of a
 * pool attach whose reply vnet-up never got to record. */
static int detach_namespace(const struct record *r, json_t *detached, char **why)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_JOBS };
	json_t *res = NULL, *job, *v;
	char *msg = NULL;
	size_t i, k;
	bool done;
	int rc;

	rc = client_request(r->socket, &req, &res, &msg);
	if (rc != 0) {
		if (asprintf(why, "jobs: %s", msg ? msg : ctlmsg_strerror(rc)) < 0)
			*why = NULL;
		free(msg);
		return -1;
	}
	rc = 0;
	json_array_foreach(res, i, job) {
		if (!json_is_string(json_object_get(job, "netns")) ||
		    strcmp(json_string_value(json_object_get(job, "netns")), r->netns) != 0)
			continue;
		json_array_foreach(json_object_get(job, "vips"), k, v) {
			char vip[VIP_STRLEN + 8];

			if (!json_is_string(v))
				continue;
			snprintf(vip, sizeof(vip), "%s", json_string_value(v));
			vip[strcspn(vip, "/")] = '\0';
			if (detach(r->socket, vip, &done, why) < 0) {
				rc = -1;
				break;
			}
			if (done)
				json_array_append_new(detached, json_string(vip));
		}
	}
	json_decref(res);
	return rc;
}

/* `ip netns del NAME`: the bind mount goes, then its file. */
static int delete_netns(const char *name, bool *deleted)
{
	char path[sizeof(NETNS_RUN_DIR) + NAME_MAX + 1];

	*deleted = false;
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(name) > NAME_MAX)
		return 0; /* vnet-up makes only plain names */
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%.*s", NAME_MAX, name);
	umount2(path, MNT_DETACH);
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	*deleted = true;
	return 0;
}

/* Cleans up one dead record; fills out. Returns 0 when the record could be removed. */
static int clean(const struct record *r, const char *fallback_socket, json_t *out)
{
	struct record rr = *r;
	json_t *detached = json_array();
	char *why = NULL;
	bool done, deleted = false;
	int i, rc = 0, err;

	if (!rr.socket[0])
		copy(rr.socket, sizeof(rr.socket), fallback_socket);
	for (i = 0; i < rr.nvips && rc == 0; i++) {
		rc = detach(rr.socket, rr.vips[i], &done, &why);
		if (rc == 0 && done)
			json_array_append_new(detached, json_string(rr.vips[i]));
	}
	if (rc == 0 && rr.created && rr.netns[0])
		rc = detach_namespace(&rr, detached, &why);
	/* The namespace goes even if the daemon is down: the daemon holds its own
	 * reference to it, so a later gc can still detach the VIPs by address. */
	if (rr.created) {
		err = delete_netns(rr.netns, &deleted);
		if (err < 0 && rc == 0) {
			rc = -1;
			if (asprintf(&why, "deleting namespace %s: %s", rr.netns, strerror(-err)) < 0)
				why = NULL;
		}
	}
	json_object_set_new(out, "pid", json_integer(rr.pid));
	json_object_set_new(out, "netns", json_string(rr.netns));
	json_object_set_new(out, "created", json_boolean(rr.created));
	json_object_set_new(out, "detached", detached);
	json_object_set_new(out, "netns_deleted", json_boolean(deleted));
	json_object_set_new(out, "removed", json_boolean(rc == 0));
	if (rc != 0)
		json_object_set_new(out, "error", json_string(why ? why : "out of memory"));
	free(why);
	return rc;
}

static void print_one(const json_t *o)
{
	const json_t *d = json_object_get(o, "detached"), *v;
	char buf[PATH_MAX];
	size_t i;

	printf("vnet-up %" JSON_INTEGER_FORMAT ":", json_integer_value(json_object_get(o, "pid")));
	if (json_array_size(d) == 0)
		printf(" no VIP to detach");
	json_array_foreach(d, i, v)
		printf("%s %s", i ? "," : " detached", table_safe(json_string_value(v), buf,
								   sizeof(buf)));
	if (json_is_true(json_object_get(o, "netns_deleted")))
		printf(", deleted namespace %s",
		       table_safe(json_string_value(json_object_get(o, "netns")), buf,
				  sizeof(buf)));
	if (json_is_true(json_object_get(o, "removed")))
		printf("\n");
	else
		printf("; record kept: %s\n",
		       table_safe(json_string_value(json_object_get(o, "error")), buf,
				  sizeof(buf)));
}

static int on_opt(int c, const char *arg, void *ctx)
{
	const char **dir = ctx;

	if (c != OPT_DIR)
		return client_usage(&doc, "unexpected option");
	if (!*arg)
		return client_usage(&doc, "--dir: empty directory name");
	*dir = arg;
	return -1;
}

int cmd_gc(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_opts o = *global;
	const char *dir = GC_DEFAULT_DIR;
	json_t *all = json_array(), *one;
	struct dirent *e;
	struct record rec;
	struct stat st;
	int r, fd, failed = 0;
	DIR *dp;
	FILE *f;

	r = client_args(argc, argv, &o, &doc, gc_opts, on_opt, &dir);
	if (r >= 0) {
		json_decref(all);
		return r;
	}
	dp = opendir(dir);
	if (!dp) {
		json_decref(all);
		if (errno == ENOENT) /* no vnet-up ever ran here */
			return o.json ? (puts("[]"), 0) : 0;
		fprintf(stderr, "vnetctl: %s: %s\n", dir, strerror(errno));
		return VNETCTL_EXIT_ERROR;
	}
	while ((e = readdir(dp))) {
		size_t n = strlen(e->d_name);

		if (n < 7 || strcmp(e->d_name + n - 6, ".state") != 0)
			continue;
		fd = openat(dirfd(dp), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		/* held: its vnet-up is alive, or another gc is at it */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0) {
			close(fd);
			continue;
		}
		f = fdopen(fd, "r");
		if (!f) {
			close(fd);
			continue;
		}
		parse_record(f, e->d_name, &rec);
		one = json_object();
		if (clean(&rec, o.socket, one) == 0)
			unlinkat(dirfd(dp), e->d_name, 0);
		else
			failed++;
		if (!o.json)
			print_one(one);
		json_array_append_new(all, one);
		fclose(f); /* and with it the lock */
	}
	closedir(dp);
	r = o.json ? client_print_json(all) : 0;
	json_decref(all);
	return failed ? VNETCTL_EXIT_ERROR : r;
}
