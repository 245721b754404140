/* The CNI protocol's data for tunvnet-cni: configuration and environment in, result,
 * version and error objects out (cniconf.h). */
#include "cni/cniconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Versions whose result format we can write: 0.3.x and 0.4.0 put a "version" in each
 * ips entry, 1.0.0 does not. CHECK came with 0.4.0. */
static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

static const struct {
	enum cni_code code;
	const char *name;
} code_names[] = {
	{ CNI_ERR_VERSION, "Incompatible CNI version" },
	{ CNI_ERR_FIELD, "Unsupported field in network configuration" },
	{ CNI_ERR_UNKNOWN_CONTAINER, "Container unknown or does not exist" },
	{ CNI_ERR_ENV, "Invalid environment variables" },
	{ CNI_ERR_IO, "I/O failure" },
	{ CNI_ERR_DECODE, "Failed to decode content" },
	{ CNI_ERR_CONFIG, "Invalid network config" },
	{ CNI_ERR_TRY_AGAIN, "Try again later" },
	{ CNI_ERR_DAEMON, "tunvnetd refused the request" },
	{ CNI_ERR_NOT_ATTACHED, "Attachment missing" },
	{ CNI_ERR_INTERFACE, "Interface name unusable" },
};

const char *cniconf_code_name(enum cni_code code)
{
	for (size_t i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++)
		if (code_names[i].code == code)
			return code_names[i].name;
	return "Error";
}

static enum cni_code __attribute__((format(printf, 4, 5)))
fail(char *msg, size_t size, enum cni_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return code;
}

static int version_index(const char *v)
{
	for (size_t i = 0; i < NVERSIONS; i++)
		if (strcmp(versions[i], v) == 0)
			return (int)i;
	return -1;
}

/* The spec's identifier rule for container IDs and network names: an alphanumeric
 * first, then alphanumerics, '_', '.' or '-'. */
static bool id_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* Linux's rule for interface names, as the spec repeats it. */
static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 16 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || *s == '\t' || *s == '\n' ||
		    *s == '\r' || *s == '\v' || *s == '\f')
			return false;
	return true;
}

/* "198.19.1.20", "198.19.1.20/32" or, as static IPAM writes it, "198.19.1.20/24": the
 * address counts, a VIP is always a host address on the job's TUN. */
static int parse_cidr(const char *s, struct vip *v)
{
	char buf[VIP_STRLEN + 8];
	size_t n = strcspn(s, "/");

	if (n >= sizeof(buf) || (s[n] && strlen(s + n) > 4))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return vip_parse(buf, v);
}

static enum cni_code add_vip(struct cniconf *c, const char *text, const char *where,
			     char *msg, size_t size)
{
	struct vip v;

	if (parse_cidr(text, &v) < 0)
		return fail(msg, size, CNI_ERR_CONFIG, "%s: \"%.64s\" is not an IP address",
			    where, text);
	for (int i = 0; i < c->nvips; i++)
		if (vip_equal(&c->vips[i], &v))
			return fail(msg, size, CNI_ERR_CONFIG, "%s: %.64s given twice", where, text);
	if (c->nvips == CNICONF_MAX_VIPS)
		return fail(msg, size, CNI_ERR_CONFIG, "%s: more than %d addresses", where,
			    CNICONF_MAX_VIPS);
	c->vips[c->nvips++] = v;
	return CNI_OK;
}

static enum cni_code ipam_static(struct cniconf *c, json_t *ipam, char *msg, size_t size)
{
	json_t *addrs = json_object_get(ipam, "addresses"), *a, *v;
	const char *key;
	size_t i;
	enum cni_code e;

	if (!json_is_array(addrs) || json_array_size(addrs) == 0)
		return fail(msg, size, CNI_ERR_CONFIG, "ipam: type static needs \"addresses\", "
			    "a list of {\"address\": \"IP\"}");
	json_array_foreach(addrs, i, a) {
		if (!json_is_object(a) || !json_is_string(json_object_get(a, "address")))
			return fail(msg, size, CNI_ERR_CONFIG, "ipam.addresses[%zu]: not an object "
				    "with an \"address\" string", i);
		json_object_foreach(a, key, v) {
			if (strcmp(key, "address") != 0)
				return fail(msg, size, CNI_ERR_FIELD, "ipam.addresses[%zu].%.32s: "
					    "unsupported (a VIP has no gateway: its TUN carries "
					    "the default route)", i, key);
		}
		e = add_vip(c, json_string_value(json_object_get(a, "address")),
			    "ipam.addresses", msg, size);
		if (e)
			return e;
	}
	return CNI_OK;
}

