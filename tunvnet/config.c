/* tunvnetd's configuration file. libinih splits the lines into sections and
 * key = value pairs; this file checks every value and reports every error of the file
 * in one run, as "FILE:LINE: reason" (bgpd's parse.y does the same).
 *
 * Debian's inih is built without INI_HANDLER_LINENO and reports only the first
 * syntax error, so inih reads through our own line reader (rd) which numbers the
 * lines, recognises the malformed ones itself and hands inih a cleaned-up line. */
#include "tunvnet/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunnel/tls.h"
#include "tunvnet/addr.h"
#include "tunvnet/suggest.h"

#define DEFAULT_MTU   1500
#define MTU_MIN       1280 /* IPv6's minimum link MTU */
#define MTU_MAX       65535
/* A pool hands out host addresses to jobs: /30 and /126 are the smallest that still
 * hold a couple of them. */
#define POOL4_LEN_MAX 30
#define POOL6_LEN_MAX 126
#define REKEY_MIN_S   1
#define REKEY_MAX_S   86400
#define SHOW_MAX      64   /* bytes of a bad value quoted in a message */
#define SHOW_BUF      (SHOW_MAX * 4 + 8)

static const char syntax_msg[] = "expected 'key = value' or '[section]'";
static const char addr_msg[] = "is not an address (A.B.C.D[:PORT] or [IPV6][:PORT])";

struct ctx;

/* One key of the file: where it lives and what checks and stores its value. */
struct key {
	const char *section;
	const char *name;
	void (*set)(struct ctx *c, const struct key *k, const char *v);
	bool required;
	bool repeatable;
};

static void set_name(struct ctx *c, const struct key *k, const char *v);
static void set_listen(struct ctx *c, const struct key *k, const char *v);
static void set_cred(struct ctx *c, const struct key *k, const char *v);
static size_t key_index(const char *section, const char *name);
static void set_protection(struct ctx *c, const struct key *k, const char *v);
static void set_rekey(struct ctx *c, const struct key *k, const char *v);
static void set_state_dir(struct ctx *c, const struct key *k, const char *v);
static void set_ctl_socket(struct ctx *c, const struct key *k, const char *v);
static void set_mtu(struct ctx *c, const struct key *k, const char *v);
static void set_forward_grace(struct ctx *c, const struct key *k, const char *v);
static void set_offload(struct ctx *c, const struct key *k, const char *v);
static void set_peer_timeout(struct ctx *c, const struct key *k, const char *v);
static void set_metrics(struct ctx *c, const struct key *k, const char *v);
static void set_pool(struct ctx *c, const struct key *k, const char *v);
static void set_seed(struct ctx *c, const struct key *k, const char *v);
static void set_limit(struct ctx *c, const struct key *k, const char *v);
static void set_substrate(struct ctx *c, const struct key *k, const char *v);
static void set_store(struct ctx *c, const struct key *k, const char *v);

