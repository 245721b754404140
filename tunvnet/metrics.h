/* The optional Prometheus endpoint: with `metrics_listen = ADDR:PORT` in [node], the
 * daemon answers GET /metrics with the stats result in the text exposition format
 * (tunvnet/prom.h), over HTTP served by libmicrohttpd from the event loop. Connections
 * are bounded in number (in all and per client address: [limits] in the config), in
 * memory and in idle time; metrics.c says how. */
#ifndef TUNVNET_METRICS_H
#define TUNVNET_METRICS_H

struct daemon;

/* Listens when the config asks for it (else does nothing). 0 or -errno. */
int  metrics_start(struct daemon *d);
void metrics_stop(struct daemon *d);

#endif
