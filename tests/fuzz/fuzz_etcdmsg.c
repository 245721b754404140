/* etcd's replies (tunvnet/etcdmsg.c): what the store (or anything answering at its
 * address) sends the daemon: unary replies, watch streams cut anywhere, and the VIP and
 * node entries inside them. Every key-value handed up must be bounded and terminated;
 * a VIP entry accepted must name a valid node with an epoch >= 1 and encode back
 * (etcdmsg_vip_value) to a value that reads as the same entry; a watch message's length
 * must lie within the input; a node's address accepted must print and read back the same. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/addr.h"
#include "tunvnet/etcdmsg.h"
#include "tunvnet/msg.h"

static void on_kv(const struct etcd_kv *kv, void *arg)
{
	struct route_entry e, back;
	struct etcd_kv kv2;
	char *val;

	FUZZ_CHECK(strlen(kv->key) <= ETCDMSG_KEY_MAX && kv->value_len <= ETCDMSG_VALUE_MAX);
	FUZZ_CHECK(kv->value[kv->value_len] == '\0' && kv->mod_rev >= 0);
	if (etcdmsg_node_of("/tv", kv->key)) {
		struct sockaddr_storage a;
		char ab[ADDR_STRLEN], *nv;

		/* a node's address accepted prints as address:port and reads back the same */
		if (!kv->deleted && etcdmsg_node_addr(kv, &a) == 0) {
			struct sockaddr_storage b;

			FUZZ_CHECK(addr_port(&a) != 0);
			nv = etcdmsg_node_value(addr_fmt(&a, ab), "sha256:00");
			FUZZ_CHECK(nv != NULL);
			kv2 = *kv;
			snprintf(kv2.value, sizeof(kv2.value), "%s", nv);
			kv2.value_len = strlen(kv2.value);
			free(nv);
			FUZZ_CHECK(etcdmsg_node_addr(&kv2, &b) == 0 && addr_equal(&a, &b));
		}
		return;
	}
	if (etcdmsg_vip_entry("/tv", kv, &e) < 0)
		return;
	FUZZ_CHECK(e.store_rev == (uint64_t)kv->mod_rev);
	if (e.withdrawn)
		return;
	FUZZ_CHECK(e.epoch >= 1 && msg_name_valid(e.node));
	val = etcdmsg_vip_value(&e);
	FUZZ_CHECK(val && strlen(val) <= ETCDMSG_VALUE_MAX);
	kv2 = *kv;
	snprintf(kv2.value, sizeof(kv2.value), "%s", val);
	kv2.value_len = strlen(val);
	free(val);
	FUZZ_CHECK(etcdmsg_vip_entry("/tv", &kv2, &back) == 0);
	FUZZ_CHECK(back.epoch == e.epoch && strcmp(back.node, e.node) == 0 &&
		   vip_equal(&back.vip, &e.vip));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct etcd_reply r;
	size_t off = 0, used;
	int err;

	err = etcdmsg_reply(buf, size, &r, on_kv, NULL);
	FUZZ_CHECK(err == 0 || err == -EBADMSG);
	FUZZ_CHECK(memchr(r.error, '\0', sizeof(r.error)) != NULL);
	while (off < size) {
		err = etcdmsg_watch_next(buf + off, size - off, &used, &r, on_kv, NULL);
		FUZZ_CHECK(err == 0 || err == -EBADMSG);
		FUZZ_CHECK(used <= size - off);
		if (used == 0)
			break;
		off += used;
	}
	return 0;
}