static const struct key keys[] = {
	{ "node", "name", set_name, true, false },
	{ "node", "listen", set_listen, true, false },
	{ "node", "state_dir", set_state_dir, false, false },
	{ "node", "control_socket", set_ctl_socket, false, false },
	{ "node", "mtu", set_mtu, false, false },
	{ "node", "forward_grace", set_forward_grace, false, false },
	{ "node", "peer_timeout", set_peer_timeout, false, false },
	{ "node", "offload", set_offload, false, false },
	{ "node", "metrics_listen", set_metrics, false, false },
	{ "pool", "ipv4", set_pool, false, false },
	{ "pool", "ipv6", set_pool, false, false },
	{ "peers", "seed", set_seed, false, true },
	{ "security", "ca", set_cred, true, false },
	{ "security", "cert", set_cred, true, false },
	{ "security", "key", set_cred, true, false },
	{ "security", "crl", set_cred, false, false },
	{ "security", "data_protection", set_protection, false, false },
	{ "security", "rekey_interval", set_rekey, false, false },
	{ "limits", "metrics_connections", set_limit, false, false },
	{ "limits", "metrics_per_address", set_limit, false, false },
	{ "limits", "metrics_timeout", set_limit, false, false },
	{ "limits", "routes", set_limit, false, false },
	{ "limits", "routes_per_peer", set_limit, false, false },
	{ "limits", "peers", set_limit, false, false },
	{ "limits", "peer_forget", set_limit, false, false },
	{ "limits", "pending_handshakes", set_limit, false, false },
	{ "limits", "pending_per_address", set_limit, false, false },
	{ "limits", "control_clients", set_limit, false, false },
	{ "limits", "control_idle_timeout", set_limit, false, false },
	{ "limits", "event_followers", set_limit, false, false },
	{ "limits", "captures", set_limit, false, false },
	{ "limits", "hold_packets", set_limit, false, false },
	{ "limits", "hold_bytes", set_limit, false, false },
	{ "substrate", "policy", set_substrate, false, false },
	{ "substrate", "peer", set_substrate, false, true },
	{ "substrate", "udp_mtu", set_substrate, false, false },
	{ "substrate", "udp_loss_max", set_substrate, false, false },
	{ "store", "route_store", set_store, false, false },
	{ "store", "etcd_endpoints", set_store, false, false },
	{ "store", "etcd_prefix", set_store, false, false },
	{ "store", "lease_ttl", set_store, false, false },
	{ "store", "etcd_ca", set_store, false, false },
	{ "store", "etcd_cert", set_store, false, false },
	{ "store", "etcd_key", set_store, false, false },
	{ "store", "links", set_store, false, false },
	{ "store", "link_idle", set_store, false, false },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct ctx {
	const char *path;
	FILE *f;
	FILE *errs;
	struct config *cfg;
	char *line;   /* getline's buffer */
	size_t cap;
	int lineno;   /* of the line inih is working on */
	int nerr;
	int read_err; /* errno of a failed read of the config file */
	/* The last section header was malformed or unknown (already reported): its keys
	 * would only repeat that error. */
	bool skip;
	bool seeds_full; /* "too many seeds" was reported */
	int seen[NKEYS]; /* line where keys[i] first appeared, 0 if never */
	char shown[SHOW_BUF];
};

static const char *const sections[] = { "node", "pool", "peers", "security", "limits",
					"substrate", "store" };

/* Text from the file, made safe for a terminal: non-printable bytes, quotes and
 * backslashes escaped, long values cut. Returns c->shown (one use per message). */
static const char *show(struct ctx *c, const char *s, bool quote)
{
	size_t n = 0, i;

	if (quote)
		c->shown[n++] = '"';
	for (i = 0; i < SHOW_MAX && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f)
			n += (size_t)snprintf(c->shown + n, 5, "\\x%02x", ch);
		else if (ch == '"' || ch == '\\')
			n += (size_t)snprintf(c->shown + n, 3, "\\%c", ch);
		else
			c->shown[n++] = (char)ch;
	}
	if (s[i]) {
		memcpy(c->shown + n, "...", 3);
		n += 3;
	}
	if (quote)
		c->shown[n++] = '"';
	c->shown[n] = '\0';
	return c->shown;
}

static void __attribute__((format(printf, 3, 4)))
report(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(c->errs, "%s:%d: ", c->path, line);
	va_start(ap, fmt);
	vfprintf(c->errs, fmt, ap);
	va_end(ap);
	fputc('\n', c->errs);
	c->nerr++;
}

/* `mtu: "90000" is not in 1280..65535`. Keys outside [node] carry their section
 * (`[pool] ipv4: ...`) since a bare "ipv4" or "seed" says less. */
static void __attribute__((format(printf, 4, 5)))
bad(struct ctx *c, const struct key *k, const char *v, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strcmp(k->section, "node") == 0)
		report(c, c->lineno, "%s: %s %s", k->name, show(c, v, true), why);
	else
		report(c, c->lineno, "[%s] %s: %s %s", k->section, k->name, show(c, v, true),
		       why);
}

static void set_name(struct ctx *c, const struct key *k, const char *v)
{
	if (!msg_name_valid(v)) {
		bad(c, k, v, "is not a valid node name (1..%d of A-Z a-z 0-9 . _ -)",
		    NODE_NAME_MAX);
		return;
	}
	snprintf(c->cfg->node, sizeof(c->cfg->node), "%s", v);
}

static void set_listen(struct ctx *c, const struct key *k, const char *v)
{
	if (addr_parse(v, CONFIG_DEFAULT_PORT, &c->cfg->listen) != 0)
		bad(c, k, v, "%s", addr_msg);
}

static void set_metrics(struct ctx *c, const struct key *k, const char *v)
{
	if (addr_parse(v, 0, &c->cfg->metrics_listen) != 0)
		bad(c, k, v, "%s", addr_msg);
	else if (addr_port(&c->cfg->metrics_listen) == 0)
		bad(c, k, v, "has no port (ADDR:PORT)");
	else
		c->cfg->has_metrics = true;
}

static void set_seed(struct ctx *c, const struct key *k, const char *v)
{
	struct config *cfg = c->cfg;
	struct sockaddr_storage a;

	if (addr_parse(v, CONFIG_DEFAULT_PORT, &a) != 0) {
		bad(c, k, v, "%s", addr_msg);
		return;
	}
	if (cfg->nseeds == CONFIG_MAX_SEEDS) {
		/* Once is enough: every later seed would say the same. */
		if (!c->seeds_full)
			bad(c, k, v, "is one seed too many (at most %d)", CONFIG_MAX_SEEDS);
		c->seeds_full = true;
		return;
	}
	cfg->seeds[cfg->nseeds++] = a;
}

