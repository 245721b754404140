/* Virtual IP addresses and prefixes: strict numeric parsing, formatting, hashing. */
#include "tunvnet/vip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Longest text we take for an address, with room for a "/128" suffix. Anything longer
 * cannot be a valid numeric address, so it is rejected before inet_pton sees it. */
#define TEXT_MAX (VIP_STRLEN + 8)

size_t vip_len(const struct vip *v)
{
	if (v->family == AF_INET)
		return 4;
	if (v->family == AF_INET6)
		return 16;
	return 0; /* not a VIP at all: callers compare or copy nothing */
}

static unsigned max_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* inet_pton is strict where we want it: no "1.2.3", no leading or trailing blanks, no
 * octal, no hostnames. "::ffff:1.2.3.4" stays an IPv6 address. */
static int parse_addr(const char *s, size_t n, struct vip *out)
{
	char buf[TEXT_MAX];
	uint8_t bytes[16];

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, bytes) == 1) {
		vip_from_bytes(out, AF_INET, bytes);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, bytes) == 1) {
		vip_from_bytes(out, AF_INET6, bytes);
		return 0;
	}
	return -EINVAL;
}

/* Decimal prefix length: digits only, no sign, no leading zero, at most max. */
static int parse_plen(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

int vip_parse(const char *s, struct vip *out)
{
	const char *slash;
	struct vip v;
	uint8_t plen;
	int err;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	err = parse_addr(s, slash ? (size_t)(slash - s) : strlen(s), &v);
	if (err)
		return err;
	/* A host route suffix is harmless and common in configs; any shorter prefix means
	 * the user gave a pool where one address was expected. */
	if (slash && (parse_plen(slash + 1, max_bits(v.family), &plen) ||
		      plen != max_bits(v.family)))
		return -EINVAL;
	*out = v;
	return 0;
}

const char *vip_fmt(const struct vip *v, char buf[VIP_STRLEN])
{
	if ((v->family != AF_INET && v->family != AF_INET6) ||
	    !inet_ntop(v->family, v->a, buf, VIP_STRLEN))
		snprintf(buf, VIP_STRLEN, "?");
	return buf;
}

bool vip_equal(const struct vip *a, const struct vip *b)
{
	return a->family == b->family && memcmp(a->a, b->a, vip_len(a)) == 0;
}

static uint32_t rotl32(uint32_t x, int r)
{
	return x << r | x >> (32 - r);
}

/* MurmurHash3's block mixing and finaliser over the address words. Not keyed: VIPs come
 * from the node's own pool and from authenticated peers, so nobody can pick colliding
 * keys, and a fixed hash keeps tables reproducible in tests. Only the bytes that
 * vip_equal compares are hashed, so equal VIPs hash equal. */
uint32_t vip_hash(const struct vip *v)
{
	size_t n = vip_len(v), i;
	uint32_t h = 0x9747b28cu ^ v->family;

	for (i = 0; i + 4 <= n; i += 4) {
		uint32_t k = (uint32_t)v->a[i] << 24 | (uint32_t)v->a[i + 1] << 16 |
			     (uint32_t)v->a[i + 2] << 8 | v->a[i + 3];

		k *= 0xcc9e2d51u;
		k = rotl32(k, 15);
		k *= 0x1b873593u;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64u;
	}
	h ^= (uint32_t)n;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

void vip_from_bytes(struct vip *out, int family, const void *bytes)
{
	memset(out, 0, sizeof(*out));
	if (family != AF_INET && family != AF_INET6)
		return;
	out->family = (uint8_t)family;
	memcpy(out->a, bytes, vip_len(out));
}

int vip_prefix_parse(const char *s, struct vip_prefix *out)
{
	const char *slash;
	struct vip v;
	uint8_t plen;
	size_t i, n;
	int err;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	err = parse_addr(s, (size_t)(slash - s), &v);
	if (err)
		return err;
	err = parse_plen(slash + 1, max_bits(v.family), &plen);
	if (err)
		return err;
	/* "198.19.1.1/24" is most likely a typo for an address or for .0/24: refuse it
	 * rather than guess which. */
	n = vip_len(&v);
	for (i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;

		if (bit + 8 <= plen)
			continue;
		mask = bit >= plen ? 0xff : (uint8_t)(0xff >> (plen - bit));
		if (v.a[i] & mask)
			return -EINVAL;
	}
	out->addr = v;
	out->len = plen;
	return 0;
}

const char *vip_prefix_fmt(const struct vip_prefix *p, char buf[VIP_STRLEN + 4])
{
	char a[VIP_STRLEN];

	snprintf(buf, VIP_STRLEN + 4, "%s/%u", vip_fmt(&p->addr, a), (unsigned)p->len);
	return buf;
}

bool vip_prefix_contains(const struct vip_prefix *p, const struct vip *v)
{
	unsigned full, rest;

	if (p->addr.family != v->family || vip_len(v) == 0 || p->len > max_bits(v->family))
		return false;
	full = p->len / 8;
	rest = p->len % 8;
	if (memcmp(p->addr.a, v->a, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((p->addr.a[full] & mask) != (v->a[full] & mask))
			return false;
	}
	return true;
}

int vip_prefix_nth(const struct vip_prefix *p, uint64_t n, struct vip *out)
{
	size_t alen = vip_len(&p->addr);
	unsigned host_bits;
	struct vip v;
	size_t i;

	if (alen == 0 || p->len > max_bits(p->addr.family))
		return -EINVAL;
	host_bits = max_bits(p->addr.family) - p->len;
	if (host_bits < 64 && n >> host_bits)
		return -ERANGE;
	/* Host bits of the prefix are zero, so adding n is OR-ing it into the low bytes:
	 * no carry can reach the network part. */
	v = p->addr;
	for (i = 0; i < 8 && i < alen; i++)
		v.a[alen - 1 - i] |= (uint8_t)(n >> (8 * i));
	*out = v;
	return 0;
}

/* The prefix address (all host bits zero) is the IPv4 network address and IPv6's
 * subnet-router anycast address; the IPv4 all-ones host is the broadcast address. A job
 * holding either would answer for the whole pool, or be unreachable from hosts that
 * treat it as the subnet's, so neither is ever a VIP. */
bool vip_prefix_is_host(const struct vip_prefix *p, const struct vip *v)
{
	unsigned host_bits, i;
	bool zeros = true, ones = true;

	if (!vip_prefix_contains(p, v))
		return false;
	host_bits = max_bits(v->family) - p->len;
	if (host_bits == 0)
		return true; /* a single address: nothing to keep out */
	for (i = 0; i < host_bits; i++) {
		unsigned bit = max_bits(v->family) - 1 - i; /* from the least significant */
		bool set = v->a[bit / 8] & (0x80 >> (bit % 8));

		zeros = zeros && !set;
		ones = ones && set;
	}
	if (zeros)
		return false;
	return !(ones && v->family == AF_INET && host_bits >= 2);
}

int vip_prefix_first_free(const struct vip_prefix *p, bool (*taken)(const struct vip *, void *),
			  void *arg, uint64_t max, struct vip *out)
{
	struct vip v;

	for (uint64_t n = 1; n <= max; n++) {
		if (vip_prefix_nth(p, n, &v) < 0)
			break;
		if (!vip_prefix_is_host(p, &v))
			continue;
		if (!taken(&v, arg)) {
			*out = v;
			return 0;
		}
	}
	return -ENOSPC;
}
