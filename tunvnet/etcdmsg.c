#include "tunvnet/etcdmsg.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/addr.h"
#include "tunvnet/msg.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

/* --- requests ---------------------------------------------------------------------- */

/* base64 of s[0..n), malloc'd */
static char *b64(const void *s, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, B64);
	char *out = malloc(cap);

	if (out)
		sodium_bin2base64(out, cap, s, n, B64);
	return out;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static char *i64(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* {"key": b64(prefix), "range_end": b64(prefix with its last byte + 1)} into o */
static int set_prefix(json_t *o, const char *prefix)
{
	size_t n = strlen(prefix);
	char end[ETCDMSG_PREFIX_MAX + 8], *k, *e;
	int err = -ENOMEM;

	if (n == 0 || n >= sizeof(end) || (unsigned char)prefix[n - 1] == 0xff)
		return -EINVAL;
	memcpy(end, prefix, n);
	end[n - 1]++;
	k = b64(prefix, n);
	e = b64(end, n);
	if (k && e && json_object_set_new(o, "key", json_string(k)) == 0 &&
	    json_object_set_new(o, "range_end", json_string(e)) == 0)
		err = 0;
	free(k);
	free(e);
	return err;
}

char *etcdmsg_range(const char *prefix)
{
	json_t *o = json_object();

	if (!o || set_prefix(o, prefix) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

char *etcdmsg_range_page(const char *prefix, const char *after, int64_t rev, int limit)
{
	json_t *o = json_object();
	char b[24], *k = NULL;
	int err = 0;

	if (!o || set_prefix(o, prefix) < 0) {
		json_decref(o);
		return NULL;
	}
	if (after && after[0]) {
		/* the next key after `after` is `after` with a NUL byte appended */
		k = b64(after, strlen(after) + 1);
		err = !k || json_object_set_new(o, "key", json_string(k)) < 0;
		free(k);
	}
	if (err || json_object_set_new(o, "limit", json_string(i64(limit, b))) < 0 ||
	    (rev > 0 && json_object_set_new(o, "revision", json_string(i64(rev, b))) < 0)) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

char *etcdmsg_watch(const char *prefix, int64_t start_rev)
{
	json_t *o = json_object();
	char b[24];

	if (!o || set_prefix(o, prefix) < 0 ||
	    json_object_set_new(o, "start_revision", json_string(i64(start_rev, b))) < 0) {
		json_decref(o);
		return NULL;
	}
	return dump(json_pack("{s:o}", "create_request", o));
}

char *etcdmsg_lease_grant(int ttl_s)
{
	return dump(json_pack("{s:i}", "TTL", ttl_s));
}

char *etcdmsg_lease_keepalive(int64_t id)
{
	char b[24];

	return dump(json_pack("{s:s}", "ID", i64(id, b)));
}

static json_t *put_op(const char *key, const char *value, int64_t lease)
{
	char *k = b64(key, strlen(key)), *v = b64(value, strlen(value)), b[24];
	json_t *o = NULL;

	if (k && v)
		o = lease ? json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease",
				      i64(lease, b))
			  : json_pack("{s:s, s:s}", "key", k, "value", v);
	free(k);
	free(v);
	return o;
}

char *etcdmsg_put(const char *key, const char *value, int64_t lease)
{
	return dump(put_op(key, value, lease));
}

char *etcdmsg_txn_routes(const char *prefix, const struct route_entry *e,
			 const uint64_t *seen, size_t n, int64_t lease)
{
	json_t *cmp = json_array(), *ok = json_array(), *fail = json_array();
	char key[ETCDMSG_KEY_MAX + 1], b[24], *k = NULL, *val = NULL;
	bool bad = !cmp || !ok || !fail;

	for (size_t i = 0; i < n && !bad; i++) {
		json_t *op;

		bad = etcdmsg_vip_key(prefix, &e[i].vip, key, sizeof(key)) < 0 ||
		      !(k = b64(key, strlen(key)));
		if (bad)
			break;
		if (e[i].withdrawn)
			op = json_pack("{s:{s:s}}", "request_delete_range", "key", k);
		else
			op = (val = etcdmsg_vip_value(&e[i])) ?
			     json_pack("{s:o}", "request_put", put_op(key, val, lease)) : NULL;
		bad = json_array_append_new(cmp, json_pack("{s:s, s:s, s:s, s:s}", "key", k,
				"target", "MOD", "result", "EQUAL", "mod_revision",
				i64((int64_t)seen[i], b))) < 0 ||
		      json_array_append_new(ok, op) < 0 ||
		      json_array_append_new(fail, json_pack("{s:{s:s}}", "request_range",
							    "key", k)) < 0;
		free(k);
		free(val);
		k = val = NULL;
	}
	if (bad) {
		json_decref(cmp);
		json_decref(ok);
		json_decref(fail);
		return NULL;
	}
	return dump(json_pack("{s:o, s:o, s:o}", "compare", cmp, "success", ok, "failure",
			      fail));
}

/* --- replies ------------------------------------------------------------------------- */

/* An int64 as etcd writes it (a string of digits), or a JSON integer; absent is 0. */
static bool get_i64(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	char *end;
	long long x;

	*out = 0;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	if (!s[0] || strlen(s) > 20)
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (*end || errno)
		return false;
	*out = x;
	return true;
}

/* base64 member name of o into out[0..cap) with a NUL after it; *n its length */
static bool get_b64(json_t *o, const char *name, char *out, size_t cap, size_t *n)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	*n = 0;
	out[0] = '\0';
	if (!v)
		return true; /* an empty value is left out */
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	if (sodium_base642bin((unsigned char *)out, cap - 1, s, strlen(s), NULL, n, NULL,
			      B64) != 0)
		return false;
	out[*n] = '\0';
	return true;
}

static int read_kv(json_t *o, bool deleted, etcdmsg_kv_cb cb, void *arg)
{
	struct etcd_kv kv;
	size_t kn;

	if (!json_is_object(o))
		return -EBADMSG;
	memset(&kv, 0, sizeof(kv));
	kv.deleted = deleted;
	if (!get_b64(o, "key", kv.key, sizeof(kv.key), &kn) || kn == 0 ||
	    memchr(kv.key, '\0', kn) ||
	    !get_b64(o, "value", kv.value, sizeof(kv.value), &kv.value_len) ||
	    !get_i64(o, "mod_revision", &kv.mod_rev) || kv.mod_rev < 0)
		return -EBADMSG;
	if (cb)
		cb(&kv, arg);
	return 0;
}

static int read_kvs(json_t *arr, etcdmsg_kv_cb cb, void *arg)
{
	size_t i;
	json_t *o;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, o)
		if (read_kv(o, false, cb, arg) < 0)
			return -EBADMSG;
	return 0;
}

static int read_events(json_t *arr, etcdmsg_kv_cb cb, void *arg)
{
	size_t i;
	json_t *o;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, o) {
		json_t *type;
		bool del = false;

		if (!json_is_object(o))
			return -EBADMSG;
		type = json_object_get(o, "type");
		if (type) {
			if (!json_is_string(type))
				return -EBADMSG;
			if (strcmp(json_string_value(type), "DELETE") == 0)
				del = true;
			else if (strcmp(json_string_value(type), "PUT") != 0)
				return -EBADMSG;
		}
		if (read_kv(json_object_get(o, "kv"), del, cb, arg) < 0)
			return -EBADMSG;
	}
	return 0;
}

