/* The RDMA verbs substrate: frames over reliable connected queue pairs, one frame per
 * verbs message, on the verbs engine (verbs_engine.h: receive ring, credits, inline
 * sends, selective signalling, failures) and a fabric (verbs_fabric.h).
 *
 * Which fabric: libibverbs (the device TUNVNET_VERBS_DEVICE names, else the first with an
 * active port), always, unless the environment variable
 * TUNVNET_TEST_VERBS_EMU names an emulated device (tests only; no configuration key
 * can choose it, and the daemon logs loudly when it is on). An emulated end flags its
 * parameters, and the two kinds never connect.
 *
 * Send: send() -> frame header encoded -> the engine (its backlog when out of credits).
 * Receive: the engine's message -> verbs_msg_parse (exactly one frame) -> frame().
 *
 * Links are made from parameters over the control link (tunnel.h): connect() makes the
 * dialer's endpoint, params() its blob, accept_params() the listener's end (started at
 * once), set_params() starts the dialer's. Without a device the instance still opens,
 * and usable() says why not ("no RDMA device"). */
#include "tunnel/verbs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/wire.h"
#include "tunvnet/loop.h"

#define RECV_DEPTH 32
#define SEND_DEPTH 32
#define MSG_MAX    (((FRAME_HDR_LEN + FRAME_MAX_PAYLOAD) + 63) & ~63)
#define RNR_RETRY  3

struct tunnel {
	struct loop *loop;
	struct verbs_engine *e; /* NULL: no device (why says so); never usable */
	bool emulated;
	char why[96];
};

struct tunnel_link {
	struct tunnel *t;
	struct verbs_qp *q;
	struct loop_timer ready_tm;
	const struct tunnel_events *ev;
	void *arg;
	bool started;
	struct verbs_params local; /* this end's parameters */
};

int verbs_params_encode(const struct verbs_params *p, uint8_t *buf, size_t cap)
{
	const struct verbs_engine_peer *e = &p->peer;
	size_t off = 0;

	if (!put_u8(buf, cap, &off, VERBS_PARAMS_VERSION) ||
	    !put_u8(buf, cap, &off, p->emulated ? VERBS_PARAMS_EMULATED : 0) ||
	    !put_be32(buf, cap, &off, e->qp.qpn) || !put_be32(buf, cap, &off, e->qp.psn) ||
	    !put_be16(buf, cap, &off, e->qp.lid) ||
	    !put_bytes(buf, cap, &off, e->qp.gid, FABRIC_GID_LEN) ||
	    !put_be32(buf, cap, &off, e->qp.mtu) || !put_be32(buf, cap, &off, e->recv_depth) ||
	    !put_be32(buf, cap, &off, e->msg_max))
		return -ENOSPC;
	return (int)off;
}

int verbs_params_decode(const uint8_t *buf, size_t len, struct verbs_params *p)
{
	struct verbs_engine_peer *e = &p->peer;
	size_t off = 0;
	uint8_t ver, flags;

	memset(p, 0, sizeof(*p));
	if (len != VERBS_PARAMS_LEN || !get_u8(buf, len, &off, &ver) ||
	    ver != VERBS_PARAMS_VERSION || !get_u8(buf, len, &off, &flags) ||
	    (flags & ~VERBS_PARAMS_EMULATED) || !get_be32(buf, len, &off, &e->qp.qpn) ||
	    !get_be32(buf, len, &off, &e->qp.psn) || !get_be16(buf, len, &off, &e->qp.lid) ||
	    !get_bytes(buf, len, &off, e->qp.gid, FABRIC_GID_LEN) ||
	    !get_be32(buf, len, &off, &e->qp.mtu) || !get_be32(buf, len, &off, &e->recv_depth) ||
	    !get_be32(buf, len, &off, &e->msg_max))
		return -EBADMSG;
	/* Ranges: 24-bit QP numbers and PSNs, an InfiniBand MTU, a sane ring. */
	if (e->qp.qpn > 0xffffff || e->qp.psn > 0xffffff || e->qp.mtu < 256 ||
	    e->qp.mtu > 4096 || e->recv_depth <= VERBS_CTRL_SLOTS || e->recv_depth > 65536 ||
	    e->msg_max < FRAME_HDR_LEN || e->msg_max > (1u << 24))
		return -EBADMSG;
	p->emulated = flags & VERBS_PARAMS_EMULATED;
	return 0;
}