/* A decimal integer in min..max, or an error naming the value. */
static bool parse_int(struct ctx *c, const struct key *k, const char *v, long min, long max,
		      int *out)
{
	long n = 0;
	size_t i;

	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9') {
			bad(c, k, v, "is not a number");
			return false;
		}
		if (n <= max) /* stop growing long before overflow */
			n = n * 10 + (v[i] - '0');
	}
	if (i == 0) {
		bad(c, k, v, "is not a number");
		return false;
	}
	if (n < min || n > max) {
		bad(c, k, v, "is not in %ld..%ld", min, max);
		return false;
	}
	*out = (int)n;
	return true;
}

static void set_mtu(struct ctx *c, const struct key *k, const char *v)
{
	parse_int(c, k, v, MTU_MIN, MTU_MAX, &c->cfg->mtu);
}

static void set_forward_grace(struct ctx *c, const struct key *k, const char *v)
{
	parse_int(c, k, v, 0, 600000, &c->cfg->forward_grace_ms);
}

/* [substrate]: policy = auto|tcp|udp|verbs; peer = NAME:POLICY (repeatable); udp_mtu;
 * udp_loss_max. */
static bool policy_valid(const char *v)
{
	static const char *const policies[] = { "auto", "tcp", "udp", "verbs" };

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strcmp(v, policies[i]) == 0)
			return true;
	return false;
}

static void set_substrate(struct ctx *c, const struct key *k, const char *v)
{
	struct config *cfg = c->cfg;
	const char *colon;
	char name[NODE_NAME_MAX + 1];

	if (strcmp(k->name, "udp_mtu") == 0) {
		if (strcmp(v, "0") != 0)
			parse_int(c, k, v, CONFIG_UDP_MTU_MIN, MTU_MAX, &cfg->udp_mtu);
		return;
	}
	if (strcmp(k->name, "udp_loss_max") == 0) {
		parse_int(c, k, v, 0, 100, &cfg->udp_loss_max);
		return;
	}
	if (strcmp(k->name, "policy") == 0) {
		if (!policy_valid(v))
			bad(c, k, v, "is not auto, tcp, udp or verbs");
		else
			snprintf(cfg->substrate, sizeof(cfg->substrate), "%s", v);
		return;
	}
	colon = strchr(v, ':');
	if (!colon || (size_t)(colon - v) > NODE_NAME_MAX) {
		bad(c, k, v, "is not NODE:POLICY");
		return;
	}
	memcpy(name, v, (size_t)(colon - v));
	name[colon - v] = '\0';
	if (!msg_name_valid(name) || !policy_valid(colon + 1)) {
		bad(c, k, v, "is not NODE:POLICY (POLICY auto, tcp, udp or verbs)");
		return;
	}
	if (cfg->npolicies == CONFIG_MAX_POLICIES) {
		bad(c, k, v, "is one too many (at most %d)", CONFIG_MAX_POLICIES);
		return;
	}
	snprintf(cfg->policies[cfg->npolicies].peer, sizeof(cfg->policies[0].peer), "%s", name);
	snprintf(cfg->policies[cfg->npolicies].policy, sizeof(cfg->policies[0].policy), "%s",
		 colon + 1);
	cfg->npolicies++;
}

static void set_peer_timeout(struct ctx *c, const struct key *k, const char *v)
{
	parse_int(c, k, v, 2, 3600, &c->cfg->peer_timeout_s);
}

/* [limits]: where each one is kept and its range. */
/* [limits]: where each one is kept, its range and its default (tunvnet.conf(5)). */
#define LIM(f) offsetof(struct config_limits, f)
static const struct limit {
	const char *name;
	size_t off; /* of the int in struct config_limits */
	long min, max, def;
} limits[] = {
	{ "metrics_connections", LIM(metrics_conns), 1, 4096, CONFIG_DEFAULT_METRICS_CONNS },
	{ "metrics_per_address", LIM(metrics_per_addr), 1, 4096, CONFIG_DEFAULT_METRICS_PER_ADDR },
	{ "metrics_timeout", LIM(metrics_timeout_s), 1, 3600, CONFIG_DEFAULT_METRICS_TIMEOUT },
	{ "routes", LIM(routes), 16, 16777216, 1048576 },
	{ "routes_per_peer", LIM(routes_per_peer), 1, 16777216, 65536 },
	{ "peers", LIM(peers), 1, 65536, 1024 },
	{ "peer_forget", LIM(peer_forget_s), 1, 604800, 600 },
	{ "pending_handshakes", LIM(pending), 1, 4096, 64 },
	{ "pending_per_address", LIM(pending_per_addr), 1, 4096, 8 },
	{ "control_clients", LIM(control_clients), 2, 4096, 64 },
	{ "control_idle_timeout", LIM(control_idle_s), 1, 86400, 60 },
	{ "event_followers", LIM(followers), 0, 1024, 16 },
	{ "captures", LIM(captures), 0, 256, 16 },
	{ "hold_packets", LIM(hold_packets), 1, 1048576, 8192 },
	{ "hold_bytes", LIM(hold_bytes), 65536, 1073741824, 33554432 },
};
#undef LIM

