/* The control protocol codec: request and reply lines of tunvnetd's Unix socket.
 *
 * Both sides are strict. A request with a member we do not know, a member of the wrong
 * type, a member its command does not take, or a duplicate member is refused with a
 * message naming it: a typo in a hand-written request must not silently turn into a
 * different request (an "attach" whose misspelt "vpi" is ignored would draw a fresh VIP
 * from the pool). Values quoted in messages are JSON-escaped and shortened, so a hostile
 * line cannot put control characters or 64 KB of text into the daemon's log. */
#include "tunvnet/ctlmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunvnet/msg.h"

/* Longest quoted value in a message; longer ones are cut and end in "...". */
#define QUOTE_MAX 64

static const char *const cmd_names[CTL_CMD_MAX] = {
	[CTL_CMD_STATUS] = "status",
	[CTL_CMD_PEERS] = "peers",
	[CTL_CMD_ROUTES] = "routes",
	[CTL_CMD_JOBS] = "jobs",
	[CTL_CMD_ATTACH] = "attach",
	[CTL_CMD_DETACH] = "detach",
	[CTL_CMD_STATS] = "stats",
	[CTL_CMD_SUSPEND] = "suspend",
	[CTL_CMD_RESUME] = "resume",
	[CTL_CMD_ACTIVATE] = "activate",
	[CTL_CMD_MIGRATE] = "migrate",
	[CTL_CMD_CAPTURE] = "capture",
	[CTL_CMD_EVENTS] = "events",
	[CTL_CMD_SUBSTRATE] = "substrate",
};

static const struct {
	const char *name;
	const char *text;
} errs[CTL_ERR_MAX] = {
	[CTL_OK] = { "OK", "success" },
	[CTL_ERR_BAD_JSON] = { "BAD_JSON", "not a JSON object" },
	[CTL_ERR_BAD_REQUEST] = { "BAD_REQUEST", "malformed request" },
	[CTL_ERR_VERSION] = { "VERSION", "unsupported control protocol version" },
	[CTL_ERR_UNKNOWN_CMD] = { "UNKNOWN_CMD", "unknown command" },
	[CTL_ERR_TOO_LONG] = { "TOO_LONG", "request line too long" },
	[CTL_ERR_BAD_VIP] = { "BAD_VIP", "not an IPv4 or IPv6 host address" },
	[CTL_ERR_NOT_IN_POOL] = { "NOT_IN_POOL", "VIP is outside this node's pool" },
	[CTL_ERR_VIP_IN_USE] = { "VIP_IN_USE", "VIP is already hosted" },
	[CTL_ERR_NO_SUCH_VIP] = { "NO_SUCH_VIP", "VIP is not hosted on this node" },
	[CTL_ERR_NO_SUCH_NETNS] = { "NO_SUCH_NETNS", "no such network namespace" },
	[CTL_ERR_POOL_EXHAUSTED] = { "POOL_EXHAUSTED", "VIP pool exhausted" },
	[CTL_ERR_SYSTEM] = { "SYSTEM", "system error" },
	[CTL_ERR_BAD_STATE] = { "BAD_STATE", "not possible in the job's current state" },
	[CTL_ERR_NO_SUCH_PEER] = { "NO_SUCH_PEER", "no such peer, or its link is down" },
	[CTL_ERR_CONFLICT] = { "CONFLICT", "another node won the VIP" },
	[CTL_ERR_TIMEOUT] = { "TIMEOUT", "the operation did not complete in time" },
	[CTL_ERR_BAD_FILTER] = { "BAD_FILTER", "bad capture filter expression" },
};

/* Optional request members, as a bit per member; each command says which it takes
 * (allowed) and which it cannot do without (required). */
enum {
	M_NETNS = 1 << 0,
	M_VIP = 1 << 1,
	M_FAMILY = 1 << 2,
	M_STANDBY = 1 << 3,
	M_TO = 1 << 4,
	M_SCOPE = 1 << 5,
	M_PEER = 1 << 6,
	M_CLUSTER = 1 << 7,
	M_FILTER = 1 << 8,
	M_COUNT = 1 << 9,
	M_DURATION = 1 << 10,
	M_SNAPLEN = 1 << 11,
	M_FOLLOW = 1 << 12,
	M_STREAM = 1 << 13,
	M_POLICY = 1 << 14,
};

