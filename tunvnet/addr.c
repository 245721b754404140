/* Underlay socket addresses: numeric host and port, in the usual text forms. */
#include "tunvnet/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Longest host text we consider; a numeric IPv6 address is shorter than this. */
#define HOST_MAX 64

/* Port: 1 to 5 decimal digits, 1..65535. No sign, no blanks, nothing after. */
static int parse_port(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v == 0 || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Numeric hosts only: a daemon must not block on DNS, and inet_pton (unlike
 * inet_aton or getaddrinfo) refuses the shorthand forms such as "10.1". */
static int parse_host(const char *s, size_t n, int family, unsigned port,
		      struct sockaddr_storage *out)
{
	char buf[HOST_MAX];

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	return 0;
}

/* Accepted: "A.B.C.D", "A.B.C.D:PORT", "[V6]", "[V6]:PORT", and a bare "V6" (two or
 * more colons can only be an IPv6 address, so "fd00::1:7000" is the address
 * fd00::1:7000 with the default port: write "[fd00::1]:7000" for a port). */
int addr_parse(const char *s, unsigned default_port, struct sockaddr_storage *out)
{
	struct sockaddr_storage tmp;
	unsigned port = default_port;
	const char *colon, *end;
	int err;

	if (!s || default_port > 65535)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		if (end[1] == ':') {
			err = parse_port(end + 2, &port);
			if (err)
				return err;
		} else if (end[1] != '\0') {
			return -EINVAL;
		}
		err = parse_host(s + 1, (size_t)(end - s - 1), AF_INET6, port, &tmp);
	} else if ((colon = strchr(s, ':')) && strchr(colon + 1, ':')) {
		err = parse_host(s, strlen(s), AF_INET6, port, &tmp);
	} else if (colon) {
		err = parse_port(colon + 1, &port);
		if (err)
			return err;
		err = parse_host(s, (size_t)(colon - s), AF_INET, port, &tmp);
	} else {
		err = parse_host(s, strlen(s), AF_INET, port, &tmp);
	}
	if (err)
		return err;
	*out = tmp;
	return 0;
}

const char *addr_fmt(const struct sockaddr_storage *a, char buf[ADDR_STRLEN])
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)a;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, ADDR_STRLEN, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)a;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, ADDR_STRLEN, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, ADDR_STRLEN, "?");
	}
	return buf;
}

bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	/* Two "no address" values are the same thing. */
	return a->ss_family == AF_UNSPEC;
}

socklen_t addr_len(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (a->ss_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

bool addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

unsigned addr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	return 0;
}