void config_limits_default(struct config_limits *l)
{
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		*(int *)((char *)l + limits[i].off) = (int)limits[i].def;
}

static void set_limit(struct ctx *c, const struct key *k, const char *v)
{
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strcmp(limits[i].name, k->name) == 0)
			parse_int(c, k, v, limits[i].min, limits[i].max,
				  (int *)((char *)&c->cfg->limits + limits[i].off));
}

static void set_offload(struct ctx *c, const struct key *k, const char *v)
{
	if (strcmp(v, "on") == 0)
		c->cfg->offload = true;
	else if (strcmp(v, "off") == 0)
		c->cfg->offload = false;
	else
		bad(c, k, v, "is neither on nor off");
}

/* vip_prefix_parse says only yes or no; a user deserves to know which part is wrong,
 * so a refused prefix is taken apart again here. */
static const char *prefix_problem(const char *v, int family)
{
	char addr[VIP_STRLEN + 1];
	const char *slash = strchr(v, '/');
	size_t n = slash ? (size_t)(slash - v) : 0;
	unsigned len = 0, max;
	struct vip a;
	size_t i;

	if (!slash || n == 0 || n >= sizeof(addr))
		return family == AF_INET ? "is not an IPv4 prefix (A.B.C.D/LEN)"
					 : "is not an IPv6 prefix (IPV6/LEN)";
	memcpy(addr, v, n);
	addr[n] = '\0';
	if (vip_parse(addr, &a) != 0 || a.family != family)
		return family == AF_INET ? "is not an IPv4 prefix (A.B.C.D/LEN)"
					 : "is not an IPv6 prefix (IPV6/LEN)";
	max = family == AF_INET ? 32 : 128;
	for (i = 0; slash[1 + i]; i++) {
		if (slash[1 + i] < '0' || slash[1 + i] > '9' || i >= 3)
			return "has a bad prefix length";
		len = len * 10 + (unsigned)(slash[1 + i] - '0');
	}
	if (i == 0 || len > max)
		return "has a bad prefix length";
	return "is not a prefix (host bits set)";
}

static void set_pool(struct ctx *c, const struct key *k, const char *v)
{
	bool v4 = strcmp(k->name, "ipv4") == 0;
	int family = v4 ? AF_INET : AF_INET6;
	int max = v4 ? POOL4_LEN_MAX : POOL6_LEN_MAX;
	struct vip_prefix p;

	if (vip_prefix_parse(v, &p) != 0 || p.addr.family != family) {
		bad(c, k, v, "%s", prefix_problem(v, family));
		return;
	}
	if (p.len > max) {
		bad(c, k, v, "is too small to hold jobs (at most /%d)", max);
		return;
	}
	if (v4) {
		c->cfg->pool4 = p;
		c->cfg->has_pool4 = true;
	} else {
		c->cfg->pool6 = p;
		c->cfg->has_pool6 = true;
	}
}

static void set_abs_path(struct ctx *c, const struct key *k, const char *v, char *dst,
			 size_t max)
{
	if (v[0] != '/') {
		bad(c, k, v, "is not an absolute path");
		return;
	}
	if (strlen(v) >= max) {
		bad(c, k, v, "is longer than %zu bytes", max - 1);
		return;
	}
	memcpy(dst, v, strlen(v) + 1);
}

static void set_state_dir(struct ctx *c, const struct key *k, const char *v)
{
	set_abs_path(c, k, v, c->cfg->state_dir, sizeof(c->cfg->state_dir));
}

static void set_ctl_socket(struct ctx *c, const struct key *k, const char *v)
{
	/* bind() takes no longer path than sun_path holds: say so now, not at start-up. */
	set_abs_path(c, k, v, c->cfg->ctl_socket, sizeof(((struct sockaddr_un *)0)->sun_path));
}

/* A relative path is relative to the directory of the config file, so that a config
 * and its credentials can move together whatever the daemon's working directory. */
static void set_rel_path(struct ctx *c, const struct key *k, const char *v, char *dst)
{
	const char *slash = strrchr(c->path, '/');
	int n;

	if (!v[0]) {
		bad(c, k, v, "is not a file name");
		return;
	}
	if (v[0] == '/' || !slash)
		n = snprintf(dst, PATH_MAX, "%s", v);
	else
		n = snprintf(dst, PATH_MAX, "%.*s/%s", (int)(slash - c->path), c->path, v);
	if (n < 0 || n >= PATH_MAX) {
		dst[0] = '\0';
		bad(c, k, v, "is longer than %d bytes", PATH_MAX - 1);
	}
}