int verbs_msg_parse(const uint8_t *msg, size_t len, struct frame_hdr *h, const uint8_t **payload)
{
	int err = frame_hdr_decode(msg, len, h);

	if (err == -EAGAIN)
		return -EPROTO;
	if (err < 0)
		return err;
	if (len - FRAME_HDR_LEN != h->len)
		return -EPROTO;
	*payload = msg + FRAME_HDR_LEN;
	return 0;
}

static void on_message(struct verbs_qp *q, const uint8_t *msg, size_t len, void *arg)
{
	struct tunnel_link *lk = arg;
	struct frame_hdr h;
	const uint8_t *payload;
	int err = verbs_msg_parse(msg, len, &h, &payload);

	if (err < 0) {
		char why[96];

		snprintf(why, sizeof(why), "a message of %zu bytes is not one frame (%s)", len,
			 strerror(-err));
		if (lk->ev && lk->ev->closed)
			lk->ev->closed(lk, -EPROTO, why, lk->arg);
		return;
	}
	/* The owner may close lk here: nothing touches lk afterwards. */
	if (lk->ev && lk->ev->frame)
		lk->ev->frame(lk, &h, payload, lk->arg);
}

static void on_failed(struct verbs_qp *q, int err, const char *why, void *arg)
{
	struct tunnel_link *lk = arg;

	loop_timer_stop(lk->t->loop, &lk->ready_tm);
	if (lk->ev && lk->ev->closed)
		lk->ev->closed(lk, err, why, lk->arg);
}

static const struct verbs_engine_events engine_events = {
	.message = on_message,
	.failed = on_failed,
};

static void verbs_close(struct tunnel_link *lk);

static void on_ready(struct loop_timer *tm, void *arg)
{
	struct tunnel_link *lk = arg;

	if (lk->ev && lk->ev->ready)
		lk->ev->ready(lk, lk->arg);
}

int verbs_open_on(struct loop *l, const struct fabric_ops *fops, const char *device,
		  const struct verbs_engine_cfg *cfg, struct tunnel **out, char *why,
		  size_t why_len)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->emulated = fops == &fabric_emu_ops;
	err = verbs_engine_open(l, fops, device, 0, cfg, &t->e, why, why_len);
	if (err < 0) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

int verbs_open_why(struct loop *l, struct tunnel **out, char *why, size_t why_len)
{
	struct verbs_engine_cfg cfg = {
		.recv_depth = RECV_DEPTH, .send_depth = SEND_DEPTH, .msg_max = MSG_MAX,
		.rnr_retry = RNR_RETRY,
	};
	const char *emu = getenv(VERBS_ENV_EMU), *dev;

	if (emu && *emu) {
		const char *hold = getenv(VERBS_ENV_RECV_HOLD_MS);

		if (hold)
			cfg.recv_hold_ms = (uint32_t)strtoul(hold, NULL, 10);
		return verbs_open_on(l, &fabric_emu_ops, emu, &cfg, out, why, why_len);
	}
	dev = getenv(VERBS_ENV_DEVICE);
	return verbs_open_on(l, &fabric_ibv_ops, dev && *dev ? dev : NULL, &cfg, out, why,
			     why_len);
}

/* Opens even when there is no device: the instance then says why through usable(), so
 * `vnetctl peers` shows "verbs: no RDMA device here". */
static int verbs_open(struct loop *l, struct tunnel **out)
{
	char why[96];
	int err = verbs_open_why(l, out, why, sizeof(why));

	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		struct tunnel *t = calloc(1, sizeof(*t));

		if (!t)
			return -ENOMEM;
		t->loop = l;
		snprintf(t->why, sizeof(t->why), "%s", why);
		*out = t;
	}
	return 0;
}

static bool verbs_usable(struct tunnel *t, char *why, size_t cap)
{
	struct fabric_port port;

	if (!t->e) {
		snprintf(why, cap, "%s", t->why);
		return false;
	}
	if (verbs_engine_port(t->e, &port) < 0 || !port.active) {
		snprintf(why, cap, "%s: port down", port.device);
		return false;
	}
	return true;
}

static void verbs_free(struct tunnel *t)
{
	if (!t)
		return;
	verbs_engine_close(t->e);
	free(t);
}

