// SPDX-License-Identifier: GPL-2.0-only
/*
 * PID 1 of the emulated non-x86 guests (scripts/run-guest: 'make ppc-check',
 * 'make arm64-check').  The kernel passes what follows '--' on its command
 * line as arguments:
 *
 *   init -p PREFIX [-t VM_TYPE] [-c NAME=CAP]... [-H PAGES] KTAP_DEV LIST
 *
 * Mounts what the KVM selftests use, reserves PAGES huge pages for those
 * that map hugetlbfs (default: none), then writes one KTAP document to
 * KTAP_DEV (a console of its own, a file on the host):
 *   PREFIX:boot-log-clean     the kernel logged no bug while booting
 *   PREFIX:create-vm          KVM_CREATE_VM(VM_TYPE) works: KVM initialised
 *   PREFIX:NAME               for each -c: that VM reports capability CAP,
 *                             so the tests gated on it run instead of skip
 *   PREFIX:SUITE:PROGRAM      each line "SUITE PROGRAM [SECONDS]" of LIST
 *                             runs /tests/SUITE/PROGRAM, killed after
 *                             SECONDS (default 120), its KTAP indented as
 *                             subtests; exit 4, or 0 with every case
 *                             skipped, is a SKIP; a case that failed, or
 *                             fewer cases than its plan, fails it
 *   PREFIX:end-log-clean      nothing logged a bug once the last test ended
 * After each test, the kernel log is read and cleared: a bug logged there
 * (WARN, BUG, Oops, ...) or a new taint flag fails the test, whatever it
 * printed; and every process it left behind is killed.  The kernel's KVM
 * lines are diagnostics.  '# ktap-init: done' ends the document; then the
 * guest powers off.  Progress goes to the console.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#define DEFAULT_LIMIT	120	/* seconds */
#define MAX_CAPS	8

#define SYSLOG_ACTION_READ_ALL		3
#define SYSLOG_ACTION_READ_CLEAR	4

/* Kernel log lines that mean a kernel bug, as in guest/init on x86... */
#define KERNEL_BUGS "WARNING:|BUG:|Oops|UBSAN|general protection fault|" \
		    "INFO: task .* blocked|INFO: rcu_"
/* ...but for what pseries logs of the empty NVRAM of QEMU's VOF firmware. */
#define NOT_A_BUG "WARNING: nvram corruption detected: 0-length partition"

/* How long the last test's deferred work (RCU callbacks, ...) gets. */
#define SETTLE_SECONDS	2

struct cap_check {
	const char *name;
	long cap;
};

/* What a test printed at its top level. */
struct tap_counts {
	int plans;	/* "1..N" lines; the first gives planned */
	long planned;
	int total, failed, skipped;
};

static FILE *ktap;
static const char *prefix;
static regex_t kernel_bug, not_a_bug;
static unsigned long tainted;
static char logbuf[1 << 20];

static time_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ktap-init: ");
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

/* A file system the kernel does not have (ENODEV) is left out quietly. */
static void mount_fs(const char *type, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(type, dir, type, 0, NULL) && errno != ENODEV)
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

/* The KTAP channel, raw (no \n -> \r\n), or NULL. */
static FILE *open_ktap(const char *dev)
{
	struct termios t;
	int fd;

	fd = open(dev, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		say("%s: %s", dev, strerror(errno));
		return NULL;
	}
	if (!tcgetattr(fd, &t)) {
		t.c_oflag &= ~OPOST;
		tcsetattr(fd, TCSANOW, &t);
	}
	return fdopen(fd, "w");
}

/* Reads the kernel log into logbuf, clearing it if @clear; false on error. */
static int read_kernel_log(int clear)
{
	int n;

	n = klogctl(clear ? SYSLOG_ACTION_READ_CLEAR : SYSLOG_ACTION_READ_ALL,
		    logbuf, sizeof(logbuf) - 1);
	if (n < 0) {
		fprintf(ktap, "# klogctl: %s\n", strerror(errno));
		n = 0;
	}
	logbuf[n] = '\0';
	return n >= 0;
}

/* The kernel's taint flags, or ~0 if they cannot be read. */
static unsigned long read_tainted(void)
{
	unsigned long t = ~0ul;
	FILE *f = fopen("/proc/sys/kernel/tainted", "re");

	if (!f || fscanf(f, "%lu", &t) != 1)
		fprintf(ktap, "# /proc/sys/kernel/tainted: unreadable\n");
	if (f)
		fclose(f);
	return t;
}