static void set_cred(struct ctx *c, const struct key *k, const char *v)
{
	struct config *cfg = c->cfg;
	char *dst = strcmp(k->name, "ca") == 0     ? cfg->ca_file
		    : strcmp(k->name, "cert") == 0 ? cfg->cert_file
		    : strcmp(k->name, "key") == 0  ? cfg->key_file
						   : cfg->crl_file;

	set_rel_path(c, k, v, dst);
}

static void set_protection(struct ctx *c, const struct key *k, const char *v)
{
	if (strcmp(v, "sealed") == 0)
		c->cfg->sealed = true;
	else if (strcmp(v, "none") == 0)
		c->cfg->sealed = false;
	else
		bad(c, k, v, "is neither \"sealed\" nor \"none\"");
}

static void set_rekey(struct ctx *c, const struct key *k, const char *v)
{
	parse_int(c, k, v, REKEY_MIN_S, REKEY_MAX_S, &c->cfg->rekey_s);
}

static void set_endpoints(struct ctx *c, const struct key *k, const char *v)
{
	struct config_store *st = &c->cfg->store;
	char buf[CONFIG_MAX_ETCD * CONFIG_ETCD_URL_MAX], *save = NULL, *tok;

	st->nendpoints = 0;
	if (strlen(v) >= sizeof(buf)) {
		bad(c, k, v, "is too long");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (st->nendpoints == CONFIG_MAX_ETCD) {
			bad(c, k, v, "names more than %d endpoints", CONFIG_MAX_ETCD);
			return;
		}
		if ((strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) ||
		    strlen(tok) >= CONFIG_ETCD_URL_MAX || strpbrk(tok, "?#\"")) {
			bad(c, k, tok, "is not an http:// or https:// URL of at most %d bytes",
			    CONFIG_ETCD_URL_MAX - 1);
			return;
		}
		snprintf(st->endpoints[st->nendpoints++], CONFIG_ETCD_URL_MAX, "%s", tok);
	}
	if (st->nendpoints == 0)
		bad(c, k, v, "names no endpoint");
}

static void set_store(struct ctx *c, const struct key *k, const char *v)
{
	struct config_store *st = &c->cfg->store;

	if (strcmp(k->name, "route_store") == 0) {
		if (strcmp(v, "etcd") == 0)
			st->etcd = true;
		else if (strcmp(v, "mesh") == 0)
			st->etcd = false;
		else
			bad(c, k, v, "is neither \"mesh\" nor \"etcd\"");
	} else if (strcmp(k->name, "etcd_endpoints") == 0) {
		set_endpoints(c, k, v);
	} else if (strcmp(k->name, "etcd_prefix") == 0) {
		size_t n = strlen(v);

		if (n < 2 || n >= sizeof(st->prefix) || v[0] != '/' || v[n - 1] == '/' ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			   "._-/") != n)
			bad(c, k, v, "is not a key prefix (/[A-Za-z0-9._-/]..., at most %zu "
			    "bytes, no trailing /)", sizeof(st->prefix) - 1);
		else
			snprintf(st->prefix, sizeof(st->prefix), "%s", v);
	} else if (strcmp(k->name, "lease_ttl") == 0) {
		parse_int(c, k, v, 2, 3600, &st->lease_ttl_s);
	} else if (strcmp(k->name, "links") == 0) {
		if (strcmp(v, "on_demand") == 0)
			st->on_demand = true;
		else if (strcmp(v, "full") == 0)
			st->on_demand = false;
		else
			bad(c, k, v, "is neither \"on_demand\" nor \"full\"");
	} else if (strcmp(k->name, "link_idle") == 0) {
		parse_int(c, k, v, 0, 86400, &st->link_idle_s);
	} else {
		set_rel_path(c, k, v, strcmp(k->name, "etcd_ca") == 0     ? st->ca_file
				      : strcmp(k->name, "etcd_cert") == 0 ? st->cert_file
									  : st->key_file);
	}
}

/* [store]: etcd needs its endpoints; TLS files go with https. */
static void check_store(struct ctx *c)
{
	struct config_store *st = &c->cfg->store;
	int line = c->seen[key_index("store", "route_store")];

	int links = c->seen[key_index("store", "links")];

	if (st->etcd && st->nendpoints == 0)
		report(c, line, "[store] route_store = etcd needs etcd_endpoints");
	/* Unsaid, links follow the store: on demand with etcd, every node with the mesh. */
	if (!links)
		st->on_demand = st->etcd;
	else if (st->on_demand && !st->etcd)
		report(c, links, "[store] links = on_demand needs route_store = etcd (the mesh "
		       "spreads routes over a link to every node)");
	if (!st->cert_file[0] != !st->key_file[0])
		report(c, c->seen[key_index("store", st->cert_file[0] ? "etcd_cert" : "etcd_key")],
		       "[store] etcd_cert and etcd_key go together");
}

