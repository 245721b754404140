/* A job's TUN device, inside the job's network namespace, configured through
 * libnl-route-3 (no `ip` commands): link up, MTU, IPv6 address generation off, VIPs as
 * /32 or /128 (no DAD), and a default route of each family the job has a VIP of. */
#ifndef TUNVNET_TUN_H
#define TUNVNET_TUN_H

#include "tunvnet/vip.h"

#define TUN_IFNAME "tv0" /* the device's name inside the job's namespace */

/* Creates (or re-adopts, if a persistent one is already there) the persistent TUN
 * `ifname` in netns_fd (IFF_TUN | IFF_NO_PI), sets the MTU and brings it up. The fd is
 * non-blocking and close-on-exec; *ifindex is its index inside the namespace.
 * Returns the fd or -errno. */
int tun_create(int netns_fd, const char *ifname, int mtu, int *ifindex);

/* Adds vip (/32 or /128, IFA_F_NODAD) and, if missing, a default route of its family via
 * the TUN. Adding an address that is already there is not an error. 0 or -errno. */
int tun_addr_add(int netns_fd, int ifindex, const struct vip *vip);

/* Removes vip; removes the family's default route when no address of that family is left.
 * Removing an address that is not there is not an error. 0 or -errno. */
int tun_addr_del(int netns_fd, int ifindex, const struct vip *vip);

/* Clears persistence and closes fd: the device and its addresses and routes go away. */
void tun_destroy(int fd);

#endif