#define M_CAPTURE (M_SCOPE | M_VIP | M_PEER | M_CLUSTER | M_FILTER | M_COUNT | M_DURATION | \
		   M_SNAPLEN)

static const struct {
	unsigned allowed, required;
} cmd_members[CTL_CMD_MAX] = {
	[CTL_CMD_ATTACH] = { M_NETNS | M_VIP | M_FAMILY | M_STANDBY, M_NETNS },
	[CTL_CMD_DETACH] = { M_VIP, M_VIP },
	/* a move names its job by any of its VIPs or by its namespace (one_of below) */
	[CTL_CMD_SUSPEND] = { M_VIP | M_NETNS, 0 },
	[CTL_CMD_RESUME] = { M_VIP | M_NETNS, 0 },
	[CTL_CMD_ACTIVATE] = { M_VIP | M_NETNS, 0 },
	[CTL_CMD_MIGRATE] = { M_VIP | M_NETNS | M_TO, M_TO },
	/* what the scope needs is checked once all members are known */
	[CTL_CMD_CAPTURE] = { M_CAPTURE, 0 },
	[CTL_CMD_EVENTS] = { M_FOLLOW, 0 },
	[CTL_CMD_ROUTES] = { M_STREAM, 0 },
	[CTL_CMD_SUBSTRATE] = { M_POLICY | M_PEER, M_POLICY },
};

/* Member names by bit, for the messages and the loop over required members. */
static const struct {
	unsigned bit;
	const char *name;
} members[] = {
	{ M_NETNS, "netns" },	  { M_VIP, "vip" },	      { M_FAMILY, "family" },
	{ M_STANDBY, "standby" }, { M_TO, "to" },	      { M_SCOPE, "scope" },
	{ M_PEER, "peer" },	  { M_CLUSTER, "cluster" },   { M_FILTER, "filter" },
	{ M_COUNT, "count" },	  { M_DURATION, "duration_ms" }, { M_SNAPLEN, "snaplen" },
	{ M_FOLLOW, "follow" },	  { M_STREAM, "stream" },   { M_POLICY, "policy" },
};

#define NMEMBERS (sizeof(members) / sizeof(members[0]))

static const char *const scope_names[] = {
	[CTL_SCOPE_ALL] = "all",
	[CTL_SCOPE_VIP] = "vip",
	[CTL_SCOPE_PEER] = "peer",
};

const char *ctlmsg_cmd_name(enum ctl_cmd c)
{
	if ((unsigned)c >= CTL_CMD_MAX)
		return NULL;
	return cmd_names[c];
}

int ctlmsg_cmd_lookup(const char *name)
{
	int i;

	for (i = 0; name && i < CTL_CMD_MAX; i++)
		if (strcmp(cmd_names[i], name) == 0)
			return i;
	return -1;
}

/* Out-of-range codes get a name no lookup accepts, so they never pass as another code. */
const char *ctlmsg_err_name(enum ctl_err e)
{
	if ((unsigned)e >= CTL_ERR_MAX)
		return "UNKNOWN";
	return errs[e].name;
}

enum ctl_err ctlmsg_err_lookup(const char *name)
{
	int i;

	for (i = 0; name && i < CTL_ERR_MAX; i++)
		if (strcmp(errs[i].name, name) == 0)
			return (enum ctl_err)i;
	return CTL_ERR_MAX;
}

const char *ctlmsg_strerror(enum ctl_err e)
{
	if ((unsigned)e >= CTL_ERR_MAX)
		return "unknown error";
	return errs[e].text;
}