/* The credential files, each checked once the whole file is read (the certificate
 * needs the node's name, the CA and the key): every problem at its own line. */
static void check_credentials(struct ctx *c)
{
	struct config *cfg = c->cfg;
	int ca = c->seen[key_index("security", "ca")],
	    cert = c->seen[key_index("security", "cert")],
	    key = c->seen[key_index("security", "key")],
	    crl = c->seen[key_index("security", "crl")];
	bool ca_ok = false, key_ok = false, crl_ok = true;
	char why[TLS_WHY_MAX];

	if (ca && cfg->ca_file[0]) {
		ca_ok = tls_check_ca(cfg->ca_file, why, sizeof(why)) == 0;
		if (!ca_ok)
			report(c, ca, "[security] ca: %s", why);
	}
	if (key && cfg->key_file[0]) {
		key_ok = tls_check_key(cfg->key_file, why, sizeof(why)) == 0;
		if (!key_ok)
			report(c, key, "[security] key: %s", why);
	}
	if (crl && cfg->crl_file[0] && ca_ok) {
		crl_ok = tls_check_crl(cfg->crl_file, cfg->ca_file, why, sizeof(why)) == 0;
		if (!crl_ok)
			report(c, crl, "[security] crl: %s", why);
	}
	if (cert && cfg->cert_file[0] && ca_ok && key_ok && crl_ok && cfg->node[0]) {
		struct tls_cred cr = { cfg->ca_file, cfg->cert_file, cfg->key_file,
				       cfg->crl_file, cfg->node };

		if (tls_check_cert(&cr, why, sizeof(why)) < 0)
			report(c, cert, "[security] cert: %s", why);
	}
}

/* keys[] index of section.name (section NULL: in any section), NKEYS if there is no
 * such key */
static size_t key_index(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if ((!section || strcmp(keys[i].section, section) == 0) &&
		    strcmp(keys[i].name, name) == 0)
			break;
	return i;
}

/* ", did you mean \"listen\"?" (or "... \"mtu\" in [node]?") for a misspelt key; "" if
 * none is close. */
static const char *key_hint(const char *section, const char *name, char *buf, size_t size)
{
	struct suggest in, any;
	const char *w;
	size_t i;

	suggest_init(&in, name);
	suggest_init(&any, name);
	for (i = 0; i < NKEYS; i++)
		suggest_try(strcmp(keys[i].section, section) == 0 ? &in : &any, keys[i].name);
	if (suggest_result(&in)) {
		snprintf(buf, size, "; did you mean \"%s\"?", suggest_result(&in));
		return buf;
	}
	/* a key of another section, spelt right or nearly */
	w = suggest_result(&any) ? suggest_result(&any) : name;
	if ((i = key_index(NULL, w)) < NKEYS && w == name)
		snprintf(buf, size, "; \"%s\" belongs in [%s]", keys[i].name, keys[i].section);
	else if (i < NKEYS)
		snprintf(buf, size, "; did you mean \"%s\" in [%s]?", keys[i].name,
			 keys[i].section);
	return buf;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *c = user;
	const struct key *k;
	size_t i;

	if (c->skip)
		return 1;
	if (!section[0]) {
		report(c, c->lineno, "key %s is outside any section", show(c, name, true));
		return 1;
	}
	i = key_index(section, name);
	if (i == NKEYS) {
		/* section is one of ours: rd lets only known headers through to inih. */
		char hint[128] = "";

		report(c, c->lineno, "unknown key %s in [%s]%s", show(c, name, true), section,
		       key_hint(section, name, hint, sizeof(hint)));
		return 1;
	}
	k = &keys[i];
	if (c->seen[i] && !k->repeatable) {
		report(c, c->lineno, "duplicate key \"%s\" in [%s] (first on line %d)", k->name,
		       k->section, c->seen[i]);
		return 1;
	}
	if (!c->seen[i])
		c->seen[i] = c->lineno;
	k->set(c, k, value);
	/* Every error is ours to report: a 0 would only make inih remember the line. */
	return 1;
}

static bool known_section(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(sections[i], s) == 0)
			return true;
	return false;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* inih's own scan (find_chars_or_comment in ini.c, with its default inline comments):
 * the first of `chars`, or a ';' that follows a blank, which starts a comment. Using the
 * same rule is what makes our syntax check agree with inih on every line. */
static char *scan(char *s, const char *chars)
{
	bool was_blank = false;

	while (*s && !strchr(chars, *s) && !(was_blank && *s == ';')) {
		was_blank = is_blank(*s);
		s++;
	}
	return s;
}

/* Classifies one line (leading and trailing blanks already gone). Returns what inih
 * should see: the line itself for key = value, a normalised "[name]" for a known
 * section header and "" for everything else, reported here if it is wrong. */