/* A txn's responses: the range reads of its failure branch. */
static int read_responses(json_t *arr, etcdmsg_kv_cb cb, void *arg)
{
	size_t i;
	json_t *o;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return -EBADMSG;
	json_array_foreach(arr, i, o) {
		json_t *rr;

		if (!json_is_object(o))
			return -EBADMSG;
		rr = json_object_get(o, "response_range");
		if (rr && (!json_is_object(rr) || read_kvs(json_object_get(rr, "kvs"), cb,
							   arg) < 0))
			return -EBADMSG;
	}
	return 0;
}

static int read_reply(json_t *root, struct etcd_reply *r, etcdmsg_kv_cb cb, void *arg)
{
	json_t *o = root, *err, *v;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(root))
		return -EBADMSG;
	if ((v = json_object_get(root, "result")))
		o = v;
	if (!json_is_object(o))
		return -EBADMSG;
	err = json_object_get(o, "error");
	if (err) {
		json_t *m = json_is_object(err) ? json_object_get(err, "message") : err;

		snprintf(r->error, sizeof(r->error), "%s",
			 json_is_string(m) ? json_string_value(m) : "an error");
		return 0;
	}
	v = json_object_get(o, "header");
	if (v && (!json_is_object(v) || !get_i64(v, "revision", &r->revision)))
		return -EBADMSG;
	if (!get_i64(o, "ID", &r->lease_id) || !get_i64(o, "TTL", &r->ttl) ||
	    !get_i64(o, "compact_revision", &r->compact_rev) || r->revision < 0 ||
	    r->compact_rev < 0)
		return -EBADMSG;
	r->succeeded = json_is_true(json_object_get(o, "succeeded"));
	r->created = json_is_true(json_object_get(o, "created"));
	r->canceled = json_is_true(json_object_get(o, "canceled"));
	r->more = json_is_true(json_object_get(o, "more"));
	if (read_kvs(json_object_get(o, "kvs"), cb, arg) < 0 ||
	    read_events(json_object_get(o, "events"), cb, arg) < 0 ||
	    read_responses(json_object_get(o, "responses"), cb, arg) < 0)
		return -EBADMSG;
	return 0;
}

