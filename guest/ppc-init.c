// SPDX-License-Identifier: GPL-2.0-only
/*
 * PID 1 of the ppc64le pseries guest of scripts/run-ppc ('make ppc-check').
 *
 * Mounts devtmpfs, proc and sysfs, then writes one KTAP document to the
 * second console, /dev/hvc1 (QEMU's second spapr-vty, a file on the
 * host), with three tests:
 *   1 ppc:kvm-hv              KVM_CREATE_VM of type KVM_VM_PPC_HV works,
 *                             i.e. the Book3S HV backend initialised
 *   2 ppc:compat-caps-cap     that VM reports KVM_CAP_PPC_COMPAT_CAPS = 1,
 *                             so the selftest's cap-gated cases run (what
 *                             KVM_PPC_GET_COMPAT_CAPS answers is a diagnostic)
 *   3 ppc:ppc_compat_caps_test  the selftest, its KTAP indented as
 *                             subtests; SKIP when every case skipped
 * The firmware's cpu-version and the kernel's KVM lines from the log are
 * diagnostics.  '# ppc-init: done' ends the document; then the guest
 * powers off.  Progress goes to the console (hvc0).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define KTAP_DEV	"/dev/hvc1"
#define SELFTEST	"/ppc_compat_caps_test"
#define SELFTEST_NAME	"ppc:ppc_compat_caps_test"
#define SELFTEST_LIMIT	120	/* seconds */

static FILE *ktap;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ppc-init: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static void power_off(void)
{
	if (ktap) {
		fflush(ktap);
		tcdrain(fileno(ktap));
	}
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
	sync();
	reboot(RB_POWER_OFF);
	say("reboot(RB_POWER_OFF): %s", strerror(errno));
	for (;;)
		pause();
}

static void mount_fs(const char *type, const char *dir)
{
	if (mount(type, dir, type, 0, NULL))
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

/* The KTAP channel, raw (no \n -> \r\n), or NULL. */
static FILE *open_ktap(void)
{
	struct termios t;
	int fd;

	fd = open(KTAP_DEV, O_WRONLY | O_NOCTTY);
	if (fd < 0) {
		say("%s: %s", KTAP_DEV, strerror(errno));
		return NULL;
	}
	if (!tcgetattr(fd, &t)) {
		t.c_oflag &= ~OPOST;
		tcsetattr(fd, TCSANOW, &t);
	}
	return fdopen(fd, "w");
}

/* The cpu-version property of the first cpu node the firmware gave us. */
static void report_cpu_version(void)
{
	const char *cpus = "/sys/firmware/devicetree/base/cpus";
	unsigned char v[4];
	struct dirent *d;
	char path[512];
	int found = 0;
	DIR *dir;
	FILE *f;

	dir = opendir(cpus);
	if (!dir) {
		fprintf(ktap, "# %s: %s\n", cpus, strerror(errno));
		return;
	}
	while (!found && (d = readdir(dir))) {
		if (strncmp(d->d_name, "PowerPC,", 8))
			continue;
		snprintf(path, sizeof(path), "%s/%s/cpu-version", cpus, d->d_name);
		f = fopen(path, "r");
		if (!f) {
			fprintf(ktap, "# %s: no cpu-version\n", d->d_name);
			continue;
		}
		if (fread(v, 1, 4, f) == 4)
			fprintf(ktap, "# %s: cpu-version 0x%02x%02x%02x%02x\n",
				d->d_name, v[0], v[1], v[2], v[3]);
		fclose(f);
		found = 1;
	}
	closedir(dir);
}

/* The kernel log's lines about KVM, the machine and its MMU (HV needs radix). */
static void report_kernel_log(void)
{
	static char buf[1 << 20];
	char *line, *save, *p;
	int n;

	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
	if (n < 0) {
		fprintf(ktap, "# klogctl: %s\n", strerror(errno));
		return;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char lower[512];

		snprintf(lower, sizeof(lower), "%s", line);
		for (p = lower; *p; p++)
			*p = tolower((unsigned char)*p);
		if (strstr(lower, "kvm") || strstr(lower, "nested") ||
		    strstr(lower, "radix mmu") || strstr(lower, "hardware name"))
			fprintf(ktap, "# dmesg: %s\n", line);
	}
}

/* Runs the selftest, its output indented as subtests of result n. */
static void run_selftest(int n)
{
	int pipefd[2], status, total = 0, skipped = 0;
	time_t start = time(NULL);
	char *line = NULL;
	size_t cap = 0;
	FILE *out;
	pid_t pid;
	int rc;

	if (pipe(pipefd)) {
		fprintf(ktap, "# pipe: %s\nnot ok %d %s\n", strerror(errno), n, SELFTEST_NAME);
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		alarm(SELFTEST_LIMIT);
		execl(SELFTEST, SELFTEST, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", SELFTEST, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	while (out && getline(&line, &cap, out) > 0) {
		fprintf(ktap, "    %s", line);
		if (!strchr(line, '\n'))
			fputc('\n', ktap);
		if (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7)) {
			total++;
			if (strstr(line, "# SKIP"))
				skipped++;
		}
	}
	if (out)
		fclose(out);
	free(line);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		fprintf(ktap, "# fork/wait: %s\nnot ok %d %s\n", strerror(errno), n, SELFTEST_NAME);
		return;
	}
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(ktap, "# %s: exit %d in %ld s\n", SELFTEST_NAME, rc, (long)(time(NULL) - start));
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fprintf(ktap, "# %s: killed after %d s\n", SELFTEST_NAME, SELFTEST_LIMIT);
	if (rc == 4 || (rc == 0 && total && skipped == total)) {
		fprintf(ktap, "ok %d %s # SKIP all %d cases skipped\n", n, SELFTEST_NAME, total);
	} else if (rc == 0 && total) {
		fprintf(ktap, "ok %d %s\n", n, SELFTEST_NAME);
	} else {
		if (!total)
			fprintf(ktap, "# %s: no results\n", SELFTEST_NAME);
		fprintf(ktap, "not ok %d %s\n", n, SELFTEST_NAME);
	}
}