static const char *check_line(struct ctx *c, char *s)
{
	char *end, *rest, *name;
	size_t n;

	if (!s[0] || s[0] == ';' || s[0] == '#')
		return "";
	if (s[0] == '[') {
		end = scan(s + 1, "]");
		if (*end != ']') {
			report(c, c->lineno, "%s", syntax_msg);
			c->skip = true;
			return "";
		}
		*end = '\0';
		name = trim(s + 1);
		/* inih ignores whatever follows the ']'; a comment may, nothing else. */
		rest = trim(end + 1);
		if (rest[0] && rest[0] != ';' && rest[0] != '#')
			report(c, c->lineno, "%s", syntax_msg);
		if (!known_section(name)) {
			struct suggest sg;
			char hint[64] = "";

			suggest_init(&sg, name);
			for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
				suggest_try(&sg, sections[i]);
			if (suggest_result(&sg))
				snprintf(hint, sizeof(hint), "; did you mean [%s]?",
					 suggest_result(&sg));
			report(c, c->lineno, "unknown section [%s]%s", show(c, name, false), hint);
			c->skip = true;
			return "";
		}
		c->skip = false;
		/* Known names are short: "[name]" fits where "[ name ]" was. The length is
		 * taken once: the ']' written below replaces the name's terminator, and a
		 * strlen after it would run on into the comment (and past the buffer when
		 * the line fills it exactly). */
		n = strlen(name);
		memmove(s + 1, name, n);
		s[1 + n] = ']';
		s[2 + n] = '\0';
		return s;
	}
	/* "key = value" or, as inih also accepts (Python's configparser does), "key: value" */
	end = scan(s, "=:");
	if (*end != '=' && *end != ':') {
		report(c, c->lineno, "%s", syntax_msg);
		return "";
	}
	if (end == s) { /* inih would pass an empty key name */
		report(c, c->lineno, "%s", syntax_msg);
		return "";
	}
	return s;
}

/* inih's line source: one line of the file per call, so c->lineno is the number of the
 * line whose keys the handler sees. Leading blanks are stripped before inih sees the
 * line: an indented line is then never an inih "continuation" of the previous value
 * (no key here takes a multi-line value, and indented sections are common). */
static char *rd(char *str, int num, void *stream)
{
	struct ctx *c = stream;
	const char *out;
	ssize_t n;
	char *s;

	errno = 0;
	n = getline(&c->line, &c->cap, c->f);
	if (n < 0) {
		if (ferror(c->f))
			c->read_err = errno ? errno : EIO;
		return NULL;
	}
	c->lineno++;
	s = c->line;
	if (memchr(s, '\0', (size_t)n)) {
		report(c, c->lineno, "line holds a NUL byte");
		out = "";
	} else {
		/* a UTF-8 byte order mark, as inih would skip it */
		if (c->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		out = check_line(c, trim(s));
	}
	if (strlen(out) >= (size_t)num) {
		report(c, c->lineno, "line is longer than %d bytes", num - 1);
		out = "";
	}
	memcpy(str, out, strlen(out) + 1);
	return str;
}

static void check_missing(struct ctx *c)
{
	size_t i;

	/* No line is at fault: point at the end of the file, where the key would go. */
	for (i = 0; i < NKEYS; i++)
		if (keys[i].required && !c->seen[i])
			report(c, c->lineno, "missing required key \"%s\" in [%s]", keys[i].name,
			       keys[i].section);
	if (!c->seen[key_index("pool", "ipv4")] && !c->seen[key_index("pool", "ipv6")])
		report(c, c->lineno, "missing required key \"ipv4\" or \"ipv6\" in [pool]");
}

int config_load(const char *path, struct config *cfg, FILE *errs)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f) {
		err = -errno;
		memset(cfg, 0, sizeof(*cfg));
		fprintf(errs ? errs : stderr, "%s: %s\n", path, strerror(-err));
		return err;
	}
	err = config_read(f, path, cfg, errs);
	fclose(f);
	return err;
}