/* The kernel log's lines about KVM and the machine, as diagnostics. */
static void report_kernel_log(void)
{
	char *line, *save, *p;

	read_kernel_log(0);
	for (line = strtok_r(logbuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char lower[512];

		snprintf(lower, sizeof(lower), "%s", line);
		for (p = lower; *p; p++)
			*p = tolower((unsigned char)*p);
		if (strstr(lower, "kvm") || strstr(lower, "hardware name") ||
		    strstr(lower, "machine model"))
			fprintf(ktap, "# dmesg: %s\n", line);
	}
}

/*
 * Prints, as diagnostics, the kernel bugs logged and the taint flags set
 * since the last call; false if there were any, or if the log could not be
 * read.  The taint flags catch a WARN or an Oops whose lines the log lost.
 */
static int kernel_log_clean(void)
{
	int clean = read_kernel_log(1);
	unsigned long t = read_tainted();
	char *line, *save;

	for (line = strtok_r(logbuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&kernel_bug, line, 0, NULL, 0) ||
		    !regexec(&not_a_bug, line, 0, NULL, 0))
			continue;
		fprintf(ktap, "# kernel: %s\n", line);
		clean = 0;
	}
	if (t & ~tainted) {
		fprintf(ktap, "# kernel: tainted 0x%lx, was 0x%lx\n", t, tainted);
		clean = 0;
	}
	tainted = t;
	return clean;
}

static void result(int ok, int n, const char *name)
{
	fprintf(ktap, "%s %d %s:%s\n", ok ? "ok" : "not ok", n, prefix, name);
}

/* Tests 2 and up: a VM of @type, and the capabilities it must report. */
static int check_vm(int n, unsigned long type, struct cap_check *caps, int ncaps)
{
	int kvm, vm = -1, i, val;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		fprintf(ktap, "# open /dev/kvm: %s\n", strerror(errno));
	} else {
		vm = ioctl(kvm, KVM_CREATE_VM, type);
		if (vm < 0)
			fprintf(ktap, "# KVM_CREATE_VM(%lu): %s\n", type, strerror(errno));
	}
	result(vm >= 0, n++, "create-vm");

	for (i = 0; i < ncaps; i++, n++) {
		if (vm < 0) {
			fprintf(ktap, "ok %d %s:%s # SKIP no VM\n", n, prefix, caps[i].name);
			continue;
		}
		val = ioctl(vm, KVM_CHECK_EXTENSION, caps[i].cap);
		fprintf(ktap, "# KVM_CHECK_EXTENSION(%ld) = %d\n", caps[i].cap, val);
		result(val > 0, n, caps[i].name);
	}
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	return n;
}

static void count_line(const char *line, struct tap_counts *c)
{
	if (!strncmp(line, "1..", 3)) {
		if (!c->plans++)
			c->planned = strtol(line + 3, NULL, 10);
	} else if (!strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7)) {
		c->total++;
		if (line[0] == 'n')
			c->failed++;
		else if (strstr(line, "# SKIP"))
			c->skipped++;
	}
}

/*
 * Copies the test's output, indented, until it closes it or @deadline
 * passes; counts its top-level results.  False on timeout.
 */
static int copy_output(int fd, time_t deadline, struct tap_counts *c)
{
	char buf[4096], line[4096];
	size_t len = 0;
	ssize_t r;
	int i;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		time_t left = deadline - now();

		if (left <= 0)
			return 0;
		if (poll(&p, 1, left * 1000) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			if (len < sizeof(line) - 1)
				line[len++] = buf[i];
			if (buf[i] != '\n')
				continue;
			line[len] = '\0';
			fprintf(ktap, "    %s", line);
			count_line(line, c);
			len = 0;
		}
	}
	if (len) {
		line[len] = '\0';
		fprintf(ktap, "    %s\n", line);
	}
	return 1;
}

/* Waits for @pid to exit until @deadline; false if it did not. */
static int wait_until(pid_t pid, time_t deadline, int *status)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if ((r < 0 && errno != EINTR) || now() >= deadline)
			return 0;
		usleep(100 * 1000);
	}
}

/*
 * Kills and reaps every process but this one: nothing a test started, the
 * kselftest harness's per-case children included, outlives it.
 */
