/* A job's TUN device, inside the job's network namespace, configured through
 * libnl-route-3 (no `ip` commands): link up, MTU, IPv6 address generation off, VIPs as
 * /32 or /128 (no DAD), and a default route of each family the job has a VIP of. */
#ifndef TUNVNET_TUN_H
#define TUNVNET_TUN_H

#include <linux/if_tun.h>

#include "tunvnet/vip.h"

/* Newer than Debian 12's kernel headers (Linux 6.2); the values are the kernel ABI. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

#define TUN_IFNAME "tv0" /* the device's name inside the job's namespace */

/* Creates (or re-adopts, if a persistent one is already there) the persistent TUN
 * `ifname` in netns_fd (IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, no offloads), sets the MTU
 * and brings it up. The fd is non-blocking and close-on-exec; *ifindex is its index inside
 * the namespace. Returns the fd or -errno. */
int tun_create(int netns_fd, const char *ifname, int mtu, int *ifindex);

/* tun_open() options */
#define TUN_OFFLOAD 0x1 /* super-packets: IFF_VNET_HDR and TUNSETOFFLOAD */

/* As tun_create(), with opts. With TUN_OFFLOAD every read and write on the fd carries a
 * virtio-net header (VNET_HDR_LEN bytes, little-endian, tunvnet/vnet.h) in front of the
 * packet, and the kernel hands over TCP super-packets (TSO4/6, with ECN) of up to 64 KiB
 * and, where it can (Linux 6.2), UDP ones (USO4/6); checksums may be left partial.
 * *offloads (if not NULL) gets the TUN_F_* flags the kernel took, 0 without TUN_OFFLOAD.
 * Header and offloads belong to the device: every fd attached to one device (queues of a
 * hand-over, a re-adopted device) must be opened with the same opts. */
int tun_open(int netns_fd, const char *ifname, int mtu, unsigned opts, unsigned *offloads,
	     int *ifindex);

/* Adds vip (/32 or /128, IFA_F_NODAD) and, if missing, a default route of its family via
 * the TUN. Adding an address that is already there is not an error. 0 or -errno. */
int tun_addr_add(int netns_fd, int ifindex, const struct vip *vip);

/* Removes vip; removes the family's default route when no address of that family is left.
 * Removing an address that is not there is not an error. 0 or -errno. */
int tun_addr_del(int netns_fd, int ifindex, const struct vip *vip);

/* Clears persistence and closes fd: the device and its addresses and routes go away. */
void tun_destroy(int fd);

#endif
