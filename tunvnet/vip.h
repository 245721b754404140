/* Virtual IP addresses (IPv4 or IPv6 host addresses) and prefixes (VIP pools). */
#ifndef TUNVNET_VIP_H
#define TUNVNET_VIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define VIP_STRLEN INET6_ADDRSTRLEN

/* family is AF_INET (address in a[0..3], a[4..15] zero) or AF_INET6. */
struct vip {
	uint8_t family;
	uint8_t a[16];
};

struct vip_prefix {
	struct vip addr; /* host bits are zero */
	uint8_t len;     /* 0..32 or 0..128 */
};

/* Parses "198.19.1.10" or "fd00:19::1"; a "/32" or "/128" suffix is accepted, no other. */
int  vip_parse(const char *s, struct vip *out);               /* 0 or -EINVAL */
const char *vip_fmt(const struct vip *v, char buf[VIP_STRLEN]); /* returns buf */
bool vip_equal(const struct vip *a, const struct vip *b);
uint32_t vip_hash(const struct vip *v);
/* Fills from / writes to raw network-order address bytes (4 or 16). */
void vip_from_bytes(struct vip *out, int family, const void *bytes);
size_t vip_len(const struct vip *v);                           /* 4 or 16 */

/* "198.19.1.0/24": host bits must be zero. */
int  vip_prefix_parse(const char *s, struct vip_prefix *out);  /* 0 or -EINVAL */
const char *vip_prefix_fmt(const struct vip_prefix *p, char buf[VIP_STRLEN + 4]);
bool vip_prefix_contains(const struct vip_prefix *p, const struct vip *v);
/* The n-th address of the prefix (n = 0 is the prefix address); -ERANGE beyond it. */
int  vip_prefix_nth(const struct vip_prefix *p, uint64_t n, struct vip *out);
/* Whether v is an address of p a job may hold: inside p, and neither the prefix address
 * (IPv4 network, IPv6 subnet-router anycast) nor, for IPv4 prefixes up to /30, the
 * broadcast address. A /31 or /32 (/127, /128) prefix keeps every address. */
bool vip_prefix_is_host(const struct vip_prefix *p, const struct vip *v);
/* The pool allocator: the first address of p, in order, that vip_prefix_is_host accepts
 * and taken(v, arg) says is free, trying at most the first max + 1 addresses of p.
 * 0 with *out, or -ENOSPC. */
int  vip_prefix_first_free(const struct vip_prefix *p,
			   bool (*taken)(const struct vip *v, void *arg), void *arg,
			   uint64_t max, struct vip *out);

#endif
