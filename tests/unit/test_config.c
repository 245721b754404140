/* Config parser: golden files (tests/unit/golden/config/NAME.conf -> NAME.out or
 * NAME.err), then what golden files cannot hold: credentials (modes, another CA,
 * expired, revoked, another name), generated files (65 seeds, long lines, NUL bytes,
 * CRLF), missing files, agreement with inih.
 *
 * Every case runs in a fresh mkdtemp directory holding a good credential for node n1:
 * ca.crt, n1.crt, n1.key (mode 0600) and crl.pem, copied from a CA made once per run with
 * scripts/vnet-ca (git keeps no modes and certificates expire, so none lives in the
 * tree). Error text is compared with that directory's "DIR/" cut out, so expected lines
 * read "NAME.conf:4: ...".
 * UPDATE_GOLDEN=1 (make golden) rewrites the expected files from what the parser says and
 * runs no test: comparing the files just written with themselves would prove nothing.
 * Review them with git diff, then run the test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ini.h>

#include "tunvnet/addr.h"
#include "tunvnet/config.h"

/* The smallest valid file: lines 1..9. */
static const char base[] = "[security]\n"
			   "ca = ca.crt\n"
			   "cert = n1.crt\n"
			   "key = n1.key\n"
			   "[node]\n"
			   "name = n1\n"
			   "listen = 198.18.0.1\n"
			   "[pool]\n"
			   "ipv4 = 198.19.1.0/24\n";
#define BASE_LINES 9
#define SECURITY "[security]\nca = ca.crt\ncert = n1.crt\nkey = n1.key\n"

/* The CA of this run and its credentials (setup_pki). */
static char pki[64];
/* Nodes of the golden files that load, beside n1: each has a certificate. */
static const char *const golden_nodes[] = { "node-1.rack_2", "first", "n" };

/* snprintf that fails the test instead of cutting a path short */
static void __attribute__((format(printf, 3, 4)))
fmt(char *out, size_t cap, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, cap, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap);
}

struct fixture {
	char dir[64];
};

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0); /* whatever the umask */
	assert_int_equal(close(fd), 0);
}

static void write_str(const char *path, const char *s, mode_t mode)
{
	write_file(path, s, strlen(s), mode);
}

/* NULL when the file does not exist. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	FILE *m;
	int ch;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &cap);
	assert_non_null(m);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* s with every "dir/" removed: test output must not depend on mkdtemp's name. */
