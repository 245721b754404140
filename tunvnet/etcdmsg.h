/* etcd v3's JSON gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/txn, /v3/watch,
 * /v3/lease/grant, /v3/lease/keepalive): request bodies and the checked reading of
 * replies. Keys and values are base64 in JSON, 64-bit integers are strings. No state:
 * etcd.c drives the requests; the fuzzer feeds every reader bytes.
 *
 * The layout under the configured prefix P (etcd.c):
 *   P/vip/<VIP>    {"node":"n1","epoch":7}        under the hosting node's lease
 *   P/node/<name>  {"addr":"198.18.0.1:7000","fingerprint":"sha256:..."}  under its lease */
#ifndef TUNVNET_ETCDMSG_H
#define TUNVNET_ETCDMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunvnet/route.h"

#define ETCDMSG_KEY_MAX   256  /* longer keys under our prefix are refused */
#define ETCDMSG_VALUE_MAX 512
#define ETCDMSG_PREFIX_MAX 64

/* One key-value as read from a reply (a range, a txn's range, a watch event). */
struct etcd_kv {
	char key[ETCDMSG_KEY_MAX + 1];   /* decoded, NUL-terminated (a key holding a NUL
					  * byte is refused) */
	char value[ETCDMSG_VALUE_MAX + 1];
	size_t value_len;
	int64_t mod_rev;
	bool deleted;                    /* a watch DELETE event */
};

/* What one reply said, beyond its key-values (each handed to the kv callback). */
struct etcd_reply {
	int64_t revision;        /* header.revision */
	bool succeeded;          /* txn */
	int64_t lease_id, ttl;   /* lease grant / keepalive (ttl 0: the lease is gone) */
	bool created, canceled;  /* watch */
	bool more;               /* range: a page, more keys follow */
	int64_t compact_rev;     /* watch: canceled because this revision was compacted */
	char error[128];         /* an "error" member's text, "" when none */
};

typedef void (*etcdmsg_kv_cb)(const struct etcd_kv *kv, void *arg);

/* Request bodies, malloc'd JSON text; NULL on ENOMEM or a key too long. */
char *etcdmsg_range(const char *prefix);
/* One page of at most limit keys of prefix, from the key after `after` ("" or NULL: the
 * first), all pages at revision rev (0: the newest, for the first page). */
char *etcdmsg_range_page(const char *prefix, const char *after, int64_t rev, int limit);
char *etcdmsg_watch(const char *prefix, int64_t start_rev);
char *etcdmsg_lease_grant(int ttl_s);
char *etcdmsg_lease_keepalive(int64_t id);
/* A put of key=value under lease (0: none). */
char *etcdmsg_put(const char *key, const char *value, int64_t lease);
/* The publication of e[0..n) under P: succeeds only if every VIP key's mod_revision is
 * still seen[i] (0: no key); puts (or deletes, for a withdrawn entry) each key, else
 * reads each back. */
char *etcdmsg_txn_routes(const char *prefix, const struct route_entry *e,
			 const uint64_t *seen, size_t n, int64_t lease);

/* Reads one reply (range, txn, put, lease, or one watch message {"result":...}): fills
 * *r and calls kv for each key-value in it. 0, or -EBADMSG for anything malformed (kv
 * may have been called for the ones before). */
int etcdmsg_reply(const char *buf, size_t len, struct etcd_reply *r, etcdmsg_kv_cb kv,
		  void *arg);
/* The next complete JSON message of a watch stream in buf[0..len): *used gets its length
 * (0: incomplete, wait for more), then as etcdmsg_reply. */
int etcdmsg_watch_next(const char *buf, size_t len, size_t *used, struct etcd_reply *r,
		       etcdmsg_kv_cb kv, void *arg);

/* Keys and values of the layout above. */
int  etcdmsg_vip_key(const char *prefix, const struct vip *v, char *out, size_t cap);
/* A key-value under P/vip/ read into e (node, epoch; e->withdrawn for a delete, node and
 * epoch then empty); 0, or -EINVAL when kv is not a well-formed VIP entry. */
int  etcdmsg_vip_entry(const char *prefix, const struct etcd_kv *kv, struct route_entry *e);
char *etcdmsg_vip_value(const struct route_entry *e);
char *etcdmsg_node_value(const char *addr, const char *fingerprint);
/* The node name of a key under P/node/, or NULL. */
const char *etcdmsg_node_of(const char *prefix, const char *key);
/* The underlay address (address:port) a node's value under P/node/ gives; 0, or -EINVAL
 * when the value is not one. */
int  etcdmsg_node_addr(const struct etcd_kv *kv, struct sockaddr_storage *addr);

#endif
