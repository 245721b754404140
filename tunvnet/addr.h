/* Underlay socket addresses: "198.18.0.1:7000", "[fd00::1]:7000". */
#ifndef TUNVNET_ADDR_H
#define TUNVNET_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#define ADDR_STRLEN 64

/* A missing port gets default_port. 0 or -EINVAL. */
int  addr_parse(const char *s, unsigned default_port, struct sockaddr_storage *out);
const char *addr_fmt(const struct sockaddr_storage *a, char buf[ADDR_STRLEN]);
bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Same host: family and address equal, whatever the ports (per-address limits). */
bool addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
socklen_t addr_len(const struct sockaddr_storage *a);
/* The port in host order; 0 when addr_parse was given none and no default. */
unsigned addr_port(const struct sockaddr_storage *a);

#endif