/* v as JSON text (strings with their quotes, escaped, ASCII only), cut to QUOTE_MAX. */
static const char *quote(const json_t *v, char *buf, size_t size)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t n;

	if (!s) {
		snprintf(buf, size, "(value)");
		return buf;
	}
	n = strlen(s);
	if (n > QUOTE_MAX)
		snprintf(buf, size, "%.*s...", QUOTE_MAX, s);
	else
		snprintf(buf, size, "%s", s);
	free(s);
	return buf;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a JSON value";
}

__attribute__((format(printf, 4, 5)))
static enum ctl_err fail(enum ctl_err e, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return e;
}

/* jansson's error for a duplicate key reads `duplicate object key near '"vip"'`: we
 * want the key in our own words. */
static enum ctl_err duplicate(const json_error_t *jerr, char *why, size_t whylen)
{
	const char *p = strstr(jerr->text, "near '");
	size_t n;

	if (p) {
		p += strlen("near '");
		n = strlen(p);
		if (n >= 2 && p[n - 1] == '\'')
			return fail(CTL_ERR_BAD_REQUEST, why, whylen, "duplicate member %.*s",
				    (int)(n - 1), p);
	}
	return fail(CTL_ERR_BAD_REQUEST, why, whylen, "%s", jerr->text);
}

static enum ctl_err get_bool(const char *key, const json_t *v, bool *out, char *why,
			     size_t whylen)
{
	if (!json_is_boolean(v))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" must be a boolean", key);
	*out = json_is_true(v);
	return CTL_OK;
}

/* A node name (migrate's target, a capture's peer): what the peer protocol accepts. */
static enum ctl_err get_node(const char *key, const json_t *v, char *out, size_t size,
			     char *why, size_t whylen)
{
	char q[QUOTE_MAX + 8];

	if (!json_is_string(v))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" must be a string", key);
	if (json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    !msg_name_valid(json_string_value(v)))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"%s\": %s is not a node name (1 to %d of A-Z a-z 0-9 . _ -)", key,
			    quote(v, q, sizeof(q)), NODE_NAME_MAX);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return CTL_OK;
}

/* An integer in [min, max], or 0 when zero_ok (zero means "none" or "the default"). */
static enum ctl_err get_int(const char *key, const json_t *v, long min, long max, bool zero_ok,
			    long *out, char *why, size_t whylen)
{
	char q[QUOTE_MAX + 8];
	json_int_t n;

	if (!json_is_integer(v))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" must be an integer", key);
	n = json_integer_value(v);
	if ((n < min || n > max) && !(zero_ok && n == 0)) {
		if (zero_ok && min > 1)
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"%s\": %s is not 0 nor between %ld and %ld", key,
				    quote(v, q, sizeof(q)), min, max);
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"%s\": %s is not between %ld and %ld", key, quote(v, q, sizeof(q)),
			    min, max);
	}
	*out = (long)n;
	return CTL_OK;
}

static enum ctl_err get_scope(const json_t *v, struct ctl_request *req, char *why,
			      size_t whylen)
{
	char q[QUOTE_MAX + 8];
	size_t i;

	if (!json_is_string(v))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"scope\" must be a string");
	for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
		if (strcmp(json_string_value(v), scope_names[i]) == 0) {
			req->scope = i;
			return CTL_OK;
		}
	return fail(CTL_ERR_BAD_REQUEST, why, whylen,
		    "\"scope\": %s is not \"all\", \"vip\" or \"peer\"", quote(v, q, sizeof(q)));
}

/* Parses one member of a request that is neither "version" nor "cmd". Whether the
 * command takes the member at all is checked before its value: "status takes no vip"
 * says more than what is wrong with the VIP. */