static enum cni_code ipam_pool(struct cniconf *c, json_t *ipam, char *msg, size_t size)
{
	json_t *fams = json_object_get(ipam, "families"), *f;
	size_t i;

	if (!fams)
		return CNI_OK;
	if (!json_is_array(fams) || json_array_size(fams) == 0 || json_array_size(fams) > 2)
		return fail(msg, size, CNI_ERR_CONFIG, "ipam.families: not a list of 4 and/or 6");
	json_array_foreach(fams, i, f) {
		json_int_t n = json_is_integer(f) ? json_integer_value(f) : 0;

		if ((n != 4 && n != 6) || (i == 1 && c->families[0] == n))
			return fail(msg, size, CNI_ERR_CONFIG, "ipam.families: not a list of 4 "
				    "and/or 6");
		c->families[c->nfamilies++] = (int)n;
	}
	return CNI_OK;
}

static enum cni_code parse_ipam(struct cniconf *c, json_t *ipam, char *msg, size_t size)
{
	const char *type, *key;
	json_t *v;

	if (!json_is_object(ipam))
		return fail(msg, size, CNI_ERR_CONFIG, "ipam: not an object");
	type = json_string_value(json_object_get(ipam, "type"));
	if (!type)
		return fail(msg, size, CNI_ERR_CONFIG, "ipam: no \"type\" (static or tunvnet)");
	if (strcmp(type, "static") != 0 && strcmp(type, "tunvnet") != 0)
		return fail(msg, size, CNI_ERR_FIELD, "ipam.type: \"%.64s\" is not supported: "
			    "a VIP comes from the node's pool (type tunvnet, or no ipam) or is "
			    "given (type static); tunvnet-cni runs no IPAM plugin", type);
	json_object_foreach(ipam, key, v) {
		if (strcmp(key, "type") == 0 ||
		    (strcmp(key, "addresses") == 0 && strcmp(type, "static") == 0) ||
		    (strcmp(key, "families") == 0 && strcmp(type, "tunvnet") == 0))
			continue;
		return fail(msg, size, CNI_ERR_FIELD, "ipam.%.32s: unsupported with type %s",
			    key, type);
	}
	return strcmp(type, "static") == 0 ? ipam_static(c, ipam, msg, size)
					   : ipam_pool(c, ipam, msg, size);
}

/* CNI_ARGS "K=V;K=V": IP=198.19.1.20[,fd00:19:1::20] gives static VIPs (the static IPAM
 * plugin's convention); other keys (K8S_POD_NAME, IgnoreUnknown...) are not ours. */
static enum cni_code parse_args(struct cniconf *c, const char *args, char *msg, size_t size)
{
	char buf[1024], *save = NULL, *kv, *ip, *save2 = NULL;
	enum cni_code e;

	if (strlen(args) >= sizeof(buf))
		return fail(msg, size, CNI_ERR_ENV, "CNI_ARGS: longer than %zu bytes",
			    sizeof(buf) - 1);
	strcpy(buf, args);
	for (kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		if (strncmp(kv, "IP=", 3) != 0)
			continue;
		for (ip = strtok_r(kv + 3, ",", &save2); ip; ip = strtok_r(NULL, ",", &save2)) {
			e = add_vip(c, ip, "CNI_ARGS IP", msg, size);
			if (e)
				return e == CNI_ERR_CONFIG ? CNI_ERR_ENV : e;
		}
	}
	return CNI_OK;
}

static enum cni_code parse_env(struct cniconf *c, char *(*env)(const char *), char *msg,
			       size_t size)
{
	const char *id = env("CNI_CONTAINERID"), *ns = env("CNI_NETNS"), *ifn = env("CNI_IFNAME");

	if (!id || !*id || !id_valid(id) || strlen(id) >= sizeof(c->container))
		return fail(msg, size, CNI_ERR_ENV, "CNI_CONTAINERID: %s", !id || !*id ? "missing"
			    : "not alphanumeric, '_', '.' and '-' (alphanumeric first)");
	strcpy(c->container, id);
	if (!ifn || !ifname_valid(ifn))
		return fail(msg, size, CNI_ERR_ENV, "CNI_IFNAME: %s", !ifn || !*ifn ? "missing"
			    : "not a Linux interface name (1..15 bytes, no '/', ':' or blank)");
	strcpy(c->ifname, ifn);
	if (ns && *ns) {
		if (ns[0] != '/' || strlen(ns) >= sizeof(c->netns))
			return fail(msg, size, CNI_ERR_ENV, "CNI_NETNS: \"%.64s\" is not an "
				    "absolute path", ns);
		strcpy(c->netns, ns);
	} else if (c->cmd != CNI_CMD_DEL) {
		return fail(msg, size, CNI_ERR_ENV, "CNI_NETNS: missing");
	}
	return CNI_OK;
}

