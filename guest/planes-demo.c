// SPDX-License-Identifier: GPL-2.0-only
/*
 * A two-plane guest, run once with each scheduling policy of KVM_CAP_PLANES.
 *
 * Plane 0 is a monitor and plane 1 its client, both in 16-bit real mode in
 * one page of guest memory.  Plane 0 starts plane 1 with KVM_HC_PLANE_SWITCH;
 * plane 1 puts a request in memory and switches back; plane 0 answers and
 * switches to plane 1 again.  Plane 0's periodic LAPIC timer interrupts plane
 * 1 now and then: plane 0 then returns from its switch with -KVM_EINTR, takes
 * the interrupt and lets plane 1 go on.
 *
 * With the in-kernel scheduler, all of this happens without a single exit to
 * userspace until plane 0 is done.  With KVM_PLANES_USERSPACE_SCHED, this
 * program is the scheduler: every switch and every timer interrupt of plane
 * 0 (asked for with kvm_run.req_exit_planes) is an exit.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>

#define MEM_SIZE	0x10000
#define LOAD		0x1000
#define NR_REQUESTS	200
#define NR_LOG		12
#define TIMER_TICKS	"2000000"	/* 2 ms at the 1 GHz APIC bus */
#define WORK		"20000"		/* plane 1's loop between requests */
#define DONE_PORT	0x10

#define STR_1(x) #x
#define STR(x) STR_1(x)

/* A guest address: where the label is once the code is at LOAD. */
#define G(sym) "(" #sym " - guest_start + 0x1000)"

/* x2APIC MSRs: APIC base, SPIV, EOI, LVT timer, initial count, divide. */
asm(".pushsection .rodata\n"
    ".code16\n"
    "guest_start:\n"
    "p0_start:\n"
    "	cli\n"
    "	movw $" G(p0_isr) ", 0xec * 4\n"
    "	movw $0, 0xec * 4 + 2\n"
    "	movl $0x1b, %ecx\n"
    "	rdmsr\n"
    "	orl $0xc00, %eax\n"
    "	wrmsr\n"
    "	xorl %edx, %edx\n"
    "	movl $0x80f, %ecx\n"
    "	movl $0x1ff, %eax\n"
    "	wrmsr\n"
    "	movl $0x83e, %ecx\n"
    "	movl $0xb, %eax\n"
    "	wrmsr\n"
    "	movl $0x832, %ecx\n"
    "	movl $0x200ec, %eax\n"		/* periodic, vector 0xec */
    "	wrmsr\n"
    "	movl $0x838, %ecx\n"
    "	movl $" TIMER_TICKS ", %eax\n"
    "	wrmsr\n"
    "	sti\n"
    "1:	incl " G(switches) "\n"
    "	movl $13, %eax\n"			/* KVM_HC_PLANE_SWITCH */
    "	movl $1, %ebx\n"
    "	xorl %ecx, %ecx\n"
    "	vmmcall\n"
    "	cmpl $-4, %eax\n"			/* -KVM_EINTR */
    "	jne 2f\n"
    "	incl " G(preempts) "\n"
    "	movb $'T', %al\n"
    "	call log_event\n"
    "	jmp 1b\n"
    "2:	movl " G(request) ", %eax\n"
    "	addl %eax, %eax\n"
    "	movl %eax, " G(answer) "\n"
    "	movb $'A', %al\n"
    "	call log_event\n"
    "	incl " G(served) "\n"
    "	cmpl $" STR(NR_REQUESTS) ", " G(served) "\n"
    "	jb 1b\n"
    "	cli\n"
    "	xorl %eax, %eax\n"
    "	xorl %edx, %edx\n"
    "	movl $0x838, %ecx\n"
    "	wrmsr\n"
    "	outb %al, $0x10\n"
    "3:	hlt\n"
    "	jmp 3b\n"
    "p0_isr:\n"
    "	pushl %eax\n"
    "	pushl %ecx\n"
    "	pushl %edx\n"
    "	incl " G(ticks) "\n"
    "	xorl %eax, %eax\n"
    "	xorl %edx, %edx\n"
    "	movl $0x80b, %ecx\n"
    "	wrmsr\n"
    "	popl %edx\n"
    "	popl %ecx\n"
    "	popl %eax\n"
    "	iret\n"
    "log_event:\n"
    "	movw " G(log_len) ", %bx\n"
    "	cmpw $" STR(NR_LOG) ", %bx\n"
    "	jae 4f\n"
    "	movb %al, " G(event_log) "(%bx)\n"
    "	incw " G(log_len) "\n"
    "4:	ret\n"
    "p1_start:\n"
    "	movl $1, %esi\n"
    "5:	movl %esi, " G(request) "\n"
    "	movl $" WORK ", %ecx\n"
    "6:	decl %ecx\n"
    "	jnz 6b\n"
    "	movb $'R', %al\n"
    "	call log_event\n"
    "	incl " G(switches) "\n"
    "	movl $13, %eax\n"
    "	xorl %ebx, %ebx\n"
    "	xorl %ecx, %ecx\n"
    "	vmmcall\n"
    "	movl %esi, %edx\n"
    "	addl %edx, %edx\n"
    "	cmpl %edx, " G(answer) "\n"
    "	je 7f\n"
    "	incl " G(errors) "\n"
    "7:	incl %esi\n"
    "	jmp 5b\n"
    ".balign 4\n"
    "request:	.long 0\n"
    "answer:	.long 0\n"
    "served:	.long 0\n"
    "switches:	.long 0\n"
    "preempts:	.long 0\n"
    "ticks:	.long 0\n"
    "errors:	.long 0\n"
    "log_len:	.word 0\n"
    "event_log:	.fill " STR(NR_LOG) ", 1, 0\n"
    "guest_end:\n"
    ".code64\n"
    ".popsection\n");