static void kill_all(void)
{
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

/* The result of test @n, which ran to its end, exiting @rc. */
static void verdict(int n, const char *name, int rc, struct tap_counts *c)
{
	if (c->failed) {
		fprintf(ktap, "# %s:%s: %d of its cases failed\n", prefix, name, c->failed);
		result(0, n, name);
	} else if (rc == 4 || (rc == 0 && c->total && c->skipped == c->total)) {
		fprintf(ktap, "ok %d %s:%s # SKIP\n", n, prefix, name);
	} else if (rc == 0 && c->plans == 1 && c->total != c->planned) {
		fprintf(ktap, "# %s:%s: %d results for a plan of %ld\n", prefix, name,
			c->total, c->planned);
		result(0, n, name);
	} else {
		result(rc == 0, n, name);
	}
}

/* Test @n: /tests/@suite/@prog, killed after @limit seconds. */
static void run_test(int n, const char *suite, const char *prog, int limit)
{
	time_t start = now(), deadline = start + limit;
	struct tap_counts c = { 0 };
	int pipefd[2], status, exited, clean, rc;
	char path[512], name[512];
	pid_t pid;

	snprintf(path, sizeof(path), "/tests/%s/%s", suite, prog);
	snprintf(name, sizeof(name), "%s:%s", suite, prog);
	say("running %s", path);
	if (pipe2(pipefd, O_CLOEXEC)) {
		fprintf(ktap, "# pipe: %s\n", strerror(errno));
		result(0, n, name);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* dup2() leaves O_CLOEXEC off the copies. */
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		if (chdir("/tmp"))
			_exit(127);
		execl(path, path, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		fprintf(ktap, "# fork: %s\n", strerror(errno));
		result(0, n, name);
		return;
	}
	exited = copy_output(pipefd[0], deadline, &c) &&
		 wait_until(pid, deadline, &status);
	close(pipefd[0]);
	kill_all();
	rc = exited ? (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) :
		      128 + SIGKILL;
	fprintf(ktap, "# %s:%s: exit %d in %ld s\n", prefix, name, rc,
		(long)(now() - start));
	clean = kernel_log_clean();
	if (!exited) {
		fprintf(ktap, "# %s:%s: killed after %d s\n", prefix, name, limit);
		result(0, n, name);
	} else if (!clean) {
		result(0, n, name);
	} else {
		verdict(n, name, rc, &c);
	}
}

/*
 * The list's entries, "SUITE PROGRAM [SECONDS]", as tests from @n on; the
 * number of the next test.
 */
static int run_list(FILE *list, int n)
{
	char line[512], suite[128], prog[256];
	int limit;

	while (fgets(line, sizeof(line), list)) {
		limit = DEFAULT_LIMIT;
		if (sscanf(line, "%127s %255s %d", suite, prog, &limit) < 2)
			continue;
		run_test(n++, suite, prog, limit);
	}
	return n;
}

static int count_entries(FILE *list)
{
	char line[512], a[128], b[256];
	int n = 0;

	while (fgets(line, sizeof(line), list))
		n += sscanf(line, "%127s %255s", a, b) == 2;
	rewind(list);
	return n;
}

static void usage(void)
{
	say("usage: init -p PREFIX [-t VM_TYPE] [-c NAME=CAP]... [-H PAGES] KTAP_DEV LIST");
	power_off();
}

/* @arg as a number, or the usage message. */
static long number(const char *arg)
{
	char *end;
	long val;

	errno = 0;
	val = strtol(arg, &end, 0);
	if (errno || end == arg || *end)
		usage();
	return val;
}

static void reserve_huge_pages(const char *pages)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");

	if (!f || fprintf(f, "%s\n", pages) < 0 || fclose(f))
		say("reserving %s huge pages: %s", pages, strerror(errno));
}

int main(int argc, char **argv)
{
	struct cap_check caps[MAX_CAPS];
	unsigned long vm_type = 0;
	int ncaps = 0, opt, n;
	struct utsname u;
	FILE *list;
	char *eq;

	mount_fs("devtmpfs", "/dev");
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("debugfs", "/sys/kernel/debug");
	mount_fs("tmpfs", "/tmp");
	mount_fs("tmpfs", "/dev/shm");
	mount_fs("hugetlbfs", "/dev/hugepages");
	say("started");

	while ((opt = getopt(argc, argv, "p:t:c:H:")) != -1) {
		switch (opt) {
		case 'p':
			prefix = optarg;
			break;
		case 't':
			vm_type = number(optarg);
			break;
		case 'c':
			eq = strchr(optarg, '=');
			if (!eq || ncaps == MAX_CAPS)
				usage();
			*eq = '\0';
			caps[ncaps].name = optarg;
			caps[ncaps++].cap = number(eq + 1);
			break;
		case 'H':
			reserve_huge_pages(optarg);
			break;
		default:
			usage();
		}
	}
	if (!prefix || argc - optind != 2)
		usage();
	if (regcomp(&kernel_bug, KERNEL_BUGS, REG_EXTENDED | REG_NOSUB) ||
	    regcomp(&not_a_bug, NOT_A_BUG, REG_EXTENDED | REG_NOSUB)) {
		say("regcomp failed");
		power_off();
	}

	ktap = open_ktap(argv[optind]);
	if (!ktap)
		power_off();
	setvbuf(ktap, NULL, _IOLBF, 0);
	list = fopen(argv[optind + 1], "re");
	if (!list) {
		say("%s: %s", argv[optind + 1], strerror(errno));
		power_off();
	}

	uname(&u);
	fprintf(ktap, "KTAP version 1\n1..%d\n", 3 + ncaps + count_entries(list));
	fprintf(ktap, "# kernel: %s %s %s\n", u.sysname, u.release, u.machine);
	report_kernel_log();
	result(kernel_log_clean(), 1, "boot-log-clean");
	n = check_vm(2, vm_type, caps, ncaps);
	n = run_list(list, n);
	fclose(list);
	sleep(SETTLE_SECONDS);
	result(kernel_log_clean(), n, "end-log-clean");

	fprintf(ktap, "# ktap-init: done\n");
	say("done, powering off");
	power_off();
	return 0;
}