static enum ctl_err parse_member(const char *key, json_t *v, struct ctl_request *req,
				 unsigned *seen, char *why, size_t whylen)
{
	char q[QUOTE_MAX + 8];
	json_int_t fam;
	unsigned bit = 0;
	long n;
	json_t *k;
	size_t i;
	enum ctl_err e = CTL_OK;

	for (i = 0; i < NMEMBERS; i++)
		if (strcmp(key, members[i].name) == 0)
			bit = members[i].bit;
	if (!bit) {
		/* key came out of jansson, so it is valid UTF-8: k is NULL only on ENOMEM */
		k = json_string(key);
		fail(CTL_ERR_BAD_REQUEST, why, whylen, "unknown member %s",
		     k ? quote(k, q, sizeof(q)) : key);
		json_decref(k);
		return CTL_ERR_BAD_REQUEST;
	}
	if (!(cmd_members[req->cmd].allowed & bit))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" takes no \"%s\"",
			    cmd_names[req->cmd], key);
	*seen |= bit;

	switch (bit) {
	case M_NETNS:
		if (!json_is_string(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"netns\" must be a string");
		if (json_string_length(v) == 0)
			return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"netns\" is empty");
		if (strlen(json_string_value(v)) != json_string_length(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"netns\" contains a NUL character");
		if (json_string_length(v) >= sizeof(req->netns))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"netns\": %s is longer than %zu bytes",
				    quote(v, q, sizeof(q)), sizeof(req->netns) - 1);
		memcpy(req->netns, json_string_value(v), json_string_length(v) + 1);
		break;
	case M_VIP:
		if (!json_is_string(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"vip\" must be a string");
		if (vip_parse(json_string_value(v), &req->vip) < 0)
			return fail(CTL_ERR_BAD_VIP, why, whylen,
				    "\"vip\": %s is not an IPv4 or IPv6 address",
				    quote(v, q, sizeof(q)));
		req->has_vip = true;
		break;
	case M_FAMILY:
		if (!json_is_integer(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"family\" must be an integer (4 or 6)");
		fam = json_integer_value(v);
		if (fam != 4 && fam != 6)
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"family\": %lld is not 4 or 6", (long long)fam);
		req->family = (int)fam;
		break;
	case M_STANDBY:
		e = get_bool(key, v, &req->standby, why, whylen);
		break;
	case M_CLUSTER:
		e = get_bool(key, v, &req->cluster, why, whylen);
		break;
	case M_FOLLOW:
		e = get_bool(key, v, &req->follow, why, whylen);
		break;
	case M_STREAM:
		e = get_bool(key, v, &req->stream, why, whylen);
		break;
	case M_TO:
		e = get_node(key, v, req->to, sizeof(req->to), why, whylen);
		break;
	case M_PEER:
		e = get_node(key, v, req->peer, sizeof(req->peer), why, whylen);
		break;
	case M_SCOPE:
		e = get_scope(v, req, why, whylen);
		break;
	case M_POLICY:
		if (!json_is_string(v) ||
		    (strcmp(json_string_value(v), "auto") != 0 &&
		     strcmp(json_string_value(v), "tcp") != 0 &&
		     strcmp(json_string_value(v), "udp") != 0 &&
		     strcmp(json_string_value(v), "verbs") != 0 &&
		     strcmp(json_string_value(v), "default") != 0))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"policy\" must be auto, tcp, udp, verbs or default");
		snprintf(req->policy, sizeof(req->policy), "%s", json_string_value(v));
		break;
	case M_FILTER:
		if (!json_is_string(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"filter\" must be a string");
		/* libpcap takes a C string: an embedded NUL would cut the expression short */
		if (strlen(json_string_value(v)) != json_string_length(v))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"filter\" contains a NUL character");
		if (json_string_length(v) >= sizeof(req->filter))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen,
				    "\"filter\" is longer than %zu bytes", sizeof(req->filter) - 1);
		memcpy(req->filter, json_string_value(v), json_string_length(v) + 1);
		break;
	case M_COUNT:
		e = get_int(key, v, 0, LONG_MAX, false, &req->count, why, whylen);
		break;
	case M_DURATION:
		e = get_int(key, v, 0, LONG_MAX, false, &req->duration_ms, why, whylen);
		break;
	case M_SNAPLEN:
		e = get_int(key, v, CTL_SNAPLEN_MIN, CTL_SNAPLEN_MAX, true, &n, why, whylen);
		if (e == CTL_OK)
			req->snaplen = (int)n;
		break;
	}
	return e;
}

/* What a capture's scope needs and excludes: a VIP exactly with scope "vip", a peer
 * exactly with scope "peer", and "cluster" (following a VIP) only with a VIP. */
