/* HTTP client requests driven by the daemon's loop: libcurl's multi interface, its
 * sockets watched by loop_io and its timeouts by a loop_timer
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, curl_multi_socket_action). Nothing
 * blocks: a request's end is reported through its done callback, a streaming reply's
 * bytes through its data callback, both called from the loop, never from inside curl. */
#ifndef TUNVNET_HTTPC_H
#define TUNVNET_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPC_BODY_MAX (64u << 20) /* a reply longer than this fails the request */

struct loop;
struct httpc;
struct httpc_req;

/* TLS client settings (any may be NULL or ""): the CA that signed the server's
 * certificate, and this client's certificate and key. */
struct httpc_tls {
	const char *ca, *cert, *key;
};

/* The request ended: err 0 and the HTTP status with the whole body (non-streaming), or
 * -errno with why (curl's words). The request is freed after the call. */
typedef void (*httpc_done_cb)(struct httpc_req *rq, int err, long status, const char *body,
			      size_t len, const char *why, void *arg);
/* A streaming request's bytes so far (unconsumed ones again): returns how many it used. */
typedef size_t (*httpc_data_cb)(const char *data, size_t len, void *arg);

int  httpc_new(struct loop *l, struct httpc **out); /* 0 or -errno */
void httpc_free(struct httpc *h);                   /* cancels every request, no callback */

/* POSTs body (copied; JSON) to url. timeout_ms 0: none (a stream). data NULL: the body
 * is collected and handed to done. NULL on ENOMEM. */
struct httpc_req *httpc_post(struct httpc *h, const char *url, const char *body,
			     const struct httpc_tls *tls, long timeout_ms, httpc_data_cb data,
			     httpc_done_cb done, void *arg);
/* Ends rq without calling its callbacks. Safe inside any httpc callback. */
void httpc_cancel(struct httpc_req *rq);

#endif