extern const uint8_t guest_start[], guest_end[], p0_start[], p1_start[];
extern const uint8_t p0_isr[], request[], served[], switches[], preempts[];
extern const uint8_t ticks[], errors[], log_len[], event_log[];

/* The guest address of a label, and where the VMM sees it. */
#define GPA(sym)	(LOAD + (sym) - guest_start)

struct vm {
	int kvm, fd, plane1;
	int vcpu[2];			/* plane 0 and plane 1 of vCPU 0 */
	struct kvm_run *run;
	uint8_t *mem;
};

static uint32_t guest_u32(struct vm *vm, const uint8_t *sym)
{
	uint32_t v;

	memcpy(&v, vm->mem + GPA(sym), sizeof(v));
	return v;
}

static void set_cpuid(struct vm *vm)
{
	struct kvm_cpuid2 *cpuid;
	int n = 128;

	cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
	if (!cpuid)
		err(1, "calloc");
	cpuid->nent = n;
	if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
		err(1, "KVM_GET_SUPPORTED_CPUID");
	if (ioctl(vm->vcpu[0], KVM_SET_CPUID2, cpuid) < 0)
		err(1, "KVM_SET_CPUID2");
	free(cpuid);
}

/* Real mode at address 0, entry point @entry, its own stack. */
static void set_entry(int vcpu, const uint8_t *entry, uint16_t sp)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = GPA(entry), .rsp = sp, .rflags = 2,
	};

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		err(1, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds = sregs.es = sregs.ss = sregs.cs;
	sregs.ds.type = sregs.es.type = sregs.ss.type = 3;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		err(1, "KVM_SET_SREGS");
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		err(1, "KVM_SET_REGS");
}

static void vm_create(struct vm *vm, int userspace_sched)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = MEM_SIZE,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_PLANES,
		.args[0] = KVM_PLANES_USERSPACE_SCHED,
	};
	int size;

	vm->kvm = open("/dev/kvm", O_RDWR);
	if (vm->kvm < 0)
		err(1, "/dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		err(1, "KVM_CREATE_VM");
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		err(1, "KVM_CREATE_IRQCHIP");
	if (userspace_sched && ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
		err(1, "KVM_ENABLE_CAP(KVM_CAP_PLANES)");

	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		err(1, "mmap");
	memcpy(vm->mem + LOAD, guest_start, guest_end - guest_start);
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		err(1, "KVM_SET_USER_MEMORY_REGION");

	vm->vcpu[0] = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu[0] < 0)
		err(1, "KVM_CREATE_VCPU");
	set_cpuid(vm);
	vm->plane1 = ioctl(vm->fd, KVM_CREATE_PLANE, 1);
	if (vm->plane1 < 0)
		err(1, "KVM_CREATE_PLANE");
	vm->vcpu[1] = ioctl(vm->plane1, KVM_CREATE_VCPU, 0);
	if (vm->vcpu[1] < 0)
		err(1, "KVM_CREATE_VCPU on the plane fd");

	size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu[0], 0);
	if (vm->run == MAP_FAILED)
		err(1, "mmap kvm_run");

	set_entry(vm->vcpu[0], p0_start, 0x8000);
	set_entry(vm->vcpu[1], p1_start, 0x9000);
}

static void vm_destroy(struct vm *vm)
{
	munmap(vm->mem, MEM_SIZE);
	close(vm->vcpu[1]);
	close(vm->vcpu[0]);
	close(vm->plane1);
	close(vm->fd);
	close(vm->kvm);
}