int etcdmsg_reply(const char *buf, size_t len, struct etcd_reply *r, etcdmsg_kv_cb kv,
		  void *arg)
{
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	int err;

	memset(r, 0, sizeof(*r));
	if (!root)
		return -EBADMSG;
	err = read_reply(root, r, kv, arg);
	json_decref(root);
	return err;
}

int etcdmsg_watch_next(const char *buf, size_t len, size_t *used, struct etcd_reply *r,
		       etcdmsg_kv_cb kv, void *arg)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;

	*used = 0;
	memset(r, 0, sizeof(*r));
	if (!nl)
		return 0; /* the gateway ends every message with a newline */
	n = (size_t)(nl - buf);
	*used = n + 1;
	return etcdmsg_reply(buf, n, r, kv, arg);
}

/* --- the layout ---------------------------------------------------------------------- */

int etcdmsg_vip_key(const char *prefix, const struct vip *v, char *out, size_t cap)
{
	char vb[VIP_STRLEN];
	int n = snprintf(out, cap, "%s/vip/%s", prefix, vip_fmt(v, vb));

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static bool node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    s[i]))
			return false;
	return true;
}

int etcdmsg_vip_entry(const char *prefix, const struct etcd_kv *kv, struct route_entry *e)
{
	size_t pn = strlen(prefix);
	json_t *root, *node, *epoch;
	const char *rest;
	int err = -EINVAL;

	memset(e, 0, sizeof(*e));
	if (strncmp(kv->key, prefix, pn) != 0 || strncmp(kv->key + pn, "/vip/", 5) != 0)
		return -EINVAL;
	rest = kv->key + pn + 5;
	if (vip_parse(rest, &e->vip) < 0)
		return -EINVAL;
	e->store_rev = (uint64_t)kv->mod_rev;
	if (kv->deleted) {
		e->withdrawn = true;
		return 0;
	}
	root = json_loadb(kv->value, kv->value_len, JSON_REJECT_DUPLICATES, NULL);
	node = json_object_get(root, "node");
	epoch = json_object_get(root, "epoch");
	if (json_is_string(node) && node_name_ok(json_string_value(node)) &&
	    json_is_integer(epoch) && json_integer_value(epoch) > 0) {
		snprintf(e->node, sizeof(e->node), "%s", json_string_value(node));
		e->epoch = (uint64_t)json_integer_value(epoch);
		err = 0;
	}
	json_decref(root);
	return err;
}

char *etcdmsg_vip_value(const struct route_entry *e)
{
	return dump(json_pack("{s:s, s:I}", "node", e->node, "epoch", (json_int_t)e->epoch));
}

char *etcdmsg_node_value(const char *addr, const char *fingerprint)
{
	return dump(json_pack("{s:s, s:s}", "addr", addr, "fingerprint", fingerprint));
}

const char *etcdmsg_node_of(const char *prefix, const char *key)
{
	size_t pn = strlen(prefix);

	if (strncmp(key, prefix, pn) != 0 || strncmp(key + pn, "/node/", 6) != 0 ||
	    !node_name_ok(key + pn + 6))
		return NULL;
	return key + pn + 6;
}

int etcdmsg_node_addr(const struct etcd_kv *kv, struct sockaddr_storage *addr)
{
	json_t *root = json_loadb(kv->value, kv->value_len, JSON_REJECT_DUPLICATES, NULL);
	json_t *a = json_object_get(root, "addr");
	int err = -EINVAL;

	if (json_is_string(a) && strlen(json_string_value(a)) == json_string_length(a) &&
	    addr_parse(json_string_value(a), 0, addr) == 0 && addr_port(addr) != 0)
		err = 0;
	json_decref(root);
	return err;
}
