# tunvnet — plain Makefile. `make`, `make check`, `make check SANITIZE=1`, `make demo`,
# `make bench`, `make install`. Quiet unless V=1.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 libpcap libibverbs inih jansson libsodium libssl libcrypto \
           libmicrohttpd libcurl

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Werror -D_GNU_SOURCE -fno-strict-aliasing \
           -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# sd_notify (readiness under systemd): the daemon alone links libsystemd.
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# The fuzz build (make fuzz, in build-fuzz with clang): the library instrumented for
# libFuzzer's coverage and with ASan and UBSan; libFuzzer's main comes in at the link.
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

BUILD   ?= build
MAINS   := tunvnet/main.c ctl/vnetctl.c cni/tunvnet-cni.c
LIB_SRC := $(filter-out $(MAINS),$(wildcard tunvnet/*.c tunnel/*.c ctl/*.c cni/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libtunvnet.a
TEST_SRC := $(wildcard tests/unit/test_*.c)
TESTS   := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
PROGS   := tunvnetd vnetctl tunvnet-cni
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_BUILD := build-fuzz
FUZZ_S  ?= 60

# Objects depend on the flags they were built with: `make SANITIZE=1` after a plain
# build (or the reverse) rebuilds everything.
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || \
	echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $(FLAGS_STAMP))

.PHONY: all deps check tests unit unit-asan golden layering integration demo bench install clean \
	accept fuzz fuzz-build fuzzers fuzz-seeds deb
all: $(PROGS) $(LIB)

deps:
	$(Q)scripts/deps.sh

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

tunvnetd: $(BUILD)/tunvnet/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS) $(SYSTEMD_LIBS)

vnetctl: $(BUILD)/ctl/vnetctl.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

tunvnet-cni: $(BUILD)/cni/tunvnet-cni.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzzers: $(FUZZERS)

# The libFuzzer harnesses (tests/fuzz/fuzz_*.c), built with clang into build-fuzz.
fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang FUZZ=1 SANITIZE= fuzzers

# Runs every harness for FUZZ_S seconds (default 60) on its checked-in corpus
# (tests/fuzz/corpus/NAME); new inputs go to build-fuzz/corpus/NAME, crashes to
# tests/fuzz/findings/NAME. `make fuzz FUZZER=route` runs one.
fuzz: fuzz-build
	$(Q)BUILD=$(FUZZ_BUILD) scripts/run-fuzz -t $(FUZZ_S) $(FUZZER)

# Rewrites the seed corpora from the encoders (tests/fuzz/seeds.c).
fuzz-seeds: $(BUILD)/tests/fuzz-seeds
	$(Q)$(BUILD)/tests/fuzz-seeds tests/fuzz/corpus

$(BUILD)/tests/fuzz-seeds: $(BUILD)/tests/fuzz/seeds.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The whole suite: unit tests (cmocka), then the namespace integration tests; the last
# line is `N passed, N failed` over every test. Installs missing packages first.
# The unit tests run twice: as built, and built again with ASan and UBSan into
# $(ASAN_BUILD) (an over-read of a few bytes changes no result; only the sanitizer sees
# it). With SANITIZE=1 the first run is that already.
ASAN_BUILD ?= build-asan
ASAN_TESTS := $(TEST_SRC:tests/unit/%.c=$(ASAN_BUILD)/tests/%)
# The builds use every CPU (-j$(NPROC)); scripts/run-tests runs the fuzz harnesses and the
# integration scripts several at a time (RUN_TESTS_JOBS, -j there).
NPROC := $(shell nproc 2>/dev/null || echo 1)
check: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all tests
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) fuzz-build
ifneq ($(SANITIZE),1)
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) BUILD=$(ASAN_BUILD) SANITIZE=1 $(ASAN_TESTS)
	$(Q)BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) FUZZ_BUILD=$(FUZZ_BUILD) scripts/run-tests
else
	$(Q)BUILD=$(BUILD) FUZZ_BUILD=$(FUZZ_BUILD) scripts/run-tests
endif

tests: $(TESTS) $(TOOLS)

# The unit tests and the layering check (scripts/check-layering reads every object).
unit: $(TESTS) $(BUILD)/tunvnet/main.o
	$(Q)BUILD=$(BUILD) scripts/run-tests --unit

layering: $(LIB) $(BUILD)/tunvnet/main.o
	$(Q)BUILD=$(BUILD) scripts/check-layering -v

# Rewrites tests/unit/golden/config/*.out|err from what the parser says now (no test
# runs then): review with git diff, then run the tests.
golden: $(BUILD)/tests/test_config
	$(Q)UPDATE_GOLDEN=1 $(BUILD)/tests/test_config

# The unit tests with ASan and UBSan only (what `make check` runs second).
unit-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) SANITIZE=1 $(ASAN_TESTS)
	$(Q)BUILD=$(ASAN_BUILD) scripts/run-tests --unit

integration: all $(TOOLS)
	$(Q)scripts/run-tests --integration

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

# Data-path figures of veth, VXLAN, OpenVPN and tunvnet side by side, written to
# bench/results.json (scripts/bench says what is measured). QUICK=1: one short run each.
# The full run also measures capture on versus off, and the migration stall and route
# convergence on 16 nodes (bench/migrate.json), and the control plane at 64 nodes on
# each route store (scripts/bench-scale, bench/scale.json).
bench:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all $(TOOLS)
	$(Q)BUILD=$(BUILD) QUICK=$(QUICK) scripts/bench
ifneq ($(QUICK),1)
	$(Q)scripts/bench-capture
	$(Q)scripts/bench-migrate --out bench/migrate.json
	$(Q)scripts/bench-scale --out bench/scale.json
endif

# `make install PREFIX=/usr DESTDIR=/tmp/root`: programs, man pages, the systemd unit,
# bash completion and an example configuration. tunvnet-cni goes where container
# runtimes look for CNI plugins (CNI_BIN_DIR), and vnet-ca, the cluster's CA tool.
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/tunvnet
CNI_BIN_DIR ?= /opt/cni/bin
UNITDIR     ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CNI_BIN_DIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 tunvnetd $(DESTDIR)$(SBINDIR)/tunvnetd
	install -m 0755 vnetctl scripts/vnet-up $(DESTDIR)$(BINDIR)/
	install -m 0755 scripts/vnet-ca $(DESTDIR)$(BINDIR)/
	install -m 0755 tunvnet-cni $(DESTDIR)$(CNI_BIN_DIR)/tunvnet-cni
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/tunvnetd.service.in >$(DESTDIR)$(UNITDIR)/tunvnetd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tunvnetd.service
	install -m 0644 completion/vnetctl $(DESTDIR)$(BASHCOMPDIR)/vnetctl
	install -m 0644 doc/tunvnetd.conf.example README.md doc/design.md $(DESTDIR)$(DOCDIR)/

# A Debian package built from this tree (debian/), into ../ as dpkg-buildpackage does.
deb:
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(PROGS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