static enum cni_code copy_path(const json_t *v, const char *key, char *dst, size_t max,
			       char *msg, size_t size)
{
	const char *s = json_string_value(v);

	if (!s || s[0] != '/')
		return fail(msg, size, CNI_ERR_CONFIG, "%s: not an absolute path", key);
	if (strlen(s) >= max)
		return fail(msg, size, CNI_ERR_CONFIG, "%s: longer than %zu bytes", key, max - 1);
	strcpy(dst, s);
	return CNI_OK;
}

enum cni_code cniconf_parse(struct cniconf *c, char *(*env)(const char *), const char *conf,
			    size_t len, char *msg, size_t size)
{
	const char *cmd = env("CNI_COMMAND"), *s, *args;
	json_t *o, *v, *rc;
	json_error_t jerr;
	enum cni_code e;
	size_t i;

	memset(c, 0, sizeof(*c));
	strcpy(c->version, CNICONF_VERSION);
	strcpy(c->socket, CNICONF_DEFAULT_SOCKET);
	strcpy(c->data_dir, CNICONF_DEFAULT_DATADIR);
	if (!cmd || !*cmd)
		return fail(msg, size, CNI_ERR_ENV, "CNI_COMMAND: missing");
	if (strcmp(cmd, "ADD") == 0)
		c->cmd = CNI_CMD_ADD;
	else if (strcmp(cmd, "DEL") == 0)
		c->cmd = CNI_CMD_DEL;
	else if (strcmp(cmd, "CHECK") == 0)
		c->cmd = CNI_CMD_CHECK;
	else if (strcmp(cmd, "VERSION") == 0)
		c->cmd = CNI_CMD_VERSION;
	else
		return fail(msg, size, CNI_ERR_ENV, "CNI_COMMAND: \"%.32s\" is not ADD, DEL, "
			    "CHECK or VERSION (this plugin implements CNI %s)", cmd,
			    CNICONF_VERSION);

	o = json_loadb(conf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (c->cmd == CNI_CMD_VERSION) {
		/* only the version to answer in matters; anything else is not checked */
		s = json_string_value(json_object_get(o, "cniVersion"));
		if (s && strlen(s) < sizeof(c->version))
			strcpy(c->version, s);
		json_decref(o);
		return CNI_OK;
	}
	if (!o)
		return fail(msg, size, CNI_ERR_DECODE, "network configuration on stdin: %s "
			    "(line %d, column %d)", jerr.text, jerr.line, jerr.column);
	if (!json_is_object(o)) {
		e = fail(msg, size, CNI_ERR_DECODE, "network configuration: not a JSON object");
		goto out;
	}
	s = json_string_value(json_object_get(o, "cniVersion"));
	if (!s) {
		e = fail(msg, size, CNI_ERR_CONFIG, "cniVersion: missing");
		goto out;
	}
	if (strlen(s) < sizeof(c->version))
		strcpy(c->version, s);
	if (version_index(s) < 0) {
		e = fail(msg, size, CNI_ERR_VERSION, "cniVersion \"%.16s\" is not supported "
			 "(0.3.0, 0.3.1, 0.4.0, 1.0.0)", s);
		goto out;
	}
	if (c->cmd == CNI_CMD_CHECK && version_index(s) < version_index("0.4.0")) {
		e = fail(msg, size, CNI_ERR_VERSION, "CHECK needs cniVersion 0.4.0 or later, "
			 "not %.16s", s);
		goto out;
	}
	s = json_string_value(json_object_get(o, "name"));
	if (!s || !id_valid(s) || strlen(s) >= sizeof(c->name)) {
		e = fail(msg, size, CNI_ERR_CONFIG, "name: %s", !s ? "missing" :
			 "not alphanumeric, '_', '.' and '-' (alphanumeric first)");
		goto out;
	}
	strcpy(c->name, s);
	if (!json_is_string(json_object_get(o, "type"))) {
		e = fail(msg, size, CNI_ERR_CONFIG, "type: missing");
		goto out;
	}
	e = parse_env(c, env, msg, size);
	if (e)
		goto out;
	if ((v = json_object_get(o, "socket")) &&
	    (e = copy_path(v, "socket", c->socket, sizeof(c->socket), msg, size)))
		goto out;
	if ((v = json_object_get(o, "dataDir")) &&
	    (e = copy_path(v, "dataDir", c->data_dir, sizeof(c->data_dir), msg, size)))
		goto out;
	if ((v = json_object_get(o, "dns"))) {
		if (!json_is_object(v)) {
			e = fail(msg, size, CNI_ERR_CONFIG, "dns: not an object");
			goto out;
		}
		c->dns = json_incref(v);
	}
	if ((v = json_object_get(o, "prevResult"))) {
		if (!json_is_object(v)) {
			e = fail(msg, size, CNI_ERR_CONFIG, "prevResult: not an object");
			goto out;
		}
		c->prev = json_incref(v);
	}
	if (c->cmd == CNI_CMD_CHECK && !c->prev) {
		e = fail(msg, size, CNI_ERR_CONFIG, "prevResult: missing (CHECK compares with "
			 "the result of ADD)");
		goto out;
	}
	/* static VIPs: runtimeConfig "ips" (capability), else CNI_ARGS IP=, else ipam */
	rc = json_object_get(json_object_get(o, "runtimeConfig"), "ips");
	json_array_foreach(rc, i, v) {
		if (!json_is_string(v)) {
			e = fail(msg, size, CNI_ERR_CONFIG, "runtimeConfig.ips: not strings");
			goto out;
		}
		if ((e = add_vip(c, json_string_value(v), "runtimeConfig.ips", msg, size)))
			goto out;
	}
	args = env("CNI_ARGS");
	if (c->nvips == 0 && args && (e = parse_args(c, args, msg, size)))
		goto out;
	if ((v = json_object_get(o, "ipam"))) {
		struct cniconf probe = *c;

		/* checked even when overridden: a wrong config is wrong for every container */
		probe.nvips = 0;
		if ((e = parse_ipam(&probe, v, msg, size)))
			goto out;
		if (c->nvips == 0) {
			memcpy(c->vips, probe.vips, sizeof(c->vips));
			c->nvips = probe.nvips;
		}
		memcpy(c->families, probe.families, sizeof(c->families));
		c->nfamilies = probe.nfamilies;
	}
	e = CNI_OK;
out:
	json_decref(o);
	if (e)
		cniconf_free(c);
	return e;
}

void cniconf_free(struct cniconf *c)
{
	json_decref(c->dns);
	json_decref(c->prev);
	c->dns = c->prev = NULL;
}

int cniconf_result_vips(const json_t *result, struct vip *out, int max)
{
	json_t *ip;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(result, "ips"), i, ip) {
		const char *a = json_string_value(json_object_get(ip, "address"));

		if (n < max && a && parse_cidr(a, &out[n]) == 0)
			n++;
	}
	return n;
}

