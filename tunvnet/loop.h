/* The event loop: one small API over epoll. File descriptors, timers and signals (via
 * signalfd) are all events; handlers never run in signal context. A handler may delete
 * any other io in the same batch: deleted ios are freed only after the batch, and their
 * callbacks are not called again. A before-sleep hook runs once per loop turn, right
 * before epoll_wait, to flush batched writes. */
#ifndef TUNVNET_LOOP_H
#define TUNVNET_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_io;

typedef void (*loop_io_cb)(struct loop_io *io, uint32_t events, void *arg);

struct loop_timer {
	uint64_t when_ms;  /* absolute, loop clock; valid while armed */
	size_t heap_idx;   /* position in the loop's heap, or SIZE_MAX when not armed */
	void (*cb)(struct loop_timer *t, void *arg);
	void *arg;
};

int  loop_new(struct loop **out);           /* 0 or -errno */
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN, EPOLLOUT, ...). NULL with errno set on failure. */
struct loop_io *loop_io_add(struct loop *l, int fd, uint32_t events, loop_io_cb cb, void *arg);
int  loop_io_set(struct loop_io *io, uint32_t events);  /* 0 or -errno */
/* Stops watching; the fd is not closed. Safe inside any callback. NULL is ignored. */
void loop_io_del(struct loop_io *io);
int  loop_io_fd(const struct loop_io *io);

void loop_timer_init(struct loop_timer *t, void (*cb)(struct loop_timer *t, void *arg), void *arg);
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ms); /* re-arms */
void loop_timer_stop(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Delivers signo as an event (blocks it and reads it from a signalfd). 0 or -errno. */
int loop_signal_add(struct loop *l, int signo, void (*cb)(int signo, void *arg), void *arg);

/* Adds a hook run before each sleep. 0 or -ENOMEM. */
int loop_before_sleep(struct loop *l, void (*cb)(void *arg), void *arg);
/* Removes the hook added with the same cb and arg (a module torn down before its loop). */
void loop_before_sleep_del(struct loop *l, void (*cb)(void *arg), void *arg);

int  loop_run(struct loop *l);   /* until loop_stop(); 0 or -errno from epoll */
/* One turn of the loop, waiting at most max_ms (tests that drive two loops in one
 * process). 0 or -errno from epoll. */
int  loop_run_once(struct loop *l, int max_ms);
void loop_stop(struct loop *l);

/* Monotonic milliseconds, refreshed once per loop turn (cheap). */
uint64_t loop_now(const struct loop *l);
/* Monotonic milliseconds read from the clock. */
uint64_t loop_clock_ms(void);

#endif
