# hotcfg - top-level GNU make build.
#
#   make            library, agent, CLI and examples into build/
#   make check      every test (installs missing build dependencies first)
#   make run        the agent on examples/ (installs dependencies first)
#   make san        tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       tests under ThreadSanitizer
#   make bench      benchmarks (prints a table, writes build/bench.json)
#   make fuzz       libFuzzer targets (clang)
#   make install    PREFIX=/usr/local DESTDIR= honoured
#   make deps       install missing Debian build dependencies (as root)
#
# Files are found by wildcard, so adding a source or a test needs no edit
# here: lib/*.c (the public part is LIB_PUB below, the rest is internal),
# agent/*.c (hotcfgd), agent/cli/*.c (hotcfg), tests/test_*.c (one
# Criterion binary each), tests/helpers/*.c, tests/bench/*.c,
# tests/fuzz/*.c, examples/*.c.

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
SANFLAGS ?=
OPT     ?= -O2

PKGS_AGENT := yaml-0.1 jansson libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS_AGENT) criterion 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS_AGENT) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -pthread \
           -Iinclude -Ilib -Iagent $(PKG_CFLAGS) -MMD -MP
LDFLAGS ?=
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS) -pthread

# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' '$(1)' '$(2)'
endif

SOMAJOR := 0
SOVER   := 0.1.0

