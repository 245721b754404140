/* What tunvnet-cni does inside a container's network namespace itself: look interfaces
 * up, and give tunvnetd's TUN (always named tv0) the name the runtime asked for as an
 * alternative name (`ip link property add dev tv0 altname eth0`), which the kernel
 * resolves like the name itself (ip, ping -I, SIOCGIFINDEX, netlink lookups by name). */
#ifndef CNI_CNILINK_H
#define CNI_CNILINK_H

/* The index of the interface called (or alternatively named) name in the namespace at
 * nspath: > 0, 0 when there is none, or -errno (the namespace cannot be entered). */
int cnilink_ifindex(const char *nspath, const char *name);

/* Adds (add = 1) or removes alt as an alternative name of interface ifindex in the
 * namespace at nspath. 0 or -errno (-EEXIST: the name is taken). */
int cnilink_altname(const char *nspath, int ifindex, const char *alt, int add);

#endif
