// SPDX-License-Identifier: GPL-2.0-only
/*
 * What 'make run' shows inside the VM: the running kernel and what
 * KVM_CHECK_EXTENSION says of the capabilities the series adds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/kvm.h>

struct cap {
	const char *name;
	int nr;
};

static const struct cap caps[] = {
	{ "KVM_CAP_PPC_COMPAT_CAPS", KVM_CAP_PPC_COMPAT_CAPS },
	{ "KVM_CAP_PLANES", KVM_CAP_PLANES },
};

int main(void)
{
	struct utsname u;
	int kvm, vm, plane;
	size_t i;

	uname(&u);
	printf("kernel: %s %s %s\n", u.sysname, u.release, u.machine);

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		perror("/dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return 1;
	}
	printf("KVM API version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		printf("%-40s system fd: %d, vm fd: %d\n", caps[i].name,
		       ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].nr),
		       ioctl(vm, KVM_CHECK_EXTENSION, caps[i].nr));

	/* A plane needs an in-kernel local APIC on x86. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		perror("KVM_CREATE_IRQCHIP");
	plane = ioctl(vm, KVM_CREATE_PLANE, 1);
	printf("KVM_CREATE_PLANE(1): %s\n",
	       plane >= 0 ? "a plane fd" : strerror(errno));
	if (plane >= 0)
		close(plane);
	close(vm);
	close(kvm);
	return 0;
}
