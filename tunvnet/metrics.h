/* The optional Prometheus endpoint: with `metrics_listen = ADDR:PORT` in [node], the
 * daemon answers GET /metrics over HTTP/1.0 with the stats result in the text exposition
 * format (tunvnet/prom.h). Served from the event loop without blocking: requests are
 * bounded in size and time, each connection closes after its response. */
#ifndef TUNVNET_METRICS_H
#define TUNVNET_METRICS_H

struct daemon;

/* Listens when the config asks for it (else does nothing). 0 or -errno. */
int  metrics_start(struct daemon *d);
void metrics_stop(struct daemon *d);

#endif