# The part of lib/ that libhotcfg.so and libhotcfg.a carry: what a reader
# needs.  Everything else in lib/ (builder, publisher, dump) is internal.
LIB_PUB  := lib/snap.c lib/reader.c lib/common.c
LIB_ALL  := $(sort $(wildcard lib/*.c))
LIB_INT  := $(filter-out $(LIB_PUB),$(LIB_ALL))
AGENT_MAIN := agent/main.c
AGENT_SRC  := $(filter-out $(AGENT_MAIN),$(sort $(wildcard agent/*.c)))
CLI_SRC    := $(sort $(wildcard agent/cli/*.c))
TEST_SRC   := $(sort $(wildcard tests/test_*.c))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/*.c))
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
picobj = $(patsubst %.c,$(BUILD)/pic/%.o,$(1))

SOLIB   := $(BUILD)/libhotcfg.so.$(SOMAJOR)
ALIB    := $(BUILD)/libhotcfg.a
INTLIB  := $(BUILD)/libhotcfg-internal.a
AGENTLIB := $(BUILD)/libhotcfgd.a
HOTCFGD := $(BUILD)/hotcfgd
HOTCFG  := $(BUILD)/hotcfg
PCFILE  := $(BUILD)/hotcfg.pc
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRC))
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))

INT_LIBS := $(AGENTLIB) $(INTLIB) $(PKG_LIBS) -lm
BINS := $(SOLIB) $(ALIB) $(INTLIB) $(PCFILE)
ifneq ($(wildcard $(AGENT_MAIN)),)
BINS += $(HOTCFGD)
endif
ifneq ($(CLI_SRC),)
BINS += $(HOTCFG)
endif

.PHONY: all check run san tsan bench fuzz install clean deps examples \
        tests check-long torture lint-man
.DEFAULT_GOAL := all
# Keep objects of tests and helpers between runs.
.SECONDARY:

all: $(BINS) examples

# ---------------------------------------------------------------- library
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$< (pic))
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(SOLIB): $(call picobj,$(LIB_PUB)) lib/libhotcfg.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libhotcfg.so.$(SOMAJOR) \
	    -Wl,--version-script=lib/libhotcfg.map -Wl,--no-undefined \
	    -o $@ $(call picobj,$(LIB_PUB)) $(ALL_LDFLAGS)
	$(Q)ln -sf libhotcfg.so.$(SOMAJOR) $(BUILD)/libhotcfg.so

$(ALIB): $(call obj,$(LIB_PUB))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^

$(INTLIB): $(call obj,$(LIB_ALL))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^

$(AGENTLIB): $(call obj,$(AGENT_SRC))
	$(call say,AR,$@)
	$(Q)rm -f $@; ar rcs $@ $^

$(PCFILE): lib/hotcfg.pc.in Makefile
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SOVER)|g' $< > $@

# ------------------------------------------------------------- programs
$(HOTCFGD): $(call obj,$(AGENT_MAIN)) $(AGENTLIB) $(INTLIB)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $(call obj,$(AGENT_MAIN)) $(INT_LIBS) $(ALL_LDFLAGS)

$(HOTCFG): $(call obj,$(CLI_SRC)) $(INTLIB)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $(call obj,$(CLI_SRC)) $(INTLIB) $(PKG_LIBS) -lm $(ALL_LDFLAGS)

# Examples link the shared library, as a user's program would.
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(SOLIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< -L$(BUILD) -lhotcfg \
	    -Wl,-rpath,'$$ORIGIN/..' $(ALL_LDFLAGS)

# ---------------------------------------------------------------- tests
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(AGENTLIB) $(INTLIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $< $(INT_LIBS) -lcriterion $(ALL_LDFLAGS)

$(BUILD)/tests/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(AGENTLIB) $(INTLIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $< $(INT_LIBS) $(ALL_LDFLAGS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(AGENTLIB) $(INTLIB)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $< $(INT_LIBS) $(BENCH_LIBS) $(ALL_LDFLAGS)

tests: $(BINS) $(TESTS) $(HELPERS) $(BENCHES) examples

# HOTCFG_BUILD tells tests where the binaries are; tests/run-tests runs
# every Criterion binary and every tests/*.sh script and sums them up.
check: deps
	$(MAKE) tests
	HOTCFG_BUILD=$(abspath $(BUILD)) tests/run-tests $(TESTS)

run: deps
	$(MAKE) all
	$(HOTCFGD) -c examples/hotcfgd.yaml

san:
	LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp $(LSAN_OPTIONS)" \
	$(MAKE) BUILD=build/san OPT=-O1 \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    check

# Criterion cannot run under ThreadSanitizer (its fork arena collides
# with TSan's shadow memory: Criterion issue #274), so the Criterion
# binaries come from the plain build while every process they start - the
# agent, the CLI, the reader and publisher helpers, each with its own
# threads - is built with TSan.  A race makes such a process exit 66, which
# fails the test that started it.  The benchmarks stay plain: TSan cannot
# follow liburcu's barriers in the urcu baseline.  HOTCFG_TSAN tells the
# tests that the programs they start are TSan-built (no test skips on it
# now).
tsan: deps
	$(MAKE) tests
	$(MAKE) BUILD=build/tsan OPT=-O1 \
	    SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	    $(patsubst $(BUILD)/%,build/tsan/%,$(filter-out $(ALIB) $(PCFILE),\
	    $(BINS)) $(HELPERS) $(EXAMPLES))
	HOTCFG_BUILD=$(abspath build/tsan) HOTCFG_TSAN=1 \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" \
	    tests/run-tests $(TESTS)

BENCH_LIBS := $(shell pkg-config --libs liburcu-memb 2>/dev/null)
bench: deps
	$(MAKE) $(BINS) $(BENCHES) $(HELPERS)
	HOTCFG_BUILD=$(abspath $(BUILD)) tests/bench/run.sh

# libFuzzer targets, built with clang from source by tests/fuzz/run.sh.
FUZZ_DEPS := clang libclang-rt-14-dev
fuzz:
	@.ci/deps $(FUZZ_DEPS)
	FUZZ_BUILD=$(abspath $(BUILD))/fuzz tests/fuzz/run.sh --build

# The long checks: everything in check, then each fuzzer for 60 s on its
# checked-in corpus, then the torture run for three minutes.
# The long checks: fuzzing, the torture run, and a snapshot of more than
# 2 GiB (about 4 GiB of memory; make check skips that test).
check-long: check
	@.ci/deps $(FUZZ_DEPS)
	HOTCFG_BUILD=$(abspath $(BUILD)) HOTCFG_BIG=1 \
	    $(BUILD)/tests/test_snapshot --filter 'snapshot/records_past_2_gib*'
	FUZZ_BUILD=$(abspath $(BUILD))/fuzz tests/fuzz/run.sh 60
	$(MAKE) torture

# Readers verifying every snapshot while sources are edited in every style
# and the agent is killed at random (make check runs 20 s of the same).
TORTURE_SECONDS ?= 180
torture: deps
	$(MAKE) tests
	HOTCFG_BUILD=$(abspath $(BUILD)) HOTCFG_SRC=$(CURDIR) \
	    TORTURE_SECONDS=$(TORTURE_SECONDS) $(BUILD)/tests/test_torture

lint-man:
	@for f in man/*.[0-9]; do mandoc -T lint -W warning $$f || exit 1; done

# ---------------------------------------------------------------- install
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(SOLIB) $(DESTDIR)$(PREFIX)/lib/libhotcfg.so.$(SOVER)
	ln -sf libhotcfg.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libhotcfg.so.$(SOMAJOR)
	ln -sf libhotcfg.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libhotcfg.so
	install -m 0644 $(ALIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/hotcfg.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(PCFILE) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	if [ -f $(HOTCFGD) ]; then install -m 0755 $(HOTCFGD) $(DESTDIR)$(PREFIX)/sbin/; fi
	if [ -f $(HOTCFG) ]; then install -m 0755 $(HOTCFG) $(DESTDIR)$(PREFIX)/bin/; fi
	for f in man/*.[0-9]; do [ -f "$$f" ] || continue; \
	    s=$${f##*.}; d=$(DESTDIR)$(PREFIX)/share/man/man$$s; \
	    install -d $$d; install -m 0644 $$f $$d/; \
	    for n in $$(sed -n 's/^\.Nm \(hotcfg_[a-z_]*\).*/\1/p' $$f); do \
	        [ -e $$d/$$n.$$s ] || ln -s $${f##*/} $$d/$$n.$$s; done; done

clean:
	rm -rf build

# Missing Debian packages are installed when we are root, else named.
deps:
	@.ci/deps

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