static enum ctl_err check_capture(const struct ctl_request *req, unsigned seen, char *why,
				  size_t whylen)
{
	const char *scope = scope_names[req->scope];

	if (req->scope == CTL_SCOPE_VIP && !(seen & M_VIP))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "scope \"vip\" needs \"vip\"");
	if (req->scope == CTL_SCOPE_PEER && !(seen & M_PEER))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "scope \"peer\" needs \"peer\"");
	if (req->scope != CTL_SCOPE_VIP && (seen & M_VIP))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"vip\" needs scope \"vip\", not \"%s\"", scope);
	if (req->scope != CTL_SCOPE_PEER && (seen & M_PEER))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"peer\" needs scope \"peer\", not \"%s\"", scope);
	if (req->scope != CTL_SCOPE_VIP && (seen & M_CLUSTER))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"cluster\" needs scope \"vip\", not \"%s\"", scope);
	return CTL_OK;
}

static enum ctl_err parse_object(json_t *o, struct ctl_request *req, char *why, size_t whylen)
{
	char q[QUOTE_MAX + 8];
	json_t *version, *cmd, *v;
	const char *key;
	unsigned seen = 0;
	enum ctl_err e;
	size_t i;
	int c;

	if (!json_is_object(o))
		return fail(CTL_ERR_BAD_JSON, why, whylen, "request is %s, not a JSON object",
			    type_name(o));

	/* The version first: a newer client may send members this daemon does not know,
	 * and "unsupported version" is the useful answer then. */
	version = json_object_get(o, "version");
	if (!version)
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "missing \"version\"");
	if (!json_is_integer(version))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"version\" must be an integer");
	if (json_integer_value(version) != CTL_VERSION)
		return fail(CTL_ERR_VERSION, why, whylen,
			    "control protocol version %s is not supported (this side speaks %d)",
			    quote(version, q, sizeof(q)), CTL_VERSION);
	req->version = CTL_VERSION;

	cmd = json_object_get(o, "cmd");
	if (!cmd)
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "missing \"cmd\"");
	if (!json_is_string(cmd))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"cmd\" must be a string");
	c = ctlmsg_cmd_lookup(json_string_value(cmd));
	if (c < 0)
		return fail(CTL_ERR_UNKNOWN_CMD, why, whylen, "unknown command %s",
			    quote(cmd, q, sizeof(q)));
	req->cmd = (enum ctl_cmd)c;

	json_object_foreach(o, key, v) {
		if (strcmp(key, "version") == 0 || strcmp(key, "cmd") == 0)
			continue;
		e = parse_member(key, v, req, &seen, why, whylen);
		if (e != CTL_OK)
			return e;
	}

	for (i = 0; i < NMEMBERS; i++)
		if ((cmd_members[req->cmd].required & members[i].bit) &&
		    !(seen & members[i].bit))
			return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" needs \"%s\"",
				    cmd_names[req->cmd], members[i].name);
	if ((req->cmd == CTL_CMD_SUSPEND || req->cmd == CTL_CMD_RESUME ||
	     req->cmd == CTL_CMD_ACTIVATE || req->cmd == CTL_CMD_MIGRATE) &&
	    !(seen & (M_VIP | M_NETNS)))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen, "\"%s\" needs \"vip\" or \"netns\"",
			    cmd_names[req->cmd]);
	/* An explicit VIP already decides the family; two answers could disagree. */
	if ((seen & M_VIP) && (seen & M_FAMILY))
		return fail(CTL_ERR_BAD_REQUEST, why, whylen,
			    "\"vip\" and \"family\" exclude each other");
	if (req->cmd == CTL_CMD_CAPTURE)
		return check_capture(req, seen, why, whylen);
	return CTL_OK;
}

