# pipelock-fw - one non-recursive Makefile.
#
#   make                 build $(BUILD)/pipelock-fw
#   make test            the CI gate: unit tests, short fuzz runs, netns
#                        integration tests (root); closes with
#                        "N passed, N failed, N skipped"
#   make check           unit tests only (no root)
#   make integration     netns integration tests only (root)
#   make fuzz            build the libFuzzer targets (clang, ASan+UBSan)
#   make fuzz-run        run each fuzz target briefly (FUZZ_SECONDS, default 20)
#   make test-long       long runs: fuzz-long, lifecycle loops
#   make bench           benchmarks (bench-scanner, engine vs direct/peers)
#   make asan            same as `make SANITIZE=1`: build in build-asan/
#   make install DESTDIR=... PREFIX=...
#   make run             build, then run the engine on built-in defaults
#   make demo            build, then the first-run demo (root; namespaces only)
#
# Sources are found by wildcard, one folder per pipeline stage.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= /lib/systemd/system
DESTDIR	?=
PKG_CONFIG ?= pkg-config
CC	?= cc

ifeq ($(SANITIZE),1)
BUILD	?= build-asan
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD	?= build
SAN_FLAGS =
endif

PKGS	= yaml-0.1 libpcre2-8 openssl libmnl libnftnl libnetfilter_queue libhs libcap

# A fresh machine: install what the build needs before asking pkg-config.
DEPS_OK := $(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
$(info deps: build dependencies missing, running scripts/deps.sh build)
DEPS_RUN := $(shell sh scripts/deps.sh build >&2; echo $$?)
endif
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

OPT	?= -O2 -g
CFLAGS	?= $(OPT)
WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wno-unused-parameter -Wformat=2 -Werror=implicit-function-declaration
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I. $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) \
	  -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread -MMD -MP $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) -pthread $(LDFLAGS)
LIBS	= $(PKG_LIBS) -lm

ifeq ($(V),1)
Q =
else
Q = @
endif

LIB_SRCS := $(sort $(wildcard core/*.c scanner/*.c rules/*.c tproxy/*.c nfq/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB	 := $(BUILD)/libpipelock.a
BIN	 := $(BUILD)/pipelock-fw

UNIT_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
UNIT_HELPER_SRCS := $(sort $(wildcard tests/unit/lib/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/%.o)

FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BUILD := build-fuzz
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -I. -g -O1 $(PKG_CFLAGS) -pthread \
	  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SECONDS ?= 20

.SECONDARY:

.PHONY: all run demo check unit integration test test-long fuzz fuzz-run fuzz-long \
	bench bench-scanner asan install uninstall clean man-check deps help

all: $(BIN)

deps:
	sh scripts/deps.sh all

# The main job on built-in defaults (no config file): the engine in the
# foreground, audit lines on stdout.  Add RUN_ARGS="--apply --agent-user NAME"
# to steer an agent through it.
run: $(BIN)
	$(BIN) run $(RUN_ARGS)

# The first run (root): a throwaway network-namespace world with an agent,
# the firewall applied there only, allowed and blocked requests; cleans up.
demo: $(BIN)
	@sh scripts/deps.sh all
	sh scripts/demo.sh $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(BUILD)/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(UNIT_HELPER_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(UNIT_HELPER_OBJS) $(LIB) $(ALL_LDFLAGS) $(LIBS)

asan:
	$(MAKE) SANITIZE=1

unit: $(BIN) $(UNIT_BINS)
	@sh tests/run-unit.sh $(BUILD) $(UNIT_BINS)

check: unit

integration: $(BIN)
	@PIPELOCK_FW=$(abspath $(BIN)) sh tests/run-integration.sh

# The CI gate.  Every stage writes its counts to $(BUILD)/results/*.count;
# tests/summary.sh prints the closing "N passed, N failed, N skipped".
test: $(BIN) $(UNIT_BINS)
	@sh scripts/deps.sh all
	@rm -rf $(BUILD)/results; mkdir -p $(BUILD)/results
	-@RESULTS=$(BUILD)/results sh tests/run-unit.sh $(BUILD) $(UNIT_BINS)
	-@RESULTS=$(BUILD)/results PIPELOCK_FW=$(abspath $(BIN)) sh tests/run-integration.sh
	-@RESULTS=$(BUILD)/results $(MAKE) --no-print-directory fuzz-run
	@sh tests/summary.sh $(BUILD)/results

test-long: $(BIN)
	@rm -rf $(BUILD)/results; mkdir -p $(BUILD)/results
	-@RESULTS=$(BUILD)/results PIPELOCK_FW=$(abspath $(BIN)) LONG=1 sh tests/run-integration.sh
	-@RESULTS=$(BUILD)/results $(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=600
	@sh tests/summary.sh $(BUILD)/results

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-FUZZ $<")
	$(Q)clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

fuzz: $(FUZZ_BINS)

fuzz-run: fuzz
	@sh tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-long:
	$(MAKE) fuzz-run FUZZ_SECONDS=600

bench: $(BIN) bench-scanner
	@if [ -x tests/bench/run.sh ]; then PIPELOCK_FW=$(abspath $(BIN)) sh tests/bench/run.sh; fi

bench-scanner: $(BUILD)/tests/bench/bench_scanner
	$(BUILD)/tests/bench/bench_scanner tests/bench/corpus

$(BUILD)/tests/bench/bench_scanner: tests/bench/bench_scanner.c $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LIBS)

man-check:
	mandoc -Tlint -Wwarning man/pipelock-fw.8 man/pipelock-fw.yaml.5

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/pipelock-fw
	for m in man/*.8; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/ || true; done
	for m in man/*.5; do [ -e "$$m" ] && install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/ || true; done
	install -d $(DESTDIR)$(SYSCONFDIR)/pipelock-fw $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -m 0644 scripts/pipelock-fw.example.yaml $(DESTDIR)$(SYSCONFDIR)/pipelock-fw/pipelock.yaml.example
	sed 's|/usr/local/sbin/pipelock-fw|$(BINDIR)/pipelock-fw|g' scripts/pipelock-fw.service >$(DESTDIR)$(UNITDIR)/pipelock-fw.service
	install -m 0644 scripts/pipelock-fw.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/pipelock-fw

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pipelock-fw $(DESTDIR)$(MANDIR)/man8/pipelock-fw.8 \
	      $(DESTDIR)$(MANDIR)/man5/pipelock-fw.yaml.5 \
	      $(DESTDIR)$(SYSCONFDIR)/pipelock-fw/pipelock.yaml.example \
	      $(DESTDIR)$(UNITDIR)/pipelock-fw.service $(DESTDIR)$(SYSCONFDIR)/logrotate.d/pipelock-fw

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(BUILD)/main.d $(FUZZ_LIB_OBJS:.o=.d)
