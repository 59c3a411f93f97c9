# kvm-planes: build, boot and test the series on the pinned Linux 7.3 base.
# 'make help' lists the targets.

WORKTREE := build/linux
OBJ := build/obj/x86_64
RESULTS := build/results
KERNEL := $(OBJ)/arch/x86/boot/bzImage
INITRAMFS := $(OBJ)/initramfs.cpio
TESTS := tests/x86_64.list
DEBUG_OBJ := build/obj/x86_64-debug
# The debug kernel runs each test this many times slower at most.
DEBUG_TIMEOUT_SCALE := 6
DEBUG_VM_TIMEOUT := 10800
# acpi=noirq: the debug kernel's ACPI interpreter runs QEMU's _PRT, which
# vfio-pci's enabling of the edu device calls for, past its 30 s limit.
DEBUG_APPEND := panic_on_warn=1 acpi=noirq kvmplanes.timeout_scale=$(DEBUG_TIMEOUT_SCALE) \
	kvmplanes.skip=_bench

export WORKTREE OBJ

.PHONY: help deps fetch worktree export export-check kernel initramfs run shell \
	check check-debug checkpatch vm-check cross cross-ktap static static-ktap bisect-check \
	ppc-check ppc-ktap arm64-check arm64-ktap bench

help:
	@echo "make run           build the patched kernel, boot it, show what the series adds"
	@echo "make check         build, boot, run KUnit + selftests; checkpatch, cross, static, ppc, arm64; summary"
	@echo "make check-debug   the guest tests on a kernel with KASAN, lockdep, kmemleak, UBSAN"
	@echo "make cross         compile KVM and the uapi headers for arm64 powerpc riscv s390 loongarch"
	@echo "make static        sparse and W=1 on the kernel C files the series touches, vs the base"
	@echo "make bisect-check  compile the KVM objects at every commit of base..series"
	@echo "make ppc-check     run the powerpc KVM selftest in a ppc64le guest (nested KVM-HV, TCG)"
	@echo "make arm64-check   run tests/arm64.list in an arm64 guest (KVM at EL2, TCG)"
	@echo "make bench         plane switch and unused-planes cost, series vs base kernel"
	@echo "make shell         boot the test VM with an interactive shell"
	@echo "make worktree      create/refresh $(WORKTREE): the base plus patches/"
	@echo "make export        write the work tree's commits to patches/"
	@echo "make export-check  fail if the work tree holds work not in patches/"
	@echo "make fetch         download and cache the pinned base"
	@echo "make deps          install the Debian packages the project needs (root)"

deps:
	@scripts/install-deps

fetch: deps
	scripts/fetch-base

worktree: deps
	scripts/worktree

$(WORKTREE)/.git: | deps
	scripts/worktree

export: $(WORKTREE)/.git
	scripts/export

export-check:
	scripts/export-check

kernel: deps $(WORKTREE)/.git
	scripts/build-kernel

initramfs: kernel
	scripts/mkinitramfs $(TESTS) $(INITRAMFS)

run: initramfs
	scripts/run-vm run $(KERNEL) $(INITRAMFS)

shell: initramfs
	scripts/run-vm shell $(KERNEL) $(INITRAMFS)

# Each step writes KTAP; the summary reads all of it, so a step that
# fails (or a guest that hangs) shows as failed tests, never as nothing.
vm-check: initramfs
	scripts/vm-check $(KERNEL) $(INITRAMFS) $(RESULTS)

# The test list on a kernel with KASAN, lockdep, kmemleak, UBSAN and fault
# injection (configs/x86_64-debug), where a WARN panics, but for the
# benchmarks (*_bench: their figures mean nothing there, and they take
# hours); not part of 'make check' (see the README for how long it takes).
check-debug: deps $(WORKTREE)/.git
	OBJ=$(DEBUG_OBJ) EXTRA_CONFIGS='configs/x86_64-debug/*.config' scripts/build-kernel
	OBJ=$(DEBUG_OBJ) scripts/mkinitramfs $(TESTS) $(DEBUG_OBJ)/initramfs.cpio
	VM_TIMEOUT=$(DEBUG_VM_TIMEOUT) VM_APPEND="$(DEBUG_APPEND)" \
		scripts/vm-check $(DEBUG_OBJ)/arch/x86/boot/bzImage $(DEBUG_OBJ)/initramfs.cpio $(RESULTS)/debug
	scripts/ktap-summary $(RESULTS)/debug/vm.ktap $(RESULTS)/debug/guest.ktap

checkpatch: $(WORKTREE)/.git
	@mkdir -p $(RESULTS)
	scripts/checkpatch-series > $(RESULTS)/checkpatch.ktap

# 'make cross' and 'make static' summarise their step alone; 'make check'
# runs the steps through their *-ktap targets and summarises them all.
cross-ktap: deps $(WORKTREE)/.git
	@mkdir -p $(RESULTS)
	scripts/build-cross > $(RESULTS)/cross.ktap

cross: cross-ktap
	scripts/ktap-summary $(RESULTS)/cross.ktap

static-ktap: kernel cross-ktap
	@mkdir -p $(RESULTS)
	scripts/static-check > $(RESULTS)/static.ktap

static: static-ktap
	scripts/ktap-summary $(RESULTS)/static.ktap

# Emulated guests with their own kernels (build/obj/GUEST-qemu) run KVM
# nested under TCG and the tests of tests/GUEST.list: a ppc64le pseries
# guest (KVM-HV) and an arm64 virt guest (KVM at EL2).  run-guest writes
# KTAP whatever happens; the summary fails on what failed.
ppc-ktap arm64-ktap: %-ktap: deps $(WORKTREE)/.git
	@mkdir -p $(RESULTS)
	@rm -f $(RESULTS)/$*.ktap
	scripts/run-guest $* $(RESULTS)/$*.ktap > $(RESULTS)/$*-console.log || true

ppc-check arm64-check: %-check: %-ktap
	scripts/ktap-summary $(RESULTS)/$*.ktap

# Not part of 'make check': benchmarks, not tests (scripts/bench).
bench: kernel
	scripts/bench

# Not part of 'make check': a maintainer runs it before posting.
bisect-check: kernel cross-ktap
	scripts/bisect-check

check: vm-check checkpatch cross-ktap static-ktap ppc-ktap arm64-ktap
	scripts/ktap-summary $(RESULTS)/vm.ktap $(RESULTS)/guest.ktap \
		$(RESULTS)/checkpatch.ktap $(RESULTS)/cross.ktap $(RESULTS)/static.ktap \
		$(RESULTS)/ppc.ktap $(RESULTS)/arm64.ktap