json_t *cniconf_result(const struct cniconf *c, const struct vip *vips, int nvips)
{
	bool old = version_index(c->version) < version_index("1.0.0");
	json_t *r, *ips = json_array(), *routes = json_array();
	bool has4 = false, has6 = false;
	char b[VIP_STRLEN], cidr[VIP_STRLEN + 8];

	for (int i = 0; i < nvips; i++) {
		bool v4 = vips[i].family == AF_INET;
		json_t *ip;

		snprintf(cidr, sizeof(cidr), "%s/%d", vip_fmt(&vips[i], b), v4 ? 32 : 128);
		ip = json_pack("{s:s, s:i}", "address", cidr, "interface", 0);
		if (old)
			json_object_set_new(ip, "version", json_string(v4 ? "4" : "6"));
		json_array_append_new(ips, ip);
		has4 |= v4;
		has6 |= !v4;
	}
	/* tunvnetd routes each family of the job's VIPs through the TUN by default */
	if (has4)
		json_array_append_new(routes, json_pack("{s:s}", "dst", "0.0.0.0/0"));
	if (has6)
		json_array_append_new(routes, json_pack("{s:s}", "dst", "::/0"));
	r = json_pack("{s:s, s:[{s:s, s:s}], s:o, s:o}", "cniVersion", c->version,
		      "interfaces", "name", c->ifname, "sandbox", c->netns, "ips", ips,
		      "routes", routes);
	if (r && c->dns)
		json_object_set(r, "dns", c->dns);
	return r;
}

json_t *cniconf_version_result(const char *version)
{
	json_t *list = json_array();

	for (size_t i = 0; i < NVERSIONS; i++)
		json_array_append_new(list, json_string(versions[i]));
	return json_pack("{s:s, s:o}", "cniVersion", version && *version ? version
			 : CNICONF_VERSION, "supportedVersions", list);
}

json_t *cniconf_error(const char *version, enum cni_code code, const char *msg,
		      const char *details)
{
	return json_pack("{s:s, s:i, s:s, s:s}", "cniVersion",
			 version && *version ? version : CNICONF_VERSION, "code", (int)code,
			 "msg", msg && *msg ? msg : cniconf_code_name(code), "details",
			 details ? details : "");
}