enum ctl_err ctlmsg_request_parse(const char *line, size_t len, struct ctl_request *req,
				  char *why, size_t whylen)
{
	json_error_t jerr;
	enum ctl_err e;
	size_t body;
	json_t *o;

	memset(req, 0, sizeof(*req));
	if (why && whylen)
		why[0] = '\0';

	/* CTL_LINE_MAX counts the newline, present or not. */
	body = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
	if (body >= CTL_LINE_MAX)
		return fail(CTL_ERR_TOO_LONG, why, whylen,
			    "request line of %zu bytes is longer than %d", body + 1, CTL_LINE_MAX);
	if (body == 0)
		return fail(CTL_ERR_BAD_JSON, why, whylen, "empty request line");

	o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!o) {
		if (json_error_code(&jerr) == json_error_duplicate_key)
			return duplicate(&jerr, why, whylen);
		return fail(CTL_ERR_BAD_JSON, why, whylen, "not valid JSON: %s (column %d)",
			    jerr.text, jerr.column);
	}
	e = ctlmsg_request_from_json(o, req, why, whylen);
	json_decref(o);
	return e;
}

enum ctl_err ctlmsg_request_from_json(json_t *o, struct ctl_request *req, char *why,
				      size_t whylen)
{
	enum ctl_err e;

	memset(req, 0, sizeof(*req));
	if (why && whylen)
		why[0] = '\0';
	e = parse_object(o, req, why, whylen);
	if (e != CTL_OK)
		memset(req, 0, sizeof(*req));
	return e;
}