static char *strip_dir(const char *s, const char *dir)
{
	size_t dl = strlen(dir);
	char *out = malloc(strlen(s) + 1), *o = out;

	assert_non_null(out);
	while (*s) {
		if (strncmp(s, dir, dl) == 0 && s[dl] == '/') {
			s += dl + 1;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Loads path; returns config_load's result, *errs gets the messages with "dir/" cut. */
static int load(const char *dir, const char *path, struct config *cfg, char **errs)
{
	char *buf = NULL;
	size_t cap = 0;
	FILE *m = open_memstream(&buf, &cap);
	int ret;

	assert_non_null(m);
	ret = config_load(path, cfg, m);
	fclose(m);
	*errs = strip_dir(buf, dir);
	free(buf);
	/* the count returned is the count printed */
	if (ret >= 0)
		assert_int_equal(count_lines(*errs), ret);
	return ret;
}

/* Writes text to DIR/t.conf and loads it. */
static int load_text(const struct fixture *fx, const char *text, struct config *cfg,
		     char **errs)
{
	char path[128];

	fmt(path, sizeof(path), "%s/t.conf", fx->dir);
	write_str(path, text, 0644);
	return load(fx->dir, path, cfg, errs);
}

/* Asserts text gives exactly the error lines `want` ("" for none). */
static void expect(const struct fixture *fx, const char *text, const char *want)
{
	struct config cfg;
	char *errs;
	int ret = load_text(fx, text, &cfg, &errs);

	if (strcmp(errs, want) != 0)
		fail_msg("for:\n%s\nexpected:\n%sgot:\n%s", text, want, errs);
	assert_int_equal(ret, count_lines(want));
	free(errs);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Copies pki/from to dir/to with mode. */
static void copy_file(const char *dir, const char *to, const char *from, mode_t mode)
{
	char src[160], dst[160], *text;

	fmt(src, sizeof(src), "%s/%s", pki, from);
	fmt(dst, sizeof(dst), "%s/%s", dir, to);
	text = slurp(src);
	assert_non_null(text);
	write_str(dst, text, mode);
	free(text);
}

static void make_dir(char dir[64])
{
	strcpy(dir, "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(dir));
	copy_file(dir, "ca.crt", "ca/ca.crt", 0644);
	copy_file(dir, "crl.pem", "ca/crl.pem", 0644);
	copy_file(dir, "n1.crt", "ca/n1.crt", 0644);
	copy_file(dir, "n1.key", "ca/n1.key", 0600);
	/* the nodes of the golden files that load */
	for (size_t i = 0; i < sizeof(golden_nodes) / sizeof(golden_nodes[0]); i++) {
		char from[80], to[64];

		fmt(from, sizeof(from), "ca/%s.crt", golden_nodes[i]);
		fmt(to, sizeof(to), "%s.crt", golden_nodes[i]);
		copy_file(dir, to, from, 0644);
		fmt(from, sizeof(from), "ca/%s.key", golden_nodes[i]);
		fmt(to, sizeof(to), "%s.key", golden_nodes[i]);
		copy_file(dir, to, from, 0600);
	}
}

/* One CA for the whole run: n1 and n2 good, "old" expired, "gone" revoked, and an n1
 * from another CA. */
static int setup_pki(void **state)
{
	char cmd[1024];
	int n;

	strcpy(pki, "/tmp/test_config_pki.XXXXXX");
	if (!mkdtemp(pki))
		return -1;
	n = snprintf(cmd, sizeof(cmd),
		     "exec >/dev/null; set -e; ca=scripts/vnet-ca; $ca init %s/ca; "
		     "$ca issue %s/ca n1; $ca issue %s/ca n2; "
		     "$ca issue %s/ca n1x --start 200101000000Z --end 210101000000Z; "
		     "$ca issue %s/ca gone; $ca revoke %s/ca gone; "
		     "$ca init %s/other; $ca issue %s/other n1; "
		     "for n in node-1.rack_2 first n; do $ca issue %s/ca $n; done",
		     pki, pki, pki, pki, pki, pki, pki, pki, pki);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);

static int teardown_pki(void **state)
{
	return nftw(pki, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	make_dir(fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* ---- golden files ---- */

static const char *golden_dir(void)
{
	static char dir[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');

	/* next to this source file; relative to the top of the tree when built there */
	if (slash)
		fmt(dir, sizeof(dir), "%.*s/golden/config", (int)(slash - __FILE__),
			 __FILE__);
	else
		fmt(dir, sizeof(dir), "golden/config");
	return dir;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

/* Runs one NAME.conf; returns false (after saying why) on a mismatch. With update, writes
 * the expected file from the result instead and compares nothing. */
static bool golden_one(const char *gdir, const char *name, bool update, int *n_out, int *n_err)
{
	char dir[64], conf[PATH_MAX], want_out[PATH_MAX], want_err[PATH_MAX], rt[128];
	char *text, *errs, *got = NULL, *got2 = NULL, *e_out, *e_err, *errs2, *printed;
	size_t cap = 0, len;
	struct config cfg, cfg2;
	bool ok = true;
	FILE *m;
	int ret;

	len = strlen(name) - strlen(".conf");
	fmt(want_out, sizeof(want_out), "%s/%.*s.out", gdir, (int)len, name);
	fmt(want_err, sizeof(want_err), "%s/%.*s.err", gdir, (int)len, name);
	fmt(conf, sizeof(conf), "%s/%s", gdir, name);
	text = slurp(conf);
	assert_non_null(text);

	make_dir(dir);
	fmt(conf, sizeof(conf), "%s/%s", dir, name);
	write_str(conf, text, 0644);
	ret = load(dir, conf, &cfg, &errs);
	assert_true(ret >= 0);
	if (ret == 0) {
		m = open_memstream(&got, &cap);
		assert_non_null(m);
		config_print(&cfg, m);
		fclose(m);
		got2 = strip_dir(got, dir);
		free(got);
		got = got2;
		got2 = NULL;
	}

	if (update) {
		unlink(ret == 0 ? want_err : want_out);
		write_str(ret == 0 ? want_out : want_err, ret == 0 ? got : errs, 0644);
		printf("wrote %s\n", ret == 0 ? want_out : want_err);
		*n_out += ret == 0;
		*n_err += ret > 0;
		rm_rf(dir);
		free(text);
		free(errs);
		free(got);
		return true;
	}
	e_out = slurp(want_out);
	e_err = slurp(want_err);
	if (!!e_out == !!e_err) {
		print_error("%s: needs exactly one of .out and .err\n", name);
		ok = false;
	} else if (ret == 0 && !e_out) {
		print_error("%s: loads without error but expects:\n%s", name, e_err);
		ok = false;
	} else if (ret == 0 && strcmp(got, e_out) != 0) {
		print_error("%s: expected:\n%sgot:\n%s", name, e_out, got);
		ok = false;
	} else if (ret > 0 && strcmp(errs, e_err ? e_err : "") != 0) {
		print_error("%s: expected errors:\n%sgot:\n%s", name, e_err ? e_err : "", errs);
		ok = false;
	}
	*n_out += ret == 0;
	*n_err += ret > 0;

	/* The normalised form is itself a valid config and a fixed point. */
	if (ok && ret == 0) {
		fmt(rt, sizeof(rt), "%s/rt.conf", dir);
		m = fopen(rt, "we");
		assert_non_null(m);
		config_print(&cfg, m);
		fclose(m);
		ret = load(dir, rt, &cfg2, &errs2);
		m = open_memstream(&printed, &cap);
		assert_non_null(m);
		config_print(&cfg2, m);
		fclose(m);
		got2 = strip_dir(printed, dir);
		free(printed);
		if (ret != 0 || strcmp(got2, got) != 0) {
			print_error("%s: printed form does not load back the same:\n%s", name,
				    errs2);
			ok = false;
		}
		free(errs2);
	}

	rm_rf(dir);
	free(text);
	free(errs);
	free(got);
	free(got2);
	free(e_out);
	free(e_err);
	return ok;
}

static void test_golden(void **state)
{
	const char *gdir = golden_dir();
	struct dirent **ents;
	int n, i, failed = 0, n_out = 0, n_err = 0;
	char other[PATH_MAX + 512];

	n = scandir(gdir, &ents, NULL, alphasort);
	if (n < 0)
		fail_msg("%s: %s", gdir, strerror(errno));
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (has_suffix(name, ".conf")) {
			if (!golden_one(gdir, name, false, &n_out, &n_err))
				failed++;
		} else if (has_suffix(name, ".out") || has_suffix(name, ".err")) {
			/* an expected file whose input was renamed or deleted */
			fmt(other, sizeof(other), "%s/%.*s.conf", gdir,
				 (int)(strlen(name) - 4), name);
			if (access(other, F_OK) != 0) {
				print_error("%s: no matching .conf\n", name);
				failed++;
			}
		}
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(failed, 0);
	/* an empty or misplaced directory must not pass */
	assert_true(n_out >= 3);
	assert_true(n_err >= 10);
}

/* ---- the file itself ---- */

static void test_missing_file(void **state)
{
	const struct fixture *fx = *state;
	struct config cfg;
	char path[128], *errs;

	fmt(path, sizeof(path), "%s/nosuch.conf", fx->dir);
	assert_int_equal(load(fx->dir, path, &cfg, &errs), -ENOENT);
	assert_string_equal(errs, "nosuch.conf: No such file or directory\n");
	free(errs);

	/* a directory opens but cannot be read */
	assert_int_equal(load(fx->dir, fx->dir, &cfg, &errs), -EISDIR);
	assert_true(strstr(errs, ": Is a directory\n") != NULL);
	free(errs);
}

static void test_valid_and_defaults(void **state)
{
	const struct fixture *fx = *state;
	struct sockaddr_storage a;
	struct config cfg;
	char *errs, want[128];

	assert_int_equal(load_text(fx, base, &cfg, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	assert_string_equal(cfg.node, "n1");
	assert_int_equal(addr_parse("198.18.0.1:7000", 0, &a), 0);
	assert_true(addr_equal(&cfg.listen, &a));
	assert_true(cfg.has_pool4);
	assert_false(cfg.has_pool6);
	assert_int_equal(cfg.pool4.len, 24);
	assert_int_equal(cfg.nseeds, 0);
	assert_string_equal(cfg.state_dir, CONFIG_DEFAULT_STATE);
	assert_string_equal(cfg.ctl_socket, CONFIG_DEFAULT_SOCKET);
	assert_int_equal(cfg.mtu, 1500);
	fmt(want, sizeof(want), "%s/n1.key", fx->dir);
	assert_string_equal(cfg.key_file, want);
	fmt(want, sizeof(want), "%s/n1.crt", fx->dir);
	assert_string_equal(cfg.cert_file, want);
	fmt(want, sizeof(want), "%s/ca.crt", fx->dir);
	assert_string_equal(cfg.ca_file, want);
	assert_string_equal(cfg.crl_file, "");
	assert_true(cfg.sealed);
	assert_int_equal(cfg.rekey_s, CONFIG_DEFAULT_REKEY_S);
}

/* ---- credentials ---- */

/* base with its [security] lines 2..4 replaced by ca, cert, key (and crl, if any). */
static const char *with_cred(char *buf, size_t cap, const char *ca, const char *cert,
			     const char *key, const char *crl)
{
	fmt(buf, cap, "[security]\nca = %s\ncert = %s\nkey = %s\n%s%s%s[node]\nname = n1\n"
		"listen = 198.18.0.1\n[pool]\nipv4 = 198.19.1.0/24\n", ca, cert, key,
		crl ? "crl = " : "", crl ? crl : "", crl ? "\n" : "");
	return buf;
}

static void test_key_mode(void **state)
{
	const struct fixture *fx = *state;
	char path[128];

	fmt(path, sizeof(path), "%s/n1.key", fx->dir);
	assert_int_equal(chmod(path, 0640), 0);
	expect(fx, base, "t.conf:4: [security] key: private key n1.key is accessible by group or others "
			 "(mode 0640): chmod 600 it\n");
	assert_int_equal(chmod(path, 0604), 0);
	expect(fx, base, "t.conf:4: [security] key: private key n1.key is accessible by group or others "
			 "(mode 0604): chmod 600 it\n");
	assert_int_equal(chmod(path, 0400), 0);
	expect(fx, base, "");
}

static void test_cred_files(void **state)
{
	const struct fixture *fx = *state;
	char text[512], path[160];

	expect(fx, with_cred(text, sizeof(text), "ca.crt", "nosuch.crt", "n1.key", NULL),
	       "t.conf:3: [security] cert: cannot read nosuch.crt: No such file or directory\n");
	expect(fx, with_cred(text, sizeof(text), "nosuch.crt", "n1.crt", "n1.key", NULL),
	       "t.conf:2: [security] ca: cannot read nosuch.crt: No such file or directory\n");
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n1.crt", "nosuch.key", NULL),
	       "t.conf:4: [security] key: cannot read nosuch.key: No such file or directory\n");
	/* a key that is not a key, a CA that is a node's certificate */
	fmt(path, sizeof(path), "%s/junk.key", fx->dir);
	write_str(path, "not a key\n", 0600);
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n1.crt", "junk.key", NULL),
	       "t.conf:4: [security] key: junk.key holds no PEM private key (unsupported)\n");
	expect(fx, with_cred(text, sizeof(text), "n1.crt", "n1.crt", "n1.key", NULL),
	       "t.conf:2: [security] ca: n1.crt is not a CA certificate\n");
	/* the key of another node */
	copy_file(fx->dir, "n2.key", "ca/n2.key", 0600);
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n1.crt", "n2.key", NULL),
	       "t.conf:3: [security] cert: private key n2.key does not belong to certificate n1.crt\n");
}

static void test_cred_refused(void **state)
{
	const struct fixture *fx = *state;
	char text[512];

	copy_file(fx->dir, "other.crt", "other/n1.crt", 0644);
	copy_file(fx->dir, "other.key", "other/n1.key", 0600);
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "other.crt", "other.key", NULL),
	       "t.conf:3: [security] cert: certificate other.crt does not verify against the CA: "
	       "unable to get local issuer certificate\n");
	copy_file(fx->dir, "old.crt", "ca/n1x.crt", 0644);
	copy_file(fx->dir, "old.key", "ca/n1x.key", 0600);
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "old.crt", "old.key", NULL),
	       "t.conf:3: [security] cert: certificate old.crt has expired\n");
	copy_file(fx->dir, "n2.crt", "ca/n2.crt", 0644);
	copy_file(fx->dir, "n2.key", "ca/n2.key", 0600);
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n2.crt", "n2.key", NULL),
	       "t.conf:3: [security] cert: certificate n2.crt is for node \"n2\", not \"n1\"\n");
	/* revoked: only with the revocation list */
	copy_file(fx->dir, "gone.crt", "ca/gone.crt", 0644);
	copy_file(fx->dir, "gone.key", "ca/gone.key", 0600);
	fmt(text, sizeof(text), "%s", base);
	expect(fx, "[security]\nca = ca.crt\ncert = gone.crt\nkey = gone.key\ncrl = crl.pem\n"
		   "[node]\nname = gone\nlisten = 198.18.0.1\n[pool]\nipv4 = 198.19.1.0/24\n",
	       "t.conf:3: [security] cert: certificate gone.crt does not verify against the CA: "
	       "certificate revoked\n");
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n1.crt", "n1.key", "crl.pem"), "");
	expect(fx, with_cred(text, sizeof(text), "ca.crt", "n1.crt", "n1.key", "n1.crt"),
	       "t.conf:5: [security] crl: n1.crt holds no PEM revocation list (no start line)\n");
}

static void test_protection(void **state)
{
	const struct fixture *fx = *state;
	struct config cfg;
	char text[512], *errs;

	fmt(text, sizeof(text), "%s[security]\ndata_protection = none\nrekey_interval = 5\n",
	    base);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	assert_false(cfg.sealed);
	assert_int_equal(cfg.rekey_s, 5);
	fmt(text, sizeof(text), "%s[security]\ndata_protection = off\nrekey_interval = 0\n", base);
	expect(fx, text, "t.conf:11: [security] data_protection: \"off\" is neither \"sealed\" nor \"none\"\n"
			 "t.conf:12: [security] rekey_interval: \"0\" is not in 1..86400\n");
}

static void test_substrate(void **state)
{
	const struct fixture *fx = *state;
	struct config cfg;
	char text[768], *errs;

	assert_int_equal(load_text(fx, base, &cfg, &errs), 0);
	free(errs);
	assert_string_equal(cfg.substrate, "tcp");
	assert_int_equal(cfg.udp_mtu, 0);
	assert_int_equal(cfg.udp_loss_max, 2);
	fmt(text, sizeof(text), "%s[substrate]\npolicy = auto\npeer = n2:udp\npeer = n3:tcp\n"
	    "udp_mtu = 9000\nudp_loss_max = 5\n", base);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	assert_string_equal(cfg.substrate, "auto");
	assert_int_equal(cfg.npolicies, 2);
	assert_string_equal(cfg.policies[1].peer, "n3");
	assert_string_equal(cfg.policies[1].policy, "tcp");
	assert_int_equal(cfg.udp_mtu, 9000);
	assert_int_equal(cfg.udp_loss_max, 5);
	fmt(text, sizeof(text), "%s[substrate]\npolicy = fast\npeer = n2\npeer = n2:rdma\n"
	    "udp_mtu = 100\nudp_loss_max = 101\n", base);
	expect(fx, text, "t.conf:11: [substrate] policy: \"fast\" is not auto, tcp, udp or verbs\n"
			 "t.conf:12: [substrate] peer: \"n2\" is not NODE:POLICY\n"
			 "t.conf:13: [substrate] peer: \"n2:rdma\" is not NODE:POLICY (POLICY auto, tcp, udp or verbs)\n"
			 "t.conf:14: [substrate] udp_mtu: \"100\" is not in 576..65535\n"
			 "t.conf:15: [substrate] udp_loss_max: \"101\" is not in 0..100\n");
}

/* [store]: the route store and etcd's endpoints, with every error at its line. */
static void test_store(void **state)
{
	const struct fixture *fx = *state;
	struct config cfg;
	char text[1024], *errs;

	fmt(text, sizeof(text), "%s", base);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	assert_false(cfg.store.etcd);
	assert_int_equal(cfg.store.lease_ttl_s, 10);
	assert_string_equal(cfg.store.prefix, "/tunvnet");
	fmt(text, sizeof(text), "%s[store]\nroute_store = etcd\netcd_endpoints = "
	    "http://198.18.0.201:2379, https://e2:2379\netcd_prefix = /c1\nlease_ttl = 3\n",
	    base);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	assert_true(cfg.store.etcd);
	assert_int_equal(cfg.store.nendpoints, 2);
	assert_string_equal(cfg.store.endpoints[1], "https://e2:2379");
	assert_string_equal(cfg.store.prefix, "/c1");
	assert_int_equal(cfg.store.lease_ttl_s, 3);
	assert_true(cfg.store.on_demand); /* unsaid: on demand with etcd */
	assert_int_equal(cfg.store.link_idle_s, 60);
	fmt(text, sizeof(text), "%s[store]\nroute_store = etcd\netcd_endpoints = "
	    "http://198.18.0.201:2379\nlinks = full\nlink_idle = 0\n", base);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	assert_false(cfg.store.on_demand);
	assert_int_equal(cfg.store.link_idle_s, 0);
	fmt(text, sizeof(text), "%s[store]\nlinks = on_demand\n", base);
	expect(fx, text, "t.conf:11: [store] links = on_demand needs route_store = etcd (the "
		   "mesh spreads routes over a link to every node)\n");
	fmt(text, sizeof(text), "%s[store]\nroute_store = etcd\netcd_endpoints = http://e:2379\n"
	    "links = some\nlink_idle = -1\n", base);
	expect(fx, text, "t.conf:13: [store] links: \"some\" is neither \"on_demand\" nor "
		   "\"full\"\nt.conf:14: [store] link_idle: \"-1\" is not a number\n");
	fmt(text, sizeof(text), "%s[store]\nroute_store = zk\netcd_endpoints = ftp://x\n"
	    "etcd_prefix = c1/\nlease_ttl = 1\netcd_cert = c.pem\n", base);
	expect(fx, text, "t.conf:11: [store] route_store: \"zk\" is neither \"mesh\" nor \"etcd\"\n"
		   "t.conf:12: [store] etcd_endpoints: \"ftp://x\" is not an http:// or https:// URL of at most 127 bytes\n"
		   "t.conf:13: [store] etcd_prefix: \"c1/\" is not a key prefix (/[A-Za-z0-9._-/]..., at most 63 bytes, no trailing /)\n"
		   "t.conf:14: [store] lease_ttl: \"1\" is not in 2..3600\n"
		   "t.conf:15: [store] etcd_cert and etcd_key go together\n");
	fmt(text, sizeof(text), "%s[store]\nroute_store = etcd\n", base);
	expect(fx, text, "t.conf:11: [store] route_store = etcd needs etcd_endpoints\n");
}

/* Relative credential paths are found next to the config, whatever the working
 * directory. */
static void test_cred_relative(void **state)
{
	const struct fixture *fx = *state;
	char sub[128], conf[160], want[160], *errs;
	struct config cfg;
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(cwd >= 0);
	fmt(sub, sizeof(sub), "%s/etc", fx->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	fmt(conf, sizeof(conf), "%s/node.conf", sub);
	write_str(conf, "[node]\nname=n1\nlisten=198.18.0.1\n[pool]\nipv4=198.19.0.0/16\n"
			"[security]\nca=../ca.crt\ncert=../n1.crt\nkey=../n1.key\n", 0644);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(load(fx->dir, conf, &cfg, &errs), 0);
	free(errs);
	fmt(want, sizeof(want), "%s/../n1.key", sub);
	assert_string_equal(cfg.key_file, want);
	/* a config named without a directory: relative to the working directory */
	assert_int_equal(chdir(fx->dir), 0);
	write_str("t2.conf", base, 0644);
	assert_int_equal(load(fx->dir, "t2.conf", &cfg, &errs), 0);
	free(errs);
	assert_string_equal(cfg.key_file, "n1.key");
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
}

/* ---- generated files ---- */

static void test_too_many_seeds(void **state)
{
	const struct fixture *fx = *state;
	struct config cfg;
	char *text, *errs, *p;
	size_t cap = 0;
	FILE *m = open_memstream(&text, &cap);
	int i;

	assert_non_null(m);
	fprintf(m, "%s[peers]\n", base); /* lines 1..BASE_LINES + 1 */
	for (i = 0; i < CONFIG_MAX_SEEDS + 3; i++)
		fprintf(m, "seed = 198.18.%d.%d\n", i / 200, 1 + i % 200);
	fclose(m);
	/* one report, at seed number 65 (line BASE_LINES + 1 + 65), not one per extra seed */
	assert_int_equal(load_text(fx, text, &cfg, &errs), 1);
	assert_true(asprintf(&p, "t.conf:%d: [peers] seed: \"198.18.0.65\" is one seed too "
			     "many (at most %d)\n", BASE_LINES + 1 + CONFIG_MAX_SEEDS + 1,
			     CONFIG_MAX_SEEDS) > 0);
	assert_string_equal(errs, p);
	free(p);
	free(errs);
	assert_int_equal(cfg.nseeds, CONFIG_MAX_SEEDS);
	free(text);

	/* exactly CONFIG_MAX_SEEDS is fine */
	m = open_memstream(&text, &cap);
	assert_non_null(m);
	fprintf(m, "%s[peers]\n", base);
	for (i = 0; i < CONFIG_MAX_SEEDS; i++)
		fprintf(m, "seed = [fd00::%x]:%d\n", i + 1, 7000 + i);
	fclose(m);
	assert_int_equal(load_text(fx, text, &cfg, &errs), 0);
	free(errs);
	free(text);
	assert_int_equal(cfg.nseeds, CONFIG_MAX_SEEDS);
	assert_int_equal(cfg.seeds[63].ss_family, AF_INET6);
}

static void test_long_line(void **state)
{
	const struct fixture *fx = *state;
	char text[1024], want[128];
	int max = ini_max_line - 1;

	/* the longest line inih takes whole is accepted, one byte more is reported (and
	 * not split into two lines: the line numbers after it stay right) */
	fmt(text, sizeof(text), "%s[peers]\n;%*s\nseed = %*s\nmtu = 1\n", base, max - 1, "",
		 max - 7, "198.18.0.2");
	expect(fx, text, "t.conf:13: unknown key \"mtu\" in [peers]; \"mtu\" belongs in [node]\n");
	fmt(text, sizeof(text), "%s[peers]\nseed = %*s\nmtu = 1\n", base, max + 1 - 7,
		 "198.18.0.2");
	fmt(want, sizeof(want), "t.conf:11: line is longer than %d bytes\n"
		 "t.conf:12: unknown key \"mtu\" in [peers]; \"mtu\" belongs in [node]\n", max);
	expect(fx, text, want);
}

static void test_odd_bytes(void **state)
{
	const struct fixture *fx = *state;
	static const char nul[] = "[node]\nname = n1\nlisten = 198.18.0.1\nforward_grace = 1\n"
				  "mtu = 15\0000\n[pool]\nipv4 = 198.19.1.0/24\n" SECURITY;
	struct config cfg;
	char path[128], *errs;

	/* UTF-8 byte order mark and CRLF line ends, as some editors write */
	expect(fx, "\xef\xbb\xbf[node]\r\nname = n1\r\nlisten = 198.18.0.1\r\n"
		   "forward_grace = 1\r\n[pool]\r\nipv4 = 198.19.1.0/24\r\nmtu = 9000\r\n"
		   "[security]\r\nca = ca.crt\r\ncert = n1.crt\r\nkey = n1.key\r\n",
	       "t.conf:7: unknown key \"mtu\" in [pool]; \"mtu\" belongs in [node]\n");
	/* control bytes in a value are shown escaped */
	expect(fx, "[node]\nname = n\x01\x7f\"\\1\n[pool]\nipv4 = 198.19.1.0/24\n" SECURITY,
	       "t.conf:2: name: \"n\\x01\\x7f\\\"\\\\1\" is not a valid node name "
	       "(1..31 of A-Z a-z 0-9 . _ -)\n"
	       "t.conf:8: missing required key \"listen\" in [node]\n");

	fmt(path, sizeof(path), "%s/t.conf", fx->dir);
	write_file(path, nul, sizeof(nul) - 1, 0644);
	assert_int_equal(load(fx->dir, path, &cfg, &errs), 1);
	assert_string_equal(errs, "t.conf:5: line holds a NUL byte\n");
	free(errs);
}

static void test_show_cuts_long_values(void **state)
{
	const struct fixture *fx = *state;
	char text[512], want[512], v[101];

	memset(v, 'x', 100);
	v[100] = '\0';
	/* the key is wrong, in [pool]: its name is quoted and cut at 64 bytes */
	fmt(text, sizeof(text), "%s%s = 1\n", base, v);
	fmt(want, sizeof(want), "t.conf:%d: unknown key \"%.64s...\" in [pool]\n", BASE_LINES + 1,
	    v);
	expect(fx, text, want);
}

/* A section header with a comment, at every length up to the longest line, last in the
 * file with and without its newline. getline's first buffer holds 120 bytes: a header of
 * 119 with no newline filled it exactly, and rewriting "[node] ; ..." as "[node]" wrote
 * one byte past it (glibc then aborted in free). */
static void test_section_comment_lengths(void **state)
{
	const struct fixture *fx = *state;
	char text[1024], line[256];
	int len, nl, pre = (int)strlen("[node] ;");

	for (len = pre; len < ini_max_line; len++) {
		for (nl = 0; nl < 2; nl++) {
			fmt(line, sizeof(line), "[node] ;%.*s", len - pre,
			    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
			    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
			    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
			    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
			assert_int_equal((int)strlen(line), len);
			/* alone in the file: getline's buffer is as small as it gets */
			fmt(text, sizeof(text), "%s%s", line, nl ? "\n" : "");
			expect(fx, text, "t.conf:1: missing required key \"name\" in [node]\n"
			       "t.conf:1: missing required key \"listen\" in [node]\n"
			       "t.conf:1: missing required key \"ca\" in [security]\n"
			       "t.conf:1: missing required key \"cert\" in [security]\n"
			       "t.conf:1: missing required key \"key\" in [security]\n"
			       "t.conf:1: missing required key \"ipv4\" or \"ipv6\" in [pool]\n");
			/* last, after a whole file, and its section still applies */
			fmt(text, sizeof(text), "%s%s%s", base, line, nl ? "\n" : "");
			expect(fx, text, "");
		}
	}
}

/* ---- agreement with inih ---- */

static int count_keys(void *user, const char *section, const char *name, const char *value)
{
	return 1;
}

/* Every line inih refuses we report as a syntax error, and the other way round, except
 * for the few lines where we are deliberately stricter. */
static void test_syntax_agrees_with_inih(void **state)
{
	static const char *const lines[] = {
		"mtu = 1500", "mtu=1500", "mtu: 1500", "mtu : 1500", "mtu = 1500 ; comment",
		"mtu = 1500;x", "mtu = 1500 # x", "mtu ;= 1500", "mtu ; x = 1", "mtu", "mtu x",
		";", "; comment", "# comment", "", "[node", "[node ;]", "[node;]",
		"[node] ; comment", "[node];c", "[ node ]", "[]", "]", "[", "a=b=c", "a:b=c",
		"a=", "a:", "a = ;x", "\t[node]", "  mtu = 1500",
	};
	/* inih takes these as a section with junk after it, or a key with no name */
	static const char *const stricter[] = { "[node] junk", "[no]de]", "[[node]]", "= 1",
						": 1", "==" };
	const struct fixture *fx = *state;
	char text[256], want[64];
	struct config cfg;
	bool inih_bad, ours_bad;
	char *errs;
	size_t i;

	fmt(want, sizeof(want), "t.conf:2: expected 'key = value' or '[section]'\n");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		inih_bad = ini_parse_string(lines[i], count_keys, NULL) != 0;
		fmt(text, sizeof(text), "[node]\n%s\n", lines[i]);
		assert_true(load_text(fx, text, &cfg, &errs) > 0);
		ours_bad = strstr(errs, want) != NULL;
		if (inih_bad != ours_bad)
			fail_msg("line \"%s\": inih %s, we %s:\n%s", lines[i],
				 inih_bad ? "refuses" : "accepts", ours_bad ? "refuse" : "accept",
				 errs);
		free(errs);
	}
	for (i = 0; i < sizeof(stricter) / sizeof(stricter[0]); i++) {
		assert_int_equal(ini_parse_string(stricter[i], count_keys, NULL), 0);
		fmt(text, sizeof(text), "[node]\n%s\n", stricter[i]);
		assert_true(load_text(fx, text, &cfg, &errs) > 0);
		assert_non_null(strstr(errs, want));
		free(errs);
	}
}

/* Indented lines are keys of their own, not inih "continuations" of the previous value. */
static void test_indented(void **state)
{
	const struct fixture *fx = *state;

	expect(fx, "[node]\n  name = n1\n  listen = 198.18.0.1\n\tmtu = 1500\n"
		   "  [pool]\n    ipv4 = 198.19.1.0/24\n [security]\n  ca = ca.crt\n"
		   "  cert = n1.crt\n\tkey = n1.key\n", "");
	expect(fx, "[node]\nname = n1\n  n2\n", "t.conf:3: expected 'key = value' or '[section]'\n"
	       "t.conf:3: missing required key \"listen\" in [node]\n"
	       "t.conf:3: missing required key \"ca\" in [security]\n"
	       "t.conf:3: missing required key \"cert\" in [security]\n"
	       "t.conf:3: missing required key \"key\" in [security]\n"
	       "t.conf:3: missing required key \"ipv4\" or \"ipv6\" in [pool]\n");
}

static void test_empty_file(void **state)
{
	const struct fixture *fx = *state;

	expect(fx, "", "t.conf:0: missing required key \"name\" in [node]\n"
		       "t.conf:0: missing required key \"listen\" in [node]\n"
		       "t.conf:0: missing required key \"ca\" in [security]\n"
		       "t.conf:0: missing required key \"cert\" in [security]\n"
		       "t.conf:0: missing required key \"key\" in [security]\n"
		       "t.conf:0: missing required key \"ipv4\" or \"ipv6\" in [pool]\n");
}

static void test_print(void **state)
{
	const struct fixture *fx = *state;
	char *text = NULL, *errs, *got, want[2048];
	size_t cap = 0;
	struct config cfg;
	FILE *m;

	assert_int_equal(load_text(fx, "[peers]\nseed=198.18.0.9\nseed=[fd00::9]:99\n[node]\n"
				   "mtu=9000\nname=n1\n"
				   "listen=[fd00::1]\n[pool]\nipv6=fd00:19::/48\n" SECURITY,
				   &cfg, &errs), 0);
	free(errs);
	m = open_memstream(&text, &cap);
	assert_non_null(m);
	config_print(&cfg, m);
	fclose(m);
	got = strip_dir(text, fx->dir);
	fmt(want, sizeof(want), "[node]\nname = n1\nlisten = [fd00::1]:7000\n"
		 "state_dir = %s\ncontrol_socket = %s\nmtu = 9000\nforward_grace = 5000\n"
		 "peer_timeout = %d\noffload = on\n"
		 "\n[pool]\nipv6 = fd00:19::/48\n\n[peers]\nseed = 198.18.0.9:7000\n"
		 "seed = [fd00::9]:99\n\n[security]\nca = ca.crt\ncert = n1.crt\nkey = n1.key\n"
		 "data_protection = sealed\nrekey_interval = %d\n\n[limits]\nmetrics_connections = %d\n"
		 "metrics_per_address = %d\nmetrics_timeout = %d\nroutes = 1048576\n"
		 "routes_per_peer = 65536\npeers = 1024\npeer_forget = 600\n"
		 "pending_handshakes = 64\npending_per_address = 8\ncontrol_clients = 64\n"
		 "control_idle_timeout = 60\nevent_followers = 16\ncaptures = 16\n"
		 "hold_packets = 8192\nhold_bytes = 33554432\n"
		 "\n[substrate]\npolicy = tcp\nudp_mtu = 0\nudp_loss_max = 2\n", CONFIG_DEFAULT_STATE,
		 CONFIG_DEFAULT_SOCKET, CONFIG_DEFAULT_PEER_TIMEOUT_S, CONFIG_DEFAULT_REKEY_S, CONFIG_DEFAULT_METRICS_CONNS,
		 CONFIG_DEFAULT_METRICS_PER_ADDR, CONFIG_DEFAULT_METRICS_TIMEOUT);
	assert_string_equal(got, want);
	free(got);
	free(text);
}

/* UPDATE_GOLDEN: the expected file of every NAME.conf written again; no test runs. */
static int update_golden(void)
{
	const char *gdir = golden_dir();
	struct dirent **ents;
	int n, i, n_out = 0, n_err = 0;

	n = scandir(gdir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", gdir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (has_suffix(ents[i]->d_name, ".conf"))
			golden_one(gdir, ents[i]->d_name, true, &n_out, &n_err);
		free(ents[i]);
	}
	free(ents);
	printf("UPDATE_GOLDEN: %d expected files rewritten in %s; no test was run: review them "
	       "(git diff), then run the test without UPDATE_GOLDEN\n", n_out + n_err, gdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_valid_and_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_substrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_relative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_seeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_cuts_long_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_section_comment_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_agrees_with_inih, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
	};

	if (getenv("UPDATE_GOLDEN")) {
		int rc;

		if (setup_pki(NULL) < 0)
			return 1;
		rc = update_golden();
		teardown_pki(NULL);
		return rc;
	}
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