int verbs_endpoint(struct tunnel *t, struct tunnel_link **out, uint8_t *params, size_t cap,
		   size_t *len)
{
	struct tunnel_link *lk;
	int err;

	if (!t->e)
		return -ENODEV;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	lk->t = t;
	lk->local.emulated = t->emulated;
	loop_timer_init(&lk->ready_tm, on_ready, lk);
	err = verbs_engine_link(t->e, &engine_events, lk, &lk->q, &lk->local.peer);
	if (err < 0)
		goto fail;
	if (params) {
		err = verbs_params_encode(&lk->local, params, cap);
		if (err < 0) {
			verbs_engine_close_link(lk->q);
			goto fail;
		}
		*len = (size_t)err;
	}
	*out = lk;
	return 0;
fail:
	free(lk);
	return err;
}

int verbs_start(struct tunnel_link *lk, const uint8_t *params, size_t len)
{
	struct verbs_params p;
	int err;

	if (lk->started)
		return -EALREADY;
	if (verbs_params_decode(params, len, &p) < 0)
		return -EBADMSG;
	if (p.emulated != lk->t->emulated)
		return -EPROTO;
	err = verbs_engine_connect(lk->q, &p.peer);
	if (err < 0)
		return err;
	lk->started = true;
	loop_timer_arm(lk->t->loop, &lk->ready_tm, 0);
	return 0;
}

void verbs_link_stats(const struct tunnel_link *lk, struct verbs_engine_stats *out)
{
	verbs_engine_stats(lk->q, out);
}

/* The dialer's end (the address is not used: the parameters say where), the blob for
 * the SUBSTRATE frame, the listener's end from the dialer's blob, and the dialer's end
 * started with the listener's answer (tunnel.h). */
static int verbs_connect(struct tunnel *t, const struct sockaddr_storage *to,
			 struct tls_ctx *tls, struct tunnel_link **out)
{
	return verbs_endpoint(t, out, NULL, 0, NULL);
}

static int verbs_params(struct tunnel_link *lk, uint8_t *buf, size_t cap)
{
	return verbs_params_encode(&lk->local, buf, cap);
}

static int verbs_accept_params(struct tunnel *t, const uint8_t *blob, size_t len,
			       struct tunnel_link **out)
{
	struct tunnel_link *lk;
	int err = verbs_endpoint(t, &lk, NULL, 0, NULL);

	if (err < 0)
		return err;
	err = verbs_start(lk, blob, len);
	if (err < 0) {
		verbs_close(lk);
		return err;
	}
	*out = lk;
	return 0;
}

static int verbs_adopt(struct tunnel *t, int fd, struct tls_ctx *tls, bool tls_server,
		       struct tunnel_link **out)
{
	return -EOPNOTSUPP;
}

static void verbs_set_events(struct tunnel_link *lk, const struct tunnel_events *ev, void *arg)
{
	lk->ev = ev;
	lk->arg = arg;
}

static int verbs_send(struct tunnel_link *lk, uint8_t type, uint16_t flags, const void *payload,
		      size_t len)
{
	uint8_t hdr[FRAME_HDR_LEN];

	if (len > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	frame_hdr_encode(hdr, type, flags, (uint32_t)len);
	return verbs_engine_send(lk->q, type == FRAME_DATA, hdr, sizeof(hdr), payload, len);
}

static void verbs_flush(struct tunnel_link *lk)
{
	/* Sends are posted at once: nothing waits for the end of the loop turn. */
}

static void verbs_close(struct tunnel_link *lk)
{
	if (!lk)
		return;
	loop_timer_stop(lk->t->loop, &lk->ready_tm);
	verbs_engine_close_link(lk->q);
	free(lk);
}

static size_t verbs_queued(const struct tunnel_link *lk)
{
	return verbs_engine_queued(lk->q);
}

static SSL *verbs_tls(const struct tunnel_link *lk)
{
	return NULL;
}

static void verbs_remote(const struct tunnel_link *lk, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	out->ss_family = AF_UNSPEC;
}

const struct tunnel_ops tunnel_verbs_ops = {
	.name = "verbs",
	.caps = { .max_payload = FRAME_MAX_PAYLOAD, .reliable = true, .ordered = true,
		  .credit_limited = true },
	.open = verbs_open,
	.free = verbs_free,
	/* no listen: links come from parameters */
	.connect = verbs_connect,
	.adopt = verbs_adopt,
	.set_events = verbs_set_events,
	.send = verbs_send,
	.flush = verbs_flush,
	.close = verbs_close,
	.queued = verbs_queued,
	.tls = verbs_tls,
	.remote = verbs_remote,
	.usable = verbs_usable,
	.params = verbs_params,
	.accept_params = verbs_accept_params,
	.set_params = verbs_start,
};