static void set_rax(struct vm *vm, int plane, uint64_t rax)
{
	struct kvm_regs regs;

	if (ioctl(vm->vcpu[plane], KVM_GET_REGS, &regs) < 0)
		err(1, "KVM_GET_REGS");
	regs.rax = rax;
	if (ioctl(vm->vcpu[plane], KVM_SET_REGS, &regs) < 0)
		err(1, "KVM_SET_REGS");
}

static int is_done(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	return run->exit_reason == KVM_EXIT_IO &&
	       run->io.port == DONE_PORT && run->plane == 0;
}

static void print_counts(struct vm *vm, unsigned long exits)
{
	printf("  %u requests served, %u plane switches, %u timer interrupts,\n"
	       "  %u of them preempting plane 1, %u wrong answers;\n"
	       "  %lu exits to userspace\n",
	       guest_u32(vm, served), guest_u32(vm, switches),
	       guest_u32(vm, ticks), guest_u32(vm, preempts),
	       guest_u32(vm, errors), exits);
}

/* KVM switches planes: one KVM_RUN, one exit at the end. */
static void run_in_kernel(void)
{
	static const char *const what[] = {
		['R'] = "plane 1 asks plane 0 (KVM_HC_PLANE_SWITCH to 0)",
		['A'] = "plane 0 answers, runs plane 1 (KVM_HC_PLANE_SWITCH to 1)",
		['T'] = "plane 0's timer preempts plane 1 (-KVM_EINTR in plane 0)",
	};
	unsigned long exits = 0;
	struct vm vm;
	int i, n;

	vm_create(&vm, 0);
	do {
		if (ioctl(vm.vcpu[0], KVM_RUN, 0) < 0)
			err(1, "KVM_RUN");
		exits++;
	} while (!is_done(&vm) && vm.run->exit_reason != KVM_EXIT_SHUTDOWN &&
		 exits < 1000);

	printf("In-kernel scheduling (the default):\n");
	n = *(uint16_t *)(vm.mem + GPA(log_len));
	for (i = 0; i < n; i++)
		printf("  %2d  %s\n", i + 1, what[vm.mem[GPA(event_log) + i]]);
	if (!is_done(&vm))
		printf("  the guest did not finish: exit reason %u\n",
		       vm.run->exit_reason);
	print_counts(&vm, exits);
	vm_destroy(&vm);
}

/*
 * This program schedules the planes, with the semantics of the in-kernel
 * scheduler: a plane that switches to plane 0 resumes it with its id in RAX,
 * plane 0's timer resumes it with -KVM_EINTR.
 */
static void run_userspace(void)
{
	unsigned long exits = 0, switch_exits = 0, irq_exits = 0, shown = 0;
	struct kvm_run *run;
	struct vm vm;
	int plane = 0;

	vm_create(&vm, 1);
	run = vm.run;
	run->req_exit_planes = 1 << 0;

	printf("Userspace scheduling (KVM_PLANES_USERSPACE_SCHED):\n");
	while (exits < 100000) {
		run->plane = plane;
		if (ioctl(vm.vcpu[0], KVM_RUN, 0) < 0)
			err(1, "KVM_RUN");
		exits++;
		if (is_done(&vm) || run->exit_reason != KVM_EXIT_PLANE_EVENT)
			break;

		switch (run->plane_event.cause) {
		case KVM_PLANE_EVENT_SWITCH:
			switch_exits++;
			plane = run->plane_event.extra[0];
			if (plane == 0)
				set_rax(&vm, 0, run->plane_event.plane);
			if (shown++ < NR_LOG)
				printf("  %2lu  exit: plane %u asks for plane %d, KVM_RUN plane %d\n",
				       shown, run->plane_event.plane, plane,
				       plane);
			break;
		case KVM_PLANE_EVENT_INTERRUPT:
			irq_exits++;
			plane = run->plane_event.plane;
			set_rax(&vm, plane, -KVM_EINTR);
			if (shown++ < NR_LOG)
				printf("  %2lu  exit: interrupt for plane %d while plane %u runs, KVM_RUN plane %d\n",
				       shown, plane, run->plane, plane);
			break;
		default:
			errx(1, "plane event %u", run->plane_event.cause);
		}
	}
	if (!is_done(&vm))
		printf("  the guest did not finish: exit reason %u\n",
		       run->exit_reason);
	print_counts(&vm, exits);
	printf("  (%lu KVM_PLANE_EVENT_SWITCH, %lu KVM_PLANE_EVENT_INTERRUPT)\n",
	       switch_exits, irq_exits);
	vm_destroy(&vm);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ioctl(open("/dev/kvm", O_RDWR), KVM_CHECK_EXTENSION,
		  KVM_CAP_PLANES) < 2)
		errx(1, "KVM_CAP_PLANES is below 2");
	run_in_kernel();
	run_userspace();
	return 0;
}
