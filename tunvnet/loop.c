#include "tunvnet/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS  64
#define MAX_SIGNALS 8
#define MAX_HOOKS   8

struct loop_io {
	struct loop *loop;
	int fd;
	bool dead;
	loop_io_cb cb;
	void *arg;
	struct loop_io *next_dead;
};

struct sig_handler {
	int signo;
	void (*cb)(int signo, void *arg);
	void *arg;
};

struct hook {
	void (*cb)(void *arg);
	void *arg;
};

struct loop {
	int epfd;
	bool running;
	uint64_t now;
	/* Timers: a binary min-heap on when_ms. */
	struct loop_timer **heap;
	size_t nheap, capheap;
	/* Deleted ios wait here until the batch that may still name them is over. */
	struct loop_io *dead;
	int sigfd;
	struct loop_io *sigio;
	sigset_t sigmask;
	struct sig_handler sigs[MAX_SIGNALS];
	int nsigs;
	struct hook hooks[MAX_HOOKS];
	int nhooks;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_now(const struct loop *l)
{
	return l->now;
}

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->now = loop_clock_ms();
	*out = l;
	return 0;
}

static void reap(struct loop *l)
{
	while (l->dead) {
		struct loop_io *io = l->dead;

		l->dead = io->next_dead;
		free(io);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	loop_io_del(l->sigio);
	reap(l);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l->heap);
	free(l);
}

struct loop_io *loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_cb cb, void *arg)
{
	struct loop_io *io = calloc(1, sizeof(*io));
	struct epoll_event ev = { .events = events };

	if (!io) {
		errno = ENOMEM;
		return NULL;
	}
	io->loop = l;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(io);
		errno = err;
		return NULL;
	}
	return io;
}

int loop_io_set(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_io_del(struct loop_io *io)
{
	if (!io || io->dead)
		return;
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->loop->dead;
	io->loop->dead = io;
}

int loop_io_fd(const struct loop_io *io)
{
	return io->fd;
}

/* --- timers ------------------------------------------------------------------------ */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->when_ms <= l->heap[i]->when_ms)
			break;
		heap_swap(l, p, i);
		i = p;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;

		if (c < l->nheap && l->heap[c]->when_ms < l->heap[m]->when_ms)
			m = c;
		if (c + 1 < l->nheap && l->heap[c + 1]->when_ms < l->heap[m]->when_ms)
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_init(struct loop_timer *t, void (*cb)(struct loop_timer *t, void *arg), void *arg)
{
	memset(t, 0, sizeof(*t));
	t->heap_idx = SIZE_MAX;
	t->cb = cb;
	t->arg = arg;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != SIZE_MAX;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t i = t->heap_idx;
	struct loop_timer *moved;

	if (i == SIZE_MAX)
		return;
	t->heap_idx = SIZE_MAX;
	l->nheap--;
	if (i == l->nheap)
		return;
	moved = l->heap[l->nheap];
	l->heap[i] = moved;
	moved->heap_idx = i;
	heap_up(l, i);
	heap_down(l, moved->heap_idx);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_stop(l, t);
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 16;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h)
			abort(); /* a lost timer would wedge a peer forever */
		l->heap = h;
		l->capheap = cap;
	}
	t->when_ms = loop_clock_ms() + delay_ms;
	t->heap_idx = l->nheap;
	l->heap[l->nheap++] = t;
	heap_up(l, t->heap_idx);
}

static int next_timeout(struct loop *l)
{
	uint64_t now;

	if (l->nheap == 0)
		return -1;
	now = loop_clock_ms();
	if (l->heap[0]->when_ms <= now)
		return 0;
	return (int)(l->heap[0]->when_ms - now);
}

static void run_timers(struct loop *l)
{
	while (l->nheap > 0 && l->heap[0]->when_ms <= l->now) {
		struct loop_timer *t = l->heap[0];

		loop_timer_stop(l, t);
		t->cb(t, t->arg);
	}
}

/* --- signals ------------------------------------------------------------------------ */

static void on_signal(struct loop_io *io, uint32_t events, void *arg)
{
	struct loop *l = arg;
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (int i = 0; i < l->nsigs; i++)
			if (l->sigs[i].signo == (int)si.ssi_signo)
				l->sigs[i].cb((int)si.ssi_signo, l->sigs[i].arg);
	}
}

int loop_signal_add(struct loop *l, int signo, void (*cb)(int signo, void *arg), void *arg)
{
	int fd;

	if (l->nsigs == MAX_SIGNALS)
		return -ENOSPC;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		l->sigfd = fd;
		l->sigio = loop_io_add(l, fd, EPOLLIN, on_signal, l);
		if (!l->sigio)
			return -errno;
	}
	l->sigs[l->nsigs++] = (struct sig_handler){ signo, cb, arg };
	return 0;
}

int loop_before_sleep(struct loop *l, void (*cb)(void *arg), void *arg)
{
	if (l->nhooks == MAX_HOOKS)
		return -ENOMEM;
	l->hooks[l->nhooks++] = (struct hook){ cb, arg };
	return 0;
}

void loop_before_sleep_del(struct loop *l, void (*cb)(void *arg), void *arg)
{
	for (int i = 0; i < l->nhooks; i++) {
		if (l->hooks[i].cb == cb && l->hooks[i].arg == arg) {
			memmove(&l->hooks[i], &l->hooks[i + 1],
				(size_t)(l->nhooks - i - 1) * sizeof(l->hooks[0]));
			l->nhooks--;
			return;
		}
	}
}

/* --- the loop ------------------------------------------------------------------------ */

/* One turn: hooks, one wait of at most max_ms (-1: until the next timer), the ready
 * ios, the timers. 0 or -errno from epoll. */
static int turn(struct loop *l, int max_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, tmo;

	for (int i = 0; i < l->nhooks; i++)
		l->hooks[i].cb(l->hooks[i].arg);
	tmo = next_timeout(l);
	if (max_ms >= 0 && (tmo < 0 || tmo > max_ms))
		tmo = max_ms;
	n = epoll_wait(l->epfd, evs, MAX_EVENTS, tmo);
	if (n < 0 && errno != EINTR)
		return -errno;
	l->now = loop_clock_ms();
	for (int i = 0; i < n; i++) {
		struct loop_io *io = evs[i].data.ptr;

		if (!io->dead)
			io->cb(io, evs[i].events, io->arg);
	}
	reap(l);
	run_timers(l);
	reap(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->running = true;
	while (l->running) {
		int err = turn(l, -1);

		if (err < 0)
			return err;
	}
	return 0;
}

int loop_run_once(struct loop *l, int max_ms)
{
	return turn(l, max_ms);
}

void loop_stop(struct loop *l)
{
	l->running = false;
}