int main(void)
{
	struct utsname u;
	int kvm = -1, vm = -1, cap;

	mount_fs("devtmpfs", "/dev");
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	say("started");

	ktap = open_ktap();
	if (!ktap)
		power_off();
	setvbuf(ktap, NULL, _IOLBF, 0);

	uname(&u);
	fprintf(ktap, "KTAP version 1\n1..3\n");
	fprintf(ktap, "# kernel: %s %s %s\n", u.sysname, u.release, u.machine);
	report_cpu_version();
	report_kernel_log();

	/* 1: the HV backend is there: a VM of type KVM_VM_PPC_HV. */
	if (access("/dev/kvm", F_OK))
		fprintf(ktap, "# /dev/kvm: %s\n", strerror(errno));
	else
		fprintf(ktap, "# /dev/kvm: present\n");
	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		fprintf(ktap, "# open /dev/kvm: %s\n", strerror(errno));
	} else {
		vm = ioctl(kvm, KVM_CREATE_VM, KVM_VM_PPC_HV);
		if (vm < 0)
			fprintf(ktap, "# KVM_CREATE_VM(KVM_VM_PPC_HV): %s\n", strerror(errno));
	}
	fprintf(ktap, "%s 1 ppc:kvm-hv\n", vm >= 0 ? "ok" : "not ok");

	/* 2: the selftest's cap-gated cases will run. */
	if (vm < 0) {
		fprintf(ktap, "ok 2 ppc:compat-caps-cap # SKIP no HV VM\n");
	} else {
		struct kvm_ppc_compat_caps caps = { .size = sizeof(caps) };

		cap = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_PPC_COMPAT_CAPS);
		fprintf(ktap, "# KVM_CHECK_EXTENSION(KVM_CAP_PPC_COMPAT_CAPS) = %d\n", cap);
		if (ioctl(vm, KVM_PPC_GET_COMPAT_CAPS, &caps))
			fprintf(ktap, "# KVM_PPC_GET_COMPAT_CAPS: %s\n", strerror(errno));
		else
			fprintf(ktap, "# KVM_PPC_GET_COMPAT_CAPS: compat_capabilities 0x%016llx\n",
				(unsigned long long)caps.compat_capabilities);
		fprintf(ktap, "%s 2 ppc:compat-caps-cap\n", cap == 1 ? "ok" : "not ok");
		close(vm);
	}
	if (kvm >= 0)
		close(kvm);

	say("running %s", SELFTEST);
	run_selftest(3);
	fprintf(ktap, "# ppc-init: done\n");
	say("done, powering off");
	power_off();
	return 0;
}
