#include "tunvnet/httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/log.h"
#include "tunvnet/loop.h"

struct httpc_req {
	struct httpc_req *next;
	struct httpc *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;       /* the request's */
	char *buf;        /* the reply's bytes not yet handed over */
	size_t len, cap;
	bool too_long;
	bool dead;        /* cancelled: freed after the current turn */
	httpc_data_cb data;
	httpc_done_cb done;
	void *arg;
	char err[CURL_ERROR_SIZE];
};

struct httpc {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer timer;
	struct httpc_req *reqs;
	int depth;        /* inside a turn: cancelled requests wait to be freed */
};

static void req_free(struct httpc_req *rq)
{
	curl_multi_remove_handle(rq->h->multi, rq->easy);
	curl_easy_cleanup(rq->easy);
	curl_slist_free_all(rq->hdrs);
	free(rq->body);
	free(rq->buf);
	free(rq);
}

static void unlink_req(struct httpc_req *rq)
{
	for (struct httpc_req **pp = &rq->h->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == rq) {
			*pp = rq->next;
			return;
		}
	}
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct httpc_req *rq = arg;
	size_t n = size * nmemb;

	if (rq->len + n > HTTPC_BODY_MAX) {
		rq->too_long = true;
		return 0; /* curl fails the transfer */
	}
	if (rq->len + n + 1 > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 4096;
		char *nb;

		while (cap < rq->len + n + 1)
			cap *= 2;
		nb = realloc(rq->buf, cap);
		if (!nb)
			return 0;
		rq->buf = nb;
		rq->cap = cap;
	}
	memcpy(rq->buf + rq->len, p, n);
	rq->len += n;
	rq->buf[rq->len] = '\0';
	return n;
}

/* After curl ran: stream bytes up, then finished requests, outside curl's callbacks. */
static void after(struct httpc *h)
{
	CURLMsg *msg;
	int left;

	h->depth++;
	for (struct httpc_req *rq = h->reqs; rq; rq = rq->next) {
		if (rq->dead || !rq->data || rq->len == 0)
			continue;
		size_t used = rq->data(rq->buf, rq->len, rq->arg);

		if (used > rq->len)
			used = rq->len;
		memmove(rq->buf, rq->buf + used, rq->len - used);
		rq->len -= used;
		if (rq->buf)
			rq->buf[rq->len] = '\0';
	}
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct httpc_req *rq = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
		if (!rq || rq->dead)
			continue;
		curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
		rq->dead = true;
		if (msg->data.result == CURLE_OK)
			rq->done(rq, 0, status, rq->buf ? rq->buf : "", rq->len, "", rq->arg);
		else
			rq->done(rq, rq->too_long ? -EMSGSIZE : -ECONNREFUSED, status, "", 0,
				 rq->too_long ? "reply too long"
				 : rq->err[0] ? rq->err : curl_easy_strerror(msg->data.result),
				 rq->arg);
	}
	if (--h->depth == 0) {
		struct httpc_req **pp = &h->reqs;

		while (*pp) {
			struct httpc_req *rq = *pp;

			if (rq->dead) {
				*pp = rq->next;
				req_free(rq);
			} else {
				pp = &rq->next;
			}
		}
	}
}

static void on_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct httpc *h = arg;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, loop_io_fd(io), flags, &running);
	after(h);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct httpc *h = userp;
	struct loop_io *io = socketp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_io_del(io);
		curl_multi_assign(h->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	if (io)
		return loop_io_set(io, ev) < 0 ? -1 : 0;
	io = loop_io_add(h->loop, s, ev, on_io, h);
	if (!io)
		return -1;
	curl_multi_assign(h->multi, s, io);
	return 0;
}

static void on_timer(struct loop_timer *t, void *arg)
{
	struct httpc *h = arg;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	after(h);
}

static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
	struct httpc *h = userp;

	if (timeout_ms < 0)
		loop_timer_stop(h->loop, &h->timer);
	else
		loop_timer_arm(h->loop, &h->timer, (uint64_t)timeout_ms);
	return 0;
}

int httpc_new(struct loop *l, struct httpc **out)
{
	struct httpc *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	/* curl_global_init is not thread-safe on old libcurl; the daemon has one thread. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(h->multi = curl_multi_init())) {
		free(h);
		return -ENOMEM;
	}
	h->loop = l;
	loop_timer_init(&h->timer, on_timer, h);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

void httpc_free(struct httpc *h)
{
	if (!h)
		return;
	while (h->reqs) {
		struct httpc_req *rq = h->reqs;

		h->reqs = rq->next;
		req_free(rq);
	}
	loop_timer_stop(h->loop, &h->timer);
	curl_multi_cleanup(h->multi);
	free(h);
}

struct httpc_req *httpc_post(struct httpc *h, const char *url, const char *body,
			     const struct httpc_tls *tls, long timeout_ms, httpc_data_cb data,
			     httpc_done_cb done, void *arg)
{
	struct httpc_req *rq = calloc(1, sizeof(*rq));
	CURL *e;

	if (!rq)
		return NULL;
	rq->h = h;
	rq->data = data;
	rq->done = done;
	rq->arg = arg;
	rq->body = strdup(body);
	rq->easy = e = curl_easy_init();
	rq->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!rq->body || !e || !rq->hdrs) {
		curl_easy_cleanup(e);
		curl_slist_free_all(rq->hdrs);
		free(rq->body);
		free(rq);
		return NULL;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(e, CURLOPT_PRIVATE, rq);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rq->err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* a stream (a watch) whose server vanished without a FIN is found by keepalives */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 1L);
	if (tls && tls->ca && tls->ca[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca);
	if (tls && tls->cert && tls->cert[0])
		curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert);
	if (tls && tls->key && tls->key[0])
		curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key);
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(rq->hdrs);
		free(rq->body);
		free(rq);
		return NULL;
	}
	rq->next = h->reqs;
	h->reqs = rq;
	return rq;
}

void httpc_cancel(struct httpc_req *rq)
{
	struct httpc *h;

	if (!rq || rq->dead)
		return;
	h = rq->h;
	if (h->depth > 0) {
		rq->dead = true; /* after() frees it */
		return;
	}
	unlink_req(rq);
	req_free(rq);
}