int config_read(FILE *f, const char *path, struct config *cfg, FILE *errs)
{
	struct ctx c = { .path = path, .f = f, .errs = errs ? errs : stderr, .cfg = cfg };
	int ret, err;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", CONFIG_DEFAULT_STATE);
	snprintf(cfg->ctl_socket, sizeof(cfg->ctl_socket), "%s", CONFIG_DEFAULT_SOCKET);
	cfg->mtu = DEFAULT_MTU;
	cfg->forward_grace_ms = CONFIG_DEFAULT_FORWARD_GRACE_MS;
	cfg->peer_timeout_s = CONFIG_DEFAULT_PEER_TIMEOUT_S;
	cfg->offload = true;
	cfg->sealed = true;
	cfg->rekey_s = CONFIG_DEFAULT_REKEY_S;
	config_limits_default(&cfg->limits);
	snprintf(cfg->substrate, sizeof(cfg->substrate), "tcp");
	cfg->udp_loss_max = CONFIG_DEFAULT_UDP_LOSS_MAX;
	snprintf(cfg->store.prefix, sizeof(cfg->store.prefix), "/tunvnet");
	cfg->store.lease_ttl_s = CONFIG_DEFAULT_LEASE_TTL;
	cfg->store.link_idle_s = CONFIG_DEFAULT_LINK_IDLE;

	ret = ini_parse_stream(rd, &c, on_key, &c);
	if (c.read_err) {
		/* e.g. a directory: nothing was read, as if it could not be opened */
		err = -c.read_err;
		fprintf(c.errs, "%s: %s\n", path, strerror(c.read_err));
	} else if (ret == -2) {
		err = -ENOMEM;
		fprintf(c.errs, "%s: %s\n", path, strerror(ENOMEM));
	} else {
		/* rd hands inih only lines it accepts, so inih should find nothing; should a
		 * later inih be stricter, its verdict still counts. */
		if (ret > 0)
			report(&c, ret, "%s", syntax_msg);
		check_missing(&c);
		check_credentials(&c);
		check_store(&c);
		err = c.nerr;
	}
	free(c.line);
	return err;
}

void config_print(const struct config *cfg, FILE *out)
{
	char a[ADDR_STRLEN], p[VIP_STRLEN + 4];
	int i;

	fprintf(out, "[node]\n");
	fprintf(out, "name = %s\n", cfg->node);
	fprintf(out, "listen = %s\n", addr_fmt(&cfg->listen, a));
	fprintf(out, "state_dir = %s\n", cfg->state_dir);
	fprintf(out, "control_socket = %s\n", cfg->ctl_socket);
	fprintf(out, "mtu = %d\n", cfg->mtu);
	fprintf(out, "forward_grace = %d\n", cfg->forward_grace_ms);
	fprintf(out, "peer_timeout = %d\n", cfg->peer_timeout_s);
	fprintf(out, "offload = %s\n", cfg->offload ? "on" : "off");
	if (cfg->has_metrics)
		fprintf(out, "metrics_listen = %s\n", addr_fmt(&cfg->metrics_listen, a));
	fprintf(out, "\n[pool]\n");
	if (cfg->has_pool4)
		fprintf(out, "ipv4 = %s\n", vip_prefix_fmt(&cfg->pool4, p));
	if (cfg->has_pool6)
		fprintf(out, "ipv6 = %s\n", vip_prefix_fmt(&cfg->pool6, p));
	fprintf(out, "\n[peers]\n");
	for (i = 0; i < cfg->nseeds; i++)
		fprintf(out, "seed = %s\n", addr_fmt(&cfg->seeds[i], a));
	fprintf(out, "\n[security]\n");
	fprintf(out, "ca = %s\n", cfg->ca_file);
	fprintf(out, "cert = %s\n", cfg->cert_file);
	fprintf(out, "key = %s\n", cfg->key_file);
	if (cfg->crl_file[0])
		fprintf(out, "crl = %s\n", cfg->crl_file);
	fprintf(out, "data_protection = %s\n", cfg->sealed ? "sealed" : "none");
	fprintf(out, "rekey_interval = %d\n", cfg->rekey_s);
	fprintf(out, "\n[limits]\n");
	for (i = 0; i < (int)(sizeof(limits) / sizeof(limits[0])); i++)
		fprintf(out, "%s = %d\n", limits[i].name,
			*(const int *)((const char *)&cfg->limits + limits[i].off));
	fprintf(out, "\n[substrate]\n");
	fprintf(out, "policy = %s\n", cfg->substrate);
	for (i = 0; i < cfg->npolicies; i++)
		fprintf(out, "peer = %s:%s\n", cfg->policies[i].peer, cfg->policies[i].policy);
	fprintf(out, "udp_mtu = %d\n", cfg->udp_mtu);
	fprintf(out, "udp_loss_max = %d\n", cfg->udp_loss_max);
	if (!cfg->store.etcd)
		return; /* the mesh: the golden files of configs without [store] stay as they were */
	fprintf(out, "\n[store]\nroute_store = etcd\netcd_endpoints = ");
	for (i = 0; i < cfg->store.nendpoints; i++)
		fprintf(out, "%s%s", i ? ", " : "", cfg->store.endpoints[i]);
	fprintf(out, "\netcd_prefix = %s\nlease_ttl = %d\n", cfg->store.prefix,
		cfg->store.lease_ttl_s);
	fprintf(out, "links = %s\n", cfg->store.on_demand ? "on_demand" : "full");
	if (cfg->store.on_demand)
		fprintf(out, "link_idle = %d\n", cfg->store.link_idle_s);
	if (cfg->store.ca_file[0])
		fprintf(out, "etcd_ca = %s\n", cfg->store.ca_file);
	if (cfg->store.cert_file[0])
		fprintf(out, "etcd_cert = %s\netcd_key = %s\n", cfg->store.cert_file,
			cfg->store.key_file);
}