/* o as one compact line with its '\n'; takes o's reference. */
static char *dump_line(json_t *o)
{
	char *s, *line;
	size_t n;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

/* Sets o[key] = v, taking v's reference; false on ENOMEM (v is freed either way). */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* A zero version means "the one this side speaks", so a zero-initialised request with
 * only cmd set encodes as a valid request. */
char *ctlmsg_request_encode(const struct ctl_request *req)
{
	char buf[VIP_STRLEN];
	json_t *o;

	if ((unsigned)req->cmd >= CTL_CMD_MAX) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	if (!o)
		return NULL;
	if (!put(o, "version", json_integer(req->version ? req->version : CTL_VERSION)) ||
	    !put(o, "cmd", json_string(cmd_names[req->cmd])))
		goto fail;
	if (req->netns[0] && !put(o, "netns", json_string(req->netns)))
		goto fail;
	if (req->has_vip && !put(o, "vip", json_string(vip_fmt(&req->vip, buf))))
		goto fail;
	if (req->family && !put(o, "family", json_integer(req->family)))
		goto fail;
	if (req->standby && !put(o, "standby", json_true()))
		goto fail;
	if (req->to[0] && !put(o, "to", json_string(req->to)))
		goto fail;
	if (req->scope != CTL_SCOPE_ALL &&
	    ((unsigned)req->scope >= sizeof(scope_names) / sizeof(scope_names[0]) ||
	     !put(o, "scope", json_string(scope_names[req->scope]))))
		goto fail;
	if (req->peer[0] && !put(o, "peer", json_string(req->peer)))
		goto fail;
	if (req->cluster && !put(o, "cluster", json_true()))
		goto fail;
	if (req->filter[0] && !put(o, "filter", json_string(req->filter)))
		goto fail;
	if (req->count && !put(o, "count", json_integer(req->count)))
		goto fail;
	if (req->duration_ms && !put(o, "duration_ms", json_integer(req->duration_ms)))
		goto fail;
	if (req->snaplen && !put(o, "snaplen", json_integer(req->snaplen)))
		goto fail;
	if (req->follow && !put(o, "follow", json_true()))
		goto fail;
	if (req->stream && !put(o, "stream", json_true()))
		goto fail;
	if (req->policy[0] && !put(o, "policy", json_string(req->policy)))
		goto fail;
	return dump_line(o);
fail:
	json_decref(o);
	return NULL;
}

static json_t *reply_head(bool ok)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (!put(o, "version", json_integer(CTL_VERSION)) || !put(o, "ok", json_boolean(ok))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *ctlmsg_reply_ok(json_t *result)
{
	json_t *o = reply_head(true);

	if (!result)
		result = json_null();
	if (!o) {
		json_decref(result);
		return NULL;
	}
	if (!put(o, "result", result)) {
		json_decref(o);
		return NULL;
	}
	return dump_line(o);
}

/* A message string even when the text is not valid UTF-8 (a strerror in some locale,
 * a path from the file system): such bytes become '?'. */
static json_t *message_string(const char *s)
{
	json_t *v = json_string(s);
	char *copy;
	size_t i;

	if (v)
		return v;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (i = 0; copy[i]; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

char *ctlmsg_reply_err(enum ctl_err e, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	json_t *o;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	o = reply_head(false);
	if (!o || !put(o, "error", json_string(ctlmsg_err_name(e))) ||
	    !put(o, "message", message_string(msg))) {
		json_decref(o);
		free(msg);
		return NULL;
	}
	free(msg);
	return dump_line(o);
}

__attribute__((format(printf, 2, 3)))
static enum ctl_err bad_reply(char **message, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(message, fmt, ap) < 0)
		*message = NULL;
	va_end(ap);
	return CTL_ERR_BAD_JSON;
}

/* Only the members a reply of its kind has: see the request side for why. */
static bool only_members(json_t *o, const char *const *names, size_t n, const char **extra)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(o, key, v) {
		for (i = 0; i < n; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == n) {
			*extra = key;
			return false;
		}
	}
	return true;
}

enum ctl_err ctlmsg_reply_parse(const char *line, size_t len, json_t **result,
				char **message)
{
	static const char *const ok_members[] = { "version", "ok", "result" };
	static const char *const err_members[] = { "version", "ok", "error", "message" };
	json_t *o, *version, *ok, *error, *msg, *res;
	char q[QUOTE_MAX + 8];
	const char *extra;
	json_error_t jerr;
	enum ctl_err e;

	*result = NULL;
	*message = NULL;
	if (len == 0 || (len == 1 && line[0] == '\n'))
		return bad_reply(message, "invalid reply: empty line");
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!o)
		return bad_reply(message, "invalid reply: not valid JSON: %s (column %d)",
				 jerr.text, jerr.column);
	if (!json_is_object(o)) {
		e = bad_reply(message, "invalid reply: %s, not a JSON object", type_name(o));
		goto out;
	}
	version = json_object_get(o, "version");
	ok = json_object_get(o, "ok");
	if (!json_is_integer(version)) {
		e = bad_reply(message, "invalid reply: no integer \"version\"");
		goto out;
	}
	if (json_integer_value(version) != CTL_VERSION) {
		e = CTL_ERR_VERSION;
		if (asprintf(message, "reply in control protocol version %s, expected %d",
			     quote(version, q, sizeof(q)), CTL_VERSION) < 0)
			*message = NULL;
		goto out;
	}
	if (!json_is_boolean(ok)) {
		e = bad_reply(message, "invalid reply: no boolean \"ok\"");
		goto out;
	}

	if (json_is_true(ok)) {
		res = json_object_get(o, "result");
		if (!res)
			e = bad_reply(message, "invalid reply: \"ok\" without \"result\"");
		else if (!only_members(o, ok_members, 3, &extra))
			e = bad_reply(message, "invalid reply: unknown member \"%s\"", extra);
		else {
			*result = json_incref(res);
			e = CTL_OK;
		}
		goto out;
	}

	error = json_object_get(o, "error");
	msg = json_object_get(o, "message");
	if (!json_is_string(error) || !json_is_string(msg)) {
		e = bad_reply(message, "invalid reply: error without string \"error\" and "
				       "\"message\"");
		goto out;
	}
	if (!only_members(o, err_members, 4, &extra)) {
		e = bad_reply(message, "invalid reply: unknown member \"%s\"", extra);
		goto out;
	}
	e = ctlmsg_err_lookup(json_string_value(error));
	if (e == CTL_OK || e == CTL_ERR_MAX) {
		/* Keep the daemon's words: they are the most useful part. */
		e = bad_reply(message, "invalid reply: unknown error %s: %s",
			      quote(error, q, sizeof(q)), json_string_value(msg));
		goto out;
	}
	*message = strdup(json_string_value(msg));
out:
	json_decref(o);
	return e;
}
